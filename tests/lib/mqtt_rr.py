#!/usr/bin/env python3
"""A minimal MQTT 3.1.1 device over TLS, for tests without npm: connects
(with a client certificate when given), subscribes to IoT Hub's twin
responses, publishes one request and prints the first message it gets as
"TOPIC BODY". mosquitto_rr cannot: it subscribes to its exact response
topic, which the Orchard plugin refuses (devices get IoT Hub's filters only).

usage: mqtt_rr.py HOST PORT CAFILE CERT|- KEY|- CLIENTID USERNAME TOPIC|- [BODY]
TOPIC -: publish nothing, print the first message that comes. The session
is persistent (clean session false, as the SDKs') unless MQTT_RR_CLEAN is
set; MQTT_RR_PASSWORD is the CONNECT's password (a device SAS);
MQTT_RR_SUBSCRIBE names
the filter subscribed to (default $iothub/twin/res/#; empty: none, a
persistent session's own), MQTT_RR_WAIT the seconds to wait (default 5).
exit: 0 answered, 5 CONNACK refused (prints its code), 3 TLS or connection
error (the handshake refused), 4 no answer in time."""
import os
import socket
import ssl
import struct
import sys


def packet(kind, body):
    n, length = len(body), b""
    while True:
        b = n % 128
        n //= 128
        length += bytes([b | (0x80 if n else 0)])
        if not n:
            return bytes([kind]) + length + body


def s16(s):
    s = s.encode()
    return struct.pack(">H", len(s)) + s


def read_packet(sock):
    def take(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed")
            buf += chunk
        return buf

    kind = take(1)[0]
    n, mult = 0, 1
    while True:
        b = take(1)[0]
        n += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return kind, take(n)


def main():
    host, port, cafile, cert, key, cid, user, topic = sys.argv[1:9]
    body = sys.argv[9].encode() if len(sys.argv) > 9 else b" "
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    if cert != "-":
        ctx.load_cert_chain(cert, key)
    try:
        sock = ctx.wrap_socket(socket.create_connection((host, int(port)), timeout=float(os.environ.get("MQTT_RR_WAIT", "5"))))
        password = os.environ.get("MQTT_RR_PASSWORD", "")
        flags = 0x80 | (0x40 if password else 0) | (0x02 if os.environ.get("MQTT_RR_CLEAN") else 0)
        sock.sendall(packet(0x10, s16("MQTT") + bytes([4, flags]) + struct.pack(">H", 60) + s16(cid) + s16(user) + (s16(password) if password else b"")))
        kind, data = read_packet(sock)
    except (OSError, ssl.SSLError, ConnectionError) as e:
        print("error", e)
        return 3
    if kind != 0x20 or data[1] != 0:
        print("CONNACK", data[1] if len(data) > 1 else "?")
        return 5
    try:
        sub = os.environ.get("MQTT_RR_SUBSCRIBE", "$iothub/twin/res/#")
        if sub:
            sock.sendall(packet(0x82, struct.pack(">H", 1) + s16(sub) + b"\x00"))
            read_packet(sock)  # SUBACK
        if topic != "-":
            sock.sendall(packet(0x30, s16(topic) + body))
        while True:
            kind, data = read_packet(sock)
            if kind >> 4 == 3:
                n = struct.unpack(">H", data[:2])[0]
                qos = (kind >> 1) & 3
                if qos:  # acknowledged, as an SDK does: else the session redelivers it
                    sock.sendall(packet(0x40, data[2 + n : 4 + n]))
                # the body as its bytes (a cloud-to-device message may be binary)
                sys.stdout.buffer.write(data[2 : 2 + n] + b" " + data[2 + n + (2 if qos else 0) :] + b"\n")
                return 0
    except socket.timeout:
        print("timeout")
        return 4
    except (OSError, ConnectionError) as e:
        print("error", e)
        return 3


sys.exit(main())
