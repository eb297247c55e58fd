"""Health checks against real servers on 127.0.0.1, driven in-process (see checkpeers).

Waits are bounded polls; assertions are about states, statuses and the count of checks,
never about time.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.backends import HttpBackend, TcpEchoBackend
from tests.helpers.ports import LOOPBACK, free_port
from tests.scenarios.checks.checkpeers import (
    Said,
    checks_running,
    run,
    runtime,
    server,
    stopped,
    until,
)
from weir.backend.server import SrvState


class HealthPage:
    """A tiny HTTP server on the test's own loop whose status is switched by the test;
    `served` lists every status it answered, in order."""

    def __init__(self) -> None:
        self.status = 200
        self.served: list[int] = []
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> HealthPage:
        self._server = await asyncio.start_server(self._handle, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        self.requests.append(head)
        status = self.status
        self.served.append(status)
        reason = {200: "OK", 404: "Not Found"}.get(status, "Other")
        writer.write(f"HTTP/1.1 {status} {reason}\r\ncontent-length: 2\r\n\r\nok".encode())
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


# -- the rise/fall cycle, counted exactly ----------------------------------------------------


def test_404_takes_the_server_down_after_fall_checks_and_it_rises_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = await HealthPage().start()
        other = await HealthPage().start()
        rt = runtime(
            tmp_path,
            f"""\
backend app
    mode http
    option httpchk GET /healthCheck.html
    server web1 {LOOPBACK}:{page.port} check inter 100ms rise 2 fall 3
    server web2 {LOOPBACK}:{other.port} check inter 100ms
""",
        )
        be = rt.backends["app"]
        web1 = server(rt, "app", "web1")
        said = Said()
        at_change: list[tuple[str, list[int]]] = []
        said.hooks.append(lambda m: at_change.append((m, list(page.served))))
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: getattr(web1, "check_health", 0) == 4)
            assert (web1.check_status, web1.check_code) == ("L7OK", 200)
            assert web1.state is SrvState.UP

            page.status = 404
            mark = len(page.served)
            assert await until(lambda: web1.state is SrvState.DOWN)
            message, served = at_change[-1]
            assert served[mark:] == [404, 404, 404]  # exactly `fall` failed checks
            assert (web1.check_status, web1.check_code, web1.check_desc) == (
                "L7STS",
                404,
                "Not Found",
            )
            assert message.startswith(
                "Server app/web1 is DOWN, reason: Layer7 wrong status, code: 404, "
                'info: "Not Found", check duration: '
            )
            assert message.endswith(
                "ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, "
                "0 remaining in queue."
            )
            assert all(be.pick() is not web1 for _ in range(10))

            page.status = 200
            mark = len(page.served)
            assert await until(lambda: web1.state is SrvState.UP)
            message, served = at_change[-1]
            # Any 404 answered before the switch was seen while already down.
            assert [s for s in served[mark:] if s == 200] == [200, 200]  # exactly `rise`
            assert message.startswith(
                "Server app/web1 is UP, reason: Layer7 check passed, code: 200, check duration: "
            )
            assert message.endswith(
                "ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
            )
            assert any(be.pick() is web1 for _ in range(10))
            assert web1.chkdown == 1
            assert web1.chkfail == 3
            assert len(said.lines) == 2
        finally:
            await stopped(sched)
            await page.close()
            await other.close()

    run(scenario())


# -- with the shared test backends -----------------------------------------------------------


def test_introduction_check_against_the_http_backend(
    tmp_path: Path, http_backend: Callable[..., HttpBackend]
) -> None:
    web = http_backend("web")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend ms1
    mode http
    option httpchk GET /healthCheck.html
    server ms1.srv1 {web.address} check inter 100ms rise 2 fall 3
""",
        )
        srv = server(rt, "ms1", "ms1.srv1")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: srv.check_status == "L7OK" and len(web.checks) >= 2)
            req = web.checks[0]
            assert (req.method, req.path, req.version) == ("GET", "/healthCheck.html", "HTTP/1.0")
            assert web.requests == []  # checks are not traffic
            web.health_status = 503
            assert await until(lambda: srv.state is SrvState.DOWN)
            assert (srv.check_status, srv.check_code) == ("L7STS", 503)
            assert said.matching(
                "Server ms1/ms1.srv1 is DOWN, reason: Layer7 wrong status, "
                'code: 503, info: "Service Unavailable"'
            )
            assert said.matching("backend 'ms1' has no server available!")
        finally:
            await stopped(sched)

    run(scenario())


def test_httpchk_runs_on_a_tcp_backend(
    tmp_path: Path, http_backend: Callable[..., HttpBackend]
) -> None:
    web = http_backend("web")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend default_servers
    mode tcp
    option httpchk GET /healthCheck.html
    server def.srv1 {web.address} maxconn 300 check inter 100ms
""",
        )
        srv = server(rt, "default_servers", "def.srv1")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: srv.check_status == "L7OK")
            assert srv.check_code == 200
            assert web.checks[0].path == "/healthCheck.html"
        finally:
            await stopped(sched)

    run(scenario())


def test_refused_port_is_l4con_and_down_at_the_first_check(tmp_path: Path) -> None:
    port = free_port()

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk
    server dead {LOOPBACK}:{port} check inter 100ms rise 2 fall 3
""",
        )
        dead = server(rt, "be", "dead")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            # At start-up a server is up but falls at its first failure (HAProxy 2.6).
            assert await until(lambda: dead.state is SrvState.DOWN)
            assert (dead.check_status, dead.check_desc) == ("L4CON", "Connection refused")
            assert dead.check_code is None
            assert said.matching(
                "Server be/dead is DOWN, reason: Layer4 connection problem, "
                'info: "Connection refused", check duration: '
            )
        finally:
            await stopped(sched)

    run(scenario())


def test_tcp_check_connects_only(
    tmp_path: Path, tcp_backend: Callable[..., TcpEchoBackend]
) -> None:
    echo = tcp_backend("echo")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode tcp
    server e1 {echo.address} check inter 100ms fall 2
""",
        )
        e1 = server(rt, "be", "e1")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: e1.check_status == "L4OK")
            assert e1.check_code is None
            # A TCP check sends nothing; like HAProxy's, it holds the last ACK of the
            # handshake back and resets the connection, so the server's application
            # usually never even accepts it.
            assert echo.received == 0
            echo.stop()
            assert await until(lambda: e1.state is SrvState.DOWN)
            assert e1.check_status == "L4CON"
            assert e1.chkfail == 2
        finally:
            await stopped(sched)

    run(scenario())


def test_no_answer_in_time_is_l7tout(
    tmp_path: Path, http_backend: Callable[..., HttpBackend]
) -> None:
    web = http_backend("web", health_mode="no-response")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    timeout check 200ms
    option httpchk GET /healthCheck.html
    server s {web.address} check inter 100ms
""",
        )
        s = server(rt, "be", "s")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: s.state is SrvState.DOWN)
            assert (s.check_status, s.check_desc, s.check_code) == ("L7TOUT", "", None)
            assert said.matching("Server be/s is DOWN, reason: Layer7 timeout, check duration: ")
        finally:
            await stopped(sched)

    run(scenario())


def test_garbage_is_l7rsp(tmp_path: Path, http_backend: Callable[..., HttpBackend]) -> None:
    web = http_backend("web", health_mode="malformed")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk GET /healthCheck.html
    server s {web.address} check inter 100ms
""",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: s.state is SrvState.DOWN)
            assert s.check_status == "L7RSP"
        finally:
            await stopped(sched)

    run(scenario())


def test_closed_without_answer_is_an_empty_response(
    tmp_path: Path, http_backend: Callable[..., HttpBackend]
) -> None:
    web = http_backend("web", health_mode="close")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk GET /healthCheck.html
    server s {web.address} check inter 100ms
""",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: s.state is SrvState.DOWN)
            assert (s.check_status, s.check_desc) == (
                "L7RSP",
                "TCPCHK got an empty response at step 2",
            )
        finally:
            await stopped(sched)

    run(scenario())


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A listener that never accepts, its one-slot queue already full: SYNs go unanswered."""
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            c.connect((LOOPBACK, port))
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    listener.close()


def test_connection_not_established_in_time_is_l4tout(tmp_path: Path, unanswered_port: int) -> None:
    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode tcp
    server s {LOOPBACK}:{unanswered_port} check inter 200ms
""",
        )
        s = server(rt, "be", "s")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: s.state is SrvState.DOWN)
            assert (s.check_status, s.check_desc) == ("L4TOUT", "")
            assert said.matching("Server be/s is DOWN, reason: Layer4 timeout, check duration: ")
        finally:
            await stopped(sched)

    run(scenario())


def test_check_port_and_addr_redirect_the_check(
    tmp_path: Path, http_backend: Callable[..., HttpBackend]
) -> None:
    web = http_backend("web")
    dead = free_port()

    async def scenario() -> None:
        # The traffic port is dead; the check goes to the health port and passes.
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk GET /healthCheck.html
    server p {LOOPBACK}:{dead} check inter 100ms port {web.port}
    server a 127.0.0.9:{dead} check inter 100ms addr {LOOPBACK}:{web.port}
""",
        )
        p, a = server(rt, "be", "p"), server(rt, "be", "a")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: p.check_status == "L7OK" and a.check_status == "L7OK")
            assert p.state is SrvState.UP
            assert a.state is SrvState.UP
        finally:
            await stopped(sched)

    run(scenario())


def test_expect_string_rule(tmp_path: Path, http_backend: Callable[..., HttpBackend]) -> None:
    web = http_backend("web")  # the health page answers "OK"

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend good
    mode http
    option httpchk GET /healthCheck.html
    http-check expect string OK
    server s {web.address} check inter 100ms

backend bad
    mode http
    option httpchk GET /healthCheck.html
    http-check expect ! rstring ^O
    server s {web.address} check inter 100ms
""",
        )
        good, bad = server(rt, "good", "s"), server(rt, "bad", "s")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: good.check_status == "L7OK" and bad.state is SrvState.DOWN)
            assert (bad.check_status, bad.check_desc) == (
                "L7RSP",
                "HTTP check matched unwanted content",
            )
            assert good.state is SrvState.UP
        finally:
            await stopped(sched)

    run(scenario())


def test_server_in_maintenance_is_not_checked(tmp_path: Path) -> None:
    async def scenario() -> None:
        live = await HealthPage().start()
        maint = await HealthPage().start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk
    server live {LOOPBACK}:{live.port} check inter 100ms
    server off {LOOPBACK}:{maint.port} check inter 100ms disabled
""",
        )
        off = server(rt, "be", "off")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: len(live.served) >= 5)
            assert maint.served == []
            assert off.state is SrvState.MAINT
            assert off.check_status == "INI"
            # Leaving maintenance (as the runtime API would): checked again, and up.
            off.state = SrvState.UP
            assert await until(lambda: len(maint.served) >= 1 and off.check_status == "L7OK")
            assert off.state is SrvState.UP
        finally:
            await stopped(sched)
            await live.close()
            await maint.close()

    run(scenario())


def test_stop_ends_every_check(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = await HealthPage().start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk
    server s1 {LOOPBACK}:{page.port} check inter 100ms
    server s2 {LOOPBACK}:{page.port} check inter 100ms
""",
        )
        sched = await checks_running(rt, Said())
        assert await until(lambda: len(page.served) >= 4)
        await stopped(sched)
        count = len(page.served)
        await asyncio.sleep(0.3)
        assert len(page.served) == count
        await page.close()

    run(scenario())
