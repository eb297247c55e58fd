"""ACLs and conditions, compiled once at load time into closures over a Stream.

An ACL is `CRITERION [FLAGS] [VALUES…]`: a sample fetch, a matching method and patterns.
`path_beg -i /ms1/` means: fetch the path, match by prefix, ignore case. A condition combines
ACL names (and anonymous ACLs in braces) with implicit AND, `or`/`||`, and `!`.

This module covers the part of HAProxy's sample language the content-switching slice needs:
the fetches in `FETCHES`, the matching methods in `MATCHERS`, and the derived ACL keywords
(`path_beg`, `hdr_dom(host)` …). Anything else that HAProxy knows is refused by name at load
time, never guessed at.

Every fetch returns bytes (or None when absent); patterns are bytes, lower-cased once at
load time with `-i`, so evaluation is a C-level `startswith`/`in`/`==` on the hot path.
"""

from __future__ import annotations

import contextlib
import ipaddress
import operator
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from weir.balance.keys import rdp_cookie_key
from weir.proto.h1 import needle
from weir.sample.core import SampleError
from weir.sample.patterns import PatternFile, pattern_file, set_unique_id
from weir.stream import Stream

Fetch = Callable[[Stream, bytes], bytes | None]
Predicate = Callable[[Stream], bool]


def _path(s: Stream, arg: bytes) -> bytes | None:
    return s.req.path if s.req is not None else None


def _url(s: Stream, arg: bytes) -> bytes | None:
    return s.req.target if s.req is not None else None


def _method(s: Stream, arg: bytes) -> bytes | None:
    return s.req.method if s.req is not None else None


def _query(s: Stream, arg: bytes) -> bytes | None:
    if s.req is None:
        return None
    _, sep, q = s.req.target.partition(b"?")
    return q if sep else None


def _hdr(s: Stream, arg: bytes) -> bytes | None:
    return s.req.header(arg) if s.req is not None else None


def _src(s: Stream, arg: bytes) -> bytes | None:
    return s.client_ip.encode()


# name -> (fetch, needs an argument, default matching method)
FETCHES: Final[dict[str, tuple[Fetch, bool, str]]] = {
    "path": (_path, False, "str"),
    "url": (_url, False, "str"),
    "query": (_query, False, "str"),
    "method": (_method, False, "str"),
    "hdr": (_hdr, True, "str"),
    "req.hdr": (_hdr, True, "str"),
    "src": (_src, False, "ip"),
}

# HAProxy's derived ACL keywords: prefix -> fetch; suffix -> matching method.
_DERIVED: Final = {"path": "path", "url": "url", "hdr": "hdr"}
_SUFFIXES: Final = {
    "beg": "beg",
    "end": "end",
    "sub": "sub",
    "dir": "dir",
    "dom": "dom",
    "reg": "reg",
    "len": "len",
    "cnt": None,  # not in this slice
    "ip": None,
    "val": None,
}

PREDEFINED_ACLS: Final[dict[str, Predicate]] = {
    "TRUE": lambda s: True,
    "FALSE": lambda s: False,
    "METH_GET": lambda s: s.req is not None and s.req.method in (b"GET", b"HEAD"),
    "METH_POST": lambda s: s.req is not None and s.req.method == b"POST",
    "HTTP": lambda s: s.req is not None,
    "HTTP_1.0": lambda s: s.req is not None and s.req.version == b"HTTP/1.0",
    "HTTP_1.1": lambda s: s.req is not None and s.req.version == b"HTTP/1.1",
    "LOCALHOST": lambda s: s.client_ip in ("127.0.0.1", "::1"),
    "METH_CONNECT": lambda s: s.req is not None and s.req.method == b"CONNECT",
    "METH_DELETE": lambda s: s.req is not None and s.req.method == b"DELETE",
    "METH_HEAD": lambda s: s.req is not None and s.req.method == b"HEAD",
    "METH_OPTIONS": lambda s: s.req is not None and s.req.method == b"OPTIONS",
    "METH_PUT": lambda s: s.req is not None and s.req.method == b"PUT",
    "METH_TRACE": lambda s: s.req is not None and s.req.method == b"TRACE",
    "HTTP_URL_ABS": lambda s: s.req is not None and s.req.target[:1] not in (b"/", b"*"),
    "HTTP_URL_SLASH": lambda s: s.req is not None and s.req.target[:1] == b"/",
    "HTTP_URL_STAR": lambda s: s.req is not None and s.req.target == b"*",
    "HTTP_CONTENT": lambda s: s.req is not None and bool(s.req.content_length or s.req.chunked),
    "REQ_CONTENT": lambda s: bool(s.payload),
    "RDP_COOKIE": lambda s: s.payload is not None and rdp_cookie_key(s.payload, b"") is not None,
}


class AclError(ValueError):
    """A malformed ACL or condition; the message is for the user."""


def _matcher(method: str, patterns: list[bytes], icase: bool) -> Callable[[bytes], bool]:
    if icase:
        patterns = [p.lower() for p in patterns]
    pats = tuple(patterns)
    if method == "str":
        pset = frozenset(pats)
        return lambda v: v in pset
    if method == "beg":
        return lambda v: v.startswith(pats)
    if method == "end":
        return lambda v: v.endswith(pats)
    if method == "sub":
        # find(), not `in`: for bytes, `in` first tries its operand as an integer and
        # builds an error message before searching (CPython 3.11)
        return lambda v: any(v.find(p) >= 0 for p in pats)
    if method == "found":
        return lambda v: True
    if method == "len":
        lengths = frozenset(_int_pattern(p) for p in pats)
        return lambda v: len(v) in lengths
    if method == "reg":
        flags = re.IGNORECASE if icase else 0
        try:
            regs = [re.compile(p, flags) for p in pats]
        except re.error as e:
            raise AclError(f"invalid regular expression: {e}") from None
        return lambda v: any(r.search(v) for r in regs)
    if method in ("dir", "dom"):
        sep = b"/" if method == "dir" else b"."
        seps = [sep, b"?"] if method == "dir" else [sep, b":"]

        def split_match(v: bytes) -> bool:
            for s in seps[1:]:
                v = v.replace(s, sep)
            parts = v.split(sep)
            return any(_contains_run(parts, p.strip(sep).split(sep)) for p in pats)

        return split_match
    if method == "ip":
        nets = []
        for p in pats:
            try:
                nets.append(ipaddress.ip_network(p.decode(), strict=False))
            except ValueError:
                raise AclError(f"'{p.decode()}' is not an IP address or network") from None

        def ip_match(v: bytes) -> bool:
            addr = parse_ip(v.decode())
            return addr is not None and any(addr in n for n in nets)

        return ip_match
    raise AclError(f"matching method '-m {method}' is HAProxy's but weir does not support it yet")


_IPS: Final[dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]] = {}


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from its text, remembered: the same few client addresses are parsed
    again and again (bounded; None for text that is not an address)."""
    found = _IPS.get(text, _IPS)
    if found is not _IPS:
        return found  # type: ignore[return-value]
    try:
        addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(text)
    except ValueError:
        addr = None
    if len(_IPS) >= 4096:
        _IPS.clear()
    _IPS[text] = addr
    return addr


def _contains_run(parts: list[bytes], run: list[bytes]) -> bool:
    n = len(run)
    return any(parts[i : i + n] == run for i in range(len(parts) - n + 1))


def _int_pattern(p: bytes) -> int:
    try:
        return int(p)
    except ValueError:
        raise AclError(f"'{p.decode()}' is not an integer") from None


_METHODS: Final = ("str", "beg", "end", "sub", "dir", "dom", "reg", "len", "found", "ip")


def _split_criterion(criterion: str) -> tuple[str, bytes, str | None]:
    """`hdr_beg(host)` → ('hdr', b'host', 'beg'); `path` → ('path', b'', None)."""
    name, paren, rest = criterion.partition("(")
    arg = b""
    if paren:
        if not rest.endswith(")"):
            raise AclError(f"missing ')' in '{criterion}'")
        arg = rest[:-1].split(",")[0].strip().lower().encode()
    if name in FETCHES:
        return name, arg, None
    base, us, suffix = name.rpartition("_")
    if us and base in _DERIVED and suffix in _SUFFIXES:
        method = _SUFFIXES[suffix]
        if method is None:
            raise AclError(f"ACL keyword '{name}' is HAProxy's but weir does not support it yet")
        return _DERIVED[base], arg, method
    raise AclError(f"fetch '{name}' is HAProxy's or unknown, and weir does not support it yet")


def compile_acl(words: Sequence[str], base_dir: Path | None = None) -> Predicate:
    """Compile `CRITERION [FLAGS…] [VALUES…]` into a predicate over a Stream."""
    if not words:
        raise AclError("missing criterion")
    if words[0] in PREDEFINED_ACLS and len(words) == 1:
        return PREDEFINED_ACLS[words[0]]
    if words[0] in ("always_true", "always_false"):
        value = words[0] == "always_true"
        return lambda s: value
    try:
        fetch_name, arg, method = _split_criterion(words[0])
    except AclError:
        sample = _sample_acl(words)
        if sample is None:
            raise
        return sample
    fetch, needs_arg, default_method = FETCHES[fetch_name]
    if needs_arg and not arg:
        raise AclError(f"'{words[0]}' expects a header name in parentheses")
    icase = False
    patterns: list[bytes] = []
    files: list[PatternFile] = []
    file_names: list[str] = []
    as_map = False  # -M: the -f files are maps, whose keys are the patterns
    unique_id: int | None = None
    i = 1
    while i < len(words) and words[i].startswith("-"):
        flag = words[i]
        if flag == "--":
            i += 1
            break
        if flag == "-i":
            icase = True
        elif flag == "-m":
            if i + 1 >= len(words) or words[i + 1] not in _METHODS:
                raise AclError(f"'-m' expects one of: {', '.join(_METHODS)}")
            if method is not None:
                raise AclError(f"'-m' cannot change the matching of '{words[0]}'")
            method = words[i + 1]
            i += 1
        elif flag == "-f":
            if i + 1 >= len(words):
                raise AclError("'-f' expects a file name")
            file_names.append(words[i + 1])
            i += 1
        elif flag == "-M":
            as_map = True
        elif flag == "-u":
            if i + 1 >= len(words) or not words[i + 1].isdigit():
                raise AclError("'-u' expects a number, the unique id of the ACL's pattern file")
            unique_id = int(words[i + 1])
            i += 1
        elif flag == "-n":
            pass  # forbid DNS resolution of patterns: weir never resolves them anyway
        else:
            raise AclError(
                f"ACL flag '{flag}' is HAProxy's or unknown, and weir does not support it yet"
            )
        i += 1
    for name in file_names:
        try:
            files.append(pattern_file(name, "map" if as_map else "acl"))
        except SampleError as e:
            raise AclError(str(e)) from None
    if unique_id is not None:
        if len(files) != 1:
            raise AclError(
                "'-u' names one pattern file (-f) for the runtime API; weir lists no "
                "inline patterns there"
            )
        try:
            set_unique_id(files[0], unique_id)
        except SampleError as e:
            raise AclError(str(e)) from None
    patterns.extend(w.encode("latin-1") for w in words[i:])
    method = method or default_method
    if not patterns and not files and method != "found":
        raise AclError(f"'{words[0]}' needs at least one value to match")
    if not files and method in _INLINE_METHODS:
        return _inline(fetch, arg, method, patterns, icase)
    match = _matcher(method, patterns + _file_patterns(files), icase)
    if files:
        match = _live(match, method, patterns, files, icase)
    if icase:

        def pred(s: Stream) -> bool:
            v = fetch(s, arg)
            return v is not None and match(v.lower())

    else:

        def pred(s: Stream) -> bool:
            v = fetch(s, arg)
            return v is not None and match(v)

    return pred


_STR: Final = 0
_BEG: Final = 1
_END: Final = 2
_SUB: Final = 3
_INLINE_METHODS: Final = {"str": _STR, "beg": _BEG, "end": _END, "sub": _SUB}
_PATH: Final = 0  # where an inline ACL's value comes from
_HDR: Final = 1
_HOST: Final = 2
_OTHER: Final = 3


def _inline(fetch: Fetch, arg: bytes, method: str, patterns: list[bytes], icase: bool) -> Predicate:
    """The most common ACLs (`path_beg /api/`, `hdr(host) -i example.com`) as one closure:
    fetch and comparison without a matcher call between them, the path and header
    fetches done directly (a call through a variable costs a Python-level call), a
    header's name found with its needle made once. Values and patterns are compared as
    latin-1 text, one pattern at a time: compiled code searches and compares text without
    a method call (bytes.find is one); under `-i`, a header's value is read from the
    head's lowered text, and other values have their ASCII letters folded, as HAProxy."""
    pats = tuple((p.lower() if icase else p).decode("latin-1") for p in patterns)
    pset = frozenset(pats)
    how = _INLINE_METHODS[method]
    where = _PATH if fetch is _path else _HDR if fetch is _hdr else _OTHER
    if where == _HDR and arg == b"host" and not icase:
        where = _HOST  # parsed with the request line: no search
    found = needle(arg)

    def inline(s: Stream) -> bool:
        req = s.req
        v: str | None
        if where == _HDR:
            if req is None:
                return False
            v = req.header_lowered(found) if icase else req.header_text(found)
        elif where == _PATH:
            v = None if req is None else req.path_lowered if icase else req.path_text
        else:
            if where == _OTHER:
                b = fetch(s, arg)
            elif req is None:
                return False
            else:
                b = req.host
            if b is None:
                return False
            v = (b.lower() if icase else b).decode("latin-1")
        if v is None:
            return False
        if how == _BEG:
            return any(v.startswith(p) for p in pats)
        if how == _STR:
            return v in pset
        if how == _END:
            return any(v.endswith(p) for p in pats)
        return any(p in v for p in pats)

    return inline


def _sample_acl(words: Sequence[str]) -> Predicate | None:
    """An ACL whose criterion is a sample expression of the sample engine (`ssl_fc`,
    `status`, `res.hdr(x)`, `req.hdr(host),lower`...): None when the engine does not know
    it either. Booleans match on their value; integers against `N`, `N:M` or an operator
    (`gt 10`); strings and addresses as the other ACLs do."""
    from weir.sample import core

    name = words[0].partition("(")[0].partition(",")[0]
    core.load()
    if name not in core.FETCHES:
        return None
    try:
        expr = core.compile_expr(words[0], core.LOG)
    except core.SampleError as e:
        raise AclError(str(e)) from None
    get = expr.get
    rest = list(words[1:])
    method: str | None = None
    icase = False
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag == "--":
            break
        if flag == "-i":
            icase = True
        elif flag == "-m" and rest:
            method = rest.pop(0)
        elif flag != "-n":
            raise AclError(f"ACL flag '{flag}' is not supported with '{words[0]}' yet")
    out = expr.out
    if not rest and method in (None, "bool", "found"):
        if method == "found":
            return lambda s: get(s) is not None
        return lambda s: bool(get(s))
    if (method or ("int" if out in (core.INT, core.BOOL) else None)) == "int":
        return _int_match(get, rest)
    if method is None and out == core.ADDR:
        method = "ip"
    match = _matcher(method or "str", [w.encode("latin-1") for w in rest], icase)
    items = core.split_expr(words[0])
    fd = core.FETCHES[name]
    if fd.many is not None and len(items) == 1 and out in (core.STR, core.BIN):
        # Every occurrence (each header value, each group of a user): any may match.
        many = core.compile_fetch(name, items[0][1], core.LOG, many=True)
        if icase:
            return lambda s: any(match(v.lower()) for v in many(s))
        return lambda s: any(match(v) for v in many(s))
    str_get = core.cast_getter(get, out, core.STR)
    if icase:
        return lambda s: (v := str_get(s)) is not None and match(v.lower())
    return lambda s: (v := str_get(s)) is not None and match(v)


_OPS: Final[dict[str, Callable[[int, int], bool]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _int_match(get: Callable[[Stream], object], words: list[str]) -> Predicate:
    """Integer patterns: `N`, `N:M`, `:M`, `N:`, or one operator and a value."""
    if words and words[0] in _OPS:
        if len(words) != 2:
            raise AclError(f"'{words[0]}' expects one integer")
        op, ref = _OPS[words[0]], _int_pattern(words[1].encode())

        def cmp(s: Stream) -> bool:
            v = get(s)
            return isinstance(v, int) and op(int(v), ref)

        return cmp
    ranges = []
    for w in words:
        lo, colon, hi = w.partition(":")
        low = _int_pattern(lo.encode()) if lo else None
        high = (_int_pattern(hi.encode()) if hi else None) if colon else low
        ranges.append((low, high))

    def in_range(s: Stream) -> bool:
        v = get(s)
        if not isinstance(v, int):
            return False
        n = int(v)
        return any((a is None or n >= a) and (b is None or n <= b) for a, b in ranges)

    return in_range


def _file_patterns(files: list[PatternFile]) -> list[bytes]:
    return [k for f in files for k, _ in f.entries]


def _live(
    match: Callable[[bytes], bool],
    method: str,
    patterns: list[bytes],
    files: list[PatternFile],
    icase: bool,
) -> Callable[[bytes], bool]:
    """A matcher over pattern files that the runtime API may change: rebuilt when one of
    them has a new version."""
    state: list[Any] = [tuple(f.version for f in files), match]

    def live(v: bytes) -> bool:
        versions = tuple(f.version for f in files)
        if versions != state[0]:
            state[0] = versions
            with contextlib.suppress(AclError):  # a bad pattern keeps the last matcher
                state[1] = _matcher(method, patterns + _file_patterns(files), icase)
        result: bool = state[1](v)
        return result

    return live


def check_acl_words(words: list[str]) -> str | None:
    """Validate an ACL at parse time; return the problem, or None when it compiles."""
    try:
        compile_acl(words)
    except AclError as e:
        return str(e)
    return None


_SCOPES: Final[dict[int, tuple[Any, dict[str, list[Predicate]]]]] = {}


def cond_acls(cond: Any, acls: dict[str, list[Predicate]]) -> dict[str, list[Predicate]]:
    """The ACLs a condition names: the proxy's (`acls`), or, for a rule inherited from a
    named defaults section (`cond.scope`), that section's own, compiled once."""
    scope = cond.scope
    if scope is None:
        return acls
    found = _SCOPES.get(id(scope))
    if found is None or found[0] is not scope:
        own: dict[str, list[Predicate]] = {}
        for a in scope.acls:
            own.setdefault(a.name, []).append(compile_acl(a.words))
        found = _SCOPES[id(scope)] = (scope, own)
    return found[1]


def compile_cond(words: Sequence[str], unless: bool, acls: dict[str, list[Predicate]]) -> Predicate:
    """Compile `if`/`unless` words. `acls` maps each name to its predicates (an ACL declared
    several times matches when any declaration matches, as in HAProxy)."""
    groups: list[list[Predicate]] = [[]]
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("or", "||"):
            if not groups[-1]:
                raise AclError("'or' without a term before it")
            groups.append([])
            i += 1
            continue
        negate = False
        if w == "!":
            negate = True
            i += 1
            if i >= len(words):
                raise AclError("'!' at the end of a condition")
            w = words[i]
        elif w.startswith("!") and w != "!":
            negate, w = True, w[1:]
        if w == "{":
            end = _closing_brace(words, i)
            term = compile_acl(words[i + 1 : end])
            i = end + 1
        else:
            term = _named(w, acls)
            i += 1
        groups[-1].append(_negate(term) if negate else term)
    if not groups[-1]:
        raise AclError("empty condition" if len(groups) == 1 else "'or' at the end")
    return _combine(groups, unless)


def _closing_brace(words: Sequence[str], start: int) -> int:
    for j in range(start + 1, len(words)):
        if words[j] == "}":
            return j
    raise AclError("missing '}' closing an anonymous ACL")


def _named(name: str, acls: dict[str, list[Predicate]]) -> Predicate:
    found = acls.get(name)
    if found is None:
        pre = PREDEFINED_ACLS.get(name)
        if pre is None:
            raise AclError(f"unknown ACL '{name}'")
        return pre
    if len(found) == 1:
        return found[0]
    preds = tuple(found)
    return lambda s: any(p(s) for p in preds)


def _negate(p: Predicate) -> Predicate:
    return lambda s: not p(s)


def _combine(groups: list[list[Predicate]], unless: bool) -> Predicate:
    if len(groups) == 1 and len(groups[0]) == 1:
        single = groups[0][0]
        return _negate(single) if unless else single
    terms = [_all_of(g) for g in groups]
    if len(terms) == 1:
        cond = terms[0]
    elif len(terms) == 2:
        a, b = terms
        cond = lambda s: a(s) or b(s)  # noqa: E731
    else:
        frozen = tuple(terms)
        cond = lambda s: any(t(s) for t in frozen)  # noqa: E731
    return _negate(cond) if unless else cond


def _all_of(preds: list[Predicate]) -> Predicate:
    """The AND of a group, without a generator for the usual one to three terms."""
    if len(preds) == 1:
        return preds[0]
    if len(preds) == 2:
        a, b = preds
        return lambda s: a(s) and b(s)
    if len(preds) == 3:
        a, b, c = preds
        return lambda s: a(s) and b(s) and c(s)
    frozen = tuple(preds)
    return lambda s: all(p(s) for p in frozen)
