"""A client that half-closes (shuts its sending side) while its request waits in a server
queue: served all the same by default, as HTTP allows, through weir and HAProxy 2.6 alike.
With `option abortonclose` weir drops it before it ever reaches the server, as HAProxy's
documentation says; HAProxy 2.6 itself serves it (its HTTP/1 multiplexer does not read a
connection whose request is complete, so it never sees the close), which is why that case
runs through weir only."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from tests.helpers.ports import free_port

CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    timeout queue 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
{option}
    server s1 {backend} maxconn 1
"""


def _ask(port: int, path: str, half_close: bool, got: dict[str, bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=8) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        if half_close:
            s.shutdown(socket.SHUT_WR)
        data = b""
        try:
            while chunk := s.recv(4096):
                data += chunk
                if not half_close and b"\r\n\r\n" in data and data.endswith(b"!"):
                    break
        except OSError:
            pass
    got[path] = data


@pytest.mark.parametrize(
    ("program", "abort"), [("weir", False), ("haproxy", False), ("weir", True)]
)
def test_half_closed_client_in_queue(
    program: str, abort: bool, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    be = http_backend("slow", delay=1.0)  # answers "Hello! This is slow!" after 1 s
    port = free_port()
    start = weir if program == "weir" else haproxy
    option = "    option abortonclose" if abort else ""
    start(CFG.format(port=port, option=option, backend=be.address), wait_ports=[port])
    got: dict[str, bytes] = {}
    first = threading.Thread(target=_ask, args=(port, "/first", False, got))
    first.start()
    # Once the first request holds the server's only slot, the second waits in the queue.
    for _ in range(100):
        if be.requests:
            break
        threading.Event().wait(0.02)
    second = threading.Thread(target=_ask, args=(port, "/second", True, got))
    second.start()
    first.join(10)
    second.join(10)
    assert got["/first"].startswith(b"HTTP/1.1 200")
    if abort:
        assert got["/second"] == b""  # dropped, never served
        assert [r.path for r in be.requests] == ["/first"]
    else:
        assert got["/second"].startswith(b"HTTP/1.1 200")
        assert [r.path for r in be.requests] == ["/first", "/second"]
