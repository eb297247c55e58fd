"""`disable health` / `enable health` and `add server ... check` against the running check
scheduler: checks stop, resume, and start for servers added at run time."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.helpers.ports import free_port
from weir.api import Control, run_command
from weir.api.actions import register
from weir.check import start_checks
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.net.loop import new_loop
from weir.proxy.runtime import build


def test_health_checks_stop_resume_and_start(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens there: checks fail with L4CON
    path = tmp_path / "weir.cfg"
    path.write_text(
        "defaults\n    mode http\n    timeout connect 1s\n"
        f"backend be\n    server s1 127.0.0.1:{closed} check inter 100 fall 1 rise 1\n"
    )
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors()
    rt = build(cfg)
    s1 = rt.backends["be"].servers[0]
    said: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        checks = start_checks(loop, rt.backends.values(), say=lambda lvl, msg: said.append(msg))
        register(Control(rt, checks=checks, loop=loop, say=lambda lvl, msg: said.append(msg)))
        try:
            await _until(lambda: s1.check_status == "L4CON")
            assert run_command(rt, "disable health be/s1") == ""
            assert s1.check_status is None
            (task,) = [c for c in checks.checks if c.server is s1]
            assert task.task is None
            await asyncio.sleep(0.3)
            assert s1.check_status is None  # no check ran meanwhile
            assert run_command(rt, "enable health be/s1") == ""
            await _until(lambda: s1.check_status == "L4CON")
            # a server added with `check` is checked once its health checks are enabled
            answer = run_command(rt, f"add server be/s2 127.0.0.1:{closed} check inter 100")
            assert answer == "New server registered.\n"
            s2 = rt.backends["be"].servers[1]
            run_command(rt, "enable server be/s2")
            assert s2.check_status is None
            assert run_command(rt, "enable health be/s2") == ""
            await _until(lambda: s2.check_status == "L4CON")
            run_command(rt, "disable server be/s2")
            assert run_command(rt, "del server be/s2") == "Server deleted."
            assert all(c.server is not s2 for c in checks.checks)
        finally:
            checks.stop()
            await checks.wait_stopped()

    loop = new_loop()
    try:
        loop.run_until_complete(asyncio.wait_for(scenario(), 20))
    finally:
        loop.close()


async def _until(cond: object, timeout: float = 5) -> None:
    assert callable(cond)
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)
