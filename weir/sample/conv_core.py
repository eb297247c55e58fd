"""The common converters: case, encodings, slicing, arithmetic, hashes, regsub, and map
files (`map(FILE[,DEFAULT])` and its match-type variants).

Each converter is compiled once with its arguments (a regex is compiled, a map file is
read and indexed) and runs per request as one call on the value.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from weir.balance.hashes import full_hash, hash_crc32, hash_djb2, hash_sdbm, hash_wt6
from weir.sample.core import (
    ADDR,
    BIN,
    INT,
    STR,
    SampleError,
    converter,
    simple_converter,
    to_int,
    to_str,
)
from weir.sample.patterns import pattern_file
from weir.stream import Stream

Conv = Callable[[Any, Stream], Any]


# ---- strings -----------------------------------------------------------------------------


@simple_converter("lower", STR, STR)
def _lower(v: bytes) -> bytes:
    return v.lower()


@simple_converter("upper", STR, STR)
def _upper(v: bytes) -> bytes:
    return v.upper()


@simple_converter("length", STR, INT)
def _length(v: bytes) -> int:
    return len(v)


@simple_converter("base64", BIN, STR)
def _base64(v: bytes) -> bytes:
    return base64.b64encode(v)


@simple_converter("b64dec", STR, BIN)
def _b64dec(v: bytes) -> bytes | None:
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError):
        return None


@simple_converter("hex", BIN, STR)
def _hex(v: bytes) -> bytes:
    return v.hex().upper().encode()


@converter("url_dec", STR, STR, args=(0, 1))
def _url_dec(args: list[str]) -> Conv:
    """Percent-decoding; `+` becomes a space only in form encoding (`url_dec(1)`)."""
    form = bool(_int_arg(args[0], "in_form flag")) if args else False
    if form:
        return lambda v, s: urllib.parse.unquote_to_bytes(v.replace(b"+", b" "))
    return lambda v, s: urllib.parse.unquote_to_bytes(v)


@simple_converter("url_enc", STR, STR)
def _url_enc(v: bytes) -> bytes:
    return urllib.parse.quote_from_bytes(v, safe="").encode()


@converter("ltrim", STR, STR, args=(1, 1))
def _ltrim(args: list[str]) -> Conv:
    chars = args[0].encode()
    return lambda v, s: v.lstrip(chars)


@converter("rtrim", STR, STR, args=(1, 1))
def _rtrim(args: list[str]) -> Conv:
    chars = args[0].encode()
    return lambda v, s: v.rstrip(chars)


@converter("bytes", BIN, BIN, args=(1, 2))
def _bytes(args: list[str]) -> Conv:
    start = _int_arg(args[0], "offset")
    if len(args) == 1:
        return lambda v, s: v[start:] if start < len(v) else None
    n = _int_arg(args[1], "length")
    return lambda v, s: v[start : start + n] if start < len(v) else None


def _pick(parts: list[bytes], index: int, count: int) -> tuple[int, int] | None:
    """HAProxy's field/word selection as a slice of `parts`: `index` from 1 on the left or
    from -1 on the right, `count` fields (0: all of them up to the end, or from the
    start for a negative index)."""
    n = len(parts)
    if index > 0:
        start = index - 1
        if start >= n:
            return None
        return start, n if count == 0 else min(n, start + count)
    end = n + index + 1
    if end <= 0:
        return None
    return (0 if count == 0 else max(0, end - count)), end


def _field_like(words_only: bool) -> Callable[[list[str]], Conv]:
    def compile_(args: list[str]) -> Conv:
        index = _int_arg(args[0], "index")
        if index == 0:
            raise SampleError("the index must not be 0")
        delims = args[1].encode()
        if not delims:
            raise SampleError("the delimiters must not be empty")
        count = _int_arg(args[2], "count") if len(args) > 2 else 1
        sep = delims[:1]
        splitter = re.compile(b"[" + re.escape(delims) + b"]")

        def conv(v: bytes, s: Stream) -> bytes | None:
            parts = splitter.split(v)
            if words_only:
                parts = [p for p in parts if p]
            span = _pick(parts, index, count)
            return None if span is None else sep.join(parts[span[0] : span[1]])

        return conv

    return compile_


converter("field", STR, STR, args=(2, 3))(_field_like(False))
converter("word", STR, STR, args=(2, 3))(_field_like(True))


@converter("regsub", STR, STR, args=(2, 3))
def _regsub(args: list[str]) -> Conv:
    flags = args[2] if len(args) > 2 else ""
    if set(flags) - set("gi"):
        raise SampleError(f"regsub flags are 'g' and 'i', got '{flags}'")
    try:
        rx = re.compile(args[0].encode(), re.IGNORECASE if "i" in flags else 0)
    except re.error as e:
        raise SampleError(f"invalid regular expression '{args[0]}': {e}") from None
    repl = re.sub(rb"\\([0-9])", rb"\\g<\1>", args[1].encode())
    count = 0 if "g" in flags else 1
    return lambda v, s: rx.sub(repl, v, count=count)


@converter("concat", STR, STR, args=(1, 3))
def _concat(args: list[str]) -> Conv:
    """`concat(BEFORE[,VAR[,AFTER]])`: the variable's value as a string goes between the
    two; a variable that is not set adds nothing (HAProxy's rule)."""
    before = args[0].encode()
    after = args[2].encode() if len(args) > 2 else b""
    if len(args) < 2 or not args[1]:
        return lambda v, s: v + before + after
    from weir.sample.vars import check_var_name, get_var

    name = check_var_name(args[1].strip())

    def conv(v: bytes, s: Stream) -> bytes:
        middle = to_str(get_var(s, name))
        return v + before + (middle or b"") + after

    return conv


# ---- integers -----------------------------------------------------------------------------


def _int_arg(text: str, what: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise SampleError(f"the {what} must be an integer, got '{text}'") from None


def _arith(name: str, fn: Callable[[int, int], int | None]) -> None:
    def compile_(args: list[str]) -> Conv:
        """The operand is an integer, or a variable whose value is read as one, as in
        HAProxy: the result is absent when the variable is not set, and a string that
        does not start with a number counts as 0."""
        text = args[0].strip()
        if text[:1].isalpha():
            from weir.sample.vars import check_var_name, get_var

            var = check_var_name(text)

            def conv(v: int, s: Stream) -> int | None:
                value = get_var(s, var)
                if value is None:
                    return None
                n = to_int(value)
                return fn(v, 0 if n is None else n)

            return conv
        n = _int_arg(text, "operand")
        return lambda v, s: fn(v, n)

    converter(name, INT, INT, args=(1, 1))(compile_)


_arith("add", lambda a, b: a + b)
_arith("sub", lambda a, b: a - b)
_arith("mul", lambda a, b: a * b)
_arith("div", lambda a, b: int(a / b) if b else None)
_arith("mod", lambda a, b: a - b * int(a / b) if b else None)
_arith("and", lambda a, b: a & b)
_arith("or", lambda a, b: a | b)
_arith("xor", lambda a, b: a ^ b)


@simple_converter("neg", INT, INT)
def _neg(v: int) -> int:
    return -v


@simple_converter("not", INT, INT)
def _not(v: int) -> int:
    return int(not v)


@simple_converter("bool", INT, INT)
def _boolc(v: int) -> int:
    return int(bool(v))


@simple_converter("odd", INT, INT)
def _odd(v: int) -> int:
    return v & 1


@simple_converter("even", INT, INT)
def _even(v: int) -> int:
    return int(not v & 1)


# ---- hashes ---------------------------------------------------------------------------------


def _hash(name: str, fn: Callable[[bytes], int]) -> None:
    def compile_(args: list[str]) -> Conv:
        avalanche = bool(_int_arg(args[0], "avalanche flag")) if args else False
        if avalanche:
            return lambda v, s: full_hash(fn(v))
        return lambda v, s: fn(v)

    converter(name, BIN, INT, args=(0, 1))(compile_)


_hash("djb2", hash_djb2)
_hash("sdbm", hash_sdbm)
_hash("wt6", hash_wt6)
_hash("crc32", hash_crc32)


@simple_converter("sha1", BIN, BIN)
def _sha1(v: bytes) -> bytes:
    return hashlib.sha1(v).digest()


@converter("sha2", BIN, BIN, args=(0, 1))
def _sha2(args: list[str]) -> Conv:
    bits = _int_arg(args[0], "size") if args else 256
    if bits not in (224, 256, 384, 512):
        raise SampleError("sha2 sizes are 224, 256, 384 and 512")
    name = f"sha{bits}"
    return lambda v, s: hashlib.new(name, v).digest()


# ---- addresses --------------------------------------------------------------------------------


@converter("ipmask", ADDR, ADDR, args=(1, 2))
def _ipmask(args: list[str]) -> Conv:
    def net(text: str, v6: bool) -> int:
        try:
            if text.isdigit():
                return int(text)
            return ipaddress.ip_network(f"0.0.0.0/{text}").prefixlen
        except ValueError:
            raise SampleError(f"invalid mask '{text}'") from None

    m4 = net(args[0], False)
    m6 = net(args[1], True) if len(args) > 1 else 128

    def conv(v: Any, s: Stream) -> Any:
        bits = m4 if v.version == 4 else m6
        return ipaddress.ip_network(f"{v}/{bits}", strict=False).network_address

    return conv


# ---- maps -----------------------------------------------------------------------------------


def _map_lookup(kind: str, entries: list[tuple[bytes, bytes]]) -> Callable[[Any], bytes | None]:
    """The lookup for one match type, prepared once. Exact string and integer matches use
    a dict; the others try patterns in file order, as HAProxy's pattern lists do (for
    `map_beg`, HAProxy prefers the longest prefix: its prefix tree)."""
    if kind in ("str", ""):
        table: dict[bytes, bytes] = {}
        for k, v in entries:
            table.setdefault(k, v)
        return table.get
    if kind == "int":
        itable: dict[int, bytes] = {}
        for k, v in entries:
            try:
                itable.setdefault(int(k), v)
            except ValueError:
                raise SampleError(f"map key '{k.decode()}' is not an integer") from None
        return lambda key: itable.get(int(key)) if isinstance(key, int) else None
    if kind == "beg":
        ordered = sorted(entries, key=lambda e: -len(e[0]))
        return lambda key: next((v for k, v in ordered if key.startswith(k)), None)
    if kind == "end":
        return lambda key: next((v for k, v in entries if key.endswith(k)), None)
    if kind == "sub":
        return lambda key: next((v for k, v in entries if k in key), None)
    if kind == "reg":
        try:
            regs = [(re.compile(k), v) for k, v in entries]
        except re.error as e:
            raise SampleError(f"invalid regular expression in the map: {e}") from None
        return lambda key: next((v for r, v in regs if r.search(key)), None)
    if kind in ("dir", "dom"):
        sep = b"/" if kind == "dir" else b"."

        def split_match(key: bytes) -> bytes | None:
            parts = key.split(sep)
            for k, v in entries:
                run = k.strip(sep).split(sep)
                n = len(run)
                if any(parts[i : i + n] == run for i in range(len(parts) - n + 1)):
                    return v
            return None

        return split_match
    if kind == "ip":
        nets = []
        for k, v in entries:
            try:
                nets.append((ipaddress.ip_network(k.decode(), strict=False), v))
            except ValueError:
                raise SampleError(f"map key '{k.decode()}' is not an address") from None
        nets.sort(key=lambda e: -e[0].prefixlen)  # the most specific network wins

        def ip_match(key: Any) -> bytes | None:
            try:
                addr = key if not isinstance(key, bytes) else ipaddress.ip_address(key.decode())
            except ValueError:
                return None
            return next((v for n, v in nets if addr.version == n.version and addr in n), None)

        return ip_match
    if kind == "len":
        return lambda key: next((v for k, v in entries if int(k) == len(key)), None)
    raise SampleError(f"unknown map match type '{kind}'")


def _map_converter(kind: str, out: str) -> None:
    name = "map" if kind == "" else f"map_{kind}"
    if out != STR:
        name += "_" + ("int" if out == INT else "ip")
    in_ = INT if kind == "int" else (ADDR if kind == "ip" else STR)

    def compile_(args: list[str]) -> Conv:
        mf = pattern_file(args[0], "map")
        # (version, lookup): rebuilt when the runtime API changes the file.
        state: list[Any] = [mf.version, _map_lookup(kind, mf.entries)]
        default: Any = args[1].encode() if len(args) > 1 else None
        cast: Callable[[bytes], Any] = lambda b: b  # noqa: E731
        if out == INT:
            cast = lambda b: int(b) if b.lstrip(b"-").isdigit() else None  # noqa: E731
        elif out == ADDR:
            cast = _to_ip
        if default is not None:
            default = cast(default)

        def conv(v: Any, s: Stream) -> Any:
            if state[0] != mf.version:
                state[0] = mf.version
                with contextlib.suppress(SampleError):  # a bad entry keeps the last lookup
                    state[1] = _map_lookup(kind, mf.entries)
            found = state[1](v)
            return default if found is None else cast(found)

        return conv

    converter(name, in_, out, args=(1, 2))(compile_)


def _to_ip(b: bytes) -> Any:
    try:
        return ipaddress.ip_address(b.decode())
    except ValueError:
        return None


for _kind in ("", "str", "beg", "sub", "dir", "dom", "end", "reg", "int", "ip", "len"):
    for _out in (STR, INT, ADDR):
        if _kind == "" and _out != STR:
            continue
        _map_converter(_kind, _out)


@converter("json", STR, STR, args=(0, 1))
def _json(args: list[str]) -> Conv:
    """Escape for a JSON string: `json` / `json(ascii)` (UTF-8 passes through unless
    `ascii`), as HAProxy does."""
    mode = args[0] if args else "ascii"
    if mode not in ("ascii", "utf8", "utf8s", "utf8p", "utf8ps", ""):
        raise SampleError(f"json: unknown encoding '{mode}'")

    special = re.compile(
        rb'["\\\x00-\x1f\x7f-\xff]' if mode in ("ascii", "") else rb'["\\\x00-\x1f]'
    )

    def escape(m: re.Match[bytes]) -> bytes:
        c = m.group()[0]
        return b"\\" + m.group() if c in (0x22, 0x5C) else b"\\u%04x" % c

    return lambda v, s: special.sub(escape, v)


@converter("strcmp", STR, INT, args=(1, 1))
def _strcmp(args: list[str]) -> Conv:
    from weir.sample.vars import check_var_name, get_var

    name = check_var_name(args[0])

    def conv(v: bytes, s: Stream) -> int | None:
        other = get_var(s, name)
        if not isinstance(other, bytes):
            return None
        return (v > other) - (v < other)

    return conv
