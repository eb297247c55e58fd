"""The everyday fetches: addresses, the request line and headers, the response status and
headers, the proxies and server of the stream, and literal values.

In a sample expression (not an ACL) a header fetch returns the last occurrence, split on
commas, as HAProxy's `req.hdr` does; `req.fhdr` keeps commas. Header names are matched
case-insensitively. All of these are compiled once: the closure per request reads the
Stream and does one lookup.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any

from weir.balance.hashes import full_hash, hash_sdbm
from weir.sample.acl import parse_ip
from weir.sample.core import (
    ADDR,
    BIN,
    BOOL,
    INT,
    REQ,
    RES,
    STR,
    SampleError,
    fetch,
    simple_fetch,
)
from weir.stream import Stream

Getter = Callable[[Stream], Any]


# ---- connection ------------------------------------------------------------------------------


@simple_fetch("src", ADDR, doc="the client's address")
def _src(s: Stream) -> Any:
    return parse_ip(s.client_ip)


@simple_fetch("src_port", INT, doc="the client's port")
def _src_port(s: Stream) -> int:
    return s.client_port


@simple_fetch("dst", ADDR, doc="the local address the client connected to")
def _dst(s: Stream) -> Any:
    a = s.frontend_addr
    return ipaddress.ip_address(a[0]) if a is not None else None


@simple_fetch("dst_port", INT, doc="the local port the client connected to")
def _dst_port(s: Stream) -> int | None:
    a = s.frontend_addr
    return a[1] if a is not None else None


@simple_fetch("fe_name", STR, doc="the frontend's name")
def _fe_name(s: Stream) -> bytes:
    return str(s.frontend.name).encode()


@simple_fetch("be_name", STR, needs=REQ, doc="the backend's name, once chosen")
def _be_name(s: Stream) -> bytes | None:
    return str(s.backend.name).encode() if s.backend is not None else None


@simple_fetch("srv_name", STR, needs=RES, doc="the server's name, once chosen")
def _srv_name(s: Stream) -> bytes | None:
    return str(s.server.name).encode() if s.server is not None else None


@simple_fetch("always_true", BOOL)
def _always_true(s: Stream) -> bool:
    return True


@simple_fetch("always_false", BOOL)
def _always_false(s: Stream) -> bool:
    return False


_HOST = socket.gethostname().encode()


@simple_fetch("hostname", STR, doc="this machine's host name")
def _hostname(s: Stream) -> bytes:
    return _HOST


@simple_fetch("pid", INT, doc="this process's id")
def _pid(s: Stream) -> int:
    return os.getpid()


@fetch("env", STR, args=(1, 1), doc="an environment variable")
def _env(args: list[str]) -> Getter:
    name = args[0]
    return lambda s: None if (v := os.environ.get(name)) is None else v.encode()


# ---- literal values ----------------------------------------------------------------------------


@fetch("str", STR, args=(1, 1), doc="a constant string")
def _str(args: list[str]) -> Getter:
    value = args[0].encode()
    return lambda s: value


@fetch("int", INT, args=(1, 1), doc="a constant integer")
def _int(args: list[str]) -> Getter:
    try:
        value = int(args[0], 10)
    except ValueError:
        raise SampleError(f"'int' expects an integer, got '{args[0]}'") from None
    return lambda s: value


@fetch("bool", BOOL, args=(1, 1), doc="a constant boolean")
def _bool(args: list[str]) -> Getter:
    word = args[0].lower()
    if word not in ("true", "false", "1", "0"):
        raise SampleError(f"'bool' expects true or false, got '{args[0]}'")
    value = word in ("true", "1")
    return lambda s: value


# ---- the request ---------------------------------------------------------------------------


@simple_fetch("method", STR, needs=REQ)
def _method(s: Stream) -> bytes | None:
    return s.req.method if s.req is not None else None


@simple_fetch("path", STR, needs=REQ)
def _path(s: Stream) -> bytes | None:
    return s.req.path if s.req is not None else None


@simple_fetch("url", STR, needs=REQ)
def _url(s: Stream) -> bytes | None:
    return s.req.target if s.req is not None else None


@simple_fetch("query", STR, needs=REQ)
def _query(s: Stream) -> bytes | None:
    if s.req is None:
        return None
    _, sep, q = s.req.target.partition(b"?")
    return q if sep else None


@simple_fetch("req.ver", STR, needs=REQ)
def _req_ver(s: Stream) -> bytes | None:
    return s.req.version[5:] if s.req is not None else None


# The request line as it came, kept for the response and the log (HAProxy's captures).


@simple_fetch("capture.req.method", STR, doc="the request's method, in responses and logs too")
def _capture_method(s: Stream) -> bytes | None:
    return s.req.method if s.req is not None else None


@simple_fetch("capture.req.uri", STR, doc="the request's target, in responses and logs too")
def _capture_uri(s: Stream) -> bytes | None:
    return s.req.target if s.req is not None else None


@simple_fetch("capture.req.ver", STR, doc="HTTP/1.0 or HTTP/1.1, in responses and logs too")
def _capture_req_ver(s: Stream) -> bytes | None:
    return s.req.version if s.req is not None else None


@simple_fetch("capture.res.ver", STR, doc="the response's HTTP version, in logs too")
def _capture_res_ver(s: Stream) -> bytes | None:
    return s.res.version if s.res is not None else None


@simple_fetch("base", STR, needs=REQ, doc="Host header and path")
def _base(s: Stream) -> bytes | None:
    req = s.req
    if req is None:
        return None
    host: bytes | None = req.host
    path: bytes = req.path
    return path if host is None else host + path


def _last_value(values: list[bytes], split: bool) -> bytes | None:
    return _last_item(values[-1], split) if values else None


def _last_item(last: bytes | None, split: bool) -> bytes | None:
    """The value, or with `split` its last comma-separated item."""
    if last is None:
        return None
    # (a search in the text compiles to a C call; in bytes, `in` costs an exception and
    # rfind a method call)
    if not split or "," not in last.decode("latin-1"):
        return last
    return last[last.rfind(b",") + 1 :].strip(b" \t")


def _header_fetch(res: bool, split: bool) -> Callable[[list[str]], Getter]:
    def compile_(args: list[str]) -> Getter:
        name = args[0].strip().lower().encode()
        if len(args) > 1 and args[1].strip() not in ("", "-1"):
            raise SampleError("only the last occurrence (-1) of a header can be fetched yet")
        if res:
            return lambda s: (
                None if s.res is None else _last_value(s.res.header_values(name), split)
            )
        if name == b"host":  # parsed with the request line (the parser refuses a second)
            return lambda s: None if s.req is None else _last_item(s.req.host, split)
        return lambda s: None if s.req is None else _last_value(s.req.header_values(name), split)

    return compile_


def _header_many(res: bool) -> Callable[[list[str]], Callable[[Stream], Any]]:
    """Every value of the header (comma-separated lists split), for ACLs."""

    def compile_(args: list[str]) -> Callable[[Stream], Any]:
        name = args[0].strip().lower().encode()

        def get(s: Stream) -> list[bytes]:
            head = s.res if res else s.req
            if head is None:
                return []
            out: list[bytes] = []
            for v in head.header_values(name):
                out.extend(p.strip(b" \t") for p in v.split(b","))
            return out

        return get

    return compile_


for _name in ("req.hdr", "hdr"):
    fetch(_name, STR, args=(1, 2), needs=REQ, many=_header_many(False))(
        _header_fetch(res=False, split=True)
    )
fetch("req.fhdr", STR, args=(1, 2), needs=REQ)(_header_fetch(res=False, split=False))
for _name in ("res.hdr", "shdr"):
    fetch(_name, STR, args=(1, 2), needs=RES, many=_header_many(True))(
        _header_fetch(res=True, split=True)
    )
fetch("res.fhdr", STR, args=(1, 2), needs=RES)(_header_fetch(res=True, split=False))


@fetch("req.hdr_cnt", INT, args=(1, 1), needs=REQ)
def _hdr_cnt(args: list[str]) -> Getter:
    name = args[0].strip().lower().encode()
    return lambda s: (
        0 if s.req is None else sum(v.count(b",") + 1 for v in s.req.header_values(name))
    )


def _cookie(header: bytes, name: bytes) -> bytes | None:
    found = None
    for part in header.split(b";"):
        k, eq, v = part.strip(b" \t").partition(b"=")
        if eq and k == name:
            found = v
    return found


@fetch("req.cook", STR, args=(1, 1), needs=REQ)
def _req_cook(args: list[str]) -> Getter:
    name = args[0].encode()

    def get(s: Stream) -> bytes | None:
        if s.req is None:
            return None
        found = None
        for h in s.req.header_values(b"cookie"):
            v = _cookie(h, name)
            if v is not None:
                found = v
        return found

    return get


fetch("cook", STR, args=(1, 1), needs=REQ)(_req_cook)


# ---- the response --------------------------------------------------------------------------


@simple_fetch("status", INT, needs=RES)
def _status(s: Stream) -> int | None:
    return s.res.status if s.res is not None else None


@simple_fetch("res.ver", STR, needs=RES)
def _res_ver(s: Stream) -> bytes | None:
    return s.res.version[5:] if s.res is not None else None


# ---- more request fetches --------------------------------------------------------------------


@fetch("url_param", STR, args=(1, 2), needs=REQ, doc="a query-string parameter's value")
def _url_param(args: list[str]) -> Getter:
    from weir.balance.keys import url_param_key

    name = args[0].encode()
    delim = args[1].encode() if len(args) > 1 and args[1] else b"&"

    def get(s: Stream) -> bytes | None:
        if s.req is None:
            return None
        _, sep, query = s.req.target.partition(b"?")
        if not sep:
            return None
        query = query.partition(b"#")[0]
        return url_param_key(query.replace(delim, b"&") if delim != b"&" else query, name)

    return get


fetch("urlp", STR, args=(1, 2), needs=REQ)(_url_param)


@simple_fetch("base32", INT, needs=REQ, doc="a 32-bit hash of `base`")
def _base32(s: Stream) -> int | None:
    base = _base(s)
    if base is None:
        return None
    # HAProxy's base32: the sdbm hash of Host and path, then its full avalanche.
    return full_hash(hash_sdbm(base))


@fetch("req.hdr_val", INT, args=(1, 2), needs=REQ, doc="the last value of a header as an integer")
def _hdr_val(args: list[str]) -> Getter:
    from weir.sample.core import to_int

    get = _header_fetch(res=False, split=True)(args)
    return lambda s: None if (v := get(s)) is None else to_int(v)


fetch("hdr_val", INT, args=(1, 2), needs=REQ)(_hdr_val)


@fetch("res.cook", STR, args=(1, 1), needs=RES)
def _res_cook(args: list[str]) -> Getter:
    name = args[0].encode()

    def get(s: Stream) -> bytes | None:
        if s.res is None:
            return None
        found = None
        for h in s.res.header_values(b"set-cookie"):
            k, eq, v = h.partition(b";")[0].strip().partition(b"=")
            if eq and k == name:
                found = v
        return found

    return get


fetch("scook", STR, args=(1, 1), needs=RES)(_res_cook)


@fetch("req.cook_cnt", INT, args=(0, 1), needs=REQ)
def _cook_cnt(args: list[str]) -> Getter:
    name = args[0].encode() if args and args[0] else None

    def get(s: Stream) -> int | None:
        if s.req is None:
            return None
        n = 0
        for h in s.req.header_values(b"cookie"):
            for part in h.split(b";"):
                k, eq, _ = part.strip().partition(b"=")
                if eq and (name is None or k == name):
                    n += 1
        return n

    return get


fetch("cook_cnt", INT, args=(0, 1), needs=REQ)(_cook_cnt)


@fetch("rand", INT, args=(0, 1), doc="a random integer (below RANGE when given)")
def _rand(args: list[str]) -> Getter:
    import random

    bound = int(args[0]) if args and args[0].isdigit() else 1 << 32
    rng = random.Random()
    return lambda s: rng.randrange(bound) if bound > 0 else 0


@fetch("date", INT, args=(0, 2), doc="the current date in seconds since the epoch (+OFFSET)")
def _date(args: list[str]) -> Getter:
    import time

    try:
        offset = int(args[0]) if args and args[0] else 0
    except ValueError:
        raise SampleError(f"'date' expects an integer offset, got '{args[0]}'") from None
    unit = args[1] if len(args) > 1 else "s"
    scale = {"s": 1, "ms": 1000, "us": 1_000_000}.get(unit)
    if scale is None:
        raise SampleError("'date' units are s, ms and us")
    return lambda s: int(time.time() * scale) + offset * scale


# ---- the request body (`option http-buffer-request`) -----------------------------------------


@simple_fetch("req.body", BIN, needs=REQ, doc="the request body waited for (up to tune.bufsize)")
def _req_body(s: Stream) -> bytes | None:
    return s.req_body[0] if s.req_body is not None else None


@simple_fetch("req.body_len", INT, needs=REQ, doc="the length of the body waited for")
def _req_body_len(s: Stream) -> int | None:
    return len(s.req_body[0]) if s.req_body is not None else None


@simple_fetch("req.body_size", INT, needs=REQ, doc="the whole body's size, when known")
def _req_body_size(s: Stream) -> int | None:
    return s.req_body[1] if s.req_body is not None else None


@fetch("req.body_param", STR, args=(0, 1), needs=REQ, doc="a form parameter of the body")
def _req_body_param(args: list[str]) -> Getter:
    """`req.body_param([name])`: the value of the first `name=value` pair of a
    form-encoded body (of the first pair, without a name); the name is case-sensitive."""
    want = args[0].encode() if args and args[0] else None

    def get(s: Stream) -> bytes | None:
        if s.req_body is None:
            return None
        for pair in s.req_body[0].split(b"&"):
            key, _, value = pair.partition(b"=")
            if want is None or key == want:
                return value
        return None

    return get


@simple_fetch("date_us", INT, doc="the microseconds of the current date")
def _date_us(s: Stream) -> int:
    import time

    return time.time_ns() // 1000 % 1_000_000


@simple_fetch("srv_id", INT, needs=RES, doc="the server's id, once chosen")
def _srv_id(s: Stream) -> int | None:
    return s.server.puid if s.server is not None else None
