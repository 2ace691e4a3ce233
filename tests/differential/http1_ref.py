"""http1_ref.py: an independent HTTP/1.1 request parser, written from the
grammar of RFC 9112 (messages), RFC 9110 (fields, Content-Length, Host)
and RFC 3986 (request-target), for the differential check against
zproxy's parser (http1_diff.py).

It shares no code or structure with http/zp_http_parse.c: it cuts the
message into lines and matches each one against regular expressions built
from the ABNF. Where the RFCs leave the recipient a choice, it takes the
one docs/http.md documents for zproxy, and says so in a comment marked
"policy". Where zproxy is stricter than the grammar (limits, schemes,
host bytes), the message is accepted here and a note is attached; where
zproxy is looser, the rejection carries a reason. A few lenient readings
zproxy takes on purpose (runs of SP in the request line, a SP in the
target, an empty target, HTTP/0.9, a field name with a bad byte dropped, a
CTL kept in a value, a transfer-coding parameter without value) are
written here too, from their description in docs/http1.md, so that what
zproxy makes of such a message is compared in full: the message is
accepted with a note ("lenient"). http1_diff.py decides from the notes and
reasons which disagreements are the documented ones (docs/http1.md).

parse(data) returns a dict:

    {"r": "ok", "method", "target", "major", "minor", "headers": [(n, v)],
     "body", "end", "notes": set()}
    {"r": "reject", "why": reason, "notes": set()}
    {"r": "incomplete", "notes": set()}
"""

import re

TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
TOKEN = rb"[" + TCHAR + rb"]+"
HEXDIG = rb"[0-9A-Fa-f]"

# RFC 3986
UNRESERVED = rb"A-Za-z0-9\-._~"
SUB_DELIMS = rb"!$&'()*+,;="
PCT = rb"%" + HEXDIG + HEXDIG
PCHAR = rb"(?:[" + UNRESERVED + SUB_DELIMS + rb":@]|" + PCT + rb")"
SEGMENT = PCHAR + rb"*"
QUERY = rb"(?:" + PCHAR + rb"|[/?])*"
ABSOLUTE_PATH = rb"(?:/" + SEGMENT + rb")+"
PATH_ABEMPTY = rb"(?:/" + SEGMENT + rb")*"
REG_NAME = rb"(?:[" + UNRESERVED + SUB_DELIMS + rb"]|" + PCT + rb")*"
SCHEME = rb"[A-Za-z][A-Za-z0-9+\-.]*"

RE_REQUEST_LINE = re.compile(rb"(" + TOKEN + rb") ([^ ]+) HTTP/([0-9])\.([0-9])\Z")
# lenient: the method, then SP runs, then the rest of the line
RE_LINE_WORDS = re.compile(rb"(" + TOKEN + rb") +(.*)\Z", re.S)
RE_VERSION_LAX = re.compile(rb"HTTP/([0-9])\.([0-9]) *\Z")
RE_ORIGIN = re.compile(rb"(" + ABSOLUTE_PATH + rb")(?:\?(" + QUERY + rb"))?\Z")
RE_ABSOLUTE = re.compile(rb"(" + SCHEME + rb"):(.*)\Z", re.S)
RE_HTTP_HIER = re.compile(
    rb"//(?:([^@/?#]*)@)?(\[[^\]/?#]*\]|[^:/?#\[\]]*)(?::([0-9]*))?(" + PATH_ABEMPTY
    + rb")(?:\?(" + QUERY + rb"))?\Z")
RE_REG_NAME = re.compile(REG_NAME + rb"\Z")
RE_AUTHORITY = re.compile(rb"(\[[^\]]*\]|[^:\[\]]*):([0-9]*)\Z")
RE_FIELD = re.compile(rb"(" + TOKEN + rb"):[ \t]*(.*?)[ \t]*\Z", re.S)
RE_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*\Z")
# lenient: any name without NUL (CR and LF cannot be in a line) up to the first ':'
RE_FIELD_LAX = re.compile(rb"([^:\x00]+):[ \t]*(.*?)[ \t]*\Z", re.S)
RE_FIELD_VALUE_LAX = re.compile(rb"[^\x00]*\Z")

# the fields zproxy acts on for framing or routing: a malformed line that
# could be one of them (its name with everything but letters and digits
# left out) is refused rather than dropped or kept (policy, docs/http1.md)
ACTED_ON = {b"contentlength", b"transferencoding", b"host", b"connection", b"upgrade",
            b"expect", b"te", b"trailer"}
RE_CONTENT_LENGTH = re.compile(rb"[0-9]+\Z")

# chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
QDTEXT = rb"[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]"
QUOTED_PAIR = rb"\\[\t \x21-\x7e\x80-\xff]"
QUOTED_STRING = rb'"(?:' + QDTEXT + rb"|" + QUOTED_PAIR + rb')*"'
BWS = rb"[ \t]*"
CHUNK_EXT = (rb"(?:" + BWS + rb";" + BWS + TOKEN + rb"(?:" + BWS + rb"=" + BWS + rb"(?:" + TOKEN
             + rb"|" + QUOTED_STRING + rb"))?)*")
RE_CHUNK_LINE = re.compile(rb"(" + HEXDIG + rb"+)(" + CHUNK_EXT + rb")\Z")

# transfer-coding = token *( OWS ";" OWS transfer-parameter ) (RFC 9112 7)
# transfer-parameter = token BWS "=" BWS ( token / quoted-string )
TRANSFER_PARAM = TOKEN + BWS + rb"=" + BWS + rb"(?:" + TOKEN + rb"|" + QUOTED_STRING + rb")"
RE_TRANSFER_CODING = re.compile(rb"(" + TOKEN + rb")((?:" + BWS + rb";" + BWS + TRANSFER_PARAM
                                + rb")*)")
# lenient: a parameter of a name alone, or nothing between ";"s
RE_TRANSFER_CODING_LAX = re.compile(rb"(" + TOKEN + rb")((?:" + BWS + rb";" + BWS + rb"(?:"
                                    + TOKEN + rb"(?:" + BWS + rb"=" + BWS + rb"(?:" + TOKEN
                                    + rb"|" + QUOTED_STRING + rb"))?)?)*)")

OFF_T_MAX = 2**63 - 1
IPV6_CHARS = re.compile(rb"[0-9A-Fa-f:.]+\Z")


class Incomplete(Exception):
    pass


class Reject(Exception):
    def __init__(self, why):
        Exception.__init__(self, why)
        self.why = why


def read_line(data, pos, crlf=None):
    """A line ending in CRLF or, as RFC 9112 2.2 allows, a bare LF.
    A CR anywhere else is a bare CR: invalid (policy: rejected, not read as
    SP). Returns (line, next_pos); crlf (a list) gets whether it was CRLF."""
    lf = data.find(b"\n", pos)
    if lf < 0:
        # what is there may still be a valid line start; a bare CR before
        # the end can never be
        cr = data.find(b"\r", pos)
        if 0 <= cr < len(data) - 1:
            raise Reject("bare-cr")
        raise Incomplete()
    end = lf
    if end > pos and data[end - 1:end] == b"\r":
        end -= 1
    if crlf is not None:
        crlf.append(end < lf)
    line = data[pos:end]
    if b"\r" in line:
        raise Reject("bare-cr")
    return line, lf + 1


def valid_ipv6(s):
    import ipaddress
    if b"%" in s:
        return False  # a zone id is RFC 6874, not RFC 3986: Python takes it
    try:
        ipaddress.IPv6Address(s.decode("ascii"))
        return True
    except (ValueError, UnicodeDecodeError):
        return False


def check_host(host, notes, why):
    """uri-host = IP-literal / IPv4address / reg-name (RFC 3986 3.2.2)."""
    if host.startswith(b"["):
        inner = host[1:-1]
        if not valid_ipv6(inner):
            # IPvFuture ("v1.x") is in the grammar too; zproxy takes none of it
            if re.match(rb"v[0-9A-Fa-f]+\.[" + UNRESERVED + SUB_DELIMS + rb":]+\Z", inner):
                notes.add("host-ipvfuture")
                return
            if IPV6_CHARS.match(inner):
                raise Reject("ipv6-invalid")
            raise Reject(why)
        return
    if not RE_REG_NAME.match(host):
        raise Reject(why)
    if not re.match(rb"[" + UNRESERVED + rb"]*\Z", host):
        # sub-delims or %XX in a reg-name: valid, refused by zproxy
        notes.add("host-chars")


def check_port(port, notes):
    if port is None:
        return
    if port == b"":
        notes.add("port-empty")  # "host:" is valid (RFC 3986 3.2.3)
    elif len(port) > 5 or int(port) > 65535:
        notes.add("port-range")


def dot_segments_above_root(path):
    """The path decoded once (%XX), then "." and ".." resolved with empty
    segments merged (merge_slashes on): does ".." climb above "/"?
    Policy: zproxy answers 400 where RFC 3986 5.2.4 would drop the "..";
    %00 is refused as well."""
    out = bytearray()
    i = 0
    while i < len(path):
        c = path[i]
        if c == 0x25:  # %
            out.append(int(path[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    depth = 0
    for seg in bytes(out).split(b"/")[1:]:
        if seg in (b"", b"."):
            continue
        if seg == b"..":
            if depth == 0:
                return True
            depth -= 1
        else:
            depth += 1
    return False


def check_path(path, notes):
    if re.search(rb"%00", path):
        notes.add("pct-nul")
    if dot_segments_above_root(path):
        notes.add("dotdot-root")


def check_target(method, target, notes):
    """RFC 9112 3.2: origin-form, absolute-form, authority-form (CONNECT
    only), asterisk-form (OPTIONS only)."""
    if method == b"CONNECT":
        m = RE_AUTHORITY.match(target)
        if not m or not m.group(1):
            raise Reject("connect-target")
        check_host(m.group(1), notes, "host-chars-invalid")
        if m.group(2) == b"":
            raise Reject("connect-port")
        check_port(m.group(2), notes)
        return
    if target == b"*":
        if method != b"OPTIONS":
            raise Reject("asterisk-not-options")
        return
    if target.startswith(b"/"):
        m = RE_ORIGIN.match(target)
        if not m:
            raise Reject(classify_target_bytes(target))
        check_path(m.group(1), notes)
        return
    m = RE_ABSOLUTE.match(target)
    if not m:
        raise Reject("target-form")
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme not in (b"http", b"https"):
        notes.add("scheme")
        # the rest is hier-part [ "?" query ] of a URI we do not look into
        if re.search(rb"[^" + UNRESERVED + SUB_DELIMS + rb":@/?%]", rest):
            raise Reject(classify_target_bytes(rest))
        return
    m = RE_HTTP_HIER.match(rest)
    if not m:
        raise Reject(classify_target_bytes(rest))
    userinfo, host, port, path = m.group(1), m.group(2), m.group(3), m.group(4)
    if userinfo is not None:
        # RFC 9110 4.2.4: a recipient SHOULD treat userinfo as an error
        raise Reject("userinfo")
    if host == b"":
        raise Reject("empty-host")  # RFC 9110 4.2.1: MUST reject
    check_host(host, notes, "host-chars-invalid")
    check_port(port, notes)
    if path:
        check_path(path, notes)


def classify_target_bytes(t):
    """Why a target is not RFC 3986: zproxy takes any VCHAR or obs-text
    there (as nginx does), so the reason says which kind of byte."""
    if re.search(rb"[\x00-\x20\x7f]", t):
        return "target-ctl"
    if b"#" in t:
        q = t.find(b"?")
        h = t.find(b"#")
        return "fragment-in-query" if 0 <= q < h else "fragment"
    if re.search(rb"%(?![0-9A-Fa-f]{2})", t):
        q = t.find(b"?")
        bad = re.search(rb"%(?![0-9A-Fa-f]{2})", t).start()
        return "pct-invalid-query" if 0 <= q < bad else "pct-invalid-path"
    return "target-lax-bytes"


def parse_fields(data, pos, headers, notes, limit=None, lenient=None):
    """field-line CRLF ... CRLF. Returns the position after the empty line.
    lenient: take the field lines zproxy takes (a header section, not
    trailers)."""
    start = pos
    while True:
        line, pos = read_line(data, pos)
        if limit is not None and pos - start > limit:
            notes.add("trailer-limit")
        if line == b"":
            return pos
        if line[:1] in (b" ", b"\t"):
            # obs-fold (or whitespace before the first field): RFC 9112
            # 5.2 / 2.2 let a server reject it. Policy: rejected.
            raise Reject("obs-fold")
        m = RE_FIELD.match(line)
        if m and RE_FIELD_VALUE.match(m.group(2)):
            headers.append((m.group(1), m.group(2)))
            continue
        if lenient is None:
            raise Reject("field-syntax" if not m else "field-ctl")
        # lenient (docs/http1.md): a name with a byte outside tchar is
        # dropped, a CTL in a value kept; both refused for a field zproxy
        # acts on, and NUL anywhere
        m = RE_FIELD_LAX.match(line)
        if not m or not RE_FIELD_VALUE_LAX.match(m.group(2)):
            raise Reject("field-syntax")
        folded = bytes(c for c in m.group(1).lower() if chr(c).isalnum() and c < 0x80)
        if folded in ACTED_ON:
            raise Reject("field-acted-on")
        if re.match(TOKEN + rb"\Z", m.group(1)):
            notes.add("field-value-ctl")
            headers.append((m.group(1), m.group(2)))
        else:
            notes.add("field-name-dropped")


def parse_chunked(data, pos, notes):
    body = bytearray()
    while True:
        line, pos = read_line(data, pos)
        m = RE_CHUNK_LINE.match(line)
        if not m:
            raise Reject("chunk-line")
        digits, ext = m.group(1), m.group(2)
        if len(digits) > 16:
            notes.add("chunk-digits")
        size = int(digits, 16)
        if size > OFF_T_MAX:
            notes.add("chunk-digits")
        if len(line) - len(digits) > 4096:
            notes.add("chunk-ext-limit")
        if size == 0:
            trailers = []
            return bytes(body), parse_fields(data, pos, trailers, notes, 8192)
        if len(data) - pos < size:
            raise Incomplete()
        body += data[pos:pos + size]
        pos += size
        if data[pos:pos + 2] == b"\r\n":
            pos += 2
        elif data[pos:pos + 1] == b"\n":
            pos += 1
        elif len(data) - pos < 2 and data[pos:] in (b"", b"\r"):
            raise Incomplete()
        else:
            raise Reject("chunk-data-end")


def parse(data):
    notes = set()
    try:
        return parse_message(data, notes)
    except Incomplete:
        return {"r": "incomplete", "notes": notes}
    except Reject as e:
        return {"r": "reject", "why": e.why, "notes": notes}


def parse_request_line(line, crlf, notes):
    """request-line = method SP request-target SP HTTP-version (RFC 9112
    3), or what zproxy reads in its place (lenient, docs/http1.md): the
    line split on runs of SP, SP after the version, a SP inside an
    origin-form target (the version is the first word after a SP that
    starts "HTTP/", and the line must end after it), no target at all
    ("GET HTTP/1.1", read as "/"), and HTTP/0.9: "HTTP/0.9" or no version
    (then only a CRLF ends the line), GET only. Returns (method, target,
    major, minor)."""
    m = RE_REQUEST_LINE.match(line)
    if m:
        method, target, major, minor = m.group(1), m.group(2), int(m.group(3)), int(m.group(4))
        if major == 0 and minor == 9:
            notes.add("http09")
            if method != b"GET":
                raise Reject("http09-method")
        elif major != 1:
            raise Reject("version")  # 505: this is an HTTP/1.x server
        check_target(method, target, notes)
        return method, target, major, minor

    m = RE_LINE_WORDS.match(line)
    if not m:
        raise Reject("request-line")
    method, rest = m.group(1), m.group(2)
    spaces = len(line) - len(method) - len(rest) > 1

    if rest.startswith(b"HTTP/"):
        target, version = b"", rest
    else:
        v = re.search(rb" +HTTP/", rest)
        if v:
            target, version = rest[:v.start()], rest[v.end() - 5:]
            spaces = spaces or v.end() - 5 - v.start() > 1
        else:
            target, version = rest.rstrip(b" "), None
            spaces = spaces or len(target) < len(rest)

    if version is not None:
        v = RE_VERSION_LAX.match(version)
        if not v:
            raise Reject("request-line")
        major, minor = int(v.group(1)), int(v.group(2))
        spaces = spaces or version.endswith(b" ")
    elif not crlf:
        # "/a" LF "HTTP/1.1" is a LF in the target to other parsers
        raise Reject("request-line")
    else:
        major, minor = 0, 9

    if spaces:
        notes.add("request-line-spaces")

    if major == 0 and minor == 9:
        notes.add("http09")
        if method != b"GET":
            raise Reject("http09-method")
    elif major != 1:
        raise Reject("version")

    if target == b"":
        if method == b"CONNECT":
            raise Reject("connect-target")
        notes.add("empty-target")
    elif b" " in target:
        if not target.startswith(b"/"):
            raise Reject("target-space")
        # the target as the next hop gets it, a SP as %20
        notes.add("space-in-target")
        check_target(method, target.replace(b" ", b"%20"), notes)
    else:
        check_target(method, target, notes)

    return method, target, major, minor


def parse_transfer_codings(values, notes):
    """The Transfer-Encoding field lines as one list (RFC 9110 5.3) of
    transfer-codings; empty list elements are skipped (5.6.1). Returns
    the coding names, lower-cased."""
    codings = []
    for v in values:
        pos, n = 0, 0
        while True:
            pos = re.compile(rb"[ \t,]*").match(v, pos).end()
            if pos == len(v):
                break
            for rx in (RE_TRANSFER_CODING, RE_TRANSFER_CODING_LAX):
                m = rx.match(v, pos)
                end = re.compile(rb"[ \t]*").match(v, m.end()).end() if m else 0
                if m and (end == len(v) or v[end:end + 1] == b","):
                    break
            else:
                raise Reject("te-syntax")
            if rx is RE_TRANSFER_CODING_LAX:
                # a parameter without value ("chunked;x") or an empty one
                # ("gzip ;"): lenient, as zproxy takes them
                notes.add("te-param")
            codings.append(m.group(1).lower())
            pos, n = end, n + 1
        if n == 0:
            # a line of no coding is valid list syntax; zproxy refuses it
            notes.add("te-empty-field")
    return codings


def parse_message(data, notes):
    pos = 0
    # RFC 9112 2.2: empty lines before the request-line are ignored
    while True:
        if data.startswith(b"\r\n", pos):
            pos += 2
        elif data.startswith(b"\n", pos):
            pos += 1
        elif data[pos:] == b"\r":
            raise Incomplete()
        else:
            break

    crlf = []
    line, pos = read_line(data, pos, crlf)
    method, target, major, minor = parse_request_line(line, crlf[0], notes)

    if major == 0:
        # HTTP/0.9: the request is its line, nothing after it is read
        return {"r": "ok", "method": method, "target": target, "major": 0, "minor": 9,
                "headers": [], "body": b"", "end": pos, "notes": notes}

    headers = []
    pos = parse_fields(data, pos, headers, notes, lenient=True)

    # framing (RFC 9112 6, RFC 9110 8.6, 7.2)
    def named(n):
        return [v for (k, v) in headers if k.lower() == n]

    hosts = named(b"host")
    if len(hosts) > 1 or (minor >= 1 and not hosts):
        raise Reject("host")  # RFC 9112 3.2: MUST 400

    cls = named(b"content-length")
    length = None
    for v in cls:
        # a list "1, 1" MAY be taken as 1 (RFC 9110 8.6). Policy: refused.
        if not RE_CONTENT_LENGTH.match(v) or int(v) > OFF_T_MAX:
            raise Reject("content-length")
        if length is not None and int(v) != length:
            raise Reject("content-length")
        # equal repeated fields MAY be taken as one: policy, taken
        length = int(v)

    tes = named(b"transfer-encoding")
    if tes:
        if minor == 0:
            raise Reject("te-http10")  # RFC 9112 6.1: faulty framing
        if cls:
            # RFC 9112 6.1: MAY reject, else MUST close after. Policy: reject
            raise Reject("te-and-cl")
        codings = parse_transfer_codings(tes, notes)
        # chunked is applied once (RFC 9112 7) and must be the final coding
        # of a request, else its length cannot be known: 400 (6.3); the
        # codings before it are passed on (policy: 6.1 lets a proxy do so)
        if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
            raise Reject("te-not-chunked")
        body, pos = parse_chunked(data, pos, notes)
    elif length:
        if len(data) - pos < length:
            raise Incomplete()
        body = data[pos:pos + length]
        pos += length
    else:
        body = b""

    return {"r": "ok", "method": method, "target": target, "major": major, "minor": minor,
            "headers": headers, "body": bytes(body), "end": pos, "notes": notes}
