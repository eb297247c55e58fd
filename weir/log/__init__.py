"""Logging: syslog framing, HAProxy's httplog/tcplog lines, non-blocking outputs.

Build a `LogHub(cfg, actconn=limiter)` once per running configuration and ask it for each
proxy's `Logger` (None when the proxy has no log target) and each frontend's `Captures`
(None when the HTTP session has nothing to record for it: see weir.log.captures for the
three hooks). `hub.info()` gives the counters `show info` prints. Keywords register from
`weir.log.keywords`; whole-configuration checks (formats compile there) are
`check_logging`.
"""

from __future__ import annotations

from weir.log.captures import Captures, capture_request, capture_response, unique_id_line
from weir.log.checks import check_logging
from weir.log.formats import clf_line, connect_line, http_line, stopped_line, tcp_line
from weir.log.logger import Counted, Logger, LogHub
from weir.log.sink import Sinks
from weir.log.syslog import FACILITIES, LEVELS, Format, Framer, Level

__all__ = [
    "FACILITIES",
    "LEVELS",
    "Captures",
    "Counted",
    "Format",
    "Framer",
    "Level",
    "LogHub",
    "Logger",
    "Sinks",
    "capture_request",
    "capture_response",
    "check_logging",
    "clf_line",
    "connect_line",
    "http_line",
    "stopped_line",
    "tcp_line",
    "unique_id_line",
]
