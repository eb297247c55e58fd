"""Connection modes, two requests on one client connection, through weir and HAProxy 2.6
side by side: `http-keep-alive` (the default) reuses the server connection;
`http-server-close` keeps the client's but closes the server's after each response,
telling the server so (`Connection: close`), unless `http-pretend-keepalive`, which
keeps that from the server and closes all the same; `httpclose` closes both."""

from __future__ import annotations

import http.client
import socket
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


def _raw(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data


def _connection_of(head: bytes) -> str:
    """The Connection tokens of a head, lowercased and sorted."""
    tokens = []
    for line in head.split(b"\r\n\r\n")[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"connection":
            tokens += [t.strip().lower().decode() for t in value.split(b",") if t.strip()]
    return ",".join(sorted(tokens))


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
    ],
)
def test_the_client_is_told_when_its_connection_ends(
    request_line: bytes, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    """Whatever the server says about its own connection, the client hears about its own
    one, as from HAProxy. (HAProxy also keeps a client's `close` from the server, whose
    connection goes back to its shared pool; weir's server connections end with their
    client session, so the server is told, and closes first, which costs weir less.)"""
    results = {}
    for program, start in (("haproxy", haproxy), ("weir", weir)):
        be = http_backend(program)
        port = free_port()
        start(CFG.format(mode="", backend="", port=port, address=be.address), wait_ports=[port])
        answer = _raw(port, request_line)
        assert len(be.requests) == 1
        results[program] = (answer.split(b" ", 2)[1], _connection_of(answer))
    assert results["weir"] == results["haproxy"], results
