"""The stats fields: one ordered table, and the rows of values the runtime gives them.

`FIELDS` lists HAProxy 2.6's proxy statistics fields in their CSV order (management guide,
"9.1. CSV format"), names verbatim; tools that read HAProxy's CSV by position read weir's.
Each field says which kinds of row may carry a value (L listener, F frontend, B backend,
S server); a row leaves the others empty, exactly where HAProxy leaves them empty.

A row is a dict from field name to value (int, str, or None for empty). `collect()` walks
the runtime in configuration order and returns, per proxy, its FRONTEND row, one row per
server and its BACKEND row; the CSV and HTML renderers only format those.

What the runtime does not keep yet reads as zero. A few optional attributes are read when
present, named like the CSV fields they feed, so a concern that starts counting something
only has to add the attribute:
- on `Counters` and `Server`: `econ`, `eresp`, `dresp`, `wretr`, `wredis`, `lbtot`,
  `connect`, `reuse`, `cli_abrt`, `srv_abrt`, `qmax`, `hrsp` (6 ints indexed by
  status // 100, index 0 for other codes), `sess_rate` / `req_rate` / `conn_rate`
  (`weir.stats.rate.RateCounter`), `intercepted` on frontends, `bytes_in` / `bytes_out`
  and `req_tot` on servers;
- on `Server`, from health checks: `check_status` (e.g. "L7OK"), `check_code`,
  `check_duration_ms`, `check_desc`, `check_health`, `chkfail`, `chkdown`, `downtime`
  (seconds), `last_change` and `last_sess` (timestamps: `time.time()` or
  `time.monotonic()`, told apart by size);
- on `Backend`: `last_change`, `last_sess`, `chkdown`, `downtime`.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from weir.api.conf import first_proxy_id
from weir.backend.server import SrvState

if TYPE_CHECKING:
    from weir.backend.server import Server
    from weir.config.model import ServerConf
    from weir.proxy.runtime import Backend, Frontend, Runtime

Value = int | str | None
Row = dict[str, Value]


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    kinds: str  # of "LFBS": the rows that may carry a value
    doc: str


def _f(name: str, kinds: str, doc: str) -> Field:
    return Field(name, kinds.replace(".", ""), doc)


FIELDS: tuple[Field, ...] = (
    _f("pxname", "LFBS", "proxy name"),
    _f("svname", "LFBS", "FRONTEND, BACKEND, or the server or listener name"),
    _f("qcur", "..BS", "requests waiting in the queue now"),
    _f("qmax", "..BS", "highest qcur seen"),
    _f("scur", "LFBS", "sessions now"),
    _f("smax", "LFBS", "highest scur seen"),
    _f("slim", "LFBS", "session limit (maxconn; fullconn for a backend)"),
    _f("stot", "LFBS", "sessions since start"),
    _f("bin", "LFBS", "bytes received"),
    _f("bout", "LFBS", "bytes sent"),
    _f("dreq", "LFB.", "requests denied by rules"),
    _f("dresp", "LFBS", "responses denied by rules"),
    _f("ereq", "LF..", "request errors"),
    _f("econ", "..BS", "failed connection attempts to servers"),
    _f("eresp", "..BS", "response errors"),
    _f("wretr", "..BS", "connection retries"),
    _f("wredis", "..BS", "redispatches to another server"),
    _f("status", "LFBS", "OPEN/STOP, UP/DOWN, or a server's state"),
    _f("weight", "..BS", "effective weight (backend: of its usable servers)"),
    _f("act", "..BS", "server is active (backend: usable active servers)"),
    _f("bck", "..BS", "server is a backup (backend: usable backup servers)"),
    _f("chkfail", "...S", "failed health checks"),
    _f("chkdown", "..BS", "UP to DOWN transitions"),
    _f("lastchg", "..BS", "seconds since the last state change"),
    _f("downtime", "..BS", "seconds spent DOWN"),
    _f("qlimit", "...S", "queue limit (maxqueue)"),
    _f("pid", "LFBS", "relative process number"),
    _f("iid", "LFBS", "proxy id"),
    _f("sid", "LFBS", "server id (0 on frontend and backend rows)"),
    _f("throttle", "...S", "slowstart throttle percentage"),
    _f("lbtot", "..BS", "times selected by load balancing"),
    _f("tracked", "...S", "proxy/server whose state this server tracks"),
    _f("type", "LFBS", "0 frontend, 1 backend, 2 server, 3 listener"),
    _f("rate", ".FBS", "sessions over the last second"),
    _f("rate_lim", ".F..", "session rate limit"),
    _f("rate_max", ".FBS", "highest rate seen"),
    _f("check_status", "...S", "status of the last health check"),
    _f("check_code", "...S", "layer 5-7 code of the last health check"),
    _f("check_duration", "...S", "duration of the last health check, ms"),
    _f("hrsp_1xx", ".FBS", "HTTP responses 1xx"),
    _f("hrsp_2xx", ".FBS", "HTTP responses 2xx"),
    _f("hrsp_3xx", ".FBS", "HTTP responses 3xx"),
    _f("hrsp_4xx", ".FBS", "HTTP responses 4xx"),
    _f("hrsp_5xx", ".FBS", "HTTP responses 5xx"),
    _f("hrsp_other", ".FBS", "HTTP responses with other codes"),
    _f("hanafail", "...S", "failed checks caused by observed traffic"),
    _f("req_rate", ".F..", "HTTP requests over the last second"),
    _f("req_rate_max", ".F..", "highest req_rate seen"),
    _f("req_tot", ".FBS", "HTTP requests since start"),
    _f("cli_abrt", "..BS", "transfers aborted by the client"),
    _f("srv_abrt", "..BS", "transfers aborted by the server"),
    _f("comp_in", ".FB.", "bytes fed to the compressor"),
    _f("comp_out", ".FB.", "bytes out of the compressor"),
    _f("comp_byp", ".FB.", "bytes that bypassed the compressor"),
    _f("comp_rsp", ".FB.", "responses compressed"),
    _f("lastsess", "..BS", "seconds since the last session (-1: never)"),
    _f("last_chk", "...S", "detail of the last health check"),
    _f("last_agt", "...S", "detail of the last agent check"),
    _f("qtime", "..BS", "average queue time, ms"),
    _f("ctime", "..BS", "average connect time, ms"),
    _f("rtime", "..BS", "average response time, ms"),
    _f("ttime", "..BS", "average total time, ms"),
    _f("agent_status", "...S", "status of the last agent check"),
    _f("agent_code", "...S", "code of the last agent check"),
    _f("agent_duration", "...S", "duration of the last agent check, ms"),
    _f("check_desc", "...S", "check_status in words"),
    _f("agent_desc", "...S", "agent_status in words"),
    _f("check_rise", "...S", "rise setting"),
    _f("check_fall", "...S", "fall setting"),
    _f("check_health", "...S", "health level, 0 to rise+fall-1"),
    _f("agent_rise", "...S", "agent rise setting"),
    _f("agent_fall", "...S", "agent fall setting"),
    _f("agent_health", "...S", "agent health level"),
    _f("addr", "L..S", "address:port"),
    _f("cookie", "..BS", "server cookie value or backend cookie name"),
    _f("mode", "LFBS", "tcp or http"),
    _f("algo", "..B.", "load-balancing algorithm"),
    _f("conn_rate", ".F..", "connections over the last second"),
    _f("conn_rate_max", ".F..", "highest conn_rate seen"),
    _f("conn_tot", ".F..", "connections since start"),
    _f("intercepted", ".FB.", "requests answered by the proxy itself"),
    _f("dcon", "LF..", "connections denied by tcp-request connection rules"),
    _f("dses", "LF..", "sessions denied by tcp-request session rules"),
    _f("wrew", "LFBS", "failed header rewrites"),
    _f("connect", "..BS", "connection attempts to servers"),
    _f("reuse", "..BS", "reused server connections"),
    _f("cache_lookups", ".FB.", "cache lookups"),
    _f("cache_hits", ".FB.", "cache hits"),
    _f("srv_icur", "...S", "idle connections ready for reuse"),
    _f("src_ilim", "...S", "limit of idle connections"),
    _f("qtime_max", "..BS", "highest queue time, ms"),
    _f("ctime_max", "..BS", "highest connect time, ms"),
    _f("rtime_max", "..BS", "highest response time, ms"),
    _f("ttime_max", "..BS", "highest total time, ms"),
    _f("eint", "LFBS", "internal errors"),
    _f("idle_conn_cur", "...S", "unsafe idle connections"),
    _f("safe_conn_cur", "...S", "safe idle connections"),
    _f("used_conn_cur", "...S", "connections in use"),
    _f("need_conn_est", "...S", "estimated connections needed"),
    _f("uweight", "..BS", "user weight (backend: of its usable servers)"),
    _f("agg_server_status", "..B.", "aggregated server status gauge"),
    _f("agg_server_check_status", "..B.", "same as agg_server_status (deprecated name)"),
    _f("agg_check_status", "..B.", "aggregated check status gauge"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}


class RowType(IntEnum):
    """The `type` field."""

    FRONTEND = 0
    BACKEND = 1
    SERVER = 2
    LISTENER = 3


# Descriptions of check statuses: the words HAProxy puts in `check_desc`.
CHECK_DESC = {
    "UNK": "Unknown",
    "INI": "Initializing",
    "SOCKERR": "Socket error",
    "L4OK": "Layer4 check passed",
    "L4TOUT": "Layer4 timeout",
    "L4CON": "Layer4 connection problem",
    "L6OK": "Layer6 check passed",
    "L6TOUT": "Layer6 timeout",
    "L6RSP": "Layer6 invalid response",
    "L7TOUT": "Layer7 timeout",
    "L7RSP": "Layer7 invalid response",
    "L7OK": "Layer7 check passed",
    "L7OKC": "Layer7 check conditionally passed",
    "L7STS": "Layer7 wrong status",
    "PROCERR": "External check error",
    "PROCTOUT": "External check timeout",
    "PROCOK": "External check passed",
}
_NOT_CHECKED = frozenset({"UNK", "INI"})


@dataclass(frozen=True, slots=True)
class Clock:
    """The instant a report is taken, and when the process started (both clocks)."""

    wall: float
    mono: float
    started_wall: float
    started_mono: float

    @classmethod
    def now(cls, started_wall: float, started_mono: float) -> Clock:
        return cls(time.time(), time.monotonic(), started_wall, started_mono)

    @property
    def uptime(self) -> int:
        return max(0, int(self.mono - self.started_mono))

    def age(self, stamp: float | None) -> int:
        """Whole seconds since `stamp` (a wall or monotonic time); process age if None."""
        if stamp is None:
            return self.uptime
        # A monotonic clock counts from boot: far below any epoch time of this century.
        base = self.wall if stamp > 1e9 else self.mono
        return max(0, int(base - stamp))


@dataclass(slots=True)
class ProxyStats:
    """What the report shows of one proxy: rows in display order."""

    name: str
    iid: int
    mode: str
    cap: str
    description: str | None
    frontend: Row | None = None
    servers: list[Row] = field(default_factory=list)
    backend: Row | None = None


@dataclass(frozen=True, slots=True)
class Filter:
    """Which rows a request asked to see (`;up`, `;no-maint`, the scope box)."""

    hide_down: bool = False
    hide_maint: bool = False
    scope: str = ""


def _opt(obj: object, name: str, default: int = 0) -> int:
    value = getattr(obj, name, None)
    return default if value is None else int(value)


def _rate(obj: object, name: str, clock: Clock) -> tuple[int, int]:
    """(current, max) of an optional RateCounter attribute; (0, 0) without one."""
    counter = getattr(obj, name, None)
    if counter is None:
        return 0, 0
    return int(counter.read(clock.mono)), int(counter.max)


def _http_codes(row: Row, obj: object) -> None:
    codes: Sequence[int] | None = getattr(obj, "hrsp", None)
    codes = codes if codes is not None and len(codes) == 6 else (0,) * 6
    row["hrsp_1xx"], row["hrsp_2xx"], row["hrsp_3xx"] = codes[1], codes[2], codes[3]
    row["hrsp_4xx"], row["hrsp_5xx"], row["hrsp_other"] = codes[4], codes[5], codes[0]


# -- frontend ----------------------------------------------------------------------------


def frontend_row(fe: Frontend, iid: int, slim: int, clock: Clock, *, paused: bool = False) -> Row:
    c = fe.counters
    http = fe.mode.value == "http"
    rate, rate_max = _rate(c, "sess_rate", clock)
    conn_rate, conn_rate_max = (
        (rate, rate_max) if getattr(c, "conn_rate", None) is None else _rate(c, "conn_rate", clock)
    )
    req_rate, req_rate_max = _rate(c, "req_rate", clock)
    row: Row = {
        "pxname": fe.name,
        "svname": "FRONTEND",
        "scur": c.cur_sess,
        "smax": c.max_sess,
        "slim": slim,
        "stot": c.tot_sess,
        "bin": c.bytes_in,
        "bout": c.bytes_out,
        "dreq": c.denied,
        "dresp": _opt(c, "dresp"),
        "ereq": c.errors,
        "status": "STOP" if fe.conf.disabled else ("PAUSED" if paused else "OPEN"),
        "pid": 1,
        "iid": iid,
        "sid": 0,
        "type": int(RowType.FRONTEND),
        "rate": rate,
        "rate_lim": 0,
        "rate_max": rate_max,
        "req_rate": req_rate,
        "req_rate_max": req_rate_max,
        "req_tot": c.requests,
        "comp_in": c.comp_in,
        "comp_out": c.comp_out,
        "comp_byp": 0,  # never bypassed: weir has no compression rate or CPU limit
        "comp_rsp": c.comp_rsp,
        "mode": fe.mode.value,
        "conn_rate": conn_rate,
        "conn_rate_max": conn_rate_max,
        "conn_tot": c.tot_sess,
        "dcon": 0,
        "dses": 0,
        "wrew": 0,
        "eint": 0,
    }
    if http:
        _http_codes(row, c)
        row["intercepted"] = _opt(c, "intercepted")
        row["cache_lookups"] = row["cache_hits"] = 0
    return row


# -- servers -----------------------------------------------------------------------------


def server_status(srv: Server, checked: bool, health: int, rise: int, fall: int) -> str:
    """The `status` field of a server, with the "n/m" progress of a changing state."""
    state = srv.state
    if state is SrvState.MAINT:
        return "MAINT (resolution)" if srv.rmaint else "MAINT"
    top = rise + fall - 1
    if state is SrvState.DOWN:
        if checked and health > 0:
            return f"DOWN {health}/{rise}"
        return "DOWN"
    going_down = checked and health < top
    if state is SrvState.DRAIN:
        return f"DRAIN {health - rise + 1}/{fall}" if going_down else "DRAIN"
    if not checked:
        return "no check"
    return f"UP {health - rise + 1}/{fall}" if going_down else "UP"


def server_row(
    be: Backend, srv: Server, conf: ServerConf, iid: int, clock: Clock, *, legends: bool = False
) -> Row:
    chk = conf.check
    # `check_status` is None while checks do not run: never started, or turned off at run
    # time (`disable health`); the server then shows as not checked, like HAProxy's.
    checked = chk.enabled and srv.check_status is not None
    up = srv.state in (SrvState.UP, SrvState.DRAIN)
    health = _opt(srv, "check_health", chk.rise + chk.fall - 1 if up else 0)
    rate, rate_max = _rate(srv, "sess_rate", clock)
    last_sess = getattr(srv, "last_sess", None)
    row: Row = {
        "pxname": be.name,
        "svname": srv.name,
        "qcur": 0,
        "qmax": _opt(srv, "qmax"),
        "scur": srv.cur_sess,
        "smax": srv.max_sess,
        "slim": srv.maxconn or None,
        "stot": srv.tot_sess,
        "bin": _opt(srv, "bytes_in"),
        "bout": _opt(srv, "bytes_out"),
        "dresp": _opt(srv, "dresp"),
        "econ": _opt(srv, "econ"),
        "eresp": _opt(srv, "eresp"),
        "wretr": _opt(srv, "wretr"),
        "wredis": _opt(srv, "wredis"),
        "status": server_status(srv, checked, health, chk.rise, chk.fall),
        "lastchg": clock.age(getattr(srv, "last_change", None)),
        "weight": srv.eweight,
        "uweight": srv.uweight,
        "act": 0 if srv.backup else 1,
        "bck": 1 if srv.backup else 0,
        "qlimit": conf.maxqueue or None,
        "pid": 1,
        "iid": iid,
        "sid": srv.puid,
        "lbtot": _opt(srv, "lbtot", srv.tot_sess),
        "type": int(RowType.SERVER),
        "rate": rate,
        "rate_max": rate_max,
        "cli_abrt": _opt(srv, "cli_abrt"),
        "srv_abrt": _opt(srv, "srv_abrt"),
        "lastsess": -1 if last_sess is None else clock.age(last_sess),
        "qtime": 0,
        "ctime": 0,
        "rtime": 0,
        "ttime": 0,
        "mode": be.mode.value,
        "wrew": 0,
        "connect": _opt(srv, "connect", srv.tot_sess),
        "reuse": _opt(srv, "reuse"),
        "srv_icur": 0,
        "qtime_max": 0,
        "ctime_max": 0,
        "rtime_max": 0,
        "ttime_max": 0,
        "eint": 0,
        "idle_conn_cur": 0,
        "safe_conn_cur": 0,
        "used_conn_cur": srv.cur_sess,
        "need_conn_est": 0,
    }
    if checked:
        status = getattr(srv, "check_status", None)
        status = "INI" if status is None else str(status)
        row["chkfail"] = _opt(srv, "chkfail")
        row["chkdown"] = _opt(srv, "chkdown")
        row["downtime"] = _opt(srv, "downtime")
        row["check_status"] = status
        code = getattr(srv, "check_code", None)
        if code is not None:
            row["check_code"] = int(code)
        duration = getattr(srv, "check_duration_ms", None)
        if duration is not None and status not in _NOT_CHECKED:
            row["check_duration"] = int(duration)
        row["check_desc"] = CHECK_DESC.get(status.removeprefix("* "), status)
        row["last_chk"] = str(getattr(srv, "check_desc", None) or "")
        row["check_rise"], row["check_fall"], row["check_health"] = chk.rise, chk.fall, health
    if be.mode.value == "http":
        _http_codes(row, srv)
        row["req_tot"] = _opt(srv, "req_tot", srv.tot_sess)
    if legends:
        row["addr"] = server_addr(srv)
        if conf.cookie is not None:
            row["cookie"] = conf.cookie
    return row


def server_addr(srv: Server) -> str:
    """`address:port` as stats show it (IPv6 addresses in brackets; a UNIX socket's path,
    or `abns@name`)."""
    if srv.host.startswith("\0"):
        return f"abns@{srv.host[1:]}"
    if srv.host.startswith("/"):
        return srv.host
    host = f"[{srv.host}]" if ":" in srv.host else srv.host
    return f"{host}:{srv.port}"


# -- backend -----------------------------------------------------------------------------


def _weights(be: Backend) -> tuple[int, int, int, int]:
    """(effective weight, user weight, usable active, usable backup) of a backend.

    Like HAProxy's: the active servers' weights while any is usable, else the backups'
    (all of them with `option allbackups`, else the first usable one).
    """
    act = [s for s in be.servers if not s.backup and s.usable]
    bck = [s for s in be.servers if s.backup and s.usable]
    group = act
    if not act and bck:
        allbackups = bool(getattr(be.conf.balance, "allbackups", False))
        group = bck if allbackups else bck[:1]
    return (sum(s.eweight for s in group), sum(s.uweight for s in group), len(act), len(bck))


def backend_row(
    be: Backend, iid: int, fullconn: int, clock: Clock, flt: Filter, *, legends: bool = False
) -> Row:
    c = be.counters
    servers = be.servers
    weight, uweight, act, bck = _weights(be)
    status = "UP" if weight > 0 or not servers else "DOWN"
    if flt.hide_down or flt.hide_maint:
        alive = sum(1 for s in servers if s.state in (SrvState.UP, SrvState.DRAIN))
        status = f"{status} ({alive}/{len(servers)})"
    queued = len(be.queue)
    scur = sum(s.cur_sess for s in servers) + queued
    rate, rate_max = _rate(c, "sess_rate", clock)
    last_sess = getattr(be, "last_sess", None)
    row: Row = {
        "pxname": be.name,
        "svname": "BACKEND",
        "qcur": queued,
        "qmax": max(_opt(c, "qmax"), queued),
        "scur": scur,
        "smax": max(c.max_sess, scur),
        "slim": fullconn,
        "stot": c.tot_sess,
        "bin": c.bytes_in,
        "bout": c.bytes_out,
        "dreq": c.denied,
        "dresp": _opt(c, "dresp"),
        # The runtime counts connect and response failures together in `errors` so far.
        "econ": _opt(c, "econ", c.errors),
        "eresp": _opt(c, "eresp"),
        "wretr": _opt(c, "wretr"),
        "wredis": _opt(c, "wredis"),
        "status": status,
        "weight": weight,
        "uweight": uweight,
        "act": act,
        "bck": bck,
        "chkdown": _opt(be, "chkdown"),
        "lastchg": clock.age(getattr(be, "last_change", None)),
        "downtime": _opt(be, "downtime") if servers else None,
        "pid": 1,
        "iid": iid,
        "sid": 0,
        "lbtot": _opt(c, "lbtot", sum(_opt(s, "lbtot", s.tot_sess) for s in servers)),
        "type": int(RowType.BACKEND),
        "rate": rate,
        "rate_max": rate_max,
        "cli_abrt": _opt(c, "cli_abrt"),
        "srv_abrt": _opt(c, "srv_abrt"),
        "comp_in": c.comp_in,
        "comp_out": c.comp_out,
        "comp_byp": 0,  # never bypassed: weir has no compression rate or CPU limit
        "comp_rsp": c.comp_rsp,
        "lastsess": -1 if last_sess is None else clock.age(last_sess),
        "qtime": 0,
        "ctime": 0,
        "rtime": 0,
        "ttime": 0,
        "mode": be.mode.value,
        "wrew": 0,
        "connect": _opt(c, "connect", sum(s.tot_sess for s in servers)),
        "reuse": _opt(c, "reuse"),
        "qtime_max": 0,
        "ctime_max": 0,
        "rtime_max": 0,
        "ttime_max": 0,
        "eint": 0,
        "agg_server_status": 0,
        "agg_server_check_status": 0,
        "agg_check_status": 0,
    }
    if be.mode.value == "http":
        _http_codes(row, c)
        row["req_tot"] = c.requests
        row["cache_lookups"] = row["cache_hits"] = 0
    if legends:
        row["algo"] = be.balancer.params.algo
        if be.conf.cookie is not None:
            row["cookie"] = be.conf.cookie.name
    return row


# -- the whole report --------------------------------------------------------------------


def _hidden(row: Row, srv: Server, flt: Filter) -> bool:
    if srv.state is SrvState.MAINT:
        return flt.hide_maint or flt.hide_down
    # `;up` hides servers that are DOWN and not on their way up.
    return flt.hide_down and srv.state is SrvState.DOWN and row.get("check_health", 0) == 0


def _fe_slim(fe: Frontend, rt: Runtime) -> int:
    """A frontend's session limit: its maxconn (as set now), else the process-wide one."""
    return fe.maxconn or rt.limiter.limit


# ---- workers (`nbthread` > 1) -------------------------------------------------------------

# The counters every worker adds to a row, and those whose highest value is kept; the
# other fields (states, weights, limits, check results...) are the reporting worker's.
ADDED = frozenset(
    [
        "qcur",
        "scur",
        "stot",
        "bin",
        "bout",
        "dreq",
        "dresp",
        "ereq",
        "econ",
        "eresp",
        "wretr",
        "wredis",
        "lbtot",
        "rate",
        "hrsp_1xx",
        "hrsp_2xx",
        "hrsp_3xx",
        "hrsp_4xx",
        "hrsp_5xx",
        "hrsp_other",
        "req_rate",
        "req_tot",
        "cli_abrt",
        "srv_abrt",
        "comp_in",
        "comp_out",
        "comp_byp",
        "comp_rsp",
        "conn_rate",
        "conn_tot",
        "intercepted",
        "dcon",
        "dses",
        "wrew",
        "connect",
        "reuse",
        "cache_lookups",
        "cache_hits",
        "eint",
        "idle_conn_cur",
        "safe_conn_cur",
        "used_conn_cur",
        "need_conn_est",
    ]
)
HIGHEST = frozenset(["qmax", "smax", "rate_max", "req_rate_max", "conn_rate_max"])

# What the other workers counted, as they last said (weir.peers.engine.WorkerMesh): by
# worker, (proxy, row name) -> {field: value}, with when it was said (time.monotonic()).
SIBLINGS: dict[str, tuple[float, dict[tuple[str, str], dict[str, int]]]] = {}
SIBLING_TTL = 5.0  # seconds after which a silent worker's counters are left out


def counters_snapshot(proxies: list[ProxyStats]) -> list[list[Any]]:
    """The additive and highest-kept counters of every row, to send to the siblings."""
    out: list[list[Any]] = []
    for ps in proxies:
        for row in (ps.frontend, ps.backend, *ps.servers):
            if row is None:
                continue
            keep = {k: v for k, v in row.items() if (k in ADDED or k in HIGHEST) and v}
            out.append([ps.name, str(row.get("svname", "")), keep])
    return out


INFO_ADDED = ("CurrConns", "CumConns", "CumReq", "TotalBytesOut", "ConnRate", "SessRate")


def sibling_info() -> dict[str, int]:
    """What the other workers add to `show info`'s process-wide counts."""
    now = time.monotonic()
    out: dict[str, int] = {}
    for said, rows in SIBLINGS.values():
        if now - said >= SIBLING_TTL:
            continue
        for k, v in rows.get(("", "#info"), {}).items():
            if k in INFO_ADDED and isinstance(v, int):
                out[k] = out.get(k, 0) + v
    return out


def _merge_siblings(proxies: list[ProxyStats]) -> None:
    now = time.monotonic()
    fresh = [rows for said, rows in SIBLINGS.values() if now - said < SIBLING_TTL]
    if not fresh:
        return
    for ps in proxies:
        for row in (ps.frontend, ps.backend, *ps.servers):
            if row is None:
                continue
            key = (ps.name, str(row.get("svname", "")))
            for rows in fresh:
                theirs = rows.get(key)
                if not theirs:
                    continue
                for k, v in theirs.items():
                    mine = row.get(k)
                    if k in ADDED:
                        row[k] = (mine if isinstance(mine, int) else 0) + v
                    elif isinstance(mine, int):
                        row[k] = max(mine, v)


def collect(
    rt: Runtime,
    clock: Clock,
    flt: Filter | None = None,
    *,
    legends: bool = False,
    paused: Collection[str] = (),
    siblings: bool = True,
) -> list[ProxyStats]:
    """Every enabled proxy of the runtime, in configuration order, as rows.

    `legends` adds what HAProxy shows only to trusted readers (`stats show-legends`, or
    the runtime API at level operator and above): server addresses, cookies, algorithms.
    `paused` names the frontends whose listeners `disable frontend` paused.
    """
    if flt is None:
        flt = Filter()
    fronts = {id(fe.conf): fe for fe in rt.frontends}
    backs = {id(be.conf): be for be in rt.backends.values()}
    scope = flt.scope.lower()
    out: list[ProxyStats] = []
    for iid, px in enumerate(rt.config.proxies, first_proxy_id(rt.config)):
        fe, be = fronts.get(id(px)), backs.get(id(px))
        if fe is None and be is None:
            continue  # disabled
        if scope and scope not in px.name.lower():
            continue
        ps = ProxyStats(px.name, iid, px.mode.value, px.cap.value, px.description)
        if fe is not None:
            ps.frontend = frontend_row(fe, iid, _fe_slim(fe, rt), clock, paused=fe.name in paused)
        if be is not None:
            for srv, conf in zip(be.servers, be.conf.servers, strict=False):
                row = server_row(be, srv, conf, iid, clock, legends=legends)
                if not _hidden(row, srv, flt):
                    ps.servers.append(row)
            ps.backend = backend_row(be, iid, be.fullconn, clock, flt, legends=legends)
        out.append(ps)
    if siblings and SIBLINGS:
        _merge_siblings(out)  # with several workers: what the others counted too
    return out


def values(row: Row) -> list[Value]:
    """The row's values in FIELDS order."""
    return [row.get(name) for name in NAMES]
