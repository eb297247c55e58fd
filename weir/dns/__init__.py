"""Server addresses from DNS: the `resolvers` section, `init-addr`, `server-template`, and
the resolvers that keep servers' addresses up to date at run time (see docs/dns.md).

Surface:
- `start_resolvers(loop, runtime, say) -> list[Resolvers]`: in a worker, start one
  resolver per `resolvers` section, resolving every server that names it;
  `stop_resolvers(runtime, sections)` closes them.
- `check_resolvers(cfg, diags)`: the whole-configuration checks (unknown sections).

Keywords register from `weir.dns.conf` (the section and the server options) and
`weir.dns.template` (`server-template`); loading a configuration does not import asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.dns.conf import check_resolvers

if TYPE_CHECKING:
    import asyncio

    from weir.dns.resolver import Resolvers, Say
    from weir.proxy.runtime import Runtime

__all__ = ["check_resolvers", "start_resolvers", "stop_resolvers"]


async def start_resolvers(
    loop: asyncio.AbstractEventLoop, rt: Runtime, say: Say
) -> list[Resolvers]:
    """See `weir.dns.resolver.start_resolvers`."""
    from weir.dns.resolver import start_resolvers as start

    return await start(loop, rt, say)


def stop_resolvers(rt: Runtime, sections: list[Resolvers]) -> None:
    from weir.dns.resolver import stop_resolvers as stop

    stop(rt, sections)
