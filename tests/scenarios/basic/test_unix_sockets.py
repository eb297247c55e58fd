"""UNIX sockets on both sides: servers at `unix@/path` (mode http and mode tcp), a
frontend chained to another through the abstract namespace (`abns@name`, as HAProxy users
chain frontends), and the file permissions and owner a `bind /path mode … uid … gid …`
line asks for. Through weir and HAProxy 2.6 alike."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

DEFAULTS = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_servers_on_unix_sockets_and_abns_chains(
    program: str, weir: Any, haproxy: Any, http_backend: Any, tmp_path: Path
) -> None:
    be = http_backend("inner")
    start = weir if program == "weir" else haproxy
    port, tcp_port = free_port(), free_port()
    sock = tmp_path / "mid.sock"
    name = f"weir-test-{os.getpid()}-{program}"
    start(
        DEFAULTS
        + f"""
frontend outer
    bind 127.0.0.1:{port}
    use_backend via-abns if {{ path_beg /abns }}
    default_backend via-unix
backend via-unix
    server mid unix@{sock}
backend via-abns
    server mid abns@{name}
frontend mid-unix
    bind {sock} mode 600
    default_backend inner
frontend mid-abns
    bind abns@{name}
    default_backend inner
backend inner
    server inner {be.address}
listen tcp-to-unix
    mode tcp
    bind 127.0.0.1:{tcp_port}
    server mid unix@{sock}
""",
        wait_ports=[port, tcp_port],
    )
    assert curl(f"http://127.0.0.1:{port}/unix").status == 200
    assert curl(f"http://127.0.0.1:{port}/abns").status == 200
    assert curl(f"http://127.0.0.1:{tcp_port}/tcp").status == 200
    assert [r.path for r in be.requests] == ["/unix", "/abns", "/tcp"]
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600


def test_unix_bind_owner(weir: Any, tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    sock = tmp_path / "owned.sock"
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    bind {sock} mode 640 uid 1 gid 2
    http-request return status 200
""",
        wait_ports=[port],
    )
    st = sock.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o640, 1, 2)
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200")
