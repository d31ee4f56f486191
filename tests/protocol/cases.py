#!/usr/bin/python3
"""Data-driven HTTP cases (curl's tests/data idea): every tests/cases/*.case
is raw request bytes and the answer expected, sent over TLS to one orchardd.
Format: tests/cases/README.md. Runs alone: tests/protocol/cases.py [FILE...]
"""

import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from orchard_harness import ROOT, Fixture, Tap  # noqa: E402

SECTION = re.compile(r"^<(\w+)([^>]*)>\n(.*?)^</\1>\n", re.S | re.M)


def unescape(text):
    """Backslash escapes in a request line: \\r \\n \\t \\0 \\xHH \\\\."""
    out = bytearray()
    i = 0
    raw = text.encode("utf-8")
    while i < len(raw):
        c = raw[i:i + 1]
        if c != b"\\" or i + 1 == len(raw):
            out += c
            i += 1
            continue
        n = raw[i + 1:i + 2]
        if n == b"x":
            out.append(int(raw[i + 2:i + 4], 16))
            i += 4
            continue
        out += {b"r": b"\r", b"n": b"\n", b"t": b"\t", b"0": b"\0", b"\\": b"\\"}.get(n, b"\\" + n)
        i += 2
    return bytes(out)


def substitute(line, fx):
    """%TOKEN:scope[,scope]% and %REPEAT:text:count% in a request line."""
    line = re.sub(r"%TOKEN:([^%]+)%", lambda m: fx.token(*m.group(1).split(",")), line)
    return re.sub(r"%REPEAT:(.*?):(\d+)%", lambda m: m.group(1) * int(m.group(2)), line)


def load(path):
    text = open(path, encoding="utf-8").read()
    case = {"file": os.path.basename(path)}
    for tag, attrs, body in SECTION.findall(text):
        case[tag] = body
        case[tag + "_attrs"] = attrs
    return case


def build_request(case, fx):
    eol = b"\n" if "eol=\"lf\"" in case.get("request_attrs", "") else b"\r\n"
    lines = case["request"].split("\n")[:-1]
    data = eol.join(unescape(substitute(line, fx)) for line in lines)
    if "nonewline" not in case.get("request_attrs", ""):
        data += eol
    return data


def expectations(case):
    exp = {"header": [], "no-header": []}
    for line in case.get("expect", "").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("header", "no-header"):
            exp[key].append(value)
        else:
            exp[key] = value
    return exp


def check(case, fx, tap):
    name = case["file"] + ": " + case.get("info", "").strip().splitlines()[0]
    exp = expectations(case)
    within = float(exp.get("within", 5))
    want_close = exp.get("close") == "yes"
    status = exp.get("status", "")
    nresp = int(exp.get("responses", 1))
    data = build_request(case, fx)
    c = fx.conn()
    try:
        c.send(data)
        got = c.read(nresp, within, until_close=want_close or status == "none")
        problems = []
        if status == "none":
            if got:
                problems.append(f"want no answer, got {got[0].status}")
        elif len(got) < nresp:
            problems.append(f"want {nresp} responses within {within}s, got {len(got)}"
                            + (" (connection closed)" if c.closed else ""))
        else:
            r = got[0]
            codes = " ".join(str(x.status) for x in got)
            if status and codes != status and str(r.status) != status:
                problems.append(f"want status {status}, got {codes}")
            if "responses" in exp and len(got) != nresp:
                problems.append(f"want {nresp} responses, got {len(got)}")
            if "type" in exp and r.problem_type() != exp["type"]:
                problems.append(f"want problem {exp['type']}, got {r.problem_type()}: {r.body[:300]!r}")
            if "detail" in exp and exp["detail"] not in r.json().get("detail", ""):
                problems.append(f"want detail with {exp['detail']!r}: {r.body[:300]!r}")
            heads = [f"{k}: {v}" for k, v in r.headers]
            for rx in exp["header"]:
                if not any(re.fullmatch(rx, h, re.I) for h in heads):
                    problems.append(f"no header matches {rx!r}: {heads}")
            for rx in exp["no-header"]:
                if any(re.fullmatch(rx, h, re.I) for h in heads):
                    problems.append(f"a header matches {rx!r}: {heads}")
        if want_close and not c.closed:
            problems.append("the connection stayed open")
        if exp.get("close") == "no" and not problems:
            c.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            more = c.read(1, 5)
            if not more or more[0].status != 200:
                problems.append("the connection did not serve a next request")
        tap.ok(not problems, name, "; ".join(problems))
    finally:
        c.close()


def main(argv):
    files = argv[1:] or sorted(glob.glob(os.path.join(ROOT, "tests", "cases", "*.case")))
    tap = Tap()
    with Fixture() as fx:
        try:
            fx.start("--threads", "2")
        except Exception as e:
            tap.ok(False, "orchardd starts", e)
            return tap.done()
        for f in files:
            try:
                check(load(f), fx, tap)
            except Exception as e:
                tap.ok(False, os.path.basename(f), repr(e))
    return tap.done()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
