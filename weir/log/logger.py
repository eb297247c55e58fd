"""Runtime loggers: the targets of one proxy, the line format it uses, and when to log.

`LogHub(cfg)` is built once per running configuration; `hub.logger(px)` gives the Logger of
a proxy, or None when the proxy has no log target, so that the data path pays one
`is not None` test per stream when logging is off. Formatting happens only after a target
has accepted the line's level (and its `sample` slot): a line nobody receives is never
built. `hub.captures(px)` gives what the HTTP session must record for a frontend
(weir.log.captures), or None.

Levels: traffic lines go out at `info`, or at `err` with `option log-separate-errors` for a
stream that ended in error. Each target drops a line more verbose than its max level and
raises a line more severe than its min level up to that level, as HAProxy does.

Line formats: `option httplog` (and `clf`) and `option tcplog` use the dedicated
formatters of weir.log.formats, which measure about 30% faster than the same presets
compiled as log-format strings; the compiled presets take over when the frontend has
header captures (%hr/%hs) or `option logasap`, which the dedicated ones do not print.
`log-format` and the JSON presets are always compiled (weir.log.logformat).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Protocol

from weir.config.address import Family
from weir.config.model import Config, LogTarget, Mode, Proxy
from weir.log import formats
from weir.log.captures import Captures
from weir.log.lfvars import Env
from weir.log.logformat import (
    HTTPLOG,
    HTTPLOG_CLF,
    HTTPLOG_JSON,
    TCPLOG,
    TCPLOG_JSON,
    LineFormat,
    compile_format,
)
from weir.log.sink import Alert, DgramSink, FdSink, Sinks
from weir.log.syslog import Format, Framer, Level, resolve_format
from weir.stream import Stream

LineFn = Callable[[Stream, int], str]

# HAProxy builds each message in a buffer of the largest `len` of any target (1024 at
# least) and keeps one byte for the terminating NUL.
DEFAULT_MAX_LINE = 1024
_INFO = int(Level.INFO)
_ERR = int(Level.ERR)


class Counted(Protocol):
    """Anything with a live count in `cur` (the process-wide ConnLimiter for %ac)."""

    cur: int


class _Zero:
    cur = 0


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class Target:
    """One `log` line at run time: filter, sampling, framing, and where bytes go."""

    __slots__ = (
        "count",
        "framer",
        "limit",
        "max_level",
        "min_level",
        "period",
        "positions",
        "wants_sd",
    )

    def __init__(self, conf: LogTarget, framer: Framer, limit: int) -> None:
        self.framer = framer
        self.limit = limit
        self.max_level = conf.max_level
        self.min_level = conf.min_level
        self.period = conf.sample_size if conf.sample_ranges else 0
        # 0-based [first, last] positions within each period that are sent.
        self.positions = tuple((low - 1, high - 1) for low, high in conf.sample_ranges)
        self.count = 0
        self.wants_sd = framer.fmt is Format.RFC5424

    def takes(self, level: int) -> bool:
        """Whether this target sends a line of `level`; consumes a sampling slot if so."""
        if level > self.max_level:
            return False
        if self.period:
            pos = self.count
            self.count = pos + 1 if pos + 1 < self.period else 0
            return any(first <= pos <= last for first, last in self.positions)
        return True

    def emit(self, level: int, message: bytes, now: float, sd: bytes = b"") -> None:
        raise NotImplementedError


class DgramTarget(Target):
    __slots__ = ("addr", "sink")

    def __init__(
        self, conf: LogTarget, framer: Framer, sink: DgramSink, addr: str | tuple[str, int]
    ) -> None:
        # A datagram keeps `len` bytes of header and message, then the LF.
        super().__init__(conf, framer, conf.length)
        self.sink = sink
        self.addr = addr

    def emit(self, level: int, message: bytes, now: float, sd: bytes = b"") -> None:
        if level < self.min_level:  # noqa: PLR1730 - no max() call on the per-line path
            level = self.min_level
        self.sink.send(self.framer.frame(level, message, now, self.limit, sd), self.addr)


class FdTarget(Target):
    __slots__ = ("sink",)

    def __init__(self, conf: LogTarget, framer: Framer, sink: FdSink) -> None:
        # On a descriptor the LF counts within `len`.
        super().__init__(conf, framer, conf.length - 1)
        self.sink = sink

    def emit(self, level: int, message: bytes, now: float, sd: bytes = b"") -> None:
        if level < self.min_level:  # noqa: PLR1730 - no max() call on the per-line path
            level = self.min_level
        self.sink.send(self.framer.frame(level, message, now, self.limit, sd))


class Logger:
    """The log side of one proxy.

    Contract for the sessions: call `log(stream)` once when a stream ends (after the
    server's and backend's counts were released, before the frontend's and the process's
    were: HAProxy's feconn and actconn still count the logged stream, beconn and srv_conn
    no longer do). When `wants_accept` is true (log targets but no log format), call
    `accept(...)` when a stream starts instead. A stream logged early (`option logasap`,
    through weir.log.captures) is not logged again.
    Other concerns (checks, process) send their events with `send(level, text)`.
    """

    __slots__ = (
        "_build_first",
        "_cap",
        "_fmt",
        "_line",
        "_max_level",
        "_sd",
        "_targets",
        "_test_errors",
        "actconn",
        "captures",
        "dontlog_normal",
        "dontlognull",
        "http",
        "name",
        "separate_errors",
        "wants_accept",
    )

    def __init__(
        self,
        name: str,
        targets: list[Target],
        line: LineFn | None,
        *,
        http: bool,
        actconn: Counted,
        max_line: int,
        frontend: bool = True,
        dontlognull: bool = False,
        dontlog_normal: bool = False,
        separate_errors: bool = False,
        sd: LineFormat | None = None,
        captures: Captures | None = None,
    ) -> None:
        self.name = name
        self._targets = targets
        self._line = line
        self._fmt = line if isinstance(line, LineFormat) else None
        # A format that may print nothing is built before targets are asked, so that an
        # empty line (never sent) takes no sampling slot.
        self._build_first = self._fmt is not None and self._fmt.can_be_empty
        self._sd = sd if any(t.wants_sd for t in targets) else None
        self._max_level = max(t.max_level for t in targets)
        self._cap = max_line - 1
        self.http = http
        self.actconn = actconn
        self.dontlognull = dontlognull
        self.dontlog_normal = dontlog_normal
        self.separate_errors = separate_errors
        self._test_errors = dontlog_normal or separate_errors
        self.wants_accept = frontend and line is None
        self.captures = captures

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(self._targets)

    def _level(self, s: Stream) -> int:
        """The level of a stream's line, or -1 when it is not logged at all."""
        if self.dontlognull and s.bytes_in == 0:
            return -1
        level = _INFO
        if self._test_errors:
            err = formats.is_error(s, self.http)
            if not err:
                if self.dontlog_normal:
                    return -1
            elif self.separate_errors:
                level = _ERR
        return level if level <= self._max_level else -1

    def log(self, s: Stream) -> None:
        """The traffic line of a stream that ended (nothing in `accept` mode)."""
        # The per-request path when logging is on: `_level` is inlined on purpose.
        line = self._line
        if line is None or s.logged:
            return
        if self.dontlognull and s.bytes_in == 0:
            return
        level = _INFO
        if self._test_errors:
            if not formats.is_error(s, self.http):
                if self.dontlog_normal:
                    return
            elif self.separate_errors:
                level = _ERR
        if s.log_level is not None:  # `set-log-level`; -1 is "silent"
            if s.log_level < 0:
                return
            level = s.log_level
        if level > self._max_level:
            return
        caps = self.captures
        if caps is not None:
            if s.req_cap is None:
                caps.request(s, s.req)
            caps.ensure_id(s)
        if self._build_first:
            text = line(s, self.actconn.cur)
            if not text:
                return
            chosen = [t for t in self._targets if t.takes(level)]
            if chosen:
                self._emit(chosen, level, text, s)
            return
        targets = self._targets
        if len(targets) == 1:  # the common case, without building a list of one
            if targets[0].takes(level):
                self._emit(targets, level, line(s, self.actconn.cur), s)
            return
        chosen = [t for t in targets if t.takes(level)]
        if chosen:
            self._emit(chosen, level, line(s, self.actconn.cur), s)

    def log_early(self, s: Stream, out: int) -> None:
        """`option logasap`: the line of a stream whose response head just arrived, with
        `out` bytes sent so far; the end of the stream then logs nothing more."""
        fmt = self._fmt
        if fmt is None or s.logged:
            return
        level = self._level(s)
        if level < 0:
            return
        caps = self.captures
        if caps is not None:
            if s.req_cap is None:
                caps.request(s, s.req)
            caps.ensure_id(s)
        text = fmt.render(s, self.actconn.cur, out)
        s.logged = True
        if not text:
            return
        chosen = [t for t in self._targets if t.takes(level)]
        if chosen:
            self._emit(chosen, level, text, s)

    def accept(self, client_ip: str, client_port: int, local_ip: str, local_port: int) -> None:
        """HAProxy's default format: one `Connect from …` line per new stream."""
        if self._max_level < _INFO:
            return
        chosen = [t for t in self._targets if t.takes(_INFO)]
        if chosen:
            self._emit(
                chosen,
                _INFO,
                formats.connect_line(
                    client_ip, client_port, local_ip, local_port, frontend=self.name, http=self.http
                ),
            )

    def send(self, level: int, text: str) -> None:
        """Any other message (server state changes, proxy stops) at syslog `level`."""
        if level > self._max_level:
            return
        chosen = [t for t in self._targets if t.takes(level)]
        if chosen:
            self._emit(chosen, level, text.rstrip("\n"))

    def _emit(self, chosen: list[Target], level: int, text: str, s: Stream | None = None) -> None:
        msg = _encode(text)
        if len(msg) > self._cap:
            msg = msg[: self._cap]
        fmt = self._fmt
        if fmt is not None and s is not None:
            fmt.counter[0] += 1
        sd = b""
        if self._sd is not None and s is not None and any(t.wants_sd for t in chosen):
            # HAProxy drops the structured data's trailing blanks; empty prints as "-".
            sd = _encode(self._sd(s, self.actconn.cur).rstrip(" "))[: self._cap]
        now = time.time()
        for t in chosen:
            t.emit(level, msg, now, sd)


def _bind_address(px: Proxy) -> tuple[str, int] | None:
    """The frontend's own address for %fi/%fp when its one bind names one IP and port
    (the session may record the real one in `Stream.frontend_addr` instead)."""
    addrs = [a for b in px.binds for a in b.addresses]
    if len(addrs) != 1:
        return None
    a = addrs[0]
    if a.family not in (Family.IPV4, Family.IPV6) or not a.host or a.port_low != a.port_high:
        return None
    if a.host in ("0.0.0.0", "::"):
        return None
    return a.host, a.port_low


def format_env(px: Proxy, counter: list[int] | None = None) -> Env:
    """What a proxy's formats are compiled for."""
    return Env(
        http=px.mode is Mode.HTTP,
        n_req=len(px.capture_request_headers),
        n_res=len(px.capture_response_headers),
        asap=px.logasap,
        counter=counter if counter is not None else [0],
        local=_bind_address(px),
    )


def traffic_format(px: Proxy) -> str | None:
    """The log-format string a frontend uses (its own, or the preset of its option), or
    None for HAProxy's accept-time default."""
    if px.log_format is not None:
        return px.log_format
    http = px.mode is Mode.HTTP
    if px.httplog and http:
        if px.log_json:
            return HTTPLOG_JSON
        return HTTPLOG_CLF if px.httplog_clf else HTTPLOG
    if px.httplog or px.tcplog:  # HAProxy falls back to tcplog (`check_logging` warns)
        return TCPLOG_JSON if px.log_json else TCPLOG
    return None


def _traffic_line(px: Proxy, env: Env) -> LineFn | None:
    """The end-of-stream line a frontend sends, or None for HAProxy's accept-time format."""
    text = traffic_format(px)
    if text is None:
        return None
    dedicated = {
        HTTPLOG: formats.http_line,
        HTTPLOG_CLF: formats.clf_line,
        TCPLOG: formats.tcp_line,
    }.get(text)
    if dedicated is not None and not (env.n_req or env.n_res or env.asap):
        return dedicated
    return compile_format(text, env)


class LogHub:
    """Every logger of one running configuration, and the outputs they share.

    `actconn` is the process-wide live connection count (%ac); `alert` reports an output
    that fails (once per output), by default on stderr in HAProxy's style.
    """

    __slots__ = ("_by_proxy", "_captures", "_cfg", "actconn", "global_logger", "max_line", "sinks")

    def __init__(
        self, cfg: Config, actconn: Counted | None = None, alert: Alert | None = None
    ) -> None:
        self._cfg = cfg
        self.actconn: Counted = actconn if actconn is not None else _Zero()
        self.sinks = Sinks(alert)
        lengths = [t.length for t in cfg.global_.logs]
        lengths += [t.length for px in cfg.proxies for t in px.logs]
        self.max_line = max([DEFAULT_MAX_LINE, *lengths])
        self._by_proxy: dict[int, Logger | None] = {}
        self._captures: dict[int, Captures | None] = {}
        g = cfg.global_
        targets = self._targets(g.logs, g.log_tag)
        self.global_logger = (
            Logger(
                "",
                targets,
                None,
                http=False,
                actconn=self.actconn,
                max_line=self.max_line,
                frontend=False,
            )
            if targets
            else None
        )

    def logger(self, px: Proxy) -> Logger | None:
        """The Logger of proxy `px` (the same one for both halves of a `listen`), or None
        when `px` has no log target."""
        key = id(px)
        if key in self._by_proxy:
            return self._by_proxy[key]
        targets = self._targets(px.logs, px.log_tag or self._cfg.global_.log_tag)
        lg: Logger | None = None
        if targets:
            fe = px.cap.is_frontend
            env = format_env(px)
            sd = None
            if fe and px.log_format_sd is not None:
                sd = compile_format(px.log_format_sd, format_env(px, env.counter))
            caps = self.captures(px) if fe else None
            lg = Logger(
                px.name,
                targets,
                _traffic_line(px, env) if fe else None,
                http=px.mode is Mode.HTTP,
                actconn=self.actconn,
                max_line=self.max_line,
                frontend=fe,
                dontlognull=px.dontlognull,
                dontlog_normal=px.dontlog_normal,
                separate_errors=px.log_separate_errors,
                sd=sd,
                captures=caps,
            )
            if caps is not None:
                caps.logger = lg
        self._by_proxy[key] = lg
        return lg

    def captures(self, px: Proxy) -> Captures | None:
        """What the HTTP session must record for frontend `px` (header and cookie
        captures, the unique id, option logasap), or None when it records nothing: the
        session then never calls weir.log.captures."""
        key = id(px)
        if key in self._captures:
            return self._captures[key]
        caps: Captures | None = None
        http = px.mode is Mode.HTTP
        if px.cap.is_frontend and _captures_anything(px) and (http or px.unique_id_format):
            uid = None
            if px.unique_id_format is not None:
                env = format_env(px)
                env.uid = True
                uid = compile_format(px.unique_id_format, env, mandatory=False)
            caps = Captures(
                req=px.capture_request_headers,
                res=px.capture_response_headers,
                cookie=px.capture_cookie,
                uid=uid,
                uid_header=px.unique_id_header,
                asap=px.logasap and bool(px.logs) and traffic_format(px) is not None,
                http=http,
            )
        self._captures[key] = caps
        return caps

    def info(self) -> list[tuple[str, int]]:
        """Counters for the runtime API's `show info`, in order: DroppedLogs (HAProxy's
        name: lines dropped because an output was full), then weir's FailedLogs (lost to
        another error) and SentLogs (handed to the kernel whole)."""
        s = self.sinks
        return [("DroppedLogs", s.dropped), ("FailedLogs", s.failed), ("SentLogs", s.sent)]

    def _targets(self, confs: list[LogTarget], tag: str) -> list[Target]:
        host = self._cfg.global_.log_send_hostname
        out: list[Target] = []
        for conf in confs:
            framer = Framer(resolve_format(conf.fmt, host), conf.facility, tag, host)
            addr = conf.address
            if addr is None or addr.family is Family.FD:
                fd = conf.fd if addr is None else addr.fd
                out.append(FdTarget(conf, framer, self.sinks.fd(fd)))
            elif addr.family is Family.UNIX:
                out.append(DgramTarget(conf, framer, self.sinks.dgram(socket.AF_UNIX), addr.host))
            else:
                fam = socket.AF_INET6 if addr.family is Family.IPV6 else socket.AF_INET
                out.append(
                    DgramTarget(conf, framer, self.sinks.dgram(fam), (addr.host, addr.port_low))
                )
        return out

    def close(self) -> None:
        """Flush what descriptors still hold and close the hub's sockets."""
        self.sinks.flush()
        self.sinks.close()


def _captures_anything(px: Proxy) -> bool:
    return bool(
        px.capture_request_headers
        or px.capture_response_headers
        or px.capture_cookie is not None
        or px.unique_id_format is not None
        or (px.logasap and px.logs)
    )
