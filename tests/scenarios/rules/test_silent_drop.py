"""`silent-drop` (http-request, http-response, tcp-request connection|content) and
`http-request reject`: a dropped client hears nothing at all (no answer, no FIN, no reset)
where the kernel lets the proxy repair-close the socket (CAP_NET_ADMIN), else a reset; a
rejected one sees its connection closed without an answer. Neither reaches the server.
Checked through weir and HAProxy 2.6 alike."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.helpers.ports import free_port


def _can_repair() -> bool:
    """Whether this process may put a socket in TCP repair mode, as the proxies it starts
    (same user) will try to."""
    with socket.socket() as s:
        try:
            s.setsockopt(socket.IPPROTO_TCP, getattr(socket, "TCP_REPAIR", 19), 1)
        except OSError:
            return False
    return True


def _heard(port: int, data: bytes, wait: float = 1.5, source: str = "127.0.0.1") -> str:
    """What a client that sends `data` hears within `wait` seconds: 'nothing', 'closed'
    (an end of stream without a byte), 'reset', or the first line of an answer."""
    with socket.create_connection(
        ("127.0.0.1", port), timeout=wait, source_address=(source, 0)
    ) as s:
        s.sendall(data)
        try:
            got = s.recv(4096)
        except TimeoutError:
            return "nothing"
        except ConnectionResetError:
            return "reset"
    return got.splitlines()[0].decode() if got else "closed"


HTTP = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    http-request silent-drop if {{ path /drop }}
    http-request reject if {{ path /reject }}
    http-request set-var(txn.path) path
    default_backend be
backend be
    http-response silent-drop if {{ var(txn.path) -m str /late-drop }}
    server a {backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_http_silent_drop_and_reject(
    program: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    be = http_backend("a")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(HTTP.format(port=port, backend=be.address), wait_ports=[port])
    dropped = "nothing" if _can_repair() else "reset"
    assert _heard(port, b"GET /drop HTTP/1.1\r\nHost: x\r\n\r\n") == dropped
    assert _heard(port, b"GET /reject HTTP/1.1\r\nHost: x\r\n\r\n") in ("closed", "reset")
    assert _heard(port, b"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n") == "HTTP/1.1 200 OK"
    # A response dropped on its way: the server answered, the client hears nothing.
    assert _heard(port, b"GET /late-drop HTTP/1.1\r\nHost: x\r\n\r\n") == dropped
    assert [q.path for q in be.requests] == ["/ok", "/late-drop"]


TCP = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 2s
    tcp-request connection silent-drop if {{ src 127.0.0.2 }}
    tcp-request content silent-drop if {{ req.payload(0,4) -m str drop }}
    tcp-request content accept if {{ req.len gt 0 }}
    default_backend be
backend be
    server s1 {backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_tcp_silent_drop(program: str, weir: Any, haproxy: Any, tcp_backend: Any) -> None:
    be = tcp_backend("echo")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(TCP.format(port=port, backend=be.address), wait_ports=[port])
    dropped = {"nothing" if _can_repair() else "reset"}
    # Dropped at accept, the connection may be gone before the client's bytes arrive:
    # the kernel, with no socket to give them to, answers them with a reset (for HAProxy
    # and weir alike). Either way the client is never answered.
    assert _heard(port, b"hello\n", source="127.0.0.2") in dropped | {"reset"}  # at once
    if program == "haproxy":
        # HAProxy 2.6 now and then resets a session it drops after reading from it too.
        dropped.add("reset")
    assert _heard(port, b"drop me\n") in dropped  # on what it sent
    assert _heard(port, b"keep me\n") == "keep me"
