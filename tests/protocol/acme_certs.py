#!/usr/bin/python3
"""ACME issuance over HTTPS against a real orchardd and PostgreSQL: finalize
(RFC 8555 section 7.4) with its CSR checks, the certificate download
(7.4.2), revokeCert (7.6) by the account and by the certificate's key, the
CRL seeing it, profiles, renewal information and replaces (RFC 9773).
http-01 is answered by pebble-challtestsrv. Every refusal: its type and
status, and nothing changed. Runs alone: tests/protocol/acme_certs.py
"""

import datetime
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acme import Client, Key, b64u, psql  # noqa: E402
from acme_orders import Acct, Responder, chall_of, poll  # noqa: E402
from orchard_harness import Fixture, Tap  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

UNKNOWN1 = b64u(bytes(15) + b"\x01")
UNKNOWN2 = b64u(bytes(15) + b"\x02")
PROFILES = """\
tls-server    7d  digitalSignature serverAuth            p256,p384,rsa,ed25519
shortlived    6h  digitalSignature serverAuth,clientAuth p256,p384,rsa,ed25519
p256only      1h  digitalSignature serverAuth            p256
"""


def csr(names, key=None, cn=None):
    """A DER CSR for names (DNS) signed by key (a new P-256 key when None)."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    b = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if names:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                            critical=False)
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def pem_certs(data):
    """Every certificate of a PEM chain (cryptography 38 has no
    load_pem_x509_certificates)."""
    end = b"-----END CERTIFICATE-----"
    return [x509.load_pem_x509_certificate(p + end) for p in data.split(end) if b"BEGIN" in p]


def validity(cert):
    """not_before, not_after as aware UTC datetimes (any cryptography)."""
    utc = datetime.timezone.utc
    return (cert.not_valid_before.replace(tzinfo=utc), cert.not_valid_after.replace(tzinfo=utc))


def ari_id(cert):
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    sn = cert.serial_number
    raw = sn.to_bytes((sn.bit_length() + 8) // 8, "big")  # DER: a zero byte before a high bit
    return f"{b64u(aki.key_identifier)}.{b64u(raw)}"


def rfc3339(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def main():
    tap = Tap()
    resp = Responder()
    try:
        with Fixture() as fx:
            prof = os.path.join(fx.tmp, "profiles")
            with open(prof, "w") as f:
                f.write(PROFILES)
            fx.start("--threads", "2", "--acme-http-port", str(resp.http), "--acme-tls-port",
                     str(resp.tls), "--acme-resolver", f"127.0.0.1:{resp.dns}",
                     "--ca-profiles", prof)
            c = Client(fx, tap)
            run(tap, fx, c, resp)
            if tap.failed:
                sys.stderr.write(fx.log(fx.procs[0])[-4000:])
            for p in list(fx.procs):
                rc = fx.stop(p)
                tap.eq(0, rc, "orchardd exits cleanly (no sanitizer report)") or \
                    sys.stderr.write(fx.log(p)[-3000:])
    finally:
        resp.stop()
    return tap.done()


def ready(tap, acct, resp, *names, **extra):
    """A new order for names whose authorizations are valid (http-01)."""
    r = acct.order(*names, **extra)
    assert r.status_code == 201, r.text
    o, url = r.json(), r.headers["Location"]
    tp = acct.thumbprint()
    for az_url in o["authorizations"]:
        az = acct.post(az_url).json()
        if az["status"] == "valid":
            continue
        ch = chall_of(az, "http-01")
        resp.set("add-http01", token=ch["token"], content=f"{ch['token']}.{tp}")
        acct.post(ch["url"], {})
        assert poll(acct, az_url).json()["status"] == "valid"
    return url, acct.post(url).json()


def counts(fx):
    return psql(fx, "SELECT (SELECT count(*) FROM certificates) || ' ' ||"
                    " (SELECT count(*) FROM certificates WHERE revoked_at IS NOT NULL) || ' ' ||"
                    " (SELECT count(*) FROM acme_orders) || ' ' ||"
                    " (SELECT string_agg(status, ',' ORDER BY id) FROM acme_orders)")


def run(tap, fx, c, resp):
    a, b = Acct(c), Acct(c)

    d = c.s.get(c.url("/acme/directory"), timeout=10).json()
    tap.ok(d.get("renewalInfo") == fx.base + "/acme/renewal-info" and
           d.get("revokeCert") == fx.base + "/acme/revoke-cert",
           "directory: renewalInfo and revokeCert", d)
    tap.eq(["p256only", "shortlived", "tls-server"], sorted(d["meta"]["profiles"]),
           "directory meta.profiles: the CA's (from --ca-profiles)")
    tap.ok("valid 1h" in d["meta"]["profiles"]["p256only"],
           "a profile's description says its lifetime", d["meta"]["profiles"])

    # --- finalize: refusals leave the order ready and issue nothing ------------------------
    r = a.order("early.example.test")
    c.problem(a.post(r.headers["Location"] + "/finalize",
                     {"csr": b64u(csr(["early.example.test"]))}),
              403, "orderNotReady", "finalize before ready: orderNotReady")
    url, o = ready(tap, a, resp, "www.example.test", "api.example.test")
    tap.eq("ready", o["status"], "both authorizations valid: the order is ready")
    fin = o["finalize"]
    before = counts(fx)
    bad_sig = bytearray(csr(["www.example.test", "api.example.test"]))
    bad_sig[-3] ^= 0x55
    bad = [
        ({"csr": b64u(csr(["www.example.test", "api.example.test", "evil.example.test"]))},
         400, "badCSR", "a CSR naming an identifier not in the order"),
        ({"csr": b64u(csr(["www.example.test"]))}, 400, "badCSR",
         "a CSR missing one of the order's identifiers"),
        ({"csr": b64u(csr(["www.example.test", "api.example.test"], cn="evil.example.test"))},
         400, "badCSR", "a CSR whose CN is not in the order"),
        ({"csr": b64u(csr(["www.example.test", "api.example.test"], key=a.key.k))}, 400,
         "badCSR", "a CSR with the account key"),
        ({"csr": b64u(bytes(bad_sig))}, 400, "badCSR", "a CSR whose signature is broken"),
        ({"csr": b64u(b"not a csr")}, 400, "badCSR", "a CSR that is not DER"),
        ({"csr": "a+b/"}, 400, "malformed", "a CSR that is not base64url"),
        ({}, 400, "malformed", "no csr"),
    ]
    for payload, status, typ, name in bad:
        c.problem(a.post(fin, payload), status, typ, f"finalize with {name}: {status} {typ}")
    c.problem(b.post(fin, {"csr": b64u(csr(["www.example.test", "api.example.test"]))}),
              403, "unauthorized", "finalize of another account's order: unauthorized")
    tap.eq(before, counts(fx), "no refused finalize issued or changed anything")
    tap.eq("ready", a.post(url).json()["status"], "...and the order is still ready")

    # A profile that allows P-256 keys only: a P-384 CSR is refused, the order stays ready.
    purl, po = ready(tap, a, resp, "p256.example.test", profile="p256only")
    k384 = ec.generate_private_key(ec.SECP384R1())
    c.problem(a.post(po["finalize"], {"csr": b64u(csr(["p256.example.test"], key=k384))}),
              400, "badCSR", "a key type the order's profile does not allow: badCSR")
    tap.eq("ready", a.post(purl).json()["status"], "...the order is still ready")

    # --- finalize -------------------------------------------------------------------------
    leaf_key = Key("ES256")
    r = a.post(fin, {"csr": b64u(csr(["api.example.test", "www.example.test"], key=leaf_key.k))})
    o = r.json()
    tap.ok(r.status_code == 200 and o.get("status") == "valid" and
           o.get("certificate", "").startswith(fx.base + "/acme/cert/") and
           r.headers.get("Location") == url,
           "finalize: 200, the order valid at once (issued inline), certificate URL", r.text)
    cert_url = o["certificate"]
    got = a.post(url).json()
    tap.eq(("valid", cert_url), (got["status"], got.get("certificate")),
           "POST-as-GET the order: valid, with its certificate")
    c.problem(a.post(fin, {"csr": b64u(csr(["api.example.test", "www.example.test"]))}),
              403, "orderNotReady", "finalize twice: orderNotReady, nothing issued")
    serial = cert_url.rsplit("/", 1)[-1]
    row = psql(fx, "SELECT acme_account_id || ' ' || acme_order_id || ' ' || profile || ' ' ||"
                   f" (SELECT count(*) FROM certificates) FROM certificates WHERE serial = '{serial}'")
    tap.eq(f"{a.id} {url.rsplit('/', 1)[-1]} tls-server 1", row,
           "one certificate recorded, with account, order and the default profile")

    # Eight racing finalizers of one ready order: one issues, the others see it not ready.
    from concurrent.futures import ThreadPoolExecutor

    from acme import JOSE, jws

    rurl, ro = ready(tap, a, resp, "race.example.test")
    body = b64u(csr(["race.example.test"]))
    n0 = psql(fx, "SELECT count(*) FROM certificates")

    def fire(_):
        s = fx.session()
        n = s.head(c.url("/acme/new-nonce"), timeout=10).headers["Replay-Nonce"]
        return s.post(ro["finalize"], data=json.dumps(
            jws(a.key, ro["finalize"], {"csr": body}, n, a.kid)), headers=JOSE,
            timeout=20).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(fire, range(8)))
    tap.eq(([200] + [403] * 7, int(n0) + 1),
           (codes, int(psql(fx, "SELECT count(*) FROM certificates"))),
           "eight racing finalizers: one 200, seven orderNotReady, one certificate")

    # --- download -------------------------------------------------------------------------
    r = a.post(cert_url)
    pems = pem_certs(r.content) if r.status_code == 200 else []
    tap.ok(r.status_code == 200 and
           r.headers.get("Content-Type") == "application/pem-certificate-chain" and
           len(pems) == 2 and 'rel="index"' in r.headers.get("Link", "") and
           "alternate" not in r.headers.get("Link", "") and r.headers.get("Replay-Nonce"),
           "download: 200 application/pem-certificate-chain, leaf and intermediate, "
           "Link rel=index, no alternates", (r.status_code, dict(r.headers), r.text[:200]))
    leaf = pems[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    tap.eq(["api.example.test", "www.example.test"], sorted(sans.get_values_for_type(x509.DNSName)),
           "the leaf names the order's identifiers")
    tap.eq(leaf.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo),
           leaf_key.k.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo),
           "the leaf carries the CSR's key")
    life = validity(leaf)[1] - validity(leaf)[0]
    tap.ok(datetime.timedelta(days=6, hours=23) < life <= datetime.timedelta(days=7, hours=1),
           "tls-server: about 7 days", life)
    with tempfile.TemporaryDirectory() as t:
        with open(os.path.join(t, "chain.pem"), "wb") as f:
            f.write(r.content)
        with open(os.path.join(t, "leaf.pem"), "wb") as f:
            f.write(leaf.public_bytes(serialization.Encoding.PEM))
        v = subprocess.run(["openssl", "verify", "-CAfile", fx.ca, "-untrusted",
                            os.path.join(t, "chain.pem"), os.path.join(t, "leaf.pem")],
                           capture_output=True, text=True)
    tap.ok(v.returncode == 0, "openssl verify: the chain leads to the root", v.stdout + v.stderr)
    c.problem(b.post(cert_url), 403, "unauthorized", "another account's certificate: unauthorized")
    c.problem(a.post(cert_url, {}), 400, "malformed", "the certificate with a payload: malformed")
    c.problem(a.post("/acme/cert/" + "0" * 32), 404, "malformed", "an unknown serial: 404")
    c.problem(a.post("/acme/cert/nothex"), 404, "malformed", "a serial that is not one: 404")
    # ACME_LATE: the download's read takes the account and the nonce.
    path = cert_url[len(fx.base):]
    n = c.nonce()
    r = c.signed(a.key, path, None, kid=a.kid, nonce=n)
    tap.eq((200, pems[0].serial_number, "0"),
           (r.status_code, (pem_certs(r.content) or [leaf])[0].serial_number,
            psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n}'")),
           "download: the nonce used up by the certificate's read")
    c.problem(c.signed(a.key, path, None, kid=a.kid, nonce=n), 400, "badNonce",
              "download: the same nonce again: 400 badNonce")
    n = c.nonce()
    c.problem(c.signed(b.key, path, None, kid=a.kid, nonce=n), 400, "malformed",
              "download signed by another account's key under this kid: 400 malformed")
    tap.eq("1", psql(fx, f"SELECT count(*) FROM acme_nonces WHERE nonce = '{n}'"),
           "that left its nonce")

    # --- ARI ------------------------------------------------------------------------------
    cid = ari_id(leaf)
    r = c.s.get(c.url("/acme/renewal-info/" + cid), timeout=10)
    w = r.json().get("suggestedWindow", {}) if r.status_code == 200 else {}
    nb, na = validity(leaf)
    ok = r.status_code == 200 and "start" in w and "end" in w
    if ok:
        s, e = rfc3339(w["start"]), rfc3339(w["end"])
        ok = nb + (na - nb) * 2 / 3 - datetime.timedelta(seconds=2) <= s < e <= na
    tap.ok(ok and int(r.headers.get("Retry-After", "0")) > 0,
           "renewalInfo: a window from two thirds of the lifetime, inside it; Retry-After",
           (r.status_code, dict(r.headers), r.text))
    aki, sn = cid.split(".")
    r = c.s.get(c.url(f"/acme/renewal-info/{aki}.{UNKNOWN1}"), timeout=10)
    c.problem(r, 404, "malformed", "renewalInfo for an unknown certificate: 404")
    r = c.s.get(c.url(f"/acme/renewal-info/{b64u(b'other-aki')}.{sn}"), timeout=10)
    c.problem(r, 404, "malformed", "renewalInfo under another issuer's key: 404")
    r = c.s.get(c.url("/acme/renewal-info/not-an-id"), timeout=10)
    c.problem(r, 400, "malformed", "renewalInfo for something that is not an identifier: 400")

    # --- replaces -------------------------------------------------------------------------
    before = counts(fx)
    c.problem(b.order("www.example.test", replaces=cid), 403, "unauthorized",
              "replaces of another account's certificate: unauthorized")
    c.problem(a.order("www.example.test", replaces=f"{aki}.{UNKNOWN2}"),
              400, "malformed", "replaces of an unknown certificate: malformed")
    c.problem(a.order("www.example.test", replaces="garbage"), 400, "malformed",
              "replaces that is not an identifier: malformed")
    tap.eq(before, counts(fx), "no refused replaces created an order")
    r = a.order("www.example.test", "api.example.test", replaces=cid)
    tap.ok(r.status_code == 201 and r.json().get("replaces") == cid,
           "replaces of the account's certificate: 201, the order says what it replaces", r.text)
    c.problem(a.order("www.example.test", replaces=cid), 409, "alreadyReplaced",
              "replacing it again: alreadyReplaced")

    # --- revokeCert -----------------------------------------------------------------------
    der = leaf.public_bytes(serialization.Encoding.DER)
    before = counts(fx)
    stranger = Key("ES256")
    c.problem(c.signed(stranger, "/acme/revoke-cert", {"certificate": b64u(der)}), 403,
              "unauthorized", "revoke signed by a third party's key (jwk): unauthorized")
    c.problem(b.post("/acme/revoke-cert", {"certificate": b64u(der)}), 403, "unauthorized",
              "revoke by another account (kid): unauthorized")
    c.problem(a.post("/acme/revoke-cert", {"certificate": b64u(der), "reason": 7}), 400,
              "badRevocationReason", "revoke with reason 7: badRevocationReason")
    c.problem(a.post("/acme/revoke-cert", {"certificate": b64u(b"junk")}), 404, "malformed",
              "revoke of something that is not our certificate: 404")
    c.problem(a.post("/acme/revoke-cert", {"certificate": "a+b"}), 400, "malformed",
              "revoke with a certificate that is not base64url: malformed")
    tap.eq(before, counts(fx), "no refused revocation changed anything")
    r = a.post("/acme/revoke-cert", {"certificate": b64u(der), "reason": 1})
    tap.eq((200, b""), (r.status_code, r.content), "revoke by the holding account: 200")
    tap.eq("1", psql(fx, f"SELECT revocation_reason FROM certificates WHERE serial = '{serial}'"),
           "the record says revoked, keyCompromise")
    c.problem(a.post("/acme/revoke-cert", {"certificate": b64u(der)}), 400, "alreadyRevoked",
              "revoke twice: alreadyRevoked")
    s = fx.session(fx.token("pki:admin"))
    crl = x509.load_der_x509_crl(s.get(c.url("/pki/crl"), timeout=10).content)
    tap.ok(crl.get_revoked_certificate_by_serial_number(leaf.serial_number) is not None,
           "the CRL lists it (the operator API's revocation path)")
    r = c.s.get(c.url("/acme/renewal-info/" + cid), timeout=10)
    w = r.json().get("suggestedWindow", {})
    tap.ok(r.status_code == 200 and
           rfc3339(w["end"]) < datetime.datetime.now(datetime.timezone.utc),
           "renewalInfo of a revoked certificate: a window in the past (renew now)", r.text)

    # Section 7.6's third way: another account that proves control of every name.
    _, o3 = ready(tap, a, resp, "third.example.test")
    o3 = a.post(o3["finalize"], {"csr": b64u(csr(["third.example.test"]))}).json()
    der3 = pem_certs(a.post(o3["certificate"]).content)[0].public_bytes(serialization.Encoding.DER)
    c.problem(b.post("/acme/revoke-cert", {"certificate": b64u(der3)}), 403, "unauthorized",
              "revoke by another account without authorizations for the names: unauthorized")
    ready(tap, b, resp, "third.example.test")
    r = b.post("/acme/revoke-cert", {"certificate": b64u(der3)})
    tap.eq(200, r.status_code,
           "revoke by another account holding valid authorizations for every name: 200")

    # Revoked by the certificate's own key (jwk), no account involved.
    k2 = Key("ES256")
    url2, o2 = ready(tap, a, resp, "www.example.test", profile="shortlived")
    o2 = a.post(o2["finalize"], {"csr": b64u(csr(["www.example.test"], key=k2.k))}).json()
    pem2 = a.post(o2["certificate"]).content
    leaf2 = pem_certs(pem2)[0]
    life2 = validity(leaf2)[1] - validity(leaf2)[0]
    tap.ok(life2 <= datetime.timedelta(hours=6, minutes=10) and o2.get("profile") == "shortlived",
           "profile shortlived: a 6-hour certificate", (life2, o2))
    r = c.signed(k2, "/acme/revoke-cert",
                 {"certificate": b64u(leaf2.public_bytes(serialization.Encoding.DER)),
                  "reason": 4})
    tap.eq(200, r.status_code, "revoke signed by the certificate's key (jwk): 200")
    tap.eq("4", psql(fx, "SELECT revocation_reason FROM certificates WHERE serial = "
                         f"'{o2['certificate'].rsplit('/', 1)[-1]}'"),
           "...recorded as superseded")


if __name__ == "__main__":
    sys.exit(main())
