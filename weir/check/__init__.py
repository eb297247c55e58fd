"""Health checks: HAProxy's `check` servers, `option httpchk`, rise/fall, inter/fastinter.

Importing `weir.check.keywords` registers the keywords. At run time::

    checks = start_checks(loop, runtime.backends.values(), say=...)
    ...
    checks.stop()
    await checks.wait_stopped()

`check_config(cfg, diags)` adds the whole-configuration checks (a checked server needs a
port). Pure parts (`health`, `httpchk`, `report`, `status`) import neither asyncio nor
sockets; only `scheduler` does, and it is imported on first use so that loading a
configuration does not pull the runtime in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.check.status import CheckStatus, Outcome, Result, Verdict
from weir.check.validate import check_config

if TYPE_CHECKING:
    import asyncio
    from collections.abc import Iterable

    from weir.check.scheduler import CheckScheduler, Say
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
) -> CheckScheduler:
    """Start every server's health check; see `weir.check.scheduler.start_checks`."""
    from weir.check.scheduler import start_checks as start

    return start(loop, backends, say=say, bufsize=bufsize)
