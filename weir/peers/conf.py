"""The `peers` section and the keywords that point at it.

::

    global
        localpeer lb1                   # or `weir -L lb1`; by default the host name
    peers mesh
        peer lb1 10.0.0.1:10000         # this node: weir listens here
        peer lb2 10.0.0.2:10000         # the other node: weir connects to it
    backend app
        stick-table type ip size 1m expire 30m peers mesh

HAProxy 2.x's other spelling of the same section is accepted too: `bind ADDR:PORT` for the
local peer's address, `server NAME` (no address) for the local peer and `server NAME
ADDR:PORT` for the others.

The local peer is the `peer` (or `server`) whose name is the local peer name. A section
without it cannot replicate: as HAProxy does, it is dropped with a warning and its tables
work unreplicated on this node.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from weir.config.address import AddressError, Family, parse_address
from weir.config.registry import Args, keyword, section

if TYPE_CHECKING:
    from weir.config.diagnostics import Diagnostics, Where
    from weir.config.model import Config
    from weir.config.parser import Ctx

# `weir -L NAME` sets it before the configuration is read (as HAProxy's -L does).
LOCAL_NAME_FROM_CLI: list[str] = []


@dataclass(slots=True)
class PeerConf:
    name: str
    host: str  # "" for the local peer of the `bind`/`server NAME` form, until `bind` says
    port: int
    where: Where


@dataclass(slots=True)
class PeersConf:
    name: str
    where: Where
    peers: dict[str, PeerConf] = field(default_factory=dict)
    bind: tuple[str, int] | None = None  # `bind ADDR:PORT`
    disabled: bool = False
    local: str = ""  # the local peer's name, once the whole configuration is read
    tables: list[str] = field(default_factory=list)  # the stick tables it replicates

    @property
    def local_addr(self) -> tuple[str, int] | None:
        me = self.peers.get(self.local)
        if me is None:
            return None
        if me.host:
            return me.host, me.port
        return self.bind

    @property
    def remotes(self) -> list[PeerConf]:
        return [p for name, p in self.peers.items() if name != self.local]


def peers_of(cfg: Config) -> dict[str, PeersConf]:
    return cfg.peers


def local_peer_name(cfg: Config) -> str:
    """-L, else `localpeer`, else the host name (HAProxy's order)."""
    if LOCAL_NAME_FROM_CLI:
        return LOCAL_NAME_FROM_CLI[-1]
    return cfg.global_.localpeer or socket.gethostname()


# ---- the section -------------------------------------------------------------------------


@section("peers")
def _open(ctx: Ctx, args: Args) -> None:
    if len(args) != 1:
        ctx.error("expects a name: 'peers <name>'")
        return
    name = args[0]
    known = ctx.cfg.peers.get(name)
    if known is not None:
        ctx.error(f"peers section '{name}' has the same name as the one declared at {known.where}")
        return
    ctx.block = ctx.cfg.peers[name] = PeersConf(name, ctx.where)


def _block(ctx: Ctx) -> PeersConf | None:
    return ctx.block if isinstance(ctx.block, PeersConf) else None


def _address(ctx: Ctx, text: str) -> tuple[str, int] | None:
    try:
        a = parse_address(text, for_bind=False, resolve=True)
    except AddressError as e:
        ctx.error(str(e))
        return None
    if not a.port_low or a.host in ("", "0.0.0.0") or a.family not in (Family.IPV4, Family.IPV6):
        ctx.error(f"expects an address and a port, as in 10.0.0.1:10000, got '{text}'")
        return None
    return a.host, a.port_low


def _add_peer(ctx: Ctx, args: Args, *, address_optional: bool) -> None:
    ps = _block(ctx)
    if ps is None:
        return
    if not args or (len(args) < 2 and not address_optional):
        ctx.error(f"expects '<name> <address>:<port>', as in '{ctx.keyword} lb2 10.0.0.2:10000'")
        return
    if len(args) > 2:
        ctx.error(
            f"'{args[2]}': weir's peers take no options yet (no TLS or other parameters "
            "between peers)"
        )
        return
    name = args[0]
    if name in ps.peers:
        ctx.error(f"peer '{name}' is declared twice in peers section '{ps.name}'")
        return
    host, port = "", 0
    if len(args) == 2:
        addr = _address(ctx, args[1])
        if addr is None:
            return
        host, port = addr
    ps.peers[name] = PeerConf(name, host, port, ctx.where)


@keyword("peer", "p", "<name> <address>:<port>", "A node of this peers section.")
def _peer(ctx: Ctx, args: Args) -> None:
    _add_peer(ctx, args, address_optional=False)


@keyword(
    "server",
    "p",
    "<name> [<address>:<port>]",
    "A node of this peers section; without an address, this node (its address on `bind`).",
)
def _server(ctx: Ctx, args: Args) -> None:
    _add_peer(ctx, args, address_optional=True)


@keyword("bind", "p", "<address>:<port>", "Where this node listens for its peers.")
def _bind(ctx: Ctx, args: Args) -> None:
    ps = _block(ctx)
    if ps is None:
        return
    if len(args) != 1:
        ctx.error("expects one '<address>:<port>' and no options")
        return
    addr = _address(ctx, args[0])
    if addr is not None:
        ps.bind = addr


@keyword("disabled", "p", "", "Turns this peers section off: its tables are not replicated.")
def _disabled(ctx: Ctx, args: Args) -> None:
    ps = _block(ctx)
    if ps is not None and ctx.expect(args, 0, 0, ""):
        ps.disabled = True


@keyword("enabled", "p", "", "Turns a disabled peers section back on.")
def _enabled(ctx: Ctx, args: Args) -> None:
    ps = _block(ctx)
    if ps is not None and ctx.expect(args, 0, 0, ""):
        ps.disabled = False


@keyword("localpeer", "g", "<name>", "This node's name in peers sections (`-L` overrides it).")
def _localpeer(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "<name>"):
        ctx.cfg.global_.localpeer = args[0]


# ---- once everything is read -------------------------------------------------------------


def check_peers(cfg: Config, diags: Diagnostics) -> None:
    """Resolve each section's local peer, and the stick tables' `peers` references."""
    local = local_peer_name(cfg)
    os.environ["HAPROXY_LOCALPEER"] = local
    incomplete: set[str] = set()
    for ps in cfg.peers.values():
        ps.local = local
        me = ps.peers.get(local)
        if me is None:
            incomplete.add(ps.name)
            diags.warning(
                f"Removing incomplete section 'peers {ps.name}' (no peer named '{local}')."
            )
        elif not me.host and ps.bind is None:
            diags.alert(
                f"peers section '{ps.name}': the local peer '{local}' has no address "
                "(give it one, or add a 'bind' line)",
                me.where,
            )
    for px in cfg.proxies:
        st = px.stick_table
        if st is None or not st.peers:
            continue
        ps = cfg.peers.get(st.peers)
        if ps is None:
            diags.alert(f"Proxy '{px.name}': unable to find sync peers '{st.peers}'.", px.where)
        elif ps.name in incomplete or ps.disabled:
            st.peers = ""
        else:
            ps.tables.append(st.name)
    for name in incomplete:
        del cfg.peers[name]
