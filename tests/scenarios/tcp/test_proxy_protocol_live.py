"""The PROXY protocol on real connections: weir reads it (`accept-proxy`, or `tcp-request
connection expect-proxy layer4` for some sources only), sends it (`send-proxy`,
`send-proxy-v2`), and talks it with HAProxy 2.6 in both directions."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from tests.helpers.procs import run_check

DEFAULTS = """\
defaults
    mode {mode}
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


def _get(port: int, head: bytes, source: str = "127.0.0.1") -> bytes:
    out = b""
    # A proxy that closes may reset the connection, even as it is established.
    with (
        contextlib.suppress(ConnectionResetError),
        socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s,
    ):
        s.sendall(head + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while chunk := s.recv(4096):
            out += chunk
    return out


def test_accept_proxy_takes_the_client_address(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS.format(mode="http")
        + f"""
frontend fe
    bind 127.0.0.1:{port} accept-proxy
    http-request set-header X-Src %[src]:%[src_port]
    http-request set-header X-Dst %[dst]:%[dst_port]
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    assert _get(port, b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\r\n").startswith(b"HTTP/1.1 200")
    ports = (4444).to_bytes(2, "big") + (443).to_bytes(2, "big")
    v2 = (
        b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c" + bytes((203, 0, 113, 9, 198, 51, 100, 2)) + ports
    )
    assert _get(port, v2).startswith(b"HTTP/1.1 200")
    assert [(q.header("X-Src"), q.header("X-Dst")) for q in be.requests] == [
        ("192.0.2.7:5555", "198.51.100.1:80"),
        ("203.0.113.9:4444", "198.51.100.2:443"),
    ]
    # Without a header, or with a broken one: closed, nothing reaches the server.
    assert _get(port, b"") == b""
    assert _get(port, b"PROXY TCP4 nonsense\r\n") == b""
    assert len(be.requests) == 2


EXPECT = """
frontend fe
    bind 127.0.0.1:{port}
    tcp-request connection reject if {{ src 127.0.0.3 }}
    tcp-request connection expect-proxy layer4 if {{ src 127.0.0.1 }}
    use_backend proxied if {{ src 192.0.2.7 }}
    default_backend direct
backend proxied
    server a {proxied}
backend direct
    server a {direct}
"""


@pytest.mark.parametrize("mode", ["tcp", "http"])
@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_expect_proxy_for_some_sources_only(
    program: str, mode: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    """A trusted source (127.0.0.1, the outer proxy) must send a PROXY header, whose
    address then routes; others (127.0.0.2) connect directly; the rules before and after
    `expect-proxy` see the connection's own address."""
    proxied, direct = http_backend("proxied"), http_backend("direct")
    port = free_port()
    start = weir if program == "weir" else haproxy
    cfg = EXPECT.format(port=port, proxied=proxied.address, direct=direct.address)
    start(DEFAULTS.format(mode=mode) + cfg, wait_ports=[port])
    header = b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\r\n"
    assert b"This is proxied!" in _get(port, header)
    assert b"This is direct!" in _get(port, b"", source="127.0.0.2")
    assert _get(port, b"") == b""  # the trusted source without its header: closed
    assert _get(port, b"", source="127.0.0.3") == b""  # rejected before any header
    assert len(proxied.requests) == 1
    assert len(direct.requests) == 1


def test_send_proxy_v1_and_v2_in_tcp_mode(weir: Any, tcp_backend: Any) -> None:
    echo = tcp_backend("echo")
    p1, p2 = free_port(), free_port()
    weir(
        DEFAULTS.format(mode="tcp")
        + f"""
frontend v1
    bind 127.0.0.1:{p1}
    default_backend v1
frontend v2
    bind 127.0.0.1:{p2}
    default_backend v2
backend v1
    server e {echo.address} send-proxy
backend v2
    server e {echo.address} send-proxy-v2
""",
        wait_ports=[p1, p2],
    )
    with socket.create_connection(("127.0.0.1", p1), timeout=5) as s:
        s.sendall(b"hello")
        got = b""
        while not got.endswith(b"hello"):
            got += s.recv(4096)
        cport = s.getsockname()[1]
    assert got == f"PROXY TCP4 127.0.0.1 127.0.0.1 {cport} {p1}\r\nhello".encode()
    with socket.create_connection(("127.0.0.1", p2), timeout=5) as s:
        s.sendall(b"hello")
        got = b""
        while not got.endswith(b"hello"):
            got += s.recv(4096)
        cport = s.getsockname()[1]
    assert got[:16] == b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"
    assert got[24:28] == cport.to_bytes(2, "big") + p2.to_bytes(2, "big")
    assert got[28:] == b"hello"


def test_haproxy_and_weir_talk_proxy_protocol_both_ways(
    weir: Any, haproxy: Any, http_backend: Any
) -> None:
    be = http_backend("a")
    ha_in, weir_mid, ha_out = free_port(), free_port(), free_port()
    # client -> haproxy (send-proxy-v2) -> weir (accept-proxy, send-proxy) -> haproxy
    # (accept-proxy) -> backend; each hop adds what it believes the client address is.
    haproxy(
        DEFAULTS.format(mode="http")
        + f"""
frontend in
    bind 127.0.0.1:{ha_in}
    default_backend to_weir
backend to_weir
    server w 127.0.0.1:{weir_mid} send-proxy-v2
frontend out
    bind 127.0.0.1:{ha_out} accept-proxy
    http-request set-header X-Seen-By-HAProxy %[src]
    default_backend app
backend app
    server a {be.address}
""",
        wait_ports=[ha_in, ha_out],
    )
    weir(
        DEFAULTS.format(mode="http")
        + f"""
frontend mid
    bind 127.0.0.1:{weir_mid} accept-proxy
    http-request set-header X-Seen-By-Weir %[src]
    default_backend back
backend back
    server h 127.0.0.1:{ha_out} send-proxy
""",
        wait_ports=[weir_mid],
    )
    r = curl(f"http://127.0.0.1:{ha_in}/")
    assert r.status == 200
    (req,) = be.requests
    assert req.header("X-Seen-By-Weir") == "127.0.0.1"
    assert req.header("X-Seen-By-HAProxy") == "127.0.0.1"


def test_expect_proxy_is_checked() -> None:
    base = "frontend f\n    bind 127.0.0.1:8080\n    tcp-request {rule}\n"
    assert (
        run_check(base.format(rule="connection expect-proxy layer4 if LOCALHOST")).returncode == 0
    )
    r = run_check(base.format(rule="connection expect-proxy"))
    assert r.returncode != 0
    assert "only supports 'layer4'" in r.stdout
    r = run_check(base.format(rule="content expect-proxy layer4"))
    assert r.returncode != 0
    assert "'tcp-request content expect-proxy'" in r.stdout
