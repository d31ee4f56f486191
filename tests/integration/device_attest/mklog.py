#!/usr/bin/env python3
# Writes a TCG PC Client crypto-agile event log (SHA-256 bank only) for the
# quote gate's tests, and prints "PCR DIGEST" per event so the test extends
# the TPM's PCRs with the same measurements (tpm2_pcrextend).
#   mklog.py OUT [--lie N] EVENT...
#   EVENT: "PCR:ipl:TEXT" (EV_IPL, data TEXT) or "7:sb:0|1" (the SecureBoot
#   EV_EFI_VARIABLE_DRIVER_CONFIG event, UEFI_VARIABLE_DATA as firmware
#   writes it), or "7:sblie:0|1": the data says the opposite of what the
#   digest (and so the PCR) measured, or "PCR:blob:SIZE": an EV_IPL event of
#   SIZE bytes (a log the size of a real boot's). --lie N: event N (1-based) carries a digest that is not what
#   was extended, so the log no longer replays to the PCRs.
import hashlib
import struct
import sys

EV_NO_ACTION, EV_IPL, EV_EFI_VARIABLE_DRIVER_CONFIG = 3, 0x0D, 0x80000001
# EFI_GLOBAL_VARIABLE {8BE4DF61-93CA-11D2-AA0D-00E098032B8C}, EFI_GUID layout
EFI_GLOBAL = struct.pack("<IHH", 0x8BE4DF61, 0x93CA, 0x11D2) + bytes.fromhex("aa0d00e098032b8c")


def spec_id():
    body = b"Spec ID Event03\0" + struct.pack("<IBBBB", 0, 0, 2, 0, 2)
    body += struct.pack("<IHH", 1, 0x000B, 32) + b"\0"
    return struct.pack("<II", 0, EV_NO_ACTION) + b"\0" * 20 + struct.pack("<I", len(body)) + body


def sb_data(value):
    name = "SecureBoot".encode("utf-16-le")
    return EFI_GLOBAL + struct.pack("<QQ", 10, 1) + name + bytes([value])


def event2(pcr, typ, digest, data):
    return struct.pack("<IIIH", pcr, typ, 1, 0x000B) + digest + struct.pack("<I", len(data)) + data


args = sys.argv[2:]
lie = 0
if args[:1] == ["--lie"]:
    lie, args = int(args[1]), args[2:]
log = spec_id()
for i, ev in enumerate(args, 1):
    pcr, kind, text = ev.split(":", 2)
    if kind in ("sb", "sblie"):
        data, typ = sb_data(int(text)), EV_EFI_VARIABLE_DRIVER_CONFIG
        digest = hashlib.sha256(sb_data(int(text) ^ (kind == "sblie"))).digest()
    else:
        data, typ = (b"x" * int(text) if kind == "blob" else text.encode()), EV_IPL
        digest = hashlib.sha256(data).digest()
    print(pcr, digest.hex())
    log += event2(int(pcr), typ, hashlib.sha256(b"lie").digest() if i == lie else digest, data)
open(sys.argv[1], "wb").write(log)
