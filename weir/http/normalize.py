"""`http-request normalize-uri`: the request target rewritten into one canonical form, so
that rules matching the path cannot be bypassed by an equivalent spelling
(`//admin`, `/./admin`, `/x/../admin`, `/%61dmin`).

Each normalizer is a pure function of the origin-form target (`/path?query#fragment`)
returning the new target, or None when `strict` asks to refuse what cannot be normalised
(a malformed percent sequence): the request then gets a 400. Path normalizers touch the
path only, never the query string.
"""

from __future__ import annotations

import re
from collections.abc import Callable

Normalizer = Callable[[bytes], bytes | None]

_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PCT = re.compile(rb"%(..)?", re.DOTALL)
_HEX = frozenset(b"0123456789abcdefABCDEF")


def _split(target: bytes) -> tuple[bytes, bytes]:
    """(path, the rest: `?query` and/or `#fragment`)."""
    for i, c in enumerate(target):
        if c in (0x3F, 0x23):  # ? #
            return target[:i], target[i:]
    return target, b""


def merge_slashes(target: bytes) -> bytes:
    path, rest = _split(target)
    while b"//" in path:
        path = path.replace(b"//", b"/")
    return path + rest


def strip_dot(target: bytes) -> bytes:
    path, rest = _split(target)
    segs = path.split(b"/")
    kept = [s for i, s in enumerate(segs) if s != b"." or i == 0]
    if segs[-1] == b"." and len(segs) > 1:
        kept.append(b"")
    out = b"/".join(kept)
    return (out or b"/") + rest


def strip_dotdot(target: bytes, full: bool = False) -> bytes:
    path, rest = _split(target)
    segs = path.split(b"/")[1:]
    out: list[bytes] = []
    leading: list[bytes] = []
    for i, s in enumerate(segs):
        last = i == len(segs) - 1
        if s == b"..":
            if out:
                out.pop()
            elif not full:
                leading.append(s)
            if last:
                out.append(b"")
        else:
            out.append(s)
    return b"/" + b"/".join(leading + out) + rest


def percent_decode_unreserved(target: bytes, strict: bool = False) -> bytes | None:
    bad = False

    def sub(m: re.Match[bytes]) -> bytes:
        nonlocal bad
        hexa = m.group(1)
        if hexa is None or not all(c in _HEX for c in hexa):
            bad = True
            return m.group(0)
        c = int(hexa, 16)
        return bytes((c,)) if c in _UNRESERVED else m.group(0)

    out = _PCT.sub(sub, target)
    return None if bad and strict else out


def percent_to_uppercase(target: bytes, strict: bool = False) -> bytes | None:
    bad = False

    def sub(m: re.Match[bytes]) -> bytes:
        nonlocal bad
        hexa = m.group(1)
        if hexa is None or not all(c in _HEX for c in hexa):
            bad = True
            return m.group(0)
        return b"%" + hexa.upper()

    out = _PCT.sub(sub, target)
    return None if bad and strict else out


def query_sort_by_name(target: bytes) -> bytes:
    path, q, query = target.partition(b"?")
    if not q:
        return target
    query, hash_, fragment = query.partition(b"#")
    params = query.split(b"&")
    params.sort(key=lambda p: p.partition(b"=")[0])  # stable: equal names keep their order
    return path + b"?" + b"&".join(params) + hash_ + fragment


def fragment_strip(target: bytes) -> bytes:
    return target.partition(b"#")[0]


def fragment_encode(target: bytes) -> bytes:
    return target.replace(b"#", b"%23")


def normalizer(name: str, options: list[str]) -> Normalizer:
    """The normalizer `name` with its option (`full`, `strict`); ValueError names what is
    wrong."""
    opt = options[0] if options else None
    if len(options) > 1:
        raise ValueError(f"unexpected '{options[1]}'")

    def no_option() -> None:
        if opt is not None:
            raise ValueError(f"'{name}' takes no option, got '{opt}'")

    if name == "path-merge-slashes":
        no_option()
        return merge_slashes
    if name == "path-strip-dot":
        no_option()
        return strip_dot
    if name == "path-strip-dotdot":
        if opt not in (None, "full"):
            raise ValueError(f"'{name}' only takes 'full', got '{opt}'")
        full = opt == "full"
        return lambda t: strip_dotdot(t, full)
    if name in ("percent-decode-unreserved", "percent-to-uppercase"):
        if opt not in (None, "strict"):
            raise ValueError(f"'{name}' only takes 'strict', got '{opt}'")
        strict = opt == "strict"
        fn = (
            percent_decode_unreserved
            if name == "percent-decode-unreserved"
            else percent_to_uppercase
        )
        return lambda t: fn(t, strict)
    if name == "query-sort-by-name":
        no_option()
        return query_sort_by_name
    if name == "fragment-strip":
        no_option()
        return fragment_strip
    if name == "fragment-encode":
        no_option()
        return fragment_encode
    raise ValueError(f"unknown normalizer '{name}'")
