"""The tcp-check rule language: the one form every health check compiles to.

HAProxy 2.6 runs every check as an ordered list of rules, and so does weir: `option
httpchk`, `option redis-check` and the other protocol checks, the agent check, a
`tcp-check` script and the plain connection check are all a `Ruleset`. Three actions:

* `Connect` opens a connection (the server's check address and port unless the rule
  names others), dropping any previous one and everything received on it;
* `Send` writes bytes, fixed or built at each check (an HTTP request, an agent string);
  the input buffer is emptied before each send, so expects after it see only its answer;
* `Expect` judges what was received so far: a substring, a regular expression, a
  hexadecimal pattern, an HTTP status, header or body, or a protocol's own parser.

Consecutive expects judge the same bytes. An expect that needs more bytes makes the
engine read more and start again from the head of its chain of expects (the earliest
negated one before it, whose verdict more bytes could change).

This module holds the compiled rules and parses `tcp-check` lines into them; pure data,
no sockets. `weir.check.engine` evaluates a ruleset, `weir.check.httpchk` parses
`http-check` lines and `weir.check.protocols` builds the protocol checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

from weir.check.status import CheckStatus, Verdict
from weir.config.address import Address, AddressError, Family, parse_address

if TYPE_CHECKING:
    from weir.check.engine import Flow, RunEnv


class Proto(Enum):
    """The family a ruleset comes from; it decides the messages a failure carries."""

    DEFAULT = "default"  # no check option: a connection is the whole check
    TCP = "tcp-check"  # `option tcp-check`: generic "TCPCHK ..." messages, "(tcp-check)"
    HTTP = "httpchk"
    REDIS = "redis-check"
    MYSQL = "mysql-check"
    PGSQL = "pgsql-check"
    SMTP = "smtpchk"
    LDAP = "ldap-check"
    SSL3 = "ssl-hello-chk"
    AGENT = "agent-check"


class ExpectKind(Enum):
    STRING = "string"
    RSTRING = "rstring"
    BINARY = "binary"
    RBINARY = "rbinary"
    CUSTOM = "custom"
    HTTP_STATUS = "status"
    HTTP_RSTATUS = "rstatus"
    HTTP_HEADER = "hdr"
    HTTP_BODY = "http-string"
    HTTP_RBODY = "http-rstring"


Describe = Callable[[bytes], str]
"""Builds a check's detail text from the bytes received (HAProxy's `on-error` and
`on-success` formats of the built-in checks)."""

SendBuilder = Callable[["RunEnv"], bytes]
Custom = Callable[[Any, "Expect", bool], "Verdict | Flow"]
"""A protocol's own judge: (the engine's run, the rule, last_read) -> a verdict that ends
the check, or Flow.CONTINUE / Flow.WAIT."""


@dataclass(frozen=True, slots=True)
class Connect:
    index: int = 0
    comment: str = ""
    port: int = 0  # 0: the check port (`port`, `addr`'s port, the server's port)
    address: Address | None = None  # None: the check address (`addr`, else the server's)
    send_proxy: bool = False
    linger: bool = False  # close with a FIN rather than a reset
    default: bool = False  # also apply the server's check options (`check-send-proxy`)
    implicit: bool = False  # added because the rules did not start with a connect


@dataclass(frozen=True, slots=True)
class Send:
    index: int = 0
    comment: str = ""
    data: bytes = b""
    build: SendBuilder | None = None  # bytes computed at each check instead of `data`
    method: bytes = b""  # an HTTP request's method (a HEAD response has no body)


@dataclass(frozen=True, slots=True)
class HeaderMatch:
    """`http-check expect [f]hdr name [-m meth] <name> [value [-m meth] <value>]`."""

    name_method: str  # str | beg | end | sub | reg (names compare case-insensitively)
    name: bytes  # lower case
    name_re: re.Pattern[bytes] | None
    value_method: str  # none | str | beg | end | sub | reg
    value: bytes
    value_re: re.Pattern[bytes] | None
    full: bool  # fhdr: the whole value; hdr: each comma-separated value


@dataclass(frozen=True, slots=True)
class Expect:
    kind: ExpectKind
    index: int = 0
    comment: str = ""
    negated: bool = False
    pattern: str = ""  # as written, for messages
    text: bytes = b""  # what string/binary/body rules look for
    regex: re.Pattern[bytes] | None = None
    codes: tuple[tuple[int, int], ...] = ()
    header: HeaderMatch | None = None
    min_recv: int = -1  # -1: a mismatch waits for more bytes until the end
    ok_status: CheckStatus | None = None
    err_status: CheckStatus | None = None
    tout_status: CheckStatus | None = None
    on_success: Describe | None = None
    on_error: Describe | None = None
    status_code: Callable[[bytes], int | None] | None = None
    custom: Custom | None = None
    head: int = -1  # position of the head of its chain of expects, set by `Ruleset`


Rule = Connect | Send | Expect


@dataclass(frozen=True, slots=True)
class Ruleset:
    """A compiled check: rules in order, always starting with a `Connect`.

    Build it with `make_ruleset`, which adds the implicit first connect, moves comments
    onto the rules they describe and links every expect to the head of its chain.
    """

    proto: Proto
    rules: tuple[Rule, ...]
    disable_404: bool = False  # `http-check disable-on-404`
    send_state: bool = False  # `http-check send-state`
    has_connect_port: bool = field(default=False)  # some connect rule names a port

    def is_last(self, rule: Rule) -> bool:
        return rule is self.rules[-1]


Line = tuple[Rule | None, str]
"""A parsed rule line: the rule, or None for a `comment` line, and its comment text."""


def make_ruleset(
    proto: Proto,
    lines: Sequence[Line],
    *,
    indexes: Sequence[int] | None = None,
    disable_404: bool = False,
    send_state: bool = False,
) -> Ruleset:
    """Compile parsed lines, in order, into a Ruleset.

    A rule's index (its step number - 1) is its line position unless `indexes` gives
    them. As in HAProxy: a `comment` line names the rule after it and every following
    rule of the same action until another action comes (a connect takes it alone);
    rules that have their own comment keep it. A ruleset not starting with a connect
    gets an implicit one, whose step number is 0.
    """
    rules: list[Rule] = []
    comment = ""
    prev: type | None = None
    for pos, (rule, text) in enumerate(lines):
        if rule is None:
            comment = text
            prev = None
            continue
        if prev is not None and type(rule) is not prev:
            comment = ""
        prev = type(rule)
        index = indexes[pos] if indexes is not None else pos
        rules.append(replace(rule, index=index, comment=text or comment))
        if isinstance(rule, Connect):
            comment = ""
    if not rules or not isinstance(rules[0], Connect):
        rules.insert(0, Connect(index=0, default=True, implicit=True))
    linked: list[Rule] = []
    negated_at = -1  # the earliest negated expect of the current run of expects
    for pos, rule in enumerate(rules):
        if isinstance(rule, Expect):
            linked.append(replace(rule, head=negated_at if negated_at >= 0 else pos))
            if rule.negated and negated_at < 0:
                negated_at = pos
        else:
            negated_at = -1
            linked.append(rule)
    has_port = any(isinstance(r, Connect) and (r.port or _address_port(r)) for r in linked)
    return Ruleset(proto, tuple(linked), disable_404, send_state, has_port)


def _address_port(rule: Connect) -> int:
    a = rule.address
    return a.port_low if a is not None and a.family is not Family.UNIX else 0


def step_id(rule: Rule) -> int:
    """HAProxy's step number of a rule: its line position + 1; 0 for an implicit connect."""
    if isinstance(rule, Connect) and rule.implicit:
        return 0
    return rule.index + 1


# -- parsing `tcp-check` lines -------------------------------------------------------------

_HEX = re.compile(r"(?:[0-9A-Fa-f]{2})+\Z")
_STATUS_FIELDS = {
    "ok-status": "ok_status",
    "error-status": "err_status",
    "tout-status": "tout_status",
}
_CHECK_STATUSES = {
    "ok-status": ("L7OK", "L7OKC", "L6OK", "L4OK"),
    "error-status": ("L7RSP", "L7STS", "L7OKC", "L6RSP", "L4CON"),
    "tout-status": ("L7TOUT", "L6TOUT", "L4TOUT"),
}


def raw(text: str) -> bytes:
    """The bytes the configuration file held (it is read as UTF-8 with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


def parse_binary(text: str) -> bytes:
    """A hexadecimal string (`send-binary`, `expect binary`) → bytes; ValueError if bad."""
    if not _HEX.match(text):
        raise ValueError(
            f"invalid binary string '{text}' (expects an even number of hexadecimal digits)"
        )
    return bytes.fromhex(text)


def compile_regex(pattern: str, *, icase: bool = False) -> re.Pattern[bytes]:
    try:
        return re.compile(raw(pattern), re.IGNORECASE if icase else 0)
    except re.error as e:
        raise ValueError(f"invalid regular expression '{pattern}': {e}") from None


def _comment_arg(words: Sequence[str], i: int) -> str:
    if i + 1 >= len(words) or not words[i + 1]:
        raise ValueError(f"'{words[i]}' expects a string as argument")
    return words[i + 1]


def parse_connect(words: Sequence[str], family: str) -> Line:
    """`<family> connect [default] [port <port>] [addr <ip>[:<port>]] [send-proxy]
    [linger] [comment <text>]`. `ssl`, `sni`, `alpn`, `proto` and `via-socks4` are
    HAProxy's but refused: weir's checks speak neither TLS nor SOCKS4 yet."""
    rule = Connect()
    comment = ""
    i = 1
    while i < len(words):
        w = words[i]
        if w == "default":
            rule = replace(rule, default=True)
        elif w == "linger":
            rule = replace(rule, linger=True)
        elif w == "send-proxy":
            rule = replace(rule, send_proxy=True)
        elif w == "port":
            if i + 1 >= len(words) or not words[i + 1]:
                raise ValueError("'port' expects a port number as argument")
            rule = replace(rule, port=_port(words[i + 1]))
            i += 1
        elif w == "addr":
            if i + 1 >= len(words) or not words[i + 1]:
                raise ValueError("'addr' expects <ipv4|ipv6>[:<port>] as argument")
            rule = replace(rule, address=_connect_address(words[i + 1]))
            i += 1
        elif w == "comment":
            comment = _comment_arg(words, i)
            i += 1
        elif w in ("ssl", "sni", "alpn", "proto", "via-socks4"):
            raise ValueError(
                f"'{w}' is a HAProxy '{family} connect' option that weir does not support "
                "yet (its checks speak neither TLS nor SOCKS4, nor choose a multiplexer)"
            )
        else:
            raise ValueError(
                "expects 'comment', 'port', 'addr', 'send-proxy', 'linger' or 'default' "
                f"but got '{w}' as argument"
            )
        i += 1
    return rule, comment


def _port(text: str) -> int:
    if not text.isdigit():
        raise ValueError(
            f"expects a port number, got '{text}' (sample expressions are not supported "
            "by weir yet)"
        )
    port = int(text)
    if not 1 <= port <= 65535:
        raise ValueError(f"expects a valid TCP port (from 1 to 65535), got {text}")
    return port


def _connect_address(text: str) -> Address:
    try:
        address = parse_address(text, for_bind=False, port_optional=True)
    except AddressError as e:
        raise ValueError(f"'addr' : {e}") from None
    if address.family is Family.FD:
        raise ValueError(f"'addr' : '{text}' is not an address a check can connect to")
    return address


def parse_send(words: Sequence[str]) -> Line:
    """`tcp-check send <string> [comment <text>]`, `tcp-check send-binary <hex> [...]`."""
    kind = words[0]
    if len(words) < 2 or not words[1]:
        what = "binary string" if kind == "send-binary" else "string"
        raise ValueError(f"'{kind}' expects a {what} as argument")
    data = parse_binary(words[1]) if kind == "send-binary" else raw(words[1])
    comment = ""
    i = 2
    while i < len(words):
        if words[i] != "comment":
            raise ValueError(f"expects 'comment' but got '{words[i]}' as argument")
        comment = _comment_arg(words, i)
        i += 2
    return Send(data=data), comment


def parse_comment(words: Sequence[str]) -> Line:
    if len(words) < 2 or not words[1]:
        raise ValueError("expects a string as argument")
    if len(words) > 2:
        raise ValueError(f"unexpected argument '{words[2]}' after the comment")
    return None, words[1]


_TCP_MATCHES = ("string", "rstring", "binary", "rbinary")
_HTTP_MATCHES = ("status", "rstatus", "string", "rstring", "hdr", "fhdr")
_LOG_FORMAT_MATCHES = ("string-lf", "binary-lf")


def parse_expect(words: Sequence[str], *, http: bool) -> Line:
    """`tcp-check expect` / `http-check expect` → a rule; ValueError names the problem.

    `[!] <match> <pattern>` with, in any order, `min-recv <n>`, `comment <text>`,
    `ok-status`, `error-status`, `tout-status` and literal `on-success` / `on-error`
    texts. Log-format patterns and texts, `status-code` and `custom` are refused.
    """
    matches = _HTTP_MATCHES if http else _TCP_MATCHES
    family = "http-check" if http else "tcp-check"
    args: dict[str, Any] = {}
    kind: ExpectKind | None = None
    pattern = ""
    negated = False
    comment = ""
    header: HeaderMatch | None = None
    i = 1
    if len(words) < 2:
        raise ValueError("expects at least a matching pattern as arguments")
    while i < len(words):
        w = words[i]
        if w.startswith("!"):
            stripped = w.lstrip("!")
            if (len(w) - len(stripped)) % 2:
                negated = not negated
            if not stripped:
                i += 1
                continue
            w = stripped
            if w not in matches:
                raise ValueError(f"[!] not supported with '{w}'")
        if w in matches:
            if kind is not None:
                raise ValueError("only one pattern expected")
            if w in ("hdr", "fhdr"):
                header, i = _parse_header_match(words, i, w)
                kind = ExpectKind.HTTP_HEADER
                pattern = w
                i += 1
                continue
            if i + 1 >= len(words) or not words[i + 1]:
                raise ValueError(f"'{w}' expects a <pattern> as argument")
            pattern = words[i + 1]
            kind = _kind(w, http)
            i += 2
            continue
        if w in _LOG_FORMAT_MATCHES or w in ("custom", "status-code"):
            raise ValueError(
                f"'{w}' is a HAProxy '{family} expect' option that weir does not support yet "
                "(log-format strings and sample expressions)"
            )
        if w == "min-recv":
            args["min_recv"] = _min_recv(words, i)
        elif w == "comment":
            comment = _comment_arg(words, i)
        elif w in ("on-success", "on-error"):
            text = _comment_arg(words, i)
            if "%" in text:
                raise ValueError(
                    f"'{w}' : log-format sequences ('%') are not supported by weir yet"
                )
            args[w.replace("-", "_")] = _constant(text)
        elif w in _CHECK_STATUSES:
            args[_STATUS_FIELDS[w]] = _status_arg(words, i)
        else:
            expected = "', '".join(matches)
            raise ValueError(
                f"only supports '[!]{expected}', 'min-recv', 'comment', 'ok-status', "
                f"'error-status', 'tout-status', 'on-success' or 'on-error' but got '{w}' "
                "as argument"
            )
        i += 2
    if kind is None:
        raise ValueError("pattern not found")
    rule = _compile(kind, pattern, negated, header)
    return replace(rule, **args), comment


def _kind(word: str, http: bool) -> ExpectKind:
    if http:
        return {
            "status": ExpectKind.HTTP_STATUS,
            "rstatus": ExpectKind.HTTP_RSTATUS,
            "string": ExpectKind.HTTP_BODY,
            "rstring": ExpectKind.HTTP_RBODY,
        }[word]
    return ExpectKind(word)


def _min_recv(words: Sequence[str], i: int) -> int:
    if i + 1 >= len(words) or not words[i + 1]:
        raise ValueError("'min-recv' expects an integer as argument")
    text = words[i + 1]
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"'min-recv' expects -1 or an integer, got '{text}'") from None
    if not -1 <= value <= 2**31 - 1:
        raise ValueError("'min-recv' expects -1 or an integer from 0 to 2147483647")
    return value


def _status_arg(words: Sequence[str], i: int) -> CheckStatus:
    name = words[i]
    allowed = _CHECK_STATUSES[name]
    if i + 1 >= len(words) or not words[i + 1]:
        raise ValueError(f"'{name}' expects a string as argument")
    value = words[i + 1].upper()
    if value not in allowed:
        raise ValueError(
            f"'{name}' only supports {', '.join(repr(a) for a in allowed)} status "
            f"(got '{words[i + 1]}')"
        )
    return CheckStatus(value)


def _constant(text: str) -> Describe:
    def describe(_: bytes) -> str:
        return text

    return describe


def _compile(kind: ExpectKind, pattern: str, negated: bool, header: HeaderMatch | None) -> Expect:
    if kind is ExpectKind.HTTP_STATUS:
        return Expect(kind, negated=negated, pattern=pattern, codes=parse_codes(pattern))
    if kind in (ExpectKind.RSTRING, ExpectKind.RBINARY, ExpectKind.HTTP_RSTATUS) or (
        kind is ExpectKind.HTTP_RBODY
    ):
        return Expect(kind, negated=negated, pattern=pattern, regex=compile_regex(pattern))
    if kind is ExpectKind.BINARY:
        return Expect(kind, negated=negated, pattern=pattern, text=parse_binary(pattern))
    if kind is ExpectKind.HTTP_HEADER:
        return Expect(kind, negated=negated, pattern=pattern, header=header)
    return Expect(kind, negated=negated, pattern=pattern, text=raw(pattern))


_CODES = re.compile(r"[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*\Z")


def parse_codes(pattern: str) -> tuple[tuple[int, int], ...]:
    """`200`, `200-399`, `200,302-304` → ranges; ValueError if malformed."""
    if not _CODES.match(pattern):
        raise ValueError(
            f"invalid list of status codes '{pattern}' (such as '200', '200-399' or '200,302')"
        )
    codes: list[tuple[int, int]] = []
    for item in pattern.split(","):
        low, _, high = item.partition("-")
        lo, hi = int(low), int(high or low)
        if lo > hi:
            raise ValueError(f"invalid range of status codes '{item}'")
        codes.append((lo, hi))
    return tuple(codes)


_METHODS = ("str", "beg", "end", "sub", "reg")


def _parse_header_match(words: Sequence[str], i: int, which: str) -> tuple[HeaderMatch, int]:
    """`hdr name [-m <meth>] <name> [value [-m <meth>] <value>]`; returns the match and
    the position of its last word."""
    n = len(words)
    if i + 2 >= n or words[i + 1] not in ("name", "name-lf"):
        raise ValueError(f"'{which}' expects the name keyword as first argument, then a pattern")
    if words[i + 1] == "name-lf":
        raise ValueError(f"'{which}' : 'name-lf' (log-format) is not supported by weir yet")
    i += 2
    name_method = "str"
    if words[i] == "-m":
        name_method = _method(words, i, which)
        i += 2
    if i >= n or not words[i]:
        raise ValueError(f"'{which}' expects a header name pattern")
    name = words[i]
    value_method, value = "none", ""
    if i + 1 < n and words[i + 1] in ("value", "value-lf"):
        if words[i + 1] == "value-lf":
            raise ValueError(f"'{which}' : 'value-lf' (log-format) is not supported by weir yet")
        i += 2
        value_method = "str"
        if i < n and words[i] == "-m":
            value_method = _method(words, i, which)
            i += 2
        if i >= n or not words[i]:
            raise ValueError(f"'{which}' expects a pattern with the value keyword")
        value = words[i]
    match = HeaderMatch(
        name_method=name_method,
        name=raw(name).lower(),
        name_re=compile_regex(name, icase=True) if name_method == "reg" else None,
        value_method=value_method,
        value=raw(value),
        value_re=compile_regex(value) if value_method == "reg" else None,
        full=which == "fhdr",
    )
    return match, i


def _method(words: Sequence[str], i: int, which: str) -> str:
    if i + 1 >= len(words) or not words[i + 1]:
        raise ValueError(
            f"'{which}' : '-m' expects a matching method ('str', 'beg', 'end', 'sub' or 'reg')"
        )
    method = words[i + 1]
    if method not in _METHODS:
        raise ValueError(
            f"'{which}' : '-m' only supports 'str', 'beg', 'end', 'sub' or 'reg' (got '{method}')"
        )
    return method


TCP_CHECK_ACTIONS: dict[str, Callable[[Sequence[str]], Line]] = {
    "connect": lambda words: parse_connect(words, "tcp-check"),
    "send": parse_send,
    "send-binary": parse_send,
    "expect": lambda words: parse_expect(words, http=False),
    "comment": parse_comment,
}
"""`tcp-check <action> …` parsers by action; each takes the words from the action on."""
