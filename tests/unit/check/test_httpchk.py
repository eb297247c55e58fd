"""HTTP checks on the rule engine: the request sent, the response judged. No sockets."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkdrive import CLOSE, drive, load_text, messages, ruleset

from weir.check.engine import RunEnv
from weir.check.httpchk import build_request, parse_httpchk
from weir.check.rules import Ruleset
from weir.check.status import CheckStatus, Verdict
from weir.config.diagnostics import Level


def http(tmp_path: Path, *lines: str, option: str = "option httpchk GET /health") -> Ruleset:
    body = "\n".join(f"    {line}" for line in (option, *lines))
    return ruleset(
        tmp_path, f"backend be\n    mode http\n{body}\n    server s 127.0.0.1:80 check\n"
    )


def response(status: str, body: bytes = b"", headers: str = "") -> bytes:
    head = f"HTTP/1.1 {status}\r\n{headers}content-length: {len(body)}\r\n\r\n"
    return head.encode() + body


def verdict_of(rules: Ruleset, *script: object, env: RunEnv | None = None) -> Verdict:
    out = drive(rules, list(script), env=env)
    assert out.verdict is not None
    return out.verdict


# -- the request ------------------------------------------------------------------------------


def test_default_request_is_options_slash_http10(tmp_path: Path) -> None:
    out = drive(http(tmp_path, option="option httpchk"), [response("200 OK")])
    assert out.request == b"OPTIONS / HTTP/1.0\r\ncontent-length: 0\r\n\r\n"
    conf, warnings = parse_httpchk([])
    assert (conf.method, conf.uri, conf.version, warnings) == ("OPTIONS", "/", "HTTP/1.0", [])


def test_one_argument_is_the_uri_two_are_method_and_uri() -> None:
    conf, _ = parse_httpchk(["/health"])
    assert (conf.method, conf.uri) == ("OPTIONS", "/health")
    conf, _ = parse_httpchk(["GET", "/healthCheck.html"])
    assert build_request(conf) == b"GET /healthCheck.html HTTP/1.0\r\ncontent-length: 0\r\n\r\n"


def test_http11_request_asks_to_close() -> None:
    conf, _ = parse_httpchk(["HEAD", "/", "HTTP/1.1"])
    assert (
        build_request(conf) == b"HEAD / HTTP/1.1\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    )


def test_deprecated_headers_and_body_after_the_version() -> None:
    conf, warnings = parse_httpchk(["OPTIONS", "*", "HTTP/1.1\r\nHost: www\r\nX-A: b\r\n\r\nping"])
    assert conf.headers == [("Host", "www"), ("X-A", "b")]
    assert conf.host == "www"
    assert len(warnings) == 1
    assert "deprecated" in warnings[0]
    assert build_request(conf) == (
        b"OPTIONS * HTTP/1.1\r\nhost: www\r\nx-a: b\r\nconnection: close\r\n"
        b"content-length: 4\r\n\r\nping"
    )


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["GET", "/", "HTTP/1.0", "extra"], "unexpected argument 'extra'"),
        (["G E T", "/"], "invalid HTTP method"),
        (["GET", "/a b"], "invalid URI"),
        (["GET", "/", "HTTP/2.0"], "unsupported HTTP version"),
        (["GET", "/", "HTTP/1.1\r\nbad line\r\n\r\n"], "invalid header line"),
        (["GET", "/", "HTTP/1.1\r\nX: %[src]\r\n\r\n"], "log-format"),
    ],
)
def test_bad_httpchk_arguments_are_refused(args: list[str], fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_httpchk(args)
    assert fragment in str(info.value)


def test_http_check_send_builds_the_request(tmp_path: Path) -> None:
    rules = http(
        tmp_path,
        'http-check send meth POST uri /ping ver HTTP/1.1 hdr Host example.org hdr X-Y "a b" '
        "body hello",
        option="option httpchk",
    )
    out = drive(rules, [response("200 OK")])
    assert out.request == (
        b"POST /ping HTTP/1.1\r\nhost: example.org\r\nx-y: a b\r\nconnection: close\r\n"
        b"content-length: 5\r\n\r\nhello"
    )
    assert out.verdict == Verdict(CheckStatus.L7OK, 200)


def test_send_after_the_option_overrides_its_parts(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check send hdr Host h1", option="option httpchk GET /health")
    assert drive(rules, [response("200 OK")]).request == (
        b"GET /health HTTP/1.0\r\nhost: h1\r\ncontent-length: 0\r\n\r\n"
    )


def test_option_after_a_send_takes_the_headers_away_as_haproxy_does(tmp_path: Path) -> None:
    text = (
        "backend be\n    mode http\n    http-check send meth HEAD hdr Host h1\n"
        "    option httpchk GET /health\n    server s 127.0.0.1:80 check\n"
    )
    out = drive(ruleset(tmp_path, text), [response("200 OK")])
    assert out.request == b"GET /health HTTP/1.0\r\ncontent-length: 0\r\n\r\n"


def test_send_state_header(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check send-state")
    env = RunEnv(state_header=lambda: "UP; address=127.0.0.1; port=80")
    out = drive(rules, [response("200 OK")], env=env)
    assert out.request == (
        b"GET /health HTTP/1.0\r\nx-haproxy-server-state: UP; address=127.0.0.1; port=80\r\n"
        b"content-length: 0\r\n\r\n"
    )


def test_second_send_without_connect_is_refused(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        "backend be\n    option httpchk\n    http-check send uri /a\n    http-check send uri /b\n",
    )
    assert any("missing connect rule" in m for m in messages(diags))


def test_connect_rules_and_two_exchanges(tmp_path: Path) -> None:
    rules = http(
        tmp_path,
        "http-check connect",
        "http-check send uri /one",
        "http-check expect status 200",
        "http-check connect port 8081",
        "http-check send uri /two",
        "http-check expect status 204",
        option="option httpchk",
    )
    out = drive(rules, [response("200 OK"), response("204 No Content")])
    assert [c.port for c in out.connects] == [0, 8081]
    assert out.sent[0].startswith(b"OPTIONS /one ")
    assert out.sent[1].startswith(b"OPTIONS /two ")
    assert out.verdict == Verdict(CheckStatus.L7OK, 204)


# -- judging the response ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["200 OK", "204 No Content", "301 Moved", "399 Odd"])
def test_2xx_and_3xx_pass(tmp_path: Path, status: str) -> None:
    v = verdict_of(http(tmp_path), response(status))
    assert (v.status, v.code, v.desc) == (CheckStatus.L7OK, int(status[:3]), "")


@pytest.mark.parametrize(
    ("status", "reason"), [("404 Not Found", "Not Found"), ("503 Service Unavailable", "")]
)
def test_other_statuses_fail_with_the_reason(tmp_path: Path, status: str, reason: str) -> None:
    line = status if reason else "503 "
    v = verdict_of(http(tmp_path), response(line))
    assert (v.status, v.code, v.desc) == (CheckStatus.L7STS, int(status[:3]), reason)


def test_the_status_is_judged_as_soon_as_the_head_is_in(tmp_path: Path) -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial"
    assert drive(http(tmp_path), [head]).verdict == Verdict(CheckStatus.L7OK, 200)


def test_incomplete_head_waits_then_fails_at_the_close(tmp_path: Path) -> None:
    rules = http(tmp_path)
    assert drive(rules, [b"HTTP/1.1 200 OK\r\n"]).verdict is None
    assert drive(rules, [b"HTTP/1.1 200 OK\r\n", CLOSE]).verdict == Verdict(CheckStatus.L7RSP)


def test_garbage_is_an_invalid_response(tmp_path: Path) -> None:
    v = verdict_of(http(tmp_path), b"THIS IS NOT HTTP\r\n\r\n")
    assert (v.status, v.desc) == (CheckStatus.L7RSP, "")


def test_empty_response_names_the_step(tmp_path: Path) -> None:
    assert verdict_of(http(tmp_path), CLOSE) == Verdict(
        CheckStatus.L7RSP, None, "TCPCHK got an empty response at step 2"
    )
    explicit = http(tmp_path, "http-check expect status 200")
    assert verdict_of(explicit, CLOSE).desc == "TCPCHK got an empty response at step 1"


def test_status_rules(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect status 200,302-304")
    assert verdict_of(rules, response("303 See Other")).status is CheckStatus.L7OK
    assert verdict_of(rules, response("301 Moved")).status is CheckStatus.L7STS
    negated = http(tmp_path, "http-check expect ! status 500-599")
    assert verdict_of(negated, response("404 Not Found")).status is CheckStatus.L7OK
    assert verdict_of(negated, response("502 Bad Gateway")).desc == "Bad Gateway"
    regex = http(tmp_path, "http-check expect rstatus ^2")
    assert verdict_of(regex, response("250 Custom")).status is CheckStatus.L7OK
    assert verdict_of(regex, response("302 Found")).status is CheckStatus.L7STS


def test_string_rule_waits_for_the_body(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect string ready")
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n"
    assert drive(rules, [head + b"not"]).verdict is None
    assert verdict_of(rules, head + b"not", b"-ready") == Verdict(CheckStatus.L7OK, 200)
    assert verdict_of(rules, response("200 OK", b"0123456789")) == Verdict(
        CheckStatus.L7RSP, 200, "HTTP content check did not match"
    )


def test_negated_string_and_rstring_on_a_chunked_body(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect ! string maintenance")
    v = verdict_of(rules, response("200 OK", b"under maintenance"))
    assert (v.status, v.desc) == (CheckStatus.L7RSP, "HTTP check matched unwanted content")
    chunked = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nsta\r\n6\r\ntus=up\r\n0\r\n\r\n"
    )
    regex = http(tmp_path, "http-check expect rstring ^status=(up|ok)$")
    assert verdict_of(regex, chunked).status is CheckStatus.L7OK


def test_body_until_close_and_missing_body(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect string fine")
    head = b"HTTP/1.0 200 OK\r\n\r\n"
    assert drive(rules, [head + b"all is"]).verdict is None
    assert verdict_of(rules, head + b"all is", b" fine", CLOSE).status is CheckStatus.L7OK
    v = verdict_of(rules, response("200 OK"))
    assert v.desc == "HTTP content check could not find a response body"


def test_rules_are_checked_in_order_and_the_first_failure_decides(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect status 200", "http-check expect string up")
    v = verdict_of(rules, response("500 Internal Server Error", b"up"))
    assert (v.status, v.desc) == (CheckStatus.L7STS, "Internal Server Error")
    v = verdict_of(rules, response("200 OK", b"down"))
    assert v.status is CheckStatus.L7RSP


def test_a_full_buffer_is_judged_as_it_is(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect string needle")
    big = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 2000
    out = drive(rules, [big], bufsize=1024)
    assert out.verdict == Verdict(CheckStatus.L7RSP, 200, "HTTP content check did not match")


def test_head_request_has_no_body_to_wait_for(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check expect status 200", option="option httpchk HEAD /")
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 500\r\n\r\n"
    assert drive(rules, [head]).verdict == Verdict(CheckStatus.L7OK, 200)


def test_header_rules(tmp_path: Path) -> None:
    headers = "X-Role: primary, standby\r\nServer: nginx/1.25\r\n"
    ok = response("200 OK", headers=headers)

    def judge(line: str) -> CheckStatus:
        return verdict_of(http(tmp_path, f"http-check expect {line}"), ok).status

    assert judge("hdr name x-role") is CheckStatus.L7OK
    assert judge("hdr name X-Absent") is CheckStatus.L7STS
    assert judge("hdr name x-role value standby") is CheckStatus.L7OK  # one of the values
    assert judge('fhdr name x-role value "primary, standby"') is CheckStatus.L7OK
    assert judge("fhdr name x-role value standby") is CheckStatus.L7STS
    assert judge("hdr name -m beg x-ro value -m end by") is CheckStatus.L7OK
    assert judge("hdr name -m sub erv value -m reg ^nginx/1\\.2[0-9]$") is CheckStatus.L7OK
    assert judge("hdr name -m reg ^server$ value -m sub apache") is CheckStatus.L7STS
    assert judge("! hdr name server value -m beg nginx") is CheckStatus.L7STS


def test_disable_on_404_passes_conditionally_while_the_server_is_up(tmp_path: Path) -> None:
    rules = http(tmp_path, "http-check disable-on-404", "http-check expect status 200")
    gone = response("404 Not Found")
    assert verdict_of(rules, gone) == Verdict(CheckStatus.L7OKC, 404, "")
    v = verdict_of(rules, gone, env=RunEnv(running=False))
    assert (v.status, v.code, v.desc) == (CheckStatus.L7STS, 404, "Not Found")


def test_failure_details_take_comments_and_texts(tmp_path: Path) -> None:
    rules = http(
        tmp_path,
        'http-check expect status 200 comment "primary only" error-status L7RSP',
    )
    v = verdict_of(rules, response("404 Not Found"))
    assert (v.status, v.desc) == (CheckStatus.L7RSP, "Not Found comment: primary only")
    rules = http(tmp_path, 'http-check expect status 200 on-error "not the primary"')
    assert verdict_of(rules, response("404 Not Found")).desc == "not the primary"


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("http-check expect status 2xx", "invalid list of status codes"),
        ("http-check expect rstring (", "invalid regular expression"),
        ("http-check expect string-lf %[src]", "does not support yet"),
        ("http-check expect binary 00", "only supports"),
        ("http-check expect status 200 string ok", "only one pattern"),
        ("http-check expect hdr value x", "name keyword"),
        ("http-check send uri-lf /%[src]", "log-format"),
        ("http-check send hdr X-A %[src]", "log-format"),
        ("http-check send ver HTTP/2", "unsupported HTTP version"),
        ("http-check connect ssl", "TLS"),
        ("http-check expect status 200 on-error %[src]", "log-format"),
    ],
)
def test_bad_http_check_lines_are_refused(tmp_path: Path, line: str, fragment: str) -> None:
    _, diags = load_text(tmp_path, f"backend be\n    option httpchk\n    {line}\n")
    assert any(fragment in m for m in messages(diags)), messages(diags)


def test_http_check_rules_without_httpchk_are_ignored_with_a_warning(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path, "backend be\n    http-check expect status 200\n    http-check send-state\n"
    )
    warnings = messages(diags, Level.WARNING)
    assert any("without 'option httpchk'" in w for w in warnings)
    assert any("'http-check send-state' will be ignored" in w for w in warnings)
    assert messages(diags) == []
