"""Socket-level options: `option clitcpka` / `srvtcpka` / `tcpka` turn TCP keep-alive
probes on the client side, the server side or both (seen with `ss`); `tune.maxaccept`
bounds the connections a listener accepts in a row, and every connection is still served,
also after the runtime API disabled and enabled the frontend."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

CFG = """\
{glob}defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
    {option}
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 {backend}
"""


def _keepalive_ports(pid: int) -> tuple[set[int], set[int]]:
    """(local ports, remote ports) of the process's TCP sockets that have keep-alive on."""
    out = subprocess.run(
        ["ss", "-tnpoH", "state", "established"], capture_output=True, text=True, check=True
    ).stdout
    local: set[int] = set()
    remote: set[int] = set()
    for line in out.splitlines():
        if f"pid={pid}," not in line or "timer:(keepalive" not in line:
            continue
        fields = line.split()
        local.add(int(fields[2].rsplit(":", 1)[1]))
        remote.add(int(fields[3].rsplit(":", 1)[1]))
    return local, remote


@pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")
@pytest.mark.parametrize(
    ("option", "client_side", "server_side"),
    [
        ("option clitcpka", True, False),
        ("option srvtcpka", False, True),
        ("option tcpka", True, True),
    ],
)
def test_keepalive_probes_on_the_chosen_side(
    option: str, client_side: bool, server_side: bool, weir: Any, tcp_backend: Any
) -> None:
    silent = tcp_backend("silent", mode="silent")
    port = free_port()
    p = weir(
        CFG.format(glob="", port=port, option=option, backend=silent.address), wait_ports=[port]
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"x")  # the session is up once the server got it
        deadline = time.monotonic() + 10
        while silent.received < 1:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        local, remote = _keepalive_ports(p.pid)
    assert (port in local) is client_side
    assert (silent.port in remote) is server_side


def test_maxaccept_bounds_accepting_and_serves_everyone(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    be = http_backend("a")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        f"""\
global
    tune.maxaccept 2
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    statuses: list[int] = []

    def get() -> None:
        statuses.append(curl(f"http://127.0.0.1:{port}/").status)

    threads = [threading.Thread(target=get) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert statuses == [200] * 24

    def cli(line: str) -> str:
        return subprocess.run(
            ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
            input=(line + "\n").encode(),
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout.decode()

    cli("disable frontend fe")
    cli("enable frontend fe")
    deadline = time.monotonic() + 10
    while True:  # listening again (with the same bounded accepting)
        try:
            assert curl(f"http://127.0.0.1:{port}/").status == 200
            break
        except (AssertionError, OSError):
            assert time.monotonic() < deadline
            time.sleep(0.1)
