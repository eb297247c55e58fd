"""The rules for HTTP/1 heads off the fast path: framing decisions, target checks,
normalisation of non-canonical heads and the diagnosis of refused ones.

Split from `weir.proto.h1`, which holds the fast path and the public surface; see its
docstring for the behaviour these functions implement. Nothing here runs for a plain
request or response head (a Host, a Connection and at most one simple Content-Length).
"""

from __future__ import annotations

import re
from typing import Any, Final, NoReturn

from weir.proto.h1_errors import H1Error

__all__ = [
    "ABSOLUTE",
    "CL",
    "CLX",
    "CONN",
    "HOST",
    "REQUEST_LINE",
    "STATUS_LINE",
    "TCHAR",
    "TE",
    "TEC",
    "TOKEN",
    "check_chunked",
    "check_target",
    "connection_tokens",
    "content_length_value",
    "diagnose",
    "diagnose_start",
    "framing",
    "list_tokens",
    "normalise",
    "rewrite",
]

TCHAR: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
TOKEN: Final = re.compile(TCHAR + rb"+")
REQUEST_LINE: Final = re.compile(rb"(" + TCHAR + rb"++) ([\x21-\x7e]++) HTTP/1\.[01]\r\n")
STATUS_LINE: Final = re.compile(rb"HTTP/1\.[01] ([1-9][0-9][0-9])(?: ([^\r\n\x00]*+))?\r\n")
ABSOLUTE: Final = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*+)://([^/?#]*+)")

# The kinds of header field the parser interprets (see the memo in weir.proto.h1).
CL: Final = 1  # Content-Length with one plain decimal value: value is the int
CLX: Final = 2  # any other Content-Length: value is the bytes, parsed by framing()
TE: Final = 3  # Transfer-Encoding: value is the bytes
TEC: Final = 6  # Transfer-Encoding whose whole value is chunked (any case): value is b"chunked"
CONN: Final = 4  # Connection: value is (close, keep-alive, upgrade)
HOST: Final = 5  # Host: value is the bytes

_LEADING_EMPTY: Final = re.compile(rb"(?:\r?\n)*+")
_HEAD_END: Final = re.compile(rb"\n\r?\n")
_ANY_VERSION: Final = re.compile(rb"HTTP/[0-9]\.[0-9]")
_TARGET: Final = re.compile(rb"[\x21-\x7e]+")
_AUTHORITY: Final = re.compile(rb"(?:\[[^\]/?#@]*+\]|[^/?#@:]++):[0-9]++")
_DEFAULT_PORT: Final = {b"http": b":80", b"https": b":443", b"": b":443"}


def framing(
    raw: bytes, p: int, fields: list[Any], method: bytes | None, v11: bool
) -> tuple[bytes, int | None, bool, bool]:
    """Framing from every Content-Length, Transfer-Encoding and Host field, for the heads
    the fast loop does not settle (method None: a response). Returns the head to forward
    (rewritten when a field must go), the length, chunked, and whether the connection
    must close afterwards."""
    request = method is not None
    status = 400 if request else 502
    hosts = [v for k, v in fields if k == HOST]
    cls = [(k, v) for k, v in fields if k in {CL, CLX}]
    tes = [v for k, v in fields if k in {TE, TEC}]
    drop: set[bytes] = set()
    extra = b""
    if request and len(hosts) > 1:
        first = hosts[0].lower()
        if any(h.lower() != first for h in hosts):
            raise H1Error(400, "several different Host headers")
        drop.add(b"host")
    content_length: int | None = None
    chunked = close = False
    if tes:
        if request and not v11:
            raise H1Error(400, "Transfer-Encoding in an HTTP/1.0 request")
        check_chunked(tes, status, request)
        chunked = True
        close = not v11
        if cls:
            drop.add(b"content-length")
            close = True
    elif cls:
        lengths = {v if k == CL else content_length_value(v, status) for k, v in cls}
        if len(lengths) > 1:
            raise H1Error(status, "conflicting Content-Length values")
        content_length = lengths.pop()
        if len(cls) > 1 or cls[0][0] == CLX:
            drop.add(b"content-length")
            extra = b"Content-Length: %d\r\n" % content_length
    if method == b"CONNECT" and (tes or cls):
        drop.update((b"content-length", b"transfer-encoding"))
        extra = b""
        content_length = None
        chunked = False
    if drop:
        raw = rewrite(raw, p, drop, extra)
    return raw, content_length, chunked, close


def connection_tokens(value: bytes) -> tuple[bool, bool, bool]:
    """(close, keep-alive, upgrade) listed in a Connection value."""
    v = value.lower()
    if v == b"keep-alive":
        return False, True, False
    if v == b"close":
        return True, False, False
    toks = list_tokens(v)
    return b"close" in toks, b"keep-alive" in toks, b"upgrade" in toks


def list_tokens(value: bytes) -> list[bytes]:
    """The lower-cased elements of a comma-separated list."""
    return [t.strip(b" \t") for t in value.lower().split(b",")]


def check_chunked(values: list[bytes], status: int, request: bool) -> None:
    """Raise unless the Transfer-Encoding list ends with its only `chunked`."""
    if len(values) == 1 and values[0].lower() == b"chunked":
        return
    codings = [c.strip(b" \t").lower() for c in b",".join(values).split(b",")]
    last = len(codings) - 1
    for i, c in enumerate(codings):
        if TOKEN.fullmatch(c) is None:
            raise H1Error(status, "malformed Transfer-Encoding")
        if (c == b"chunked") != (i == last):
            raise H1Error(status, "Transfer-Encoding must end with a single chunked")
    raise H1Error(422 if request else 502, "transfer coding other than chunked")


def content_length_value(value: bytes, status: int) -> int:
    """The length a Content-Length value gives: one or more equal decimal numbers."""
    length = -1
    for element in value.split(b","):
        item = element.strip(b" \t")
        if not item.isdigit():
            raise H1Error(status, "invalid Content-Length")
        if len(item.lstrip(b"0")) > 19 or (x := int(item)) >= 1 << 63:
            raise H1Error(status, "Content-Length too large")
        if length < 0:
            length = x
        elif x != length:
            raise H1Error(status, "conflicting Content-Length values")
    return length


def check_target(method: bytes, target: bytes, host: bytes | None) -> None:
    """Check a target that is not origin-form, and its authority against Host."""
    if method == b"CONNECT":
        if _AUTHORITY.fullmatch(target) is None:
            raise H1Error(400, "CONNECT target is not host:port")
        scheme, authority = b"", target
    elif target == b"*":
        if method != b"OPTIONS":
            raise H1Error(400, "asterisk-form target outside OPTIONS")
        return
    else:
        m = ABSOLUTE.match(target)
        if m is None:
            raise H1Error(400, "invalid request target")
        scheme, authority = m.group(1).lower(), m.group(2).rpartition(b"@")[2]
        if not authority:
            raise H1Error(400, "absolute-form target with an empty authority")
    if host is None:
        return
    a, h = authority.lower(), host.lower()
    if a != h:
        port = _DEFAULT_PORT.get(scheme)
        if port is None or a.removesuffix(port) != h.removesuffix(port):
            raise H1Error(400, "target authority differs from Host")


def rewrite(raw: bytes, p: int, drop: set[bytes], extra: bytes) -> bytes:
    """`raw` without the header lines named in `drop` (Host: all but the first), with
    `extra` lines added last. Rare path: heads weir must normalise."""
    out = [raw[: p - 1]]
    seen_host = False
    for line in raw[p + 1 : len(raw) - 4].split(b"\r\n"):
        name = line[: line.find(b":")].lower()
        if name in drop:
            if name != b"host" or seen_host:
                continue
            seen_host = True
        out.append(line)
    return b"\r\n".join(out) + b"\r\n" + extra + b"\r\n"


def normalise(buf: bytes, max_size: int, response: bool) -> tuple[bytes, int] | None:
    """The slow path: the head at the start of `buf` in canonical form (CRLF line ends,
    no leading empty lines, response folds unfolded) and the bytes it used, or None
    while incomplete. Raises H1Error for what cannot be normalised."""
    status = 502 if response else 400
    lead = _LEADING_EMPTY.match(buf)
    start = lead.end() if lead is not None else 0
    m = _HEAD_END.search(buf, start)
    if m is None or m.end() > max_size:
        if len(buf) >= max_size or m is not None:
            what = "start line" if buf.find(b"\n", start, max_size) < 0 else "head"
            raise H1Error(status, f"{what} larger than the buffer")
        nl = buf.find(b"\n", start)
        if nl >= 0 and not response:  # refuse a bad request line without waiting
            diagnose_start(buf[start:nl].removesuffix(b"\r"), False)
        return None
    lines = buf[start : m.end()].split(b"\n")
    del lines[-2:]
    lines = [x[:-1] if x[-1:] == b"\r" else x for x in lines]
    if lines[0][:1] in (b" ", b"\t"):
        raise H1Error(status, "whitespace before the start line")
    if any(x[:1] in (b" ", b"\t") for x in lines):
        if not response or lines[1][:1] in (b" ", b"\t"):
            raise H1Error(status, "obsolete line folding")
        folded = [lines[0]]
        for x in lines[1:]:
            if x[:1] in (b" ", b"\t"):
                folded[-1] = folded[-1].rstrip(b" \t") + b" " + x.strip(b" \t")
            else:
                folded.append(x)
        lines = folded
    return b"\r\n".join(lines) + b"\r\n\r\n", m.end()


def diagnose(canon: bytes, response: bool) -> NoReturn:
    """Raise the H1Error that names what is wrong in a canonical head the fast path
    refused."""
    status = 502 if response else 400
    lines = canon[:-4].split(b"\r\n")
    diagnose_start(lines[0], response)
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise H1Error(status, "header line without a colon")
        if not name:
            raise H1Error(status, "empty header name")
        if name[-1:] in (b" ", b"\t"):
            raise H1Error(status, "whitespace before the colon of a header")
        if TOKEN.fullmatch(name) is None:
            raise H1Error(status, "invalid character in a header name")
        if b"\x00" in value:
            raise H1Error(status, "NUL in a header value")
        if b"\r" in value or b"\n" in value:
            raise H1Error(status, "CR or LF in a header value")
    raise H1Error(status, "malformed head")


def diagnose_start(line: bytes, response: bool) -> None:
    """Raise if the start line (without its CRLF) is invalid."""
    if response:
        if STATUS_LINE.fullmatch(line + b"\r\n") is None:
            raise H1Error(502, "invalid status line")
        return
    if REQUEST_LINE.fullmatch(line + b"\r\n") is not None:
        return
    parts = line.split(b" ")
    if len(parts) != 3:
        raise H1Error(400, "request line is not 'method SP target SP version'")
    method, target, version = parts
    if TOKEN.fullmatch(method) is None:
        raise H1Error(400, "invalid method")
    if _TARGET.fullmatch(target) is None:
        raise H1Error(400, "invalid request target")
    if _ANY_VERSION.fullmatch(version) is not None:
        raise H1Error(505, "HTTP version not supported")
    raise H1Error(400, "invalid HTTP version")
