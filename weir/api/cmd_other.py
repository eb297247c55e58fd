"""`set timeout cli`, and the HAProxy commands weir does not implement: they answer that
weir does not support them yet (stick tables, maps and ACLs, SSL, tracing ...)."""

from __future__ import annotations

from weir.api.commands import Request, command, unsupported
from weir.api.conf import Level
from weir.config.units import parse_time


@command(
    "set timeout",
    "set timeout [cli] <delay>",
    "change the idle timeout of this CLI connection",
    Level.USER,
)
def _set_timeout(req: Request, args: list[str]) -> str:
    if args[2:3] != ["cli"]:
        return "'set timeout' only supports 'cli'.\n"
    text = args[3] if len(args) > 3 else ""
    if not text:
        return "Expects an integer value.\n"
    try:
        ms = parse_time(text, default_unit="s")
    except ValueError:
        return "Invalid timeout value.\n"
    if ms <= 0:
        return "Invalid timeout value.\n"
    req.session.timeout = ms / 1000
    return ""


_MAPS = "maps and ACL files cannot be changed at run time in weir yet"

for name, usage, what in (
    ("prepare map", "prepare map <map>", _MAPS),
    ("commit map", "commit map @<ver> <map>", _MAPS),
    ("prepare acl", "prepare acl <acl>", _MAPS),
    ("commit acl", "commit acl @<ver> <acl>", _MAPS),
):
    unsupported(name, usage, what)

for name, usage in (
    ("abort ssl", "abort ssl ..."),
    ("add ssl", "add ssl crt-list <list> <cert> [opts]*"),
    ("commit ssl", "commit ssl ..."),
    ("del ssl", "del ssl ..."),
    ("new ssl", "new ssl ..."),
    ("set ssl", "set ssl ..."),
    ("show ssl", "show ssl ..."),
    ("show tls-keys", "show tls-keys [id|*]"),
    ("get var", "get var <name>"),
    ("set profiling", "set profiling <what> {auto|on|off}"),
    ("set rate-limit", "set rate-limit <setting> <value>"),
    ("set severity-output", "set severity-output [none|number|string]"),
    ("show activity", "show activity"),
    ("show cache", "show cache"),
    ("show cli sockets", "show cli sockets"),
    ("show env", "show env [var]"),
    ("show events", "show events [<sink>] [-w] [-n]"),
    ("show fd", "show fd [num]"),
    ("show libs", "show libs"),
    ("show pools", "show pools"),
    ("show profiling", "show profiling [<what>|<#lines>|byaddr]*"),
    ("show schema", "show schema json"),
    ("show servers conn", "show servers conn [<backend>]"),
    ("show startup-logs", "show startup-logs"),
    ("show tasks", "show tasks"),
    ("show threads", "show threads"),
    ("show trace", "show trace [<module>]"),
    ("shutdown frontend", "shutdown frontend <frontend>"),
    ("shutdown session", "shutdown session [id]"),
    ("trace", "trace [<module>|0] [cmd [args...]]"),
    ("expert-mode", "expert-mode [on|off]"),
    ("experimental-mode", "experimental-mode [on|off]"),
):
    unsupported(name, usage, "")
