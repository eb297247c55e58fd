"""Log-format strings in rule values: `http-request set-header X-Client %[src]:%cp`,
`redirect location https://%[req.hdr(host)]%[path]`, `return lf-string ...`.

The string is cut into items by the log-format parser (weir.log.lfparse) and compiled once:
text stays text, `%[expr]` becomes a sample expression evaluated where the rule runs
(request or response), and the connection items that make sense in a header value
(`%ci %cp %fi %fp %ft %f %b %s %H %ID %pid %rt %ST`) read the stream. A string without any
item is a constant: the value costs nothing per request.

Values are bytes. A value containing CR, LF or NUL would split or end the header it is
written into; rules refuse such values at run time (see weir.http.rules).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any, Final

from weir.log.lfparse import Expr, LogFormatError, Sep, Text, Var, parse
from weir.sample import core
from weir.stream import Stream

Value = Callable[[Stream], bytes]


class RuleValueError(ValueError):
    """A rule value that cannot be compiled; the message is for the user."""


_HOST: Final = socket.gethostname().encode()

_VARS: Final[dict[str, Callable[[Stream], Any]]] = {
    "ci": lambda s: s.client_ip,
    "cp": lambda s: s.client_port,
    "fi": lambda s: s.frontend_addr[0] if s.frontend_addr else "",
    "fp": lambda s: s.frontend_addr[1] if s.frontend_addr else "",
    "f": lambda s: s.frontend.name,
    "ft": lambda s: s.frontend.name + ("~" if s.ssl is not None else ""),
    "b": lambda s: s.backend.name if s.backend is not None else "",
    "s": lambda s: s.server.name if s.server is not None else "<NOSRV>",
    "H": lambda s: _HOST.decode(),
    "ID": lambda s: s.unique_id or "",
    "pid": lambda s: os.getpid(),
    "rt": lambda s: s.uniq_id,
    "ST": lambda s: s.res_status,
}


# Where a value is sure to be free of CR, LF and NUL, the rule writing it into a head need
# not look (weir.http.rules): values read from a parsed head (the parser refuses those
# bytes in it) or made of names from the configuration, numbers and addresses, through
# converters that only change case.
_CLEAN_FETCHES: Final = frozenset(
    [
        "hdr",
        "req.hdr",
        "req.fhdr",
        "res.hdr",
        "res.fhdr",
        "path",
        "url",
        "method",
        "query",
        "req.ver",
        "res.ver",
        "fe_name",
        "be_name",
        "srv_name",
    ]
)
_CLEAN_CONVERTERS: Final = frozenset(("lower", "upper"))
_CLEAN_VARS: Final = frozenset(
    ["ci", "cp", "fi", "fp", "f", "ft", "b", "s", "H", "pid", "rt", "ST"]
)
_UNSAFE: Final = frozenset(b"\r\n\0")


def is_clean(text: str) -> bool:
    """Whether every value of the rule string `text` (already compiled without error) is
    free of CR, LF and NUL by construction."""
    core.load()
    nodes, _ = parse(text)
    for node in nodes:
        if isinstance(node, Text):
            if not _UNSAFE.isdisjoint(node.text.encode("latin-1", "replace")):
                return False
        elif isinstance(node, Var):
            if node.name not in _CLEAN_VARS:
                return False
        elif isinstance(node, Expr):
            (name, _), *convs = core.split_expr(node.text)
            fd = core.FETCHES[name]
            if any(c not in _CLEAN_CONVERTERS for c, _ in convs):
                return False
            if name not in _CLEAN_FETCHES and (convs or fd.out not in _NUMBERS):
                return False
    return True


_NUMBERS: Final = frozenset((core.INT, core.BOOL, core.ADDR))

# What a value reads of the head's header lines, for the rule engine to know whether it
# may evaluate a run of header edits before applying them (weir.http.rules.compile_rules).
_NAMED_HEADER: Final = frozenset(
    [
        "hdr",
        "hdr_val",
        "req.fhdr",
        "req.hdr",
        "req.hdr_cnt",
        "req.hdr_val",
        "res.fhdr",
        "res.hdr",
        "shdr",
    ]
)
_COOKIE: Final = {
    "cook": b"cookie",
    "cook_cnt": b"cookie",
    "req.cook": b"cookie",
    "req.cook_cnt": b"cookie",
    "scook": b"set-cookie",
    "res.cook": b"set-cookie",
}
_NO_HEADER: Final = frozenset(
    [
        "src",
        "src_port",
        "dst",
        "dst_port",
        "path",
        "url",
        "method",
        "query",
        "url_param",
        "urlp",
        "fe_name",
        "be_name",
        "srv_name",
        "srv_id",
        "var",
        "env",
        "rand",
        "date",
        "date_us",
        "hostname",
        "pid",
        "str",
        "int",
        "bool",
        "always_true",
        "always_false",
        "req.ver",
        "res.ver",
        "status",
        "nbsrv",
        "be_conn",
        "queue",
        "avg_queue",
        "connslots",
        "srv_is_up",
        "ssl_fc",
        "ssl_fc_sni",
        "ssl_fc_protocol",
        "ssl_fc_cipher",
        "ssl_fc_alpn",
        "ssl_fc_has_sni",
        "ssl_c_used",
        "ssl_c_verify",
        "ssl_c_s_dn",
        "ssl_c_i_dn",
        "ssl_c_serial",
        "ssl_c_sha1",
        "ssl_c_notafter",
        "ssl_c_notbefore",
        "ssl_c_der",
    ]
)


def header_reads(text: str) -> frozenset[bytes] | None:
    """The header names (lower case) whose lines the rule string `text` (compiled without
    error) reads, or None when it may read others (the whole head, or a fetch weir does
    not classify)."""
    core.load()
    nodes, _ = parse(text)
    names: set[bytes] = set()
    for node in nodes:
        if isinstance(node, Var):
            if node.name not in _CLEAN_VARS:  # (none of which reads a header)
                return None
        elif isinstance(node, Expr):
            (name, args), *_ = core.split_expr(node.text)
            if name in _NAMED_HEADER and args:
                names.add(args[0].strip().lower().encode())
            elif name in _COOKIE:
                names.add(_COOKIE[name])
            elif name not in _NO_HEADER:
                return None
    return frozenset(names)


def compile_value(text: str, where: int) -> Value:
    """Compile a log-format string for a rule value evaluated at `where`
    (weir.sample.core.REQ or RES)."""
    return join_parts(compile_parts(text, where))


Part = bytes | Callable[[Stream], bytes]


def compile_parts(text: str, where: int) -> list[Part]:
    """compile_value's pieces, in order: constant bytes (consecutive ones merged) and the
    closures of its expressions and variables."""
    try:
        nodes, json = parse(text)
    except LogFormatError as e:
        raise RuleValueError(str(e)) from None
    if json:
        raise RuleValueError("JSON encoding is for log lines, not rule values")
    parts: list[Part] = []
    for node in nodes:
        p: Part
        if isinstance(node, Text):
            p = node.text.encode("latin-1", "replace")
        elif isinstance(node, Sep):
            p = b" "
        elif isinstance(node, Expr):
            p = _expr(node, where)
        elif isinstance(node, Var):
            p = _var(node.name)
        else:
            continue
        if isinstance(p, bytes) and parts and isinstance(parts[-1], bytes):
            parts[-1] += p
        else:
            parts.append(p)
    return parts


class Fetched:
    """A `%[expr]` piece of a value: called, the bytes of the expression's sample ("" when
    there is none). Its getter and `text` are there for callers that want one call less
    (weir.http.rules.HeaderEdits)."""

    __slots__ = ("get", "is_bytes", "last", "last_text")

    def __init__(self, get: Callable[[Stream], Any], is_bytes: bool) -> None:
        self.get = get
        self.is_bytes = is_bytes  # a string or binary sample: no cast
        # The last sample cast and its text: a connection's requests give the same
        # address object (weir.sample.core.parse_ip keeps them) over and over.
        self.last: Any = None
        self.last_text = b""

    def __call__(self, s: Stream) -> bytes:
        return self.text(self.get(s))

    def text(self, v: Any) -> bytes:
        if v is None:
            return b""
        if self.is_bytes:
            return v  # type: ignore[no-any-return]
        if v is self.last:
            return self.last_text
        t = core.to_str(v) or b""
        self.last, self.last_text = v, t
        return t


def _expr(node: Expr, where: int) -> Fetched:
    try:
        e = core.compile_expr(node.text, where)
    except core.SampleError as err:
        raise RuleValueError(f"in '%[{node.text}]': {err}") from None
    return Fetched(e.get, e.out in (core.STR, core.BIN))


def _var(name: str) -> Callable[[Stream], bytes]:
    fn = _VARS.get(name)
    if fn is None:
        raise RuleValueError(
            f"'%{name}' cannot be used in a rule value here (supported: "
            f"{', '.join('%' + k for k in _VARS)}, and %[expr])"
        )
    return lambda s: str(fn(s)).encode("latin-1", "replace")


def join_parts(parts: list[Part]) -> Value:
    """One closure for the pieces compile_parts made."""
    if not parts:
        return lambda s: b""
    if len(parts) == 1:
        only = parts[0]
        if isinstance(only, bytes):
            return lambda s: only
        return only
    frozen = tuple(parts)
    return lambda s: b"".join(p if isinstance(p, bytes) else p(s) for p in frozen)
