"""What a frontend records while a stream runs, for its log line and its unique id.

`capture request header NAME len N`, `capture response header NAME len N`, `capture
cookie NAME len N`, `unique-id-format`/`unique-id-header` and `option logasap` need a look
at the request and response heads as they pass. The HTTP session does that through two
calls, made only for a frontend whose `captures` is not None:

    capture_request(stream, head)   once the request head is parsed and the Stream built
    unique_id_line(stream)          once the backend is chosen, before a server is: makes
                                    the unique id and returns the header line to add to
                                    the request head sent on (b"" when none)
    capture_response(stream, head)  when the response head arrives, before it is written

All are cheap (a header lookup per configured capture). A request the session did not
capture is captured when the line is logged (the request head stays in the Stream), and a
missing unique id is made then too, so request captures, %CC and %ID work without the
first two hooks; response captures, %CS, unique-id-header and an early log (logasap) need
them.

Values follow HAProxy 2.6: a header capture keeps the last occurrence's value, cut to N
bytes; the cookie capture keeps the first cookie whose name starts with NAME, as
`name=value` (blanks around `=` removed), cut to N bytes (at most 63), from the request's
Cookie headers (%CC) and the response's Set-Cookie headers (%CS).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from weir.log.logformat import LineFormat, unique_id
from weir.stream import Stream

if TYPE_CHECKING:
    from weir.log.logger import Logger

COOKIE_CAPTURE_MAX = 63  # HAProxy's CAPTURE_LEN - 1

# Cookie header: pairs separated by ';' or ',', a quoted value protects both.
_COOKIE_PAIRS = re.compile(rb'(?:[^;,"]|"(?:[^"\\]|\\.)*")+')
_SET_COOKIE_FIRST = re.compile(rb'(?:[^;,"]|"(?:[^"\\]|\\.)*")*')


class Head(Protocol):
    """A parsed request or response head (weir.proto.h1)."""

    raw: bytes

    def header_values(self, name_lower: bytes) -> list[bytes]: ...


def _text(v: bytes) -> str:
    return v.decode("ascii", "surrogateescape")


def _pair(segment: bytes, prefix: bytes, limit: int) -> str | None:
    name, eq, value = segment.partition(b"=")
    if not eq:
        return None
    name = name.strip(b" \t")
    if not name or name[:1] == b"$":
        return None
    pair = name + b"=" + value.strip(b" \t")
    if not pair.startswith(prefix):
        return None
    return _text(pair[:limit])


def cookie_capture(
    values: Sequence[bytes], prefix: bytes, limit: int, *, response: bool
) -> str | None:
    """The first cookie of these Cookie (or, with `response`, Set-Cookie) header values
    whose `name=value` starts with `prefix`, cut to `limit` bytes."""
    for value in values:
        if response:
            m = _SET_COOKIE_FIRST.match(value)
            found = _pair(m[0], prefix, limit) if m is not None else None
            if found is not None:
                return found
            continue
        for segment in _COOKIE_PAIRS.findall(value):
            found = _pair(segment, prefix, limit)
            if found is not None:
                return found
    return None


class Captures:
    """One frontend's captures (names lower-cased, lengths) and its unique-id settings."""

    __slots__ = (
        "asap",
        "cookie",
        "cookie_len",
        "http",
        "logger",
        "req",
        "res",
        "uid",
        "uid_header",
    )

    def __init__(
        self,
        *,
        req: Sequence[tuple[str, int]] = (),
        res: Sequence[tuple[str, int]] = (),
        cookie: tuple[str, int] | None = None,
        uid: LineFormat | None = None,
        uid_header: str | None = None,
        asap: bool = False,
        http: bool = True,
    ) -> None:
        self.http = http
        self.req = tuple((n.lower().encode("latin-1"), max(0, ln)) for n, ln in req)
        self.res = tuple((n.lower().encode("latin-1"), max(0, ln)) for n, ln in res)
        self.cookie = cookie[0].encode("latin-1") if cookie is not None else None
        self.cookie_len = min(COOKIE_CAPTURE_MAX, cookie[1]) if cookie is not None else 0
        self.uid = uid
        self.uid_header = uid_header.encode("latin-1") if uid_header else None
        self.asap = asap
        self.logger: Logger | None = None  # for option logasap; set by the LogHub

    def request(self, s: Stream, head: Head | None) -> None:
        """Record the request captures of `s`; idempotent. `head` is None for a TCP
        stream, and for an HTTP stream without a valid request (HAProxy has no stream
        then): nothing is captured."""
        if s.req_cap is not None:
            return
        if head is None:
            s.req_cap = []
            return
        caps: list[str | None] = []
        for name, limit in self.req:
            vals = head.header_values(name) if name else None  # no name: a rule fills it
            caps.append(_text(vals[-1][:limit]) if vals else None)
        s.req_cap = caps
        if self.cookie is not None:
            found = cookie_capture(
                head.header_values(b"cookie"), self.cookie, self.cookie_len, response=False
            )
            if found is not None:
                s.cookie_cli = found

    def ensure_id(self, s: Stream) -> None:
        """Give `s` its unique id if it has none yet and the frontend makes them: when
        the request is processed (`id_line`), else when the stream is logged, as HAProxy
        does. An HTTP stream without a valid request gets none."""
        if self.uid is not None and s.unique_id is None and (s.req is not None or not self.http):
            s.unique_id = unique_id(self.uid, s)

    def response(self, s: Stream, head: Head) -> None:
        """Record the response captures of `s`; with `option logasap`, log it now. Slots
        that `http-response capture` fills (no header name) keep what a rule put there."""
        if self.res:
            before = s.res_cap
            caps: list[str | None] = []
            for i, (name, limit) in enumerate(self.res):
                if not name:
                    caps.append(before[i] if before is not None and i < len(before) else None)
                    continue
                vals = head.header_values(name)
                caps.append(_text(vals[-1][:limit]) if vals else None)
            s.res_cap = caps
        if self.cookie is not None:
            found = cookie_capture(
                head.header_values(b"set-cookie"), self.cookie, self.cookie_len, response=True
            )
            if found is not None:
                s.cookie_srv = found
        lg = self.logger
        if self.asap and lg is not None:
            lg.log_early(s, s.bytes_out + len(head.raw))

    def id_line(self, s: Stream) -> bytes:
        """Make the unique id (once the backend is chosen, before the server is: what
        HAProxy's unique-id-format sees) and return the `unique-id-header` line to add to
        the request sent to the server, CRLF included; b"" when no header is configured."""
        self.ensure_id(s)
        name = self.uid_header
        if name is None or s.unique_id is None:
            return b""
        return name + b": " + s.unique_id.encode("ascii", "surrogateescape") + b"\r\n"


def capture_request(s: Stream, head: Head) -> None:
    """The session's request hook; the stream's frontend must have `captures`."""
    caps: Captures = s.frontend.captures
    caps.request(s, head)


def capture_response(s: Stream, head: Head) -> None:
    """The session's response hook; the stream's frontend must have `captures`."""
    caps: Captures = s.frontend.captures
    caps.response(s, head)


def unique_id_line(s: Stream) -> bytes:
    """The session's hook once the backend is chosen: the `unique-id-header` line for `s`
    (b"" if none); the stream's frontend must have `captures`."""
    caps: Captures = s.frontend.captures
    return caps.id_line(s)
