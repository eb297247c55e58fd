"""HTTP/1.x message body framing: where a body ends, so its raw bytes can be relayed as is.

Theory of operation
-------------------
weir never re-encodes a body. The proxy hands every received slice of body bytes to a
`BodyFramer`; `feed` answers how many leading bytes of that slice belong to the body and
sets `done` once the body is complete. The proxy forwards exactly those bytes, unchanged,
and treats whatever follows as the start of the next message.

* `ContentLengthBody` and `EmptyBody` are pure arithmetic.
* `UntilCloseBody` (a response without Content-Length or chunked framing) takes everything
  until the connection ends; `feed_eof` then completes it.
* `ChunkedBody` parses only the chunk-size lines and the trailer section; chunk data is
  skipped by arithmetic, so a large chunk costs one subtraction per slice, never a per-byte
  loop. A line split across slices is kept (bounded) until its LF arrives.

Strictness, and where it differs from HAProxy 2.6: HAProxy re-encodes chunked bodies, so it
can afford to accept a bare LF as a line end and any byte in a chunk extension. weir
forwards the framing byte for byte, so an ambiguous frame would reach the server as sent;
it therefore requires CRLF after every size line, after chunk data and after every
trailer line, and allows only HTAB, SP, visible ASCII and obs-text in chunk extensions.
Like HAProxy it allows SP/HTAB between the size and the line end or extension, accepts
leading zeros, and refuses sizes of 2**52 and more. Trailer lines must be valid header
fields (token name, colon, no CR/LF/NUL in the value); obs-fold is refused.

Errors raise `H1Error` with the status the proxy answers with: 400 for a request body,
502 for a response body (`response=True`).
"""

from __future__ import annotations

import re
from typing import Final

from weir.proto.h1_errors import H1Error

__all__ = [
    "BodyFramer",
    "ChunkedBody",
    "ContentLengthBody",
    "EmptyBody",
    "UntilCloseBody",
    "body_framer",
]

Buffer = bytes | bytearray | memoryview

# Longest chunk-size line (size, extensions, CRLF) and largest trailer section accepted.
MAX_CHUNK_LINE: Final = 4096
MAX_TRAILERS: Final = 16384

_TCHAR: Final = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
# The size line as it must appear: hex size, optional blanks, optional extensions, CRLF.
_SIZE_LINE: Final = re.compile(rb"([0-9A-Fa-f]++)[ \t]*+(?:;[\t\x20-\x7e\x80-\xff]*+)?\r\n")
_NEXT_SIZE_LINE: Final = re.compile(rb"\r\n" + _SIZE_LINE.pattern)
_TRAILER_LINE: Final = re.compile(_TCHAR + rb"++:[^\r\n\x00]*+\r\n")
_LF: Final = re.compile(rb"\n")

# ChunkedBody states
_SIZE: Final = 0  # reading a chunk-size line
_DATA: Final = 1  # inside chunk data, `_remaining` bytes to go
_DATA_CR: Final = 2  # chunk data done, CR expected
_DATA_LF: Final = 3  # CR seen, LF expected
_TRAILER: Final = 4  # reading trailer lines until the empty line


class BodyFramer:
    """Where a message body ends. `feed` returns how many leading bytes of `data` belong
    to the body (all of them while it is incomplete); `done` turns True when it is complete.
    After `done`, `feed` returns 0. Subclasses never loop per byte."""

    __slots__ = ("done", "error_status")

    until_close: bool = False

    def __init__(self, error_status: int) -> None:
        self.done = False
        self.error_status = error_status

    def feed(self, data: Buffer) -> int:
        raise NotImplementedError

    def feed_eof(self) -> None:
        """The connection ended: complete a close-delimited body, or raise H1Error if the
        body was cut short."""
        if not self.done:
            raise H1Error(self.error_status, "body truncated by end of connection")


class EmptyBody(BodyFramer):
    """No body at all (bodyless request, HEAD/1xx/204/304 response, CONNECT)."""

    __slots__ = ()

    def __init__(self, error_status: int = 400) -> None:
        super().__init__(error_status)
        self.done = True

    def feed(self, data: Buffer) -> int:
        return 0


class ContentLengthBody(BodyFramer):
    """Exactly `remaining` more bytes."""

    __slots__ = ("remaining",)

    def __init__(self, length: int, error_status: int = 400) -> None:
        super().__init__(error_status)
        self.remaining = length
        self.done = length == 0

    def feed(self, data: Buffer) -> int:
        n = len(data)
        rem = self.remaining
        if n < rem:
            self.remaining = rem - n
            return n
        self.remaining = 0
        self.done = True
        return rem


class UntilCloseBody(BodyFramer):
    """A response body delimited by the end of the connection."""

    __slots__ = ()

    until_close = True

    def feed(self, data: Buffer) -> int:
        return 0 if self.done else len(data)

    def feed_eof(self) -> None:
        self.done = True


class ChunkedBody(BodyFramer):
    """Chunked transfer coding, trailers included. See the module docstring."""

    __slots__ = ("_line", "_remaining", "_state", "_trailer_bytes")

    def __init__(self, error_status: int = 400) -> None:
        super().__init__(error_status)
        self._state = _SIZE
        self._remaining = 0
        self._line = b""  # an incomplete size or trailer line carried between feeds
        self._trailer_bytes = 0

    def feed(self, data: Buffer) -> int:
        if self.done:
            return 0
        n = len(data)
        pos = 0
        state = self._state
        while pos < n:
            if state == _DATA:
                rem = self._remaining
                if n - pos < rem:
                    self._remaining = rem - (n - pos)
                    self._state = _DATA
                    return n
                pos += rem
                self._remaining = 0
                state = _DATA_CR
                # The common case: the CRLF and the next size line are already here.
                m = _NEXT_SIZE_LINE.match(data, pos)
                if m is not None and m.end() - pos <= MAX_CHUNK_LINE:
                    pos = m.end()
                    hexdigits = m.group(1)
                    if len(hexdigits) < 13 and (size := int(hexdigits, 16)):
                        self._remaining = size
                        state = _DATA
                    else:
                        state = self._chunk_size(hexdigits)
                continue
            if state == _DATA_CR:
                if data[pos] != 13:
                    raise H1Error(self.error_status, "chunk data not followed by CRLF")
                pos += 1
                state = _DATA_LF
                continue
            if state == _DATA_LF:
                if data[pos] != 10:
                    raise H1Error(self.error_status, "chunk data not followed by CRLF")
                pos += 1
                state = _SIZE
                continue
            # _SIZE or _TRAILER: one line at a time.
            if not self._line:
                if state == _SIZE:
                    m = _SIZE_LINE.match(data, pos)
                    if m is not None and m.end() - pos <= MAX_CHUNK_LINE:
                        pos = m.end()
                        state = self._chunk_size(m.group(1))
                        continue
                elif n - pos >= 2 and data[pos] == 13 and data[pos + 1] == 10:
                    self._state = _TRAILER
                    self.done = True
                    return pos + 2
            lf = _LF.search(data, pos)
            limit = MAX_CHUNK_LINE if state == _SIZE else MAX_TRAILERS - self._trailer_bytes
            if lf is None:
                self._line += bytes(data[pos:])
                if len(self._line) > limit:
                    raise H1Error(self.error_status, "chunk size line or trailers too long")
                self._state = state
                return n
            end = lf.end()
            line = self._line + bytes(data[pos:end])
            self._line = b""
            pos = end
            if len(line) > limit:
                raise H1Error(self.error_status, "chunk size line or trailers too long")
            if state == _SIZE:
                m = _SIZE_LINE.fullmatch(line)
                if m is None:
                    raise H1Error(self.error_status, "invalid chunk size line")
                state = self._chunk_size(m.group(1))
            elif line == b"\r\n":
                self._state = _TRAILER
                self.done = True
                return pos
            elif _TRAILER_LINE.fullmatch(line) is None:
                raise H1Error(self.error_status, "invalid trailer field")
            else:
                self._trailer_bytes += len(line)
        self._state = state
        return n

    def _chunk_size(self, hexdigits: bytes) -> int:
        """Record a parsed chunk size; return the next state."""
        if len(hexdigits) > 13 and len(hexdigits.lstrip(b"0")) > 13:
            raise H1Error(self.error_status, "chunk size too large")
        size = int(hexdigits, 16)
        if size >= 1 << 52:
            raise H1Error(self.error_status, "chunk size too large")
        if size == 0:
            return _TRAILER
        self._remaining = size
        return _DATA


def body_framer(
    content_length: int | None, chunked: bool, until_close: bool, *, response: bool = False
) -> BodyFramer:
    """The framer for a message whose framing the head parser decided. Chunked wins over a
    length; `until_close` applies only when neither is given (responses only)."""
    status = 502 if response else 400
    if chunked:
        return ChunkedBody(status)
    if content_length is not None:
        return ContentLengthBody(content_length, status)
    if until_close:
        return UntilCloseBody(status)
    return EmptyBody(status)


def dechunk(data: bytes) -> bytes:
    """The payload of chunked `data` that a ChunkedBody accepted (whole, or cut short: the
    chunks that are there, the last one possibly partial). One step per chunk."""
    out = []
    pos, n = 0, len(data)
    while pos < n:
        lf = data.find(b"\n", pos)
        if lf < 0:
            break
        try:
            size = int(data[pos:lf].split(b";", 1)[0].strip(b" \t\r") or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        start = lf + 1
        out.append(data[start : start + size])
        pos = start + size + 2
    return b"".join(out)
