"""Server options of health checks, and the global keywords that tune them.

Server options (also valid on `default-server`): `check`, `no-check`, `inter`,
`fastinter`, `downinter`, `rise`, `fall`, `port`, `addr`, `check-send-proxy`; the agent
(`agent-check`, `no-agent-check`, `agent-port`, `agent-addr`, `agent-inter`,
`agent-send`); passive health (`observe`, `error-limit`, `on-error`, `on-marked-down`,
`on-marked-up`). Global: `spread-checks`, `max-spread-checks`.
"""

from __future__ import annotations

from weir.config.address import AddressError, Family, parse_address
from weir.config.model import CheckConf, Mode, ServerConf
from weir.config.parser import Ctx
from weir.config.registry import SERVER_OPTIONS, Args, keyword
from weir.config.units import parse_int, parse_time


def _check(target: object) -> CheckConf:
    assert isinstance(target, ServerConf)
    return target.check


def _flag(name: str, field: str, value: bool, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        setattr(_check(target), field, value)

    SERVER_OPTIONS.option(name, 0, "", doc)(handler)


_flag("check", "enabled", True, "Run health checks on this server.")
_flag("no-check", "enabled", False, "Do not check this server (undo an inherited 'check').")
_flag(
    "check-send-proxy",
    "send_proxy",
    True,
    "Health checks start with a PROXY protocol (v1) line.",
)
_flag("no-check-send-proxy", "send_proxy", False, "Undo an inherited 'check-send-proxy'.")
_flag(
    "agent-check",
    "agent",
    True,
    "Also ask an agent on 'agent-port' for this server's weight and state.",
)
_flag("no-agent-check", "agent", False, "Undo an inherited 'agent-check'.")


def _delay_option(name: str, field: str, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        try:
            value = parse_time(args[0])
        except ValueError as e:
            ctx.error(f"'{name}' : {e}")
            return
        if value <= 0:
            ctx.error(f"'{name}' : the delay must be greater than 0")
            return
        setattr(_check(target), field, value)

    SERVER_OPTIONS.option(name, 1, "<delay>", doc)(handler)


_delay_option("inter", "inter", "Delay between two health checks (default 2s).")
_delay_option(
    "fastinter",
    "fastinter",
    "Delay between checks while the server's state is changing (default: 'inter').",
)
_delay_option(
    "downinter", "downinter", "Delay between checks while the server is down (default: 'inter')."
)
_delay_option("agent-inter", "agent_inter", "Delay between two agent checks (default: 'inter').")


def _count_option(name: str, field: str, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        try:
            value = parse_int(args[0], low=1, what=f"'{name}'")
        except ValueError as e:
            ctx.error(str(e))
            return
        setattr(_check(target), field, value)

    SERVER_OPTIONS.option(name, 1, "<count>", doc)(handler)


_count_option("rise", "rise", "Consecutive passed checks that bring a down server up (default 2).")
_count_option("fall", "fall", "Consecutive failed checks that take an up server down (default 3).")
_count_option(
    "error-limit",
    "error_limit",
    "Consecutive errors seen in traffic ('observe') that trigger 'on-error' (default 10).",
)


def _port_option(name: str, field: str, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        try:
            setattr(_check(target), field, parse_int(args[0], low=1, high=65535, what=f"'{name}'"))
        except ValueError as e:
            ctx.error(str(e))

    SERVER_OPTIONS.option(name, 1, "<port>", doc)(handler)


_port_option(
    "port",
    "port",
    "Port health checks (and, without 'agent-port', agent checks) connect to (default: the "
    "port of 'addr', else the server's).",
)
_port_option("agent-port", "agent_port", "Port the agent check connects to (default: 'port').")


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
    check = _check(target)
    check.addr = address.host
    check.address = address


@SERVER_OPTIONS.option(
    "agent-addr", 1, "<address>", "Address the agent check connects to (default: 'addr')."
)
def _agent_addr(ctx: Ctx, target: object, args: Args) -> None:
    try:
        address = parse_address(args[0], for_bind=False, port_optional=True)
    except AddressError as e:
        ctx.error(f"'agent-addr' : {e}")
        return
    if address.family not in (Family.IPV4, Family.IPV6) or address.port_low:
        ctx.error(
            f"parsing agent-addr failed. Check if '{args[0]}' is a correct address "
            "(an IP address, without a port)"
        )
        return
    _check(target).agent_address = address


@SERVER_OPTIONS.option(
    "agent-send",
    1,
    "<string>",
    'What the agent check sends once connected (e.g. "ping\\n"); default: nothing.',
)
def _agent_send(ctx: Ctx, target: object, args: Args) -> None:
    if not args[0]:
        ctx.error("'agent-send' expects a string as argument")
        return
    _check(target).agent_send = args[0]


@SERVER_OPTIONS.option(
    "observe",
    1,
    "none|layer4|layer7",
    "Let traffic count as checks: connection failures (layer4) or also HTTP errors and "
    "5xx responses (layer7, mode http only).",
)
def _observe(ctx: Ctx, target: object, args: Args) -> None:
    mode = args[0]
    if mode not in ("none", "layer4", "layer7"):
        ctx.error(f"'observe' expects one of 'none', 'layer4', 'layer7' but got '{mode}'")
        return
    if mode == "layer7" and ctx.px.mode is not Mode.HTTP:
        ctx.error("'layer7' can only be used in http proxies")
        return
    _check(target).observe = "" if mode == "none" else mode


def _choice_option(name: str, field: str, choices: tuple[str, ...], doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        if args[0] not in choices:
            quoted = ", ".join(f"'{c}'" for c in choices[:-1])
            last = f"'{choices[-1]}'"
            expected = f"one of {quoted} or {last}" if quoted else last
            ctx.error(f"'{name}' expects {expected} but got '{args[0]}'")
            return
        setattr(_check(target), field, args[0])

    SERVER_OPTIONS.option(name, 1, "|".join(choices), doc)(handler)


_choice_option(
    "on-error",
    "on_error",
    ("fastinter", "fail-check", "sudden-death", "mark-down"),
    "What 'error-limit' errors in a row do (default fail-check: count as a failed check).",
)
_choice_option(
    "on-marked-down",
    "on_marked_down",
    ("shutdown-sessions",),
    "Close every connection to the server when it goes down.",
)
_choice_option(
    "on-marked-up",
    "on_marked_up",
    ("shutdown-backup-sessions",),
    "When this (non-backup) server comes up, close every connection to the backup servers.",
)


# ---- global ------------------------------------------------------------------------------


@keyword(
    "spread-checks",
    "g",
    "<0..50, in percent>",
    "Randomly move each check by up to this share of its interval, either way (default 0).",
)
def _spread_checks(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a percentage from 0 to 50"):
        return
    try:
        ctx.cfg.global_.spread_checks = parse_int(args[0], low=0, high=50, what="'spread-checks'")
    except ValueError as e:
        ctx.error(str(e))


@keyword(
    "max-spread-checks",
    "g",
    "<delay>",
    "Longest time over which the first checks are spread at start-up.",
)
def _max_spread_checks(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a time value such as 5s"):
        return
    try:
        ctx.cfg.global_.max_spread_checks = parse_time(args[0])
    except ValueError as e:
        ctx.error(str(e))
