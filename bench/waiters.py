#!/usr/bin/env python3
"""Waiting requests at scale, for bench/waits.sh: opens N TLS connections to
instance A, each a long poll on /ops/audit?after=ID&wait=60; measures A's
memory per waiter, then the wake latency from one write on instance B to
each answer from A (the whole herd), then one waiter at a time."""
import asyncio
import json
import resource
import ssl
import statistics
import sys
import time
import urllib.request


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def metric(url, ctx, name):
    with urllib.request.urlopen(url + "/metrics", context=ctx) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return 0.0


def write_on_b(url_b, ctx, token):
    """One audited write on instance B: a token creation."""
    body = json.dumps({"subject": "bench", "scope": "audit:read"}).encode()
    req = urllib.request.Request(url_b + "/ops/tokens", data=body, method="POST",
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx) as r:
        r.read()


def last_id(url, ctx, token):
    req = urllib.request.Request(url + "/ops/audit?limit=1",
                                 headers={"Authorization": "Bearer " + token})
    with urllib.request.urlopen(req, context=ctx) as r:
        items = json.loads(r.read())["items"]
    return items[0]["id"] if items else 0


async def read_response(reader):
    """One HTTP/1.1 response with a Content-Length: (status code, body)."""
    status = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    body = await reader.readexactly(length) if length else b""
    return (status.split()[1].decode() if status else "none"), body


async def poll(reader, writer, request, ready):
    """Sends request until the answer is not 204 (a long poll that timed out
    is sent again on the same connection); releases ready once the first is
    sent. Returns (status code, body)."""
    first = True
    while True:
        writer.write(request)
        await writer.drain()
        if first:
            ready.release()
            first = False
        code, body = await read_response(reader)
        if code != "204":
            return code, body


async def long_poll(host, port, ctx, token, after, ready, done_at, i):
    """One connection polling until it gets entries: a poll that times out
    (204) is sent again on the same connection, as a real watcher does, so
    connections opened first stay waiting while the last ones open."""
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    request = (f"GET /ops/audit?after={after}&wait=60 HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Bearer {token}\r\n\r\n").encode()
    code, _ = await poll(reader, writer, request, ready)
    done_at[i] = time.monotonic()
    writer.close()
    return code


async def herd(host, port, ctx, token, n, url_a, url_b, pid_a):
    after = last_id(url_a, ctx, token)
    base = rss_kib(pid_a)
    ready = asyncio.Semaphore(0)
    done_at = [0.0] * n
    tasks = []
    started = time.monotonic()
    for i in range(n):
        tasks.append(asyncio.create_task(long_poll(host, port, ctx, token, after, ready, done_at, i)))
        if i % 200 == 199:
            await asyncio.sleep(0.05)  # let handshakes finish in waves
    for _ in range(n):
        await ready.acquire()
    print(f"{n} long polls sent in {time.monotonic() - started:.1f} s", flush=True)
    deadline = time.monotonic() + 60
    while metric(url_a, ctx, "orchard_requests_waiting") < n and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    waiting = int(metric(url_a, ctx, "orchard_requests_waiting"))
    held = rss_kib(pid_a)
    t0 = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, write_on_b, url_b, ctx, token)
    statuses = await asyncio.gather(*tasks)
    lat = sorted((t - t0) * 1000 for t in done_at)
    ok = sum(1 for s in statuses if s == "200")
    return waiting, base, held, ok, lat, statuses


def one_at_a_time(host, port, ctx, token, url_a, url_b, rounds):
    lat = []
    for _ in range(rounds):
        after = last_id(url_a, ctx, token)
        done_at = [0.0]

        async def run():
            ready = asyncio.Semaphore(0)
            t = asyncio.create_task(long_poll(host, port, ctx, token, after, ready, done_at, 0))
            await ready.acquire()
            await asyncio.sleep(0.05)  # the request reaches orchardd and sleeps
            t0 = time.monotonic()
            await asyncio.get_running_loop().run_in_executor(None, write_on_b, url_b, ctx, token)
            await t
            return t0
        t0 = asyncio.run(run())
        lat.append((done_at[0] - t0) * 1000)
    return sorted(lat)


def pct(xs, p):
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main():
    url_a, url_b, pid_a, token, cafile, n = sys.argv[1:7]
    n, pid_a = int(n), int(pid_a)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1024), hard))
    ctx = ssl.create_default_context(cafile=cafile)
    host, port = url_a.split("//")[1].split(":")
    waiting, base, held, ok, lat, statuses = asyncio.run(
        herd(host, int(port), ctx, token, n, url_a, url_b, pid_a))
    print(f"waiters suspended: {waiting} of {n}; answered 200 after one write: {ok}")
    if ok < n:
        from collections import Counter
        print("statuses:", dict(Counter(statuses)))
    print(f"orchardd RSS: {base} KiB before, {held} KiB with the waiters: "
          f"{(held - base) * 1024 / max(waiting, 1):.0f} bytes per waiter (target < 20 KB)")
    print(f"herd wake latency, write on B -> answer from A: p50 {pct(lat, 50):.1f} ms, "
          f"p99 {pct(lat, 99):.1f} ms, last {lat[-1]:.1f} ms")
    single = one_at_a_time(host, int(port), ctx, token, url_a, url_b, 50)
    print(f"single waiter wake latency across instances (50 rounds): p50 "
          f"{statistics.median(single):.1f} ms, p99 {pct(single, 99):.1f} ms")


if __name__ == "__main__":
    main()
