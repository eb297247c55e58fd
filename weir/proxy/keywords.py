"""Proxy-level keywords: mode, bind, maxconn, timeouts, ACLs and backend switching."""

from __future__ import annotations

from weir.config.address import AddressError, parse_bind_addresses
from weir.config.model import AclDef, Bind, CondDef, Mode, SwitchRule
from weir.config.parser import Ctx, named_defaults_only
from weir.config.registry import BIND_OPTIONS, Args, flag_option, keyword
from weir.config.units import parse_int, parse_time


@keyword("mode", "dfbl", "http|tcp", "Layer 7 (http) or layer 4 (tcp) processing.")
def _mode(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "'http' or 'tcp'"):
        return
    if args[0] not in ("http", "tcp"):
        ctx.error(f"unknown mode '{args[0]}' (weir supports 'http' and 'tcp')")
        return
    ctx.px.mode = Mode(args[0])


@keyword(
    "fullconn",
    "dbl",
    "<number>",
    "The backend load at which servers with `minconn` reach their `maxconn` (default: a "
    "tenth of the maxconn of the frontends that reach this backend).",
)
def _fullconn(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.px.fullconn = parse_int(args[0], low=1, what="fullconn")
        except ValueError as e:
            ctx.error(str(e))


@keyword("maxconn", "dfl", "<number>", "Most concurrent connections this frontend accepts.")
def _maxconn(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number"):
        try:
            ctx.px.maxconn = parse_int(args[0], what="maxconn")
        except ValueError as e:
            ctx.error(str(e))


@keyword("disabled", "dfbl", "", "Declare the proxy but do not start it.")
def _disabled(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.px.disabled = True


@keyword("enabled", "dfbl", "", "Start the proxy (the default; undoes an inherited 'disabled').")
def _enabled(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 0, 0, ""):
        ctx.px.disabled = False


@keyword("description", "dfbl", "<text>", "Free text shown on the stats page.")
def _description(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, None, "some text"):
        ctx.px.description = " ".join(args)


def _timeout(field: str, sections: str, doc: str) -> None:
    name = field.replace("_", "-")

    def handler(ctx: Ctx, args: Args) -> None:
        if not ctx.expect(args, 1, 1, "a time value such as 5s or 5000ms"):
            return
        try:
            setattr(ctx.px.timeouts, field, parse_time(args[0]))
        except ValueError as e:
            ctx.error(str(e))

    keyword(f"timeout {name}", sections, "<time>", doc)(handler)


_timeout("client", "dfl", "Longest client inactivity while data is expected.")
_timeout("server", "dbl", "Longest server inactivity while data is expected (504 in HTTP).")
_timeout("connect", "dbl", "Longest wait for a server connection to be established.")
_timeout(
    "http_request",
    "dfbl",
    "Longest time to receive a whole request head (408 after it; the slowloris guard).",
)
_timeout("http_keep_alive", "dfbl", "Longest wait for the next request on a kept-alive client.")
_timeout("tarpit", "dfbl", "How long 'http-request tarpit' holds a request (default: connect).")
_timeout("queue", "dbl", "Longest time a request waits in a server queue (503 after it).")
_timeout(
    "client_fin",
    "dfl",
    "Longest client inactivity once weir has passed the server's end of stream on to it "
    "(a half-closed connection); overrides client and tunnel timeouts there.",
)
_timeout(
    "server_fin",
    "dbl",
    "Longest server inactivity once weir has passed the client's end of stream on to it "
    "(a half-closed connection); overrides server and tunnel timeouts there.",
)
_timeout(
    "tunnel",
    "dbl",
    "Longest inactivity of a tunnel (WebSocket after its 101, or a tcp relay); overrides "
    "client and server timeouts there.",
)


@keyword("bind", "fl", "<address>[,<address>…] [options…]", "Listen on addresses and ports.")
def _bind(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, None, "an address such as ':80' or '127.0.0.1:8080'"):
        return
    try:
        addresses = parse_bind_addresses(args[0])
    except AddressError as e:
        ctx.error(str(e))
        return
    bind = Bind(ctx.where, addresses)
    apply_options(ctx, BIND_OPTIONS, bind, args[1:])
    ctx.px.binds.append(bind)


def apply_options(ctx: Ctx, table: object, target: object, args: Args) -> None:
    """Apply `bind`/`server` options from an option table, reporting each unknown one."""
    from weir.config import catalog
    from weir.config.registry import OptionTable

    assert isinstance(table, OptionTable)
    known = catalog.BIND_OPTIONS if table.what == "bind" else catalog.SERVER_OPTIONS
    i = 0
    while i < len(args):
        name = args[i]
        opt = table.options.get(name)
        if opt is None:
            if name in known:
                ctx.error(
                    f"'{name}' is a HAProxy {table.what} option that weir does not support yet"
                )
                i += 1 + known[name]
                continue
            hint = catalog.suggestions(name, [*table.options, *known])
            more = f"; did you mean '{hint[0]}'?" if hint else ""
            ctx.error(f"unknown {table.what} option '{name}'{more}")
            return
        values = args[i + 1 : i + 1 + opt.nargs]
        if len(values) < opt.nargs:
            ctx.error(f"'{name}' expects {opt.usage}")
            return
        opt.handler(ctx, target, values)
        i += 1 + opt.nargs


@BIND_OPTIONS.option("name", 1, "<name>", "A name for this listener in logs and stats.")
def _bind_name(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    target.name = args[0]


@BIND_OPTIONS.option("maxconn", 1, "<number>", "Most concurrent connections on this listener.")
def _bind_maxconn(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    try:
        target.maxconn = parse_int(args[0], what="maxconn")
    except ValueError as e:
        ctx.error(str(e))


@BIND_OPTIONS.option("backlog", 1, "<number>", "Length of the kernel's accept queue.")
def _bind_backlog(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    try:
        target.backlog = parse_int(args[0], low=1, what="backlog")
    except ValueError as e:
        ctx.error(str(e))


@BIND_OPTIONS.option("v4v6", 0, "", "Accept IPv4 too on an IPv6 wildcard address.")
def _bind_v4v6(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    target.v4v6 = True


@BIND_OPTIONS.option("v6only", 0, "", "Accept only IPv6 on an IPv6 wildcard address.")
def _bind_v6only(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    target.v6only = True


# ---- ACLs and content switching -----------------------------------------------------------


@keyword(
    "acl",
    "dfbl",
    "<name> <criterion> [flags] [operator] <value>…",
    "Name a condition on the request for use in 'if'/'unless'.",
)
def _acl(ctx: Ctx, args: Args) -> None:
    if not named_defaults_only(ctx, "acl"):
        return
    if not ctx.expect(args, 2, None, "a name and a criterion"):
        return
    from weir.sample.acl import check_acl_words

    problem = check_acl_words(list(args[1:]))
    if problem is not None:
        ctx.error(f"ACL '{args[0]}' : {problem}")
        return
    ctx.px.acls.append(AclDef(ctx.where, args[0], list(args[1:])))


def parse_cond(ctx: Ctx, args: Args) -> tuple[bool, CondDef | None]:
    """`if|unless COND…` at the end of a rule: (True, CondDef), (True, None) when there is
    no condition, (False, None) after reporting an error."""
    if not args:
        return True, None
    if args[0] not in ("if", "unless"):
        ctx.error(f"expects 'if' or 'unless' followed by a condition, got '{args[0]}'")
        return False, None
    if len(args) < 2:
        ctx.error(f"missing condition after '{args[0]}'")
        return False, None
    return True, CondDef(ctx.where, args[0] == "unless", list(args[1:]))


@keyword(
    "use_backend",
    "fl",
    "<backend> [{if | unless} <condition>]",
    "Send the request to this backend when the condition holds.",
)
def _use_backend(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, None, "a backend name"):
        return
    ok, cond = parse_cond(ctx, args[1:])
    if not ok:
        return
    if "%" in args[0]:
        # A name made per request (`%[req.hdr(host),lower,map(hosts.map,default)]`).
        from weir.http.values import RuleValueError, compile_value
        from weir.sample.core import REQ

        try:
            compile_value(args[0], REQ)
        except RuleValueError as e:
            ctx.error(str(e))
            return
    ctx.px.switch_rules.append(SwitchRule(ctx.where, args[0], cond))


@keyword("default_backend", "dfl", "<backend>", "The backend for requests no rule switched.")
def _default_backend(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a backend name"):
        ctx.px.default_backend = args[0]
        ctx.px.default_backend_where = ctx.where


flag_option(
    "tcpka",
    "dfbl",
    "tcpka",
    "Send TCP keep-alive probes on client and server connections.",
)


flag_option(
    "clitcpka",
    "dfl",
    "clitcpka",
    "Send TCP keep-alive probes on client connections.",
)


flag_option(
    "srvtcpka",
    "dbl",
    "srvtcpka",
    "Send TCP keep-alive probes on server connections.",
)
