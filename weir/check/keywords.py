"""Health-check keywords: `option httpchk`, `http-check expect`, `timeout check`, and the
server options `check`, `no-check`, `inter`, `fastinter`, `downinter`, `rise`, `fall`,
`port`, `addr`.

Check rules belong to the section that declares `option httpchk`, as in HAProxy 2.6: a
section repeating `option httpchk` starts afresh (inherited `http-check expect` rules are
dropped, its own are kept); a section with neither inherits both from its defaults.
Two orders HAProxy accepts are refused here because they would not do what they say:
`http-check expect` before `option httpchk` in the same section (weir does not reorder
rules), and `http-check expect` in a section that only inherits `option httpchk` (HAProxy
then sends no request at all and every check times out).
"""

from __future__ import annotations

from weir.check.httpchk import parse_expect, parse_httpchk
from weir.config.address import AddressError, Family, parse_address
from weir.config.diagnostics import Where
from weir.config.model import ServerConf
from weir.config.parser import Ctx
from weir.config.registry import SERVER_OPTIONS, Args, keyword
from weir.config.units import parse_int, parse_time


def _own(ctx: Ctx, where: Where | None) -> bool:
    """Whether a line recorded at `where` belongs to the section being parsed (sections
    never span files, and a section's defaults always come before it)."""
    px = ctx.px
    return where is not None and where.file == px.where.file and where.line >= px.where.line


@keyword(
    "option httpchk",
    "dbl",
    "[<method>] [<uri>] [<version>]",
    "Check servers with an HTTP request (default 'OPTIONS / HTTP/1.0'); 2xx and 3xx pass.",
)
def _option_httpchk(ctx: Ctx, args: Args) -> None:
    try:
        conf, warnings = parse_httpchk(list(args))
    except ValueError as e:
        ctx.error(str(e))
        return
    for w in warnings:
        ctx.warn(w)
    old = ctx.px.httpchk
    if old is not None and _own(ctx, old.where):
        conf.expects = old.expects
    conf.where = ctx.where
    ctx.px.httpchk = conf


@keyword(
    "http-check expect",
    "dbl",
    "[!] status <codes> | rstatus <regex> | string <text> | rstring <regex>",
    "What an HTTP check must find in the response (rules are checked in order).",
)
def _http_check_expect(ctx: Ctx, args: Args) -> None:
    conf = ctx.px.httpchk
    if conf is None:
        ctx.error("needs 'option httpchk' before it in this section (or in its defaults)")
        return
    if not _own(ctx, conf.where):
        ctx.error(
            f"'option httpchk' is inherited here (from {conf.where}): repeat it in this "
            "section before its 'http-check' rules (HAProxy would send no request at all)"
        )
        return
    try:
        rule = parse_expect(list(args))
    except ValueError as e:
        ctx.error(str(e))
        return
    conf.expects.append(rule)


@keyword(
    "timeout check",
    "dbl",
    "<time>",
    "Longest wait for a check's response once connected; the connection then gets "
    "min('timeout connect', 'inter'). Unset: 'inter' bounds the whole check.",
)
def _timeout_check(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a time value such as 5s or 5000ms"):
        return
    try:
        ctx.px.timeouts.check = parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))


# ---- server options ---------------------------------------------------------------------


def _srv(target: object) -> ServerConf:
    assert isinstance(target, ServerConf)
    return target


@SERVER_OPTIONS.option("check", 0, "", "Run health checks on this server.")
def _check(ctx: Ctx, target: object, args: Args) -> None:
    _srv(target).check.enabled = True


@SERVER_OPTIONS.option("no-check", 0, "", "Do not check this server (undo an inherited 'check').")
def _no_check(ctx: Ctx, target: object, args: Args) -> None:
    _srv(target).check.enabled = False


def _delay_option(name: str, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        try:
            value = parse_time(args[0])
        except ValueError as e:
            ctx.error(f"'{name}' : {e}")
            return
        if value <= 0:
            ctx.error(f"'{name}' : the delay must be greater than 0")
            return
        setattr(_srv(target).check, name, value)

    SERVER_OPTIONS.option(name, 1, "<delay>", doc)(handler)


_delay_option("inter", "Delay between two health checks (default 2s).")
_delay_option(
    "fastinter", "Delay between checks while the server's state is changing (default: 'inter')."
)
_delay_option("downinter", "Delay between checks while the server is down (default: 'inter').")


def _count_option(name: str, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        try:
            value = parse_int(args[0], low=1, what=f"'{name}'")
        except ValueError as e:
            ctx.error(str(e))
            return
        setattr(_srv(target).check, name, value)

    SERVER_OPTIONS.option(name, 1, "<count>", doc)(handler)


_count_option("rise", "Consecutive passed checks that bring a down server up (default 2).")
_count_option("fall", "Consecutive failed checks that take an up server down (default 3).")


@SERVER_OPTIONS.option(
    "port",
    1,
    "<port>",
    "Port health checks connect to (default: the port of 'addr', else the server's).",
)
def _port(ctx: Ctx, target: object, args: Args) -> None:
    try:
        _srv(target).check.port = parse_int(args[0], low=1, high=65535, what="'port'")
    except ValueError as e:
        ctx.error(str(e))


@SERVER_OPTIONS.option(
    "addr", 1, "<address>[:<port>]", "Address health checks connect to (default: the server's)."
)
def _addr(ctx: Ctx, target: object, args: Args) -> None:
    try:
        address = parse_address(args[0], for_bind=False, port_optional=True)
    except AddressError as e:
        ctx.error(f"'addr' : {e}")
        return
    if address.family is Family.FD:
        ctx.error(f"'addr' : '{args[0]}' is not an address a check can connect to")
        return
    check = _srv(target).check
    check.addr = address.host
    check.address = address
