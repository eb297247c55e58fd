"""A server's first address when it is written as a host name: `init-addr`.

The methods are tried in order, the first that gives an address wins:

- `last`: the address saved for this server in the server state file
  (`server-state-file` with `load-server-state-from-file`), as `show servers state` wrote it;
- `libc`: the system's resolver, now;
- `none`: no address: the server starts in maintenance, as HAProxy's "resolution"
  maintenance (RMAINT), until its resolvers give it one;
- an IP address: that address.

The default is `last,libc`, and `last,libc,none` for a server with `resolvers`. When no
method works the configuration is refused, as HAProxy refuses it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from weir.config.address import Family, libc_lookup

if TYPE_CHECKING:
    from weir.config.model import Config, Proxy, ServerConf
    from weir.config.parser import Ctx


def init_methods(srv: ServerConf) -> tuple[str, ...]:
    dns = srv.dns
    if dns is not None and dns.init_addr:
        return tuple(dns.init_addr)
    if dns is not None and dns.resolvers:
        return ("last", "libc", "none")
    return ("last", "libc")


def init_addr(ctx: Ctx, px: Proxy, srv: ServerConf) -> None:
    """Give server `srv` (written with a host name) its first address, or none, or report
    that it has none. Called once its whole line is read."""
    a = srv.address
    assert a is not None
    who = f"'server {px.name}/{srv.name}'"
    failed = False
    for method in init_methods(srv):
        if method == "last":
            ip = _last_address(ctx.cfg, px, srv.name)
        elif method == "libc":
            ip = libc_lookup(a.fqdn, a.family if a.family is Family.IPV6 else None)
            failed = failed or ip is None
        elif method == "none":
            if failed:
                ctx.diags.warning(
                    f"{who} : could not resolve address '{a.fqdn}', disabling server.", ctx.where
                )
            return  # host stays "": maintenance until DNS gives an address
        else:
            ip = method
            if failed:
                ctx.diags.warning(
                    f"{who} : could not resolve address '{a.fqdn}', falling back to "
                    "configured address.",
                    ctx.where,
                )
        if ip is not None:
            family = Family.IPV6 if ":" in ip else Family.IPV4
            srv.address = replace(a, family=family, host=ip)
            return
    ctx.diags.alert(f"{who} : could not resolve address '{a.fqdn}'.", ctx.where)


def _last_address(cfg: Config, px: Proxy, name: str) -> str | None:
    """The address the server state file holds for `px`/`name`, if any."""
    from weir.backend.serverstate import state_conf

    conf = state_conf(cfg)
    how = px.load_server_state
    if how == "global":
        file = conf.file
    elif how == "local":
        file = px.server_state_file_name
        if file in (None, "use-backend-name"):
            file = px.name
    else:
        return None
    if not file:
        return None
    path = Path(file)
    if not path.is_absolute() and conf.base is not None:
        path = Path(conf.base) / path
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return None
    if not lines or lines[0].strip() != "1":
        return None
    for line in lines[1:]:
        words = line.split()
        # be_id be_name srv_id srv_name srv_addr ...
        if len(words) > 4 and words[1] == px.name and words[3] == name:
            addr = words[4]
            return addr if _is_ip(addr) else None
    return None


def _is_ip(text: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
