"""mode tcp rules on real traffic: SNI routing without terminating TLS (the seed's L4
walk-through with HAProxy's `req_ssl_sni`), content and connection rejects."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from tests.scenarios.tls.certs import CertAuthority
from weir.persist.rdp import encode

DEFAULTS = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


class TlsSite:
    """An HTTPS server on 127.0.0.1 answering its own name."""

    def __init__(self, name: str, pem: Path) -> None:
        self.name = name
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(pem)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stopping = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(5)
            with self.ctx.wrap_socket(conn, server_side=True) as tls:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = tls.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                body = self.name.encode()
                tls.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(body), body)
                )
        except (OSError, ssl.SSLError):
            pass

    def stop(self) -> None:
        self.stopping = True
        self.sock.close()
        self.thread.join(5)


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[tuple[Path, TlsSite, TlsSite]]:
    ca = CertAuthority(tmp_path)
    a = TlsSite("site-a", ca.issue("a", "/CN=a.example", ["a.example"]))
    b = TlsSite("site-b", ca.issue("b", "/CN=b.example", ["b.example"]))
    try:
        yield ca.pem, a, b
    finally:
        a.stop()
        b.stop()


def test_sni_routing_without_decrypting(weir: Any, sites: Any) -> None:
    ca, a, b = sites
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend tls-in
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content accept if {{ req_ssl_hello_type 1 }}
    use_backend be-a if {{ req_ssl_sni -i a.example }}
    use_backend be-b if {{ req.ssl_sni -m end b.example }}
    default_backend be-a
backend be-a
    server a 127.0.0.1:{a.port}
backend be-b
    server b 127.0.0.1:{b.port}
""",
        wait_ports=[port],
    )
    for name, expected in (("a.example", b"site-a"), ("b.example", b"site-b")):
        r = curl(
            f"https://{name}:{port}/", "--resolve", f"{name}:{port}:127.0.0.1",
            "--cacert", str(ca),
        )  # fmt: skip
        assert (r.status, r.body) == (200, expected), name


def test_content_and_connection_rejects(weir: Any, tcp_backend: Any) -> None:
    echo = tcp_backend("echo")
    port, port2 = free_port(), free_port()
    weir(
        DEFAULTS
        + f"""
frontend picky
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 2s
    tcp-request content reject if {{ req.payload(0,3) -m str BAD }}
    tcp-request content accept if {{ req.len ge 4 }}
    default_backend echo
frontend closed
    bind 127.0.0.1:{port2}
    tcp-request connection reject if {{ src 127.0.0.0/8 }}
    default_backend echo
backend echo
    server e {echo.address}
""",
        wait_ports=[port, port2],
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"good data")
        assert s.recv(100) == b"good data"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"BAD data")
        assert s.recv(100) == b""  # closed, never relayed
    with socket.create_connection(("127.0.0.1", port2), timeout=5) as s:
        assert s.recv(100) == b""


def test_connection_reject_in_an_http_frontend(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port, open_port = free_port(), free_port()
    weir(
        DEFAULTS.replace("mode tcp", "mode http")
        + f"""
frontend shut
    bind 127.0.0.1:{port}
    tcp-request connection reject if {{ src 127.0.0.1 }}
    default_backend be
frontend open
    bind 127.0.0.1:{open_port}
    tcp-request connection reject if {{ src 10.0.0.0/8 }}
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port, open_port],
    )
    assert curl(f"http://127.0.0.1:{port}/").status < 0  # closed before any answer
    assert curl(f"http://127.0.0.1:{open_port}/").status == 200
    assert len(be.requests) == 1


def _rdp_request(user: str) -> bytes:
    """An RDP connection request: TPKT and X.224 headers, then the cookie line."""
    cookie = f"Cookie: mstshash={user}\r\n".encode()
    x224 = bytes((6 + len(cookie), 0xE0, 0, 0, 0, 0, 0))
    return b"\x03\x00" + (4 + len(x224) + len(cookie)).to_bytes(2, "big") + x224 + cookie


def test_balance_rdp_cookie_keeps_a_user_on_one_server(weir: Any, tcp_backend: Any) -> None:
    servers = [tcp_backend(f"s{i}", greeting=True) for i in range(4)]
    port = free_port()
    lines = "\n".join(f"    server s{i} {b.address}" for i, b in enumerate(servers))
    weir(
        DEFAULTS
        + f"""
frontend rdp
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content accept if RDP_COOKIE
    default_backend farm
backend farm
    balance rdp-cookie
{lines}
""",
        wait_ports=[port],
    )

    def served_by(user: str) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(_rdp_request(user))
            return s.recv(100).split(b"\n")[0]  # the greeting names the server

    for user in ("alice", "bob", "carol"):
        assert len({served_by(user) for _ in range(5)}) == 1, user
    assert len({served_by(f"user{i}") for i in range(20)}) >= 2


def test_content_rules_in_http_frontends_and_backends(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS.replace("mode tcp", "mode http")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    tcp-request content reject if {{ path_beg /blocked }}
    default_backend be
backend be
    tcp-request content reject if {{ req.hdr(x-bad) -m found }}
    server a {be.address}
""",
        wait_ports=[port],
    )
    assert curl(f"http://127.0.0.1:{port}/blocked").status < 0  # closed, no answer
    assert curl(f"http://127.0.0.1:{port}/ok", "-H", "X-Bad: 1").status < 0
    assert curl(f"http://127.0.0.1:{port}/ok").status == 200
    assert [q.path for q in be.requests] == ["/ok"]


PERSIST_CFG = """\
global
    stats socket {sock} level admin
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend rdp
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 5s
    tcp-request content accept if RDP_COOKIE
    default_backend farm
backend farm
    persist rdp-cookie
{option}{servers}
"""


@pytest.mark.parametrize("option", ["", "    option persist\n"])
@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_persist_rdp_cookie_reaches_the_server_the_broker_named(
    program: str, option: str, weir: Any, haproxy: Any, tcp_backend: Any, tmp_path: Path
) -> None:
    """A Session Broker's `msts` cookie encodes a server's address and port: the
    connection goes there, balanced as usual without it, and elsewhere once that server
    is in maintenance, unless `option persist`."""
    servers = [tcp_backend(f"s{i}", greeting=True) for i in range(3)]
    port, sock = free_port(), tmp_path / "api.sock"
    lines = "\n".join(f"    server s{i} {b.address}" for i, b in enumerate(servers))
    start = weir if program == "weir" else haproxy
    start(PERSIST_CFG.format(sock=sock, port=port, option=option, servers=lines), wait_ports=[port])
    host, srv_port = servers[2].address.rsplit(":", 1)
    to_s2 = _rdp_cookie("msts", encode(host, int(srv_port)).decode())

    def served_by(payload: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(payload)
            return s.recv(100).split(b"\n")[0]  # the greeting names the server

    assert {served_by(to_s2) for _ in range(4)} == {b"Hello! This is s2!"}
    assert len({served_by(_rdp_cookie("mstshash", "alice")) for _ in range(3)}) == 3
    subprocess.run(
        ["socat", "-", f"UNIX-CONNECT:{sock}"],
        input=b"disable server farm/s2\n",
        capture_output=True,
        timeout=10,
        check=True,
    )
    after = {served_by(to_s2) for _ in range(4)}
    if option:
        assert after == {b"Hello! This is s2!"}
    else:
        assert b"Hello! This is s2!" not in after


def _rdp_cookie(name: str, value: str) -> bytes:
    """An RDP connection request carrying the cookie NAME=VALUE."""
    cookie = f"Cookie: {name}={value}\r\n".encode()
    x224 = bytes((6 + len(cookie), 0xE0, 0, 0, 0, 0, 0))
    return b"\x03\x00" + (4 + len(x224) + len(cookie)).to_bytes(2, "big") + x224 + cookie
