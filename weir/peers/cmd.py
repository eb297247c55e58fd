"""The runtime API's `show peers`."""

from __future__ import annotations

from weir.api.commands import Request, command
from weir.api.conf import Level
from weir.peers.engine import RUNNING


@command(
    "show peers",
    "show peers [<section>]",
    "dump peers sections: the other peers, their sessions and what was sent",
    Level.USER,
)
def _show_peers(req: Request, args: list[str]) -> str:
    wanted = args[2] if len(args) > 2 and args[2] not in ("dict", "-") else None
    if len(args) > 3:
        wanted = args[3]
    shown = [p for p in RUNNING if wanted is None or p.conf.name == wanted]
    if wanted is not None and not shown:
        return f"Unknown peers section '{wanted}'.\n"
    if not shown:
        return "No peers section replicates here (none is configured, or this is not the "
        "first worker).\n"
    return "".join(p.describe() for p in shown)
