"""Health checks: `check` servers, `option httpchk`, `tcp-check` rules, the protocol
checks, agent checks, passive health (`observe`), rise/fall, inter/fastinter/downinter.

Importing `weir.check.keywords` registers the keywords. At run time::

    checks = start_checks(loop, runtime.backends.values(), say=..., glob=cfg.global_)
    ...
    checks.stop()
    await checks.wait_stopped()

`check_config(cfg, diags)` adds the whole-configuration checks. Every kind of check is a
ruleset (`rules`) evaluated by one sans-IO engine (`engine`); `probe` drives it on a
socket, `state` applies outcomes to a server, `scheduler` runs it all. Only `probe` and
`scheduler` import asyncio; they are imported on first use so that loading a
configuration does not pull the runtime in.

The data path reports what it sees of a server to `Server.observer` (None unless
`observe` is set) and keeps `Server.sessions` (None unless sessions must be shut down
when a server changes state); see `weir.check.observe` and `weir.backend.server`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.check.status import CheckStatus, Outcome, Result, Verdict
from weir.check.validate import check_config

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterable

    from weir.check.scheduler import CheckScheduler, Say
    from weir.config.model import GlobalConf
    from weir.proxy.runtime import Backend

__all__ = [
    "CheckStatus",
    "Outcome",
    "Result",
    "Verdict",
    "check_config",
    "start_checks",
]


def start_checks(
    loop: asyncio.AbstractEventLoop,
    backends: Iterable[Backend],
    *,
    say: Say | None = None,
    bufsize: int = 16384,
    glob: GlobalConf | None = None,
    probe: bool = True,
) -> CheckScheduler:
    """Start every server's health and agent checks; see `weir.check.scheduler.start_checks`."""
    from weir.check.scheduler import start_checks as start

    return start(loop, backends, say=say, bufsize=bufsize, glob=glob, probe=probe)
