"""Process-wide figures: the `show info` fields, and the `haproxy_process_*` metrics.

`INFO` lists HAProxy 2.6's info fields with their positions (what `show info typed` and
`show info json` number them by), names verbatim, the typed-output tags (origin, nature,
scope: see `weir.stats.typed`), the value type, and the Prometheus metric the exporter
derives from each (None: not exported). Positions 45 and 46 (zlib memory) only exist in
builds with zlib; weir has none, so they are absent from `show info` and read NaN in
Prometheus, as with HAProxy built without zlib.

`info_values(...)` reads the runtime once and returns every field's value. What weir does
not have (SSL, pipes, compression, memory pools, peers) reads as zero.

The product identifies itself as HAProxy (`Name: HAProxy`): client libraries for HAProxy's
runtime API check that name before they talk to a socket. `Version` says what it is:
the HAProxy release weir follows, then weir's own version.
"""

from __future__ import annotations

import asyncio
import os
import resource
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

from weir.tcp.splice import POOL
from weir.version import HAPROXY_VERSION, __version__

if TYPE_CHECKING:
    from weir.proxy.runtime import Runtime
    from weir.stats.fields import Clock

PRODUCT = "HAProxy"
VERSION = f"{HAPROXY_VERSION}-weir-{__version__}"
RELEASE_DATE = "2026/11/23"  # weir 0.1.0


@dataclass(frozen=True, slots=True)
class InfoField:
    pos: int
    name: str
    tags: str  # origin, nature, scope letters, e.g. "MCP"
    type: str  # "u32", "u64", "str", ...
    metric: str | None  # haproxy_process_<metric>
    counter: bool  # Prometheus type: counter, else gauge
    doc: str


def _i(pos: int, name: str, tags: str, typ: str, metric: str | None, doc: str) -> InfoField:  # noqa: PLR0917
    counter = metric is not None and (metric.endswith("_total") or metric == "failed_resolutions")
    return InfoField(pos, name, tags, typ, metric, counter, doc)


INFO: tuple[InfoField, ...] = (
    _i(0, "Name", "POS", "str", None, "product name"),
    _i(1, "Version", "POS", "str", None, "product version"),
    _i(2, "Release_date", "POS", "str", None, "release date of this version"),
    _i(3, "Nbthread", "CGS", "u32", "nbthread", "threads started"),
    _i(4, "Nbproc", "CGS", "u32", "nbproc", "worker processes (always 1)"),
    _i(5, "Process_num", "KGP", "u32", "relative_process_id", "number of this worker (1)"),
    _i(6, "Pid", "SGP", "u32", None, "process id"),
    _i(7, "Uptime", "MDP", "str", None, "time since start, as text"),
    _i(8, "Uptime_sec", "MDP", "u32", "uptime_seconds", "seconds since the process started"),
    _i(9, "Memmax_MB", "CLP", "u32", None, "memory limit, MB (0: none)"),
    _i(10, "PoolAlloc_MB", "MGP", "u32", None, "memory held by pools, MB"),
    _i(11, "PoolUsed_MB", "MGP", "u32", None, "pool memory in use, MB"),
    _i(12, "PoolFailed", "MCP", "u32", "pool_failures_total", "failed pool allocations"),
    _i(13, "Ulimit-n", "CLP", "u32", "max_fds", "file descriptor limit"),
    _i(14, "Maxsock", "CLP", "u32", "max_sockets", "most sockets the process may open"),
    _i(15, "Maxconn", "CLP", "u32", "max_connections", "connection limit now"),
    _i(16, "Hard_maxconn", "CLP", "u32", "hard_max_connections", "connection limit at start"),
    _i(17, "CurrConns", "MGP", "u32", "current_connections", "connections now"),
    _i(18, "CumConns", "MCP", "u32", "connections_total", "connections since start"),
    _i(19, "CumReq", "MCP", "u32", "requests_total", "HTTP requests since start"),
    _i(20, "MaxSslConns", "MMP", "u32", "max_ssl_connections", "SSL connection limit"),
    _i(21, "CurrSslConns", "MGP", "u32", "current_ssl_connections", "SSL connections now"),
    _i(22, "CumSslConns", "MCP", "u32", "ssl_connections_total", "SSL connections since start"),
    _i(23, "Maxpipes", "CLP", "u32", "max_pipes", "pipe limit"),
    _i(24, "PipesUsed", "MGP", "u32", "pipes_used_total", "pipes in use"),
    _i(25, "PipesFree", "MGP", "u32", "pipes_free_total", "pipes free"),
    _i(26, "ConnRate", "MRP", "u32", "current_connection_rate", "connections over the last second"),
    _i(27, "ConnRateLimit", "CLP", "u32", "limit_connection_rate", "connection rate limit"),
    _i(28, "MaxConnRate", "MMP", "u32", "max_connection_rate", "highest ConnRate seen"),
    _i(29, "SessRate", "MRP", "u32", "current_session_rate", "sessions over the last second"),
    _i(30, "SessRateLimit", "CLP", "u32", "limit_session_rate", "session rate limit"),
    _i(31, "MaxSessRate", "MRP", "u32", "max_session_rate", "highest SessRate seen"),
    _i(32, "SslRate", "MRP", "u32", "current_ssl_rate", "SSL sessions over the last second"),
    _i(33, "SslRateLimit", "CLP", "u32", "limit_ssl_rate", "SSL session rate limit"),
    _i(34, "MaxSslRate", "MMP", "u32", "max_ssl_rate", "highest SslRate seen"),
    _i(
        35,
        "SslFrontendKeyRate",
        "MGP",
        "u32",
        "current_frontend_ssl_key_rate",
        "SSL keys computed for clients per second",
    ),
    _i(
        36,
        "SslFrontendMaxKeyRate",
        "MMP",
        "u32",
        "max_frontend_ssl_key_rate",
        "highest SslFrontendKeyRate seen",
    ),
    _i(
        37,
        "SslFrontendSessionReuse_pct",
        "MGP",
        "u32",
        "frontend_ssl_reuse",
        "client SSL sessions resumed, %",
    ),
    _i(
        38,
        "SslBackendKeyRate",
        "MRP",
        "u32",
        "current_backend_ssl_key_rate",
        "SSL keys computed for servers per second",
    ),
    _i(
        39,
        "SslBackendMaxKeyRate",
        "MMP",
        "u32",
        "max_backend_ssl_key_rate",
        "highest SslBackendKeyRate seen",
    ),
    _i(40, "SslCacheLookups", "MCP", "u32", "ssl_cache_lookups_total", "SSL session cache lookups"),
    _i(41, "SslCacheMisses", "MCP", "u32", "ssl_cache_misses_total", "SSL session cache misses"),
    _i(
        42,
        "CompressBpsIn",
        "MRP",
        "u32",
        "http_comp_bytes_in_total",
        "bytes per second into the compressor",
    ),
    _i(
        43,
        "CompressBpsOut",
        "MRP",
        "u32",
        "http_comp_bytes_out_total",
        "bytes per second out of the compressor",
    ),
    _i(44, "CompressBpsRateLim", "CLP", "u32", "limit_http_comp", "compression rate limit"),
    _i(45, "ZlibMemUsage", "MGP", "u32", "current_zlib_memory", "zlib memory in use"),
    _i(46, "MaxZlibMemUsage", "CLP", "u32", "max_zlib_memory", "zlib memory limit"),
    _i(47, "Tasks", "MGP", "u32", "current_tasks", "tasks now"),
    _i(48, "Run_queue", "MGP", "u32", "current_run_queue", "tasks ready to run"),
    _i(49, "Idle_pct", "MaP", "u32", "idle_time_percent", "share of time spent idle, %"),
    _i(50, "node", "COS", "str", None, "node name (global 'node')"),
    _i(51, "description", "COS", "str", None, "node description (global 'description')"),
    _i(52, "Stopping", "MGP", "u32", "stopping", "1 while the process is stopping"),
    _i(53, "Jobs", "MGP", "u32", "jobs", "active jobs (connections, listeners, ...)"),
    _i(54, "Unstoppable Jobs", "MGP", "u32", "unstoppable_jobs", "jobs that a soft stop waits for"),
    _i(55, "Listeners", "MGP", "u32", "listeners", "listening sockets"),
    _i(56, "ActivePeers", "MGP", "u32", "active_peers", "peers being connected"),
    _i(57, "ConnectedPeers", "MGP", "u32", "connected_peers", "peers connected"),
    _i(58, "DroppedLogs", "MGP", "u32", "dropped_logs_total", "log lines that could not be sent"),
    _i(59, "BusyPolling", "MGP", "u32", "busy_polling_enabled", "1 when busy polling is on"),
    _i(60, "FailedResolutions", "MGP", "u32", "failed_resolutions", "failed DNS resolutions"),
    _i(61, "TotalBytesOut", "MGP", "u64", "bytes_out_total", "bytes sent to clients"),
    _i(
        62,
        "TotalSplicdedBytesOut",
        "MGP",
        "u64",
        "spliced_bytes_out_total",
        "bytes sent by splicing",
    ),
    _i(63, "BytesOutRate", "MRP", "u64", "bytes_out_rate", "bytes sent per second"),
    _i(64, "DebugCommandsIssued", "MGP", "u32", None, "debug commands issued"),
    _i(65, "CumRecvLogs", "MCP", "u32", "recv_logs_total", "log messages received"),
    _i(66, "Build info", "POS", "str", "build_info", "build information"),
    _i(67, "Memmax_bytes", "CLP", "u32", "max_memory_bytes", "memory limit, bytes (0: none)"),
    _i(68, "PoolAlloc_bytes", "MGP", "u64", "pool_allocated_bytes", "memory held by pools, bytes"),
    _i(69, "PoolUsed_bytes", "MGP", "u64", "pool_used_bytes", "pool memory in use, bytes"),
    _i(
        70, "Start_time_sec", "MDP", "u32", "start_time_seconds", "when the process started (epoch)"
    ),
    _i(71, "Tainted", "SGP", "str", None, "non-zero after risky debug commands"),
)
# Fields `show info` prints (what a build without zlib has).
SHOWN: tuple[InfoField, ...] = tuple(f for f in INFO if f.pos not in (45, 46))

InfoValue = int | str | None


def uptime_text(seconds: int) -> str:
    """`0d 0h08m37s`, HAProxy's Uptime field."""
    d, rest = divmod(max(0, seconds), 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d}d {h}h{m:02d}m{s:02d}s"


def info_values(
    rt: Runtime,
    clock: Clock,
    *,
    hard_maxconn: int | None = None,
    listeners: int = 0,
    siblings: bool = True,
) -> dict[str, InfoValue]:
    """Every info field's value now. `hard_maxconn` is the limit the process started with
    (default: the current one); `listeners` the number of listening sockets."""
    g = rt.config.global_
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    ulimit = 0 if nofile == resource.RLIM_INFINITY else nofile
    fronts = rt.frontends
    mono = clock.mono
    sess_rate = sum(int(fe.counters.sess_rate.read(mono)) for fe in fronts)
    max_rate = sum(fe.counters.sess_rate.max for fe in fronts)
    try:
        tasks = len(asyncio.all_tasks())
    except RuntimeError:  # no running loop (unit tests, one-shot renderings)
        tasks = 0
    uptime = clock.uptime
    values: dict[str, InfoValue] = {
        "Name": PRODUCT,
        "Version": VERSION,
        "Release_date": RELEASE_DATE,
        "Nbthread": g.nbthread,
        "Nbproc": 1,
        "Process_num": 1,
        "Pid": os.getpid(),
        "Uptime": uptime_text(uptime),
        "Uptime_sec": uptime,
        "Memmax_MB": 0,
        "Ulimit-n": ulimit,
        "Maxsock": ulimit,
        "Maxconn": rt.limiter.limit,
        "Hard_maxconn": rt.limiter.limit if hard_maxconn is None else hard_maxconn,
        "CurrConns": rt.limiter.cur,
        "CumConns": sum(fe.counters.tot_sess for fe in fronts),
        "CumReq": sum(fe.counters.requests for fe in fronts),
        "ConnRate": sess_rate,
        "MaxConnRate": max_rate,
        "SessRate": sess_rate,
        "MaxSessRate": max_rate,
        "ZlibMemUsage": None,
        "MaxZlibMemUsage": None,
        "Tasks": tasks,
        "Idle_pct": 100,
        "node": g.node if g.node is not None else socket.gethostname(),
        "description": g.description or "",
        "Jobs": rt.limiter.cur + listeners,
        "Listeners": listeners,
        "TotalBytesOut": sum(fe.counters.bytes_out for fe in fronts),
        "Build info": VERSION,
        "Start_time_sec": int(clock.started_wall),
        "Tainted": "0",
        "Maxpipes": POOL.limit,
        "PipesUsed": POOL.used,
        "PipesFree": len(POOL.free),
        "TotalSplicdedBytesOut": POOL.spliced_out,  # (sic: HAProxy's spelling)
    }
    for f in INFO:
        values.setdefault(f.name, 0 if f.type != "str" else "")
    if siblings:  # with several workers, the process-wide counts are all of theirs
        from weir.stats.fields import sibling_info

        for name, more in sibling_info().items():
            mine = values.get(name)
            values[name] = (mine if isinstance(mine, int) else 0) + more
    return values
