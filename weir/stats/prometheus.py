"""The Prometheus exporter: `http-request use-service prometheus-exporter [if|unless ...]`.

The text exposition format (version 0.0.4) with HAProxy 2.6's metric names, types and
labels, so that dashboards and alerts written for HAProxy's exporter work unchanged:
`haproxy_process_*` from the info fields, then `haproxy_frontend_*`, `haproxy_backend_*`
and `haproxy_server_*` from the stats fields, labelled `proxy`, `server`, and `state` or
`code` where a field is spread over several series. Metrics are grouped by name (one
`# HELP` and `# TYPE` each), objects in configuration order within a metric, exactly as
HAProxy orders them. A figure weir does not have reads as HAProxy's empty fields do: NaN.

The query string selects what is exported, as with HAProxy: `scope=global|frontend|
backend|server|listener|sticktable|*` (repeatable; an empty value selects nothing more)
and `no-maint` (leave out servers in maintenance). Anything else malformed is a 400.

A scrape reads the runtime once (`weir.stats.fields.collect`) and formats; nothing is
kept between scrapes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from weir.backend.server import SrvState
from weir.stats.fields import FIELDS, INDEX, Clock, Filter, ProxyStats, Row, collect
from weir.stats.info import INFO, VERSION, info_values

if TYPE_CHECKING:
    from weir.proxy.runtime import Backend, Runtime
    from weir.sample.acl import Predicate
    from weir.stream import Stream

CONTENT_TYPE = b"text/plain; version=0.0.4"

# Stats fields exported per object kind: field -> (metric suffix, counter). Order follows
# the stats fields, as HAProxy's exporter walks them.
_F, _B, _S = 1, 2, 4
_METRICS: dict[str, tuple[str, bool, int]] = {
    "qcur": ("current_queue", False, _B | _S),
    "qmax": ("max_queue", False, _B | _S),
    "scur": ("current_sessions", False, _F | _B | _S),
    "smax": ("max_sessions", False, _F | _B | _S),
    "slim": ("limit_sessions", False, _F | _B | _S),
    "stot": ("sessions_total", True, _F | _B | _S),
    "bin": ("bytes_in_total", True, _F | _B | _S),
    "bout": ("bytes_out_total", True, _F | _B | _S),
    "dreq": ("requests_denied_total", True, _F | _B),
    "dresp": ("responses_denied_total", True, _F | _B | _S),
    "ereq": ("request_errors_total", True, _F),
    "econ": ("connection_errors_total", True, _B | _S),
    "eresp": ("response_errors_total", True, _B | _S),
    "wretr": ("retry_warnings_total", True, _B | _S),
    "wredis": ("redispatch_warnings_total", True, _B | _S),
    "status": ("status", False, _F | _B | _S),
    "weight": ("weight", False, _B | _S),
    "act": ("active_servers", False, _B),
    "bck": ("backup_servers", False, _B),
    "chkfail": ("check_failures_total", True, _S),
    "chkdown": ("check_up_down_total", True, _B | _S),
    "lastchg": ("check_last_change_seconds", False, _B | _S),
    "downtime": ("downtime_seconds_total", True, _B | _S),
    "qlimit": ("queue_limit", False, _S),
    "throttle": ("current_throttle", False, _S),
    "lbtot": ("loadbalanced_total", True, _B | _S),
    "rate_lim": ("limit_session_rate", False, _F),
    "rate_max": ("max_session_rate", False, _F | _B | _S),
    "check_status": ("check_status", False, _S),
    "check_code": ("check_code", False, _S),
    "check_duration": ("check_duration_seconds", False, _S),
    "hrsp_1xx": ("http_responses_total", True, _F | _B | _S),
    "hrsp_2xx": ("http_responses_total", True, _F | _B | _S),
    "hrsp_3xx": ("http_responses_total", True, _F | _B | _S),
    "hrsp_4xx": ("http_responses_total", True, _F | _B | _S),
    "hrsp_5xx": ("http_responses_total", True, _F | _B | _S),
    "hrsp_other": ("http_responses_total", True, _F | _B | _S),
    "req_rate_max": ("http_requests_rate_max", False, _F),
    "req_tot": ("http_requests_total", True, _F | _B),
    "cli_abrt": ("client_aborts_total", True, _B | _S),
    "srv_abrt": ("server_aborts_total", True, _B | _S),
    "comp_in": ("http_comp_bytes_in_total", True, _F | _B),
    "comp_out": ("http_comp_bytes_out_total", True, _F | _B),
    "comp_byp": ("http_comp_bytes_bypassed_total", True, _F | _B),
    "comp_rsp": ("http_comp_responses_total", True, _F | _B),
    "lastsess": ("last_session_seconds", False, _B | _S),
    "qtime": ("queue_time_average_seconds", False, _B | _S),
    "ctime": ("connect_time_average_seconds", False, _B | _S),
    "rtime": ("response_time_average_seconds", False, _B | _S),
    "ttime": ("total_time_average_seconds", False, _B | _S),
    "conn_rate_max": ("connections_rate_max", False, _F),
    "conn_tot": ("connections_total", True, _F),
    "intercepted": ("intercepted_requests_total", True, _F),
    "dcon": ("denied_connections_total", True, _F),
    "dses": ("denied_sessions_total", True, _F),
    "wrew": ("failed_header_rewriting_total", True, _F | _B | _S),
    "connect": ("connection_attempts_total", True, _B | _S),
    "reuse": ("connection_reuses_total", True, _B | _S),
    "cache_lookups": ("http_cache_lookups_total", True, _F | _B),
    "cache_hits": ("http_cache_hits_total", True, _F | _B),
    "srv_icur": ("idle_connections_current", False, _S),
    "src_ilim": ("idle_connections_limit", False, _S),
    "qtime_max": ("max_queue_time_seconds", False, _B | _S),
    "ctime_max": ("max_connect_time_seconds", False, _B | _S),
    "rtime_max": ("max_response_time_seconds", False, _B | _S),
    "ttime_max": ("max_total_time_seconds", False, _B | _S),
    "eint": ("internal_errors_total", True, _F | _B | _S),
    "idle_conn_cur": ("unsafe_idle_connections_current", False, _S),
    "safe_conn_cur": ("safe_idle_connections_current", False, _S),
    "used_conn_cur": ("used_connections_current", False, _S),
    "need_conn_est": ("need_connections_current", False, _S),
    "uweight": ("uweight", False, _B | _S),
    "agg_server_status": ("agg_server_status", False, _B),
    "agg_server_check_status": ("agg_server_check_status", False, _B),
    "agg_check_status": ("agg_check_status", False, _B),
}
_ORDER = tuple(f.name for f in FIELDS if f.name in _METRICS)
_DOC = {f.name: f.doc for f in FIELDS}
_HTTP_ONLY = frozenset(
    {"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other", "req_rate_max",
     "req_tot", "comp_in", "comp_out", "comp_byp", "comp_rsp", "intercepted", "cache_lookups",
     "cache_hits"}
)  # fmt: skip
_CODES = {
    "hrsp_1xx": "1xx",
    "hrsp_2xx": "2xx",
    "hrsp_3xx": "3xx",
    "hrsp_4xx": "4xx",
    "hrsp_5xx": "5xx",
    "hrsp_other": "other",
}
_SECONDS = frozenset(
    {"qtime", "ctime", "rtime", "ttime", "qtime_max", "ctime_max", "rtime_max", "ttime_max",
     "check_duration"}
)  # fmt: skip
_HELP = {
    "status": "Current status of the object, one series per state (1 for the current one).",
    "check_status": "Status of the last health check, one series per status.",
    "check_code": "HTTP status of the last health check (0 without one).",
    "check_duration": "Duration of the last health check, in seconds.",
    "agg_server_status": "Servers of the backend in each state.",
    "agg_server_check_status": "Servers of the backend in each state (deprecated name).",
    "agg_check_status": "Checked servers of the backend by status of their last check.",
}
_FE_STATES = ("DOWN", "UP")
_SRV_STATES = ("DOWN", "UP", "MAINT", "DRAIN", "NOLB")
# Check statuses that are a verdict (HAProxy's order), one `state` series each.
CHECK_STATES = (
    "HANA",
    "SOCKERR",
    "L4OK",
    "L4TOUT",
    "L4CON",
    "L6OK",
    "L6TOUT",
    "L6RSP",
    "L7TOUT",
    "L7RSP",
    "L7OK",
    "L7OKC",
    "L7STS",
    "PROCERR",
    "PROCTOUT",
    "PROCOK",
)
SCOPES = {"global": 1, "frontend": 2, "backend": 4, "server": 8, "listener": 16, "sticktable": 32}
ALL_SCOPES = 63

assert set(INDEX) >= set(_METRICS)


class BadQueryError(ValueError):
    """The query string is not one the exporter understands (a 400)."""


@dataclass(frozen=True, slots=True)
class Query:
    scopes: int = ALL_SCOPES
    no_maint: bool = False


def parse_query(target: bytes | str) -> Query:
    """`scope=...` and `no-maint` from a request target."""
    text = target.decode("latin-1") if isinstance(target, bytes) else target
    _, sep, query = text.partition("?")
    if not sep:
        return Query()
    query = query.partition("#")[0]
    scopes = 0
    seen_scope = False
    no_maint = False
    for part in query.split("&"):
        if not part:
            continue
        key, eq, value = part.partition("=")
        if "=" in value:
            raise BadQueryError(part)
        key = unquote_plus(key)
        if key == "scope":
            seen_scope = True
            if not eq:
                raise BadQueryError(part)
            value = unquote_plus(value)
            if value == "":
                continue
            if value == "*":
                scopes |= ALL_SCOPES
            elif value in SCOPES:
                scopes |= SCOPES[value]
            else:
                raise BadQueryError(part)
        elif key == "no-maint":
            no_maint = True
    return Query(scopes if seen_scope else ALL_SCOPES, no_maint)


def _num(value: object) -> str:
    if value is None or isinstance(value, str):
        return "NaN"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:f}"
    return str(value)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class _Out:
    """Accumulates lines; writes a metric's HELP/TYPE once, before its first sample."""

    __slots__ = ("lines", "pending")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.pending: tuple[str, str, bool] | None = None

    def metric(self, name: str, doc: str, counter: bool) -> None:
        self.pending = (name, doc, counter)

    def sample(self, name: str, labels: str, value: str) -> None:
        if self.pending is not None:
            pname, doc, counter = self.pending
            self.lines.append(
                f"# HELP {pname} {doc}\n# TYPE {pname} {'counter' if counter else 'gauge'}\n"
            )
            self.pending = None
        self.lines.append(f"{name}{{{labels}}} {value}\n" if labels else f"{name} {value}\n")


def _srv_state(state: SrvState) -> str:
    if state is SrvState.MAINT:
        return "MAINT"
    if state is SrvState.DRAIN:
        return "DRAIN"
    return "UP" if state is SrvState.UP else "DOWN"


def render(
    rt: Runtime,
    clock: Clock,
    query: Query | None = None,
    *,
    hard_maxconn: int | None = None,
    listeners: int = 0,
) -> str:
    """The whole exposition for `query` (default: everything)."""
    q = query or Query()
    out = _Out()
    if q.scopes & SCOPES["global"]:
        _process(out, rt, clock, hard_maxconn, listeners)
    if not q.scopes & (SCOPES["frontend"] | SCOPES["backend"] | SCOPES["server"]):
        return "".join(out.lines)
    proxies = collect(rt, clock, Filter())
    if q.scopes & SCOPES["frontend"]:
        _objects(out, "haproxy_frontend_", _F, _frontends(proxies))
    if q.scopes & SCOPES["backend"]:
        _objects(out, "haproxy_backend_", _B, _backends(proxies, rt))
    if q.scopes & SCOPES["server"]:
        _objects(out, "haproxy_server_", _S, _servers(proxies, rt, q.no_maint))
    return "".join(out.lines)


def _process(
    out: _Out, rt: Runtime, clock: Clock, hard_maxconn: int | None, listeners: int
) -> None:
    values = info_values(rt, clock, hard_maxconn=hard_maxconn, listeners=listeners)
    for f in INFO:
        if f.metric is None:
            continue
        name = "haproxy_process_" + f.metric
        out.metric(name, f.doc, f.counter)
        if f.name == "Build info":
            out.sample(name, f'version="{_label(VERSION)}"', "1")
        else:
            out.sample(name, "", _num(values.get(f.name)))


# An object to export: its labels, its stats row, whether it is HTTP, and a function
# giving the per-state series of a field (None: the field is a plain value).
_Obj = tuple[str, Row, bool, Callable[[str], Sequence[tuple[str, int]] | None]]


def _frontends(proxies: Iterable[ProxyStats]) -> list[_Obj]:
    out: list[_Obj] = []
    for ps in proxies:
        row = ps.frontend
        if row is None:
            continue
        up = row.get("status") != "STOP"

        def states(field: str, up: bool = up) -> Sequence[tuple[str, int]] | None:
            if field == "status":
                return [("DOWN", int(not up)), ("UP", int(up))]
            return None

        out.append((f'proxy="{_label(ps.name)}"', row, ps.mode == "http", states))
    return out


def _backends(proxies: Iterable[ProxyStats], rt: Runtime) -> list[_Obj]:
    out: list[_Obj] = []
    for ps in proxies:
        row = ps.backend
        if row is None:
            continue
        be = rt.backends[ps.name]
        up = str(row.get("status", "")).startswith("UP")

        def states(field: str, up: bool = up, be: Backend = be) -> Sequence[tuple[str, int]] | None:
            if field == "status":
                return [("DOWN", int(not up)), ("UP", int(up))]
            if field in ("agg_server_status", "agg_server_check_status"):
                if not be.servers:
                    return []
                counts = dict.fromkeys(_SRV_STATES, 0)
                for s in be.servers:
                    counts[_srv_state(s.state)] += 1
                return list(counts.items())
            if field == "agg_check_status":
                if not be.servers:
                    return []
                counts = dict.fromkeys(CHECK_STATES, 0)
                for s, conf in zip(be.servers, be.conf.servers, strict=False):
                    status = s.check_status
                    if conf.check.enabled and status in counts and s.state is not SrvState.MAINT:
                        counts[status] += 1
                return list(counts.items())
            return None

        out.append((f'proxy="{_label(ps.name)}"', row, ps.mode == "http", states))
    return out


def _servers(proxies: Iterable[ProxyStats], rt: Runtime, no_maint: bool) -> list[_Obj]:
    out: list[_Obj] = []
    for ps in proxies:
        if ps.backend is None:
            continue
        be = rt.backends[ps.name]
        by_name = {s.name: s for s in be.servers}
        for row in ps.servers:
            srv = by_name[str(row["svname"])]
            if no_maint and srv.state is SrvState.MAINT:
                continue
            checking = "check_status" in row and srv.state is not SrvState.MAINT
            current = _srv_state(srv.state)
            status = row.get("check_status")

            def states(
                field: str,
                current: str = current,
                checking: bool = checking,
                status: object = status,
            ) -> Sequence[tuple[str, int]] | None:
                if field == "status":
                    return [(s, int(s == current)) for s in _SRV_STATES]
                if field == "check_status":
                    if not checking:
                        return []
                    return [(s, int(s == status)) for s in CHECK_STATES]
                if field in ("check_code", "check_duration") and not checking:
                    return []
                return None

            labels = f'proxy="{_label(ps.name)}",server="{_label(srv.name)}"'
            out.append((labels, row, ps.mode == "http", states))
    return out


def _objects(out: _Out, prefix: str, kind: int, objects: list[_Obj]) -> None:
    for field in _ORDER:
        suffix, counter, kinds = _METRICS[field]
        if not kinds & kind:
            continue
        name = prefix + suffix
        code = _CODES.get(field)
        if code is None or code == "1xx":  # the six hrsp fields share one header
            out.metric(name, _HELP.get(field, _DOC[field]), counter)
        for labels, row, http, states in objects:
            if field in _HTTP_ONLY and not http:
                continue
            series = states(field)
            if series is not None:
                for state, count in series:
                    out.sample(name, f'{labels},state="{state}"', str(count))
                continue
            value = row.get(field)
            if field == "check_code":
                value = value if isinstance(value, int) else 0
            if field in _SECONDS and isinstance(value, int):
                shown = f"{value / 1000:f}"
            else:
                shown = _num(value)
            if code is not None:
                out.sample(name, f'{labels},code="{code}"', shown)
            else:
                out.sample(name, labels, shown)


class PrometheusService:
    """The exporter of one proxy section: its `use-service` rules and the runtime."""

    __slots__ = ("conds", "runtime", "started")

    def __init__(
        self,
        conds: Sequence[Predicate | None],
        runtime: Runtime,
        *,
        started: tuple[float, float] | None = None,
    ) -> None:
        from weir.stats.service import STARTED

        self.conds = tuple(conds)
        self.runtime = runtime
        self.started = started or STARTED

    def matches(self, stream: Stream) -> bool:
        """True when a `use-service prometheus-exporter` rule takes this request (a rule
        without condition takes every request)."""
        return any(cond is None or cond(stream) for cond in self.conds)

    def render(self, query: Query | None = None) -> str:
        listeners = sum(len(fe.binds) for fe in self.runtime.frontends)
        return render(self.runtime, Clock.now(*self.started), query, listeners=listeners)

    def respond(self, method: bytes, target: bytes, *, close: bool = False) -> bytes:
        """The whole HTTP/1.1 response: the metrics, or a 400 for a bad query string."""
        from weir.stats.service import ERROR_400, http_response

        try:
            query = parse_query(target)
        except BadQueryError:
            return http_response(b"400 Bad Request", [], ERROR_400, method, close)
        body = self.render(query).encode("utf-8", "surrogateescape")
        return http_response(b"200 OK", [(b"content-type", CONTENT_TYPE)], body, method, close)
