#!/usr/bin/env python3
"""Devices waiting on their twins, for bench/twins.sh (the approach of
bench/waiters.py): N TLS connections to instance A, each a device's long
poll GET /devices/{id}/twin/desired?since=V&wait=60 under its own IoT Hub
SAS (a group-derived key); A's memory per waiting device; then, one device
at a time, a desired PATCH on instance B and the time until that device's
answer from A (change -> device latency, p50/p99).
With BENCH_TWIN_READ_FIRST=1 each device first reads its twin on the same
connection (GET /devices/{id}/twin), as the agent does before it waits: the
long poll is then the connection's second request.
Usage: twin_waiters.py URL_A URL_B PID_A TOKEN CAFILE GROUP_KEY N[,N...] SAMPLE"""
import asyncio
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import resource
import ssl
import sys
import time
import urllib.parse
import urllib.request

from waiters import metric, poll, read_response, rss_kib  # bench/waiters.py, beside this file


def device_sas(group_key, device_id, ttl=3600):
    key = hmac.new(base64.b64decode(group_key), device_id.encode(), hashlib.sha256).digest()
    sr = f"devices/{device_id}"
    se = str(int(time.time()) + ttl)
    sig = base64.b64encode(hmac.new(key, f"{sr}\n{se}".encode(), hashlib.sha256).digest())
    return f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig.decode(), safe='')}&se={se}"


async def device(host, port, ctx, dev, auth, since, ready, woken, armed):
    """One device polling until desired moves past since; a 204 is polled
    again on the same connection. An answer before its PATCH (the twin was
    newer than since: bench/twins.sh PATCHes some before) is polled again
    from the version it brought, as a device would."""
    try:
        reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    except (OSError, asyncio.TimeoutError):  # counted as not suspended, not sampled
        woken[dev] = (time.monotonic(), "failed", b"")
        ready.release()
        return
    once = _Once(ready)
    try:
        if os.environ.get("BENCH_TWIN_READ_FIRST") == "1":
            writer.write((f"GET /devices/{dev}/twin HTTP/1.1\r\nHost: {host}\r\n"
                          f"Authorization: {auth}\r\n\r\n").encode())
            await writer.drain()
            await read_response(reader)
        while True:
            request = (f"GET /devices/{dev}/twin/desired?since={since}&wait=60 HTTP/1.1\r\n"
                       f"Host: {host}\r\nAuthorization: {auth}\r\n\r\n").encode()
            code, body = await poll(reader, writer, request, once)
            if code != "200" or dev in armed:
                break
            since = json.loads(body)["$version"]
            once = _Once(None)  # released once already
        woken[dev] = (time.monotonic(), code, body)
    except (OSError, asyncio.IncompleteReadError, ValueError):
        # Closed under it (an overloaded client misses orchardd's request
        # deadline): not suspended, not sampled, and its slot is released.
        woken[dev] = (time.monotonic(), "failed", b"")
        once.release()
    finally:
        writer.close()


class _Once:
    """The ready semaphore, released at most once by a device."""

    def __init__(self, sem):
        self.sem = sem

    def release(self):
        if self.sem is not None:
            self.sem.release()
            self.sem = None


class Patcher:
    """Desired PATCHes on instance B over one keep-alive connection."""

    def __init__(self, url, ctx, token):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx)
        self.headers = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}
        self.n = 0

    def warm(self):
        """A fresh connection (B closes idle ones while the waiters open),
        its handshake done before any latency is measured."""
        self.conn.close()
        self.conn.request("GET", "/twins/bench-0", headers=self.headers)
        self.conn.getresponse().read()

    def patch(self, dev):
        self.n += 1
        body = json.dumps({"properties": {"desired": {"bench": self.n}}})
        self.conn.request("PATCH", f"/twins/{dev}", body=body, headers=self.headers)
        r = self.conn.getresponse()
        r.read()
        return r.status


async def round_(host, port, ctx, url_a, pid_a, group_key, n, sample, versions, patcher):
    base = rss_kib(pid_a)
    ready = asyncio.Semaphore(0)
    woken, armed = {}, set()
    devs = [f"bench-{i}" for i in range(n)]
    started = time.monotonic()
    tasks = {}
    for i, d in enumerate(devs):
        tasks[d] = asyncio.create_task(
            device(host, port, ctx, d, device_sas(group_key, d), versions[d], ready, woken, armed))
        if i % 200 == 199:
            await asyncio.sleep(0.05)  # let handshakes finish in waves
    for _ in devs:
        await ready.acquire()
    # Memory is read once every device is suspended (the last handshakes
    # and SAS checks can trail the requests sent): wait for that while the
    # count still moves, and give up only after 30 s without progress.
    waiting, last, moved = 0, -1, time.monotonic()
    while waiting < n - sum(w[1] == "failed" for w in woken.values()) \
            and time.monotonic() - moved < 30:
        await asyncio.sleep(0.2)
        waiting = int(metric(url_a, ctx, "orchard_requests_waiting"))
        if waiting != last:
            last, moved = waiting, time.monotonic()
    held = rss_kib(pid_a)
    opened = time.monotonic() - started
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, patcher.warm)
    lat, bad = [], 0
    for d in random.sample([d for d in devs if d not in woken], min(sample, n - len(woken))):
        armed.add(d)
        t0 = time.monotonic()
        status = await loop.run_in_executor(None, patcher.patch, d)
        await tasks[d]
        t1, code, body = woken[d]
        if status != 200 or code != "200":
            bad += 1
            continue
        versions[d] = json.loads(body)["$version"]
        lat.append((t1 - t0) * 1000)
    for t in tasks.values():
        t.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    lat.sort()
    return waiting, opened, (held - base) * 1024 / n, lat, bad


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


def main():
    url_a, url_b, pid_a, token, cafile, group_key, ns, sample = sys.argv[1:9]
    pid_a, sample = int(pid_a), int(sample)
    ns = [int(x) for x in ns.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(ns) + 1024), hard))
    ctx = ssl.create_default_context(cafile=cafile)
    host, port = url_a.split("//")[1].split(":")
    versions = {f"bench-{i}": 1 for i in range(max(ns))}
    patcher = Patcher(url_b, ctx, token)
    for n in ns:
        waiting, opened, per, lat, bad = asyncio.run(
            round_(host, int(port), ctx, url_a, pid_a, group_key, n, sample, versions, patcher))
        # one line per round, parsed by bench/twins.sh
        print(f"waiters={n} suspended={waiting} open_s={opened:.1f} bytes_per_waiter={per:.0f}"
              f" p50_ms={pct(lat, 50):.1f} p99_ms={pct(lat, 99):.1f} samples={len(lat)} bad={bad}",
              flush=True)


if __name__ == "__main__":
    main()
