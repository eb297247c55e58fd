"""Tests of the test equipment: ports, backends, proxy processes, fixtures, compat runner.

Backends are exercised directly with raw sockets and the real curl; proxy processes with
HAProxy 2.6 (skipped where it is absent). No assertion depends on how fast anything is:
where a delay matters, the test only checks that an answer has *not* come early.
"""

from __future__ import annotations

import signal
import socket
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.compat.helpers import curl, run_both, run_one
from tests.helpers import (
    HttpBackend,
    ProxyProcess,
    ProxyStartError,
    TcpEchoBackend,
    free_port,
    haproxy_argv,
    haproxy_available,
    is_listening,
    run_check,
    wait_closed,
    wait_listening,
    wait_port,
    wait_until,
)
from tests.helpers.backends import MALFORMED_RESPONSE, BadRequestError, parse_request_head

HttpFactory = Callable[..., HttpBackend]
TcpFactory = Callable[..., TcpEchoBackend]
IO_TIMEOUT = 5.0
needs_haproxy = pytest.mark.skipif(not haproxy_available(), reason="HAProxy is not installed")


# -- raw-socket client helpers --------------------------------------------------------------
def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    s.settimeout(IO_TIMEOUT)
    return s


def read_until_eof(s: socket.socket) -> bytes:
    chunks: list[bytes] = []
    for _ in range(10_000):  # bounded: each pass receives at least one byte or ends
        data = s.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)
    raise AssertionError("too many reads")


class Reader:
    """Reads HTTP/1.1 responses framed by Content-Length from a socket (test side only)."""

    def __init__(self, s: socket.socket) -> None:
        self.s = s
        self.buf = b""

    def _fill(self) -> None:
        data = self.s.recv(65536)
        if not data:
            raise EOFError("connection closed")
        self.buf += data

    def response(self) -> tuple[int, dict[str, str], bytes]:
        for _ in range(1000):
            if b"\r\n\r\n" in self.buf:
                break
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        for _ in range(1000):
            if len(self.buf) >= length:
                break
            self._fill()
        body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body


GET = b"GET /x HTTP/1.1\r\nHost: t\r\n\r\n"


# -- ports ----------------------------------------------------------------------------------
def test_free_port_never_repeats_and_is_bindable() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    with socket.socket() as s:
        s.bind(("127.0.0.1", ports[0]))


def test_wait_helpers_follow_a_listener() -> None:
    port = free_port()
    assert not wait_port(port, timeout=0.1)
    assert not wait_listening(port, timeout=0.1)
    assert wait_closed(port, timeout=0.1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert wait_port(port, timeout=2)
        assert wait_listening(port, timeout=2)
        assert is_listening(port)
        assert not wait_closed(port, timeout=0.1)
    assert wait_closed(port, timeout=2)


# -- HttpBackend: answers and records ------------------------------------------------------
def test_answers_hello_with_backend_header(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    status, headers, body = curl(b.url + "/any/path?q=1")
    assert status == 200
    assert body == b"Hello! This is web1!"
    assert ("X-Backend", "web1") in headers
    [req] = b.requests
    assert (req.method, req.target, req.path, req.version) == (
        "GET",
        "/any/path?q=1",
        "/any/path",
        "HTTP/1.1",
    )
    assert (req.header("user-agent") or "").startswith("curl/")


def test_health_check_is_answered_and_kept_apart(http_backend: HttpFactory) -> None:
    b = http_backend("web1", body="ignored for checks")
    status, _, body = curl(b.url + "/healthCheck.html")
    assert (status, body) == (200, b"OK")
    assert b.requests == []
    assert [c.path for c in b.checks] == ["/healthCheck.html"]
    b.health_status = 503
    assert curl(b.url + "/healthCheck.html").status == 503
    assert curl(b.url + "/").status == 200


def test_records_method_target_headers_body_raw_head_and_peer(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    head = (
        b"POST /submit?a=b HTTP/1.1\r\nHost: example\r\nX-Dup: one\r\nx-dup:  two \r\n"
        b"Content-Length: 5\r\n\r\n"
    )
    with connect(b.port) as s:
        s.sendall(head + b"hello")
        status, headers, body = Reader(s).response()
        local_port = s.getsockname()[1]
    assert (status, headers["x-backend"], body) == (200, "web1", b"Hello! This is web1!")
    [req] = b.requests
    assert req.method == "POST"
    assert req.target == "/submit?a=b"
    assert req.headers == [
        (b"Host", b"example"),
        (b"X-Dup", b"one"),
        (b"x-dup", b"two"),
        (b"Content-Length", b"5"),
    ]
    assert req.header_values("X-DUP") == ["one", "two"]
    assert req.body == b"hello"
    assert req.raw_head == head
    assert req.peer_port == local_port
    assert b.peer_ports == [local_port]


def test_chunked_request_body_and_trailers(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    with connect(b.port) as s:
        s.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Sum: 15\r\n\r\n"
        )
        assert Reader(s).response()[0] == 200
    [req] = b.requests
    assert req.chunked
    assert req.body == b"hello0123456789"
    assert req.trailers == [(b"X-Sum", b"15")]


def test_keep_alive_and_pipelining_on_one_connection(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    with connect(b.port) as s:
        s.sendall(
            b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n"
            b"POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
            b"GET /3 HTTP/1.1\r\nHost: t\r\n\r\n"
        )
        r = Reader(s)
        assert [r.response()[0] for _ in range(3)] == [200, 200, 200]
        s.sendall(b"GET /4 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert r.response()[0] == 200
    reqs = b.requests
    assert [q.target for q in reqs] == ["/1", "/2", "/3", "/4"]
    assert reqs[1].body == b"abc"
    assert {q.conn for q in reqs} == {1}
    assert b.accepted == 1


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    ],
    ids=["http10", "connection-close"],
)
def test_closes_when_the_client_asks(http_backend: HttpFactory, request_bytes: bytes) -> None:
    b = http_backend("web1")
    with connect(b.port) as s:
        s.sendall(request_bytes)
        data = read_until_eof(s)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nConnection: close\r\n" in data
    assert data.endswith(b"Hello! This is web1!")


def test_http10_keep_alive_is_honoured(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    with connect(b.port) as s:
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = Reader(s)
        assert r.response()[1]["connection"] == "keep-alive"
        s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        assert r.response()[0] == 200
    assert b.accepted == 1


def test_keep_alive_off_closes_after_each_response(http_backend: HttpFactory) -> None:
    b = http_backend("web1", keep_alive=False)
    with connect(b.port) as s:
        s.sendall(GET + GET)
        data = read_until_eof(s)
    assert data.count(b"HTTP/1.1 200") == 1
    assert b"Connection: close" in data


def test_status_headers_body_and_head_method(http_backend: HttpFactory) -> None:
    b = http_backend(
        "web1", status=404, body=b"nope", headers=[("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")]
    )
    res = curl(b.url)
    assert (res.status, res.body) == (404, b"nope")
    assert res.header_values("set-cookie") == ["a=1", "b=2"]
    with connect(b.port) as s:
        s.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = read_until_eof(s)
    assert data.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert data.endswith(
        b"Content-Length: 4\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nConnection: close\r\n\r\n"
    )


def test_chunked_response_and_respond_hook(http_backend: HttpFactory) -> None:
    def echo_path(req: object) -> tuple[int, list[tuple[str, str]], bytes] | None:
        path = getattr(req, "path", "")
        return None if path == "/default" else (201, [("X-Path", path)], path.encode())

    b = http_backend("web1", chunked=True, respond=echo_path)
    res = curl(b.url + "/echo-me")
    assert (res.status, res.header("x-path"), res.body) == (201, "/echo-me", b"/echo-me")
    assert res.header("transfer-encoding") == "chunked"
    assert curl(b.url + "/default").body == b"Hello! This is web1!"


def test_expect_100_continue(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    payload = b"x" * 5000
    with connect(b.port) as s:
        s.sendall(
            b"PUT /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n"
        )
        r = Reader(s)
        assert r.response()[0] == 100
        s.sendall(payload)
        assert r.response()[0] == 200
    assert b.requests[0].body == payload


def test_large_response_is_complete_when_the_client_half_closes(http_backend: HttpFactory) -> None:
    body = bytes(range(256)) * 4096  # 1 MiB: more than the transport buffers at once
    b = http_backend("web1", body=body)
    with connect(b.port) as s:
        s.sendall(GET)
        s.shutdown(socket.SHUT_WR)
        data = read_until_eof(s)
    assert data.endswith(b"\r\n\r\n" + body)


def test_binds_other_loopback_addresses(http_backend: HttpFactory) -> None:
    b = http_backend("web2", host="127.0.0.2")
    assert b.address == f"127.0.0.2:{b.port}"
    assert curl(b.url).body == b"Hello! This is web2!"


def test_concurrent_connection_counts(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    socks = [connect(b.port) for _ in range(3)]
    try:
        assert wait_until(lambda: b.concurrent == 3)
        assert (b.accepted, b.max_concurrent) == (3, 3)
    finally:
        for s in socks:
            s.close()
    assert wait_until(lambda: b.concurrent == 0)
    assert b.max_concurrent == 3
    b.clear()
    assert (b.accepted, b.max_concurrent, b.requests) == (0, 0, [])
    with connect(b.port) as s:
        s.sendall(GET)
        Reader(s).response()
    assert (b.accepted, b.max_concurrent, len(b.requests)) == (1, 1, 1)
    assert b.requests[0].conn == 1


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n",
            "both",
        ),
        (
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "conflicting",
        ),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -3\r\n\r\n", "Content-Length"),
        (b"GET / HTTP/1.1\r\nHost: t\r\n  folded\r\n\r\n", "folding"),
        (b"GET / HTTP/1.1\r\nHost: t\nX: y\r\n\r\n", "header line"),
        (b"GET / HTTP/1.1\r\nBad Name: y\r\n\r\n", "header line"),
        (b"GET /  HTTP/1.1\r\n\r\n", "request line"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "transfer coding"),
        (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size"),
    ],
)
def test_bad_requests_are_refused_and_recorded(
    http_backend: HttpFactory, raw: bytes, reason: str
) -> None:
    b = http_backend("web1")
    with connect(b.port) as s:
        s.sendall(raw)
        data = read_until_eof(s)
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b.requests == []
    [(_, why)] = b.bad_requests
    assert reason in why


def test_parse_request_head_is_strict_and_keeps_order() -> None:
    head = parse_request_head(b"\r\nGET /a HTTP/1.1\r\nA: 1\r\nB:2\r\nConnection: close\r\n\r\n")
    assert head.headers == [(b"A", b"1"), (b"B", b"2"), (b"Connection", b"close")]
    assert not head.keep_alive
    with pytest.raises(BadRequestError):
        parse_request_head(b"GET /a HTTP/1.1\r\nA: 1\r\n")


# -- HttpBackend: misbehaviours --------------------------------------------------------------
def test_mode_close_closes_without_answering(http_backend: HttpFactory) -> None:
    b = http_backend("web1", mode="close")
    with connect(b.port) as s:
        s.sendall(GET)
        assert read_until_eof(s) == b""
    assert len(b.requests) == 1
    assert curl(b.url).curl_exit == 52  # "empty reply from server"


def test_mode_reset_sends_rst(http_backend: HttpFactory) -> None:
    b = http_backend("web1", mode="reset")
    with connect(b.port) as s:
        s.sendall(GET)
        with pytest.raises(ConnectionResetError):
            read_until_eof(s)
    assert len(b.requests) == 1
    assert curl(b.url).curl_exit == 56  # "failure in receiving network data"


def test_mode_malformed_answers_garbage(http_backend: HttpFactory) -> None:
    b = http_backend("web1", mode="malformed")
    with connect(b.port) as s:
        s.sendall(GET)
        assert read_until_eof(s) == MALFORMED_RESPONSE
    assert curl(b.url).status < 0


def test_mode_slow_headers_sends_the_status_line_first(http_backend: HttpFactory) -> None:
    b = http_backend("web1", mode="slow-headers", delay=1.0)
    with connect(b.port) as s:
        s.sendall(GET)
        first = s.recv(65536)
        assert first == b"HTTP/1.1 200 OK\r\n"
        r = Reader(s)
        r.buf = first
        status, headers, body = r.response()
    assert (status, headers["x-backend"], body) == (200, "web1", b"Hello! This is web1!")


def test_delay_postpones_the_answer(http_backend: HttpFactory) -> None:
    b = http_backend("web1", delay=1.0)
    with connect(b.port) as s:
        s.sendall(GET)
        s.settimeout(0.2)
        with pytest.raises(TimeoutError):
            s.recv(1)
        s.settimeout(IO_TIMEOUT)
        assert Reader(s).response()[0] == 200


def test_mode_no_response_keeps_reading(http_backend: HttpFactory) -> None:
    b = http_backend("web1", mode="no-response")
    with connect(b.port) as s:
        s.sendall(GET)
        assert b.wait_requests(1)
        s.sendall(b"GET /second HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b.wait_requests(2)
        s.settimeout(0.2)
        with pytest.raises(TimeoutError):
            s.recv(1)
    assert [r.target for r in b.requests] == ["/x", "/second"]


def test_modes_change_while_running(http_backend: HttpFactory) -> None:
    b = http_backend("web1")
    assert curl(b.url).status == 200
    b.mode = "reset"
    assert curl(b.url).curl_exit == 56
    assert curl(b.url + "/healthCheck.html").status == 200  # checks follow health_mode
    b.health_mode = "close"
    assert curl(b.url + "/healthCheck.html").curl_exit == 52
    b.mode = "ok"
    assert curl(b.url).status == 200
    with pytest.raises(ValueError, match="unknown mode"):
        b.mode = "explode"  # type: ignore[assignment]


# -- life cycle ------------------------------------------------------------------------------
def test_stop_closes_listener_and_connections_and_restart_reuses_port() -> None:
    b = HttpBackend("web1").start()
    port = b.port
    s = connect(port)
    try:
        assert wait_until(lambda: b.concurrent == 1)
        b.stop()
        assert not b.running
        assert wait_closed(port, timeout=2)
        assert read_until_eof(s) == b""
    finally:
        s.close()
    with HttpBackend("web1-again", port=port) as again:
        assert curl(again.url).body == b"Hello! This is web1-again!"
    assert wait_closed(port, timeout=2)


# -- TcpEchoBackend ------------------------------------------------------------------------
def test_tcp_echo_with_greeting(tcp_backend: TcpFactory) -> None:
    t = tcp_backend("l4a", greeting=True)
    with connect(t.port) as s:
        assert s.recv(100) == b"Hello! This is l4a!\n"
        s.sendall(b"ping")
        got = b""
        for _ in range(100):
            if len(got) >= 4:
                break
            got += s.recv(100)
        assert got == b"ping"
        s.shutdown(socket.SHUT_WR)
        assert read_until_eof(s) == b""
    assert t.received == 4
    assert t.accepted == 1


@pytest.mark.parametrize("mode", ["close", "reset", "silent"])
def test_tcp_modes(tcp_backend: TcpFactory, mode: str) -> None:
    t = tcp_backend("l4a", mode=mode)
    if mode == "reset":
        # The reset may come before connect() returns, or at the first read.
        with pytest.raises(ConnectionResetError), connect(t.port) as s:
            read_until_eof(s)
        return
    with connect(t.port) as s:
        # These two end the connection at once: sending first could race them.
        if mode == "close":
            assert read_until_eof(s) == b""
        else:
            s.sendall(b"data")
            assert wait_until(lambda: t.received == 4)
            s.settimeout(0.2)
            with pytest.raises(TimeoutError):
                s.recv(1)


# -- proxies ---------------------------------------------------------------------------------
def proxy_cfg(port: int, *servers: HttpBackend) -> str:
    lines = "\n".join(f"    server {b.name} {b.address}" for b in servers)
    return textwrap.dedent(
        """\
        global
            maxconn 100
        defaults
            mode http
            timeout connect 2s
            timeout client 5s
            timeout server 5s
        frontend fe
            bind 127.0.0.1:{port}
            default_backend be
        backend be
            balance roundrobin
        {servers}
        """
    ).format(port=port, servers=lines)


def test_haproxy_fixture_forwards_to_backends(
    http_backend: HttpFactory, haproxy: Callable[..., ProxyProcess]
) -> None:
    a, b = http_backend("srv1"), http_backend("srv2")
    port = free_port()
    proxy = haproxy(proxy_cfg(port, a, b), wait_ports=[port])
    assert proxy.alive
    bodies = [curl(f"http://127.0.0.1:{port}/p").body for _ in range(4)]
    assert sorted(bodies) == [b"Hello! This is srv1!"] * 2 + [b"Hello! This is srv2!"] * 2
    assert len(a.requests) == len(b.requests) == 2
    assert isinstance(proxy.log, str)


@needs_haproxy
def test_proxy_process_stop_returns_status_and_log_survives() -> None:
    port = free_port()
    with HttpBackend("srv1") as a:
        proxy = ProxyProcess(proxy_cfg(port, a), haproxy_argv, wait_ports=[port])
        with proxy:
            assert is_listening(port)
            assert curl(f"http://127.0.0.1:{port}/").status == 200
            workdir = proxy.dir
        assert proxy.returncode == -signal.SIGTERM
        assert proxy.stopped_cleanly
        assert not workdir.exists()
        assert proxy.stop() == -signal.SIGTERM  # idempotent
        assert wait_closed(port, timeout=2)


@needs_haproxy
def test_proxy_start_failure_raises_with_the_log() -> None:
    proxy = ProxyProcess("frontend fe\n    no-such-keyword here\n", haproxy_argv)
    with pytest.raises(ProxyStartError, match=r"(?s)exited with status 1.*no-such-keyword"):
        proxy.start(wait_ports=[free_port()])
    assert "ALERT" in proxy.log
    assert proxy.returncode == 1
    assert not proxy.dir.exists()


@needs_haproxy
def test_proxy_start_refuses_a_port_already_listening() -> None:
    with HttpBackend("squatter") as b:
        proxy = ProxyProcess(proxy_cfg(b.port, b), haproxy_argv)
        with pytest.raises(ProxyStartError, match="already listen"):
            proxy.start(wait_ports=[b.port])
        assert proxy.proc is None
        assert not proxy.dir.exists()


@needs_haproxy
def test_run_check_with_haproxy() -> None:
    good = run_check(proxy_cfg(free_port()) + "    server s 127.0.0.1:1\n", program="haproxy")
    assert good.returncode == 0, good.stdout
    bad = run_check("frontend fe\n    bogus-keyword 1\n", program="haproxy")
    assert bad.returncode != 0
    assert "ALERT" in bad.stdout


def test_run_one_with_haproxy_and_run_both(http_backend: HttpFactory) -> None:
    a = http_backend("srv1")
    port = free_port()

    def traffic(proxy: ProxyProcess) -> tuple[str, int, bytes, str | None]:
        a.clear()
        res = curl(f"http://127.0.0.1:{port}/compare")
        [req] = a.requests
        return proxy.name, res.status, res.body, req.path

    name, status, body, path = run_one("haproxy", proxy_cfg(port, a), traffic, [port])
    assert (name, status, body, path) == ("haproxy", 200, b"Hello! This is srv1!", "/compare")
    pytest.importorskip("weir.cli")
    theirs, ours = run_both(proxy_cfg(port, a), traffic, [port])
    assert (theirs[0], ours[0]) == ("haproxy", "weir")
    assert theirs[1:] == ours[1:]


def test_curl_reports_transport_failures() -> None:
    res = curl(f"http://127.0.0.1:{free_port()}/", max_time=2)
    assert (res.status, res.curl_exit, res.headers) == (-7, 7, [])


# -- fixtures as seen from a test ----------------------------------------------------------------
CONFTEST = Path(__file__).resolve().parents[2] / "conftest.py"


@needs_haproxy
def test_failed_test_report_shows_proxy_log_and_unclean_exit_fails(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        test_inner="""
        import os, signal
        from tests.helpers import free_port

        CFG = '''
        defaults
            mode http
            timeout connect 1s
            timeout client 1s
            timeout server 1s
        frontend fe
            bind 127.0.0.1:{port}
        '''

        def test_fails(haproxy):
            port = free_port()
            haproxy(CFG.format(port=port), wait_ports=[port])
            assert False, "deliberate"

        def test_killed(haproxy):
            port = free_port()
            p = haproxy(CFG.format(port=port), wait_ports=[port])
            os.kill(p.pid, signal.SIGKILL)

        def test_clean(haproxy, http_backend):
            port = free_port()
            http_backend("x")
            haproxy(CFG.format(port=port), wait_ports=[port])
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, failed=1, errors=1)
    result.stdout.fnmatch_lines(["*haproxy log*", "*haproxy config*"])
    result.stdout.fnmatch_lines(
        ["*ERROR at teardown of test_killed*", "*exited with status -9 on SIGTERM*"]
    )
