"""Servers added and removed at run time: `add server` and `del server`.

HAProxy 2.6's rules, followed here:
- only backends whose algorithm takes weight changes at run time accept new servers
  (roundrobin, leastconn, first, random, consistent hashing);
- a new server takes only the options given on the command (a `default-server` line of the
  backend is not applied), from a subset of the `server` options; it starts in
  maintenance (`enable server` or `set server ... state ready` puts it in service), and its
  health checks, if `check` is given, start with `enable health`;
- a server can be deleted only while in maintenance, with no connection and nothing queued.

The backend's model (`Backend.conf.servers`) grows and shrinks with `Backend.servers`, the
two lists staying index for index as everything that reads them expects; the balancer is
rebuilt over the new list (servers keep their state, weights and counts).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import TYPE_CHECKING

from weir.backend.server import Server, SrvState
from weir.balance import make_balancer
from weir.config.address import AddressError, Family, parse_address
from weir.config.diagnostics import Diagnostics, Where
from weir.config.model import ServerConf

if TYPE_CHECKING:
    from weir.api.actions import Control
    from weir.proxy.runtime import Backend

# The `server` options a dynamic server may take in weir (HAProxy's list, less what weir
# does not implement at all).
DYNAMIC_OPTIONS = frozenset(
    {
        "addr",
        "backup",
        "check",
        "disabled",
        "downinter",
        "enabled",
        "fall",
        "fastinter",
        "id",
        "inter",
        "maxconn",
        "maxqueue",
        "port",
        "rise",
        "weight",
    }
)
_WHERE = Where("<runtime API>", 0)


def add_server(ctl: Control, be: Backend, name: str, args: Sequence[str]) -> tuple[bool, str]:
    """Create server `name` in `be` from the words after `be/name`. Returns (created,
    message); the message is HAProxy's wording, without a final newline."""
    if not be.balancer.params.dynamic:
        return False, "Backend must use a dynamic load balancing to support dynamic servers."
    if not args:
        return False, "'server' expects <name> and <addr>[:<port>] as arguments."
    if any(s.name == name for s in be.servers):
        return False, "Already exists a server with the same name in backend."
    label = f"'server {be.name}/{name}' : "
    try:
        address = parse_address(args[0], for_bind=False, port_optional=True, resolve=False)
    except AddressError as e:
        return False, label + f"{e} (weir's dynamic servers need an IP address)"
    if address.family not in (Family.IPV4, Family.IPV6) or not _is_ip(address.host):
        return False, label + f"'{args[0]}': weir's dynamic servers need an IP address"
    conf = ServerConf(_WHERE, name, address)
    message = _apply_options(ctl, conf, args[1:])
    if message is not None:
        return False, label + message
    used = {s.puid for s in be.servers}
    if conf.puid == 0:
        conf.puid = next(i for i in range(1, len(used) + 2) if i not in used)
    elif conf.puid in used:
        return False, label + f"server id {conf.puid} is already used in backend '{be.name}'"
    srv = Server(
        name,
        address.host,
        address.port_low,
        puid=conf.puid,
        weight=conf.weight,
        backup=conf.backup,
        maxconn=conf.maxconn,
    )
    srv.state = SrvState.MAINT  # dynamic servers start in maintenance, `disabled` or not
    be.servers.append(srv)
    be.conf.servers.append(conf)
    if be.cookie is not None:
        be.cookie.learn(srv, conf.cookie)
    _rebuild(be)
    return True, label + "New server registered."


def del_server(ctl: Control, be: Backend, srv: Server) -> tuple[bool, str]:
    """Remove `srv` from `be`. Returns (deleted, message)."""
    if srv.state is not SrvState.MAINT:
        return False, "Only servers in maintenance mode can be deleted."
    if srv.cur_sess:
        return False, "Server still has connections attached to it, cannot remove it."
    if ctl.checks is not None:
        for check in [c for c in ctl.checks.checks if c.server is srv]:  # health and agent
            if check.task is not None:
                check.task.cancel()
            ctl.checks.checks.remove(check)
    ck = be.cookie
    if ck is not None:
        ck.forget(srv)
    i = be.servers.index(srv)
    del be.servers[i]
    del be.conf.servers[i]
    _rebuild(be)
    return True, "Server deleted."


def _rebuild(be: Backend) -> None:
    be.balancer = make_balancer(be.servers, be.balancer.params)
    if be.sticker is not None:
        be.sticker.index = None  # stick entries find servers by name and id again


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _apply_options(ctl: Control, conf: ServerConf, args: Sequence[str]) -> str | None:
    """Apply `server` options through the configuration's own option table; the first
    problem as a message, or None."""
    from weir.config import catalog
    from weir.config.parser import Ctx
    from weir.config.registry import SERVER_OPTIONS
    from weir.proxy.keywords import apply_options

    for word in args:
        if word in SERVER_OPTIONS.options and word not in DYNAMIC_OPTIONS:
            return f"'{word}' option is not accepted for dynamic server"
        if word in catalog.SERVER_OPTIONS and word not in SERVER_OPTIONS.options:
            return f"'{word}' is a HAProxy server option that weir does not support yet"
    diags = Diagnostics()
    ctx = Ctx(ctl.rt.config, diags)
    ctx.where = _WHERE
    ctx.keyword = "server"
    apply_options(ctx, SERVER_OPTIONS, conf, list(args))
    errors = diags.errors
    if errors:
        return errors[0].message.removeprefix("'server' : ")
    return None
