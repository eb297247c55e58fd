"""Which interval a check waits, and checks that time out, against real servers.

No assertion is about how long something took. Intervals are told apart by their
consequences with margins of orders of magnitude: `inter` is a minute, `fastinter` and
`downinter` are 100 ms, so a state reached within the bounded wait, or checks still
arriving, can only come from the short intervals, and no check arriving for a while can
only come from the long one.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from tests.helpers.ports import LOOPBACK
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


class Switchable:
    """An HTTP health page answering `status`; `served` lists what it answered."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.served: list[int] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        self.served.append(self.status)
        await answer(writer, f"HTTP/1.1 {self.status} X\r\ncontent-length: 0\r\n\r\n".encode())


def test_downinter_fastinter_inter(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = Switchable(503)
        peer = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option httpchk
    server s {peer.address} check inter 60s fastinter 100ms downinter 100ms rise 3 fall 3
""",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            # Down at the first failure (start-up rule), then checked every `downinter`.
            assert await until(lambda: s.state is SrvState.DOWN)
            assert await until(lambda: len(page.served) >= 5)
            # Rising: one check at `downinter`, then `fastinter` until fully up.
            page.status = 200
            mark = len(page.served)
            assert await until(lambda: s.state is SrvState.UP)
            assert page.served[mark:].count(200) == 3  # `rise`
            # Fully up: the next check is a minute away.
            count = len(page.served)
            await asyncio.sleep(0.5)
            assert len(page.served) == count
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_agent_inter_defaults_to_inter(tmp_path: Path) -> None:
    async def scenario() -> None:
        async def agent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await answer(writer, b"up\n")

        fast = await Peer(agent).start()
        slow = await Peer(agent).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    default-server agent-send "ping\\n"
    server fast {LOOPBACK}:1 agent-check agent-port {fast.port} agent-inter 100ms
    server slow {LOOPBACK}:1 agent-check agent-port {slow.port} inter 60s
""",
        )
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: fast.connections >= 6)
            assert server(rt, "be", "fast").agent_status == "L7OK"
            # The slow agent's first check is spread over its minute-long interval.
            assert slow.connections == 0
        finally:
            await stopped(sched)
            await fast.close()
            await slow.close()

    run(scenario())


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accepts, reads, never answers, until the check gives up."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(1024):
            pass


def test_a_server_that_accepts_but_never_answers(tmp_path: Path) -> None:
    async def scenario() -> None:
        peer = await Peer(silent).start()
        rt = runtime(
            tmp_path,
            f"""\
backend tcp
    server s {peer.address} check inter 100ms

backend http
    option httpchk GET /
    server s {peer.address} check inter 100ms

backend script
    option tcp-check
    tcp-check send HELLO\\r\\n
    tcp-check expect string +OK
    server s {peer.address} check inter 100ms
""",
        )
        said = Said()
        sched = await checks_running(rt, said)
        plain, http, script = (server(rt, b, "s") for b in ("tcp", "http", "script"))
        try:
            assert await until(
                lambda: http.state is SrvState.DOWN and script.state is SrvState.DOWN
            )
            # Connecting is all a plain check asks.
            assert (plain.state, plain.check_status) == (SrvState.UP, "L4OK")
            assert (http.check_status, http.check_desc) == ("L7TOUT", "")
            assert (script.check_status, script.check_desc) == (
                "L7TOUT",
                " at step 2 of tcp-check (expect string '+OK')",
            )
            assert said.matching(
                'Server script/s is DOWN, reason: Layer7 timeout, info: " at step 2 of '
                "tcp-check (expect string '+OK')\", check duration: "
            )
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_timeout_check_bounds_the_exchange_not_the_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        peer = await Peer(silent).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    timeout check 150ms
    option tcp-check
    tcp-check expect string hello
    server s {peer.address} check inter 60s
""",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            # With `inter` a minute, only `timeout check` can end this check in time.
            assert await until(lambda: s.check_status == "L7TOUT")
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_spread_checks_keeps_checking(tmp_path: Path) -> None:
    async def scenario() -> None:
        page = Switchable(200)
        peer = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option httpchk
    server a {peer.address} check inter 100ms
    server b {peer.address} check inter 100ms
""",
            prelude="global\n    spread-checks 50\n    max-spread-checks 100ms\n",
        )
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: len(page.served) >= 10)
            assert all(s.check_status == "L7OK" for s in rt.backends["be"].servers)
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())
