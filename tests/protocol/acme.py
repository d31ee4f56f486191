#!/usr/bin/python3
"""ACME accounts over HTTPS (RFC 8555 sections 6-7.3) against a real
orchardd and PostgreSQL, with JWS signed here by python3-cryptography: the
directory, nonces (single use across two orchardd instances on one
database), new-account, account update and deactivation, and every refusal
with its urn:ietf:params:acme:error type. Runs alone: tests/protocol/acme.py
"""

import base64
import json
import os
import subprocess
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from orchard_harness import Fixture, Tap  # noqa: E402

ACME = "urn:ietf:params:acme:error:"
JOSE = {"Content-Type": "application/jose+json"}


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n, size=None):
    size = size or (n.bit_length() + 7) // 8
    return n.to_bytes(size, "big")


class Key:
    """An account key of one JWS algorithm."""

    def __init__(self, alg):
        self.alg = alg
        if alg == "ES256":
            self.k = ec.generate_private_key(ec.SECP256R1())
        elif alg == "ES384":
            self.k = ec.generate_private_key(ec.SECP384R1())
        elif alg == "RS256":
            self.k = rsa.generate_private_key(65537, 2048)
        else:
            self.k = ed25519.Ed25519PrivateKey.generate()

    def jwk(self):
        pub = self.k.public_key()
        if self.alg.startswith("ES"):
            n = pub.curve.key_size // 8
            nums = pub.public_numbers()
            return {"kty": "EC", "crv": "P-%d" % pub.curve.key_size,
                    "x": b64u(uint(nums.x, n)), "y": b64u(uint(nums.y, n))}
        if self.alg == "RS256":
            nums = pub.public_numbers()
            return {"kty": "RSA", "n": b64u(uint(nums.n)), "e": b64u(uint(nums.e))}
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64u(raw)}

    def sign(self, data):
        if self.alg.startswith("ES"):
            h = hashes.SHA256() if self.alg == "ES256" else hashes.SHA384()
            r, s = decode_dss_signature(self.k.sign(data, ec.ECDSA(h)))
            n = self.k.curve.key_size // 8
            return uint(r, n) + uint(s, n)
        if self.alg == "RS256":
            return self.k.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self.k.sign(data)


def jws(key, url, payload, nonce, kid=None, hdr=None, signer=None):
    """A flattened JWS; payload None is POST-as-GET. hdr overrides or (with
    a None value) removes protected header members."""
    h = {"alg": key.alg, "nonce": nonce, "url": url}
    if kid:
        h["kid"] = kid
    else:
        h["jwk"] = key.jwk()
    for k, v in (hdr or {}).items():
        if v is None:
            h.pop(k, None)
        else:
            h[k] = v
    p = b64u(json.dumps(h).encode())
    y = "" if payload is None else b64u(json.dumps(payload).encode())
    sig = (signer or key).sign(f"{p}.{y}".encode())
    return {"protected": p, "payload": y, "signature": b64u(sig)}


class Client:
    def __init__(self, fx, tap):
        self.fx, self.tap = fx, tap
        self.s = fx.session()

    def url(self, path):
        return self.fx.base + path

    def nonce(self):
        return self.s.head(self.url("/acme/new-nonce"), timeout=10).headers["Replay-Nonce"]

    def post(self, path, body, headers=JOSE):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.s.post(self.url(path), data=data, headers=headers, timeout=20)

    def signed(self, key, path, payload, kid=None, hdr=None, signer=None, nonce=None):
        body = jws(key, self.url(path), payload, nonce or self.nonce(), kid, hdr, signer)
        return self.post(path, body)

    def problem(self, r, status, typ, name):
        ok = (r.status_code == status and
              r.headers.get("Content-Type", "").startswith("application/problem+json") and
              r.json().get("type") == ACME + typ and r.json().get("status") == status and
              bool(r.headers.get("Replay-Nonce")) and "rel=\"index\"" in r.headers.get("Link", ""))
        return self.tap.ok(ok, name, f"want {status} {typ}, got {r.status_code} "
                           f"{dict(r.headers)} {r.text[:400]}")


def psql(fx, sql):
    return subprocess.run(["psql", fx.db_url, "-Atc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def main():
    tap = Tap()
    with Fixture() as fx:
        fx.start("--threads", "2")
        c = Client(fx, tap)

        # --- directory and nonces ---------------------------------------------------------
        r = c.s.get(c.url("/acme/directory"), timeout=10)
        d = r.json()
        tap.eq(200, r.status_code, "directory: 200")
        tap.ok(all(d.get(k, "").startswith(fx.base + "/acme/") for k in
                   ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange")),
               "directory names the five resources by absolute URL", d)
        tap.eq(False, d.get("meta", {}).get("externalAccountRequired"), "directory meta")
        tap.ok(r.headers.get("Replay-Nonce"), "directory carries a Replay-Nonce")
        tap.eq(f'<{fx.base}/acme/directory>;rel="index"', r.headers.get("Link"),
               "and the index Link")
        r = c.s.get(c.url("/acme/directory"), headers={"Host": "evil.example"}, timeout=10)
        tap.eq((d["newAccount"], f'<{fx.base}/acme/directory>;rel="index"'),
               (r.json().get("newAccount"), r.headers.get("Link")),
               "an attacker's Host header changes no ACME URL (the base is the listen address)")
        r = c.s.head(c.url("/acme/new-nonce"), timeout=10)
        tap.eq((200, "no-store"), (r.status_code, r.headers.get("Cache-Control")),
               "HEAD new-nonce: 200, no-store")
        r2 = c.s.get(c.url("/acme/new-nonce"), timeout=10)
        tap.eq((204, "no-store"), (r2.status_code, r2.headers.get("Cache-Control")),
               "GET new-nonce: 204, no-store")
        n1, n2 = r.headers.get("Replay-Nonce", ""), r2.headers.get("Replay-Nonce", "")
        tap.ok(len(n1) >= 22 and n1 != n2, "each nonce is fresh", (n1, n2))
        tap.eq("1", psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n1}'"),
               "a nonce is recorded in PostgreSQL")

        r = c.s.get(c.url("/acme/no-such-thing"), timeout=10)
        c.problem(r, 404, "malformed", "an unknown /acme/ path: 404 malformed, with a nonce")
        r = c.s.get(c.url("/acme/new-account"), timeout=10)
        c.problem(r, 405, "malformed", "GET new-account: 405 malformed")
        tap.eq("POST", r.headers.get("Allow"), "with Allow: POST")

        # --- new accounts for every algorithm -----------------------------------------------
        keys = {}
        for alg in ("ES256", "ES384", "RS256", "EdDSA"):
            k = Key(alg)
            r = c.signed(k, "/acme/new-account",
                         {"contact": [f"mailto:{alg.lower()}@example.com"],
                          "termsOfServiceAgreed": True})
            loc = r.headers.get("Location", "")
            ok = (r.status_code == 201 and loc.startswith(fx.base + "/acme/account/") and
                  r.json().get("status") == "valid" and
                  r.json().get("contact") == [f"mailto:{alg.lower()}@example.com"] and
                  r.json().get("termsOfServiceAgreed") is True and
                  bool(r.headers.get("Replay-Nonce")))
            tap.ok(ok, f"new-account {alg}: 201 with Location", f"{r.status_code} {r.text}")
            k.kid = loc
            keys[alg] = k
        a = keys["ES256"]
        aid = a.kid.rsplit("/", 1)[-1]
        path_a = "/acme/account/" + aid
        r = c.signed(a, "/acme/new-account", {})
        tap.eq((200, a.kid), (r.status_code, r.headers.get("Location")),
               "new-account again with the same key: 200 and the same account")
        r = c.signed(a, "/acme/new-account", {"onlyReturnExisting": True})
        tap.eq((200, a.kid), (r.status_code, r.headers.get("Location")),
               "onlyReturnExisting for a known key: 200")
        fresh = Key("ES256")
        r = c.signed(fresh, "/acme/new-account", {"onlyReturnExisting": True})
        c.problem(r, 400, "accountDoesNotExist", "onlyReturnExisting for an unknown key")
        tap.eq("4", psql(fx, "SELECT count(*) FROM acme_accounts"),
               "...which creates nothing: 4 accounts")

        # --- the account resource -----------------------------------------------------------
        r = c.signed(a, path_a, None, kid=a.kid)
        tap.eq((200, "valid"), (r.status_code, r.json().get("status")),
               "POST-as-GET the account: 200")
        r = c.signed(a, path_a, {"contact": ["mailto:new@example.com"]}, kid=a.kid)
        tap.eq((200, ["mailto:new@example.com"]), (r.status_code, r.json().get("contact")),
               "update the contact: 200")
        r = c.signed(a, path_a, {}, kid=a.kid)
        tap.eq(["mailto:new@example.com"], r.json().get("contact"), "the update is stored")
        r = c.signed(fresh, "/acme/new-account", {"contact": ["tel:+123"]})
        c.problem(r, 400, "unsupportedContact", "a tel: contact: unsupportedContact")
        for bad in ("mailto:a@example.com,b@example.com", "mailto:a@example.com?subject=x",
                    "mailto:nobody"):
            r = c.signed(fresh, "/acme/new-account", {"contact": [bad]})
            c.problem(r, 400, "invalidContact", f"contact {bad}: invalidContact")
        r = c.signed(fresh, "/acme/new-account", {"contact": "mailto:a@example.com"})
        c.problem(r, 400, "malformed", "contact not a list: malformed")
        r = c.signed(a, path_a, {"status": "valid"}, kid=a.kid)
        c.problem(r, 400, "malformed", "status other than deactivated: malformed")
        b = keys["ES384"]
        r = c.signed(b, path_a, None, kid=b.kid)
        c.problem(r, 403, "unauthorized", "another account's URL with one's own kid")
        r = c.signed(b, "/acme/new-account", {}, kid=b.kid)
        c.problem(r, 400, "malformed", "kid on new-account: malformed")
        r = c.signed(a, path_a, None)
        c.problem(r, 400, "malformed", "jwk on an account URL: malformed")
        r = c.signed(a, "/acme/account/nosuchaccount", None, kid=fx.base + "/acme/account/nosuchaccount")
        c.problem(r, 400, "accountDoesNotExist", "unknown kid: accountDoesNotExist")
        r = c.signed(a, path_a, None, kid="https://elsewhere.example/acme/account/" + aid)
        c.problem(r, 400, "accountDoesNotExist", "kid of another server: accountDoesNotExist")

        # --- nonces -------------------------------------------------------------------------
        r = c.signed(a, path_a, None, kid=a.kid, hdr={"nonce": None})
        c.problem(r, 400, "badNonce", "no nonce: badNonce")
        r = c.signed(a, path_a, None, kid=a.kid, nonce="AAAAAAAAAAAAAAAAAAAAAA")
        c.problem(r, 400, "badNonce", "unknown nonce: badNonce")
        n = c.nonce()
        r = c.signed(a, path_a, None, kid=a.kid, nonce=n)
        tap.eq(200, r.status_code, "a nonce works once")
        r = c.signed(a, path_a, None, kid=a.kid, nonce=n)
        c.problem(r, 400, "badNonce", "and is refused the second time")
        n = c.nonce()
        psql(fx, f"UPDATE acme_nonces SET expires_at = now() - interval '1 s' WHERE nonce = '{n}'")
        r = c.signed(a, path_a, None, kid=a.kid, nonce=n)
        c.problem(r, 400, "badNonce", "an expired nonce: badNonce")
        r = c.signed(a, path_a, None, kid=a.kid, nonce=r.headers["Replay-Nonce"])
        tap.eq(200, r.status_code, "the badNonce reply's Replay-Nonce works")
        # A refused request leaves its nonce unused: a signature by another key.
        n = c.nonce()
        r = c.signed(a, path_a, None, kid=a.kid, nonce=n, signer=b)
        c.problem(r, 400, "malformed", "a signature by another key: malformed")
        r = c.signed(a, path_a, None, kid=a.kid, nonce=n)
        tap.eq(200, r.status_code, "...and the refused request's nonce is still good")

        # --- malformed JWS ------------------------------------------------------------------
        good = jws(a, c.url(path_a), None, c.nonce(), a.kid)
        r = c.post(path_a, good, headers={"Content-Type": "application/json"})
        c.problem(r, 415, "malformed", "application/json instead of jose+json: 415 malformed")
        r = c.post(path_a, "[1]")
        c.problem(r, 400, "malformed", "a JSON array: malformed")
        r = c.post(path_a, "{not json")
        c.problem(r, 400, "malformed", "not JSON at all: malformed")
        r = c.post(path_a, dict(good, header={"kid": a.kid}))
        c.problem(r, 400, "malformed", "an unprotected header: malformed")
        r = c.post(path_a, dict(good, protected=good["protected"] + "="))
        c.problem(r, 400, "malformed", "padded base64url: malformed")
        r = c.post(path_a, dict(good, signature="!!!!"))
        c.problem(r, 400, "malformed", "garbage signature base64url: malformed")
        r = c.post(path_a, {"protected": good["protected"], "payload": ""})
        c.problem(r, 400, "malformed", "no signature: malformed")
        r = c.signed(a, path_a, None, kid=a.kid, hdr={"jwk": a.jwk()})
        c.problem(r, 400, "malformed", "jwk and kid both: malformed")
        r = c.signed(a, path_a, None, kid=a.kid, hdr={"url": c.url("/acme/new-account")})
        c.problem(r, 403, "unauthorized", "a url that is not this request's: unauthorized")
        for alg in ("none", "HS256", "RS512"):
            r = c.signed(a, path_a, None, kid=a.kid, hdr={"alg": alg})
            c.problem(r, 400, "badSignatureAlgorithm", f"alg {alg}: badSignatureAlgorithm")
            tap.eq(["ES256", "ES384", "RS256", "EdDSA"], r.json().get("algorithms"),
                   f"alg {alg}: the problem lists the algorithms we take")
        r = c.signed(a, path_a, None, kid=a.kid, hdr={"alg": "ES384"})
        c.problem(r, 400, "badSignatureAlgorithm", "ES384 with a P-256 key: badSignatureAlgorithm")
        r = c.signed(a, path_a, "not an object", kid=a.kid)
        c.problem(r, 400, "malformed", "a payload that is not an object: malformed")
        # An oversized JWS is refused on its Content-Length, before the upload.
        host = f"{fx.host}:{fx.port}"
        got, _ = fx.exchange((f"POST {path_a} HTTP/1.1\r\nHost: {host}\r\n"
                              "Content-Type: application/jose+json\r\nContent-Length: 40000\r\n"
                              "Expect: 100-continue\r\n\r\n").encode())
        r0 = got[0] if got else None
        tap.ok(r0 is not None and r0.status == 413 and
               r0.json().get("type") == ACME + "malformed" and r0.header("Replay-Nonce"),
               "an oversized JWS: 413 malformed, with a nonce",
               r0 and (r0.status, r0.headers, r0.body[:300]))
        tap.eq(["mailto:new@example.com"], c.signed(a, path_a, {}, kid=a.kid).json()["contact"],
               "no refused request changed the account")

        # --- two orchardd on one database -------------------------------------------------
        first = fx.base
        n = c.nonce()
        fx.start("--threads", "2")
        tap.ok(fx.base != first, "a second orchardd on the same database")
        r = c.signed(a, path_a, None, kid=fx.base + path_a, nonce=n)
        tap.eq(200, r.status_code, "a nonce from the first instance works on the second")
        r = c.signed(a, path_a, None, kid=fx.base + path_a, nonce=n)
        c.problem(r, 400, "badNonce", "and is then refused there")
        m = r.headers["Replay-Nonce"]
        r = c.s.post(first + path_a, data=json.dumps(jws(a, first + path_a, None, m,
                                                          first + path_a)),
                     headers=JOSE, timeout=20)
        tap.eq(200, r.status_code, "a nonce from the second works on the first")
        r = c.s.post(first + path_a, data=json.dumps(jws(a, first + path_a, None, m,
                                                          first + path_a)),
                     headers=JOSE, timeout=20)
        c.problem(r, 400, "badNonce", "once: reused on the first it is badNonce")

        # Twenty requests race for one nonce across both instances: one wins.
        from concurrent.futures import ThreadPoolExecutor

        n = c.nonce()
        bases = [first, fx.base] * 10

        def use(base):
            body = jws(a, base + path_a, None, n, base + path_a)
            return c.fx.session().post(base + path_a, data=json.dumps(body), headers=JOSE,
                                       timeout=20).status_code

        with ThreadPoolExecutor(20) as pool:
            codes = sorted(pool.map(use, bases))
        tap.eq([200] + [400] * 19, codes, "20 racing uses of one nonce on two instances: one wins")

        # Ten racing new-accounts for one key, on both instances: one account.
        k = Key("ES256")

        def register(base):
            s = c.fx.session()
            nonce = s.head(base + "/acme/new-nonce", timeout=10).headers["Replay-Nonce"]
            body = jws(k, base + "/acme/new-account", {}, nonce)
            r = s.post(base + "/acme/new-account", data=json.dumps(body), headers=JOSE,
                       timeout=20)
            return r.status_code, r.headers.get("Location", "").rsplit("/", 1)[-1]

        with ThreadPoolExecutor(10) as pool:
            got = list(pool.map(register, [first, fx.base] * 5))
        tap.ok(sorted(g[0] for g in got) == [200] * 9 + [201] and len({g[1] for g in got}) == 1,
               "10 racing new-accounts for one key: one 201, nine 200, one account", got)
        r = c.signed(k, "/acme/new-account", None)
        c.problem(r, 400, "malformed", "POST-as-GET to new-account: malformed")

        # --- deactivation -------------------------------------------------------------------
        d = keys["RS256"]
        pd = "/acme/account/" + d.kid.rsplit("/", 1)[-1]
        r = c.signed(d, pd, {"status": "deactivated"}, kid=fx.base + pd)
        tap.eq((200, "deactivated"), (r.status_code, r.json().get("status")),
               "deactivate: 200 deactivated")
        n = c.nonce()
        r = c.signed(d, pd, None, kid=fx.base + pd, nonce=n)
        c.problem(r, 403, "unauthorized", "a deactivated account's key authorizes nothing")
        tap.eq("1", psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n}'"),
               "...and its nonce is left unused")
        r = c.signed(d, pd, {"status": "deactivated"}, kid=fx.base + pd)
        c.problem(r, 403, "unauthorized", "not even a second deactivation")
        r = c.signed(d, "/acme/new-account", {})
        c.problem(r, 403, "unauthorized", "new-account with its key: unauthorized")

        psql(fx, "UPDATE acme_nonces SET expires_at = now() - interval '1 h'")
        before = int(psql(fx, "SELECT count(*) FROM acme_nonces"))
        fx.start("--threads", "2")  # a process sweeps on its first nonce, then once a minute
        c.nonce()
        # What is left is the new process's first batch (server/acme.c: 32 a thread).
        left = psql(fx, "SELECT count(*) FILTER (WHERE expires_at <= now()) || ' '"
                    " || count(*) FROM acme_nonces").split()
        tap.ok(before > 1 and left[0] == "0" and 1 <= int(left[1]) <= 32,
               f"expired nonces are purged ({before} before, {left[1]} fresh left)")
        for i, p in enumerate(list(fx.procs)):
            rc = fx.stop(p)
            tap.eq(0, rc, f"orchardd {i + 1} exits cleanly (no sanitizer report)") or \
                sys.stderr.write(fx.log(p)[-3000:])
    return tap.done()


if __name__ == "__main__":
    sys.exit(main())
