"""Test equipment shared by every test tier: free ports, proxy processes, tiny backends.

from tests.helpers import HttpBackend, ProxyProcess, free_port, weir_argv
"""

from __future__ import annotations

from tests.helpers.backends import (
    HTTP_MODES,
    TCP_MODES,
    HttpBackend,
    HttpMode,
    RecordedRequest,
    TcpEchoBackend,
    TcpMode,
    wait_until,
)
from tests.helpers.ports import (
    LOOPBACK,
    free_port,
    is_listening,
    wait_closed,
    wait_listening,
    wait_port,
)
from tests.helpers.procs import (
    HAPROXY_BIN,
    ProxyProcess,
    ProxyStartError,
    haproxy_argv,
    haproxy_available,
    run_check,
    weir_argv,
)

__all__ = [
    "HAPROXY_BIN",
    "HTTP_MODES",
    "LOOPBACK",
    "TCP_MODES",
    "HttpBackend",
    "HttpMode",
    "ProxyProcess",
    "ProxyStartError",
    "RecordedRequest",
    "TcpEchoBackend",
    "TcpMode",
    "free_port",
    "haproxy_argv",
    "haproxy_available",
    "is_listening",
    "run_check",
    "wait_closed",
    "wait_listening",
    "wait_port",
    "wait_until",
    "weir_argv",
]
