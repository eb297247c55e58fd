"""The `global` keywords of the runtime API: `stats socket`, `stats timeout`, `stats maxconn`."""

from __future__ import annotations

import grp
import pwd

from weir.api.conf import LEVELS, SocketConf, api_global
from weir.config.address import AddressError, Family, parse_address
from weir.config.parser import Ctx
from weir.config.registry import Args, keyword
from weir.config.units import parse_int, parse_time

# Options of a `stats socket` line: name -> number of values it takes.
_OPTIONS = {"level": 1, "mode": 1, "uid": 1, "gid": 1, "user": 1, "group": 1, "expose-fd": 1}
# `bind` options HAProxy also accepts on a stats socket; weir refuses them by name.
_KNOWN_ELSEWHERE = frozenset(
    {
        "severity-output",
        "process",
        "name",
        "maxconn",
        "backlog",
        "accept-proxy",
        "ssl",
        "crt",
        "interface",
        "namespace",
        "nice",
        "id",
        "defer-accept",
        "tfo",
        "transparent",
        "v4v6",
        "v6only",
    }
)


@keyword(
    "stats socket",
    "g",
    "<path>|ipv4@<addr>:<port> [level user|operator|admin] [mode <octal>] [user|group|uid|gid]",
    "Serve the runtime API (HAProxy's CLI: 'show stat', 'set server', ...) on this socket.",
)
def _socket(ctx: Ctx, args: Args) -> None:
    if not args:
        ctx.error("expects an address or a path to a UNIX socket")
        return
    try:
        address = parse_address(args[0], for_bind=True)
    except AddressError as e:
        ctx.error(str(e))
        return
    if address.family is Family.FD:
        ctx.error(f"'{args[0]}': an inherited socket cannot carry the runtime API in weir yet")
        return
    if address.family is not Family.UNIX and address.port_low != address.port_high:
        ctx.error(f"'{args[0]}': the runtime API listens on one port, not a range")
        return
    sock = SocketConf(ctx.where, address, args[0])
    i = 1
    while i < len(args):
        name = args[i]
        n = _OPTIONS.get(name)
        if n is None:
            if name in _KNOWN_ELSEWHERE:
                ctx.error(
                    f"'{name}' is a HAProxy option of 'stats socket' that weir does not support yet"
                )
            else:
                ctx.error(f"unknown option '{name}' (weir knows: {', '.join(sorted(_OPTIONS))})")
            return
        if i + n >= len(args):
            ctx.error(f"'{name}' expects a value")
            return
        if not _option(ctx, sock, name, args[i + 1]):
            return
        i += 1 + n
    g = api_global(ctx.cfg)
    g.cli_frontend = True
    g.stats_sockets.append(sock)


def _option(ctx: Ctx, sock: SocketConf, name: str, value: str) -> bool:
    if name == "level":
        level = LEVELS.get(value)
        if level is None:
            ctx.error(f"'level' only supports 'user', 'operator', and 'admin' (got '{value}')")
            return False
        sock.level = level
    elif name == "mode":
        try:
            sock.mode = int(value, 8)
        except ValueError:
            ctx.error(f"'mode' expects an octal permission such as 600 (got '{value}')")
            return False
    elif name == "expose-fd":
        if value != "listeners":
            ctx.error(f"'expose-fd' only supports 'listeners' (got '{value}')")
            return False
        sock.expose_fd = True
    elif name in ("uid", "gid"):
        try:
            number = parse_int(value, what=name)
        except ValueError as e:
            ctx.error(str(e))
            return False
        if name == "uid":
            sock.uid = number
        else:
            sock.gid = number
    elif name == "user":
        try:
            sock.uid = pwd.getpwnam(value).pw_uid
        except KeyError:
            ctx.error(f"unknown user '{value}'")
            return False
    else:  # group
        try:
            sock.gid = grp.getgrnam(value).gr_gid
        except KeyError:
            ctx.error(f"unknown group '{value}'")
            return False
    if sock.address.family is not Family.UNIX and name in ("mode", "uid", "gid", "user", "group"):
        ctx.warn(f"'{name}' only applies to UNIX sockets; ignored for '{sock.text}'")
    return True


@keyword(
    "stats timeout",
    "g",
    "<delay>",
    "Close a runtime API connection idle for this long (default 10s).",
)
def _timeout(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a delay such as '10s' or '2m'"):
        return
    try:
        ms = parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))
        return
    if ms <= 0:
        ctx.error("expects a positive value")
        return
    g = api_global(ctx.cfg)
    g.cli_frontend = True
    g.stats_timeout_ms = ms


@keyword(
    "stats maxconn",
    "g",
    "<number>",
    "Most runtime API connections served at once (default 10); more wait.",
)
def _maxconn(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a positive number"):
        return
    try:
        n = parse_int(args[0], low=1, what="maxconn")
    except ValueError:
        ctx.error("expects a positive value")
        return
    g = api_global(ctx.cfg)
    g.cli_frontend = True
    g.stats_maxconn = n
