"""Header and cookie captures, unique ids and option logasap, from heads weir's own parser
reads (weir.proto.h1), as the HTTP session hands them over.

Expected values follow HAProxy 2.6.12's behaviour on 127.0.0.1: the last occurrence of a
captured header, the first cookie whose name starts with the captured name (blanks
around '=' removed), cut to the declared length.
"""

from __future__ import annotations

from typing import Any

from tests.unit.log.fakes_log import Backend, Frontend, Server, stream, utc
from weir.log.captures import (
    Captures,
    capture_request,
    capture_response,
    cookie_capture,
    unique_id_line,
)
from weir.log.lfvars import Env
from weir.log.logformat import HTTPLOG, compile_format
from weir.proto.h1 import parse_request_head, parse_response_head
from weir.stream import Stream

REQ = (
    b"GET /a HTTP/1.1\r\nHost: t\r\nCookie: $Version=1; abc=1; SESS = xyz ; other=2\r\n"
    b'User-Agent: cu"rl/7 #x\r\nUser-Agent: second\r\n\r\n'
)
RES = (
    b"HTTP/1.1 200 OK\r\nX-Backend: s1\r\nContent-Length: 18\r\n"
    b"Set-Cookie: SESSID=abcdefghijkl; path=/\r\nSet-Cookie: SESS2=x\r\n\r\n"
)


def req(raw: bytes = REQ) -> Any:
    found = parse_request_head(raw)
    assert found is not None
    return found[0]


def res(raw: bytes = RES) -> Any:
    found = parse_response_head(raw)
    assert found is not None
    return found[0]


def new_stream(caps: Captures | None = None, raw: bytes = REQ) -> Stream:
    fe = Frontend("fe")
    fe.captures = caps
    return stream(
        fe, accept_date=utc(2026, 11, 23, 22, 57, 58, 312), backend=Backend("be"),
        server=Server("s1"), req=req(raw), request=0, head=0, queue=0, connect=0,
        response=1, close=1,
    )  # fmt: skip


def test_request_headers_keep_the_last_occurrence_cut_to_length() -> None:
    caps = Captures(req=[("User-Agent", 8), ("X-None", 8), ("host", 2)])
    s = new_stream(caps)
    capture_request(s, s.req)
    assert s.req_cap == ["second", None, "t"]


def test_cookie_capture_matches_a_name_prefix_and_strips_blanks() -> None:
    caps = Captures(cookie=("SES", 32))
    s = new_stream(caps)
    capture_request(s, s.req)
    assert s.cookie_cli == "SESS=xyz"
    capture_response(s, res())
    assert s.cookie_srv == "SESSID=abcdefghijkl"  # the first Set-Cookie, up to ';'


def test_cookie_capture_length_is_at_most_63() -> None:
    caps = Captures(cookie=("SESSID", 10))
    s = new_stream(caps)
    capture_response(s, res())
    assert s.cookie_srv == "SESSID=abc"  # HAProxy logs "SESSID=abc" for len 10
    assert Captures(cookie=("x", 500)).cookie_len == 63


def test_cookie_parsing_details() -> None:
    vals = [b'$Path=/; a=1, b="x;y"; c', b"target = v ; z=2"]
    assert cookie_capture(vals, b"b", 64, response=False) == 'b="x;y"'
    assert cookie_capture(vals, b"target", 64, response=False) == "target=v"
    assert cookie_capture(vals, b"c", 64, response=False) is None  # no '=': not a cookie
    assert cookie_capture(vals, b"$Path", 64, response=False) is None
    assert cookie_capture([b"k=v; Path=/"], b"Path", 64, response=True) is None


def test_response_headers_and_their_absence() -> None:
    caps = Captures(res=[("X-Backend", 8), ("Content-Length", 8), ("X-Missing", 4)])
    s = new_stream(caps)
    capture_response(s, res())
    assert s.res_cap == ["s1", "18", None]


def test_httplog_with_captures_prints_haproxys_braces() -> None:
    caps = Captures(
        req=[("Host", 2)], res=[("X-Backend", 8), ("Content-Length", 8)], cookie=("SES", 10)
    )
    s = new_stream(caps)
    capture_request(s, s.req)
    capture_response(s, res())
    line = compile_format(HTTPLOG, Env(http=True, n_req=1, n_res=2))(s, 1)
    # HAProxy 2.6.12 printed `... SESSx=1 SESSID=abc ---- 1/1/1/1/0 0/0 {t} {s1|18} "GET /a
    # HTTP/1.1"` for the same heads (with its own cookie and counts).
    assert " SESS=xyz SESSID=abc ---- " in line
    assert line.endswith(' {t} {s1|18} "GET /a HTTP/1.1"')


def test_capturing_twice_keeps_the_first_result() -> None:
    caps = Captures(req=[("Host", 8)])
    s = new_stream(caps)
    capture_request(s, s.req)
    s.req_cap = ["kept"]
    capture_request(s, s.req)
    assert s.req_cap == ["kept"]


def uid_captures(header: str | None = "X-Unique-ID") -> Captures:
    env = Env(http=True, uid=True, local=("127.0.0.1", 8080))
    fmt = compile_format("%{+X}o %ci:%cp_%fi:%fp_%rt", env, mandatory=False)
    return Captures(uid=fmt, uid_header=header)


def test_unique_id_is_made_once_when_the_request_is_processed() -> None:
    caps = uid_captures()
    s = new_stream(caps)
    s.uniq_id = 0x2A
    capture_request(s, s.req)
    assert s.unique_id is None  # captures come first; the id waits for the backend
    assert unique_id_line(s) == b"X-Unique-ID: 7F000001:8A86_7F000001:1F90_002A\r\n"
    s.uniq_id = 0  # the id does not change afterwards
    assert unique_id_line(s) == b"X-Unique-ID: 7F000001:8A86_7F000001:1F90_002A\r\n"


def test_unique_id_line_without_a_header_is_empty() -> None:
    caps = uid_captures(header=None)
    s = new_stream(caps)
    assert unique_id_line(s) == b""
    assert s.unique_id is not None  # made all the same, for %ID


def test_no_request_means_no_capture_and_no_id() -> None:
    caps = Captures(req=[("Host", 8)], uid=uid_captures().uid)
    s = new_stream(caps)
    s.req = None
    caps.request(s, None)
    caps.ensure_id(s)
    assert s.req_cap == []
    assert s.unique_id is None


def test_tcp_streams_still_get_an_id() -> None:
    caps = Captures(uid=uid_captures().uid, http=False)
    s = new_stream(caps)
    s.req = None
    caps.ensure_id(s)
    assert s.unique_id is not None
