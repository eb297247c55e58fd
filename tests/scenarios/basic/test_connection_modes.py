"""Connection modes, two requests on one client connection, through weir and HAProxy 2.6
side by side: `http-keep-alive` (the default) reuses the server connection;
`http-server-close` keeps the client's but closes the server's after each response,
telling the server so (`Connection: close`), unless `http-pretend-keepalive`, which
keeps that from the server and closes all the same; `httpclose` closes both."""

from __future__ import annotations

import http.client
from typing import Any

import pytest

from tests.helpers.ports import free_port

CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
{mode}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
{backend}
    server s1 {address}
"""

MODES = {
    "keep-alive": ("", ""),
    "server-close": ("    option http-server-close", ""),
    "pretend": ("    option http-server-close", "    option http-pretend-keepalive"),
    "httpclose": ("    option httpclose", ""),
}


def _two_requests(port: int) -> tuple[bool, list[str | None]]:
    """Whether the second request went on the first one's client connection, and the
    Connection header of each response."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    seen = []
    try:
        conn.request("GET", "/one", headers={"Host": "x"})
        r = conn.getresponse()
        r.read()
        seen.append(r.getheader("connection"))
        sock = conn.sock
        conn.request("GET", "/two", headers={"Host": "x"})
        r = conn.getresponse()
        r.read()
        seen.append(r.getheader("connection"))
        return sock is not None and conn.sock is sock, seen
    finally:
        conn.close()


@pytest.mark.parametrize("mode", list(MODES))
def test_connection_modes_match_haproxy(
    mode: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    results = {}
    for program, start in (("haproxy", haproxy), ("weir", weir)):
        be = http_backend(program)
        port = free_port()
        defaults, backend = MODES[mode]
        start(
            CFG.format(mode=defaults, backend=backend, port=port, address=be.address),
            wait_ports=[port],
        )
        same_client, said = _two_requests(port)
        reqs = be.requests
        results[program] = (
            same_client,
            said,
            len({r.conn for r in reqs}),  # server connections used
            [(r.header("connection") or "").lower() for r in reqs],
        )
    assert results["weir"] == results["haproxy"], results
    expected = {
        "keep-alive": (True, [None, None], 1, ["", ""]),
        "server-close": (True, [None, None], 2, ["close", "close"]),
        "pretend": (True, [None, None], 2, ["", ""]),
        "httpclose": (False, ["close", "close"], 2, ["close", "close"]),
    }[mode]
    assert results["weir"] == expected
