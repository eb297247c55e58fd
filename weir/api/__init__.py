"""The runtime API on `stats socket`: HAProxy's CLI, its commands and access levels.

Surface:
- `start_api(loop, runtime, cfg, *, bound=None, checks=None, listeners=(), say=None)
  -> ApiServer | None`: serve the configured sockets (None when there is none); always
  registers the runtime's `Control` with the running checks and listeners;
  `ApiServer.close()` stops it.
- `bind_api(cfg)`: bind the sockets early (before privileges are dropped); pass the result
  as `bound=` to `start_api`.
- `Control` / `control_for(runtime)`: the operator actions (server state, weight, address,
  maxconn, health checks, frontends, counters) shared with the stats page's admin form.
- `ListenerHandle`: one frontend listening socket as the process serves it.
- `run_command(runtime, line, level=Level.ADMIN) -> str`: one command without a socket.
- `Level`: user, operator, admin.

Keywords (`stats socket`, `stats timeout`, `stats maxconn`) register from
`weir.api.keywords`. Loading a configuration imports neither asyncio nor the commands:
what needs them is imported on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from weir.api.actions import Control, ListenerHandle, control_for
from weir.api.conf import Level, api_conf

if TYPE_CHECKING:
    import asyncio
    import socket
    from collections.abc import Sequence

    from weir.api.actions import Say
    from weir.api.conf import SocketConf
    from weir.api.server import ApiServer
    from weir.check.scheduler import CheckScheduler
    from weir.config.model import Config
    from weir.proxy.runtime import Runtime

__all__ = [
    "Control",
    "Level",
    "ListenerHandle",
    "api_conf",
    "bind_api",
    "control_for",
    "run_command",
    "start_api",
]


def bind_api(cfg: Config) -> list[tuple[SocketConf, socket.socket]]:
    """Bind every `stats socket`; see `weir.api.server.bind_api`."""
    from weir.api.server import bind_api as bind

    return bind(cfg)


def start_api(
    loop: asyncio.AbstractEventLoop,
    runtime: Runtime,
    cfg: Config,
    *,
    bound: Sequence[tuple[SocketConf, socket.socket]] | None = None,
    checks: CheckScheduler | None = None,
    listeners: Sequence[ListenerHandle] = (),
    say: Say | None = None,
) -> ApiServer | None:
    """Serve the runtime API; see `weir.api.server.start_api`."""
    from weir.api.server import start_api as start

    return start(loop, runtime, cfg, bound=bound, checks=checks, listeners=listeners, say=say)


def run_command(runtime: Runtime, line: str, level: Level = Level.ADMIN, **session: Any) -> str:
    """The answer to one command line, as a socket would send it before its final empty
    line; for tests and tools."""
    from weir.api.commands import run
    from weir.api.server import serve_in_process

    req = serve_in_process(runtime, level=level)
    for name, value in session.items():
        setattr(req.session, name, value)
    return run(req, line)
