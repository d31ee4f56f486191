#!/usr/bin/python3
"""ACME orders, authorizations and challenges over HTTPS (RFC 8555 sections
7.1.3-7.1.6, 7.4-7.5, 8; RFC 8737, 8738) against a real orchardd and
PostgreSQL, with JWS signed here, and pebble-challtestsrv answering http-01,
dns-01 and tls-alpn-01 (and resolving every name to 127.0.0.1) on ports of
its own. Every refusal: its urn:ietf:params:acme:error type and status, and
nothing changed. Runs alone: tests/protocol/acme_orders.py
"""

import json
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acme import ACME, JOSE, Client, Key, jws, psql  # noqa: E402
from orchard_harness import Fixture, Tap  # noqa: E402

import requests  # noqa: E402


def free_port(udp=False):
    """A port free for TCP (and UDP when udp) on 127.0.0.1."""
    while True:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        if not udp:
            return port
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            u.close()


class Responder:
    """pebble-challtestsrv on random ports, driven by its management API."""

    def __init__(self):
        self.http, self.tls, self.dns, self.mgmt = (free_port(), free_port(), free_port(True),
                                                    free_port())
        self.p = subprocess.Popen(
            ["pebble-challtestsrv", "-http01", f"127.0.0.1:{self.http}", "-https01", "",
             "-tlsalpn01", f"127.0.0.1:{self.tls}", "-dns01", f"127.0.0.1:{self.dns}",
             "-management", f"127.0.0.1:{self.mgmt}", "-defaultIPv6", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", self.mgmt), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.http), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("pebble-challtestsrv did not start")

    def set(self, what, **body):
        r = requests.post(f"http://127.0.0.1:{self.mgmt}/{what}", json=body, timeout=5)
        r.raise_for_status()

    def stop(self):
        self.p.terminate()
        self.p.wait(10)


class RawHttp:
    """Our own http-01 target on 127.0.0.4 (pebble-challtestsrv holds
    127.0.0.1): the http-01 port answers, per path, bytes exactly as the
    test sets them (chunked, HTTP/1.0 to the end, malformed), and the
    tls-alpn-01 port does the same over TLS, for https redirects. It
    records each request's head."""

    def __init__(self, http_port, tls_port):
        import ssl
        import tempfile
        import threading

        self.routes, self.heads = {}, []
        self.tmp = tempfile.mkdtemp(prefix="rawhttp.")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=raw",
                        "-keyout", f"{self.tmp}/k.pem", "-out", f"{self.tmp}/c.pem"],
                       check=True, capture_output=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(f"{self.tmp}/c.pem", f"{self.tmp}/k.pem")
        self.socks = [socket.create_server(("127.0.0.4", http_port)),
                      socket.create_server(("127.0.0.4", tls_port))]
        for s, tls in zip(self.socks, (False, True)):
            threading.Thread(target=self.serve, args=(s, tls), daemon=True).start()

    def serve(self, sock, tls):
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            try:
                conn.settimeout(5)
                if tls:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                head = b""
                while b"\r\n\r\n" not in head:
                    got = conn.recv(4096)
                    if not got:
                        break
                    head += got
                self.heads.append(head.decode("latin-1"))
                path = head.split(b" ")[1].decode() if b" " in head else ""
                conn.sendall(self.routes.get(path, b"HTTP/1.1 404 Not Found\r\n"
                                                   b"Content-Length: 0\r\n\r\n"))
            except OSError:
                pass
            finally:
                conn.close()

    def stop(self):
        for s in self.socks:
            s.close()


class AlpnResponder:
    """Our own tls-alpn-01 responder: serves, with ALPN acme-tls/1, whatever
    certificate the test sets (so it can leave out or spoil the
    acmeIdentifier extension, which pebble-challtestsrv always sends)."""

    def __init__(self):
        import ssl
        import tempfile
        import threading

        self.port = free_port()
        self.tmp = tempfile.mkdtemp(prefix="alpn.")
        self.ctx = None
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.ssl = ssl
        threading.Thread(target=self.serve, daemon=True).start()

    def set(self, sans, key_authz=None, critical=True, digest=None):
        import datetime
        import hashlib
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        names = [x509.IPAddress(ipaddress.ip_address(n)) if n[0].isdigit() else x509.DNSName(n)
                 for n in sans]
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme")]))
             .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme")]))
             .public_key(key.public_key()).serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(minutes=1))
             .not_valid_after(now + datetime.timedelta(days=1))
             .add_extension(x509.SubjectAlternativeName(names), critical=False))
        if key_authz is not None:
            d = digest or hashlib.sha256(key_authz.encode()).digest()
            b = b.add_extension(x509.UnrecognizedExtension(
                x509.ObjectIdentifier("1.3.6.1.5.5.7.1.31"), b"\x04\x20" + d), critical=critical)
        cert = b.sign(key, hashes.SHA256())
        path = os.path.join(self.tmp, "c.pem")
        with open(path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        ctx = self.ssl.SSLContext(self.ssl.PROTOCOL_TLS_SERVER)
        ctx.set_alpn_protocols(["acme-tls/1"])
        ctx.load_cert_chain(path)
        self.ctx = ctx

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                with self.ctx.wrap_socket(conn, server_side=True) as t:
                    t.recv(1)
            except (OSError, self.ssl.SSLError):
                conn.close()


class Acct:
    def __init__(self, c, alg="ES256"):
        self.c, self.key = c, Key(alg)
        r = c.signed(self.key, "/acme/new-account", {"termsOfServiceAgreed": True})
        assert r.status_code == 201, r.text
        self.id = r.headers["Location"].rsplit("/", 1)[-1]

    @property
    def kid(self):
        return self.c.fx.base + "/acme/account/" + self.id

    def post(self, url, payload=None, key=None):
        """POST to an absolute or relative URL, signed with this account's kid."""
        path = url[len(self.c.fx.base):] if url.startswith("http") else url
        return self.c.signed(key or self.key, path, payload, kid=self.kid)

    def order(self, *idents, **extra):
        ids = [{"type": "ip" if (":" in v or v.replace(".", "").isdigit()) else "dns",
                "value": v} if isinstance(v, str) else v for v in idents]
        return self.post("/acme/new-order", dict(extra, identifiers=ids))

    def thumbprint(self):
        import base64
        import hashlib

        jwk = self.key.jwk()
        keys = {"EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n"),
                "OKP": ("crv", "kty", "x")}[jwk["kty"]]
        canon = json.dumps({k: jwk[k] for k in keys}, separators=(",", ":"))
        return base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(
            b"=").decode()


def chall_of(authz, typ):
    for ch in authz.get("challenges", []):
        if ch["type"] == typ:
            return ch
    return None


def poll(acct, url, within=20):
    """POST-as-GET url until its status leaves pending/processing."""
    deadline = time.monotonic() + within
    while True:
        r = acct.post(url)
        if r.json().get("status") not in ("pending", "processing") or time.monotonic() > deadline:
            return r
        time.sleep(0.05)


def main():
    tap = Tap()
    resp = Responder()
    try:
        with Fixture() as fx:
            fx.start("--threads", "2", "--acme-http-port", str(resp.http), "--acme-tls-port",
                     str(resp.tls), "--acme-resolver", f"127.0.0.1:{resp.dns}",
                     "--acme-orders-per-hour", "12", "--acme-pending-authz-max", "20")
            c = Client(fx, tap)
            a = run(tap, fx, c, resp)
            slow_validation(tap, fx, c, resp)
            slow_validation_bad_nonce(tap, fx, c, resp)
            resent_answer(tap, fx, c, resp)
            http01_wire(tap, fx, c, resp)
            alpn(tap, fx, c, resp)
            if tap.failed:
                sys.stderr.write(fx.log(fx.procs[0])[-4000:])
            acme_base(tap, fx, c)
            for i, p in enumerate(list(fx.procs)):
                rc = fx.stop(p)
                tap.eq(0, rc, f"orchardd {i + 1} exits cleanly (no sanitizer report)") or \
                    sys.stderr.write(fx.log(p)[-3000:])
    finally:
        resp.stop()
    return tap.done()


def counts(fx):
    return psql(fx, "SELECT (SELECT count(*) FROM acme_orders) || ' ' ||"
                    " (SELECT count(*) FROM acme_authzs) || ' ' ||"
                    " (SELECT count(*) FROM acme_challenges) || ' ' ||"
                    " (SELECT count(*) FROM acme_challenges WHERE status <> 'pending')")


def run(tap, fx, c, resp):
    a, b = Acct(c), Acct(c, "EdDSA")
    base = fx.base

    d = c.s.get(c.url("/acme/directory"), timeout=10).json()
    tap.eq(["device-client", "shortlived", "tls-server"],
           sorted(d.get("meta", {}).get("profiles", {})), "directory meta lists the profiles")

    # --- newOrder -------------------------------------------------------------------------
    r = a.order("www.example.test", "*.example.test", "10.1.2.3", "2001:db8::1",
                profile="tls-server")
    o = r.json()
    tap.ok(r.status_code == 201 and r.headers.get("Location", "").startswith(base + "/acme/order/")
           and o.get("status") == "pending" and len(o.get("authorizations", [])) == 4 and
           o.get("finalize") == r.headers.get("Location") + "/finalize" and
           o.get("profile") == "tls-server" and o.get("expires", "").endswith("Z"),
           "newOrder: 201, pending, four authorizations, finalize URL, profile", r.text)
    tap.eq([{"type": "dns", "value": "www.example.test"}, {"type": "dns", "value": "*.example.test"},
            {"type": "ip", "value": "10.1.2.3"}, {"type": "ip", "value": "2001:db8::1"}],
           o.get("identifiers"), "the order names its identifiers as sent")
    order_url = r.headers["Location"]
    authzs = [a.post(u).json() for u in o["authorizations"]]
    www, wild, ip4, ip6 = authzs
    tap.eq(({"type": "dns", "value": "www.example.test"}, "pending",
            ["dns-01", "http-01", "tls-alpn-01"]),
           (www["identifier"], www["status"], sorted(ch["type"] for ch in www["challenges"])),
           "a dns authorization offers http-01, dns-01 and tls-alpn-01")
    tap.eq(({"type": "dns", "value": "example.test"}, True, ["dns-01"]),
           (wild["identifier"], wild.get("wildcard"), [ch["type"] for ch in wild["challenges"]]),
           "a wildcard: the base name, wildcard true, dns-01 only (no http-01 offered)")
    tap.eq(["http-01", "tls-alpn-01"], sorted(ch["type"] for ch in ip4["challenges"]),
           "an ip authorization: http-01 and tls-alpn-01, no dns-01 (RFC 8738)")
    ch = www["challenges"][0]
    tap.ok(all(k in ch for k in ("type", "url", "status", "token")) and
           ch["url"].startswith(base + "/acme/chall/") and len(ch["token"]) >= 22,
           "a challenge: type, url, status, token (128 bits)", ch)
    r = a.post(order_url)
    tap.eq((200, o["authorizations"]), (r.status_code, r.json().get("authorizations")),
           "POST-as-GET the order")
    r = a.post(f"/acme/account/{a.id}/orders")
    tap.eq((200, [order_url]), (r.status_code, r.json().get("orders")),
           "the account's orders list names it")

    # --- ACME_LATE: the order, authorization and challenge reads take the account and the
    # nonce in their own statement; each refusal in the kid order, none changes anything.
    def nonce_left(n):
        return psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n}'")

    d = Acct(c)
    tap.eq(200, d.post(d.kid, {}).status_code, "a third account, its key cached")
    for what, url in (("order", order_url), ("authorization", o["authorizations"][0]),
                      ("challenge", ch["url"])):
        path = url[len(base):]
        n = c.nonce()
        r = c.signed(a.key, path, None, kid=a.kid, nonce=n)
        tap.eq((200, "0"), (r.status_code, nonce_left(n)),
               f"{what}: POST-as-GET, its nonce used up by the read")
        c.problem(c.signed(a.key, path, None, kid=a.kid, nonce=n), 400, "badNonce",
                  f"{what}: the same nonce again: 400 badNonce")
        n = c.nonce()
        psql(fx, f"UPDATE acme_nonces SET expires_at = now() - interval '1 s' WHERE nonce = '{n}'")
        c.problem(c.signed(a.key, path, None, kid=a.kid, nonce=n), 400, "badNonce",
                  f"{what}: an expired nonce: 400 badNonce")
        n = c.nonce()
        c.problem(c.signed(d.key, path, None, kid=a.kid, nonce=n), 400, "malformed",
                  f"{what}: signed by another account's key under this kid: 400 malformed")
        tap.eq("1", nonce_left(n), f"{what}: that left its nonce")
        c.problem(b.post(url), 403, "unauthorized", f"{what}: another account's: 403")
        c.problem(a.post(path[:-2] + ("AA" if not path.endswith("AA") else "BB")), 404,
                  "malformed", f"{what}: an unknown id: 404 malformed")
        # The key another orchardd changed: the cached key still verifies, the stored one
        # does not: refused, the nonce left; the stored key is taken (and cached).
        jwk_a = psql(fx, f"SELECT jwk FROM acme_accounts WHERE id = '{a.id}'")
        psql(fx, f"UPDATE acme_accounts SET jwk = (SELECT jwk FROM acme_accounts WHERE id ="
                 f" '{d.id}') WHERE id = '{a.id}'")
        n = c.nonce()
        c.problem(c.signed(a.key, path, None, kid=a.kid, nonce=n), 400, "malformed",
                  f"{what}: signed with a key the account no longer holds: 400 malformed")
        tap.eq("1", nonce_left(n), f"{what}: that left its nonce")
        r = c.signed(d.key, path, None, kid=a.kid, nonce=n)
        tap.eq((200, "0"), (r.status_code, nonce_left(n)),
               f"{what}: signed with the stored key: 200, the nonce used up")
        psql(fx, f"UPDATE acme_accounts SET jwk = $j${jwk_a}$j$ WHERE id = '{a.id}'")
        tap.eq(200, a.post(url).status_code, f"{what}: the account's own key again")
    n = c.nonce()
    tap.eq(200, d.post(d.kid, {"status": "deactivated"}).status_code, "the third deactivated")
    c.problem(c.signed(d.key, order_url[len(base):], None, kid=d.kid, nonce=n), 403,
              "unauthorized", "a deactivated account's order read: 403 unauthorized")
    tap.eq("1", nonce_left(n), "that left its nonce")
    # newOrder: its rate limits' read takes the account and the nonce.
    before = counts(fx)
    new = {"identifiers": [{"type": "dns", "value": "late.example.test"}]}
    c.problem(c.signed(d.key, "/acme/new-order", new, kid=d.kid, nonce=n), 403, "unauthorized",
              "newOrder by a deactivated account: 403 unauthorized")
    tap.eq("1", nonce_left(n), "newOrder: that left its nonce")
    e = Acct(c)
    tap.eq(200, e.post(e.kid, {}).status_code, "a fourth account, its key cached")
    c.problem(c.signed(e.key, "/acme/new-order", {"identifiers": []}, kid=e.kid, nonce=n), 400,
              "malformed", "newOrder refused before its read (no identifiers): 400 malformed")
    tap.eq("1", nonce_left(n), "newOrder: that left its nonce")
    c.problem(c.signed(d.key, "/acme/new-order", new, kid=e.kid, nonce=n), 400, "malformed",
              "newOrder signed by another account's key under this kid: 400 malformed")
    tap.eq(("1", before), (nonce_left(n), counts(fx)), "newOrder: that left its nonce, no order")
    r = c.signed(e.key, "/acme/new-order", new, kid=e.kid, nonce=n)
    tap.eq((201, "0"), (r.status_code, nonce_left(n)), "newOrder: 201, its nonce used up")
    c.problem(c.signed(e.key, "/acme/new-order", new, kid=e.kid, nonce=n), 400, "badNonce",
              "newOrder with that nonce again: 400 badNonce")
    tap.eq(200, e.post(r.headers["Location"]).status_code, "the new order reads back")
    tap.eq((200, o["authorizations"]), (a.post(order_url).status_code,
                                        a.post(order_url).json().get("authorizations")),
           "the order is as it was")

    # --- refusals, none of which changes anything -------------------------------------------
    before = counts(fx)
    bad = [
        ([{"type": "email", "value": "a@example.test"}], 400, "unsupportedIdentifier",
         "an email identifier"),
        ([{"type": "dns", "value": "WWW.example.test"}], 400, "rejectedIdentifier",
         "an uppercase name"),
        ([{"type": "dns", "value": "www.example.test."}], 400, "rejectedIdentifier",
         "a trailing dot"),
        ([{"type": "dns", "value": "a..example.test"}], 400, "rejectedIdentifier",
         "an empty label"),
        ([{"type": "dns", "value": "-a.example.test"}], 400, "rejectedIdentifier",
         "a label starting with '-'"),
        ([{"type": "dns", "value": "a_b.example.test"}], 400, "rejectedIdentifier",
         "an underscore"),
        ([{"type": "dns", "value": "a.*.example.test"}], 400, "rejectedIdentifier",
         "a wildcard not leftmost"),
        ([{"type": "dns", "value": "localhost"}], 400, "rejectedIdentifier", "a single label"),
        ([{"type": "dns", "value": "x" * 64 + ".example.test"}], 400, "rejectedIdentifier",
         "a 64-character label"),
        ([{"type": "dns", "value": "10.1.2.3"}], 400, "rejectedIdentifier", "an IP as a name"),
        ([{"type": "ip", "value": "010.1.2.3"}], 400, "rejectedIdentifier",
         "an IPv4 literal with a leading zero"),
        ([{"type": "ip", "value": "2001:DB8::1"}], 400, "rejectedIdentifier",
         "an IPv6 literal not in canonical form"),
        ([{"type": "ip", "value": "2001:db8:0::1"}], 400, "rejectedIdentifier",
         "an IPv6 literal with a zero group"),
        ([{"type": "ip", "value": "www.example.test"}], 400, "rejectedIdentifier",
         "a name as an ip"),
        ([], 400, "malformed", "no identifiers"),
        ([{"type": "dns"}], 400, "malformed", "an identifier without value"),
        (["www.example.test"], 400, "malformed", "an identifier that is a string"),
    ]
    for ids, status, typ, name in bad:
        r = a.post("/acme/new-order", {"identifiers": ids})
        c.problem(r, status, typ, f"newOrder with {name}: {status} {typ}")
    r = a.post("/acme/new-order", {"identifiers": [{"type": "dns", "value": "ok.example.test"},
                                                   {"type": "dns", "value": "BAD.example.test"},
                                                   {"type": "email", "value": "x"}]})
    sub = r.json().get("subproblems", [])
    tap.ok(r.status_code == 400 and len(sub) == 2 and
           sub[0]["identifier"] == {"type": "dns", "value": "BAD.example.test"} and
           sub[1]["type"] == ACME + "unsupportedIdentifier",
           "two bad identifiers of three: one subproblem each, naming it", r.text)
    r = a.post("/acme/new-order", {"identifiers": [{"type": "dns", "value": "x.example.test"}],
                                   "notAfter": "2030-01-01T00:00:00Z"})
    c.problem(r, 400, "malformed", "notAfter: refused (the profile decides the lifetime)")
    r = a.post("/acme/new-order", {"identifiers": [{"type": "dns", "value": "x.example.test"}],
                                   "profile": "forever"})
    c.problem(r, 400, "invalidProfile", "an unknown profile: invalidProfile")
    r = a.post("/acme/new-order", None)
    c.problem(r, 400, "malformed", "POST-as-GET to newOrder: malformed")
    r = a.post(f"/acme/account/{a.id}/orders", {})
    c.problem(r, 400, "malformed", "the orders list with a payload: malformed")
    r = b.post(order_url)
    c.problem(r, 403, "unauthorized", "another account's kid fetching the order: unauthorized")
    r = b.post(o["authorizations"][0])
    c.problem(r, 403, "unauthorized", "another account's kid fetching an authorization")
    r = b.post(www["challenges"][0]["url"], {})
    c.problem(r, 403, "unauthorized",
              "another account's kid answering the challenge: unauthorized")
    # An answer's nonce is taken in the statement that starts the challenge:
    # a used one, or an account key that did not sign, starts nothing.
    path = www["challenges"][0]["url"][len(fx.base):]
    n = c.nonce()
    c.signed(a.key, order_url[len(fx.base):], None, kid=a.kid, nonce=n)
    r = c.signed(a.key, path, {}, kid=a.kid, nonce=n)
    c.problem(r, 400, "badNonce", "answering a challenge with a used nonce: badNonce")
    chall_id = path.rsplit("/", 1)[1]
    tap.eq("pending", psql(fx, f"SELECT status FROM acme_challenges WHERE id = '{chall_id}'"),
           "...which records no outcome (the validation ran: its outcome is dropped)")
    d = Acct(c)
    n = c.nonce()
    r = c.signed(d.key, path, {}, kid=a.kid, nonce=n)
    c.problem(r, 400, "malformed", "answering a challenge signed by another account's key")
    tap.eq("1", psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n}'"),
           "...which leaves its nonce")
    r = b.post(f"/acme/account/{a.id}/orders")
    c.problem(r, 403, "unauthorized", "another account's orders list: unauthorized")
    r = a.post(order_url + "/finalize", {"csr": "AAAA"})
    c.problem(r, 403, "orderNotReady", "finalize before ready: orderNotReady")
    r = a.post("/acme/order/nosuchorder")
    c.problem(r, 404, "malformed", "an unknown order: 404")
    r = a.post("/acme/chall/nosuch")
    c.problem(r, 404, "malformed", "an unknown challenge: 404")
    r = a.post(o["authorizations"][0], {"status": "valid"})
    c.problem(r, 400, "malformed", "an authorization status other than deactivated")
    host = f"{fx.host}:{fx.port}"
    got, _ = fx.exchange((f"POST /acme/new-order HTTP/1.1\r\nHost: {host}\r\n"
                          "Content-Type: application/jose+json\r\nContent-Length: 20000\r\n"
                          "Expect: 100-continue\r\n\r\n").encode())
    r0 = got[0] if got else None
    tap.ok(r0 is not None and r0.status == 413 and
           r0.json().get("type") == ACME + "malformed" and r0.header("Replay-Nonce"),
           "an oversized JWS to newOrder: 413 malformed, with a nonce",
           r0 and (r0.status, r0.headers, r0.body[:300]))
    tap.eq(before, counts(fx), "no refused request created or started anything")
    tap.eq("pending", a.post(order_url).json()["status"], "...and the order is still pending")

    # --- http-01 ----------------------------------------------------------------------------
    tp = a.thumbprint()
    ch = chall_of(www, "http-01")
    resp.set("add-http01", token=ch["token"], content=f"{ch['token']}.{tp}\n")
    r = a.post(ch["url"], {})
    tap.ok(r.status_code == 200 and r.json().get("status") == "valid" and
           re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r.json().get("validated", "")) and
           "Retry-After" not in r.headers and
           f'<{o["authorizations"][0]}>;rel="up"' in r.headers.get("Link", ""),
           "answering http-01: 200 with the outcome (valid, validated), Link rel=up",
           (r.status_code, r.text, dict(r.headers)))
    r = poll(a, o["authorizations"][0])
    az = r.json()
    tap.ok(az["status"] == "valid" and [x["type"] for x in az["challenges"]] == ["http-01"] and
           az["challenges"][0]["status"] == "valid" and "validated" in az["challenges"][0],
           "http-01 with the key authorization (newline trimmed): authorization valid", az)
    r = a.post(ch["url"], {})
    tap.eq((200, "valid"), (r.status_code, r.json().get("status")),
           "answering a valid challenge again: 200, still valid")

    # Ten racing answers to one challenge: one validation.
    from concurrent.futures import ThreadPoolExecutor

    oo = a.order("race.example.test").json()
    chx = chall_of(a.post(oo["authorizations"][0]).json(), "http-01")
    resp.set("add-http01", token=chx["token"], content=f"{chx['token']}.{tp}")

    def answer(_):
        s = fx.session()
        n = s.head(c.url("/acme/new-nonce"), timeout=10).headers["Replay-Nonce"]
        body = jws(a.key, chx["url"], {}, n, a.kid)
        return s.post(chx["url"], data=json.dumps(body), headers=JOSE, timeout=20).status_code

    with ThreadPoolExecutor(10) as pool:
        codes = list(pool.map(answer, range(10)))
    got = poll(a, oo["authorizations"][0]).json()
    runs = open(fx.procs[0].log).read().count(chx["url"].rsplit("/", 1)[-1] + '","type"')
    tap.ok(codes == [200] * 10 and got["status"] == "valid" and 1 <= runs <= 2,
           "ten racing answers to one challenge: all 200, at most two validations (the"
           " hint's holder's and the one that moved it to processing)", (codes, runs))

    # A validator that died leaves its challenge processing: an answer a minute later
    # takes it back; sooner, it is left alone.
    oo = a.order("crashed.example.test").json()
    chx = chall_of(a.post(oo["authorizations"][0]).json(), "http-01")
    cid = chx["url"].rsplit("/", 1)[-1]
    resp.set("add-http01", token=chx["token"], content=f"{chx['token']}.{tp}")
    psql(fx, f"UPDATE acme_challenges SET status = 'processing' WHERE id = '{cid}'")
    r = a.post(chx["url"], {})
    tap.eq(("processing", "1"), (r.json().get("status"), r.headers.get("Retry-After")),
           "answering a challenge in processing: no restart, poll again in a second")
    # Reading an authorization under validation waits for the outcome (2 s at most).
    t0 = time.monotonic()
    r = a.post(oo["authorizations"][0])
    waited = time.monotonic() - t0
    tap.ok(r.json()["status"] == "pending" and r.headers.get("Retry-After") == "1" and
           1.8 <= waited < 10, "...still pending, after waiting about 2 s for an outcome",
           (r.json()["status"], r.headers.get("Retry-After"), waited))
    psql(fx, f"UPDATE acme_challenges SET updated_at = now() - interval '61 s' WHERE id = '{cid}'")
    a.post(chx["url"], {})
    t0 = time.monotonic()
    r = a.post(oo["authorizations"][0])
    waited = time.monotonic() - t0
    tap.ok(r.json()["status"] == "valid" and waited < 1.95,  # woken, not the 2 s deadline
           "a minute later an answer validates it again, and the first read returns with it: "
           "valid", (r.json()["status"], waited))

    # dns-01 for the wildcard.
    import base64
    import hashlib

    ch = chall_of(wild, "dns-01")
    digest = base64.urlsafe_b64encode(hashlib.sha256(f"{ch['token']}.{tp}".encode()).digest()
                                      ).rstrip(b"=").decode()
    resp.set("set-txt", host="_acme-challenge.example.test.", value=digest)
    a.post(ch["url"], {})
    r = poll(a, o["authorizations"][1])
    tap.eq("valid", r.json()["status"], "dns-01 TXT through --acme-resolver: wildcard valid")

    # --- failures: each leaves the authorization invalid with the right error --------------
    def fails(name, ident, typ, setup, want_type):
        r = a.order(ident)
        oo = r.json()
        az = a.post(oo["authorizations"][0]).json()
        chx = chall_of(az, typ)
        setup(chx)
        ans = a.post(chx["url"], {}).json()
        r = poll(a, oo["authorizations"][0])
        got = r.json()
        err = (chall_of(got, typ) or {}).get("error", {})
        tap.ok(ans.get("status") == "invalid" and ans.get("error") == err and
               got["status"] == "invalid" and err.get("type") == ACME + want_type,
               f"{name}: the answer and then the authorization invalid, error {want_type}",
               (ans, json.dumps(got)[:600]))
        r = a.post(r.headers.get("Location") or oo["authorizations"][0])
        return r.headers.get("Location"), oo

    _, oo = fails("http-01 with the wrong body", "wrong.example.test", "http-01",
                  lambda x: resp.set("add-http01", token=x["token"], content="nope"),
                  "incorrectResponse")
    tap.eq("invalid", a.post(base + "/acme/order/" + oo["finalize"].split("/")[-2]).json()
           ["status"], "an order with an invalid authorization is invalid")
    fails("http-01 and nothing listening (connection refused)", "refused.example.test",
          "http-01", lambda x: resp.set("add-a", host="refused.example.test",
                                        addresses=["127.0.0.2"]), "connection")
    fails("http-01 redirected to a forbidden port", "redirect.example.test", "http-01",
          lambda x: resp.set("add-redirect", path=f"/.well-known/acme-challenge/{x['token']}",
                             targetURL="http://redirect.example.test:22/x"), "connection")
    fails("http-01 with nothing set up (an empty 200)", "missing.example.test", "http-01",
          lambda x: None, "incorrectResponse")
    fails("dns-01 with the wrong TXT", "txt.example.test", "dns-01",
          lambda x: resp.set("set-txt", host="_acme-challenge.txt.example.test.",
                             value="wrong"), "incorrectResponse")
    fails("tls-alpn-01 with no certificate for the name (handshake fails)",
          "noalpn.example.test", "tls-alpn-01", lambda x: None, "tls")

    # --- a ready order, reuse, deactivation ---------------------------------------------------
    r = a.order("www.example.test")
    oo = r.json()
    tap.eq(("ready", [o["authorizations"][0]]), (oo["status"], oo["authorizations"]),
           "a new order for a validated name reuses the valid authorization: ready at once")
    r = a.post(oo["finalize"], {"csr": "AAAA"})
    c.problem(r, 400, "badCSR", "finalize of a ready order with a CSR that is none: badCSR "
              "(issuance: acme_certs.py)")
    tap.eq("ready", a.post(oo["finalize"][:-len("/finalize")]).json()["status"],
           "...the order stays ready")
    r = b.order("www.example.test")
    tap.ok(r.json()["authorizations"][0] != o["authorizations"][0],
           "another account gets its own authorization for the same name")
    r = a.post(o["authorizations"][0], {"status": "deactivated"})
    tap.eq((200, "deactivated"), (r.status_code, r.json().get("status")),
           "deactivate a valid authorization: 200 deactivated")
    tap.eq("invalid", a.post(base + "/acme/order/" + oo["finalize"].split("/")[-2]).json()
           ["status"], "the ready order that relied on it is now invalid")
    r = a.post(o["authorizations"][0], {"status": "deactivated"})
    c.problem(r, 400, "malformed", "deactivating it again: malformed")
    r = a.order("www.example.test")
    tap.ok(r.json()["status"] == "pending" and
           r.json()["authorizations"][0] != o["authorizations"][0],
           "a deactivated authorization is not reused")

    # expiry: an order past expires reads invalid
    r = a.order("expire.example.test")
    eo = r.json()
    eid = eo["finalize"].split("/")[-2]
    psql(fx, f"UPDATE acme_orders SET expires_at = now() - interval '1 s' WHERE id = '{eid}'")
    tap.eq("invalid", a.post(base + "/acme/order/" + eid).json()["status"],
           "an expired order is invalid")
    az = eo["authorizations"][0].rsplit("/", 1)[-1]
    psql(fx, f"UPDATE acme_authzs SET expires_at = now() - interval '1 s' WHERE id = '{az}'")
    tap.eq("expired", a.post(eo["authorizations"][0]).json()["status"],
           "a pending authorization past expires is expired")
    exp_ch = a.post(eo["authorizations"][0]).json()["challenges"][0]["url"]
    r = a.post(exp_ch, {})
    c.problem(r, 400, "malformed", "answering a challenge of an expired authorization: malformed")
    tap.eq("pending", a.post(exp_ch).json()["status"], "...which stays pending")

    # --- the orders list, a page at a time ------------------------------------------------------
    psql(fx, "INSERT INTO acme_orders (id, account_id, identifiers, authz_ids, expires_at, created_at)"
             f" SELECT 'page' || g, '{b.id}', '[]', '{{}}', now() + interval '1 day',"
             " now() - g * interval '1 s' FROM generate_series(1, 150) g")
    total = int(psql(fx, f"SELECT count(*) FROM acme_orders WHERE account_id = '{b.id}'"))
    r = b.post(f"/acme/account/{b.id}/orders")
    first = r.json()["orders"]
    nxt = r.links.get("next", {}).get("url", "")
    tap.ok(len(first) == 100 and nxt.startswith(f"{base}/acme/account/{b.id}/orders/"),
           "orders list: 100 newest, Link rel=next", (len(first), r.headers.get("Link")))
    r = b.post(nxt)
    second = r.json()["orders"]
    tap.ok(len(first) + len(second) == total and not set(first) & set(second) and
           "next" not in r.links, f"the next page has the other {total - 100}, no next", r.text)
    r = a.post(nxt.replace(b.id, a.id, 1))
    tap.eq(200, r.status_code, "a page after another account's order: 200")
    tap.eq([], r.json().get("orders"), "...and empty")

    # --- rate limits ----------------------------------------------------------------------------
    n = int(psql(fx, f"SELECT count(*) FROM acme_orders WHERE account_id = '{a.id}'"))
    for _ in range(12 - n):
        r = a.order("limit.example.test")
    before = counts(fx)
    r = a.order("limit.example.test")
    c.problem(r, 429, "rateLimited", "the 13th order in an hour: 429 rateLimited")
    ra = int(r.headers.get("Retry-After", "0"))
    tap.ok(60 < ra <= 3600, "with Retry-After until the oldest leaves the hour", ra)
    tap.eq(before, counts(fx), "...and no order made")
    psql(fx, f"UPDATE acme_orders SET created_at = now() - interval '2 h' WHERE account_id = '{a.id}'")
    many = [f"n{i}.example.test" for i in range(21)]
    r = a.order(*many)
    c.problem(r, 429, "rateLimited", "21 new pending authorizations over a limit of 20: 429")
    return a


def late_new_order(tap, fx, c, a):
    """With the rate limits off, newOrder's own statement takes the nonce:
    each refusal leaves everything as it was."""
    def nonce_left(n):
        return psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n}'")

    d = Acct(c)
    tap.eq(200, d.post(d.kid, {}).status_code, "limits off: a second account, its key cached")
    new = {"identifiers": [{"type": "dns", "value": "fold.example.test"}]}
    before = counts(fx)
    n = c.nonce()
    r = c.signed(a.key, "/acme/new-order", new, kid=a.kid, nonce=n)
    tap.eq((201, "pending", "0"), (r.status_code, r.json().get("status"), nonce_left(n)),
           "limits off: newOrder made, its nonce used up by its statement")
    after = counts(fx)
    c.problem(c.signed(a.key, "/acme/new-order", new, kid=a.kid, nonce=n), 400, "badNonce",
              "limits off: newOrder with the same nonce again: 400 badNonce")
    n = c.nonce()
    psql(fx, f"UPDATE acme_nonces SET expires_at = now() - interval '1 s' WHERE nonce = '{n}'")
    c.problem(c.signed(a.key, "/acme/new-order", new, kid=a.kid, nonce=n), 400, "badNonce",
              "limits off: newOrder with an expired nonce: 400 badNonce")
    n = c.nonce()
    c.problem(c.signed(d.key, "/acme/new-order", new, kid=a.kid, nonce=n), 400, "malformed",
              "limits off: newOrder signed by another account's key under this kid: 400")
    tap.eq("1", nonce_left(n), "...which leaves its nonce")
    tap.ok(before != after and counts(fx) == after, "...and no refusal made anything",
           (before, after, counts(fx)))
    # The key another orchardd changed: the stored key verifies the long way, then the
    # order is made.
    jwk_a = psql(fx, f"SELECT jwk FROM acme_accounts WHERE id = '{a.id}'")
    psql(fx, f"UPDATE acme_accounts SET jwk = (SELECT jwk FROM acme_accounts WHERE id ="
             f" '{d.id}') WHERE id = '{a.id}'")
    n = c.nonce()
    c.problem(c.signed(a.key, "/acme/new-order", new, kid=a.kid, nonce=n), 400, "malformed",
              "limits off: newOrder signed with a key the account no longer holds: 400")
    tap.eq(("1", after), (nonce_left(n), counts(fx)), "...which leaves its nonce, makes nothing")
    r = c.signed(d.key, "/acme/new-order", new, kid=a.kid, nonce=n)
    tap.eq((201, "0"), (r.status_code, nonce_left(n)),
           "limits off: newOrder signed with the stored key: 201, the nonce used up")
    tap.eq(str(int(after.split()[0]) + 1), counts(fx).split()[0], "...and one order made")
    psql(fx, f"UPDATE acme_accounts SET jwk = $j${jwk_a}$j$ WHERE id = '{a.id}'")
    tap.eq(200, a.post(a.kid, {}).status_code, "the account's own key again")
    n = c.nonce()
    tap.eq(200, d.post(d.kid, {"status": "deactivated"}).status_code, "the second deactivated")
    c.problem(c.signed(d.key, "/acme/new-order", new, kid=d.kid, nonce=n), 403, "unauthorized",
              "limits off: newOrder by a deactivated account: 403 unauthorized")
    tap.eq("1", nonce_left(n), "...which leaves its nonce")


def alpn(tap, fx, c, resp):
    """tls-alpn-01 against our own responder: a second orchardd on the same
    database validates on its port."""
    srv = AlpnResponder()
    fx.start("--threads", "2", "--acme-tls-port", str(srv.port), "--acme-pending-authz-max", "0",
             "--acme-resolver", f"127.0.0.1:{resp.dns}",
             "--acme-orders-per-hour", "0")
    a = Acct(c)
    tp = a.thumbprint()
    late_new_order(tap, fx, c, a)

    def case(name, ident, setup, want):
        oo = a.order(ident).json()
        az = a.post(oo["authorizations"][0]).json()
        ch = chall_of(az, "tls-alpn-01")
        ka = f"{ch['token']}.{tp}"
        setup(ident, ka)
        a.post(ch["url"], {})
        got = poll(a, oo["authorizations"][0]).json()
        if want == "valid":
            return tap.eq("valid", got["status"], f"tls-alpn-01 {name}: valid")
        err = (chall_of(got, "tls-alpn-01") or {}).get("error", {})
        tap.ok(got["status"] == "invalid" and err.get("type") == ACME + want,
               f"tls-alpn-01 {name}: invalid, {want}", json.dumps(got)[:600])

    case("with the right certificate", "127.0.0.1",
         lambda i, ka: srv.set([i], ka), "valid")
    case("for a DNS name", "alpn-ok.example.test",
         lambda i, ka: srv.set([i], ka), "valid")
    case("without the acmeIdentifier extension", "alpn1.example.test",
         lambda i, ka: srv.set([i]), "unauthorized")
    case("with a non-critical extension", "alpn2.example.test",
         lambda i, ka: srv.set([i], ka, critical=False), "unauthorized")
    case("with the digest of another key authorization", "alpn3.example.test",
         lambda i, ka: srv.set([i], ka, digest=b"\x00" * 32), "incorrectResponse")
    case("with two SANs", "alpn4.example.test",
         lambda i, ka: srv.set([i, "other.example.test"], ka), "unauthorized")
    case("with another name as SAN", "alpn5.example.test",
         lambda i, ka: srv.set(["other.example.test"], ka), "unauthorized")


def http01_wire(tap, fx, c, resp):
    """http-01 against targets that answer as real web servers may: a
    chunked body, HTTP/1.0 without Content-Length, a relative redirect, a
    redirect to https on the tls-alpn-01 port; and that are refused: a
    body over 4 KiB, a malformed status line, a body shorter than its
    Content-Length. The request itself: its line and headers. A second
    orchardd, without the first one's order limits."""
    fx.start("--threads", "2", "--acme-http-port", str(resp.http), "--acme-tls-port",
             str(resp.tls), "--acme-resolver", f"127.0.0.1:{resp.dns}",
             "--acme-orders-per-hour", "0", "--acme-pending-authz-max", "0")
    raw = RawHttp(resp.http, resp.tls)
    a = Acct(c)
    tp = a.thumbprint()
    well = "/.well-known/acme-challenge/"

    def case(name, ident, answer, want):
        resp.set("add-a", host=ident, addresses=["127.0.0.4"])
        oo = a.order(ident).json()
        ch = chall_of(a.post(oo["authorizations"][0]).json(), "http-01")
        ka = f"{ch['token']}.{tp}".encode()
        for path, body in answer(ident, ch["token"], ka).items():
            raw.routes[path] = body
        a.post(ch["url"], {})
        got = poll(a, oo["authorizations"][0]).json()
        if want == "valid":
            return tap.ok(got["status"] == "valid", f"http-01 {name}: valid", json.dumps(got)[:600])
        err = (chall_of(got, "http-01") or {}).get("error", {})
        return tap.ok(got["status"] == "invalid" and err.get("type") == ACME + want,
                      f"http-01 {name}: invalid, {want}", json.dumps(got)[:600])

    def chunked(ka):
        return (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                b"%x\r\n%s\r\n%X;ext=1\r\n%s\r\n0\r\n\r\n" % (10, ka[:10], len(ka) - 10, ka[10:]))

    case("with a chunked body", "wire1.example.test",
         lambda i, t, ka: {well + t: chunked(ka)}, "valid")
    req = next((h for h in raw.heads if h.startswith(f"GET {well}")), "")
    lines = req.split("\r\n")
    tap.ok(lines[0].endswith(" HTTP/1.1") and f"Host: wire1.example.test:{resp.http}" in lines
           and "User-Agent: orchardd-acme-validator" in lines and "Accept: */*" in lines and
           "Connection: close" in lines, "...its request: GET HTTP/1.1, Host with the port, "
           "User-Agent, Accept, Connection: close", req)
    case("answered HTTP/1.0 without Content-Length, to the end", "wire2.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.0 200 OK\nServer: old\n\n" + ka + b"\n"}, "valid")
    case("after a relative redirect", "wire3.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.1 302 Found\r\nLocation: moved/" + t.encode() +
                           b"\r\nContent-Length: 0\r\n\r\n",
                           well + "moved/" + t: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                           % (len(ka), ka)}, "valid")
    case("after a redirect to https on the tls-alpn-01 port", "wire4.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.1 301 Moved\r\nLocation: https://%s:%d/tls/%s"
                           b"\r\nContent-Length: 0\r\n\r\n" % (i.encode(), resp.tls, t.encode()),
                           "/tls/" + t: chunked(ka)}, "valid")
    tap.ok(any(h.startswith("GET /tls/") and f"Host: wire4.example.test:{resp.tls}" in h
               for h in raw.heads), "...the https hop's request names its host and port")
    case("with a body over 4 KiB", "wire5.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.0 200 OK\r\n\r\n" + ka + b" " * 5000},
         "incorrectResponse")
    case("with a malformed status line", "wire6.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.1 2x0 OK\r\nContent-Length: %d\r\n\r\n%s"
                           % (len(ka), ka)}, "connection")
    case("with a body shorter than its Content-Length", "wire7.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s"
                           % (len(ka) + 5, ka)}, "connection")
    case("with a bad chunk size", "wire8.example.test",
         lambda i, t, ka: {well + t: b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                           b"zz\r\n" + ka + b"\r\n0\r\n\r\n"}, "connection")
    raw.stop()


def hanging(c, resp, host):
    """A new account's order for host, whose http-01 target takes the
    request and never answers: the listening socket, the account, the
    order and its http-01 challenge (its authorization read)."""
    hang = socket.socket()
    hang.bind(("127.0.0.3", resp.http))
    hang.listen(8)
    a = Acct(c)
    resp.set("add-a", host=host, addresses=["127.0.0.3"])
    o = a.order(host).json()
    return hang, a, o, chall_of(a.post(o["authorizations"][0]).json(), "http-01")


def slow_validation(tap, fx, c, resp):
    """An http-01 answer waits for its outcome up to 2 s: against a target
    that takes the request and never answers, it says processing (poll in
    a second); once the target goes, the validation ends invalid."""
    hang, a, o, ch = hanging(c, resp, "hang.example.test")
    t0 = time.monotonic()
    r = a.post(ch["url"], {})
    waited = time.monotonic() - t0
    hang.close()  # resets the connection the validation waits on
    tap.ok(r.status_code == 200 and r.json().get("status") == "processing" and
           r.headers.get("Retry-After") == "1" and 1.8 <= waited < 5,
           "an answer whose validation hangs: 200 processing after about 2 s, Retry-After 1",
           (r.status_code, r.text, waited))
    got = poll(a, o["authorizations"][0]).json()
    tap.eq(("invalid", ACME + "connection"),
           (got["status"], (chall_of(got, "http-01") or {}).get("error", {}).get("type")),
           "...and the validation ends invalid once the target is gone")


def slow_validation_bad_nonce(tap, fx, c, resp):
    """The same hanging validation answered with a used nonce: badNonce
    once the answer stops waiting, and the validation's outcome, when it
    ends, is recorded by nobody: the challenge stays pending. Answered
    again, with a good nonce, it validates."""
    hang, a, o, ch = hanging(c, resp, "hang2.example.test")
    authz = o["authorizations"][0]
    n = c.nonce()
    c.signed(a.key, authz[len(fx.base):], None, kid=a.kid, nonce=n)
    r = c.signed(a.key, ch["url"][len(fx.base):], {}, kid=a.kid, nonce=n)
    c.problem(r, 400, "badNonce", "a hanging validation answered with a used nonce: badNonce")
    hang.close()  # the validation ends: its connection is reset
    chall_id = ch["url"].rsplit("/", 1)[1]
    time.sleep(0.5)  # no event says an outcome was dropped: give the job time to end
    tap.eq("pending pending", psql(fx, "SELECT ch.status || ' ' || a.status FROM acme_challenges"
                                   " ch JOIN acme_authzs a ON a.id = ch.authz_id"
                                   f" WHERE ch.id = '{chall_id}'"),
           "...and its outcome, once the validation ends, is recorded by nobody")
    resp.set("clear-a", host="hang2.example.test")
    resp.set("add-a", host="hang2.example.test", addresses=["127.0.0.1"])
    resp.set("add-http01", token=ch["token"], content=f"{ch['token']}.{a.thumbprint()}")
    a.post(authz)
    r = a.post(ch["url"], {})
    tap.eq("valid", r.json().get("status"), "...and answered again, it validates")


def resent_answer(tap, fx, c, resp):
    """One answer JWS sent twice (a client retrying after a dropped
    connection) while its validation hangs: one copy is refused badNonce,
    the other starts the challenge, which ends decided, not left pending."""
    from concurrent.futures import ThreadPoolExecutor

    hang, a, o, ch = hanging(c, resp, "hang3.example.test")
    body = json.dumps(jws(a.key, ch["url"], {}, c.nonce(), a.kid))

    def send(delay):
        time.sleep(delay)
        return fx.session().post(ch["url"], data=body, headers=JOSE, timeout=20)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.submit(send, 0), pool.submit(send, 0.3)
        got = sorted([(r.status_code, r.json().get("type" if r.status_code >= 400 else "status"))
                      for r in (first.result(), second.result())])
    hang.close()  # both validations end: connection reset
    tap.eq([(200, "processing"), (400, ACME + "badNonce")], got,
           "the same answer JWS twice while it validates: one processing, one badNonce")
    az = poll(a, o["authorizations"][0], within=10).json()
    tap.eq("invalid", az["status"], "...and the challenge ends decided, not left pending")


def acme_base(tap, fx, c):
    """--acme-base-url: every URL from it, whatever the Host header says."""
    fx.start("--threads", "2", "--acme-base-url", "https://acme.example.test:9443")
    r = c.s.get(c.url("/acme/directory"), timeout=10)
    tap.ok(r.json().get("newOrder") == "https://acme.example.test:9443/acme/new-order" and
           r.headers.get("Link") == '<https://acme.example.test:9443/acme/directory>;rel="index"',
           "--acme-base-url: directory URLs and Link from it", r.text)
    k = Key("ES256")
    r = c.signed(k, "/acme/new-account", {})
    c.problem(r, 403, "unauthorized", "a JWS url of the listen address is not this server's URL")
    body = jws(k, "https://acme.example.test:9443/acme/new-account", {}, c.nonce())
    r = c.post("/acme/new-account", body)
    tap.ok(r.status_code == 201 and
           r.headers.get("Location", "").startswith("https://acme.example.test:9443/acme/account/"),
           "signed for the base URL: 201, account URL on the base", r.text)


if __name__ == "__main__":
    sys.exit(main())
