#!/usr/bin/env python3
# Writes a TCG PC Client crypto-agile event log (SHA-256 and SHA-384 banks)
# to argv[1] and prints the tpm2_pcrextend arguments that reproduce it.
# argv[2] "tamper" writes a log whose last digest differs from what is printed.
import hashlib
import struct
import sys

ALGS = [(0x000B, hashlib.sha256, 32), (0x000C, hashlib.sha384, 48)]
EV_NO_ACTION, EV_IPL, EV_EVENT_TAG = 3, 0x0D, 6


def spec_id():
    body = b"Spec ID Event03\0" + struct.pack("<IBBBB", 0, 0, 2, 0, 2)
    body += struct.pack("<I", len(ALGS)) + b"".join(struct.pack("<HH", a, s) for a, _, s in ALGS)
    body += b"\0"  # vendorInfoSize
    return struct.pack("<II", 0, EV_NO_ACTION) + b"\0" * 20 + struct.pack("<I", len(body)) + body


def event2(pcr, typ, digests, data):
    out = struct.pack("<III", pcr, typ, len(digests))
    out += b"".join(struct.pack("<H", a) + d for a, d in digests)
    return out + struct.pack("<I", len(data)) + data


log = spec_id()
log += event2(0, EV_NO_ACTION, [(a, b"\0" * s) for a, _, s in ALGS], b"StartupLocality\0\0")
extends = []
events = [(8, EV_IPL, b"linux /vmlinuz root=/dev/sda1"), (9, EV_IPL, b"initrd /initrd.img"),
          (9, EV_EVENT_TAG, b"orchard app manifest v1")]
for i, (pcr, typ, data) in enumerate(events):
    digs = [(a, h(data).digest()) for a, h, _ in ALGS]
    extends.append("%d:%s" % (pcr, ",".join("%s=%s" % (h().name, d.hex()) for (a, d), (_, h, _) in zip(digs, ALGS))))
    if len(sys.argv) > 2 and sys.argv[2] == "tamper" and i == len(events) - 1:
        digs = [(a, h(data + b"!").digest()) for a, h, _ in ALGS]
    log += event2(pcr, typ, digs, data)
open(sys.argv[1], "wb").write(log)
print(" ".join(extends))
