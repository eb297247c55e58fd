"""`timeout client-fin` and `timeout server-fin`: once the proxy has passed one side's end
of stream on to the other, a peer that neither sends nor closes is given the short `-fin`
timeout instead of `timeout client|server|tunnel`, in mode tcp and in an HTTP tunnel,
through weir and HAProxy 2.6 alike. Without them the half-closed session stays open."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from tests.helpers.ports import free_port

TCP = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
{extra}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{backend}
"""


class Lingerer:
    """A server for one connection that never closes it by itself. `shut`: it says "bye",
    shuts its write side at once and records whether the proxy closed the connection on
    it (its read ends) within `within` seconds; otherwise it reads until the client's end
    of stream and then waits `within` seconds (or until stopped) before closing."""

    def __init__(self, *, shut: bool, within: float, http101: bool = False) -> None:
        self.port = free_port()
        self.shut, self.within, self.http101 = shut, within, http101
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(10)
        self.closed_by_proxy = threading.Event()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(self.within)
            try:
                if self.http101:
                    while b"\r\n\r\n" not in conn.recv(4096):
                        pass
                    conn.sendall(
                        b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                        b"Upgrade: x\r\n\r\n"
                    )
                if self.shut:
                    conn.sendall(b"bye")
                    conn.shutdown(socket.SHUT_WR)
                    while conn.recv(4096):
                        pass
                    self.closed_by_proxy.set()
                else:
                    while conn.recv(4096):  # until the client's end of stream
                        pass
                    self.stopping.wait(self.within)  # then neither send nor close
            except OSError:  # the wait ran out: the proxy kept the connection open
                pass

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(self.within + 12)


def _client_gets_bye_and_lingers(port: int, hold: float) -> None:
    """Read the server's bye and its end of stream, then neither send nor close."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        got = b""
        while chunk := s.recv(4096):
            got += chunk
        assert got == b"bye"
        threading.Event().wait(hold)


@pytest.mark.parametrize("program", ["weir", "haproxy"])
@pytest.mark.parametrize("fin", [True, False])
def test_client_fin_closes_a_client_that_lingers(
    program: str, fin: bool, weir: Any, haproxy: Any
) -> None:
    srv = Lingerer(shut=True, within=3.0 if not fin else 8.0)
    port = free_port()
    extra = "    timeout client-fin 1s" if fin else ""
    start = weir if program == "weir" else haproxy
    try:
        start(TCP.format(extra=extra, port=port, backend=srv.port), wait_ports=[port])
        _client_gets_bye_and_lingers(port, hold=4.0)
        srv.thread.join(10)
        # With client-fin the proxy ends the session (and closes the server's side too);
        # without it, 60 s of `timeout client` keep it open past the server's wait.
        assert srv.closed_by_proxy.is_set() is fin
    finally:
        srv.stop()


@pytest.mark.parametrize("program", ["weir", "haproxy"])
@pytest.mark.parametrize("fin", [True, False])
def test_server_fin_closes_a_server_that_lingers(
    program: str, fin: bool, weir: Any, haproxy: Any
) -> None:
    srv = Lingerer(shut=False, within=20.0)
    port = free_port()
    extra = "    timeout server-fin 1s" if fin else ""
    start = weir if program == "weir" else haproxy
    try:
        start(TCP.format(extra=extra, port=port, backend=srv.port), wait_ports=[port])
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(b"request")
            s.shutdown(socket.SHUT_WR)
            try:
                ended = s.recv(4096) == b""  # the proxy closed the session on us
            except TimeoutError:
                ended = False
        assert ended is fin
    finally:
        srv.stop()


HTTP = """\
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout tunnel 60s
    timeout server-fin 1s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_server_fin_in_an_http_tunnel(program: str, weir: Any, haproxy: Any) -> None:
    srv = Lingerer(shut=False, within=20.0, http101=True)
    port = free_port()
    start = weir if program == "weir" else haproxy
    try:
        start(HTTP.format(port=port, backend=srv.port), wait_ports=[port])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\r\n")
            head = b""
            while b"\r\n\r\n" not in head:
                head += s.recv(4096)
            assert head.startswith(b"HTTP/1.1 101")
            s.shutdown(socket.SHUT_WR)
            # `timeout tunnel` is 60 s: only server-fin ends the tunnel this soon.
            assert s.recv(4096) == b""
    finally:
        srv.stop()
