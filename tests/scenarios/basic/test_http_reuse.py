"""Idle server connections shared between client sessions (`http-reuse`), through weir and
HAProxy 2.6 side by side. Two servers in round robin; client A sends one request (to s1)
and leaves; client B sends two (to s2, then s1). B's second request may take the
connection A left to s1 with `safe` (not a first request), `aggressive` and `always`;
never with `never` or `pool-max-conn 0`. With `always`, even a session's first request
takes one."""

from __future__ import annotations

import http.client
import threading
from typing import Any

import pytest

from tests.helpers.ports import free_port

CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
{reuse}
    server s1 {s1}{opts}
    server s2 {s2}{opts}
"""


def _client(port: int, paths: list[str]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        for path in paths:
            conn.request("GET", path, headers={"Host": "x"})
            r = conn.getresponse()
            r.read()
            assert r.status == 200
    finally:
        conn.close()


CASES = {
    # (http-reuse line, server options) -> connections s1 saw for /a1 and /b2
    "safe": ("", ""),
    "never": ("    http-reuse never", ""),
    "aggressive": ("    http-reuse aggressive", ""),
    "always": ("    http-reuse always", ""),
    "pool-max-conn 0": ("", " pool-max-conn 0"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_connections_shared_between_sessions(
    case: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    results = {}
    for program, start in (("haproxy", haproxy), ("weir", weir)):
        s1, s2 = http_backend(f"{program}-s1"), http_backend(f"{program}-s2")
        port = free_port()
        reuse, opts = CASES[case]
        start(
            CFG.format(port=port, reuse=reuse, opts=opts, s1=s1.address, s2=s2.address),
            wait_ports=[port],
        )
        _client(port, ["/a1"])
        threading.Event().wait(0.1)  # HAProxy pools a connection once its session ends
        _client(port, ["/b1", "/b2"])
        results[program] = (
            [r.path for r in s1.requests],
            len({r.conn for r in s1.requests}),
            [r.path for r in s2.requests],
        )
    assert results["weir"] == results["haproxy"], results
    shared = case in ("safe", "aggressive", "always")
    assert results["weir"] == (["/a1", "/b2"], 1 if shared else 2, ["/b1"])


def test_always_shares_first_requests(weir: Any, haproxy: Any, http_backend: Any) -> None:
    results = {}
    for program, start in (("haproxy", haproxy), ("weir", weir)):
        s1 = http_backend(f"{program}-one")
        port = free_port()
        cfg = CFG.format(port=port, reuse="    http-reuse always", opts="", s1=s1.address, s2="")
        start(cfg.replace("    server s2 \n", ""), wait_ports=[port])
        for path in ("/1", "/2", "/3"):
            _client(port, [path])  # a new client session each time
            threading.Event().wait(0.1)  # HAProxy pools a connection once its session ends
        results[program] = len({r.conn for r in s1.requests})
    assert results == {"haproxy": 1, "weir": 1}


def test_idle_connections_are_purged(weir: Any, http_backend: Any) -> None:
    """Every pool-purge-delay half of a server's idle connections close: the one A left
    is gone after a few delays, and B's second request needs a new connection."""
    s1, s2 = http_backend("p1"), http_backend("p2")
    port = free_port()
    opts = " pool-purge-delay 100ms"
    weir(
        CFG.format(port=port, reuse="", opts=opts, s1=s1.address, s2=s2.address), wait_ports=[port]
    )
    _client(port, ["/a1"])
    threading.Event().wait(0.6)
    _client(port, ["/b1", "/b2"])
    assert [r.path for r in s1.requests] == ["/a1", "/b2"]
    assert len({r.conn for r in s1.requests}) == 2
