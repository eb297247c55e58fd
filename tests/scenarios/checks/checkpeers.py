"""Helpers of the check scenarios: the real loader and runtime, real sockets, small peers.

Each scenario loads a configuration with the real loader, builds the runtime and runs
the `CheckScheduler` on an event loop of its own (uvloop, as weir runs) while servers
on 127.0.0.1 answer. `Peer` is a tiny asyncio server on that same loop whose behaviour
is a coroutine given by the test (a protocol's side of the check); `Said` collects the
state-change lines. Waits are bounded polls; assertions are about states, statuses and
counts, never about time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import weir.check.keywords  # noqa: F401  (registers the keywords)
from tests.helpers.ports import LOOPBACK
from weir.backend.server import Server
from weir.check import check_config, start_checks
from weir.check.scheduler import CheckScheduler
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.net.loop import new_loop
from weir.proxy.runtime import Runtime, build

WAIT = 10.0  # seconds: the bound of every wait (checks run every 100 ms or so)

DEFAULTS = """\
defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""


def runtime(tmp_path: Path, text: str, *, prelude: str = "") -> Runtime:
    path = tmp_path / "haproxy.cfg"
    path.write_text(prelude + DEFAULTS + text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    check_config(cfg, diags)
    bad = [d.format(pid=0) for d in diags.items if d.level is Level.ALERT]
    assert bad == []
    return build(cfg)


def run(coro: Coroutine[Any, Any, None]) -> None:
    loop = new_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(coro, 60))
    finally:
        loop.close()


async def until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class Said:
    """Collects state-change lines, with a hook run when each arrives."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []
        self.hooks: list[Callable[[str], None]] = []

    def __call__(self, level: str, message: str) -> None:
        self.lines.append((level, message))
        for hook in self.hooks:
            hook(message)

    def matching(self, fragment: str) -> list[str]:
        return [m for _, m in self.lines if fragment in m]


async def checks_running(rt: Runtime, said: Said) -> CheckScheduler:
    return start_checks(
        asyncio.get_running_loop(), rt.backends.values(), say=said, glob=rt.config.global_
    )


async def stopped(sched: CheckScheduler) -> None:
    sched.stop()
    await asyncio.wait_for(sched.wait_stopped(), 5)
    assert all(c.task is not None and c.task.done() for c in sched.checks)


def server(rt: Runtime, backend: str, name: str) -> Server:
    return next(s for s in rt.backends[backend].servers if s.name == name)


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Peer:
    """A TCP server on the test's loop; each connection runs `handler` (which may be
    replaced while the peer runs). `connections` counts accepted connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> Peer:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


async def answer(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    with contextlib.suppress(ConnectionError):
        await writer.drain()
