"""HTTP health checks, sans-IO: the request bytes to send, and the verdict on a response.

What HAProxy 2.6 does, and weir with it:

* The request is `<method> <uri> <version>` (default `OPTIONS / HTTP/1.0`), then the
  headers hidden after the version in the deprecated `\\r\\n` form, then `connection:
  close` for HTTP/1.1, then `content-length` (0 without a body), a blank line and the body.
  Header names go out in lower case, as HAProxy's HTTP/1 layer writes them.
* Without `http-check expect`, a status from 200 to 399 passes (L7OK) and any other fails
  (L7STS, with the reason phrase as detail); a response that is not HTTP fails with L7RSP,
  and so does a connection closed before any byte ("empty response").
* `http-check expect [!] status <codes>|rstatus <regex>|string <text>|rstring <regex>`
  rules are all checked in order, the first that fails decides: a status rule fails with
  L7STS and the reason phrase, a body rule with L7RSP and "HTTP content check did not
  match" ("HTTP check matched unwanted content" when negated). Body rules see the
  de-chunked body, as much of it as fits in the check buffer; a match found early ends
  the check, a mismatch waits for the whole body (or a full buffer, or the close).

`HttpProbe.judge(buf, final)` is called with everything received so far; it returns None
while more bytes could change the verdict and `final` is false (`final`: the server closed,
or the buffer is full).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from weir.check.status import CheckStatus, Verdict
from weir.config.model import HttpCheckConf
from weir.proto.h1 import H1Error, ResponseHead, parse_response_head

DEFAULT_BUFSIZE = 16384  # HAProxy reads a check's response into one buffer of tune.bufsize

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_URI = re.compile(r"[\x21-\x7e]+\Z")
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
_HEADER_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*?)[ \t]*\Z")
_CODES = re.compile(r"[0-9]+(?:-[0-9]+)?(?:,[0-9]+(?:-[0-9]+)?)*\Z")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\Z")
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})

EXPECT_MATCHES = ("status", "rstatus", "string", "rstring")
# HAProxy's other `http-check expect` words: refused by name rather than as typos.
_EXPECT_UNSUPPORTED = frozenset(
    {
        "hdr",
        "fhdr",
        "string-lf",
        "min-recv",
        "comment",
        "ok-status",
        "error-status",
        "tout-status",
        "on-success",
        "on-error",
        "status-code",
    }
)


def _raw(text: str) -> bytes:
    """The bytes the configuration file held (it is read as UTF-8 with surrogateescape)."""
    return text.encode("utf-8", "surrogateescape")


# -- configuration ---------------------------------------------------------------------------


def parse_httpchk(args: list[str]) -> tuple[HttpCheckConf, list[str]]:
    """`option httpchk [<method>] [<uri>] [<version>]` → the settings and any warnings.

    One argument is the URI; two are method and URI. Raises ValueError on a bad argument.
    """
    if len(args) > 3:
        raise ValueError(f"unexpected argument '{args[3]}' (at most <method> <uri> <version>)")
    a = [*args, "", "", ""]
    method, uri, version = "OPTIONS", "/", "HTTP/1.0"
    if a[0]:
        if a[1]:
            method = a[0]
        else:
            uri = a[0]
    if a[1]:
        uri = a[1]
    warnings: list[str] = []
    headers: list[tuple[str, str]] = []
    body = ""
    if a[2]:
        version, headers, body = _split_version(a[2])
        if len(version) != len(a[2]):
            warnings.append(
                "headers or a body hidden after the version with '\\r\\n' is a deprecated "
                "form (HAProxy now wants 'http-check send', which weir does not support yet)"
            )
    if not _TOKEN.match(method):
        raise ValueError(f"invalid HTTP method '{method}'")
    if not _URI.match(uri):
        raise ValueError(f"invalid URI '{uri}' (visible ASCII characters only)")
    if version not in _VERSIONS:
        raise ValueError(
            f"unsupported HTTP version '{version}' (weir checks with HTTP/1.0 or HTTP/1.1)"
        )
    host = next((v for n, v in headers if n.lower() == "host"), None)
    conf = HttpCheckConf(
        method=method, uri=uri, version=version, host=host, headers=headers, body=body
    )
    return conf, warnings


def _split_version(text: str) -> tuple[str, list[tuple[str, str]], str]:
    """The deprecated `HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nbody` form → version, headers, body."""
    first = text.find("\r\n")
    if first < 0:
        return text, [], ""
    blank = text.find("\r\n\r\n")
    version = text[:first]
    if blank == first:
        return version, [], text[blank + 4 :]
    block = text[first + 2 : blank] if blank >= 0 else text[first + 2 :]
    body = text[blank + 4 :] if blank >= 0 else ""
    headers: list[tuple[str, str]] = []
    for line in block.split("\r\n"):
        m = _HEADER_LINE.match(line)
        if m is None:
            raise ValueError(f"invalid header line '{line}' after the version")
        name, value = m.group(1), m.group(2)
        if "%" in value:
            raise ValueError(
                f"header '{name}': log-format sequences ('%') in check headers are not "
                "supported by weir yet"
            )
        if name.lower() in _FRAMING_HEADERS:
            raise ValueError(f"header '{name}' is set by the check itself")
        headers.append((name, value))
    return version, headers, body


def parse_expect(args: list[str]) -> tuple[str, str, bool]:
    """`http-check expect [!] <match> <pattern>` → (match, pattern, negated), validated.

    Raises ValueError naming the problem; HAProxy's forms weir does not run are refused.
    """
    words = list(args)
    negated = False
    while words and words[0].startswith("!"):
        word = words[0]
        stripped = word.lstrip("!")
        if (len(word) - len(stripped)) % 2:
            negated = not negated
        if stripped:
            words[0] = stripped
        else:
            words.pop(0)
    if not words:
        raise ValueError(
            "expects a match ('status', 'rstatus', 'string' or 'rstring') and a pattern"
        )
    match = words[0]
    if match in _EXPECT_UNSUPPORTED:
        raise ValueError(
            f"'{match}' is a HAProxy 'http-check expect' option that weir does not support yet"
        )
    if match not in EXPECT_MATCHES:
        raise ValueError(
            f"unknown match '{match}' (expects 'status', 'rstatus', 'string' or 'rstring')"
        )
    if len(words) < 2:
        raise ValueError(f"'{match}' expects a pattern")
    if len(words) > 2:
        raise ValueError(f"unexpected argument '{words[2]}' after the pattern")
    pattern = words[1]
    compile_expect(match, pattern, negated)  # validates
    return match, pattern, negated


# -- compiled form ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expect:
    """One compiled `http-check expect` rule."""

    match: str
    negated: bool
    codes: tuple[tuple[int, int], ...] = ()
    regex: re.Pattern[bytes] | None = None
    text: bytes = b""

    @property
    def on_body(self) -> bool:
        return self.match in ("string", "rstring")


def compile_expect(match: str, pattern: str, negated: bool) -> Expect:
    """Raises ValueError for a malformed status list or regular expression."""
    if match == "status":
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
        return Expect(match, negated, codes=tuple(codes))
    if match in ("rstatus", "rstring"):
        try:
            regex = re.compile(_raw(pattern))
        except re.error as e:
            raise ValueError(f"invalid regular expression '{pattern}': {e}") from None
        return Expect(match, negated, regex=regex)
    if not pattern:
        raise ValueError("'string' expects a non-empty pattern")
    return Expect(match, negated, text=_raw(pattern))


IMPLICIT_EXPECT = Expect("status", False, codes=((200, 399),))


class HttpProbe:
    """A compiled HTTP check: the request to send and the rules that judge the response."""

    __slots__ = ("bufsize", "empty_step", "method", "request", "rules")

    def __init__(self, conf: HttpCheckConf, bufsize: int = DEFAULT_BUFSIZE) -> None:
        self.method = _raw(conf.method)
        self.request = build_request(conf)
        explicit = [compile_expect(m, p, n) for m, p, n in conf.expects]
        self.rules: tuple[Expect, ...] = tuple(explicit) or (IMPLICIT_EXPECT,)
        # HAProxy names the step that met an empty response: the first explicit expect
        # rule is step 1, the implicit one follows the request, step 2.
        self.empty_step = 1 if explicit else 2
        self.bufsize = bufsize

    def judge(self, buf: bytes, final: bool) -> Verdict | None:
        """The verdict on the response received so far, or None to read more."""
        if not buf:
            if final:
                return Verdict(
                    CheckStatus.L7RSP,
                    None,
                    f"TCPCHK got an empty response at step {self.empty_step}",
                )
            return None
        try:
            parsed = parse_response_head(buf, max_size=self.bufsize)
        except H1Error:
            return Verdict(CheckStatus.L7RSP)
        if parsed is None:
            return Verdict(CheckStatus.L7RSP) if final else None
        head, used = parsed
        code = head.status
        reason = head.reason.decode("latin-1")
        for rule in self.rules:
            if rule.on_body:
                verdict = self._judge_body(rule, head, buf[used:], final)
                if verdict is None or verdict.status is not CheckStatus.L7OK:
                    return _with_code(verdict, code)
                continue
            if rule.match == "status":
                hit = any(lo <= code <= hi for lo, hi in rule.codes)
            else:
                assert rule.regex is not None
                hit = rule.regex.search(b"%d" % code) is not None
            if hit == rule.negated:
                return Verdict(CheckStatus.L7STS, code, reason)
        return Verdict(CheckStatus.L7OK, code)

    def _judge_body(
        self, rule: Expect, head: ResponseHead, rest: bytes, final: bool
    ) -> Verdict | None:
        try:
            body, complete = response_body(head, self.method, rest)
        except ValueError:
            return Verdict(CheckStatus.L7RSP)
        done = complete or final
        if not body:
            if not done:
                return None
            return Verdict(
                CheckStatus.L7RSP, None, "HTTP content check could not find a response body"
            )
        if rule.match == "string":
            if not done and len(body) < len(rule.text):
                return None
            hit = rule.text in body
        else:
            assert rule.regex is not None
            hit = rule.regex.search(body) is not None
        if not hit and not done:
            return None
        if hit == rule.negated:
            desc = (
                "HTTP check matched unwanted content"
                if rule.negated
                else "HTTP content check did not match"
            )
            return Verdict(CheckStatus.L7RSP, None, desc)
        return Verdict(CheckStatus.L7OK)


def _with_code(verdict: Verdict | None, code: int) -> Verdict | None:
    if verdict is None:
        return None
    return Verdict(verdict.status, code, verdict.desc)


def build_request(conf: HttpCheckConf) -> bytes:
    """The bytes of the check request (see the module docstring for the layout)."""
    body = _raw(conf.body)
    lines = [f"{conf.method} {conf.uri} {conf.version}"]
    lines.extend(f"{name.lower()}: {value}" for name, value in conf.headers)
    has_connection = any(name.lower() == "connection" for name, _ in conf.headers)
    if conf.version == "HTTP/1.1" and not has_connection:
        lines.append("connection: close")
    lines.append(f"content-length: {len(body)}")
    return _raw("\r\n".join(lines) + "\r\n\r\n") + body


def response_body(head: ResponseHead, method: bytes, rest: bytes) -> tuple[bytes, bool]:
    """The body bytes received so far (de-chunked) and whether the body is complete.

    Raises ValueError on malformed chunked framing.
    """
    if not head.has_body(method):
        return b"", True
    if head.chunked:
        return _dechunk(rest)
    if head.content_length is not None:
        n = head.content_length
        return rest[:n], len(rest) >= n
    return rest, False  # until the server closes


def _dechunk(data: bytes) -> tuple[bytes, bool]:
    parts: list[bytes] = []
    pos = 0
    n = len(data)
    while True:
        eol = data.find(b"\n", pos)
        if eol < 0:
            return b"".join(parts), False
        line = data[pos:eol].removesuffix(b"\r")
        m = _CHUNK_SIZE.match(line)
        if m is None:
            raise ValueError("invalid chunk size line")
        size = int(m.group(1), 16)
        if size == 0:
            return b"".join(parts), True
        start = eol + 1
        end = start + size
        if end > n:
            parts.append(data[start:])
            return b"".join(parts), False
        parts.append(data[start:end])
        if data.startswith(b"\r\n", end):
            pos = end + 2
        elif data.startswith(b"\n", end):
            pos = end + 1
        elif end + 2 > n:
            return b"".join(parts), False
        else:
            raise ValueError("missing CRLF after chunk data")
