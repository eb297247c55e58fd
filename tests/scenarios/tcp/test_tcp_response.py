"""`tcp-response content` rules on the server's first bytes (mode tcp): a response that
matches `reject` never reaches the client and is counted as denied; `close` passes what
came and ends the session; the other responses pass unchanged, with `res.len` and
`res.payload` reading them. The same rules through HAProxy 2.6 decide the same way."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tests.helpers.ports import free_port
from tests.helpers.procs import run_check

CFG = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    tcp-response inspect-delay 2s
    tcp-response content reject if {{ res.payload(0,0) -m sub secret }}
    tcp-response content close if {{ res.payload(0,6) -m str Hello! }} {{ res.len gt 100 }}
    tcp-response content accept if {{ res.len gt 10 }}
    server s1 {backend}
"""


def _talk(port: int) -> bytes:
    """What the client gets: the greeting, then the echo of a line, until the end."""
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        try:
            s.sendall(b"ping\n")
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(4096):
                got += chunk
        except OSError:  # reset, or already closed by a rejecting proxy
            pass
    return got


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_response_rules_decide_on_the_servers_first_bytes(
    program: str, weir: Any, haproxy: Any, tcp_backend: Any
) -> None:
    plain = tcp_backend("plain", greeting=True)
    secret = tcp_backend("top-secret", greeting=True)
    start = weir if program == "weir" else haproxy
    port_plain, port_secret = free_port(), free_port()
    start(CFG.format(port=port_plain, backend=plain.address), wait_ports=[port_plain])
    start(CFG.format(port=port_secret, backend=secret.address), wait_ports=[port_secret])
    assert _talk(port_plain) == b"Hello! This is plain!\nping\n"
    assert _talk(port_secret) == b""  # rejected: not a byte of it reaches the client


def test_tcp_response_rules_are_refused_in_mode_http_and_for_other_actions() -> None:
    base = "backend b\n    mode {mode}\n    tcp-response content {rule}\n"
    r = run_check(base.format(mode="http", rule="reject"))
    assert r.returncode != 0
    assert "mode tcp only" in r.stdout
    r = run_check(base.format(mode="tcp", rule="set-var(txn.x) int(1)"))
    assert r.returncode != 0
    assert "expects 'accept', 'reject' or 'close'" in r.stdout


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_close_ends_the_session_after_what_came(
    program: str, weir: Any, haproxy: Any, tcp_backend: Any
) -> None:
    """The client sends nothing and does not close: only the `close` rule ends the
    session, after the greeting that made it match."""
    name = "x" * 120  # a greeting over 100 bytes: the `close` rule matches
    chatty = tcp_backend(name, greeting=True)
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(CFG.format(port=port, backend=chatty.address), wait_ports=[port])
    got = b""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        while chunk := s.recv(4096):
            got += chunk
    assert got == chatty.greeting


VAR_CFG = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 2s
    tcp-request content set-var(sess.verb) req.payload(0,4) if {{ req.len ge 4 }}
    tcp-request content reject if {{ var(sess.verb) -m str QUIT }}
    tcp-request content accept if {{ var(sess.verb) -m found }}
    default_backend be
backend be
    server s1 {backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_tcp_request_set_var_feeds_later_rules(
    program: str, weir: Any, haproxy: Any, tcp_backend: Any
) -> None:
    echo = tcp_backend("echo")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(VAR_CFG.format(port=port, backend=echo.address), wait_ports=[port])

    def talk(line: bytes) -> bytes:
        got = b""
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            try:
                s.sendall(line)
                s.shutdown(socket.SHUT_WR)
                while chunk := s.recv(4096):
                    got += chunk
            except OSError:  # reset, or already closed by a rejecting proxy
                pass
        return got

    assert talk(b"PING 1\n") == b"PING 1\n"
    assert talk(b"QUIT now\n") == b""
