"""HTTP/1.x heads for weir's L7 data path: parse, check, serialise. Sans-IO: bytes in, bytes out.

Theory of operation
-------------------
A head is parsed in one pass over its bytes, never byte by byte in Python and without one
Python call per header:

1. find the end of the head (the buffer usually ends with it: `endswith`, else `find`);
2. match the start line with one precompiled pattern;
3. split the header block once on CRLF and look every line up, in one C-level pipeline
   (`filter(None, map(memo.__getitem__, lines))`), in a memo of lines already validated.
   The memo maps a valid line to () when the parser does not interpret it, or to
   (kind, value) for Content-Length, Transfer-Encoding, Connection and Host. Clients and
   servers repeat the same lines on every request, so a line is checked once (token name,
   colon, no CR/LF/NUL in the value) and afterwards costs one dict lookup. The memo only
   holds valid lines, is bounded and only keeps short lines; a line it lacks is checked
   on the spot. A lone CR or LF inside a line makes the line invalid, so the split on
   CRLF can be trusted;
4. decide framing, keep-alive, upgrade and expect from those few fields; anything
   unusual (a second Host or Content-Length, Transfer-Encoding, CONNECT) goes to
   `h1_checks.framing`.

Nothing else is built: `headers` (the full list) is split from the bytes only when asked
for, and `header(name)` searches the bytes with a cached pattern. The head keeps its bytes
in `raw`; `serialize_request` forwards an unmodified head as those bytes plus inserted
lines, and a head with dropped lines through one cached `re.sub`.

A head the fast path cannot take as it is (bare LF line ends, leading empty lines, folded
lines, a lone CR...) goes through `h1_checks.normalise`, which rebuilds the canonical
CRLF form; the same fast path then runs on it and, if that still fails,
`h1_checks.diagnose` names the error.
Then `raw` is the normalised form, because that is what may be forwarded. The same holds
for the few heads weir must edit to follow HAProxy: a duplicate Content-Length or Host
dropped, Content-Length dropped beside Transfer-Encoding, framing fields of a CONNECT
dropped. `raw` is always the head to forward: canonical, each line valid.

Strictness (HAProxy 2.6.12 was run on 127.0.0.1 to observe each case)
-----------------------------------------------------------------------
Followed as HAProxy does it:
* Request with both Transfer-Encoding and Content-Length: chunked wins, Content-Length is
  removed and the connection closes after the response (`keep_alive` False).
* Content-Length: digits only, leading zeros allowed; a comma list or repeated headers are
  accepted when all values are equal (merged into one header), refused (400) when they
  differ or any is empty, signed, non-decimal or >= 2**63.
* Transfer-Encoding in a request: chunked must appear once, last (400 otherwise); a list
  that ends with chunked but holds another coding is refused with 422. In a response any
  coding other than a single chunked gives 502. Coding names are case-insensitive.
* Bare LF line ends are accepted in heads (and normalised to CRLF before forwarding); a CR
  not followed by LF is refused; empty lines before the start line are skipped.
* Header names must be tokens (no whitespace before the colon, no empty name); values may
  hold any byte but CR and LF (other control bytes pass, as in HAProxy).
* Request target bytes must be visible ASCII (0x21-0x7e); method a token (any case).
* More than `max_headers - 1` header lines -> 400: HAProxy's tune.http.maxhdr (101) counts
  the end-of-headers slot, so it takes 100 headers and refuses 101.
* A head that does not fit `max_size` -> 400, whether the request line or the header block
  is too long: HAProxy 2.6 answers 400 (not 414/431) in both cases.
* Several Host headers: equal ones (case-insensitively) are merged, different ones -> 400;
  an absolute-form or CONNECT target whose authority differs from Host -> 400 (userinfo
  ignored, a default port on one side ignored).
* HTTP/1.0 GET, HEAD or DELETE with a body -> 413 (unless `accept_payload_with_any_method`,
  HAProxy's `h1-accept-payload-with-any-method`).
* Connection: upgrade + Upgrade: websocket without a 24-byte Sec-WebSocket-Key -> 400; a
  101 response switching to websocket without Sec-WebSocket-Accept -> 502. An upgrade on
  a request with a body is ignored. CONNECT requests have no body whatever their
  headers say.
* HTTP/1.1 keeps the connection alive unless Connection lists `close`; HTTP/1.0 only when
  it lists `keep-alive` (tokens are case-insensitive, several headers combine).
Stricter than HAProxy, because weir forwards the bytes it received where HAProxy rebuilds:
* Request line: exactly one SP between its three parts, version HTTP/1.0 or HTTP/1.1.
  Another well-formed HTTP/x.y -> 505 (HAProxy serves it as HTTP/1.1); garbage -> 400.
* Status line: `HTTP/1.0` or `HTTP/1.1`, one SP, a three-digit status 100-999, then
  nothing or SP and a reason without NUL; else 502 (HAProxy relays `HTTP/2.0`, `HTTX/1.1`,
  status 99 or 2000, two SPs).
* NUL in a header value -> 400/502 (HAProxy passes it).
* obs-fold in a request -> 400 (HAProxy unfolds it); in a response it is unfolded to SP.
* Transfer-Encoding in an HTTP/1.0 request -> 400 (HAProxy accepts it and closes); a
  Transfer-Encoding list with an empty or non-token element -> 400 (HAProxy: 422 for
  `, chunked` or `foo bar, chunked`, yet accepts `chunked,`).
* Request target forms: origin-form (`/...`), absolute-form (`scheme://authority...`,
  non-empty authority), `*` for OPTIONS only, `host:port` for CONNECT only; anything else
  -> 400 (HAProxy lets `GET foo` and `GET *` through).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Final, TypeVar

from weir.proto.h1_body import (
    BodyFramer,
    ChunkedBody,
    ContentLengthBody,
    EmptyBody,
    UntilCloseBody,
    body_framer,
)
from weir.proto.h1_checks import (
    ABSOLUTE,
    CL,
    CLX,
    CONN,
    HOST,
    REQUEST_LINE,
    STATUS_LINE,
    TE,
    TEC,
    TOKEN,
    check_target,
    connection_tokens,
    diagnose,
    framing,
    list_tokens,
    normalise,
)
from weir.proto.h1_errors import H1Error

__all__ = [
    "V10",
    "V11",
    "BodyFramer",
    "ChunkedBody",
    "ContentLengthBody",
    "EmptyBody",
    "H1Error",
    "RequestHead",
    "ResponseHead",
    "UntilCloseBody",
    "body_framer",
    "build_response",
    "parse_request_head",
    "parse_response_head",
    "serialize_request",
    "serialize_response",
]

Buffer = bytes | bytearray | memoryview

V10: Final = b"HTTP/1.0"
V11: Final = b"HTTP/1.1"
_END: Final = b"\r\n\r\n"
_EMPTY: Final[frozenset[bytes]] = frozenset()


# Header lines already validated, each mapped to what the parser needs from it: () for a
# line it does not interpret, (kind, value) for the fields it does. Clients and servers
# send the same lines again and again (every request of a connection repeats most of
# them, a load generator all of them), so most lines are checked once and then cost one
# dict lookup. It memoises a pure function: bounded (cleared when full), short lines only.
_KINDS: Final = {
    b"content-length": CL,
    b"transfer-encoding": TE,
    b"connection": CONN,
    b"host": HOST,
}
_MEMO: Final[dict[bytes, Any]] = {}
_MEMO_GET: Final = _MEMO.__getitem__
_MEMO_ENTRIES = 4096
_MEMO_LINE: Final = 256
# Valid header names (as sent) and their kind, 0 for a name the parser does not interpret.
_NAMES: Final[dict[bytes, int]] = {}
# Status lines (CR included) already validated: (HTTP/1.1?, status, reason). A server
# sends a handful of distinct ones.
_STATUS_MEMO: Final[dict[bytes, tuple[bool, int, bytes]]] = {}
# Whole header blocks already interpreted: (number of lines, fields). A keep-alive client
# repeats its block from one request to the next, and a server its own within a second
# (its Date changes), so one lookup replaces a split and a lookup per line. Bounded like
# the line memo; the fields lists are shared, never changed.
_BLOCKS: Final[dict[bytes, tuple[int, list[Any]]]] = {}
_BLOCK_MAX: Final = 1024  # longer blocks are not memorised
# Whole heads already parsed by the fast path, without a rewrite: what their head objects
# are made of (a request's path for rules included), and their number of header lines
# (for tune.maxhdr). A load generator, or a browser reloading a page, sends the same head
# again; a server repeats its own within a second. Requests with a body, an Upgrade or an
# Expect are not memorised.
_REQUESTS: Final[
    dict[bytes, tuple[int, bytes, bytes, bytes, int, bool, bytes | None, bytes, str, str]]
] = {}
_RESPONSES: Final[dict[bytes, tuple[int, bytes, int, bytes, int, int | None, bool, bool]]] = {}
_HEAD_ENTRIES: Final = 1024

_BODYLESS_10: Final = frozenset((b"GET", b"HEAD", b"DELETE"))

K = TypeVar("K")
V = TypeVar("V")


def _remember(table: dict[K, V], key: K, value: V, limit: int) -> V:
    """Store in one of the memos above, emptied first when it holds `limit` entries (a
    memo only ever saves work: starting over costs a few misses, never a wrong answer)."""
    if len(table) >= limit:
        table.clear()
    table[key] = value
    return value


class Head:
    """What request and response heads share: `raw`, the head to forward through the
    final CRLFCRLF (as received unless weir had to normalise it, see the module
    docstring), and header lookups in it."""

    __slots__ = ("_headers", "_low", "_lstart", "raw")

    # Set by each kind of head's constructor.
    raw: bytes
    _lstart: int  # index of the CR that ends the start line in `raw`
    _headers: list[tuple[bytes, bytes]] | None
    _low: str | None  # `raw` in lower case, as text, for header lookups

    @property
    def headers(self) -> list[tuple[bytes, bytes]]:
        """(name as sent, value without surrounding OWS), in order; built on first use."""
        h = self._headers
        if h is None:
            h = self._headers = _split_headers(self.raw, self._lstart)
        return h

    def lowered(self) -> str:
        """`raw` in lower case (ASCII letters only, as HAProxy), decoded as latin-1 so that
        every byte is one character at the same offset; made on first use, dropped when
        `raw` changes. Header names are found in it and values read at the same offsets
        in `raw`: compiled code searches text without a method call, bytes with one."""
        low = self._low
        if low is None:
            low = self._low = self.raw.lower().decode("latin-1")
        return low

    def set_raw(self, raw: bytes) -> None:
        """New bytes for this head, its header lines edited in place by a rule."""
        self.raw = raw
        self._headers = self._low = None

    def has_header(self, name_lower: bytes) -> bool:
        return self.lowered().find(needle(name_lower), self._lstart) >= 0

    def header(self, name_lower: bytes) -> bytes | None:
        """The first value of a header (name given in lower case), or None."""
        return _value_at(self.raw, self.lowered(), self._lstart, needle(name_lower))

    def header_values(self, name_lower: bytes) -> list[bytes]:
        """Every value of a header, in order (each line's value, lists not split)."""
        return _values_at(self.raw, self.lowered(), self._lstart, needle(name_lower))

    def header_text(self, found: str) -> str | None:
        """The first value of a header as latin-1 text, the name's needle already made
        (see needle())."""
        v = _value_at(self.raw, self.lowered(), self._lstart, found)
        return None if v is None else v.decode("latin-1")

    def header_lowered(self, found: str) -> str | None:
        """The first value of a header in lower case, as text (for `-i` matching), read
        from the lowered head without lowering it again."""
        low = self.lowered()
        i = low.find(found, self._lstart)
        if i < 0:
            return None
        a, b = _span(low, i + len(found))
        return low[a:b]


class RequestHead(Head):
    """A parsed request head."""

    __slots__ = (
        "_path",
        "_path_low",
        "_path_text",
        "chunked",
        "content_length",
        "expect_continue",
        "host",
        "keep_alive",
        "method",
        "target",
        "upgrade",
        "version",
    )

    # Positional on purpose: one is built per request on the hot path.
    def __init__(  # noqa: PLR0917
        self,
        method: bytes,
        target: bytes,
        version: bytes,
        raw: bytes,
        lstart: int,
        content_length: int | None,
        chunked: bool,
        keep_alive: bool,
        upgrade: bool,
        expect_continue: bool,
        host: bytes | None,
    ) -> None:
        # (Head's fields set here, not by a call: one head is built per message)
        self.raw = raw
        self._lstart = lstart
        self._headers = None
        self._low = None
        self.method = method
        self.target = target
        self.version = version
        self.content_length = content_length
        self.chunked = chunked
        self.keep_alive = keep_alive
        self.upgrade = upgrade
        self.expect_continue = expect_continue
        self.host = host  # the Host header's value, or None
        self._path: bytes | None = None
        self._path_text: str | None = None
        self._path_low: str | None = None

    def header(self, name_lower: bytes) -> bytes | None:
        if name_lower == b"host":
            return self.host
        return Head.header(self, name_lower)

    def header_values(self, name_lower: bytes) -> list[bytes]:
        if name_lower == b"host":  # the parser refuses a second Host line
            host = self.host
            return [] if host is None else [host]
        return Head.header_values(self, name_lower)

    @property
    def path(self) -> bytes:
        """The path for rules: origin-form up to '?'; the path part of an absolute-form
        target ('/' when empty); b'*' for asterisk-form; b'' for a CONNECT authority.
        Worked out once: a head's target never changes (a rule that rewrites it makes a
        new head)."""
        p = self._path
        if p is None:
            p = self._path = self._find_path()
        return p

    @property
    def path_text(self) -> str:
        """`path` as latin-1 text (for ACLs, which compare text: see weir.sample.acl)."""
        t = self._path_text
        if t is None:
            t = self._path_text = self.path.decode("latin-1")
        return t

    @property
    def path_lowered(self) -> str:
        """`path_text` with its ASCII letters in lower case (for `-i` ACLs)."""
        t = self._path_low
        if t is None:
            t = self._path_low = self.path.lower().decode("latin-1")
        return t

    def _find_path(self) -> bytes:
        t = self.target
        if t[:1] != b"/":
            if t == b"*":
                return t
            m = ABSOLUTE.match(t)
            if m is None:  # CONNECT authority-form
                return b""
            t = t[m.end() :]
            if t[:1] != b"/":
                return b"/"
        q = t.find(b"?")
        return t if q < 0 else t[:q]

    def framer(self) -> BodyFramer:
        """A fresh framer for this request's body (400 on malformed framing)."""
        return body_framer(self.content_length, self.chunked, False)

    def __repr__(self) -> str:
        return f"<RequestHead {self.method!r} {self.target!r} {self.version!r}>"


class ResponseHead(Head):
    """A parsed response head."""

    __slots__ = ("chunked", "content_length", "keep_alive", "reason", "status", "version")

    def __init__(  # noqa: PLR0917
        self,
        version: bytes,
        status: int,
        reason: bytes,
        raw: bytes,
        lstart: int,
        content_length: int | None,
        chunked: bool,
        keep_alive: bool,
    ) -> None:
        # (Head's fields set here, not by a call: one head is built per message)
        self.raw = raw
        self._lstart = lstart
        self._headers = None
        self._low = None
        self.version = version
        self.status = status
        self.reason = reason
        self.content_length = content_length
        self.chunked = chunked
        # False also when the body would run until the close (no length, no chunking,
        # a status that has a body): the server connection cannot be reused then.
        self.keep_alive = keep_alive

    def has_body(self, request_method: bytes) -> bool:
        """Whether a body follows: never after HEAD, for 1xx, 204, 304, or a 2xx to
        CONNECT (a tunnel follows instead)."""
        s = self.status
        if s < 200 or s in {204, 304} or request_method == b"HEAD":
            return False
        return not (s < 300 and request_method == b"CONNECT")

    def framer(self, request_method: bytes) -> BodyFramer:
        """A fresh framer for this response's body (502 on malformed framing)."""
        if not self.has_body(request_method):
            return EmptyBody(502)
        return body_framer(self.content_length, self.chunked, True, response=True)

    def __repr__(self) -> str:
        return f"<ResponseHead {self.version!r} {self.status}>"


# -- parsing -------------------------------------------------------------------------------


def parse_request_head(
    buf: Buffer,
    *,
    max_size: int = 16384,
    max_headers: int = 101,
    search_from: int = 0,
    accept_payload_with_any_method: bool = False,
) -> tuple[RequestHead, int] | None:
    """Parse the request head at the start of `buf`.

    Returns (head, bytes consumed) — consumed includes empty lines skipped before the
    request line — or None while the head is incomplete. Raises H1Error (status 400,
    413, 422 or 505) for a refused request, including a buffer of `max_size` bytes or more
    that holds no complete head. `search_from` lets a caller that re-parses a growing
    buffer skip bytes known not to hold the end of the head (previous length - 3).
    """
    if type(buf) is not bytes and type(buf) is not bytearray:
        buf = bytes(buf)
    n = len(buf)
    tried = -1
    if n <= max_size and buf.endswith(_END):
        raw = buf if type(buf) is bytes else bytes(buf)
        head = _request(raw, n - 4, max_headers, accept_payload_with_any_method)
        if head is not None:
            return head, n
        tried = n - 4
    end = buf.find(_END, search_from, max_size)
    if end >= 0 and end != tried:
        raw = buf[: end + 4] if type(buf) is bytes else bytes(memoryview(buf)[: end + 4])
        head = _request(raw, end, max_headers, accept_payload_with_any_method)
        if head is not None:
            return head, end + 4
    found = normalise(bytes(buf), max_size, False)
    if found is None:
        return None
    canon, used = found
    head = _request(canon, len(canon) - 4, max_headers, accept_payload_with_any_method)
    if head is None:
        diagnose(canon, False)
    return head, used


def parse_response_head(
    buf: Buffer, *, max_size: int = 16384, max_headers: int = 101, search_from: int = 0
) -> tuple[ResponseHead, int] | None:
    """Parse the response head at the start of `buf`: (head, bytes consumed), or None
    while incomplete. Every refusal raises H1Error with status 502."""
    if type(buf) is not bytes and type(buf) is not bytearray:
        buf = bytes(buf)
    n = len(buf)
    tried = -1
    if n <= max_size and buf.endswith(_END):
        raw = buf if type(buf) is bytes else bytes(buf)
        head = _response(raw, n - 4, max_headers)
        if head is not None:
            return head, n
        tried = n - 4
    end = buf.find(_END, search_from, max_size)
    if end >= 0 and end != tried:
        raw = buf[: end + 4] if type(buf) is bytes else bytes(memoryview(buf)[: end + 4])
        head = _response(raw, end, max_headers)
        if head is not None:
            return head, end + 4
    found = normalise(bytes(buf), max_size, True)
    if found is None:
        return None
    canon, used = found
    head = _response(canon, len(canon) - 4, max_headers)
    if head is None:
        diagnose(canon, True)
    return head, used


def _learn(line: bytes) -> Any:
    """Validate one header line (no CRLF): a token name, a colon, a value without CR, LF
    or NUL. Returns its memo entry (memorised if short), or None if the line is invalid."""
    c = line.find(b":")
    # `13 in line` is memchr; `b"\r" in line` goes through a far slower generic search.
    if c <= 0 or 13 in line or 10 in line or 0 in line:
        return None
    name = line[:c]
    kind = _NAMES.get(name)
    if kind is None:
        if TOKEN.fullmatch(name) is None:
            return None
        kind = _KINDS.get(name.lower(), 0)
        _remember(_NAMES, name, kind, _MEMO_ENTRIES)
    info: tuple[()] | tuple[int, Any]
    if not kind:
        info = ()
    else:
        value = line[c + 1 :].strip(b" \t")
        if kind == CL:
            info = (CL, int(value)) if value.isdigit() and len(value) < 19 else (CLX, value)
        elif kind == CONN:
            info = (CONN, connection_tokens(value))
        elif kind == TE and value.lower() == b"chunked":
            info = (TEC, b"chunked")
        else:
            info = (kind, value)
    if len(line) <= _MEMO_LINE:
        _remember(_MEMO, line, info, _MEMO_ENTRIES)
    return info


def _learn_lines(lines: list[bytes]) -> list[Any] | None:
    """The interpreted fields among header lines some of which the memo lacks, in order
    as (kind, value); None if a line is invalid."""
    fields = []
    for line in lines:
        info = _MEMO.get(line)
        if info is None:
            info = _learn(line)
            if info is None:
                return None
        if info:
            fields.append(info)
    return fields


def _header_fields(block: bytes, max_headers: int, status: int) -> list[Any] | None:
    """The fields the parser interprets among a head's header lines (`block`: from after
    the start line to before the final CRLFCRLF), in order as (kind, value); None if a
    line is invalid; H1Error(`status`) past `max_headers` lines."""
    known = _BLOCKS.get(block)
    if known is not None:
        if known[0] >= max_headers:
            raise H1Error(status, "too many header fields")
        return known[1]
    lines = block.split(b"\r\n")
    if len(lines) >= max_headers:
        raise H1Error(status, "too many header fields")
    fields: list[Any] | None
    try:
        fields = list(filter(None, map(_MEMO_GET, lines)))
    except KeyError:
        fields = _learn_lines(lines)
        if fields is None:
            return None
    if len(block) <= _BLOCK_MAX:
        _remember(_BLOCKS, block, (len(lines), fields), _MEMO_ENTRIES)
    return fields


def _request(raw: bytes, end: int, max_headers: int, any_payload: bool) -> RequestHead | None:
    """The fast path: `raw` is exactly one candidate head, `end` the index of its final
    CRLFCRLF. None when the bytes are not canonical and valid (the caller then normalises
    or diagnoses); H1Error for a well-formed head weir refuses."""
    known = _REQUESTS.get(raw)
    if known is not None:
        lines, method, target, version, lstart, keep, host, path, path_text, path_low = known
        if lines >= max_headers:
            raise H1Error(400, "too many header fields")
        made = RequestHead(
            method, target, version, raw, lstart, None, False, keep, False, False, host
        )
        # (worked out with the rest, once for these bytes)
        made._path, made._path_text, made._path_low = path, path_text, path_low
        return made
    head = _parse_request(raw, end, max_headers, any_payload)
    if (
        head is not None
        and head.raw is raw
        and head.content_length is None
        and not (head.chunked or head.upgrade or head.expect_continue)
        and len(raw) <= _BLOCK_MAX
    ):
        entry = (
            raw.count(b"\r\n") - 2,
            head.method,
            head.target,
            head.version,
            head._lstart,
            head.keep_alive,
            head.host,
            head.path,
            head.path_text,
            head.path_lowered,
        )
        _remember(_REQUESTS, raw, entry, _HEAD_ENTRIES)
    return head


def _parse_request(raw: bytes, end: int, max_headers: int, any_payload: bool) -> RequestHead | None:
    m = REQUEST_LINE.match(raw)
    if m is None:
        return None
    p = m.end() - 1
    if end == p + 1:  # an empty line right after the start line: the head ended before
        return None
    method, target = m.groups()
    v11 = raw[p - 2] == 49
    content_length: int | None = None
    chunked = close = keep = conn_upgrade = False
    host: bytes | None = None
    if p + 1 < end:
        # The header lines (p: the LF ending the start line, end: the final CRLFCRLF).
        fields = _header_fields(raw[p + 1 : end], max_headers, 400)
        if fields is None:
            return None
        slow = False
        for kind, value in fields:
            if kind == HOST and host is None:
                host = value
            elif kind == CONN:
                close |= value[0]
                keep |= value[1]
                conn_upgrade |= value[2]
            elif kind == CL and content_length is None:
                content_length = value
            elif kind == TEC and not chunked and v11:
                chunked = True
            else:  # any other framing field, or a second Host or Content-Length
                slow = True
        if slow or (
            (chunked or content_length is not None)
            and (method == b"CONNECT" or (chunked and content_length is not None))
        ):
            raw, content_length, chunked, forced = framing(raw, p, fields, method, v11)
            close |= forced
    if target[0] != 47 or method == b"CONNECT":  # not origin-form
        check_target(method, target, host)
    expect = upgrade = False
    if chunked or content_length:
        if not v11 and not any_payload and method in _BODYLESS_10:
            raise H1Error(413, "HTTP/1.0 GET/HEAD/DELETE request with a body")
        if v11:
            e = _find_header(raw, p - 1, b"expect")
            expect = e is not None and e.lower() == b"100-continue"
        # HAProxy ignores an upgrade on a request with a body.
    elif conn_upgrade:
        up = _find_header(raw, p - 1, b"upgrade")
        if up is not None:
            upgrade = True
            if b"websocket" in list_tokens(up):
                key = _find_header(raw, p - 1, b"sec-websocket-key")
                if key is None or len(key) != 24:
                    raise H1Error(400, "websocket upgrade without a valid Sec-WebSocket-Key")
    return RequestHead(
        method,
        target,
        V11 if v11 else V10,
        raw,
        p - 1,
        content_length,
        chunked,
        not close and (v11 or keep),
        upgrade,
        expect,
        host,
    )


def _response(raw: bytes, end: int, max_headers: int) -> ResponseHead | None:
    """The fast path for a response; same contract as `_request`, errors are 502."""
    known = _RESPONSES.get(raw)
    if known is not None:
        lines, version, status, reason, lstart, length, chunked, keep = known
        if lines >= max_headers:
            raise H1Error(502, "too many header fields")
        return ResponseHead(version, status, reason, raw, lstart, length, chunked, keep)
    head = _parse_response(raw, end, max_headers)
    if head is not None and head.raw is raw and len(raw) <= _BLOCK_MAX:
        entry = (
            raw.count(b"\r\n") - 2,
            head.version,
            head.status,
            head.reason,
            head._lstart,
            head.content_length,
            head.chunked,
            head.keep_alive,
        )
        _remember(_RESPONSES, raw, entry, _HEAD_ENTRIES)
    return head


def _parse_response(raw: bytes, end: int, max_headers: int) -> ResponseHead | None:
    p = raw.find(b"\n")
    if end == p + 1:  # an empty line right after the status line: the head ended before
        return None
    line = raw[:p]  # with its CR
    known = _STATUS_MEMO.get(line)
    if known is None:
        m = STATUS_LINE.match(raw)
        if m is None or m.end() != p + 1:
            return None
        code, reason = m.groups()
        known = (raw[7] == 49, int(code), reason or b"")
        _remember(_STATUS_MEMO, line, known, _MEMO_ENTRIES)
    v11, status, reason = known
    content_length: int | None = None
    chunked = close = keep = conn_upgrade = False
    if p + 1 < end:
        # The header lines (p: the LF ending the start line, end: the final CRLFCRLF).
        fields = _header_fields(raw[p + 1 : end], max_headers, 502)
        if fields is None:
            return None
        slow = False
        for kind, value in fields:
            if kind == CONN:
                close |= value[0]
                keep |= value[1]
                conn_upgrade |= value[2]
            elif kind == CL and content_length is None:
                content_length = value
            elif kind == TEC and not chunked:
                chunked = True
                close |= not v11
            elif kind != HOST:
                slow = True
        if slow or (chunked and content_length is not None):
            raw, content_length, chunked, forced = framing(raw, p, fields, None, v11)
            close |= forced
        if conn_upgrade and status == 101:
            up = _find_header(raw, p - 1, b"upgrade")
            if (
                up is not None
                and b"websocket" in list_tokens(up)
                and _find_header(raw, p - 1, b"sec-websocket-accept") is None
            ):
                raise H1Error(502, "websocket upgrade without Sec-WebSocket-Accept")
    if content_length is None and not chunked and status >= 200 and status not in (204, 304):
        close = True  # close-delimited body
    return ResponseHead(
        V11 if v11 else V10,
        status,
        reason,
        raw,
        p - 1,
        content_length,
        chunked,
        not close and (v11 or keep),
    )


# -- header access -------------------------------------------------------------------------


def _split_headers(raw: bytes, lstart: int) -> list[tuple[bytes, bytes]]:
    if len(raw) - 4 <= lstart + 2:  # no header lines (and no inverted slice, see native.py)
        return []
    block = raw[lstart + 2 : len(raw) - 4]
    out = []
    for line in block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        out.append((name, value.strip(b" \t")))
    return out


# "\r\nname:" for each header name looked up. Names come from the configuration and the
# parser, so the table stays small; it is bounded all the same.
_NEEDLES: Final[dict[bytes, str]] = {}


def needle(name_lower: bytes) -> str:
    """What finds a line of this header in a lowered head ("\\r\\nname:")."""
    found = _NEEDLES.get(name_lower)
    if found is None:
        text = "\r\n" + name_lower.decode("latin-1") + ":"
        found = _remember(_NEEDLES, name_lower, text, 512)
    return found


# A head is canonical (every header line is "CRLF name:value" up to the next CR, the head
# ends in CRLFCRLF), and lower-casing keeps every offset: a name is found in the lowered
# head, its value read from the head itself, without surrounding blanks.
def _value_at(raw: bytes, low: str, start: int, needle: str) -> bytes | None:
    i = low.find(needle, start)
    if i < 0:
        return None
    a, b = _span(low, i + len(needle))
    return raw[a:b]


def _values_at(raw: bytes, low: str, start: int, needle: str) -> list[bytes]:
    out: list[bytes] = []
    i = low.find(needle, start)
    while i >= 0:
        a, b = _span(low, i + len(needle))
        out.append(raw[a:b])
        i = low.find(needle, b)
    return out


def _span(low: str, i: int) -> tuple[int, int]:
    """Where the value that starts at `i` (just after a name's colon) lies, without its
    surrounding blanks: the same offsets in the lowered text and in the head. The usual
    "name: value" loses its one space by index; strip() is for other spacing."""
    end = low.find("\r", i)
    if low[i] == " ":
        i += 1
    if i < end and (low[i] in " \t" or low[end - 1] in " \t"):
        v = low[i:end]
        kept = v.lstrip(" \t")
        i += len(v) - len(kept)
        end = i + len(kept.rstrip(" \t"))
    return i, end


def _find_header(raw: bytes, lstart: int, name_lower: bytes) -> bytes | None:
    return _value_at(raw, raw.lower().decode("latin-1"), lstart, needle(name_lower))


# -- serialising ---------------------------------------------------------------------------


def serialize_request(
    head: RequestHead,
    *,
    add: bytes = b"",
    drop: frozenset[bytes] = _EMPTY,
    start_line: bytes | None = None,
) -> bytes:
    """The request head to send to a server.

    Fast path (no `drop`, no `start_line`): `head.raw` with `add` — complete header lines,
    each ending in CRLF — inserted before the final CRLF. Otherwise the head is rebuilt
    from its own lines, without the headers named in `drop` (lower-case names), with
    `start_line` (no CRLF) replacing the request line if given.
    """
    if not drop and start_line is None:
        return head.raw[:-2] + add + b"\r\n" if add else head.raw
    return _rebuild(head.raw, head._lstart, add, drop, start_line)


def serialize_response(
    head: ResponseHead,
    *,
    add: bytes = b"",
    drop: frozenset[bytes] = _EMPTY,
    start_line: bytes | None = None,
) -> bytes:
    """The response head to send to a client; same contract as `serialize_request`."""
    if not drop and start_line is None:
        return head.raw[:-2] + add + b"\r\n" if add else head.raw
    return _rebuild(head.raw, head._lstart, add, drop, start_line)


def _rebuild(
    raw: bytes, lstart: int, add: bytes, drop: frozenset[bytes], start_line: bytes | None
) -> bytes:
    """`raw` without the lines named in `drop`, with `start_line` and `add` (rule path)."""
    if drop:
        # raw is canonical: every header line is "CRLF name:value" up to the next CR.
        raw = drop_pattern(drop).sub(b"", raw)
    if start_line is not None:
        raw = start_line + raw[raw.find(b"\r\n") :]
    return raw[:-2] + add + b"\r\n" if add else raw


@lru_cache(maxsize=256)
def drop_pattern(names: frozenset[bytes]) -> re.Pattern[bytes]:
    alternatives = b"|".join(re.escape(n) for n in sorted(names))
    return re.compile(rb"\r\n(?:" + alternatives + rb"):[^\r]*+", re.IGNORECASE)


def build_response(
    status: int,
    reason: bytes,
    headers: list[tuple[bytes, bytes]],
    body: bytes,
    *,
    close: bool,
) -> bytes:
    """A complete HTTP/1.1 response made by weir itself. Content-Length is added unless
    `headers` has one; `Connection: close` is added when `close`."""
    parts = [b"HTTP/1.1 %d %s\r\n" % (status, reason)]
    has_length = False
    for name, value in headers:
        if name.lower() == b"content-length":
            has_length = True
        parts.append(name + b": " + value + b"\r\n")
    if not has_length:
        parts.append(b"Content-Length: %d\r\n" % len(body))
    if close:
        parts.append(b"Connection: close\r\n")
    parts.append(b"\r\n")
    parts.append(body)
    return b"".join(parts)
