#!/usr/bin/env python3
# Splits a DPS authenticationKey blob (argv[1]) into the files tpm2-tools
# reads, in directory argv[2]: cred.out (tpm2_activatecredential -i),
# dup.priv and seed.dat (tpm2_import -i / -s), key.pub (tpm2_import -u).
import struct
import sys

b = open(sys.argv[1], "rb").read()
off = 0
parts = []
for _ in range(6):
    (n,) = struct.unpack_from(">H", b, off)
    parts.append(b[off:off + 2 + n])
    off += 2 + n
assert off == len(b), "trailing bytes"
assert parts[5] == b"\0\0", "last TPM2B must be empty"
d = sys.argv[2]
open(d + "/cred.out", "wb").write(struct.pack(">II", 0xBADCC0DE, 1) + parts[0] + parts[1])
open(d + "/dup.priv", "wb").write(parts[2])
open(d + "/seed.dat", "wb").write(parts[3])
open(d + "/key.pub", "wb").write(parts[4])
