"""Stick tables learning a server from the response: the application's session cookie
(`stick store-response res.cook(SID)`, `stick match req.cook(SID)`) keeps a client on
the server that issued it; entries keep the server's id and name."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

CFG = """\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend app
backend app
    balance roundrobin
    stick-table type string len 32 size 1m expire 30m
    stick store-response res.cook(SID)
    stick store-response res.hdr(x-session) if {{ status 201 }}
    stick match req.cook(SID)
    stick match req.hdr(x-session)
{servers}
"""


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def test_the_learn_recipe(weir: Any, http_backend: Any, tmp_path: Path) -> None:
    backends = [
        http_backend(f"s{i}", headers=[("Set-Cookie", f"SID=sess-{i}; Path=/")]) for i in range(3)
    ]
    port = free_port()
    sock = tmp_path / "api.sock"
    servers = "\n".join(f"    server s{i} {b.address} id {10 + i}" for i, b in enumerate(backends))
    weir(CFG.format(sock=sock, port=port, servers=servers), wait_ports=[port])
    url = f"http://127.0.0.1:{port}/"
    # A client without a session is balanced; the session the server gives is learnt.
    first = [curl(url).header("x-backend") for _ in range(3)]
    assert sorted(first) == ["s0", "s1", "s2"]
    for i in (2, 0, 1, 2, 2, 0):
        assert curl(url, "-H", f"Cookie: SID=sess-{i}").header("x-backend") == f"s{i}"
    # An unknown session is balanced like no session.
    assert len({curl(url, "-H", "Cookie: SID=other").header("x-backend") for _ in range(3)}) == 3
    table = _cli(sock, "show table app")
    assert "key=sess-1 use=0" in table
    line = next(x for x in table.splitlines() if "key=sess-1 " in x)
    assert line.endswith("server_id=11 server_key=s1")


def test_store_response_condition_and_server_going_down(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    made = http_backend("s0", status=201, headers=[("X-Session", "abc")])
    other = http_backend("s1")
    port = free_port()
    sock = tmp_path / "api.sock"
    servers = f"    server s0 {made.address}\n    server s1 {other.address}"
    weir(CFG.format(sock=sock, port=port, servers=servers), wait_ports=[port])
    url = f"http://127.0.0.1:{port}/"
    assert {curl(url).status for _ in range(2)} == {200, 201}
    for _ in range(3):
        assert curl(url, "-H", "X-Session: abc").header("x-backend") == "s0"
    # Its server in maintenance: the client is balanced; back in service, it is used again.
    assert _cli(sock, "set server app/s0 state maint") == "\n"
    assert curl(url, "-H", "X-Session: abc").header("x-backend") == "s1"
    assert _cli(sock, "set server app/s0 state ready") == "\n"
    assert curl(url, "-H", "X-Session: abc").header("x-backend") == "s0"
