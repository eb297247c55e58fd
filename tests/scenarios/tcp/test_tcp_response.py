"""`tcp-response content` rules on the server's first bytes (mode tcp): a response that
matches `reject` never reaches the client and is counted as denied; `close` passes what
came and ends the session; the other responses pass unchanged, with `res.len`,
`res.payload` and `res.payload_lv` reading them; set-var, unset-var and set-log-level act
on the session. In an HTTP backend they run once on the response. The same rules through
HAProxy 2.6 decide the same way."""

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


def test_tcp_response_actions_are_checked() -> None:
    base = "backend b\n    mode {mode}\n    tcp-response content {rule}\n"
    r = run_check(base.format(mode="tcp", rule="set-nice 5"))
    assert r.returncode != 0
    assert "weir supports 'accept', 'reject', 'close'" in r.stdout
    assert run_check(base.format(mode="tcp", rule="silent-drop if TRUE")).returncode == 0
    r = run_check(base.format(mode="tcp", rule="set-log-level loud"))
    assert r.returncode != 0
    r = run_check(base.format(mode="tcp", rule="set-var(txn.x) res.payload_lv(0,1) if TRUE"))
    assert r.returncode == 0, r.stdout
    # In mode http the rules are accepted; the L6 fetches draw a warning (as from HAProxy).
    r = run_check(base.format(mode="http", rule="reject if { res.payload(0,1) -m found }"))
    assert r.returncode == 0, r.stdout
    assert "L6 sample fetches" in r.stdout


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


LV_CFG = """\
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
    tcp-response content reject if {{ res.payload_lv(0,2) -m str EVIL }}
    tcp-response content accept if {{ res.payload_lv(0,2) -m found }}
    server s1 {backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_length_prefixed_response_is_read_whole_before_deciding(
    program: str, weir: Any, haproxy: Any, tcp_backend: Any
) -> None:
    """`res.payload_lv(0,2)`: a block announced by a 2-byte length; the rules wait until it
    is all there, then a reject holds back every byte of it."""
    good = tcp_backend("good", greeting=b"\x00\x04GOOD\n")
    evil = tcp_backend("evil", greeting=b"\x00\x04EVIL\n")
    start = weir if program == "weir" else haproxy
    ports = free_port(), free_port()
    for port, srv in zip(ports, (good, evil), strict=True):
        start(LV_CFG.format(port=port, backend=srv.address), wait_ports=[port])
    assert _talk(ports[0]) == b"\x00\x04GOOD\nping\n"
    assert _talk(ports[1]) == b""


LOG_CFG = """\
global
    log 127.0.0.1:{log_port} local0
defaults d
    mode tcp
    log global
    log-format "kind=%[var(sess.kind)] bytes=%B"
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    tcp-response inspect-delay 2s
    tcp-response content set-var(sess.kind) res.payload(0,5) if {{ res.len ge 5 }}
    tcp-response content unset-var(sess.kind) if {{ var(sess.kind) -m str gone! }}
    tcp-response content set-log-level silent if {{ var(sess.kind) -m str quiet }}
    tcp-response content accept if {{ res.len ge 5 }}
    server s1 {backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_response_rules_set_variables_and_the_log_level(
    program: str, weir: Any, haproxy: Any, tcp_backend: Any
) -> None:
    """set-var from the server's first bytes reaches the log line, unset-var removes it,
    and set-log-level silent keeps the session out of the log."""
    from tests.scenarios.log.syslog_listener import SyslogListener

    udp = SyslogListener()
    try:
        start = weir if program == "weir" else haproxy
        got = []
        for greeting in (b"loud! hi\n", b"quiet hi\n", b"gone! hi\n"):
            srv = tcp_backend(greeting.decode()[:5], greeting=greeting)
            port = free_port()
            start(
                LOG_CFG.format(log_port=udp.port, port=port, backend=srv.address),
                wait_ports=[port],
            )
            got.append(_talk(port))
        assert got == [b"loud! hi\nping\n", b"quiet hi\nping\n", b"gone! hi\nping\n"]
        lines = sorted(d.decode().rsplit(": ", 1)[1].strip() for d in udp.recv_all(2))
        assert lines == ["kind=- bytes=14", "kind=loud! bytes=14"]
        with pytest.raises(TimeoutError):  # the quiet session left no line
            udp.recv(timeout=0.5)
    finally:
        udp.close()


HTTP_CFG = """\
defaults d
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    tcp-response content set-var(txn.seen) str(yes)
    tcp-response content reject if {{ src 127.0.0.1 }} {{ var(txn.seen) -m str yes }} \
{{ always_{reject} }}
    tcp-response content close if {{ always_{close} }}
    http-response set-header X-Seen %[var(txn.seen)]
    server s1 {backend}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
@pytest.mark.parametrize(
    ("reject", "close", "want"),
    [("false", "false", "200 yes"), ("true", "false", "nothing"), ("false", "true", "502")],
)
def test_response_rules_in_an_http_backend(
    program: str, reject: str, close: str, want: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    """In an HTTP backend the rules run once on the response: their variables reach the
    http-response rules, `reject` closes without an answer, `close` answers 502."""
    import http.client

    srv = http_backend("h1")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(
        HTTP_CFG.format(port=port, backend=srv.address, reject=reject, close=close),
        wait_ports=[port],
    )
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        got = f"{r.status} {r.getheader('X-Seen')}" if r.status == 200 else str(r.status)
    except (http.client.RemoteDisconnected, ConnectionResetError):
        got = "nothing"
    finally:
        conn.close()
    assert got == want
