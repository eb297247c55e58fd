"""HTTP check requests and response verdicts, bytes in and out, no sockets."""

from __future__ import annotations

import pytest

from weir.check.httpchk import (
    HttpProbe,
    build_request,
    compile_expect,
    parse_expect,
    parse_httpchk,
)
from weir.check.status import CheckStatus, Verdict
from weir.config.model import HttpCheckConf


def probe(
    *args: str, expects: tuple[tuple[str, str, bool], ...] = (), bufsize: int = 16384
) -> HttpProbe:
    conf, _ = parse_httpchk(list(args))
    conf.expects = list(expects)
    return HttpProbe(conf, bufsize)


def response(status: str, body: bytes = b"", headers: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}content-length: {len(body)}\r\n\r\n"
    return head.encode() + body


# -- option httpchk -----------------------------------------------------------------------


def test_default_request_is_options_slash_http10() -> None:
    conf, warnings = parse_httpchk([])
    assert (conf.method, conf.uri, conf.version) == ("OPTIONS", "/", "HTTP/1.0")
    assert warnings == []
    assert build_request(conf) == b"OPTIONS / HTTP/1.0\r\ncontent-length: 0\r\n\r\n"


def test_one_argument_is_the_uri() -> None:
    conf, _ = parse_httpchk(["/health"])
    assert (conf.method, conf.uri) == ("OPTIONS", "/health")


def test_method_and_uri_as_in_the_introduction() -> None:
    conf, _ = parse_httpchk(["GET", "/healthCheck.html"])
    assert build_request(conf) == (b"GET /healthCheck.html HTTP/1.0\r\ncontent-length: 0\r\n\r\n")


def test_http11_request_asks_to_close() -> None:
    conf, _ = parse_httpchk(["HEAD", "/", "HTTP/1.1"])
    assert build_request(conf) == (
        b"HEAD / HTTP/1.1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    )


def test_deprecated_headers_and_body_after_the_version() -> None:
    conf, warnings = parse_httpchk(["OPTIONS", "*", "HTTP/1.1\r\nHost: www\r\nX-A: b\r\n\r\nping"])
    assert conf.version == "HTTP/1.1"
    assert conf.headers == [("Host", "www"), ("X-A", "b")]
    assert conf.host == "www"
    assert len(warnings) == 1
    assert "deprecated" in warnings[0]
    assert build_request(conf) == (
        b"OPTIONS * HTTP/1.1\r\nhost: www\r\nx-a: b\r\nconnection: close\r\n"
        b"content-length: 4\r\n\r\nping"
    )


def test_deprecated_header_without_body() -> None:
    conf, _ = parse_httpchk(["GET", "/", "HTTP/1.1\r\nHost: example.org"])
    assert conf.headers == [("Host", "example.org")]
    assert conf.body == ""


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["GET", "/", "HTTP/1.0", "extra"], "unexpected argument 'extra'"),
        (["GET", "/", "HTTP/2"], "unsupported HTTP version"),
        (["G(T", "/"], "invalid HTTP method"),
        (["GET", "/a b"], "invalid URI"),
        (["GET", "/", "HTTP/1.1\r\nbad header"], "invalid header line"),
        (["GET", "/", "HTTP/1.1\r\nHost: %[srv_name]"], "log-format"),
        (["GET", "/", "HTTP/1.1\r\nContent-Length: 3"], "set by the check itself"),
    ],
)
def test_bad_httpchk_arguments_are_refused(args: list[str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_httpchk(args)


# -- http-check expect parsing ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["status", "200"], ("status", "200", False)),
        (["!", "status", "500-599"], ("status", "500-599", True)),
        (["!string", "error"], ("string", "error", True)),
        (["!!", "rstring", "ok$"], ("rstring", "ok$", False)),
        (["rstatus", "^2"], ("rstatus", "^2", False)),
    ],
)
def test_expect_rules_parse(args: list[str], expected: tuple[str, str, bool]) -> None:
    assert parse_expect(args) == expected


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "expects a match"),
        (["status"], "expects a pattern"),
        (["status", "2xx"], "invalid list of status codes"),
        (["status", "399-200"], "invalid range"),
        (["rstring", "("], "invalid regular expression"),
        (["hdr", "name", "x"], "does not support yet"),
        (["min-recv", "10", "string", "x"], "does not support yet"),
        (["body", "x"], "unknown match 'body'"),
        (["string", "a", "b"], "unexpected argument 'b'"),
    ],
)
def test_bad_expect_rules_are_refused(args: list[str], fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_expect(args)


def test_status_list_with_ranges() -> None:
    rule = compile_expect("status", "200,301-302", False)
    assert rule.codes == ((200, 200), (301, 302))


# -- verdicts with the implicit rule (2xx and 3xx pass) -------------------------------------


@pytest.mark.parametrize("status", ["200 OK", "204 No Content", "302 Found", "399 Odd"])
def test_2xx_and_3xx_pass(status: str) -> None:
    code = int(status.split(maxsplit=1)[0])
    assert probe().judge(response(status), final=False) == Verdict(CheckStatus.L7OK, code)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("404 Not Found", "Not Found"),
        ("503 Service Unavailable", "Service Unavailable"),
        ("101 Switching Protocols", "Switching Protocols"),
    ],
)
def test_other_statuses_fail_with_the_reason(status: str, reason: str) -> None:
    code = int(status.split(maxsplit=1)[0])
    assert probe().judge(response(status), final=False) == Verdict(CheckStatus.L7STS, code, reason)


def test_the_status_is_judged_as_soon_as_the_head_is_in() -> None:
    # content-length announces a body that has not arrived: no need to wait for it.
    data = b"HTTP/1.0 200 OK\r\ncontent-length: 100\r\n\r\n"
    assert probe().judge(data, final=False) == Verdict(CheckStatus.L7OK, 200)


def test_incomplete_head_waits_then_fails_at_the_end() -> None:
    p = probe()
    assert p.judge(b"HTTP/1.1 200 OK\r\nServer: x\r\n", final=False) is None
    assert p.judge(b"HTTP/1.1 200 OK\r\nServer: x\r\n", final=True) == Verdict(CheckStatus.L7RSP)


def test_garbage_is_an_invalid_response() -> None:
    garbage = b"THIS IS NOT HTTP\x00\x01\r\nreally not\r\n\r\n"
    assert probe().judge(garbage, final=False) == Verdict(CheckStatus.L7RSP)
    assert probe().judge(b"SSH-2.0-OpenSSH_9.0\r\n\r\n", final=True).status is CheckStatus.L7RSP  # type: ignore[union-attr]


def test_empty_response_names_the_step() -> None:
    assert probe().judge(b"", final=False) is None
    assert probe().judge(b"", final=True) == Verdict(
        CheckStatus.L7RSP, None, "TCPCHK got an empty response at step 2"
    )
    explicit = probe(expects=(("status", "200", False),))
    assert explicit.judge(b"", final=True) == Verdict(
        CheckStatus.L7RSP, None, "TCPCHK got an empty response at step 1"
    )


# -- verdicts with explicit rules ---------------------------------------------------------


def test_status_rule_replaces_the_default_range() -> None:
    p = probe(expects=(("status", "200", False),))
    assert p.judge(response("302 Found"), final=False) == Verdict(CheckStatus.L7STS, 302, "Found")
    assert p.judge(response("200 OK"), final=False) == Verdict(CheckStatus.L7OK, 200)


def test_negated_status_rule() -> None:
    p = probe(expects=(("status", "500-599", True),))
    assert p.judge(response("404 Not Found"), final=False) == Verdict(CheckStatus.L7OK, 404)
    assert p.judge(response("502 Bad Gateway"), final=False) == Verdict(
        CheckStatus.L7STS, 502, "Bad Gateway"
    )


def test_rstatus_searches_the_code() -> None:
    p = probe(expects=(("rstatus", "^(2|3)0[0-9]$", False),))
    assert p.judge(response("301 Moved"), final=False) == Verdict(CheckStatus.L7OK, 301)
    assert p.judge(response("310 Odd"), final=False) == Verdict(CheckStatus.L7STS, 310, "Odd")


def test_string_rule_on_a_content_length_body() -> None:
    p = probe(expects=(("string", "ALIVE", False),))
    assert p.judge(response("200 OK", b"state: ALIVE\n"), final=False) == Verdict(
        CheckStatus.L7OK, 200
    )
    assert p.judge(response("200 OK", b"state: DEAD\n"), final=False) == Verdict(
        CheckStatus.L7RSP, 200, "HTTP content check did not match"
    )


def test_string_rule_waits_for_the_rest_of_the_body() -> None:
    p = probe(expects=(("string", "ALIVE", False),))
    full = response("200 OK", b"xxxxxxxx ALIVE")
    assert p.judge(full[:-6], final=False) is None
    assert p.judge(full, final=False) == Verdict(CheckStatus.L7OK, 200)


def test_negated_string_rule() -> None:
    p = probe(expects=(("string", "Exception", True),))
    assert p.judge(response("200 OK", b"all good"), final=False) == Verdict(CheckStatus.L7OK, 200)
    assert p.judge(response("200 OK", b"java.lang.Exception"), final=False) == Verdict(
        CheckStatus.L7RSP, 200, "HTTP check matched unwanted content"
    )


def test_rstring_on_a_chunked_body_sees_it_dechunked() -> None:
    p = probe(expects=(("rstring", "^hello world$", False),))
    data = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
        b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
    )
    assert p.judge(data, final=False) == Verdict(CheckStatus.L7OK, 200)
    assert p.judge(data[:-12], final=False) is None  # regex not matched yet: wait


def test_body_until_close_is_judged_at_the_close() -> None:
    p = probe(expects=(("string", "up", False),))
    data = b"HTTP/1.0 200 OK\r\n\r\nall systems down"
    assert p.judge(data, final=False) is None
    assert p.judge(data, final=True) == Verdict(
        CheckStatus.L7RSP, 200, "HTTP content check did not match"
    )


def test_missing_body() -> None:
    p = probe(expects=(("string", "x", False),))
    assert p.judge(response("200 OK"), final=False) == Verdict(
        CheckStatus.L7RSP, 200, "HTTP content check could not find a response body"
    )


def test_rules_are_checked_in_order() -> None:
    p = probe(expects=(("status", "200", False), ("string", "ok", False)))
    assert p.judge(response("500 Oops", b"ok"), final=False) == Verdict(
        CheckStatus.L7STS, 500, "Oops"
    )
    assert p.judge(response("200 OK", b"ok"), final=False) == Verdict(CheckStatus.L7OK, 200)


def test_a_full_buffer_is_judged_as_it_is() -> None:
    p = probe(expects=(("string", "needle", False),), bufsize=64)
    data = b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * 45
    assert len(data) == 64
    verdict = p.judge(data, final=True)
    assert verdict == Verdict(CheckStatus.L7RSP, 200, "HTTP content check did not match")


def test_head_request_has_no_body_to_wait_for() -> None:
    conf = HttpCheckConf(method="HEAD", expects=[("string", "x", False)])
    p = HttpProbe(conf)
    assert p.judge(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n", final=False) == Verdict(
        CheckStatus.L7RSP, 200, "HTTP content check could not find a response body"
    )
