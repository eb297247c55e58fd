"""`tcp-check` scripts against a line protocol served on 127.0.0.1.

The server is a small text protocol in the style of redis' inline commands or SMTP: a
greeting line, then one reply line per command line (`PING` → `+PONG`, `AUTH <word>` →
`+OK` or `-ERR`, `QUIT` → `+BYE` and the close). Its `mode` makes it misbehave.
"""

from __future__ import annotations

import asyncio
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


class LineServer:
    """mode: "ok"; "error" (the first command gets -ERR, then the server closes);
    "proxy" (a PROXY line must come first, recorded in `proxy_lines`)."""

    def __init__(self, secret: bytes = b"s3cret") -> None:
        self.mode = "ok"
        self.secret = secret
        self.commands: list[bytes] = []
        self.proxy_lines: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "proxy":
            self.proxy_lines.append(await reader.readline())
        await answer(writer, b"+READY line-server\r\n")
        while True:
            line = await reader.readline()
            if not line:
                return
            command = line.strip()
            self.commands.append(command)
            verb, _, arg = command.partition(b" ")
            if self.mode == "error":
                await answer(writer, b"-ERR not now\r\n")
                return
            if verb == b"PING":
                reply = b"+PONG\r\n"
            elif verb == b"AUTH":
                reply = b"+OK\r\n" if arg == self.secret else b"-ERR invalid password\r\n"
            elif verb == b"QUIT":
                await answer(writer, b"+BYE\r\n")
                return
            else:
                reply = b"-ERR unknown command\r\n"
            await answer(writer, reply)


SCRIPT = """\
    option tcp-check
    tcp-check comment "greeting"
    tcp-check expect string +READY
    tcp-check send AUTH\\ s3cret\\r\\n
    tcp-check expect string +OK
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG comment "the ping"
    tcp-check send QUIT\\r\\n
    tcp-check expect string +BYE
"""


def test_a_script_passes_then_fails_at_its_step(tmp_path: Path) -> None:
    async def scenario() -> None:
        line = LineServer()
        peer = await Peer(line).start()
        rt = runtime(
            tmp_path, f"backend be\n{SCRIPT}    server s {peer.address} check inter 100ms\n"
        )
        s = server(rt, "be", "s")
        said = Said()
        sched = await checks_running(rt, said)
        try:
            assert await until(lambda: s.check_status == "L7OK")
            assert s.check_desc == "(tcp-check)"
            assert line.commands[:3] == [b"AUTH s3cret", b"PING", b"QUIT"]
            line.mode = "error"
            assert await until(lambda: s.state is SrvState.DOWN)
            assert (s.check_status, s.check_desc) == (
                "L7RSP",
                "TCPCHK did not match content '+OK' at step 4",
            )
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_comments_name_the_failing_step(tmp_path: Path) -> None:
    async def scenario() -> None:
        line = LineServer()
        peer = await Peer(line).start()
        script = SCRIPT.replace("PING\\r", "PONG\\r")  # unknown: -ERR, connection kept
        rt = runtime(
            tmp_path, f"backend be\n{script}    server s {peer.address} check inter 100ms\n"
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            # The reply does not match and the server keeps the connection: the check
            # waits for more until its deadline, and the timeout names the step.
            assert await until(lambda: s.state is SrvState.DOWN)
            assert (s.check_status, s.check_desc) == (
                "L7TOUT",
                " at step 6 of tcp-check (expect string '+PONG') comment: 'the ping'",
            )
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


def test_connect_rules_ports_and_send_proxy(tmp_path: Path) -> None:
    async def scenario() -> None:
        first, second = LineServer(), LineServer()
        second.mode = "proxy"
        peers = [await Peer(first).start(), await Peer(second).start()]
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option tcp-check
    tcp-check connect port {peers[0].port}
    tcp-check expect string +READY
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG
    tcp-check connect port {peers[1].port} send-proxy
    tcp-check expect string +READY
    tcp-check send PING\\r\\n
    tcp-check expect string +PONG
    server s {LOOPBACK} check inter 100ms
""",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: s.check_status == "L7OK" and second.commands)
            proxy = second.proxy_lines[0]
            assert proxy.startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 ")
            assert proxy.endswith(f" {peers[1].port}\r\n".encode())
            assert first.proxy_lines == []
            await peers[1].close()
            assert await until(lambda: s.state is SrvState.DOWN)
            assert s.check_status == "L4CON"
            assert s.check_desc == (
                f"Connection refused at step 5 of tcp-check (connect port {peers[1].port})"
            )
        finally:
            await stopped(sched)
            await peers[0].close()

    run(scenario())


def test_check_send_proxy_on_the_default_connection(tmp_path: Path) -> None:
    async def scenario() -> None:
        line = LineServer()
        line.mode = "proxy"
        peer = await Peer(line).start()
        rt = runtime(
            tmp_path,
            f"backend be\n{SCRIPT}    server s {peer.address} check inter 100ms check-send-proxy\n",
        )
        s = server(rt, "be", "s")
        sched = await checks_running(rt, Said())
        try:
            assert await until(lambda: s.check_status == "L7OK")
            assert line.proxy_lines[0].startswith(b"PROXY TCP4 127.0.0.1 127.0.0.1 ")
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())
