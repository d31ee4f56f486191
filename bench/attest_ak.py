#!/usr/bin/env python3
"""AK certificates per second through the HTTP API, end to end, with a
software TPM so the TPM's slowness is not measured: an RSA-2048 EK and a
P-256 AK held in Python, TPM2_ActivateCredential done in software (OAEP
seed, KDFa, HMAC check, AES-128-CFB). Usage: attest_ak.py URL CAFILE
EK.pem SECONDS THREADS; the EK's TPM2B_PUBLIC must be enrolled (print it
with attest_ak.py --ek-public EK.pem). Prints "rounds/s challenge_ms
activate_ms" (each round: challenge, software activation, activate)."""
import base64
import hashlib
import hmac
import struct
import sys
import threading
import time
import warnings

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SHA256 = 0x000B
# Newer cryptography moved CFB to "decrepit"; Debian's 38 has it here.
warnings.filterwarnings("ignore", message=".*CFB.*")


def tpm2b(b):
    return struct.pack(">H", len(b)) + b


def ek_public(key):
    """TPM2B_PUBLIC of an RSA-2048 EK as the TCG template makes it."""
    n = key.public_key().public_numbers().n.to_bytes(256, "big")
    t = struct.pack(">HHI", 0x0001, SHA256, 0x000300B2) + tpm2b(b"\x83" * 32)
    t += struct.pack(">HHHHHI", 0x0006, 128, 0x0043, 0x0010, 2048, 0) + tpm2b(n)
    return tpm2b(t)


def ak_new():
    """A P-256 restricted signing key: (TPM2B_PUBLIC, Name)."""
    k = ec.generate_private_key(ec.SECP256R1())
    nums = k.public_key().public_numbers()
    t = struct.pack(">HHI", 0x0023, SHA256, 0x00050072) + tpm2b(b"")
    t += struct.pack(">HHHHH", 0x0010, 0x0018, SHA256, 0x0003, 0x0010)
    t += tpm2b(nums.x.to_bytes(32, "big")) + tpm2b(nums.y.to_bytes(32, "big"))
    return tpm2b(t), struct.pack(">H", SHA256) + hashlib.sha256(t).digest()


def kdfa(key, label, u, v, bits):
    out, i = b"", 1
    while len(out) * 8 < bits:
        out += hmac.new(key, struct.pack(">I", i) + label + b"\0" + u + v + struct.pack(">I", bits),
                        hashlib.sha256).digest()
        i += 1
    return out[: bits // 8]


def activate(ek, name, blob, encsec):
    """Software TPM2_ActivateCredential: the secret, or an exception."""
    seed = ek.decrypt(encsec[2:], padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(),
                                               b"IDENTITY\0"))
    (hlen,) = struct.unpack(">H", blob[2:4])
    integrity, enc = blob[4:4 + hlen], blob[4 + hlen:]
    hkey = kdfa(seed, b"INTEGRITY", b"", b"", 256)
    if not hmac.compare_digest(hmac.new(hkey, enc + name, hashlib.sha256).digest(), integrity):
        raise ValueError("integrity")
    skey = kdfa(seed, b"STORAGE", name, b"", 128)
    d = Cipher(algorithms.AES(skey), modes.CFB(b"\0" * 16)).decryptor()
    cred = d.update(enc) + d.finalize()
    (slen,) = struct.unpack(">H", cred[:2])
    return cred[2:2 + slen]


def main(argv):
    if argv[1] == "--ek-public":
        with open(argv[2], "rb") as f:
            key = serialization.load_pem_private_key(f.read(), None)
        print(base64.b64encode(ek_public(key)).decode())
        return 0
    url, cafile, ekfile, secs, nthreads = argv[1], argv[2], argv[3], float(argv[4]), int(argv[5])
    with open(ekfile, "rb") as f:
        ek = serialization.load_pem_private_key(f.read(), None)
    ek_b64 = base64.b64encode(ek_public(ek)).decode()
    aks = [ak_new() for _ in range(64)]
    done, errors, tch, tac = [0], [], [0.0], [0.0]
    lock = threading.Lock()
    stop = time.monotonic() + secs

    def worker(w):
        try:
            rounds(w)
        except Exception as e:  # pylint: disable=broad-except
            errors.append(repr(e))

    def rounds(w):
        s = requests.Session()
        i = w
        while time.monotonic() < stop:
            pub, name = aks[i % len(aks)]
            i += nthreads
            t0 = time.monotonic()
            r = s.post(url + "/attestation/ak/challenge",
                       json={"endorsementKey": ek_b64,
                             "attestationKey": base64.b64encode(pub).decode()}, verify=cafile)
            t1 = time.monotonic()
            if r.status_code != 201:
                errors.append(r.text)
                return
            c = r.json()
            secret = activate(ek, name, base64.b64decode(c["credentialBlob"]),
                              base64.b64decode(c["encryptedSecret"]))
            t2 = time.monotonic()
            r = s.post(url + "/attestation/ak/%s/activate" % c["id"],
                       json={"secret": base64.b64encode(secret).decode()}, verify=cafile)
            if r.status_code != 200 or len(r.json()["certificateChain"]) != 3:
                errors.append(r.text)
                return
            with lock:
                done[0] += 1
                tch[0] += t1 - t0
                tac[0] += time.monotonic() - t2

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(w,)) for w in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        print("error: %s" % errors[0][:300], file=sys.stderr)
        return 1
    n = max(done[0], 1)
    print("%.0f %.1f %.1f" % (done[0] / (time.monotonic() - t0), 1000 * tch[0] / n,
                              1000 * tac[0] / n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
