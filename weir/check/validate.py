"""Whole-configuration checks for health checks: what needs a whole section read first."""

from __future__ import annotations

from weir.check.assemble import connect_without_port, problems, ruleset_of
from weir.config.address import Family
from weir.config.diagnostics import Diagnostics
from weir.config.model import Config, Proxy, ServerConf


def check_port(srv: ServerConf) -> int:
    """The port a health check of `srv` connects to: `port`, else the port given with
    `addr`, else the server's own; 0 when there is none (or when the server, or its check
    address, is a UNIX socket, which needs no port)."""
    chk = srv.check
    if chk.port:
        return chk.port
    if chk.address is not None and chk.address.family is not Family.UNIX and chk.address.port_low:
        return chk.address.port_low
    return srv.address.port_low if srv.address is not None else 0


def agent_port(srv: ServerConf) -> int:
    """The port of the agent check: `agent-port`, else `port`; 0 when neither is set."""
    return srv.check.agent_port or srv.check.port


def needs_port(srv: ServerConf) -> bool:
    """True when a checked server has no port of its own to check: an IP address (the
    server's, or `addr`) without any port."""
    target = srv.check.address or srv.address
    if target is None or target.family is Family.UNIX:
        return False
    return check_port(srv) == 0


def check_config(cfg: Config, diags: Diagnostics) -> None:
    """Report the check lines that cannot work, and checked servers without a port."""
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_backend:
            continue
        errors, warnings = problems(px)
        for message, where in errors:
            diags.alert(message, where or px.where)
        for message, where in warnings:
            diags.warning(message, where or px.where)
        if not errors:
            _check_servers(px, diags)


def _check_servers(px: Proxy, diags: Diagnostics) -> None:
    kind = f"{px.cap} '{px.name}'"
    step: int | None = None
    if any(s.check.enabled and needs_port(s) for s in px.servers):
        step = connect_without_port(ruleset_of(px))
    for srv in px.servers:
        chk = srv.check
        if chk.enabled and needs_port(srv) and step is not None:
            if step == 0:
                detail = "neither a service port nor a check port"
            else:
                detail = (
                    "neither a service port nor a check port, and its check's connect "
                    f"rule at step {step} names no port"
                )
            diags.alert(
                f"{kind} : server '{srv.name}' has 'check' but {detail} (add a port to its "
                "address, or 'port')",
                srv.where,
            )
        if chk.agent and not agent_port(srv):
            diags.alert(
                f"{kind} : server '{srv.name}' does not have agent port (set 'agent-port' "
                "or 'port'): its agent check cannot run",
                srv.where,
            )
        if chk.observe and not chk.enabled:
            diags.warning(
                f"{kind} : server '{srv.name}' has 'observe' without 'check': observed "
                "traffic only acts on a health check, so it is ignored",
                srv.where,
            )
