"""The sample language's core: typed values, the fetch and converter registries, and the
compiler that turns `fetch(args),conv(args),…` into one closure over a Stream.

A sample expression is compiled once, at load time. Each fetch and each converter is
registered with a *compiler*: a function that receives the arguments as written, checks
them (raising SampleError with a message for the user) and returns the closure that runs
per request. So an expression like `req.hdr(host),lower,map(hosts.map)` costs, per
request, three calls and no parsing.

Values are plain Python objects, one type per HAProxy sample type:

    str, bin   bytes                 (HAProxy's `meth` is a str here)
    int        int                   (HAProxy's signed 64-bit `sint`)
    bool       bool
    ip         IPv4Address | IPv6Address

A closure returns None when the sample is absent (HAProxy: the fetch "fails"); a
converter that fails returns None too, and the expression's value is then absent.

Where an expression may be used is checked at load time: a fetch declares the earliest
point at which its value exists (`L4` for connection facts, `REQ` once a request head is
parsed, `RES` once a response head is), and each user of the language says where it
evaluates (`REQ` for http-request rules, `RES` for http-response rules, `LOG` for log
formats, which run when the stream ends). `res.hdr` in an http-request rule is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from weir.stream import Stream

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
Value = bytes | int | bool | IP
Getter = Callable[[Stream], Any]  # Stream -> Value | None
ConvFn = Callable[[Any, Stream], Any]  # (value, Stream) -> Value | None

# Sample types.
STR, BIN, INT, BOOL, ADDR, ANY = "str", "bin", "int", "bool", "ip", "any"

# Where a value exists (fetch) / where an expression evaluates (user). Ordered.
L4, L4_CONTENT, REQ, RES, LOG = 0, 1, 2, 3, 4
_PLACE: Final = {L4: "at connection time", L4_CONTENT: "in TCP content", REQ: "on the request"}
_PLACE.update({RES: "on the response", LOG: "in a log format"})
_NEEDS: Final = {L4_CONTENT: "TCP content", REQ: "an HTTP request", RES: "an HTTP response"}


class SampleError(ValueError):
    """A malformed or unsupported sample expression; the message is for the user."""


@dataclass(frozen=True, slots=True)
class FetchDef:
    name: str
    compile: Callable[[list[str]], Getter]
    out: str
    min_args: int
    max_args: int
    needs: int  # the earliest place its value exists (L4, L4_CONTENT, REQ, RES)
    match: str  # the ACL matching method used when none is given
    many: Callable[[list[str]], Callable[[Stream], Sequence[Any]]] | None
    doc: str


@dataclass(frozen=True, slots=True)
class ConvDef:
    name: str
    compile: Callable[[list[str]], ConvFn]
    in_: str
    out: str
    min_args: int
    max_args: int
    doc: str


FETCHES: Final[dict[str, FetchDef]] = {}
CONVERTERS: Final[dict[str, ConvDef]] = {}


def fetch(
    name: str,
    out: str,
    *,
    args: tuple[int, int] = (0, 0),
    needs: int = L4,
    match: str | None = None,
    many: Callable[[list[str]], Callable[[Stream], Sequence[Any]]] | None = None,
    doc: str = "",
) -> Callable[[Callable[[list[str]], Getter]], Callable[[list[str]], Getter]]:
    """Register a fetch compiler. `args` is (min, max) arguments; `many`, for fetches that
    see several occurrences (headers, cookies), compiles the every-occurrence form that
    ACLs match against. (The derived ACL keywords, `path_beg` and the like, come from
    weir.sample.vocabulary.)"""

    def register(compile: Callable[[list[str]], Getter]) -> Callable[[list[str]], Getter]:
        default = match or _DEFAULT_MATCH[out]
        FETCHES[name] = FetchDef(name, compile, out, args[0], args[1], needs, default, many, doc)
        return compile

    return register


def simple_fetch(
    name: str, out: str, *, needs: int = L4, match: str | None = None, doc: str = ""
) -> Callable[[Getter], Getter]:
    """Register an argument-less fetch given directly as its per-stream getter."""

    def register(get: Getter) -> Getter:
        fetch(name, out, needs=needs, match=match, doc=doc)(lambda args: get)
        return get

    return register


def converter(
    name: str, in_: str, out: str, *, args: tuple[int, int] = (0, 0), doc: str = ""
) -> Callable[[Callable[[list[str]], ConvFn]], Callable[[list[str]], ConvFn]]:
    """Register a converter compiler: it checks the arguments and returns (value, stream)
    -> value | None. `in_` is the type the value is cast to before the call."""

    def register(compile: Callable[[list[str]], ConvFn]) -> Callable[[list[str]], ConvFn]:
        CONVERTERS[name] = ConvDef(name, compile, in_, out, args[0], args[1], doc)
        return compile

    return register


def simple_converter(
    name: str, in_: str, out: str, *, doc: str = ""
) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register an argument-less converter given as a function of the value alone."""

    def register(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        converter(name, in_, out, doc=doc)(lambda args: lambda v, s: fn(v))
        return fn

    return register


_DEFAULT_MATCH: Final = {STR: "str", BIN: "bin", INT: "int", BOOL: "bool", ADDR: "ip", ANY: "str"}


# ---- casts ---------------------------------------------------------------------------------


# The text of addresses already converted, by the address object's id (the object is held,
# so its id is not reused): the fetches return the same remembered objects for the same
# clients, and `ipaddress` formats an address in Python, not in C. Bounded.
_ADDR_TEXT: Final[dict[int, tuple[object, bytes]]] = {}


def to_str(v: Any) -> bytes | None:
    if isinstance(v, bytes):
        return v
    if isinstance(v, bool):
        return b"1" if v else b"0"
    if isinstance(v, int):
        return b"%d" % v
    if v is None:
        return None
    known = _ADDR_TEXT.get(id(v))  # an IP address
    if known is not None and known[0] is v:
        return known[1]
    text = str(v).encode()
    if len(_ADDR_TEXT) >= 4096:
        _ADDR_TEXT.clear()
    _ADDR_TEXT[id(v)] = (v, text)
    return text


def to_int(v: Any) -> int | None:
    """HAProxy's string-to-integer cast: an optional sign and leading digits; a string
    that does not start with one is not a number."""
    if isinstance(v, int):  # bool included
        return int(v)
    if isinstance(v, bytes):
        n = len(v) - len(v.lstrip(b"+-"))
        if n > 1:
            return None
        end = n
        while end < len(v) and 48 <= v[end] <= 57:
            end += 1
        return int(v[:end]) if end > n else None
    if isinstance(v, ipaddress.IPv4Address):
        return int(v)
    return None


def to_bool(v: Any) -> bool | None:
    if isinstance(v, int):
        return bool(v)
    if isinstance(v, bytes):
        i = to_int(v)
        return None if i is None else bool(i)
    return None


def to_ip(v: Any) -> IP | None:
    if isinstance(v, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return v
    if isinstance(v, bytes):
        try:
            return ipaddress.ip_address(v.decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            return None
    if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**32:
        return ipaddress.IPv4Address(v)
    return None


CASTS: Final[dict[str, Callable[[Any], Any]]] = {
    STR: to_str,
    BIN: to_str,
    INT: to_int,
    BOOL: to_bool,
    ADDR: to_ip,
}


def _castable(src: str, dst: str) -> bool:
    if ANY in (dst, src) or src == dst:
        return True
    if dst in (STR, BIN):
        return True
    if dst == INT:
        return src in (BOOL, STR, BIN, ADDR)
    if dst == BOOL:
        return src in (INT, STR, BIN)
    if dst == ADDR:
        return src in (STR, BIN, INT)
    return False


def cast_getter(get: Getter, src: str, dst: str) -> Getter:
    """`get` with its value cast from type `src` to `dst` (no wrapper when not needed)."""
    if dst in (src, ANY) or (src, dst) in ((STR, BIN), (BIN, STR)):
        return get
    if dst in (STR, BIN):  # the usual cast, called directly

        def str_get(s: Stream) -> Any:
            v = get(s)
            return None if v is None else to_str(v)

        return str_get
    cast = CASTS[dst]

    def cast_get(s: Stream) -> Any:
        v = get(s)
        return None if v is None else cast(v)

    return cast_get


# ---- parsing ---------------------------------------------------------------------------------


def split_args(text: str) -> list[str]:
    """The arguments inside `(...)`: split at top-level commas; quotes and backslashes
    protect commas and parentheses and are removed, as HAProxy's argument parser does."""
    out: list[str] = []
    cur: list[str] = []
    quote = ""
    i, n = 0, len(text)
    depth = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            cur.append(text[i + 1])
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
            else:
                cur.append(c)
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
            cur.append(c)
        elif c == ")":
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if quote:
        raise SampleError(f"missing closing quote in '{text}'")
    out.append("".join(cur))
    return out


def split_expr(text: str) -> list[tuple[str, list[str] | None]]:
    """`f(a,b),c1,c2(x)` -> [('f', ['a','b']), ('c1', None), ('c2', ['x'])]."""
    items: list[tuple[str, list[str] | None]] = []
    i, n = 0, len(text)
    while True:
        start = i
        while i < n and text[i] not in "(,":
            i += 1
        name = text[start:i].strip()
        if not name:
            raise SampleError(f"missing fetch or converter name in '{text}'")
        args: list[str] | None = None
        if i < n and text[i] == "(":
            close = _closing_paren(text, i)
            args = split_args(text[i + 1 : close])
            i = close + 1
        items.append((name, args))
        if i >= n:
            return items
        if text[i] != ",":
            raise SampleError(f"unexpected '{text[i]}' after '{text[start:i]}' in '{text}'")
        i += 1


def _closing_paren(text: str, open_at: int) -> int:
    depth = 0
    quote = ""
    i = open_at
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise SampleError(f"missing ')' in '{text}'")


# ---- compiling -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expr:
    """A compiled sample expression: `get(stream)` is its value or None."""

    text: str
    get: Getter
    out: str
    fetch: FetchDef


def _check_count(kind: str, name: str, args: list[str], lo: int, hi: int) -> None:
    n = len(args)
    if lo <= n <= hi:
        return
    if hi == 0:
        raise SampleError(f"{kind} '{name}' takes no argument")
    want = f"{lo}" if lo == hi else f"{lo} to {hi}"
    raise SampleError(f"{kind} '{name}' expects {want} argument(s), got {n}")


def compile_fetch(name: str, args: list[str] | None, where: int, *, many: bool = False) -> Getter:
    fd = FETCHES.get(name)
    if fd is None:
        raise SampleError(unknown_fetch(name))
    check_place(fd, where)
    a = args or []
    _check_count("fetch", name, a, fd.min_args, fd.max_args)
    if many and fd.many is not None:
        return fd.many(a)
    return fd.compile(a)


def check_place(fd: FetchDef, where: int) -> None:
    if fd.needs > where and not (where == LOG and fd.needs <= RES):
        raise SampleError(
            f"fetch '{fd.name}' needs {_NEEDS[fd.needs]}, which is not available {_PLACE[where]}"
        )


def unknown_fetch(name: str) -> str:
    from weir.sample import vocabulary

    if name in vocabulary.HAPROXY_FETCHES:
        return f"sample fetch '{name}' is HAProxy's but weir does not support it yet"
    return f"unknown sample fetch '{name}'"


def unknown_converter(name: str) -> str:
    from weir.sample import vocabulary

    if name in vocabulary.HAPROXY_CONVERTERS:
        return f"converter '{name}' is HAProxy's but weir does not support it yet"
    return f"unknown converter '{name}'"


def compile_expr(text: str, where: int = LOG, *, want: str = ANY) -> Expr:
    """Compile `fetch[(args)][,conv[(args)]]…` for use at `where`; the value is cast to
    `want` when given. Raises SampleError."""
    load()
    items = split_expr(text)
    (name, args), convs = items[0], items[1:]
    fd = FETCHES.get(name)
    if fd is None:
        raise SampleError(unknown_fetch(name))
    get = compile_fetch(name, args, where)
    get, out = chain(get, fd.out, convs)
    if not _castable(out, want):
        raise SampleError(f"'{text}' gives a {out} value where a {want} is expected")
    return Expr(text, cast_getter(get, out, want), want if want != ANY else out, fd)


def chain(get: Getter, out: str, convs: list[tuple[str, list[str] | None]]) -> tuple[Getter, str]:
    """`get` followed by the converters, with the casts between them."""
    for cname, cargs in convs:
        cd = CONVERTERS.get(cname)
        if cd is None:
            raise SampleError(unknown_converter(cname))
        a = cargs or []
        _check_count("converter", cname, a, cd.min_args, cd.max_args)
        if not _castable(out, cd.in_):
            raise SampleError(f"converter '{cname}' expects a {cd.in_} value, not {out}")
        fn = cd.compile(a)
        get = _apply(cast_getter(get, out, cd.in_), fn)
        out = cd.out if cd.out != ANY else out
    return get, out


def _apply(get: Getter, fn: ConvFn) -> Getter:
    def conv_get(s: Stream) -> Any:
        v = get(s)
        return None if v is None else fn(v, s)

    return conv_get


_LOADED = False


def load() -> None:
    """Import every module of this package that registers fetches (`fetch_*`) or
    converters (`conv_*`), once."""
    global _LOADED
    if _LOADED:
        return
    _LOADED = True
    import importlib
    import pkgutil

    import weir.sample as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith(("fetch_", "conv_")):
            importlib.import_module(f"weir.sample.{info.name}")
