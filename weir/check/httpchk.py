"""HTTP health checks on the rule engine: the request to send and the response rules.

What HAProxy 2.6 does, and weir with it:

* `option httpchk [<method>] [<uri>] [<version>]` (one argument is the URI) and
  `http-check send [meth <m>] [uri <u>] [ver <v>] [hdr <name> <value>]… [body <text>]`
  describe one request. The option's request and the first `http-check send` are merged,
  whatever their order: the later of the two sets the parts it names, and the headers
  are those of the later one (HAProxy's rule, kept as is).
* The request is `<method> <uri> <version>` (default `OPTIONS / HTTP/1.0`), the headers
  (names in lower case, as HAProxy's HTTP/1 layer writes them), `x-haproxy-server-state`
  with `http-check send-state`, `connection: close` for HTTP/1.1 unless a Connection
  header was given, `content-length` (0 without a body), a blank line and the body.
* Without any `http-check expect`, a status from 200 to 399 passes (L7OK) and any other
  fails (L7STS, with the reason phrase as detail). A response that is not HTTP fails
  with L7RSP, and so does a connection closed before any byte ("empty response").
* `http-check expect [!] status|rstatus|string|rstring|hdr|fhdr` rules are checked in
  order, the first that fails decides: status and header rules fail with L7STS and the
  reason phrase, body rules with L7RSP and "HTTP content check did not match" ("HTTP
  check matched unwanted content" when negated). Body rules see the de-chunked body, as
  much of it as fits in the check buffer; a mismatch waits for the whole body.
* With `http-check disable-on-404`, a 404 from a server that is up passes every rule and
  the check ends with L7OKC: the server keeps its connections but gets no new ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from weir.check.rules import (
    Expect,
    ExpectKind,
    HeaderMatch,
    Line,
    Send,
    compile_regex,
    parse_codes,
    raw,
)
from weir.check.status import CheckStatus, Verdict
from weir.config.model import HttpCheckConf
from weir.proto.h1 import H1Error, ResponseHead, parse_response_head

if TYPE_CHECKING:
    from weir.check.engine import Flow, Run, RunEnv

DEFAULT_BUFSIZE = 16384  # HAProxy reads a check's response into one buffer of tune.bufsize

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_URI = re.compile(r"[\x21-\x7e]+\Z")
_VERSIONS = ("HTTP/1.0", "HTTP/1.1")
_HEADER_LINE = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*([^\r\n\x00]*?)[ \t]*\Z")
_CHUNK_SIZE = re.compile(rb"[ \t]*([0-9A-Fa-f]+)[ \t]*(?:;[^\r\n]*)?\Z")
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding"})
STATE_HEADER = "x-haproxy-server-state"


# -- the request -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """An HTTP check request as configured; None: the part was not given."""

    method: str | None = None
    uri: str | None = None
    version: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: str | None = None

    def merged(self, later: HttpRequest) -> HttpRequest:
        """This request updated by a later declaration (HAProxy's merge: named parts
        replace, and the headers are always the later declaration's)."""
        return HttpRequest(
            later.method or self.method,
            later.uri or self.uri,
            later.version or self.version,
            later.headers,
            later.body if later.body is not None else self.body,
        )


def parse_httpchk(args: list[str]) -> tuple[HttpCheckConf, list[str]]:
    """`option httpchk [<method>] [<uri>] [<version>]` → the settings and any warnings.

    One argument is the URI; two are method and URI. Raises ValueError on a bad argument.
    """
    req, warnings = option_request(args)
    conf = HttpCheckConf(
        method=req.method or "OPTIONS",
        uri=req.uri or "/",
        version=req.version or "HTTP/1.0",
        host=next((v for n, v in req.headers if n.lower() == "host"), None),
        headers=list(req.headers),
        body=req.body or "",
    )
    return conf, warnings


def option_request(args: Sequence[str]) -> tuple[HttpRequest, list[str]]:
    """The request `option httpchk <args>` names, with its warnings; ValueError if bad."""
    if len(args) > 3:
        raise ValueError(f"unexpected argument '{args[3]}' (at most <method> <uri> <version>)")
    a = [*args, "", "", ""]
    method = uri = version = None
    if a[0]:
        if a[1]:
            method = a[0]
        else:
            uri = a[0]
    if a[1]:
        uri = a[1]
    warnings: list[str] = []
    headers: list[tuple[str, str]] = []
    body = None
    if a[2]:
        version, headers, body = _split_version(a[2])
        if len(version) != len(a[2]):
            warnings.append(
                "hiding headers or a body after the version with '\\r\\n' is deprecated; "
                "use 'http-check send' instead"
            )
    _validate(method, uri, version)
    return HttpRequest(method, uri, version, tuple(headers), body), warnings


def _validate(method: str | None, uri: str | None, version: str | None) -> None:
    if method is not None and not _TOKEN.match(method):
        raise ValueError(f"invalid HTTP method '{method}'")
    if uri is not None and not _URI.match(uri):
        raise ValueError(f"invalid URI '{uri}' (visible ASCII characters only)")
    if version is not None and version not in _VERSIONS:
        raise ValueError(
            f"unsupported HTTP version '{version}' (weir checks with HTTP/1.0 or HTTP/1.1)"
        )


def _split_version(text: str) -> tuple[str, list[tuple[str, str]], str | None]:
    """The deprecated `HTTP/1.1\\r\\nHost: x\\r\\n\\r\\nbody` form → version, headers, body."""
    first = text.find("\r\n")
    if first < 0:
        return text, [], None
    blank = text.find("\r\n\r\n")
    version = text[:first]
    if blank == first:
        return version, [], text[blank + 4 :]
    block = text[first + 2 : blank] if blank >= 0 else text[first + 2 :]
    body = text[blank + 4 :] if blank >= 0 else None
    headers: list[tuple[str, str]] = []
    for line in block.split("\r\n"):
        m = _HEADER_LINE.match(line)
        if m is None:
            raise ValueError(f"invalid header line '{line}' after the version")
        name, value = m.group(1), m.group(2)
        _check_header(name, value)
        if name.lower() in _FRAMING_HEADERS:
            raise ValueError(f"header '{name}' is set by the check itself")
        headers.append((name, value))
    return version, headers, body


def _check_header(name: str, value: str) -> None:
    if "%" in value:
        raise ValueError(
            f"header '{name}': log-format sequences ('%') in check headers are not "
            "supported by weir yet"
        )


def parse_http_send(words: Sequence[str]) -> tuple[HttpRequest, str]:
    """`http-check send …` (words from `send` on) → the request parts and the comment."""
    method = uri = version = body = None
    headers: list[tuple[str, str]] = []
    comment = ""
    i = 1
    while i < len(words):
        w = words[i]
        if w == "hdr":
            if i + 2 >= len(words) or not words[i + 1] or not words[i + 2]:
                raise ValueError("'hdr' expects <name> and <value> as arguments")
            name, value = words[i + 1], words[i + 2]
            if not _TOKEN.match(name):
                raise ValueError(f"invalid header name '{name}'")
            _check_header(name, value)
            if name.lower() == "host" and any(n.lower() == "host" for n, _ in headers):
                raise ValueError("'host' header already defined")
            if name.lower() not in _FRAMING_HEADERS:  # the check sets those itself
                headers.append((name, value))
            i += 3
            continue
        if w in ("uri-lf", "body-lf"):
            raise ValueError(f"'{w}' (log-format) is not supported by weir yet")
        if w not in ("meth", "uri", "ver", "body", "comment"):
            raise ValueError(
                "expects 'comment', 'meth', 'uri', 'ver', 'hdr' or 'body' "
                f"but got '{w}' as argument"
            )
        if i + 1 >= len(words) or not words[i + 1]:
            raise ValueError(f"'{w}' expects a string as argument")
        value = words[i + 1]
        if w == "meth":
            method = value
        elif w == "uri":
            uri = value
        elif w == "ver":
            version = value
        elif w == "body":
            body = value
        else:
            comment = value
        i += 2
    _validate(method, uri, version)
    return HttpRequest(method, uri, version, tuple(headers), body), comment


def send_rule(req: HttpRequest, *, send_state: bool) -> Send:
    """The Send rule of a request; with `send_state` its bytes are built at each check."""
    method = req.method or "OPTIONS"
    version = req.version or "HTTP/1.0"
    body = raw(req.body or "")
    head = [f"{method} {req.uri or '/'} {version}"]
    head.extend(f"{name.lower()}: {value}" for name, value in req.headers)
    tail: list[str] = []
    has_connection = any(name.lower() == "connection" for name, _ in req.headers)
    if version == "HTTP/1.1" and not has_connection:
        tail.append("connection: close")
    tail.append(f"content-length: {len(body)}")
    first = raw("\r\n".join(head) + "\r\n")
    rest = raw("\r\n".join(tail) + "\r\n\r\n") + body
    if not send_state:
        return Send(data=first + rest, method=raw(method))

    def build(env: RunEnv) -> bytes:
        state = env.state_header() if env.state_header is not None else ""
        return first + raw(f"{STATE_HEADER}: {state}\r\n") + rest

    return Send(build=build, method=raw(method))


def build_request(conf: HttpCheckConf) -> bytes:
    """The bytes `option httpchk` alone sends (no `http-check send`, no send-state)."""
    req = HttpRequest(conf.method, conf.uri, conf.version, tuple(conf.headers), conf.body)
    return send_rule(req, send_state=False).data


# -- expect rules ----------------------------------------------------------------------------


def parse_http_expect(words: Sequence[str]) -> Line:
    """`http-check expect …` (words from `expect` on); see `rules.parse_expect`."""
    from weir.check.rules import parse_expect

    return parse_expect(words, http=True)


IMPLICIT_EXPECT = Expect(ExpectKind.HTTP_STATUS, pattern="200-399", codes=parse_codes("200-399"))


def eval_expect(run: Run, rule: Expect, last_read: bool) -> Verdict | Flow:
    """Judge one HTTP expect rule on the response received so far."""
    from weir.check.engine import Flow

    buf = bytes(run.buf)
    if not buf:
        if last_read:
            return run.expect_failed(rule, CheckStatus.L7RSP, False, "")
        return Flow.WAIT
    try:
        parsed = parse_response_head(buf, max_size=run.bufsize)
    except H1Error:
        return run.expect_failed(rule, CheckStatus.L7RSP, False, "")
    if parsed is None:
        if last_read or len(buf) >= run.bufsize:
            return run.expect_failed(rule, CheckStatus.L7RSP, False, "")
        return Flow.WAIT
    head, used = parsed
    run.code = code = head.status
    if run.ruleset.disable_404 and run.env.running and code == 404:
        return Flow.CONTINUE
    reason = head.reason.decode("latin-1")
    kind = rule.kind
    if kind is ExpectKind.HTTP_STATUS:
        hit = any(lo <= code <= hi for lo, hi in rule.codes)
    elif kind is ExpectKind.HTTP_RSTATUS:
        assert rule.regex is not None
        hit = rule.regex.search(b"%d" % code) is not None
    elif kind is ExpectKind.HTTP_HEADER:
        assert rule.header is not None
        hit = header_matches(rule.header, head.headers)
    else:
        return _eval_body(run, rule, head, buf[used:], last_read)
    if hit == rule.negated:
        status = rule.err_status or CheckStatus.L7STS
        return run.expect_failed(rule, status, hit, "" if rule.on_error else reason)
    return Flow.CONTINUE


def _eval_body(
    run: Run, rule: Expect, head: ResponseHead, rest: bytes, last_read: bool
) -> Verdict | Flow:
    from weir.check.engine import Flow

    try:
        body, complete = response_body(head, run.method, rest)
    except ValueError:
        return run.expect_failed(rule, CheckStatus.L7RSP, False, "")
    done = last_read or complete or len(run.buf) >= run.bufsize
    status = rule.err_status or CheckStatus.L7RSP
    if not body:
        if not done:
            return Flow.WAIT
        desc = "" if rule.on_error else "HTTP content check could not find a response body"
        return run.expect_failed(rule, status, False, desc)
    if not done and (
        (rule.kind is ExpectKind.HTTP_BODY and len(body) < len(rule.text))
        or (rule.min_recv > 0 and len(body) < rule.min_recv)
    ):
        return Flow.WAIT
    if rule.kind is ExpectKind.HTTP_BODY:
        hit = rule.text in body
    else:
        assert rule.regex is not None
        hit = rule.regex.search(body) is not None
    if not hit and not done and rule.min_recv == -1:
        return Flow.WAIT
    if hit == rule.negated:
        desc = (
            "HTTP check matched unwanted content"
            if rule.negated
            else "HTTP content check did not match"
        )
        return run.expect_failed(rule, status, hit, "" if rule.on_error else desc)
    return Flow.CONTINUE


def header_matches(match: HeaderMatch, headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether any header (any of its comma-separated values, for `hdr`) matches."""
    for name, value in headers:
        if not _name_matches(match, name.lower()):
            continue
        if match.value_method == "none":
            return True
        values = [value.strip(b" \t")] if match.full else _split_values(value)
        if any(_value_matches(match, v) for v in values):
            return True
    return False


def _split_values(value: bytes) -> list[bytes]:
    return [v.strip(b" \t") for v in value.split(b",")]


def _name_matches(match: HeaderMatch, name: bytes) -> bool:
    m = match.name_method
    if m == "str":
        return name == match.name
    if m == "beg":
        return name.startswith(match.name)
    if m == "end":
        return name.endswith(match.name)
    if m == "sub":
        return match.name in name
    assert match.name_re is not None
    return match.name_re.search(name) is not None


def _value_matches(match: HeaderMatch, value: bytes) -> bool:
    m = match.value_method
    if m == "str":
        return value == match.value
    if m == "beg":
        return value.startswith(match.value)
    if m == "end":
        return value.endswith(match.value)
    if m == "sub":
        return match.value in value
    assert match.value_re is not None
    return match.value_re.search(value) is not None


# -- response bodies -------------------------------------------------------------------------


def response_body(head: ResponseHead, method: bytes, rest: bytes) -> tuple[bytes, bool]:
    """The body bytes received so far (de-chunked) and whether the body is complete.

    Raises ValueError on malformed chunked framing.
    """
    if not head.has_body(method or b"GET"):
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


__all__ = [
    "DEFAULT_BUFSIZE",
    "IMPLICIT_EXPECT",
    "HttpRequest",
    "build_request",
    "compile_regex",
    "eval_expect",
    "header_matches",
    "option_request",
    "parse_http_expect",
    "parse_http_send",
    "parse_httpchk",
    "response_body",
    "send_rule",
]
