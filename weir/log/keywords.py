"""Logging keywords: `log`, `log-tag`, `log-send-hostname`, and the log format options.

HAProxy 2.6's grammar for a target, in this order and no other:

    log <target> [len <n>] [format <fmt>] [sample <ranges>:<size>] <facility> [<max> [<min>]]

Targets: an IPv4/IPv6 address with an optional UDP port (514 by default), `udp@`,
`udp4@`, `udp6@`, `ipv4@`, `ipv6@` prefixes, a UNIX datagram socket (`/dev/log`,
`unix@/path`, `uxdg@/path`), `stdout`, `stderr` or `fd@<n>`. Ring buffers and stream
(`tcp@`) targets are HAProxy's but not weir's yet. A proxy may list any number of targets
(HAProxy 2.6 has no limit); `log global` appends the global ones, `no log` forgets all,
including inherited ones.
"""

from __future__ import annotations

import difflib
import os

from weir.config.address import Address, AddressError, Family, parse_address
from weir.config.model import LogTarget, Proxy
from weir.config.parser import Ctx
from weir.config.registry import Args, Section, keyword
from weir.log.syslog import FACILITIES, FORMAT_NAMES, LEVELS, facility_code, level_code

SYSLOG_PORT = 514
_TARGET_USAGE = (
    "<target> [len <length>] [format <format>] [sample <ranges>:<size>] <facility> "
    "[<max level> [<min level>]]"
)
_UNSUPPORTED = {
    "ring": "ring buffers ('ring@')",
    "tcp": "stream log targets ('tcp@')",
    "tcp4": "stream log targets ('tcp4@')",
    "tcp6": "stream log targets ('tcp6@')",
    "uxst": "stream log targets ('uxst@')",
    "abns": "abstract UNIX sockets ('abns@')",
    "sockpair": "socket pairs ('sockpair@')",
}
_PREFIXES = {"udp": "", "udp4": "ipv4@", "udp6": "ipv6@", "ipv4": "ipv4@", "ipv6": "ipv6@"}


def parse_target(text: str) -> tuple[Address | None, int]:
    """A log target → (address, fd). File-descriptor targets give (None, fd); others give
    an IPv4/IPv6 address with its port (514 if none was written) or a UNIX socket path."""
    if text == "stdout":
        return None, 1
    if text == "stderr":
        return None, 2
    prefix, at, rest = text.partition("@")
    if at and "/" not in prefix and "[" not in prefix:
        if prefix in _UNSUPPORTED:
            raise AddressError(
                f"{_UNSUPPORTED[prefix]} are HAProxy's but weir does not support them yet: '{text}'"
            )
        if prefix == "fd":
            try:
                fd = int(rest, 10)
            except ValueError:
                raise AddressError(
                    f"'fd@' expects a file descriptor number, got '{rest}'"
                ) from None
            if fd < 0:
                raise AddressError(f"invalid file descriptor '{rest}' in '{text}'")
            return None, fd
        if prefix in ("unix", "uxdg"):
            if not rest:
                raise AddressError(f"missing path in '{text}'")
            return Address(Family.UNIX, rest), -1
        if prefix not in _PREFIXES:
            raise AddressError(f"unknown address family '{prefix}@' in '{text}'")
        text = _PREFIXES[prefix] + rest
    addr = parse_address(text, for_bind=False, resolve=True, port_optional=True)
    if addr.family in (Family.IPV4, Family.IPV6) and addr.port_low == 0:
        addr = Address(addr.family, addr.host, SYSLOG_PORT, SYSLOG_PORT)
    if addr.family is Family.FD:
        return None, addr.fd
    return addr, -1


def parse_sample(text: str) -> tuple[tuple[tuple[int, int], ...], int]:
    """`1-3,7:10` → (((1, 3), (7, 7)), 10). Positions count from 1; ranges may not overlap;
    the size must cover the highest position."""
    ranges_text, colon, size_text = text.partition(":")
    if not colon:
        raise ValueError(f"'sample' expects <ranges>:<size>, the size is missing in '{text}'")
    ranges: list[tuple[int, int]] = []
    for part in ranges_text.split(","):
        low_s, dash, high_s = part.partition("-")
        try:
            low = int(low_s, 10)
            high = int(high_s, 10) if dash else low
        except ValueError:
            raise ValueError(f"invalid sample range '{part}' in '{text}'") from None
        if low < 1 or high < low or (dash and high == low):
            raise ValueError(
                f"invalid sample range '{part}' in '{text}' (positions count "
                "from 1, and a range goes upwards)"
            )
        if any(low <= h and l0 <= high for l0, h in ranges):
            raise ValueError(f"sample ranges overlap in '{text}'")
        ranges.append((low, high))
    try:
        size = int(size_text, 10)
    except ValueError:
        raise ValueError(f"invalid sample size '{size_text}' in '{text}'") from None
    top = max(h for _, h in ranges)
    if size < 1 or size < top:
        raise ValueError(
            f"sample size {size_text} must be at least {top}, the highest "
            f"position of the ranges, in '{text}'"
        )
    return tuple(sorted(ranges)), size


def _hint(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def parse_log_line(ctx: Ctx, args: Args) -> LogTarget | None:
    """`<target> [len …] [format …] [sample …] <facility> [<max> [<min>]]` → a LogTarget,
    or None after reporting the problem."""
    if len(args) < 2:
        ctx.error(f"expects {_TARGET_USAGE}")
        return None
    i = 1
    length = 1024
    fmt = ""
    ranges: tuple[tuple[int, int], ...] = ()
    size = 0
    if args[i] == "len":
        value = args[i + 1] if i + 1 < len(args) else ""
        try:
            length = int(value, 10)
        except ValueError:
            length = -1
        if not 80 <= length <= 65535:
            ctx.error(f"invalid log length '{value}': it must be between 80 and 65535")
            return None
        i += 2
    if i < len(args) and args[i] == "format":
        value = args[i + 1] if i + 1 < len(args) else ""
        if value not in FORMAT_NAMES:
            ctx.error(
                f"unknown log format '{value}' (expects one of {', '.join(FORMAT_NAMES)})"
                f"{_hint(value, FORMAT_NAMES)}"
            )
            return None
        fmt = value
        i += 2
    if i < len(args) and args[i] == "sample":
        try:
            ranges, size = parse_sample(args[i + 1] if i + 1 < len(args) else "")
        except ValueError as e:
            ctx.error(str(e))
            return None
        i += 2
    if i >= len(args):
        ctx.error(f"expects a facility after the target ({_TARGET_USAGE})")
        return None
    facility = facility_code(args[i])
    if facility is None:
        word = args[i]
        if word in ("len", "format", "sample"):
            ctx.error(f"'{word}' is misplaced: the order is {_TARGET_USAGE}")
        else:
            ctx.error(f"unknown log facility '{word}'{_hint(word, FACILITIES)}")
        return None
    i += 1
    max_level, min_level = 7, 0
    if i < len(args):
        lv = level_code(args[i])
        if lv is None:
            ctx.error(
                f"unknown log level '{args[i]}' (expects one of {', '.join(LEVELS)})"
                f"{_hint(args[i], LEVELS)}"
            )
            return None
        max_level = lv
        i += 1
    if i < len(args):
        lv = level_code(args[i])
        if lv is None:
            ctx.error(
                f"unknown minimum log level '{args[i]}' (expects one of "
                f"{', '.join(LEVELS)}){_hint(args[i], LEVELS)}"
            )
            return None
        min_level = lv
        i += 1
    if i < len(args):
        ctx.error(f"unexpected argument '{args[i]}' after the levels")
        return None
    try:
        address, fd = parse_target(args[0])
    except AddressError as e:
        ctx.error(str(e))
        return None
    return LogTarget(
        ctx.where, address, fd, facility, max_level, min_level, length, fmt, ranges, size
    )


# ---- global section ------------------------------------------------------------------------


@keyword(
    "log",
    "g",
    _TARGET_USAGE,
    "Send the process's logs, and those of proxies saying 'log global', to a syslog "
    "server, a UNIX socket or stdout/stderr ('no log' forgets the previous ones).",
    negatable=True,
)
def _log_global(ctx: Ctx, args: Args) -> None:
    g = ctx.cfg.global_
    if ctx.negated:
        if args:
            ctx.error("'no log' takes no argument")
            return
        g.logs.clear()
        return
    if list(args) == ["global"]:
        ctx.error("'log global' belongs in a proxy section: it refers to this section's logs")
        return
    target = parse_log_line(ctx, args)
    if target is not None:
        g.logs.append(target)


@keyword("log-tag", "g", "<tag>", "The tag (program name) in the syslog header (default: weir).")
def _log_tag_global(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a tag"):
        if not args[0]:
            ctx.error("expects a non-empty tag")
            return
        ctx.cfg.global_.log_tag = args[0]


@keyword(
    "log-send-hostname",
    "g",
    "[<name>]",
    "Put a host name in the syslog header: this one, or the system's host name.",
)
def _log_send_hostname(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 0, 1, "at most one host name"):
        return
    g = ctx.cfg.global_
    if g.log_send_hostname is not None:
        ctx.error("is already set; this line is ignored")
        return
    g.log_send_hostname = args[0] if args else os.uname().nodename


# ---- proxy sections ----------------------------------------------------------------------


@keyword(
    "log",
    "dfbl",
    "global | " + _TARGET_USAGE,
    "Where this proxy's logs go: 'log global' for the global targets, or a target of its "
    "own; 'no log' forgets every target, inherited ones included.",
    negatable=True,
)
def _log_proxy(ctx: Ctx, args: Args) -> None:
    px = ctx.px
    if ctx.negated:
        if args:
            ctx.error("'no log' takes no argument")
            return
        px.logs.clear()
        px.log_global = False
        return
    if args and args[0] == "global":
        if len(args) > 1:
            ctx.error("'log global' takes no other argument")
            return
        for t in ctx.cfg.global_.logs:
            if t not in px.logs:
                px.logs.append(t)
        px.log_global = True
        return
    target = parse_log_line(ctx, args)
    if target is not None:
        px.logs.append(target)


@keyword(
    "log-tag",
    "dfbl",
    "<tag>",
    "The tag in the syslog header of this proxy's logs (default: the global one).",
)
def _log_tag_proxy(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a tag"):
        if not args[0]:
            ctx.error("expects a non-empty tag")
            return
        ctx.px.log_tag = args[0]


def _is_pure_backend(ctx: Ctx) -> bool:
    return ctx.section is Section.BACKEND


def current_format(px: Proxy) -> str | None:
    """The name of the format a proxy has so far (for messages), or None."""
    if px.log_format is not None:
        return "log-format"
    if px.httplog:
        what = "option httplog" + (" clf" if px.httplog_clf else "")
        return what + (" json" if px.log_json else "")
    if px.tcplog:
        return "option tcplog" + (" json" if px.log_json else "")
    return None


def overriding(ctx: Ctx) -> None:
    """HAProxy warns when a defaults section sets a second log format."""
    previous = current_format(ctx.px)
    if ctx.section is Section.DEFAULTS and previous is not None:
        ctx.warn(f"overrides '{previous}' set earlier in this defaults section")


def _set_format(ctx: Ctx, name: str, *, httplog: bool, clf: bool, json: bool = False) -> None:
    px = ctx.px
    overriding(ctx)
    px.httplog, px.tcplog, px.httplog_clf, px.log_json = httplog, not httplog, clf, json
    px.log_format = None
    px.logformat_where = ctx.where
    if _is_pure_backend(ctx):
        ctx.warn(f"is ignored in backend '{px.name}': '{name}' applies to frontends")


@keyword(
    "option httplog",
    "dfbl",
    "[clf | json]",
    "Log each HTTP request in HAProxy's HTTP format when it ends (the Common Log Format "
    "with 'clf'; with 'json', weir's own: one JSON object of the same fields).",
)
def _httplog(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 0, 1, "nothing, 'clf' or 'json'"):
        return
    if args and args[0] not in ("clf", "json"):
        ctx.error(f"only accepts 'clf' or 'json', not '{args[0]}'")
        return
    word = args[0] if args else ""
    _set_format(
        ctx, f"option httplog {word}".strip(), httplog=True, clf=word == "clf", json=word == "json"
    )


@keyword(
    "option tcplog",
    "dfbl",
    "[json]",
    "Log each connection in HAProxy's TCP format (timers, bytes, state) when it ends "
    "(with 'json', weir's own: one JSON object of the same fields).",
)
def _tcplog(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 0, 1, "nothing or 'json'"):
        return
    if args and args[0] != "json":
        ctx.error(f"only accepts 'json', not '{args[0]}'")
        return
    _set_format(
        ctx, f"option tcplog {''.join(args)}".strip(), httplog=False, clf=False, json=bool(args)
    )


def _frontend_flag(name: str, field: str, doc: str) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        if not ctx.expect(args, 0, 0, ""):
            return
        if _is_pure_backend(ctx):
            ctx.warn(f"is ignored in backend '{ctx.px.name}': it applies to frontends")
            return
        setattr(ctx.px, field, not ctx.negated)

    keyword(f"option {name}", "dfbl", "", doc, negatable=True)(handler)


_frontend_flag(
    "dontlognull",
    "dontlognull",
    "Do not log connections on which the client sent nothing (probes, scans).",
)
_frontend_flag(
    "dontlog-normal",
    "dontlog_normal",
    "Log only streams that ended in error, were retried, or got a 5xx.",
)
_frontend_flag(
    "log-separate-errors",
    "log_separate_errors",
    "Log streams that ended in error, were retried, or got a 5xx at level 'err' instead of 'info'.",
)

# The log-format, capture and unique-id keywords live next door.
import weir.log.format_keywords  # noqa: E402, F401
