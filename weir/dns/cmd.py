"""`show resolvers [<section>]` on the runtime API, in HAProxy 2.6's layout."""

from __future__ import annotations

from weir.api.commands import Request, command
from weir.api.conf import Level
from weir.dns.resolver import NsCounters, running_for


@command(
    "show resolvers",
    "show resolvers [id]",
    "dumps counters from all resolvers section and associated name servers",
    Level.USER,
)
def _show_resolvers(req: Request, args: list[str]) -> str:
    rt = req.api.rt
    sections = rt.config.resolvers
    wanted = args[2] if len(args) > 2 and args[2] else None
    if wanted is not None and wanted not in sections:
        return "Can't find that resolvers section\n"
    if not sections:
        return "No resolvers found\n"
    running = {r.name: r for r in running_for(rt) or ()}
    out: list[str] = []
    for name, conf in sections.items():
        if wanted is not None and name != wanted:
            continue
        out.append(f"Resolvers section {name}\n")
        r = running.get(name)
        counters = {ns.name: ns.counters for ns in r.nameservers} if r is not None else {}
        for ns_name in conf.nameservers:
            out.append(f" nameserver {ns_name}:\n")
            c = counters.get(ns_name) or NsCounters()
            for field, value in c.items():
                out.append(f"  {field + ':':<13}{value}\n")
    return "".join(out)
