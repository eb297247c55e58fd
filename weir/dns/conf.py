"""The `resolvers` section, the servers' DNS options, and their checks once all is read.

::

    resolvers dns
        nameserver ns1 10.0.0.1:53          # UDP; `udp@`, `ipv4@`, `ipv6@` prefixes too
        parse-resolv-conf                   # plus the nameservers of /etc/resolv.conf
        resolve_retries 3                   # queries per resolution before giving up
        timeout resolve 1s                  # time between two resolutions of a name
        timeout retry 1s                    # time to wait for an answer before retrying
        hold valid 10s                      # see docs/dns.md for each status
        accepted_payload_size 512           # EDNS0 size announced to the nameservers
    backend app
        server s1 app.example:80 resolvers dns resolve-prefer ipv4 init-addr last,libc,none

Defaults are HAProxy 2.6's. Stream (`tcp@`) nameservers and the parameters HAProxy takes
after a stream nameserver's address are refused by name: weir's resolver speaks UDP.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from weir.config.address import AddressError, Family, parse_address
from weir.config.registry import SERVER_OPTIONS, Args, keyword, section
from weir.config.units import parse_time

if TYPE_CHECKING:
    from weir.config.diagnostics import Diagnostics, Where
    from weir.config.model import Config
    from weir.config.parser import Ctx

RESOLV_CONF = "/etc/resolv.conf"
DNS_PORT = 53
HOLD_STATUSES = ("nx", "other", "refused", "timeout", "valid", "obsolete")
INIT_METHODS = ("last", "libc", "none")
RESOLVE_OPTS = ("allow-dup-ip", "ignore-weight", "prevent-dup-ip")
PAYLOAD_MIN, PAYLOAD_MAX = 12, 65535  # what HAProxy 2.6 accepts


@dataclass(slots=True)
class NameserverConf:
    name: str
    host: str  # an IP address
    port: int
    where: Where

    @property
    def family(self) -> Family:
        return Family.IPV6 if ":" in self.host else Family.IPV4


def _default_hold() -> dict[str, int]:
    return {"nx": 30000, "other": 30000, "refused": 30000, "timeout": 30000, "valid": 10000,
            "obsolete": 0}  # fmt: skip


@dataclass(slots=True)
class ResolversConf:
    """One `resolvers` section; times in milliseconds."""

    name: str
    where: Where
    nameservers: dict[str, NameserverConf] = field(default_factory=dict)
    resolve_retries: int = 3
    timeout_resolve: int = 1000
    timeout_retry: int = 1000
    hold: dict[str, int] = field(default_factory=_default_hold)
    accepted_payload_size: int = 512


@dataclass(slots=True)
class ServerDns:
    """A server's DNS options (`ServerConf.dns`)."""

    resolvers: str = ""  # the section's name; "" : resolved once, at start only
    prefer: Family = Family.IPV6  # HAProxy's default
    allow_dup_ip: bool = False
    ignore_weight: bool = False
    nets: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    init_addr: tuple[str, ...] = ()  # "last", "libc", "none" or IP addresses; () : default


# ---- the section -------------------------------------------------------------------------


@section("resolvers")
def _open(ctx: Ctx, args: Args) -> None:
    if len(args) != 1:
        ctx.error("expects a name: 'resolvers <name>'")
        return
    name = args[0]
    known = ctx.cfg.resolvers.get(name)
    if known is not None:
        ctx.error(f"resolvers '{name}' has the same name as the one declared at {known.where}")
        return
    ctx.block = ctx.cfg.resolvers[name] = ResolversConf(name, ctx.where)


def _block(ctx: Ctx) -> ResolversConf | None:
    return ctx.block if isinstance(ctx.block, ResolversConf) else None


_DGRAM_PREFIXES = {"udp": None, "udp4": Family.IPV4, "udp6": Family.IPV6}
_DGRAM_PREFIXES.update(ipv4=Family.IPV4, ipv6=Family.IPV6)
_STREAM_PREFIXES = ("tcp", "tcp4", "tcp6")


def parse_nameserver(text: str) -> tuple[str, int]:
    """A nameserver's `ADDR:PORT` (UDP) -> (ip, port); AddressError says what is wrong."""
    prefix, at, rest = text.partition("@")
    want: Family | None = None
    if at:
        if prefix in _STREAM_PREFIXES:
            raise AddressError(
                f"'{prefix}@' nameservers (DNS over TCP) are HAProxy's but weir does not "
                f"support them yet: '{text}'"
            )
        if prefix not in _DGRAM_PREFIXES:
            raise AddressError(f"unsupported address family '{prefix}@' in '{text}'")
        want = _DGRAM_PREFIXES[prefix]
        text = rest
    a = parse_address(text, for_bind=False, resolve=False)
    if want is not None and a.family is not want:
        raise AddressError(f"address '{a.host}' is not {want}")
    if a.family not in (Family.IPV4, Family.IPV6) or a.host in ("", "0.0.0.0"):
        raise AddressError(f"invalid address: '{text}'")
    return a.host, a.port_low


@keyword(
    "nameserver",
    "r",
    "<name> <address>:<port>",
    "A name server this section queries (UDP; all are queried, the first valid answer wins).",
)
def _nameserver(ctx: Ctx, args: Args) -> None:
    rs = _block(ctx)
    if rs is None:
        return
    if len(args) < 2:
        ctx.error("expects <name> and <addr>[:<port>] as arguments.")
        return
    name = args[0]
    if len(args) > 2:
        ctx.error(
            f"'{args[2]}': parameters after a nameserver's address apply to DNS over TCP, "
            "which weir does not support yet"
        )
        return
    other = rs.nameservers.get(name)
    if other is not None:
        ctx.error(
            f"nameserver '{name}' has same name as another nameserver (declared at {other.where})."
        )
        return
    try:
        host, port = parse_nameserver(args[1])
    except AddressError as e:
        ctx.diags.alert(f"'nameserver {name}' : {e}", ctx.where)
        return
    rs.nameservers[name] = NameserverConf(name, host, port, ctx.where)


def read_resolv_conf(text: str, where_file: str = RESOLV_CONF) -> tuple[list[str], list[str]]:
    """The nameserver addresses of a resolv.conf, and warnings about the lines skipped."""
    found: list[str] = []
    warnings: list[str] = []
    for n, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0] != "nameserver":
            continue
        if len(words) < 2:
            warnings.append(f"parsing [{where_file}:{n}] : nameserver line is missing address.")
            continue
        try:
            found.append(str(ipaddress.ip_address(words[1])))
        except ValueError:
            warnings.append(
                f"parsing [{where_file}:{n}] : address '{words[1]}' could not be recognized, "
                "nameserver will be excluded."
            )
    return found, warnings


@keyword(
    "parse-resolv-conf",
    "r",
    "",
    "Adds the nameservers of /etc/resolv.conf here (each named after its address).",
)
def _parse_resolv_conf(ctx: Ctx, args: Args) -> None:
    rs = _block(ctx)
    if rs is None:
        return
    try:
        text = Path(RESOLV_CONF).read_text(errors="replace")
    except OSError:
        ctx.error(f"failed to open {RESOLV_CONF}.")
        return
    found, warnings = read_resolv_conf(text)
    for w in warnings:
        ctx.diags.warning(w)
    for host in found:
        if host in rs.nameservers:
            continue  # HAProxy excludes a duplicate name with a warning; same address here
        rs.nameservers[host] = NameserverConf(host, host, DNS_PORT, ctx.where)


@keyword(
    "resolve_retries",
    "r",
    "<number>",
    "Queries sent for one resolution before it fails (default 3).",
)
def _resolve_retries(ctx: Ctx, args: Args) -> None:
    rs = _block(ctx)
    if rs is None:
        return
    if len(args) != 1:
        ctx.error("expects <nb> as argument.")
        return
    try:
        rs.resolve_retries = max(1, int(args[0], 10))
    except ValueError:
        ctx.error(f"expects a number, got '{args[0]}'")


def _timeout(ctx: Ctx, args: Args, attr: str) -> None:
    rs = _block(ctx)
    if rs is None:
        return
    if len(args) != 1:
        ctx.error("expects <time> as argument.")
        return
    try:
        setattr(rs, attr, parse_time(args[0]))
    except ValueError as e:
        ctx.error(str(e))


@keyword(
    "timeout resolve",
    "r",
    "<time>",
    "Time between two resolutions of a server's name (default 1s).",
)
def _timeout_resolve(ctx: Ctx, args: Args) -> None:
    _timeout(ctx, args, "timeout_resolve")


@keyword(
    "timeout retry",
    "r",
    "<time>",
    "Time to wait for an answer before querying again (default 1s).",
)
def _timeout_retry(ctx: Ctx, args: Args) -> None:
    _timeout(ctx, args, "timeout_retry")


@keyword(
    "hold",
    "r",
    "nx|other|refused|timeout|valid|obsolete <period>",
    "How long a resolution status is held before it acts (see docs/dns.md).",
)
def _hold(ctx: Ctx, args: Args) -> None:
    rs = _block(ctx)
    if rs is None:
        return
    if len(args) != 2:
        ctx.error(
            "expects an <event> and a <time> as arguments; <event> can be 'nx', 'other', "
            "'refused', 'timeout', 'valid' or 'obsolete'"
        )
        return
    status, period = args
    if status not in HOLD_STATUSES:
        ctx.error(
            f"unknown <event>: '{status}', expects either 'nx', 'timeout', 'valid', "
            "'obsolete' or 'other'."
        )
        return
    try:
        rs.hold[status] = parse_time(period)
    except ValueError as e:
        ctx.error(str(e))


@keyword(
    "accepted_payload_size",
    "r",
    "<bytes>",
    "The largest answer announced to the nameservers with EDNS0 (default 512).",
)
def _accepted_payload_size(ctx: Ctx, args: Args) -> None:
    rs = _block(ctx)
    if rs is None:
        return
    if len(args) != 1:
        ctx.error("expects <nb> as argument.")
        return
    try:
        size = int(args[0], 10)
    except ValueError:
        size = -1
    if not PAYLOAD_MIN <= size <= PAYLOAD_MAX:
        ctx.error(f"must be between {PAYLOAD_MIN} and {PAYLOAD_MAX} inclusive (was {args[0]}).")
        return
    rs.accepted_payload_size = size


# ---- server options ----------------------------------------------------------------------


def server_dns(target: object) -> ServerDns:
    """The DNS options of server (or default-server) `target`, created on first use."""
    dns = getattr(target, "dns", None)
    if dns is None:
        dns = ServerDns()
        target.dns = dns  # type: ignore[attr-defined]
    assert isinstance(dns, ServerDns)
    return dns


@SERVER_OPTIONS.option(
    "resolvers",
    1,
    "<resolvers name>",
    "The resolvers section that keeps this server's address up to date at run time.",
)
def _resolvers(ctx: Ctx, target: object, args: Args) -> None:
    server_dns(target).resolvers = args[0]


@SERVER_OPTIONS.option(
    "resolve-prefer",
    1,
    "ipv4|ipv6",
    "The address family preferred when a name has both (default ipv6).",
)
def _resolve_prefer(ctx: Ctx, target: object, args: Args) -> None:
    if args[0] not in ("ipv4", "ipv6"):
        ctx.error("'resolve-prefer' expects either ipv4 or ipv6 as argument.")
        return
    server_dns(target).prefer = Family(args[0])


@SERVER_OPTIONS.option(
    "resolve-opts",
    1,
    "<option>[,<option>…]",
    "allow-dup-ip, prevent-dup-ip (default: servers sharing a name get distinct "
    "addresses), ignore-weight.",
)
def _resolve_opts(ctx: Ctx, target: object, args: Args) -> None:
    dns = server_dns(target)
    for opt in args[0].split(","):
        if opt == "allow-dup-ip":
            dns.allow_dup_ip = True
        elif opt == "prevent-dup-ip":
            dns.allow_dup_ip = False
        elif opt == "ignore-weight":
            dns.ignore_weight = True
        else:
            ctx.error(
                f"'resolve-opts' : unknown resolve-opts option '{opt}', supported methods are "
                "'allow-dup-ip', 'ignore-weight', and 'prevent-dup-ip'."
            )
            return


@SERVER_OPTIONS.option(
    "resolve-net",
    1,
    "<network>[,<network>…]",
    "Networks whose addresses are preferred among those a name resolves to.",
)
def _resolve_net(ctx: Ctx, target: object, args: Args) -> None:
    nets = []
    for text in args[0].split(","):
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            ctx.error(f"'resolve-net' invalid network '{text}'.")
            return
    server_dns(target).nets = tuple(nets)


@SERVER_OPTIONS.option(
    "init-addr",
    1,
    "{last|libc|none|<ip>}[,…]",
    "How the address is found at start, in order (default last,libc; ,none with resolvers).",
)
def _init_addr(ctx: Ctx, target: object, args: Args) -> None:
    methods: list[str] = []
    for m in args[0].split(","):
        if m in INIT_METHODS:
            methods.append(m)
            continue
        try:
            methods.append(str(ipaddress.ip_address(m)))
        except ValueError:
            ctx.error(
                f"'init-addr' : unknown init-addr method '{m}', supported methods are "
                "'libc', 'last', 'none'."
            )
            return
    server_dns(target).init_addr = tuple(methods)


# ---- once everything is read -------------------------------------------------------------


def check_resolvers(cfg: Config, diags: Diagnostics) -> None:
    """Every server's `resolvers` names a section; a section without nameservers warns."""
    for rs in cfg.resolvers.values():
        if not rs.nameservers:
            diags.warning(f"resolvers '{rs.name}' [{rs.where}] has no nameservers configured!")
    for px in cfg.proxies:
        if px.disabled or not px.cap.is_backend:
            continue
        for srv in px.servers:
            dns: ServerDns | None = srv.dns
            if dns is None or not dns.resolvers:
                continue
            if dns.resolvers not in cfg.resolvers:
                diags.alert(
                    f"backend '{px.name}', server '{srv.name}': unable to find required "
                    f"resolvers '{dns.resolvers}'",
                    srv.where,
                )
                continue
            if srv.address is not None and srv.address.fqdn.startswith("_"):
                diags.alert(
                    f"'server {px.name}/{srv.name}' : '{srv.address.fqdn}' is a DNS SRV "
                    "label: SRV records are HAProxy's but weir does not resolve them yet",
                    srv.where,
                )
