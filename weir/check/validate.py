"""Whole-configuration checks for health checks: what needs a server line read to its end."""

from __future__ import annotations

from weir.config.address import Family
from weir.config.diagnostics import Diagnostics
from weir.config.model import Config, ServerConf


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


def needs_port(srv: ServerConf) -> bool:
    """True when a checked server has nowhere to connect: an IP address without any port."""
    target = srv.check.address or srv.address
    if target is None or target.family is Family.UNIX:
        return False
    return check_port(srv) == 0


def check_config(cfg: Config, diags: Diagnostics) -> None:
    """Refuse checked servers without a port to check (HAProxy 2.6 refuses them too)."""
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_backend:
            continue
        for srv in px.servers:
            if srv.check.enabled and needs_port(srv):
                diags.alert(
                    f"{px.cap} '{px.name}' : server '{srv.name}' has 'check' but neither a "
                    "service port nor a check port (add a port to its address, or 'port')",
                    srv.where,
                )
