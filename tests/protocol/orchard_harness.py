"""Protocol test harness for orchardd: TAP output, a private PostgreSQL and
orchardd (the same scripts/pg-cluster and orchardd flags as
tests/lib/orchardd.sh), a raw TLS client for framing tests, operator tokens,
and labelled multi-step flows.

Reuse a running orchardd instead of starting one by setting
ORCHARD_TEST_URL (https://host:port), ORCHARD_TEST_DATA_DIR (its --data-dir:
the dev root CA and the token key) and ORCHARD_DATABASE_URL.
"""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("ORCHARD_BUILD", "build")
ORCHARDD = os.path.join(ROOT, BUILD, "orchardd")
PG_CLUSTER = os.path.join(ROOT, "scripts", "pg-cluster")
PROBLEM = "https://orchard.dev/problems/"


class Tap:
    """TAP lines on stdout; diagnostics on stderr (tests/run shows them)."""

    def __init__(self):
        self.n = 0
        self.failed = 0

    def ok(self, cond, name, diag=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {name}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {name}", flush=True)
            if diag:
                sys.stderr.write(f"# {name}: {str(diag)[:2000]}\n")
        return bool(cond)

    def eq(self, want, got, name):
        return self.ok(want == got, name, f"want {want!r} got {got!r}")

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 0 if self.failed == 0 else 1


class Response:
    """One HTTP/1.1 response parsed off the wire."""

    def __init__(self, status, reason, headers, body):
        self.status, self.reason, self.headers, self.body = status, reason, headers, body

    def header(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def json(self):
        import json

        return json.loads(self.body.decode("utf-8"))

    def problem_type(self):
        ctype = self.header("Content-Type") or ""
        if not ctype.startswith("application/problem+json"):
            return None
        t = self.json().get("type", "")
        return t[len(PROBLEM):] if t.startswith(PROBLEM) else t


def parse_responses(data):
    """Complete responses in data (Content-Length framed; no chunked replies:
    orchardd does not send them), and the bytes left over."""
    out = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return out, data
        head = data[:end].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.[01] (\d{3}) ?(.*)", head[0])
        if not m:
            return out, data
        headers = [tuple(x.strip() for x in h.split(":", 1)) for h in head[1:] if ":" in h]
        length = 0
        for k, v in headers:
            if k.lower() == "content-length":
                length = int(v)
        if len(data) < end + 4 + length:
            return out, data
        out.append(Response(int(m.group(1)), m.group(2), headers, data[end + 4:end + 4 + length]))
        data = data[end + 4 + length:]


class Conn:
    """A raw TLS connection: bytes out exactly as given, responses in."""

    def __init__(self, fixture, timeout=10):
        raw = socket.create_connection((fixture.host, fixture.port), timeout=timeout)
        self.sock = fixture.tls_context().wrap_socket(raw, server_hostname=fixture.host)
        self.buf = b""
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def read(self, want=1, within=5.0, until_close=False):
        """Reads until `want` responses are in (or, with until_close, until
        the server closes) or `within` seconds pass. Returns the responses."""
        deadline = time.monotonic() + within
        got = []
        while True:
            more, self.buf = parse_responses(self.buf)
            got += more
            if self.closed or (len(got) >= want and not until_close):
                return got
            left = deadline - time.monotonic()
            if left <= 0:
                return got
            self.sock.settimeout(left)
            try:
                b = self.sock.recv(65536)
            except (socket.timeout, TimeoutError):
                return got
            except (ssl.SSLError, OSError):
                b = b""
            if not b:
                self.closed = True
            self.buf += b

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Fixture:
    """A private PostgreSQL and orchardd instances on it, or a running one."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="orchard-proto.")
        os.chmod(self.tmp, 0o755)
        self.procs = []
        self.own_pg = False
        self.url = os.environ.get("ORCHARD_TEST_URL")
        if self.url:
            self.data_dir = os.environ["ORCHARD_TEST_DATA_DIR"]
            self.db_url = os.environ["ORCHARD_DATABASE_URL"]
        else:
            self.data_dir = os.path.join(self.tmp, "var")
            self.db_url = None
        self.host, self.port = None, None
        self._ctx = None
        self._tokens = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()

    def pg_start(self):
        if self.db_url:
            return
        db = os.path.join(self.tmp, "db")
        subprocess.run([PG_CLUSTER, "start", db, "--fast"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.own_pg = True
        self.db_url = subprocess.run([PG_CLUSTER, "url", db], check=True, capture_output=True,
                                     text=True).stdout.strip()

    def start(self, *flags, preexec_fn=None):
        """Starts an orchardd with flags (or adopts ORCHARD_TEST_URL when
        there are none) and makes it the one requests go to. Returns its
        process, or None for an adopted one. preexec_fn runs in the child
        (to lower a limit, say)."""
        if self.url and not flags and self.port is None:
            m = re.match(r"https://([^:/]+):(\d+)", self.url)
            self.host, self.port = m.group(1), int(m.group(2))
            return None
        self.pg_start()
        log = os.path.join(self.tmp, f"orchardd.{len(self.procs)}.log")
        env = dict(os.environ, ORCHARD_DATABASE_URL=self.db_url)
        env.pop("ORCHARD_TEST_URL", None)
        p = subprocess.Popen([ORCHARDD, "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
                              *flags], stdout=subprocess.DEVNULL, stderr=open(log, "w"), env=env,
                             preexec_fn=preexec_fn)
        p.log = log
        self.procs.append(p)
        for _ in range(300):
            m = re.search(r'"msg":"listening".*"port":"(\d+)"', open(log).read())
            if m:
                self.host, self.port = "127.0.0.1", int(m.group(1))
                return p
            if p.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("orchardd did not start: " + open(log).read()[-2000:])

    def stop(self, p):
        if p is None or p.poll() is not None:
            return p.returncode if p else 0
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()

    def log(self, p):
        return open(p.log, errors="replace").read() if p is not None else ""

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        if self.own_pg:
            subprocess.run([PG_CLUSTER, "stop", os.path.join(self.tmp, "db")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(self.tmp, ignore_errors=True)

    @property
    def base(self):
        return f"https://{self.host}:{self.port}"

    @property
    def ca(self):
        return os.path.join(self.data_dir, "pki", "root.pem")

    def tls_context(self):
        if self._ctx is None:
            self._ctx = ssl.create_default_context(cafile=self.ca)
        return self._ctx

    def conn(self, timeout=10):
        return Conn(self, timeout)

    def exchange(self, data, want=1, within=5.0, until_close=False):
        """Sends raw bytes on a new connection; returns (responses, closed)."""
        c = self.conn()
        try:
            c.send(data)
            got = c.read(want, within, until_close)
            return got, c.closed
        finally:
            c.close()

    def token(self, *scopes, ttl="1h"):
        """An operator token with those scopes (cached per scope set)."""
        key = (scopes, ttl)
        if key not in self._tokens:
            args = [ORCHARDD, "--data-dir", self.data_dir, "token", "issue", "--ttl", ttl]
            for s in scopes:
                args += ["--scope", s]
            env = dict(os.environ, ORCHARD_DATABASE_URL=self.db_url)
            self._tokens[key] = subprocess.run(args, check=True, capture_output=True, text=True,
                                               env=env).stdout.strip()
        return self._tokens[key]

    def session(self, token=None):
        """A requests.Session that trusts the dev root, with a token."""
        import requests

        s = requests.Session()
        # REQUESTS_CA_BUNDLE in the environment would beat s.verify.
        s.trust_env = False
        s.verify = self.ca
        if token:
            s.headers["Authorization"] = f"Bearer {token}"
        return s

    def metric(self, name_and_labels):
        """The value of one /metrics sample, or None."""
        text = self.session().get(self.base + "/metrics", timeout=10).text
        for line in text.splitlines():
            if line.startswith(name_and_labels + " "):
                return float(line.split()[-1])
        return None


class Flow:
    """A labelled command array (Taler's testing_api_cmd idea): each step is
    (label, fn) where fn(ctx) returns a (cond, diag) pair or raises; steps
    share ctx, so a later step reads what an earlier one stored under its
    label. A failed step fails the rest of the flow, each as its own TAP line.
    ACME (order -> challenge -> finalize) and DPS (register -> operation)
    flows are lists of such steps."""

    def __init__(self, tap, fixture, name):
        self.tap, self.fixture, self.name = tap, fixture, name
        self.ctx = {"fixture": fixture}

    def run(self, steps):
        broken = None
        for label, fn in steps:
            title = f"{self.name}: {label}"
            if broken:
                self.tap.ok(False, title, f"skipped: step '{broken}' failed")
                continue
            try:
                cond, diag = fn(self.ctx)
            except Exception:  # a step that raises is a failed step
                cond, diag = False, traceback.format_exc()
            if not self.tap.ok(cond, title, diag):
                broken = label
        return broken is None


def request_step(session, method, path, want, json=None, save=None, within=0):
    """A Flow step of one request that passes on status `want`. session and
    path may be functions of ctx (to use what an earlier step saved); with
    save, the JSON answer is stored as ctx[save]. within: seconds to keep
    retrying for `want` (for what settles asynchronously)."""

    def step(ctx):
        sess = session(ctx) if callable(session) else session
        url = ctx["fixture"].base + (path(ctx) if callable(path) else path)
        deadline = time.monotonic() + within
        while True:
            r = sess.request(method, url, json=json, timeout=20)
            if r.status_code == want or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        if save:
            ctx[save] = r.json()
        return r.status_code == want, f"{r.status_code} {r.text[:500]}"

    return step
