"""Compiled log formats print what HAProxy 2.6 prints for the same values.

The expected strings were produced by HAProxy 2.6.12 on 127.0.0.1 with these formats (its
datagrams are quoted with only the values that differ between runs changed: dates, ports,
pids). Streams are built from fakes so that every value the line reads is stated here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.unit.log.fakes_log import (
    Backend,
    Counters,
    Frontend,
    Req,
    Server,
    stream,
    utc,
)
from weir.log import formats, syslog
from weir.log.lfparse import LogFormatError
from weir.log.lfvars import Env
from weir.log.logformat import (
    HTTPLOG,
    HTTPLOG_CLF,
    HTTPLOG_JSON,
    TCPLOG,
    TCPLOG_JSON,
    compile_format,
    unique_id,
)
from weir.proto.h1 import parse_request_head
from weir.stream import Stream

DATE = utc(2026, 11, 23, 22, 56, 51, 672)  # Ts 1795474611 = 0x6B04C4B3


def ok(**kw: Any) -> Stream:
    s = stream(
        Frontend("fe"), client=("127.0.0.1", 52824), accept_date=DATE,
        backend=Backend("be"), server=Server("s1", host="127.0.0.1", port=38223),
        req=Req(b"GET", b"/a/b?x=1&y=2"), request=0, head=0, queue=0, connect=0,
        response=1, close=1, bytes_in=130, bytes_out=101,
    )  # fmt: skip
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def badreq(**kw: Any) -> Stream:
    s = stream(
        Frontend("fe"), client=("127.0.0.1", 52824), accept_date=DATE, req=None,
        request=0, close=0, status=400, bytes_in=31, bytes_out=230, termination="PR--",
    )  # fmt: skip
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def render(fmt: str, s: Stream, actconn: int = 1, **env: Any) -> str:
    env.setdefault("http", True)
    return compile_format(fmt, Env(**env))(s, actconn)


# ---- values and flags -------------------------------------------------------------------


def test_absent_sample_is_a_dash_or_empty_quotes() -> None:
    s = ok(req_cap=["second", None])
    assert render("A %[capture.req.hdr(1)] B %{+Q}[capture.req.hdr(1)] C", s, n_req=2) == (
        'A - B "" C'
    )
    assert render("%[capture.req.hdr(0)] %{+Q}[capture.req.hdr(0)]", s, n_req=2) == (
        'second "second"'
    )


def test_quote_and_hexadecimal_flags() -> None:
    line = render(
        "%{+Q}ci %{+X}ci %{+X}cp %{+X}Ts %{+X}ST %{+Q}ST %{+Q}b %ms %{+X}ms %{+X}sp %{+X}si",
        ok(),
    )
    assert line == '"127.0.0.1" 7F000001 CE58 6B04C4B3 200 200 "be" 672 2A0 954F 7F000001'


def test_ipv6_in_hexadecimal() -> None:
    assert render("%{+X}ci", ok(client_ip="::1")) == "00000000000000000000000000000001"


def test_dates_ignore_quotes() -> None:
    line = render("%T %Tl %{+Q}T %{+Q}t %t %tr %trg %trl %Ts", ok())
    assert line == (
        "23/Nov/2026:22:56:51 +0000 23/Nov/2026:22:56:51 +0000 "
        "23/Nov/2026:22:56:51 +0000 23/Nov/2026:22:56:51.672 23/Nov/2026:22:56:51.672 "
        "23/Nov/2026:22:56:51.672 23/Nov/2026:22:56:51 +0000 23/Nov/2026:22:56:51 +0000 "
        "1795474611"
    )


def test_local_dates_carry_the_offset(set_tz: Any) -> None:
    set_tz("XYZ+3:30")  # 3h30 west of UTC
    assert render("%Tl %trl %t", ok()) == (
        "23/Nov/2026:19:26:51 -0330 23/Nov/2026:19:26:51 -0330 23/Nov/2026:19:26:51.672"
    )


def test_request_parts() -> None:
    line = render("%HM %HU %HP %HPO %HQ %HV %{+Q}HM %{+Q}HU", ok())
    assert line == 'GET /a/b?x=1&y=2 /a/b /a/b ?x=1&y=2 HTTP/1.1 "GET" "/a/b?x=1&y=2"'


def test_empty_query_still_counts_as_printed() -> None:
    # HAProxy: "GET / /  HTTP/1.1": the separator after an empty %HQ is printed.
    assert render("%HM %HU %HP %HQ %HV", ok(req=Req(b"GET", b"/"))) == "GET / /  HTTP/1.1"


def test_path_only_of_an_absolute_uri() -> None:
    s = ok(req=Req(b"GET", b"http://h.example/p/q?z"))
    assert render("%HPO|%HP|%HU|%HQ", s) == "/p/q|http://h.example/p/q|http://h.example/p/q?z|?z"


def test_request_parts_without_a_request() -> None:
    line = render("%HM %HU %HP %HPO %HQ %HV %r %{+Q}r", badreq())
    assert line == '<BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ> "<BADREQ>"'


def test_request_cut_to_1023_bytes_loses_its_version() -> None:
    s = ok(req=Req(b"GET", b"/" + b"a" * 1100))
    assert render("%HV", s) == "HTTP/0.9"
    assert len(render("%HU", s)) == 1023 - 4


def test_encoding_of_the_request() -> None:
    s = ok(req=Req(b"GET", b'/a"b#c\x7f\xff'))
    assert render("%HU %HP", s) == "/a#22b#23c#7F#FF /a#22b#23c#7F#FF"


def test_counts_timers_and_names() -> None:
    s = ok(retries=2, queue_srv=3, queue_be=4)
    s.frontend.counters = Counters(7)
    line = render("%ac %fc %bc %sc %rc %sq %bq %TR %Tw %Tc %Tr %Ta %Tt %Tq %Ti %Th %Td %Tu", s, 9)
    assert line == "9 7 0 0 2 3 4 0 0 0 1 1 1 0 0 0 0 1"
    assert render("%f %ft %b %s %si %sp %U %B %ST", s) == "fe fe be s1 127.0.0.1 38223 130 101 200"


def test_no_server() -> None:
    s = ok(server=None, backend=None)
    assert render("%b/%s %si %sp %{+Q}si %sc", s) == 'fe/<NOSRV> - - "" 0'


def test_frontend_address_from_the_stream_or_the_bind() -> None:
    assert render("%fi:%fp", ok(), local=("127.0.0.1", 8080)) == "127.0.0.1:8080"
    assert render("%fi:%fp", ok(frontend_addr=("10.0.0.9", 80))) == "10.0.0.9:80"
    assert render("%fi:%fp %{+X}fp", ok()) == "-:- -"


def test_without_tls_the_ssl_items_are_absent() -> None:
    assert render("%sslc %sslv %{+Q}sslv", ok()) == '- - ""'


def test_escape_flag_for_structured_data() -> None:
    s = ok(req_cap=['a"b\\c]d'])
    line = render("%{+E}[capture.req.hdr(0)] %{+Q,+E}[capture.req.hdr(0)] %{+E}hr", s, n_req=1)
    assert line == 'a\\"b\\\\c\\]d "a\\"b\\\\c\\]d" {a#22b\\\\c\\]d}'


def test_termination_states_ignore_quotes() -> None:
    assert render("%{+Q}ts %{+Q}tsc %ts %tsc", ok(termination="sD--")) == "sD sD-- sD sD--"


def test_cookies_pid_host_counter_and_id() -> None:
    s = ok(cookie_cli="SESS=xyz")
    env = {"hostname": "vm", "counter": [3]}
    line = render("%CC %CS %{+Q}CC %{+Q}CS %H %{+Q}H %lc %{+X}lc %ID %{+Q}ID", s, **env)
    assert line == 'SESS=xyz - "SESS=xyz" "" vm "vm" 3 0003 - ""'
    assert render("%pid %{+X}pid", s) == f"{syslog._pid} {int(syslog._pid):04X}"
    assert render("%rt %{+X}rt", ok(uniq_id=10)) == "10 000A"


def test_literal_percent_and_merged_blanks() -> None:
    assert render("%%  %{-Q}o x   y", ok()) == "% x y"


# ---- header captures and separators -------------------------------------------------------


def test_captures_in_braces_and_as_a_list() -> None:
    s = ok(req_cap=["second", None])
    line = render("%hr %hrl %{+Q}hr %{+Q}hrl x", s, n_req=2)
    assert line == '{second|} second - "{second|}" "second" "" x'


def test_captures_print_nothing_without_a_request() -> None:
    # HAProxy: "... 3 - - % x y": a separator is printed once, whatever was skipped.
    line = render("%lc %CC %CS %hr %hrl %% x", badreq(), n_req=2, counter=[3])
    assert line == "3 - - % x"


def test_captures_print_nothing_when_none_are_declared() -> None:
    assert render("a %hr %hs %hrl %hsl b", ok()) == "a b"


def test_capture_without_a_separator_after_it() -> None:
    s = ok(req_cap=["v"], res_cap=["w"])
    assert render("%hr%hs %b", s, n_req=1, n_res=1) == "{v}{w} be"
    assert render("%hr%hs %b", badreq(), n_req=1, n_res=1) == "fe"
    assert render("x%hr %b", badreq(), n_req=1) == "x fe"


def test_response_captures_before_a_response_are_empty() -> None:
    assert render("%hs", ok(), n_res=2) == "{|}"


def test_capture_encoding() -> None:
    s = ok(req_cap=["a b|c{d}", "t"])
    assert render("%hr", s, n_req=2) == "{a b#7Cc#7Bd#7D|t}"


def test_leading_and_trailing_blanks() -> None:
    assert render("  %b  ", ok()) == "be "


def test_empty_format_and_only_skippable_items() -> None:
    f = compile_format("", Env(http=True))
    assert f(ok(), 1) == ""
    assert f.can_be_empty
    f = compile_format("%hr", Env(http=True, n_req=1))
    assert f.can_be_empty
    assert f(badreq(), 1) == ""
    assert not compile_format("%b", Env(http=True)).can_be_empty


# ---- presets -----------------------------------------------------------------------------


def test_httplog_with_captures_as_haproxy_prints_it() -> None:
    s = ok(req_cap=["t"], res_cap=["s1", "18"], cookie_cli="SESSx=1", cookie_srv="SESSID=abc")
    line = render(HTTPLOG, s, n_req=1, n_res=2)
    assert line == (
        "127.0.0.1:52824 [23/Nov/2026:22:56:51.672] fe be/s1 0/0/0/1/1 200 101 SESSx=1 "
        'SESSID=abc ---- 1/1/0/0/0 0/0 {t} {s1|18} "GET /a/b?x=1&y=2 HTTP/1.1"'
    )


def test_clf_with_captures_as_haproxy_prints_it() -> None:
    s = ok(req_cap=["t", "a b|c{d}", None], res_cap=["s1"], cookie_cli="SESSx=1")
    line = render(HTTPLOG_CLF, s, n_req=3, n_res=1)
    assert line.endswith('0 0 "SESSx=1" "" "t" "a b#7Cc#7Bd#7D" "" "s1"')


def test_logasap_marks_what_is_not_final() -> None:
    line = render(HTTPLOG, ok(), asap=True)
    assert " 0/0/0/1/+1 200 +101 " in line
    line = render(HTTPLOG, badreq(), asap=True)
    assert " fe/<NOSRV> -1/-1/-1/-1/+0 400 +0 - - PR-- " in line


def test_bad_request_counts_no_bytes() -> None:
    assert render("%B %U", badreq()) == "0 0"
    assert formats.http_line(badreq(), 1).split()[5:7] == ["400", "0"]
    assert render("%B %U", badreq(), http=False) == "230 31"


@given(
    status=st.integers(-1, 599),
    retries=st.integers(0, 3),
    term=st.sampled_from(["----", "sD--", "CD--", "--NI", "PR--", "SC--"]),
    cli=st.sampled_from(["-", "SESS=1"]),
    events=st.lists(st.integers(0, 5000), min_size=6, max_size=6),
    server=st.booleans(),
    request=st.booleans(),
    port=st.integers(1, 65535),
)
def test_presets_print_like_the_dedicated_formatters(
    status: int,
    retries: int,
    term: str,
    cli: str,
    events: list[int],
    server: bool,
    request: bool,
    port: int,
) -> None:
    a, b, c, d, e, f = sorted(events)
    s = stream(
        Frontend("fe"), client=("10.1.2.3", port), accept_date=DATE, backend=Backend("be"),
        server=Server("s1") if server else None,
        req=Req(b"POST", b"/x?y#z") if request else None, request=a, head=b, queue=c,
        connect=d, response=e, close=f, status=status, termination=term, retries=retries,
    )  # fmt: skip
    s.cookie_cli = cli
    for fmt, fn in ((HTTPLOG, formats.http_line), (HTTPLOG_CLF, formats.clf_line)):
        assert compile_format(fmt, Env(http=True))(s, 3) == fn(s, 3)
    assert compile_format(TCPLOG, Env(http=False))(s, 3) == formats.tcp_line(s, 3)


# ---- JSON ------------------------------------------------------------------------------


def test_httplog_json_has_the_httplog_fields() -> None:
    s = ok(req_cap=["t"], cookie_cli="SESS=1")
    obj = json.loads(render(HTTPLOG_JSON, s, n_req=1))
    assert obj == {
        "client_ip": "127.0.0.1",
        "client_port": 52824,
        "request_date": "23/Nov/2026:22:56:51.672",
        "frontend_name": "fe",
        "backend_name": "be",
        "server_name": "s1",
        "TR": 0,
        "Tw": 0,
        "Tc": 0,
        "Tr": 1,
        "Ta": 1,
        "status_code": 200,
        "bytes_read": 101,
        "captured_request_cookie": "SESS=1",
        "captured_response_cookie": "",
        "termination_state": "----",
        "actconn": 1,
        "feconn": 1,
        "beconn": 0,
        "srv_conn": 0,
        "retries": 0,
        "srv_queue": 0,
        "backend_queue": 0,
        "captured_request_headers": ["t"],
        "captured_response_headers": None,
        "http_request": "GET /a/b?x=1&y=2 HTTP/1.1",
    }


def test_tcplog_json_has_the_tcplog_fields() -> None:
    obj = json.loads(render(TCPLOG_JSON, ok(req=None, termination="sD--"), http=False))
    assert obj["termination_state"] == "sD"
    assert obj["accept_date"] == "23/Nov/2026:22:56:51.672"
    assert set(obj) == {
        "client_ip", "client_port", "accept_date", "frontend_name", "backend_name",
        "server_name", "Tw", "Tc", "Tt", "bytes_read", "termination_state", "actconn",
        "feconn", "beconn", "srv_conn", "retries", "srv_queue", "backend_queue",
    }  # fmt: skip


def test_json_escapes_and_skips_unnamed_items() -> None:
    s = ok(req=Req(b"GET", b"/q"), cookie_cli='a"b\\c\x01\udcff')
    line = render("%{+json}o text %b %(c)CC %(n)ST %(h)hr %(a)[capture.req.hdr(0)]", s)
    assert line == '{"c": "a\\"b\\\\c\\u0001\\u00ff", "n": 200, "h": null, "a": ""}'
    json.loads(line)


def test_json_without_named_items_is_an_empty_object() -> None:
    assert render("%{+json}o %b", ok()) == "{}"


# ---- unique ids --------------------------------------------------------------------------


def test_unique_id_of_haproxys_documentation_example(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog, "_pid", "2276")
    env = Env(http=True, uid=True, local=("127.0.0.1", 52887))
    fmt = compile_format("%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid", env, mandatory=False)
    assert unique_id(fmt, ok(uniq_id=2)) == "7F000001:CE58_7F000001:CE97_6B04C4B3_0002:08E4"


def head(raw: bytes) -> Any:
    found = parse_request_head(raw)
    assert found is not None
    return found[0]


def test_unique_id_samples_are_percent_encoded_and_cut() -> None:
    env = Env(http=True, uid=True)
    fmt = compile_format("%[hdr(x)]%{+Q}[path]%[query]", env, mandatory=False)
    s = ok(req=head(b"GET /p HTTP/1.1\r\nHost: h\r\nX: a\x01b\tc\r\n\r\n"))
    # No quotes, nothing for an absent value, control bytes (but TAB) as %XX.
    assert unique_id(fmt, s) == "a%01b\tc/p"
    long = compile_format("%[path]", env, mandatory=False)
    s = ok(req=head(b"GET /" + b"x" * 300 + b" HTTP/1.1\r\nHost: h\r\n\r\n"))
    assert len(unique_id(long, s)) == 127


# ---- what is refused ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "http", "message"),
    [
        ("%zz", True, "unknown log-format variable '%zz'"),
        ("%r", False, "'%r' needs 'mode http'"),
        ("%HM", False, "'%HM' needs 'mode http'"),
        ("%CC", False, "'%CC' needs 'mode http'"),
        ("%bi", True, "not supported"),
        ("%[path]", True, "request is gone"),
        ("%[req.hdr(host)]", True, "request is gone"),
        ("%[nope]", True, "unknown sample fetch 'nope'"),
        ("%[src,nosuchconv]", True, "unknown converter 'nosuchconv'"),
        ("%[src(x)]", True, "takes no argument"),
        ("%[capture.req.hdr(x)]", True, "expects a capture number"),
    ],
)
def test_refused_items_name_the_problem(fmt: str, http: bool, message: str) -> None:
    with pytest.raises(LogFormatError) as e:
        compile_format(fmt, Env(http=http))
    assert message in str(e.value)


def test_tcp_mode_accepts_method_and_src() -> None:
    assert render("%[src] %[method]", ok(req=None), http=False) == "127.0.0.1 -"


def test_unique_id_format_sees_the_request() -> None:
    env = Env(http=True, uid=True)
    fmt = compile_format("%[path]_%[method]_%[hdr(host)]", env, mandatory=False)
    s = ok(req=head(b"GET /a/b?x=1 HTTP/1.1\r\nHost: h.example\r\n\r\n"))
    assert unique_id(fmt, s) == "/a/b_GET_h.example"
    with pytest.raises(LogFormatError, match="there is no response yet"):
        compile_format("%[capture.res.hdr(0)]", env, mandatory=False)


def test_sample_expressions_with_converters_in_log_lines() -> None:
    line = render("%[src,ipmask(24)] %[method,lower] %[str(ABC),lower,length]", ok(), http=True)
    assert line == "127.0.0.0 get 3"
