"""A frontend's `maxconn`: a connection beyond it waits, unanswered, until a slot frees
(then it is served), in mode http and mode tcp, through weir and HAProxy 2.6 alike. The
waiting connection may already have sent its request: it is held, not served."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.helpers.ports import free_port

CFG = """\
defaults
    mode {mode}
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    maxconn 1
    default_backend be
backend be
    server s1 {backend}
"""

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("mode", ["http", "tcp"])
@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_a_connection_beyond_maxconn_waits_for_a_slot(
    program: str, mode: str, weir: Any, haproxy: Any, http_backend: Any, tcp_backend: Any
) -> None:
    be = http_backend("s1") if mode == "http" else tcp_backend("s1", greeting=True)
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(CFG.format(mode=mode, port=port, backend=be.address), wait_ports=[port])
    # Over plain TCP the server greets first; over HTTP the request is answered.
    first_bytes = b"HTTP/1.1 200" if mode == "http" else b"Hello! This is s1!"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as a:
        a.sendall(REQUEST)
        assert a.recv(100).startswith(first_bytes)
        b = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            b.sendall(REQUEST)
            b.settimeout(0.5)
            with pytest.raises(TimeoutError):  # held while `a` has the only slot
                b.recv(100)
            a.close()  # the slot frees: `b` is served
            b.settimeout(5)
            got = b.recv(100)
            assert got.startswith(first_bytes), got
        finally:
            b.close()
    if mode == "http":
        assert len(be.requests) == 2
