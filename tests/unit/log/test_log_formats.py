"""httplog / clf / tcplog lines from fixed Streams, byte for byte.

Lines marked "HAProxy 2.6.12" are messages that binary sent (TZ=UTC) for the same traffic;
each Stream below reproduces the timings and counts of that run. The other expectations
are derived from HAProxy's preset format strings and its timer arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.unit.log.fakes_log import (
    T0,
    Backend,
    Conf,
    Counters,
    Frontend,
    Req,
    Server,
    stream,
    utc,
)
from weir.config.model import Cap
from weir.log.formats import (
    clf_line,
    connect_line,
    http_line,
    is_error,
    request_line,
    stopped_line,
    tcp_line,
    timers,
)


def ts(hh: int, mm: int, ss: int, ms: int) -> float:
    return utc(2026, 11, 23, hh, mm, ss, ms)


def test_httplog_plain_request() -> None:
    # HAProxy 2.6.12
    fe = Frontend("fe_http")
    s = stream(
        fe, client=("127.0.0.1", 35462), accept_date=ts(22, 22, 6, 345),
        backend=Backend("be_http"), server=Server("s1"), req=Req(b"GET", b"/a?b=c"),
        request=0, head=0, queue=0, connect=0, response=0, close=0,
    )  # fmt: skip
    assert http_line(s, 1) == (
        "127.0.0.1:35462 [23/Nov/2026:22:22:06.345] fe_http be_http/s1 0/0/0/0/0 200 77 - - "
        '---- 1/1/0/0/0 0/0 "GET /a?b=c HTTP/1.1"'
    )


def test_httplog_bad_request_names_the_frontend_as_backend() -> None:
    # HAProxy 2.6.12: a request line with a forbidden byte; no stream reached a backend.
    s = stream(
        Frontend("fe_http"), client=("127.0.0.1", 35478), accept_date=ts(22, 22, 6, 447),
        request=0, close=0, status=400, bytes_out=0, termination="PR--",
    )  # fmt: skip
    assert http_line(s, 1) == (
        "127.0.0.1:35478 [23/Nov/2026:22:22:06.447] fe_http fe_http/<NOSRV> -1/-1/-1/-1/0 "
        '400 0 - - PR-- 1/1/0/0/0 0/0 "<BADREQ>"'
    )


def test_httplog_client_that_sent_nothing() -> None:
    # HAProxy 2.6.12: connect and close at once, another connection open (2/2).
    s = stream(
        Frontend("fe_http", Counters(2)), client=("127.0.0.1", 43676),
        accept_date=ts(22, 22, 44, 328), close=0, status=400, bytes_in=0, bytes_out=0,
        termination="CR--",
    )  # fmt: skip
    assert http_line(s, 2) == (
        "127.0.0.1:43676 [23/Nov/2026:22:22:44.328] fe_http fe_http/<NOSRV> -1/-1/-1/-1/0 "
        '400 0 - - CR-- 2/2/0/0/0 0/0 "<BADREQ>"'
    )


def test_httplog_no_server_available() -> None:
    # HAProxy 2.6.12: backend without servers, 503 from the proxy.
    s = stream(
        Frontend("fe_nosrv"), client=("127.0.0.1", 45170), accept_date=ts(22, 22, 6, 759),
        backend=Backend("be_empty"), req=Req(b"GET", b"/nosrv"), request=0, head=0, close=0,
        status=503, bytes_out=217, termination="SC--",
    )  # fmt: skip
    assert http_line(s, 1) == (
        "127.0.0.1:45170 [23/Nov/2026:22:22:06.759] fe_nosrv be_empty/<NOSRV> 0/-1/-1/-1/0 "
        '503 217 - - SC-- 1/1/0/0/0 0/0 "GET /nosrv HTTP/1.1"'
    )


def test_httplog_slow_request_counts_from_its_first_byte() -> None:
    # HAProxy 2.6.12: the head took 301 ms to arrive; the date is the first byte's.
    s = stream(
        Frontend("fe_http"), client=("127.0.0.1", 43668), accept_date=ts(22, 22, 43, 826),
        backend=Backend("be_http"), server=Server("s1"), req=Req(b"GET", b"/slow"),
        request=0, head=301, queue=301, connect=301, response=301, close=301,
    )  # fmt: skip
    assert http_line(s, 1) == (
        "127.0.0.1:43668 [23/Nov/2026:22:22:43.826] fe_http be_http/s1 301/0/0/0/301 200 77 "
        '- - ---- 1/1/0/0/0 0/0 "GET /slow HTTP/1.1"'
    )


def test_httplog_idle_time_moves_the_date_and_leaves_the_timers() -> None:
    # HAProxy 2.6.12: connected at 44.127, sent the request 200 ms later.
    s = stream(
        Frontend("fe_http"), client=("127.0.0.1", 43670), accept_date=ts(22, 22, 44, 127),
        backend=Backend("be_http"), server=Server("s1"), req=Req(b"POST", b"/post"),
        request=200, head=200, queue=200, connect=200, response=200, close=200,
    )  # fmt: skip
    assert http_line(s, 1) == (
        "127.0.0.1:43670 [23/Nov/2026:22:22:44.327] fe_http be_http/s1 0/0/0/0/0 200 77 - - "
        '---- 1/1/0/0/0 0/0 "POST /post HTTP/1.1"'
    )


def test_httplog_listen_section() -> None:
    # HAProxy 2.6.12: `listen li` with `server s1`.
    s = stream(
        Frontend("li", conf=Conf(Cap.LISTEN)), client=("127.0.0.1", 36152),
        accept_date=ts(22, 24, 29, 819), backend=Backend("li"), server=Server("s1"),
        req=Req(b"GET", b"/li"), request=0, head=0, queue=0, connect=0, response=0, close=0,
    )  # fmt: skip
    assert http_line(s, 1) == (
        "127.0.0.1:36152 [23/Nov/2026:22:24:29.819] li li/s1 0/0/0/0/0 200 77 - - ---- "
        '1/1/0/0/0 0/0 "GET /li HTTP/1.1"'
    )


def test_httplog_timers_counts_queues_and_cookies() -> None:
    be = Backend("app", Counters(7))
    s = stream(
        Frontend("www", Counters(12)), client=("::1", 50000), accept_date=ts(9, 5, 1, 7),
        backend=be, server=Server("web2", cur_sess=3), req=Req(b"GET", b"/", b"HTTP/1.0"),
        request=15, head=27, queue=40, connect=41, response=109, close=150, status=302,
        bytes_out=4312, retries=2,
    )  # fmt: skip
    s.queue_srv, s.queue_be = 4, 1
    s.cookie_cli, s.cookie_srv = "SID=abc", "SID=def"
    s.termination = "--VN"
    # TR = 27-15, Tw = 40-27, Tc = 41-40, Tr = 109-41, Ta = 150-15; date = accept + 15 ms.
    assert http_line(s, 30) == (
        "::1:50000 [23/Nov/2026:09:05:01.022] www app/web2 12/13/1/68/135 302 4312 SID=abc "
        'SID=def --VN 30/12/7/3/2 4/1 "GET / HTTP/1.0"'
    )


def test_listen_without_a_backend_yet_counts_its_own_backend() -> None:
    own = Backend("li", Counters(5))
    fe = Frontend("li", conf=Conf(Cap.LISTEN), default_backend=own)
    s = stream(fe, accept_date=ts(0, 0, 0, 0), close=1, status=400, termination="PR--")
    assert " li li/<NOSRV> " in http_line(s, 1)
    assert " 1/1/5/0/0 " in http_line(s, 1)


def test_clf_line() -> None:
    # HAProxy 2.6.12 (`option httplog clf`): note the trailing space of the empty captures.
    s = stream(
        Frontend("fe_clf"), client=("127.0.0.1", 56552), accept_date=ts(22, 22, 6, 550),
        backend=Backend("be_http"), server=Server("s1"), req=Req(b"GET", b"/clf"),
        request=0, head=0, queue=0, connect=0, response=4, close=4,
    )  # fmt: skip
    assert clf_line(s, 1) == (
        '127.0.0.1 - - [23/Nov/2026:22:22:06 +0000] "GET /clf HTTP/1.1" 200 77 "" "" 56552 '
        '550 "fe_clf" "be_http" "s1" 0 0 0 4 4 ---- 1 1 0 0 0 0 0 "" "" '
    )


def test_clf_line_quotes_missing_server_and_captured_cookies() -> None:
    s = stream(
        Frontend("f"), accept_date=ts(23, 59, 59, 999), request=2, close=3, status=400,
        termination="PR--",
    )  # fmt: skip
    s.cookie_cli = "A=1"
    # The request date (accept + 2 ms) crosses midnight; %ms stays the accept date's.
    # Without a request HAProxy counts no bytes (it logs such a failure without a stream).
    assert clf_line(s, 1) == (
        '127.0.0.1 - - [24/Nov/2026:00:00:00 +0000] "<BADREQ>" 400 0 "" "" 35462 999 "f" '
        '"f" "<NOSRV>" -1 -1 -1 -1 1 PR-- 1 1 0 0 0 0 0 "A=1" "" '
    )


def test_tcplog_line() -> None:
    # HAProxy 2.6.12: Tw is 1 for an immediate connection (no request head in TCP, so
    # HAProxy subtracts its -1 "request time").
    s = stream(
        Frontend("fe_tcp"), client=("127.0.0.1", 49244), accept_date=ts(22, 22, 6, 655),
        backend=Backend("be_tcp"), server=Server("s1"), queue=0, connect=0, close=3,
        status=0, bytes_out=70, termination="--",
    )  # fmt: skip
    assert tcp_line(s, 1) == (
        "127.0.0.1:49244 [23/Nov/2026:22:22:06.655] fe_tcp be_tcp/s1 1/0/3 70 -- 1/1/0/0/0 0/0"
    )


def test_tcplog_refused_connection_and_state_truncated_to_two_letters() -> None:
    s = stream(
        Frontend("fe"), accept_date=ts(1, 2, 3, 4), backend=Backend("be"),
        server=Server("s1"), queue=2, close=9, bytes_out=0, termination="SC--", retries=3,
    )  # fmt: skip
    assert tcp_line(s, 4) == (
        "127.0.0.1:35462 [23/Nov/2026:01:02:03.004] fe be/s1 3/-1/9 0 SC 4/1/0/0/3 0/0"
    )


def test_timers_truncate_each_event_before_subtracting() -> None:
    s = stream(Frontend("f"), accept_date=0.0, close=0, req=Req(b"GET", b"/"))
    s.t_request = T0 + 0.0009  # 0.9 ms → 0
    s.t_head = T0 + 0.0021  # 2.1 ms → 2
    s.t_queue = T0 + 0.0029  # 2.9 ms → 2
    s.t_connect = T0 + 0.0051  # 5.1 ms → 5
    s.t_response = T0 + 0.0059  # 5.9 ms → 5
    s.t_close = T0 + 0.0101  # 10.1 ms → 10
    assert timers(s) == (0, 2, 0, 3, 0, 10, 10)


def test_timers_without_close_use_the_last_event() -> None:
    s = stream(Frontend("f"), accept_date=0.0, request=1, head=2, close=0, req=Req(b"GET", b"/"))
    s.t_close = 0.0
    assert timers(s) == (1, 1, -1, -1, -1, 1, 2)


def test_timers_without_a_request_have_no_request_time() -> None:
    # A bad head ended at 2 ms, yet HAProxy has no request time then: TR is -1.
    s = stream(Frontend("f"), accept_date=0.0, request=1, head=2, close=3)
    assert timers(s) == (1, -1, -1, -1, -1, 2, 3)


def test_request_line_is_encoded_like_haproxy() -> None:
    req = Req(b"GET", b'/q"u#o\x01te\xff\x7f ok')
    assert request_line(req) == "GET /q#22u#23o#01te#FF#7F ok HTTP/1.1"
    assert request_line(None) == "<BADREQ>"


def test_request_line_is_cut_to_1023_bytes() -> None:
    req = Req(b"GET", b"/" + b"a" * 2000)
    line = request_line(req)
    assert len(line) == 1023
    assert line.startswith("GET /aaa")
    assert line.endswith("a")


def test_connect_lines() -> None:
    # HAProxy 2.6.12, frontends with `log global` and no log format.
    assert connect_line("127.0.0.1", 50094, "127.0.0.1", 27080, frontend="fe_plain", http=True) == (
        "Connect from 127.0.0.1:50094 to 127.0.0.1:27080 (fe_plain/HTTP)"
    )
    assert connect_line("127.0.0.1", 47616, "127.0.0.1", 27081, frontend="t", http=False) == (
        "Connect from 127.0.0.1:47616 to 127.0.0.1:27081 (t/TCP)"
    )
    assert connect_line("unix", 3, "", 0, frontend="u", http=True) == "Connect to unix:3 (u/HTTP)"


def test_stopped_line() -> None:
    # HAProxy 2.6.12, on SIGUSR1.
    assert stopped_line("li", 1, 1) == "Proxy li stopped (cumulated conns: FE: 1, BE: 1)."


def test_errors_for_dontlog_normal_and_separate_errors() -> None:
    fe = Frontend("f")
    assert not is_error(stream(fe, accept_date=0.0), True)
    assert not is_error(stream(fe, accept_date=0.0, termination="LR--"), True)
    assert is_error(stream(fe, accept_date=0.0, termination="cD--"), True)
    assert is_error(stream(fe, accept_date=0.0, retries=1), True)
    assert is_error(stream(fe, accept_date=0.0, status=502), True)
    assert not is_error(stream(fe, accept_date=0.0, status=502), False)


def test_local_time_zone_applies_to_dates_but_not_to_clf(
    set_tz: Callable[[str], None],
) -> None:
    set_tz("XYZ-2")
    s = stream(
        Frontend("f"), accept_date=ts(22, 22, 6, 345), request=0, close=0, status=400,
        termination="PR--",
    )  # fmt: skip
    assert "[24/Nov/2026:00:22:06.345]" in http_line(s, 1)
    assert "[23/Nov/2026:22:22:06 +0000]" in clf_line(s, 1)
