#!/usr/bin/env python3
"""The runnable shell blocks of a Markdown page, as one bash script on
stdout, for tests/integration/docs.sh.

A fenced ```sh (or ```bash) block is run, in page order, in one shell (so
TOKEN and other variables carry from block to block, as in a terminal),
unless it holds a placeholder (<deviceId>, {registrationId}) or the line
just before its fence is an HTML comment that says why not:

    <!-- not run: starts a device with swtpm -->

Files a page puts in /tmp/ go to TMPDIR/ instead, when given: a test's
own folder, not the machine's.

A curl whose trailing comment names an HTTP error status (`curl ...
# 412 when stale`, on the command's last line) must answer exactly that
status; any other curl must not answer
4xx or 5xx. https://127.0.0.1:8443 becomes the test's orchardd.

usage: doc_blocks.py PAGE.md PORT [TMPDIR]   (prints "# skip LINE why" lines too)
"""
import re
import sys

FENCE = re.compile(r"^```(sh|bash)\s*$")
END = re.compile(r"^```\s*$")
SKIP = re.compile(r"^<!--\s*not run:\s*(.*?)\s*-->\s*$")
PLACEHOLDER = re.compile(r"<[A-Za-z][\w.-]*>|(?<![$%])\{[A-Za-z]\w*\}")
STATUS = re.compile(r"#.*?\b([45]\d\d)\b")


def commands(lines):
    """Groups lines into logical commands (backslash continuations)."""
    cmd = []
    for line in lines:
        cmd.append(line)
        if not line.rstrip().endswith("\\"):
            yield cmd
            cmd = []
    if cmd:
        yield cmd


def expect_statuses(lines):
    """Puts DOCS_EXPECT=NNN before each curl of a command whose trailing
    comment names an error status."""
    out = []
    for cmd in commands(lines):
        code = None
        for line in cmd:
            if not line.lstrip().startswith("#") and " #" in line:
                m = STATUS.search("#" + line.split(" #", 1)[1])
                code = m.group(1) if m else code
        if code and re.search(r"\bcurl\b", "\n".join(cmd)):
            cmd = [re.sub(r"(?<![\w-])curl ", "DOCS_EXPECT=%s curl " % code, l) for l in cmd]
        elif code and cmd[0].lstrip().startswith('"$'):  # "${C[@]}" ...: curl in an array
            cmd = ["DOCS_EXPECT=%s " % code + cmd[0]] + cmd[1:]
        out.extend(cmd)
    return out


def main():
    page, port = sys.argv[1], sys.argv[2]
    tmp = sys.argv[3] if len(sys.argv) > 3 else None
    lines = open(page, encoding="utf-8").read().split("\n")
    i, prev = 0, ""
    while i < len(lines):
        if not FENCE.match(lines[i]):
            if lines[i].strip():
                prev = lines[i]
            i += 1
            continue
        start = i + 1
        j = start
        while j < len(lines) and not END.match(lines[j]):
            j += 1
        body = lines[start:j]
        skip = SKIP.match(prev)
        code = [l for l in body if not l.lstrip().startswith("#")]
        if skip:
            print("# skip %d %s" % (start, skip.group(1)))
        elif any(PLACEHOLDER.search(l) for l in code):
            print("# skip %d a placeholder" % start)
        else:
            print("__docs_block %d" % start)
            for l in expect_statuses(body):
                l = l.replace("127.0.0.1:8443", "127.0.0.1:" + port)
                l = l.replace("localhost:8443", "localhost:" + port)
                print(re.sub(r"(?<![\w.-])/tmp/", tmp + "/", l) if tmp else l)
        prev = ""
        i = j + 1


main()
