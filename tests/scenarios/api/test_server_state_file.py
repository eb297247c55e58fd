"""`server-state-file` + `load-server-state-from-file`: what an operator set at run time
(maintenance, drain, weight) and what checks last saw (DOWN) survive into a new process
through `show servers state`, as HAProxy's reload recipe does."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port

CONFIG = """\
global
    stats socket {sock} level admin
{extra}
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
{dextra}
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    server s1 127.0.0.1:{live}
    server s2 127.0.0.1:{live} weight 10
    server s3 127.0.0.1:{live}
    server s4 127.0.0.1:{s4} check inter {inter} rise 3 fall 1
    server s5 127.0.0.1:{live} weight 7
"""


def _socat(sock: Path, command: str) -> str:
    out = subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    )
    return out.stdout.decode()


def _states(sock: Path) -> dict[str, tuple[int, int, int]]:
    """server name -> (srv_op_state, srv_admin_state, srv_uweight)."""
    out = {}
    for line in _socat(sock, "show servers state app").splitlines():
        w = line.split()
        if len(w) > 8 and w[1] == "app":
            out[w[3]] = (int(w[5]), int(w[6]), int(w[7]))
    return out


def _wait(cond: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return False


def test_states_survive_into_a_new_process(
    weir: Callable[..., Any], http_backend: Callable[..., Any], tmp_path: Path
) -> None:
    live = http_backend("live").port
    dead = free_port()
    old_sock, old_port = tmp_path / "old.sock", free_port()
    weir(
        CONFIG.format(
            sock=old_sock, extra="", dextra="", port=old_port, live=live, s4=dead, inter=100
        ),
        wait_ports=[old_port],
    )
    assert _wait(old_sock.exists)
    for cmd in (
        "set server app/s1 state maint",
        "set server app/s2 weight 3",
        "set server app/s3 state drain",
    ):
        assert _socat(old_sock, cmd).strip() == ""
    assert _wait(lambda: _states(old_sock)["s4"][0] == 0), _states(old_sock)
    state_file = tmp_path / "state" / "servers"
    state_file.parent.mkdir()
    state_file.write_text(_socat(old_sock, "show servers state"))

    new_sock, new_port = tmp_path / "new.sock", free_port()
    weir(
        CONFIG.format(
            sock=new_sock,
            extra=f"    server-state-base {state_file.parent}\n    server-state-file servers",
            dextra="    load-server-state-from-file global",
            port=new_port,
            live=live,
            s4=live,  # alive now: only the saved state keeps it DOWN until `rise` checks
            inter="10s",
        ),
        wait_ports=[new_port],
    )
    assert _wait(new_sock.exists)
    got = _states(new_sock)
    assert got["s1"][1] & 0x01  # forced maintenance
    assert got["s2"][2] == 3  # the administrator's weight (config weight unchanged)
    assert got["s3"][1] & 0x08  # forced drain
    assert got["s4"][0] == 0  # DOWN as the old process's checks saw it
    assert got["s5"] == (2, 0, 7)  # untouched
