"""Logging: syslog framing, HAProxy's httplog/tcplog lines, non-blocking outputs.

Build a `LogHub(cfg, actconn=limiter)` once per running configuration and ask it for each
proxy's `Logger` (None when the proxy has no log target). Keywords register from
`weir.log.keywords`; whole-configuration warnings come from `check_logging`.
"""

from __future__ import annotations

from weir.log.checks import check_logging
from weir.log.formats import clf_line, connect_line, http_line, stopped_line, tcp_line
from weir.log.logger import Counted, Logger, LogHub
from weir.log.sink import Sinks
from weir.log.syslog import FACILITIES, LEVELS, Format, Framer, Level

__all__ = [
    "FACILITIES",
    "LEVELS",
    "Counted",
    "Format",
    "Framer",
    "Level",
    "LogHub",
    "Logger",
    "Sinks",
    "check_logging",
    "clf_line",
    "connect_line",
    "http_line",
    "stopped_line",
    "tcp_line",
]
