"""Commands that change the running proxy: servers' state, weight, address and limits,
health checks, frontends, counters, dynamic servers. Each parses its words and answers
in HAProxy's words; the change itself is `weir.api.actions.Control`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from weir.api.actions import initial_weight
from weir.api.commands import Request, command
from weir.api.conf import Level
from weir.api.dynamic import add_server, del_server

if TYPE_CHECKING:
    from weir.backend.server import Server
    from weir.proxy.runtime import Backend, Frontend

_REQUIRE = "Require 'backend/server'.\n"


def _split(arg: str) -> tuple[str, str]:
    be, _, srv = arg.partition("/")
    return be, srv


def find_server(req: Request, arg: str) -> tuple[Backend, Server] | str:
    """`backend/server` (either may be `#<id>`) or HAProxy's message for what is wrong."""
    be_name, srv_name = _split(arg)
    if not be_name or not srv_name:
        return _REQUIRE
    be = req.api.backend(be_name)
    if be is None:
        return "No such backend.\n"
    srv = req.api.control.server(be, srv_name)
    if srv is None:
        return "No such server.\n"
    return be, srv


def _arg(args: list[str], i: int) -> str:
    return args[i] if i < len(args) else ""


# -- state ---------------------------------------------------------------------------------


@command(
    "disable server",
    "disable server (DEPRECATED)",
    "put a server in maintenance (use 'set server' instead)",
    Level.ADMIN,
)
def _disable_server(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    req.api.control.set_maint(*found)
    return ""


@command(
    "enable server",
    "enable server  (DEPRECATED)",
    "bring a server out of maintenance (use 'set server' instead)",
    Level.ADMIN,
)
def _enable_server(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    req.api.control.set_ready(*found)
    return ""


_SET_SERVER_USAGE = (
    "usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | "
    "agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n"
)
_NOT_YET = frozenset(
    {"agent", "agent-addr", "agent-port", "agent-send", "check-addr", "check-port", "fqdn",
     "health", "ssl"}
)  # fmt: skip


@command(
    "set server",
    "set server <bk>/<srv> [opts]",
    "change a server's state, weight or address",
    Level.ADMIN,
)
def _set_server(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    be, srv = found
    ctl = req.api.control
    what = _arg(args, 3)
    if what == "weight":
        return ctl.set_weight(be, srv, _arg(args, 4)) or ""
    if what == "state":
        state = _arg(args, 4)
        if state == "ready":
            ctl.set_ready(be, srv)
        elif state == "drain":
            ctl.set_drain(be, srv)
        elif state == "maint":
            ctl.set_maint(be, srv)
        else:
            return "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n"
        return ""
    if what == "addr":
        addr = _arg(args, 4)
        if not addr:
            return "set server <b>/<s> addr requires an address and optionally a port.\n"
        port = _arg(args, 6) if _arg(args, 5) == "port" else None
        return ctl.set_addr(be, srv, addr, port)
    if what in _NOT_YET:
        return f"'set server <srv> {what}' is HAProxy's but weir does not support it yet.\n"
    return _SET_SERVER_USAGE


@command(
    "get weight",
    "get weight <bk>/<srv>",
    "report a server's current weight",
    Level.USER,
)
def _get_weight(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    be, srv = found
    return f"{srv.uweight} (initial {initial_weight(be, srv)})\n"


@command(
    "set weight",
    "set weight <bk>/<srv>  (DEPRECATED)",
    "change a server's weight (use 'set server' instead)",
    Level.ADMIN,
)
def _set_weight(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    return req.api.control.set_weight(*found, _arg(args, 3)) or ""


# -- limits --------------------------------------------------------------------------------


@command(
    "set maxconn server",
    "set maxconn server <bk>/<srv>",
    "change a server's maxconn setting",
    Level.ADMIN,
)
def _set_maxconn_server(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 3))
    if isinstance(found, str):
        return found
    return req.api.control.set_maxconn_server(*found, _arg(args, 4)) or ""


def find_frontend(req: Request, name: str) -> Frontend | str:
    if not name:
        return "A frontend name is expected.\n"
    fe = req.api.frontend(name)
    return fe if fe is not None else "No such frontend.\n"


@command(
    "set maxconn frontend",
    "set maxconn frontend <frontend> <value>",
    "change a frontend's maxconn setting",
    Level.ADMIN,
)
def _set_maxconn_frontend(req: Request, args: list[str]) -> str:
    fe = find_frontend(req, _arg(args, 3))
    if isinstance(fe, str):
        return fe
    text = _arg(args, 4)
    if not text:
        return "Integer value expected.\n"
    v = _atoi(text)
    if v < 0:
        return "Value out of range.\n"
    req.api.control.set_maxconn_frontend(fe, v)
    return ""


@command(
    "set maxconn global",
    "set maxconn global <value>",
    "change the per-process maxconn setting",
    Level.ADMIN,
)
def _set_maxconn_global(req: Request, args: list[str]) -> str:
    text = _arg(args, 3)
    if not text:
        return "Expects an integer value.\n"
    v = _atoi(text)
    hard = req.api.hard_maxconn
    if v > hard:
        return "Value out of range.\n"
    req.api.control.set_maxconn_global(v if v > 0 else hard)
    return ""


def _atoi(text: str) -> int:
    from weir.api.actions import strtol

    v, _ = strtol(text)
    return v or 0


# -- health checks -------------------------------------------------------------------------


@command("disable health", "disable health", "disable health checks", Level.ADMIN)
def _disable_health(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    req.api.control.disable_health(found[1])
    return ""


@command("enable health", "enable health", "enable health checks", Level.ADMIN)
def _enable_health(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    if not req.api.control.enable_health(*found):
        return "Health check was not configured on this server, cannot enable.\n"
    return ""


@command("disable agent", "disable agent <bk>/<srv>", "disable agent checks", Level.ADMIN)
def _disable_agent(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    if not req.api.control.disable_agent(found[1]):
        return "Agent was not configured on this server, cannot disable.\n"
    return ""


@command("enable agent", "enable agent <bk>/<srv>", "enable agent checks", Level.ADMIN)
def _enable_agent(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 2))
    if isinstance(found, str):
        return found
    if not req.api.control.enable_agent(found[1]):
        return "Agent was not configured on this server, cannot enable.\n"
    return ""


# -- frontends -------------------------------------------------------------------------------


@command(
    "disable frontend",
    "disable frontend <frontend>",
    "temporarily disable specific frontend",
    Level.ADMIN,
)
def _disable_frontend(req: Request, args: list[str]) -> str:
    fe = find_frontend(req, _arg(args, 2))
    if isinstance(fe, str):
        return fe
    return req.api.control.pause_frontend(fe) or ""


@command(
    "enable frontend",
    "enable frontend <frontend>",
    "re-enable specific frontend",
    Level.ADMIN,
)
def _enable_frontend(req: Request, args: list[str]) -> str:
    fe = find_frontend(req, _arg(args, 2))
    if isinstance(fe, str):
        return fe
    return req.api.control.resume_frontend(fe) or ""


# -- sessions, counters ----------------------------------------------------------------------


@command(
    "shutdown sessions server",
    "shutdown sessions server <bk>/<srv>",
    "kill sessions on a server",
    Level.ADMIN,
)
def _shutdown_sessions(req: Request, args: list[str]) -> str:
    found = find_server(req, _arg(args, 3))
    if isinstance(found, str):
        return found
    if not req.api.control.shutdown_sessions(found[1]):
        return (
            "'shutdown sessions server' is HAProxy's but weir does not support it yet: "
            "weir does not track this server's sessions one by one.\n"
        )
    return ""


@command(
    "clear counters",
    "clear counters [all]",
    "clear max statistics counters (or all counters)",
    Level.OPERATOR,
)
def _clear_counters(req: Request, args: list[str]) -> str:
    everything = _arg(args, 2) == "all"
    if everything and not req.allowed(Level.ADMIN):
        return "Permission denied\n"
    req.api.control.clear_counters(everything)
    return ""


# -- dynamic servers -------------------------------------------------------------------------


@command("add server", "add server <bk>/<srv>", "create a new server", Level.ADMIN)
def _add_server(req: Request, args: list[str]) -> str:
    be_name, srv_name = _split(_arg(args, 2))
    if not be_name or not srv_name:
        return "Require 'backend/server'."
    be = req.api.backend(be_name)
    if be is None:
        return "No such backend."
    ok, message = add_server(req.api.control, be, srv_name, args[3:])
    if message.startswith("Backend must use"):
        return message
    level = "NOTICE" if ok else "ALERT"
    req.api.control.say(level, f"CLI : {message}")
    # The command's answer is the message without the `'server b/s' : ` label.
    return message.partition(" : ")[2] + "\n" if " : " in message else message + "\n"


@command("del server", "del server <bk>/<srv>", "remove a dynamically added server", Level.ADMIN)
def _del_server(req: Request, args: list[str]) -> str:
    be_name, srv_name = _split(_arg(args, 2))
    if not be_name or not srv_name:
        return "Require 'backend/server'."
    be = req.api.backend(be_name)
    if be is None:
        return "No such backend."
    srv = req.api.control.server(be, srv_name)
    if srv is None:
        return "No such server."
    ok, message = del_server(req.api.control, be, srv)
    if ok:
        req.api.control.say("NOTICE", f"CLI : {message}")
    return message
