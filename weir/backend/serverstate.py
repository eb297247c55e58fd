"""Server state carried across a reload: `server-state-file` and friends.

Before a reload, an operator (or the init script) saves `show servers state` from the
runtime API into a file; the new process reads it at start-up and gives each server it
still has the state it had: maintenance or drain set by an administrator, DOWN as checks
last saw it, and a weight changed at run time. Without it, a reload would put a server an
operator had taken out for maintenance straight back into service.

The keywords, as HAProxy 2.6 has them:

    global   server-state-file PATH      the file (relative: to server-state-base)
             server-state-base DIR       where relative state file names are
    proxy    load-server-state-from-file global|local|none
             server-state-file-name [NAME|use-backend-name]   (with `local`)

What is applied, per server found by backend and server name in the file's version 1
format (the one `show servers state` prints):

* `srv_admin_state`: forced maintenance (0x01) and forced drain (0x08). Maintenance that
  came from a `disabled` line (0x04) follows the new configuration instead, and so do
  the states inherited from a tracked server;
* `srv_op_state` 0 (stopped): the server starts DOWN with its check's health at 0, so the
  check must see it pass `rise` times before it takes traffic again, as after a reload in
  HAProxy; otherwise it starts as the new configuration says;
* `srv_uweight`: applied when `srv_iweight` equals the weight the new configuration
  gives the server (an administrator's change survives; a changed configuration wins).

The server's address and port are never taken from the file: the configuration's address
is authoritative. (HAProxy restores them for servers whose address can change at run
time, through DNS resolution, which weir does not have.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from weir.backend.server import SrvState
from weir.config.parser import Ctx
from weir.config.registry import Args, keyword

if TYPE_CHECKING:
    from weir.config.model import Config, GlobalConf
    from weir.proxy.runtime import Backend, Runtime

Say = Callable[[str, str], None]

_ADMIN_FMAINT = 0x01
_ADMIN_FDRAIN = 0x08
_OP_STOPPED = 0


@dataclass(slots=True)
class StateConf:
    """The global side: the file and the base directory of relative names."""

    file: str | None = None
    base: str | None = None
    # backend name -> ("global" | "local", file name for `local`)
    loads: dict[str, tuple[str, str]] = field(default_factory=dict)


def state_conf(cfg: Config) -> StateConf:
    g: GlobalConf = cfg.global_
    conf = getattr(g, "server_state", None)
    if conf is None:
        conf = StateConf()
        g.server_state = conf
    assert isinstance(conf, StateConf)
    return conf


# ---- keywords ----------------------------------------------------------------------------


@keyword(
    "server-state-file",
    "g",
    "<path>",
    "The file of saved server states ('show servers state') applied at start-up.",
)
def _server_state_file(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a file name"):
        state_conf(ctx.cfg).file = args[0]


@keyword(
    "server-state-base",
    "g",
    "<dir>",
    "The directory relative server state file names are in.",
)
def _server_state_base(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a directory"):
        state_conf(ctx.cfg).base = args[0]


@keyword(
    "load-server-state-from-file",
    "dbl",
    "global|local|none",
    "Apply the saved server states at start-up: from the global file, this backend's own "
    "file, or not at all.",
)
def _load_state(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "'global', 'local' or 'none'"):
        return
    if args[0] not in ("global", "local", "none"):
        ctx.error(f"expects 'global', 'local' or 'none', got '{args[0]}'")
        return
    ctx.px.load_server_state = args[0]


@keyword(
    "server-state-file-name",
    "dbl",
    "[<name>|use-backend-name]",
    "This backend's own server state file, with 'load-server-state-from-file local'.",
)
def _state_file_name(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 1, "a file name or 'use-backend-name'"):
        ctx.px.server_state_file_name = args[0] if args else "use-backend-name"


# ---- reading and applying ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SavedServer:
    op_state: int
    admin_state: int
    uweight: int
    iweight: int


def parse_state_file(text: str) -> dict[tuple[str, str], SavedServer]:
    """(backend name, server name) -> saved state, from `show servers state` output.
    Lines that are not version 1 server lines (comments, the version line, short or
    malformed lines) are skipped, as HAProxy does."""
    out: dict[tuple[str, str], SavedServer] = {}
    lines = text.splitlines()
    if not lines or lines[0].strip() != "1":
        return out
    for line in lines[1:]:
        words = line.split()
        if len(words) < 9 or line.startswith("#"):
            continue
        try:
            op, admin, uw, iw = (int(w) for w in words[5:9])
        except ValueError:
            continue
        out[(words[1], words[3])] = SavedServer(op, admin, uw, iw)
    return out


def _path(conf: StateConf, name: str) -> Path:
    p = Path(name)
    if p.is_absolute() or conf.base is None:
        return p
    return Path(conf.base) / p


def _file_of(conf: StateConf, be: Backend) -> Path | None:
    how = be.conf.load_server_state
    if how == "global":
        return _path(conf, conf.file) if conf.file else None
    if how == "local":
        name = be.conf.server_state_file_name
        if name in (None, "use-backend-name"):
            name = be.name
        return _path(conf, name)
    return None


def apply_server_state(rt: Runtime, say: Say) -> int:
    """Apply the saved states to every backend that asks for them; returns how many
    servers changed. An unreadable file is a warning, as in HAProxy: the servers start
    as configured."""
    conf = state_conf(rt.config)
    cache: dict[Path, dict[tuple[str, str], SavedServer]] = {}
    changed = 0
    for be in rt.backends.values():
        path = _file_of(conf, be)
        if path is None:
            continue
        saved = cache.get(path)
        if saved is None:
            try:
                saved = parse_state_file(path.read_text(errors="replace"))
            except OSError as e:
                say(
                    "WARNING", f"Can't open server state file '{path}': {os.strerror(e.errno or 0)}"
                )
                saved = {}
            cache[path] = saved
        for srv, sconf in zip(be.servers, be.conf.servers, strict=False):
            s = saved.get((be.name, srv.name))
            if s is not None and _apply(be, srv, sconf.weight, s):
                changed += 1
    return changed


def _apply(be: Backend, srv: object, config_weight: int, s: SavedServer) -> bool:
    from weir.backend.server import Server

    assert isinstance(srv, Server)
    changed = False
    if s.iweight == config_weight and s.uweight != srv.uweight:
        srv.uweight = s.uweight
        be.balancer.set_weight(srv, s.uweight)
        changed = True
    target: SrvState | None = None
    if s.admin_state & _ADMIN_FMAINT:
        target = SrvState.MAINT
    elif s.op_state == _OP_STOPPED and srv.check_status is not None:
        target = SrvState.DOWN
    elif s.admin_state & _ADMIN_FDRAIN:
        target = SrvState.DRAIN
    if target is None or srv.state is target:
        return changed
    was_usable = srv.state is SrvState.UP
    srv.state = target
    if target is not SrvState.DRAIN and srv.check_status is not None:
        srv.check_health = 0  # checked: health must climb back to `rise`
    if was_usable:
        be.balancer.server_down(srv)
    return True
