"""Agent checks against a real agent on 127.0.0.1: each reply and what it does.

The agent is an in-test TCP server answering one line per connection (what HAProxy's
agent protocol is), switched by the test; the servers' traffic ports are tiny HTTP
pages checked with `option httpchk`, so the agent works beside a real health check.
"""

from __future__ import annotations

import asyncio
from collections import Counter
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
from weir.proxy.runtime import Backend


class Agent:
    """Answers `reply` (switchable) to every connection; records what it was sent."""

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.received: list[bytes] = []
        self.answered = 0

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            data = await asyncio.wait_for(reader.readline(), 0.05)
        except TimeoutError:
            data = b""
        self.received.append(data)
        await answer(writer, self.reply)
        self.answered += 1


async def page(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await answer(writer, b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")


def shares(be: Backend, n: int = 60) -> Counter[str]:
    return Counter(s.name for s in (be.pick() for _ in range(n)) if s is not None)


def test_every_agent_reply(tmp_path: Path) -> None:
    async def scenario() -> None:
        agent = Agent(b"up\n")
        agent_peer = await Peer(agent).start()
        web = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk
    default-server check inter 100ms weight 40 agent-inter 50ms
    server a {web.address} agent-check agent-port {agent_peer.port} agent-send "hello\\n"
    server b {web.address}
""",
        )
        be = rt.backends["be"]
        a = server(rt, "be", "a")
        said = Said()
        sched = await checks_running(rt, said)

        async def reply(line: bytes) -> None:
            agent.reply = line
            mark = agent.answered
            # Two answers later the new reply has surely been applied.
            assert await until(lambda: agent.answered >= mark + 2)

        try:
            assert await until(lambda: a.agent_status == "L7OK" and a.check_status == "L7OK")
            assert agent.received[0] == b"hello\n"

            await reply(b"25%\n")  # a quarter of the configured weight
            assert (a.uweight, a.eweight) == (10, 10)
            assert shares(be, 50)["a"] == 10

            await reply(b"weight:40\n")  # HAProxy 3.1's absolute form
            assert a.eweight == 40

            await reply(b"maxconn:7\n")
            assert a.maxconn == 7

            await reply(b"drain\n")
            assert a.state is SrvState.DRAIN
            assert "a" not in shares(be)
            assert said.matching("Server be/a enters drain state.")

            await reply(b"ready\n")
            assert a.state is SrvState.UP
            assert said.matching("Server be/a is UP (leaving forced drain).")

            await reply(b"maint\n")
            assert a.state is SrvState.MAINT
            assert said.matching("Server be/a is going DOWN for maintenance.")

            await reply(b"ready\n")
            assert await until(lambda: a.state is SrvState.UP)
            assert said.matching("Server be/a is UP/READY (leaving forced maintenance).")

            for word in (b"down", b"fail", b"stopped"):
                await reply(word + b" #planned work\n")
                assert a.state is SrvState.DOWN
                assert a.agent_desc == f"via agent : {word.decode()} (planned work)"
                assert "a" not in shares(be)
                await reply(b"up\n")
                assert a.state is SrvState.UP
            assert len(said.matching("Server be/a is DOWN, reason: Layer7 wrong status")) == 3
            assert said.matching('info: "via agent : stopped (planned work)"')
        finally:
            await stopped(sched)
            await agent_peer.close()
            await web.close()

    run(scenario())


def test_an_unreachable_agent_leaves_the_server_alone(tmp_path: Path) -> None:
    async def scenario() -> None:
        web = await Peer(page).start()
        closed = await Peer(page).start()
        dead_port = closed.port
        await closed.close()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    option httpchk
    server a {web.address} check inter 100ms agent-check agent-port {dead_port} agent-inter 50ms
""",
        )
        a = server(rt, "be", "a")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: a.agent_status == "L4CON" and a.check_status == "L7OK")
            assert a.state is SrvState.UP
            assert said.lines == []
        finally:
            await stopped(sched)
            await web.close()

    run(scenario())


def test_disable_and_enable_agent_from_the_api(tmp_path: Path) -> None:
    from weir.api.actions import Control

    async def scenario() -> None:
        agent = Agent(b"up\n")
        agent_peer = await Peer(agent).start()
        web = await Peer(page).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    mode http
    default-server check inter 100ms agent-inter 50ms agent-send "hi\\n"
    server a {web.address} agent-check agent-port {agent_peer.port}
    server b {web.address} no-check
""",
        )
        a, b = server(rt, "be", "a"), server(rt, "be", "b")
        sched = await checks_running(rt, Said())
        control = Control(rt, checks=sched)
        try:
            assert await until(lambda: agent.answered >= 2)
            assert control.disable_agent(a)
            assert a.agent_status is None
            quiet = agent.answered
            await asyncio.sleep(0.3)
            assert agent.answered <= quiet + 1  # at most one check was already on its way
            assert control.enable_agent(a)
            assert await until(lambda: agent.answered >= quiet + 3)
            assert not control.disable_agent(b)  # no agent there
        finally:
            await stopped(sched)
            await agent_peer.close()
            await web.close()

    run(scenario())
