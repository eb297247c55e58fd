"""Backend keywords: servers, balancing, retries."""

from __future__ import annotations

from dataclasses import replace

from weir.balance import parse_balance, parse_hash_type
from weir.balance.base import BalanceParams
from weir.config.address import AddressError, parse_address
from weir.config.model import ServerConf
from weir.config.parser import Ctx
from weir.config.registry import SERVER_OPTIONS, Args, flag_option, keyword
from weir.config.units import parse_int, parse_time
from weir.dns.initaddr import init_addr
from weir.proxy.keywords import apply_options


@keyword(
    "balance",
    "dbl",
    "[<algorithm> [<arguments>]]",
    "How the backend picks a server (roundrobin, leastconn, source, uri, …); alone, roundrobin.",
)
def _balance(ctx: Ctx, args: Args) -> None:
    try:
        params = parse_balance(args)  # a bare `balance` is roundrobin, as in HAProxy
    except ValueError as e:
        ctx.error(str(e))
        return
    if params.algo == "hash":
        from weir.sample.core import LOG, SampleError, compile_expr

        try:
            compile_expr(params.expr, LOG)
        except SampleError as e:
            ctx.error(f"'balance hash': {e}")
            return
    if params.check_post:
        ctx.error("'url_param ... check_post' is HAProxy's but weir does not support it yet")
        return
    old = ctx.px.balance
    if old is not None:
        params = replace(
            params,
            hash_type=old.hash_type,
            hash_function=old.hash_function,
            avalanche=old.avalanche,
            hash_balance_factor=old.hash_balance_factor,
            allbackups=old.allbackups,
        )
    ctx.px.balance = params


@keyword(
    "persist",
    "dbl",
    "rdp-cookie[(<name>)]",
    "Send an RDP connection that carries a Session Broker cookie (msts by default) to the "
    "server whose address it encodes (mode tcp).",
)
def _persist(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a persistence method: rdp-cookie[(<name>)]"):
        return
    method = args[0]
    if method == "rdp-cookie":
        name = "msts"
    elif method.startswith("rdp-cookie(") and method.endswith(")") and len(method) > 12:
        name = method[11:-1]
    else:
        ctx.error(f"'persist {method}': expects 'rdp-cookie' or 'rdp-cookie(<name>)'")
        return
    ctx.px.persist_rdp_cookie = name


@keyword(
    "hash-type",
    "dbl",
    "map-based|consistent [<function>] [avalanche]",
    "How hash-based algorithms map keys to servers.",
)
def _hash_type(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 3, "'map-based' or 'consistent', a function, 'avalanche'"):
        return
    try:
        kind, function, avalanche = parse_hash_type(args)
    except ValueError as e:
        ctx.error(str(e))
        return
    ctx.px.balance = replace(
        _balance_or_default(ctx), hash_type=kind, hash_function=function, avalanche=avalanche
    )


def _balance_or_default(ctx: Ctx) -> BalanceParams:
    return ctx.px.balance if ctx.px.balance is not None else parse_balance(["roundrobin"])


@keyword(
    "hash-balance-factor",
    "dbl",
    "<factor>",
    "Bounded-load consistent hashing: no server takes more than factor% of the average.",
)
def _hash_balance_factor(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a percentage (0 to disable, or more than 100)"):
        return
    try:
        factor = parse_int(args[0], what="hash-balance-factor")
        ctx.px.balance = replace(_balance_or_default(ctx), hash_balance_factor=factor)
    except ValueError as e:
        ctx.error(str(e))


@keyword(
    "option allbackups",
    "dbl",
    "",
    "Balance over all backup servers, not only the first.",
    negatable=True,
)
def _allbackups(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.px.balance = replace(_balance_or_default(ctx), allbackups=not ctx.negated)


@keyword("retries", "dbl", "<number>", "Connection attempts to a server after the first fails.")
def _retries(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.px.retries = parse_int(args[0], what="retries")
        except ValueError as e:
            ctx.error(str(e))


@keyword(
    "option redispatch",
    "dbl",
    "[<interval>]",
    "On retry, allow another server than the one first chosen.",
    negatable=True,
)
def _redispatch(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 0, 1, "an optional retry interval"):
        return
    if args:
        try:
            if parse_int(args[0], low=-(1 << 31), what="interval") != 1:
                ctx.error("only the default interval (1: every retry) is supported by weir yet")
                return
        except ValueError as e:
            ctx.error(str(e))
            return
    ctx.px.redispatch = not ctx.negated


flag_option(
    "persist",
    "dbl",
    "persist",
    "Persistence (cookie, RDP cookie) sends a client to its server even when that server "
    "is down or in maintenance (with 'option redispatch', a failed connection goes "
    "elsewhere).",
)


flag_option(
    "abortonclose",
    "dbl",
    "abortonclose",
    "Drop a request whose client closed its side while the request waits in a queue or "
    "for its connection (without it, the request is served, as HTTP allows).",
)


flag_option(
    "http-pretend-keepalive",
    "dbl",
    "pretend_keepalive",
    "With http-server-close or httpclose, do not announce the close to the server (some "
    "servers then stop chunking); weir closes the server connection after the response.",
)


@keyword("server", "bl", "<name> <address>[:<port>] [options…]", "A server of this backend.")
def _server(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 2, None, "a name and an address"):
        add_server(ctx, args[0], args[1], args[2:])


def add_server(ctx: Ctx, name: str, address: str, options: Args) -> ServerConf | None:
    """Add server `name` at `address` with `options` to the proxy being read (a `server`
    line, or one server of a `server-template`); None when the line is refused."""
    px = ctx.px
    base = px.default_server
    srv = base.copy_as(name, ctx.where) if base is not None else ServerConf(ctx.where, name)
    try:
        # A host name is resolved by `init-addr` (weir.dns) once the options are read.
        srv.address = parse_address(address, for_bind=False, port_optional=True, keep_name=True)
    except AddressError as e:
        ctx.error(f"server '{name}' : {e}")
        return None
    for other in px.servers:
        if other.name == name:
            ctx.error(f"another server named '{name}' was already defined at {other.where}")
            return None
    apply_options(ctx, SERVER_OPTIONS, srv, options)
    if srv.address.fqdn:
        init_addr(ctx, px, srv)
    # `id` is refused on `default-server`, so a puid here was given on this very line.
    srv.puid_given = srv.puid != 0
    given = {s.puid for s in px.servers if s.puid_given}
    if srv.puid_given and srv.puid in given:
        ctx.error(f"server id {srv.puid} is already used in backend '{px.name}'")
    px.servers.append(srv)
    _number_server(px.servers, given)
    return srv


def _number_server(servers: list[ServerConf], given: set[int]) -> None:
    """Keep HAProxy's automatic ids right after `servers[-1]` was added; `given` holds the
    explicit ids of the servers before it.

    HAProxy numbers servers without `id` once the whole backend is read: walking them in
    order with a counter that starts at 1 and steps once per server, a server without an
    id takes the first id at or above the counter that no server uses. So explicit ids
    push later automatic ones up, and an explicit id further down can move an earlier
    server's automatic one (`server a` then `server b id 1` gives a 2). Automatic ids
    increase along the list and stay below the counter, so a new server without an id
    only needs the counter, found from the last automatic server before it.
    """
    new = servers[-1]
    if new.puid_given:
        if any(not s.puid_given and s.puid == new.puid for s in servers):
            _renumber(servers)  # an automatic id must make way
        return
    counter = 1
    for back, s in enumerate(reversed(servers[:-1])):
        if not s.puid_given:
            counter = s.puid + 1 + back
            break
    else:
        counter = len(servers)
    while counter in given:
        counter += 1
    new.puid = counter


def _renumber(servers: list[ServerConf]) -> None:
    """HAProxy's automatic numbering of the whole list (see `_number_server`)."""
    used = {s.puid for s in servers if s.puid_given}
    counter = 1
    for s in servers:
        if not s.puid_given:
            while counter in used:
                counter += 1
            s.puid = counter
            used.add(counter)
        counter += 1


@keyword("default-server", "dbl", "[options…]", "Defaults for the 'server' lines that follow.")
def _default_server(ctx: Ctx, args: Args) -> None:
    px = ctx.px
    base = px.default_server or ServerConf(ctx.where, "")
    srv = base.copy_as("", ctx.where)
    apply_options(ctx, SERVER_OPTIONS, srv, args)
    px.default_server = srv


def _srv(target: object) -> ServerConf:
    assert isinstance(target, ServerConf)
    return target


def _int_option(field: str, low: int, high: int, usage: str, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        try:
            setattr(_srv(target), field, parse_int(args[0], low=low, high=high, what=field))
        except ValueError as e:
            ctx.error(str(e))

    SERVER_OPTIONS.option(field, 1, usage, doc)(handler)


_int_option("weight", 0, 256, "a weight from 0 to 256", "Share of the traffic (0: none new).")
_int_option(
    "maxconn",
    0,
    (1 << 31) - 1,
    "a number",
    "Most concurrent connections to this server; more wait in its queue.",
)
_int_option(
    "minconn",
    0,
    (1 << 31) - 1,
    "a number",
    "With maxconn: the limit starts here and reaches maxconn as the backend reaches fullconn.",
)
_int_option(
    "maxqueue", 0, (1 << 31) - 1, "a number", "Most requests waiting for this server (0: no limit)."
)


@SERVER_OPTIONS.option(
    "slowstart",
    1,
    "a time value such as 30s (0: none)",
    "After a DOWN to UP transition, ramp the weight up to full over this time (not at start).",
)
def _slowstart(ctx: Ctx, target: object, args: Args) -> None:
    try:
        _srv(target).slowstart = parse_time(args[0])
    except ValueError as e:
        ctx.error(f"'slowstart' : {e}")


@SERVER_OPTIONS.option(
    "id", 1, "<number>", "The server's numeric id (stats, 'first').", default_server=False
)
def _id(ctx: Ctx, target: object, args: Args) -> None:
    try:
        _srv(target).puid = parse_int(args[0], low=1, what="id")
    except ValueError as e:
        ctx.error(str(e))


@SERVER_OPTIONS.option("backup", 0, "", "Only used when no active server is usable.")
def _backup(ctx: Ctx, target: object, args: Args) -> None:
    _srv(target).backup = True


@SERVER_OPTIONS.option("no-backup", 0, "", "Undo an inherited 'backup'.")
def _no_backup(ctx: Ctx, target: object, args: Args) -> None:
    _srv(target).backup = False


@SERVER_OPTIONS.option("disabled", 0, "", "Start the server in maintenance.")
def _disabled(ctx: Ctx, target: object, args: Args) -> None:
    _srv(target).disabled = True


@SERVER_OPTIONS.option("enabled", 0, "", "Start the server in service (undo 'disabled').")
def _enabled(ctx: Ctx, target: object, args: Args) -> None:
    _srv(target).disabled = False
