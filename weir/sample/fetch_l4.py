"""Layer 4 content fetches: what the client sent first, read without decrypting it — the
TLS ClientHello's server name, version and ALPN, the RDP cookie, raw payload bytes.

They read `stream.payload`, the bytes buffered during `tcp-request inspect-delay`. A
fetch whose bytes have not all arrived yet is absent (None), so a condition on it does
not match yet and the inspection waits for more data (or for the delay to expire).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.balance.keys import rdp_cookie_key
from weir.sample.core import BIN, BOOL, INT, L4_CONTENT, RES, STR, SampleError, fetch, simple_fetch
from weir.stream import Stream

_HANDSHAKE = 0x16
_CLIENT_HELLO = 1
_EXT_SNI, _EXT_ALPN = 0, 16


@simple_fetch("req.len", INT, needs=L4_CONTENT, doc="bytes received so far")
def _req_len(s: Stream) -> int:
    return len(s.payload or b"")


fetch("req_len", INT, needs=L4_CONTENT)(lambda args: _req_len)


@simple_fetch(
    "req.proto_http", BOOL, needs=L4_CONTENT, doc="the request's first bytes are a whole HTTP one"
)
def _req_proto_http(s: Stream) -> bool:
    # In mode tcp, the session parses what inspection buffered as an HTTP request head
    # (weir.tcp.session); in mode http, every stream has its request.
    return s.req is not None


fetch("req_proto_http", BOOL, needs=L4_CONTENT)(lambda args: _req_proto_http)


def _int_arg(text: str) -> int:
    try:
        n = int(text, 10)
    except ValueError:
        raise SampleError(f"expects a non-negative integer, got '{text}'") from None
    if n < 0:
        raise SampleError(f"expects a non-negative integer, got '{text}'")
    return n


@fetch("req.payload", BIN, args=(2, 2), needs=L4_CONTENT, doc="LENGTH bytes at OFFSET")
def _payload(args: list[str]) -> Callable[[Stream], Any]:
    offset, length = _int_arg(args[0]), _int_arg(args[1])

    def get(s: Stream) -> bytes | None:
        p = s.payload or b""
        if length == 0:
            return p[offset:] if len(p) > offset else None
        return p[offset : offset + length] if len(p) >= offset + length else None

    return get


def _lv(args: list[str], buffered: Callable[[Stream], bytes | None]) -> Callable[[Stream], Any]:
    """`payload_lv(OFFSET1,LENGTH[,OFFSET2])` over the bytes `buffered` returns: the block
    whose length is the big-endian integer of LENGTH bytes at OFFSET1, starting right
    after it (or at OFFSET2; a negative one counts from the end of the length field)."""
    o1, l1 = _int_arg(args[0]), _int_arg(args[1])
    o2 = int(args[2], 10) if len(args) > 2 else o1 + l1

    def get(s: Stream) -> bytes | None:
        p = buffered(s) or b""
        if len(p) < o1 + l1:
            return None
        n = int.from_bytes(p[o1 : o1 + l1], "big")
        start = o2 if o2 >= 0 else o1 + l1 + o2
        return p[start : start + n] if len(p) >= start + n else None

    return get


@fetch(
    "req.payload_lv",
    BIN,
    args=(2, 3),
    needs=L4_CONTENT,
    doc="a block whose length is the big-endian integer of LEN bytes at OFFSET",
)
def _payload_lv(args: list[str]) -> Callable[[Stream], Any]:
    return _lv(args, lambda s: s.payload)


# ---- TLS ClientHello -----------------------------------------------------------------------


def _hello(p: bytes | None) -> memoryview | None:
    """The ClientHello body (after its 4-byte handshake header) when the whole first
    record has arrived, else None."""
    if p is None or len(p) < 9 or p[0] != _HANDSHAKE or p[5] != _CLIENT_HELLO:
        return None
    rec_len = int.from_bytes(p[3:5], "big")
    if len(p) < 5 + rec_len:
        return None
    hs_len = int.from_bytes(p[6:9], "big")
    end = min(9 + hs_len, 5 + rec_len)
    return memoryview(p)[9:end]


def _extensions(body: memoryview) -> dict[int, memoryview]:
    """The ClientHello's extensions by type (empty when malformed)."""
    try:
        pos = 2 + 32  # version, random
        pos += 1 + body[pos]  # session id
        pos += 2 + int.from_bytes(body[pos : pos + 2], "big")  # cipher suites
        pos += 1 + body[pos]  # compression methods
        if pos + 2 > len(body):
            return {}
        end = pos + 2 + int.from_bytes(body[pos : pos + 2], "big")
        pos += 2
        out: dict[int, memoryview] = {}
        while pos + 4 <= min(end, len(body)):
            typ = int.from_bytes(body[pos : pos + 2], "big")
            n = int.from_bytes(body[pos + 2 : pos + 4], "big")
            out[typ] = body[pos + 4 : pos + 4 + n]
            pos += 4 + n
        return out
    except IndexError:
        return {}


def _sni(s: Stream) -> bytes | None:
    body = _hello(s.payload)
    if body is None:
        return None
    ext = _extensions(body).get(_EXT_SNI)
    if ext is None or len(ext) < 5:
        return None
    # server_name_list: length, then entries of (type, length, name); type 0 is a host.
    pos = 2
    while pos + 3 <= len(ext):
        kind = ext[pos]
        n = int.from_bytes(ext[pos + 1 : pos + 3], "big")
        if kind == 0:
            return bytes(ext[pos + 3 : pos + 3 + n])
        pos += 3 + n
    return None


def _alpn(s: Stream) -> bytes | None:
    body = _hello(s.payload)
    if body is None:
        return None
    ext = _extensions(body).get(_EXT_ALPN)
    if ext is None or len(ext) < 3:
        return None
    n = ext[2]
    return bytes(ext[3 : 3 + n])


def _hello_type(s: Stream) -> int | None:
    p = s.payload
    if p is None or len(p) < 6 or p[0] != _HANDSHAKE:
        return None
    return p[5]


def _ssl_ver(s: Stream) -> int | None:
    """The ClientHello's version as (major << 16) + minor (TLS 1.2: 0x30003)."""
    p = s.payload
    if p is None or len(p) < 11 or p[0] != _HANDSHAKE or p[5] != _CLIENT_HELLO:
        return None
    return (p[9] << 16) | p[10]


for _name, _fn, _out in (
    ("req.ssl_sni", _sni, STR),
    ("req_ssl_sni", _sni, STR),
    ("req.ssl_alpn", _alpn, STR),
    ("req.ssl_hello_type", _hello_type, INT),
    ("req_ssl_hello_type", _hello_type, INT),
    ("req.ssl_ver", _ssl_ver, INT),
    ("req_ssl_ver", _ssl_ver, INT),
):
    simple_fetch(_name, _out, needs=L4_CONTENT)(_fn)


# ---- RDP ------------------------------------------------------------------------------------


def _rdp_cookie(name: bytes) -> Callable[[Stream], bytes | None]:
    """The value of the RDP cookie `name` (any name when empty) in an RDP connection
    request, as `balance rdp-cookie` reads it (weir.balance.keys.rdp_cookie_key)."""

    def get(s: Stream) -> bytes | None:
        p = s.payload
        return None if p is None else rdp_cookie_key(p, name)

    return get


def _rdp_compile(args: list[str]) -> Callable[[Stream], Any]:
    return _rdp_cookie(args[0].encode() if args and args[0] else b"")


fetch("req.rdp_cookie", STR, args=(0, 1), needs=L4_CONTENT)(_rdp_compile)
fetch("rdp_cookie", STR, args=(0, 1), needs=L4_CONTENT)(_rdp_compile)


@fetch("req.rdp_cookie_cnt", INT, args=(0, 1), needs=L4_CONTENT)
def _rdp_cookie_cnt(args: list[str]) -> Callable[[Stream], Any]:
    get = _rdp_compile(args)
    return lambda s: 1 if get(s) is not None else 0


# ---- the server's first bytes (`tcp-response content`) ---------------------------------------


@simple_fetch("res.len", INT, needs=RES, doc="bytes of the response inspected so far")
def _res_len(s: Stream) -> int:
    return len(s.res_payload or b"")


@fetch("res.payload", BIN, args=(2, 2), needs=RES, doc="LENGTH bytes of the response at OFFSET")
def _res_payload(args: list[str]) -> Callable[[Stream], Any]:
    offset, length = _int_arg(args[0]), _int_arg(args[1])

    def get(s: Stream) -> bytes | None:
        p = s.res_payload or b""
        if length == 0:
            return p[offset:] if len(p) > offset else None
        return p[offset : offset + length] if len(p) >= offset + length else None

    return get


@fetch(
    "res.payload_lv",
    BIN,
    args=(2, 3),
    needs=RES,
    doc="a block of the response whose length is the big-endian integer of LEN bytes at OFFSET",
)
def _res_payload_lv(args: list[str]) -> Callable[[Stream], Any]:
    return _lv(args, lambda s: s.res_payload)
