"""Read-only commands: `show info`, `show stat`, `show servers state`, `show backend`,
`show sess`, `show errors`, `show cli level`, `show version`; and the session commands
(`help`, `prompt`, `quit`, `operator`, `user`)."""

from __future__ import annotations

import time

from weir.api.commands import PERMISSION_DENIED, Request, command, usage_message
from weir.api.conf import Level
from weir.backend.server import SrvState
from weir.stats.csv import render_csv
from weir.stats.fields import Filter, ProxyStats, collect
from weir.stats.info import VERSION, info_values
from weir.stats.typed import (
    render_info,
    render_info_json,
    render_info_typed,
    render_json,
    render_typed,
)

# -- the session ---------------------------------------------------------------------------


@command("help", "help [<command>]", "list matching or all commands", Level.USER)
def _help(req: Request, args: list[str]) -> str:
    return usage_message(args[1:], is_help=True)


@command("prompt", "prompt", "toggle interactive mode with prompt", Level.USER)
def _prompt(req: Request, args: list[str]) -> str:
    req.session.prompt = not req.session.prompt
    return ""


@command("quit", "quit", "disconnect", Level.USER)
def _quit(req: Request, args: list[str]) -> str:
    req.session.quit = True
    return ""


@command(
    "operator",
    "operator",
    "lower the level of the current CLI session to operator",
    Level.USER,
)
def _operator(req: Request, args: list[str]) -> str:
    if req.session.level < Level.OPERATOR:
        return PERMISSION_DENIED
    req.session.level = Level.OPERATOR
    return ""


@command("user", "user", "lower the level of the current CLI session to user", Level.USER)
def _user(req: Request, args: list[str]) -> str:
    req.session.level = Level.USER
    return ""


@command(
    "show cli level", "show cli level", "display the level of the current CLI session", Level.USER
)
def _show_level(req: Request, args: list[str]) -> str:
    return req.session.level.word + "\n"


@command("show version", "show version", "show version of the current process", Level.USER)
def _show_version(req: Request, args: list[str]) -> str:
    return VERSION + "\n"


# -- show info -------------------------------------------------------------------------------


@command(
    "show info",
    "show info [desc|json|typed|float]*",
    "report information about the running process",
    Level.USER,
)
def _show_info(req: Request, args: list[str]) -> str:
    words = set(args[2:])
    api = req.api
    values = info_values(
        api.rt, api.clock(), hard_maxconn=api.hard_maxconn, listeners=api.listeners
    )
    desc = "desc" in words
    fmt = _last_format(args[2:])
    if fmt == "json":
        return render_info_json(values)
    if fmt == "typed":
        return render_info_typed(values, desc=desc)
    return render_info(values, desc=desc)


def _last_format(words: list[str]) -> str:
    fmt = ""
    for w in words:
        if w in ("typed", "json"):
            fmt = w
    return fmt


# -- show stat -------------------------------------------------------------------------------


@command(
    "show stat",
    "show stat [desc|json|no-maint|typed|up]*",
    "report counters for each proxy and server",
    Level.USER,
)
def _show_stat(req: Request, args: list[str]) -> str:
    words = args[2:]
    if words[:1] == ["domain"]:
        if words[1:2] == ["proxy"]:
            words = words[2:]
        elif words[1:2] == ["resolvers"]:
            return "weir reports resolver statistics with 'show resolvers' only.\n"
        else:
            return "Invalid statistics domain.\n"
    bound: tuple[int, int, int] | None = None
    if len(words) >= 3 and words[0] not in _OPTIONS:
        iid = req.api.iid(words[0]) or _atoi(words[0])
        if not iid:
            return "No such proxy.\n"
        bound = (iid, _atoi(words[1]), _atoi(words[2]))
        words = words[3:]
    flt = Filter(hide_down="up" in words, hide_maint="no-maint" in words)
    api = req.api
    proxies = collect(
        api.rt,
        api.clock(),
        flt,
        legends=req.allowed(Level.OPERATOR),
        paused=api.control.paused,
    )
    if bound is not None:
        proxies = _bound(proxies, *bound)
    fmt = _last_format(words)
    if fmt == "json":
        return render_json(proxies)
    if fmt == "typed":
        return render_typed(proxies, desc="desc" in words)
    return render_csv(proxies)


_OPTIONS = frozenset({"desc", "json", "no-maint", "typed", "up"})


def _atoi(text: str) -> int:
    """C's atoi: the leading integer, 0 without one."""
    sign, digits = 1, ""
    t = text.lstrip()
    if t[:1] in ("+", "-"):
        sign, t = (-1 if t[0] == "-" else 1), t[1:]
    for ch in t:
        if not ch.isdigit():
            break
        digits += ch
    return sign * int(digits) if digits else 0


def _bound(proxies: list[ProxyStats], iid: int, kinds: int, sid: int) -> list[ProxyStats]:
    """`show stat <iid> <type> <sid>`: -1 means any; type is a mask (1 frontends,
    2 backends, 4 servers)."""
    out = []
    for ps in proxies:
        if iid not in (-1, ps.iid):
            continue
        kept = ProxyStats(ps.name, ps.iid, ps.mode, ps.cap, ps.description)
        if kinds & 1:
            kept.frontend = ps.frontend
        if kinds & 2:
            kept.backend = ps.backend
        if kinds & 4:
            kept.servers = [r for r in ps.servers if sid == -1 or r.get("sid") == sid]
        out.append(kept)
    return out


# -- show servers state ---------------------------------------------------------------------

_STATE_HEADER = (
    "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port\n"
)
# HAProxy's numbering of check statuses (its enum), for `srv_check_status`.
CHECK_STATUS_CODES = {
    "UNK": 0,
    "INI": 1,
    "HANA": 4,
    "SOCKERR": 5,
    "L4OK": 6,
    "L4TOUT": 7,
    "L4CON": 8,
    "L6OK": 9,
    "L6TOUT": 10,
    "L6RSP": 11,
    "L7TOUT": 12,
    "L7RSP": 13,
    "L7OK": 15,
    "L7OKC": 16,
    "L7STS": 17,
    "PROCERR": 18,
    "PROCTOUT": 19,
    "PROCOK": 20,
}
_PASSED = frozenset({"L4OK", "L6OK", "L7OK", "L7OKC", "PROCOK"})


@command(
    "show servers state",
    "show servers state [<backend>]",
    "dump volatile server information (all or for a single backend)",
    Level.USER,
)
def _show_servers_state(req: Request, args: list[str]) -> str:
    api = req.api
    backends = list(api.rt.backends.values())
    if len(args) > 3:
        name = args[3]
        be = api.backend(name) or (api.backend("#" + name) if name.isdigit() else None)
        if be is None:
            return "Can't find backend.\n"
        backends = [be]
    clock = api.clock()
    out = [_STATE_HEADER]
    for be in backends:
        be_id = api.iid(be.name)
        for srv, conf in zip(be.servers, be.conf.servers, strict=False):
            state = srv.state
            op = 2 if state in (SrvState.UP, SrvState.DRAIN) else 0
            admin = 0
            if state is SrvState.MAINT:
                admin = 0x20 if srv.rmaint else 0x01 | (0x04 if conf.disabled else 0)
            elif state is SrvState.DRAIN:
                admin = 0x08
            status = srv.check_status
            code = CHECK_STATUS_CODES.get(status or "INI", 0)
            result = 0 if status in (None, "INI") else (3 if status in _PASSED else 2)
            chk = conf.check
            health = getattr(srv, "check_health", None)
            if health is None:
                health = 0 if state in (SrvState.MAINT, SrvState.DOWN) else chk.rise
            check_state = (0x02 if chk.enabled else 0) | (0x04 if status is not None else 0)
            if state is SrvState.MAINT and (conf.disabled or status is not None):
                check_state |= 0x08
            check_addr = chk.addr or "-"
            fqdn = (conf.address.fqdn if conf.address is not None else "") or "-"
            out.append(
                f"{be_id} {be.name} {srv.puid} {srv.name} {srv.host or '-'} {op} {admin} "
                f"{srv.uweight} {conf.weight} {clock.age(srv.last_change)} {code} {result} "
                f"{health} {check_state} 0 0 0 {fqdn} {srv.port} - 0 {chk.port} {check_addr} - 0\n"
            )
    return "".join(out)


# -- show backend, sess, errors ------------------------------------------------------------


@command("show backend", "show backend", "list backends in the current running config", Level.USER)
def _show_backend(req: Request, args: list[str]) -> str:
    return "# name\n" + "".join(f"{name}\n" for name in req.api.rt.backends)


@command(
    "show sess",
    "show sess [id]",
    "report the list of current sessions or dump this exact session",
    Level.OPERATOR,
)
def _show_sess(req: Request, args: list[str]) -> str:
    now = time.monotonic()
    out = [
        f"0x{id(s):x}: proto={'unix_stream' if s.origin.startswith('unix') else 'tcpv4'} "
        f"src={s.origin} fe=GLOBAL be=<NONE> srv=<none> ts=00 epoch=0 "
        f"age={int(now - s.started)}s calls={s.calls} rate=0 cpu=0 lat=0\n"
        for s in req.api.sessions
    ]
    # Traffic sessions are not listed one by one yet: a count per frontend instead.
    out.extend(
        f"# {fe.counters.cur_sess} session(s) on frontend {fe.name}: weir does not "
        "list traffic sessions one by one yet\n"
        for fe in req.api.rt.frontends
        if fe.counters.cur_sess
    )
    return "".join(out)


@command(
    "show errors",
    "show errors [<px>] [request|response]",
    "report last request and/or response errors for each proxy",
    Level.OPERATOR,
)
def _show_errors(req: Request, args: list[str]) -> str:
    # weir does not keep copies of invalid messages yet: the capture list is always empty.
    now = time.time()
    stamp = time.strftime("%d/%b/%Y:%H:%M:%S", time.localtime(now))
    return f"Total events captured on [{stamp}.{int(now * 1000) % 1000:03d}] : 0\n"
