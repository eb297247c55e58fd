"""HTTP checks beyond the status line, against a real page on 127.0.0.1: the request
`http-check send` builds, `send-state`, header and body rules, `disable-on-404`."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.scenarios.checks.checkpeers import (
    Peer,
    Said,
    answer,
    checks_running,
    run,
    runtime,
    server,
    stopped,
    until,
)
from weir.backend.server import SrvState


class Page:
    """Answers `status` with `headers` and `body`; records every request head."""

    def __init__(self) -> None:
        self.status = "200 OK"
        self.headers = ""
        self.body = b"ok"
        self.requests: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        body = await reader.readexactly(length) if length else b""
        self.requests.append(head + body)
        response = (
            f"HTTP/1.1 {self.status}\r\n{self.headers}content-length: {len(self.body)}\r\n\r\n"
        ).encode() + self.body
        await answer(writer, response)


def test_send_and_send_state(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = Page()
        peer = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option httpchk
    http-check send-state
    http-check send meth POST uri /status ver HTTP/1.1 hdr Host health.test body ping
    server s {peer.address} check inter 100ms rise 2 fall 3
""",
            prelude="global\n    node lb1\n",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: len(page.requests) >= 2)
            first, second = page.requests[0], page.requests[1]
            assert first.startswith(b"POST /status HTTP/1.1\r\nhost: health.test\r\n")
            assert first.endswith(b"content-length: 4\r\n\r\nping")
            state = f"; address=127.0.0.1; port={peer.port}; name=be/s; node=lb1; ".encode()
            assert b"x-haproxy-server-state: UP 1/3" + state in first  # start-up: rise
            assert b"x-haproxy-server-state: UP" + state in second  # then fully up
            assert s.check_status == "L7OK"
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_header_and_body_rules(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = Page()
        page.headers = "X-Role: primary\r\n"
        page.body = b'{"status": "up"}'
        peer = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option httpchk GET /status
    http-check expect status 200
    http-check expect hdr name x-role value primary
    http-check expect rstring "status\\": \\"up"
    server s {peer.address} check inter 100ms
""",
        )
        s = server(rt, "be", "s")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: s.check_status == "L7OK")
            page.headers = "X-Role: standby\r\n"
            assert await until(lambda: s.state is SrvState.DOWN)
            assert (s.check_status, s.check_code, s.check_desc) == ("L7STS", 200, "OK")
            page.headers = "X-Role: primary\r\n"
            page.body = b'{"status": "degraded"}'
            assert await until(lambda: s.check_status == "L7RSP")
            assert s.check_desc == "HTTP content check did not match"
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_disable_on_404(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = Page()
        peer = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option httpchk GET /
    http-check disable-on-404
    server s {peer.address} check inter 100ms
    server t {peer.address} check inter 100ms
""",
        )
        s = server(rt, "be", "s")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: s.check_status == "L7OK" and s.check_health == 4)
            page.status = "404 Not Found"
            assert await until(lambda: s.state is SrvState.DRAIN)
            assert (s.check_status, s.check_code) == ("L7OKC", 404)
            assert s not in {rt.backends["be"].pick() for _ in range(6)}
            assert said.matching(
                "Server be/s is stopping, reason: Layer7 check conditionally passed, code: 404"
            )
            page.status = "200 OK"
            assert await until(lambda: s.state is SrvState.UP)
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())
