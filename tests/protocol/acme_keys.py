#!/usr/bin/python3
"""ACME account keys over HTTPS against a real orchardd and PostgreSQL:
keyChange (RFC 8555 section 7.3.5) with every refusal, external account
binding (section 7.3.4) with operator-made HMAC keys, and
meta.externalAccountRequired. Runs alone: tests/protocol/acme_keys.py
"""

import base64
import hashlib
import hmac
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from acme import Client, Key, b64u, jws, psql  # noqa: E402
from orchard_harness import Fixture, Tap  # noqa: E402


def new_account(c, key, payload=None):
    r = c.signed(key, "/acme/new-account", payload or {"termsOfServiceAgreed": True})
    key.kid = r.headers.get("Location")
    return r


def inner(new, url, account, old, hdr=None, signer=None):
    """keyChange's inner JWS: signed by the new key, no nonce."""
    h = {"alg": new.alg, "jwk": new.jwk(), "url": url}
    h.update(hdr or {})
    p = b64u(json.dumps(h).encode())
    y = b64u(json.dumps({"account": account, "oldKey": old.jwk()}).encode())
    return {"protected": p, "payload": y, "signature": b64u((signer or new).sign(f"{p}.{y}".encode()))}


def eab(kid, mac_key, jwk, url, hdr=None):
    h = {"alg": "HS256", "kid": kid, "url": url}
    h.update(hdr or {})
    p = b64u(json.dumps(h).encode())
    y = b64u(json.dumps(jwk).encode())
    sig = hmac.new(base64.urlsafe_b64decode(mac_key + "=" * (-len(mac_key) % 4)),
                   f"{p}.{y}".encode(), hashlib.sha256).digest()
    return {"protected": p, "payload": y, "signature": b64u(sig)}


def main():
    tap = Tap()
    with Fixture() as fx:
        fx.start("--threads", "2")
        c = Client(fx, tap)
        key_change(tap, fx, c)
        ext_binding(tap, fx, c)
        for i, p in enumerate(list(fx.procs)):
            rc = fx.stop(p)
            tap.eq(0, rc, f"orchardd {i + 1} exits cleanly (no sanitizer report)") or \
                sys.stderr.write(fx.log(p)[-3000:])
    return tap.done()


def key_change(tap, fx, c):
    kc = "/acme/key-change"
    url = c.url(kc)
    old, other = Key("ES256"), Key("RS256")
    new_account(c, old)
    new_account(c, other)
    aid = old.kid.rsplit("/", 1)[-1]
    thumb = lambda: psql(fx, f"SELECT key_thumbprint FROM acme_accounts WHERE id = '{aid}'")
    before = thumb()

    def refuse(body, status, typ, name, key=old):
        r = c.signed(key, kc, body, kid=old.kid)
        c.problem(r, status, typ, name)

    new = Key("ES256")
    refuse(inner(new, url, old.kid, old, signer=Key("ES256")), 400, "malformed",
           "inner JWS signed by another key than its jwk: malformed")
    refuse(inner(new, c.url("/acme/new-account"), old.kid, old), 400, "malformed",
           "inner url differs from the outer: malformed")
    refuse(inner(new, url, other.kid, old), 403, "unauthorized",
           "inner account is another account: unauthorized")
    refuse(inner(new, url, old.kid, other), 403, "unauthorized",
           "oldKey is not the account's key: unauthorized")
    refuse(inner(old, url, old.kid, old), 400, "malformed", "the new key is the old one")
    bad = inner(new, url, old.kid, old)
    h = json.loads(base64.urlsafe_b64decode(bad["protected"] + "=="))
    del h["jwk"]
    h["kid"] = old.kid
    p = b64u(json.dumps(h).encode())
    bad = {"protected": p, "payload": bad["payload"],
           "signature": b64u(new.sign(f"{p}.{bad['payload']}".encode()))}
    refuse(bad, 400, "malformed", "inner JWS with kid and no jwk: malformed")
    refuse(inner(new, url, old.kid, old, hdr={"alg": "HS256"}), 400, "badSignatureAlgorithm",
           "inner alg HS256: badSignatureAlgorithm")
    refuse({"protected": "e30", "payload": "", "signature": "AA"}, 400, "malformed",
           "inner JWS with an empty header: malformed")
    r = c.signed(old, kc, inner(other, url, old.kid, old), kid=old.kid)
    c.problem(r, 409, "malformed", "a key another account holds: 409")
    tap.eq(other.kid, r.headers.get("Location"), "...with that account's Location")
    tap.eq(before, thumb(), "no refused key change changed the key")

    r = c.signed(old, kc, inner(new, url, old.kid, old), kid=old.kid)
    tap.eq((200, "valid"), (r.status_code, r.json().get("status")), "keyChange: 200")
    tap.ok(thumb() != before, "the account's key is the new one")
    # orchardd still caches the old key: it verifies, the stored key differs,
    # so the request is refused and its nonce left unused.
    n = c.nonce()
    r = c.signed(old, old.kid[len(fx.base):], None, kid=old.kid, nonce=n)
    c.problem(r, 400, "malformed", "the old key no longer signs for the account")
    r = c.signed(new, old.kid[len(fx.base):], None, kid=old.kid, nonce=n)
    tap.eq(200, r.status_code, "the new key does (with the refused request's nonce, unused)")
    r = c.signed(new, "/acme/new-account", {"onlyReturnExisting": True})
    tap.eq((200, old.kid), (r.status_code, r.headers.get("Location")),
           "newAccount with the new key finds the account")
    r = c.signed(old, "/acme/new-account", {"onlyReturnExisting": True})
    c.problem(r, 400, "accountDoesNotExist", "the old key names no account any more")


def ext_binding(tap, fx, c):
    s = c.fx.session(fx.token("acme:admin"))
    r = s.post(fx.base + "/acme/eab", json={}, timeout=10)
    tap.ok(r.status_code == 201 and r.json().get("kid") and r.json().get("hmacKey"),
           "POST /acme/eab (acme:admin): 201 with kid and hmacKey", r.text)
    kid, mac = r.json()["kid"], r.json()["hmacKey"]
    tap.eq(32, len(base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))), "a 256-bit key")
    r = c.fx.session(fx.token("twins:read")).post(fx.base + "/acme/eab", json={}, timeout=10)
    tap.eq(403, r.status_code, "without acme:admin: 403")
    tap.ok(mac not in open(fx.procs[0].log).read(), "the HMAC key is in no log line")

    url = c.url("/acme/new-account")
    k = Key("ES256")

    def acct(binding, key=k):
        return c.signed(key, "/acme/new-account", {"termsOfServiceAgreed": True,
                                                   "externalAccountBinding": binding})

    n = lambda: psql(fx, "SELECT count(*) FROM acme_accounts")
    before = n()
    r = acct(eab(kid, b64u(b"x" * 32), k.jwk(), url))
    c.problem(r, 403, "unauthorized", "EAB with the wrong HMAC key: unauthorized")
    r = acct(eab("nosuchkid", mac, k.jwk(), url))
    c.problem(r, 403, "unauthorized", "EAB with an unknown kid: unauthorized")
    r = acct(eab(kid, mac, Key("ES256").jwk(), url))
    c.problem(r, 400, "malformed", "EAB over another key than the account's: malformed")
    r = acct(eab(kid, mac, k.jwk(), c.url("/acme/new-order")))
    c.problem(r, 400, "malformed", "EAB with another url: malformed")
    r = acct(eab(kid, mac, k.jwk(), url, hdr={"alg": "ES256"}))
    c.problem(r, 400, "malformed", "EAB not HS256: malformed")
    r = acct(eab(kid, mac, k.jwk(), url, hdr={"nonce": "abc"}))
    c.problem(r, 400, "malformed", "EAB with a nonce: malformed")
    r = acct("not an object")
    c.problem(r, 400, "malformed", "EAB not an object: malformed")
    tap.eq(before, n(), "no refused binding made an account")
    r = acct(eab(kid, mac, k.jwk(), url))
    tap.eq(201, r.status_code, "EAB with the operator's key: 201")
    tap.eq(r.headers.get("Location", "").rsplit("/", 1)[-1],
           psql(fx, f"SELECT account_id FROM acme_eab_keys WHERE kid = '{kid}'"),
           "the key is bound to the account")
    k2 = Key("ES256")
    r = acct(eab(kid, mac, k2.jwk(), url), key=k2)
    c.problem(r, 403, "unauthorized", "the same EAB key for a second account: unauthorized")

    fx.start("--threads", "2", "--acme-eab-required", "1")
    d = c.s.get(c.url("/acme/directory"), timeout=10).json()
    tap.eq(True, d["meta"]["externalAccountRequired"], "meta.externalAccountRequired: true")
    k3 = Key("ES256")
    r = c.signed(k3, "/acme/new-account", {"termsOfServiceAgreed": True})
    c.problem(r, 401, "externalAccountRequired", "no EAB when required: externalAccountRequired")
    r = c.signed(k, "/acme/new-account", {"onlyReturnExisting": True})
    tap.eq(200, r.status_code, "an existing account is found without EAB")
    r = fx.session(fx.token("acme:admin")).post(fx.base + "/acme/eab", json={}, timeout=10)
    kid, mac = r.json()["kid"], r.json()["hmacKey"]
    r = c.signed(k3, "/acme/new-account", {"termsOfServiceAgreed": True,
                                           "externalAccountBinding": eab(kid, mac, k3.jwk(),
                                                                         c.url("/acme/new-account"))})
    tap.eq(201, r.status_code, "with a fresh EAB key: 201")


if __name__ == "__main__":
    sys.exit(main())
