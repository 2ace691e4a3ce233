#!/usr/bin/python3
"""http1_diff.py: the differential check of zproxy's HTTP/1.1 request
parser against http1_ref.py, an independent one.

    python3 tests/differential/http1_diff.py DRIVER [--verbose] [--dump DIR]

DRIVER is objs/tests/differential/zp_parse_dump. The corpus:

  - every desync-guardian case (tests/testdata/http1/desync-guardian), built
    as tests/unit/http/test_http_parse.c builds them ("name:value" lines, a
    5-byte chunked body when the only coding is chunked), once as is and
    once with a body of the length a valid Content-Length announces;
  - the seed corpus of fuzz_http_parse (tests/fuzz/corpus/http_parse, the
    mode byte dropped);
  - variants generated here from a few valid requests: every byte of the
    head replaced by, or preceded by, each of a set of bytes that matter to
    HTTP/1 (CTLs, SP, HT, CR, LF, DEL, ':', '#', '%', ...), the line endings
    as LF, and the requests cut at every length.

Both parsers see the same bytes; they must agree on the outcome (ok,
reject, incomplete) and, when both accept, on method, target, version,
every header (name and trimmed value), the body and where the message
ends. A disagreement is allowed only when it is one of the documented
ones of docs/http1.md ("Differences from the reference"), recognised from
the reference's notes and rejection reasons (the DOCUMENTED table below).
A "lenient" id is a reading the grammar refuses that zproxy takes on
purpose and the reference takes the same way (with that note): such a
message must be accepted by both and agree in full, and is counted under
its id. The exit status is 1 when any other disagreement is found.
"""

import glob
import os
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import http1_ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

# id -> (kind, text); kind "strict": zproxy rejects what the grammar
# allows; "lax": zproxy accepts what the grammar refuses; "lenient": the
# same, and the reference reads it as zproxy does (both accept, compared in
# full). The ids are the reference's notes and rejection reasons, and the
# rows of docs/http1.md.
DOCUMENTED = {
    "scheme": ("strict", "absolute-form with a scheme other than http/https"),
    "host-chars": ("strict", "sub-delims or %XX in the host of a target"),
    "host-ipvfuture": ("strict", "an IPvFuture literal as host"),
    "port-empty": ("strict", "an empty port (\"host:\")"),
    "port-range": ("strict", "a port above 65535 or of more than 5 digits"),
    "pct-nul": ("strict", "%00 in the path"),
    "dotdot-root": ("strict", "\"..\" above the root of the path"),
    "chunk-digits": ("strict", "a chunk-size of more than 16 hex digits or above 2^63-1"),
    "chunk-ext-limit": ("strict", "chunk extensions over 4096 bytes"),
    "trailer-limit": ("strict", "a trailer section over 8192 bytes"),
    "target-lax-bytes": ("lax", "VCHAR outside RFC 3986 and obs-text in a target"),
    "fragment-in-query": ("lax", "'#' in the query"),
    "pct-invalid-query": ("lax", "a '%' not followed by two hex digits in the query"),
    "ipv6-invalid": ("lax", "an IP literal of hex digits, ':' and '.' that is no IPv6 address"),
    "te-empty-field": ("strict", "a Transfer-Encoding line of no coding"),
    "request-line-spaces": ("lenient", "runs of SP in the request line, SP after the version"),
    "space-in-target": ("lenient", "a SP in an origin-form target"),
    "empty-target": ("lenient", "no request-target (\"GET HTTP/1.1\")"),
    "http09": ("lenient", "an HTTP/0.9 request line (GET)"),
    "field-name-dropped": ("lenient", "a field name with a byte outside tchar, dropped"),
    "field-value-ctl": ("lenient", "a CTL in a field value, kept"),
    "te-param": ("lenient", "a transfer-coding parameter without value, or empty"),
}

INTERESTING = [b"\x00", b"\x01", b"\t", b" ", b"\r", b"\n", b"\x0b", b"\x7f", b"\x80", b"\xff",
               b":", b"#", b"%", b"\"", b";", b"/", b"?", b"@", b"_", b"0", b"a"]

BASES = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\n\r\n",
    b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;e=v\r\nhello\r\n0\r\nT: x\r\n\r\n",
    b"GET http://a.example:8080/p?q HTTP/1.1\r\nHost: b\r\n\r\n",
    b"GET http://[::1]/ HTTP/1.1\r\nHost: b\r\n\r\n",
    b"CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /%41/./b/../c HTTP/1.0\r\n\r\n",
    b"PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
    b"\r\nGET / HTTP/1.1\r\nHost: a\r\nX: \x80\xff v \t\r\n\r\n",
    b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip;q=\"a,b\" , x\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"GET  /a b?c d  HTTP/1.1 \r\nHost: a\r\nX y: 1\r\nZ: \x01\r\n\r\n",
    b"GET /x?y\r\n",
]


def desync_cases():
    import yaml
    out = []
    d = os.path.join(ROOT, "tests", "testdata", "http1", "desync-guardian")
    files = sorted(glob.glob(os.path.join(d, "*.yaml")))
    if not files:
        raise SystemExit("http1_diff: no desync-guardian cases in " + d)
    for f in files:
        with open(f, "rb") as fh:
            cases = yaml.safe_load(fh)
        for c in cases:
            def b(v):
                return str(v).encode("utf-8", "surrogateescape")
            raw = b(c["method"]) + b" " + b(c["uri"])
            if str(c.get("version", "")) != "":
                raw += b" " + b(c["version"])
            raw += b"\r\n"
            chunked = False
            te = [h for h in (c.get("headers") or [])
                  if str(h["name"]).lower() == "transfer-encoding"]
            cl = None
            for h in c.get("headers") or []:
                raw += b(h["name"]) + b":" + b(h["value"]) + b"\r\n"
                if str(h["name"]) == "Content-Length" and str(h["value"]).isdigit():
                    cl = int(str(h["value"]))
            # the last coding of the last line, without its parameters
            if te and str(te[-1]["value"]).split(",")[-1].split(";")[0].strip(" \t").lower() \
                    == "chunked":
                chunked = True
            raw += b"\r\n"
            name = "desync:%s:%s" % (os.path.basename(f), c["name"])
            if chunked:
                out.append((name, raw + b"5\r\nhello\r\n0\r\n\r\n"))
            else:
                out.append((name, raw))
                if cl is not None and 0 < cl <= 100000:
                    out.append((name + " (with body)", raw + b"x" * cl))
    return out


def fuzz_seeds():
    out = []
    for f in sorted(glob.glob(os.path.join(ROOT, "tests", "fuzz", "corpus", "http_parse", "*"))):
        with open(f, "rb") as fh:
            data = fh.read()
        if len(data) > 1:
            out.append(("seed:" + os.path.basename(f), data[1:]))
    return out


def variants():
    out = []
    for bi, base in enumerate(BASES):
        head_end = base.find(b"\r\n\r\n") + 4
        out.append(("base%d" % bi, base))
        out.append(("base%d:lf" % bi, base[:head_end].replace(b"\r\n", b"\n") + base[head_end:]))
        for cut in range(len(base)):
            out.append(("base%d:cut%d" % (bi, cut), base[:cut]))
        for i in range(len(base)):
            for x in INTERESTING:
                out.append(("base%d:rep%d:%02x" % (bi, i, x[0]), base[:i] + x + base[i + 1:]))
                out.append(("base%d:ins%d:%02x" % (bi, i, x[0]), base[:i] + x + base[i:]))
    return out


def run_driver(driver, inputs):
    payload = b"".join(struct.pack("<I", len(d)) + d for (_, d) in inputs)
    p = subprocess.run([driver], input=payload, stdout=subprocess.PIPE, timeout=300)
    if p.returncode != 0:
        raise SystemExit("http1_diff: %s exited with %d" % (driver, p.returncode))
    import json
    lines = p.stdout.decode("ascii").splitlines()
    if len(lines) != len(inputs):
        raise SystemExit("http1_diff: %d inputs, %d results" % (len(inputs), len(lines)))
    res = []
    for ln in lines:
        z = json.loads(ln)
        if z["r"] == "ok":
            for k in ("method", "target", "body"):
                z[k] = bytes.fromhex(z[k])
            z["headers"] = [(bytes.fromhex(n), bytes.fromhex(v)) for (n, v) in z["headers"]]
        res.append(z)
    return res


def esc(b, n=160):
    s = "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else "\\x%02x" % c for c in b[:n])
    return s + ("..." if len(b) > n else "")


def compare(data, z, r):
    """Returns (verdict, detail): verdict "agree-ok|reject|incomplete", a DOCUMENTED id, or
    "DISAGREE"."""
    strict = [n for n in sorted(r["notes"]) if DOCUMENTED.get(n, ("",))[0] == "strict"]
    lenient = [n for n in sorted(r["notes"]) if DOCUMENTED.get(n, ("",))[0] == "lenient"]

    if z["r"] == "ok" and r["r"] == "ok":
        if strict:
            return "DISAGREE", "zproxy accepts what it documents to refuse: %s" % strict
        for k in ("method", "target", "major", "minor", "headers", "body", "end"):
            if z[k] != r[k]:
                return "DISAGREE", "%s: zproxy %r, reference %r" % (k, z[k], r[k])
        if lenient:
            return lenient[0], ""
        return "agree-ok", ""

    if z["r"] == r["r"]:
        return "agree-" + z["r"], ""

    if z["r"] == "reject" and r["r"] == "ok":
        if strict:
            return strict[0], ""
        return "DISAGREE", "zproxy rejects (%s at %d), the reference accepts" % (z["at"], z["pos"])

    if z["r"] == "ok" and r["r"] == "reject":
        why = r["why"]
        if DOCUMENTED.get(why, ("",))[0] == "lax":
            return why, ""
        return "DISAGREE", "zproxy accepts, the reference rejects (%s)" % why

    if z["r"] == "reject" and r["r"] == "incomplete":
        # zproxy saw a byte that no completion can make valid; the
        # reference reads whole lines: close the line and the head for it
        r2 = http1_ref.parse(data + b"\r\n\r\n")
        if r2["r"] == "reject":
            return "agree-reject", ""
        s2 = [n for n in sorted(r2["notes"]) if DOCUMENTED.get(n, ("",))[0] == "strict"]
        if s2:
            return s2[0], ""
        return "DISAGREE", "zproxy rejects (%s at %d) an unfinished message the reference " \
                           "would accept when completed (%s)" % (z["at"], z["pos"], r2["r"])

    return "DISAGREE", "zproxy %s, the reference %s%s" % (
        z["r"], r["r"], " (%s)" % r.get("why") if r["r"] == "reject" else "")


def main():
    args = sys.argv[1:]
    if not args:
        raise SystemExit(__doc__)
    driver = args[0]
    verbose = "--verbose" in args

    inputs = desync_cases() + fuzz_seeds() + variants()
    results = run_driver(driver, inputs)

    counts = {}
    bad = []
    for (name, data), z in zip(inputs, results):
        r = http1_ref.parse(data)
        verdict, detail = compare(data, z, r)
        counts[verdict] = counts.get(verdict, 0) + 1
        if verdict == "DISAGREE":
            bad.append((name, data, z, r, detail))
        elif verbose and not verdict.startswith("agree"):
            print("documented %s: %s: %s" % (verdict, name, esc(data)))

    print("http1_diff: %d inputs" % len(inputs))
    for k in sorted(counts, key=lambda k: (not k.startswith("agree"), k != "DISAGREE", k)):
        desc = DOCUMENTED[k][1] if k in DOCUMENTED else ""
        print("  %-18s %6d  %s" % (k, counts[k], desc))

    for name, data, z, r, detail in bad[:40]:
        print("DISAGREE %s: %s\n    input: \"%s\"" % (name, detail, esc(data)))
    if len(bad) > 40:
        print("... and %d more" % (len(bad) - 40))

    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
