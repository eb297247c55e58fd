"""Runtime loggers: the targets of one proxy, the line format it uses, and when to log.

`LogHub(cfg)` is built once per running configuration; `hub.logger(px)` gives the Logger of
a proxy, or None when the proxy has no log target, so that the data path pays one
`is not None` test per stream when logging is off. Formatting happens only after a target
has accepted the line's level (and its `sample` slot): a line nobody receives is never
built.

Levels: traffic lines go out at `info`, or at `err` with `option log-separate-errors` for a
stream that ended in error. Each target drops a line more verbose than its max level and
raises a line more severe than its min level up to that level, as HAProxy does.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Protocol

from weir.config.address import Family
from weir.config.model import Config, LogTarget, Mode, Proxy
from weir.log import formats
from weir.log.sink import Alert, DgramSink, FdSink, Sinks
from weir.log.syslog import Framer, Level, resolve_format
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

    __slots__ = ("count", "framer", "limit", "max_level", "min_level", "period", "positions")

    def __init__(self, conf: LogTarget, framer: Framer, limit: int) -> None:
        self.framer = framer
        self.limit = limit
        self.max_level = conf.max_level
        self.min_level = conf.min_level
        self.period = conf.sample_size if conf.sample_ranges else 0
        # 0-based [first, last] positions within each period that are sent.
        self.positions = tuple((low - 1, high - 1) for low, high in conf.sample_ranges)
        self.count = 0

    def takes(self, level: int) -> bool:
        """Whether this target sends a line of `level`; consumes a sampling slot if so."""
        if level > self.max_level:
            return False
        if self.period:
            pos = self.count
            self.count = pos + 1 if pos + 1 < self.period else 0
            return any(first <= pos <= last for first, last in self.positions)
        return True

    def emit(self, level: int, message: bytes, now: float) -> None:
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

    def emit(self, level: int, message: bytes, now: float) -> None:
        level = max(level, self.min_level)
        self.sink.send(self.framer.frame(level, message, now, self.limit), self.addr)


class FdTarget(Target):
    __slots__ = ("sink",)

    def __init__(self, conf: LogTarget, framer: Framer, sink: FdSink) -> None:
        # On a descriptor the LF counts within `len`.
        super().__init__(conf, framer, conf.length - 1)
        self.sink = sink

    def emit(self, level: int, message: bytes, now: float) -> None:
        level = max(level, self.min_level)
        self.sink.send(self.framer.frame(level, message, now, self.limit))


class Logger:
    """The log side of one proxy.

    Contract for the sessions: call `log(stream)` once when a stream ends (after the
    server's and backend's counts were released, before the frontend's and the process's
    were: HAProxy's feconn and actconn still count the logged stream, beconn and srv_conn
    no longer do). When `wants_accept` is true (log targets but neither `option httplog`
    nor `option tcplog`), call `accept(...)` when a stream starts instead.
    Other concerns (checks, process) send their events with `send(level, text)`.
    """

    __slots__ = (
        "_cap",
        "_line",
        "_max_level",
        "_targets",
        "_test_errors",
        "actconn",
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
    ) -> None:
        self.name = name
        self._targets = targets
        self._line = line
        self._max_level = max(t.max_level for t in targets)
        self._cap = max_line - 1
        self.http = http
        self.actconn = actconn
        self.dontlognull = dontlognull
        self.dontlog_normal = dontlog_normal
        self.separate_errors = separate_errors
        self._test_errors = dontlog_normal or separate_errors
        self.wants_accept = frontend and line is None

    @property
    def targets(self) -> tuple[Target, ...]:
        return tuple(self._targets)

    def log(self, s: Stream) -> None:
        """The traffic line of a stream that ended (nothing in `accept` mode)."""
        line = self._line
        if line is None:
            return
        if self.dontlognull and s.bytes_in == 0:
            return
        level = _INFO
        if self._test_errors:
            err = formats.is_error(s, self.http)
            if not err:
                if self.dontlog_normal:
                    return
            elif self.separate_errors:
                level = _ERR
        if level > self._max_level:
            return
        chosen = [t for t in self._targets if t.takes(level)]
        if chosen:
            self._emit(chosen, level, line(s, self.actconn.cur))

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

    def _emit(self, chosen: list[Target], level: int, text: str) -> None:
        msg = _encode(text)
        if len(msg) > self._cap:
            msg = msg[: self._cap]
        now = time.time()
        for t in chosen:
            t.emit(level, msg, now)


def _traffic_line(px: Proxy) -> LineFn | None:
    """The end-of-stream line a frontend sends, or None for HAProxy's accept-time format."""
    if px.httplog:
        if px.mode is Mode.HTTP:
            return formats.clf_line if px.httplog_clf else formats.http_line
        return formats.tcp_line  # HAProxy falls back (and `check_logging` warns)
    if px.tcplog:
        return formats.tcp_line
    return None


class LogHub:
    """Every logger of one running configuration, and the outputs they share.

    `actconn` is the process-wide live connection count (%ac); `alert` reports an output
    that fails (once per output), by default on stderr in HAProxy's style.
    """

    __slots__ = ("_by_proxy", "_cfg", "actconn", "global_logger", "max_line", "sinks")

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
            lg = Logger(
                px.name,
                targets,
                _traffic_line(px) if fe else None,
                http=px.mode is Mode.HTTP,
                actconn=self.actconn,
                max_line=self.max_line,
                frontend=fe,
                dontlognull=px.dontlognull,
                dontlog_normal=px.dontlog_normal,
                separate_errors=px.log_separate_errors,
            )
        self._by_proxy[key] = lg
        return lg

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
