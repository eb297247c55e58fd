"""Kernel splicing in mode tcp: with `option splice-request` (from the start) or
`splice-auto` (once a read is large), a multi-MiB transfer arrives byte-exact both ways,
a client's half-close still gets the whole answer, and the byte counters are exact; with
no pipes to spare (`maxpipes 1`: a session takes two) or `nosplice`, the ordinary relay
does the same work."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.ports import free_port

CFG = """\
global
    stats socket {sock} level admin
{glob}defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    {option}
    default_backend be
backend be
    server s1 {backend}
"""


def _echo_through(port: int, data: bytes) -> bytes:
    """Send `data`, half-close, and read everything back (the echo server answers it)."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:

        def send() -> None:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        while chunk := s.recv(1 << 16):
            got += chunk
        t.join(10)
    return bytes(got)


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def _stat(sock: Path, field: str) -> int:
    out = _cli(sock, "show stat")
    header, *rows = out.splitlines()
    names = header.lstrip("# ").split(",")
    row = next(r.split(",") for r in rows if r.startswith("fe,FRONTEND,"))
    return int(row[names.index(field)])


@pytest.mark.parametrize(
    ("option", "glob", "spliced"),
    [
        ("option splice-request", "", True),
        ("option splice-auto", "", True),
        ("option splice-response", "    maxpipes 1\n", False),  # 1 < 2 pipes: ordinary
        ("option splice-auto", "    nosplice\n", False),
    ],
)
def test_large_transfers_are_exact_both_ways(
    option: str, glob: str, spliced: bool, weir: Any, tcp_backend: Any, tmp_path: Path
) -> None:
    echo = tcp_backend("echo")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        CFG.format(sock=sock, glob=glob, port=port, option=option, backend=echo.address),
        wait_ports=[port],
    )
    data = os.urandom(6 * 1024 * 1024)
    for _ in range(2):  # two sessions: pipes go back to the pool and are used again
        back = _echo_through(port, data)
        assert len(back) == len(data)
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    assert _stat(sock, "bin") == 2 * len(data)
    assert _stat(sock, "bout") == 2 * len(data)
    # The two pipes of a spliced session are back in the pool, free for the next one.
    info = _cli(sock, "show info")
    assert ("PipesFree: 2" in info) is spliced, info
    assert "PipesUsed: 0" in info


def test_splice_keywords_are_checked() -> None:
    from tests.helpers.procs import run_check

    r = run_check("global\n    maxpipes lots\nfrontend f\n    bind :8080\n")
    assert r.returncode != 0
    assert "maxpipes" in r.stdout
    ok = run_check(
        "global\n    maxpipes 100\n    tune.pipesize 65536\ndefaults\n    mode tcp\n"
        "    option splice-auto\n    no option splice-auto\nfrontend f\n    bind :8080\n"
        "    option splice-response\n    default_backend b\nbackend b\n"
        "    server s 127.0.0.1:9\n"
    )
    assert "Configuration file is valid" in ok.stdout, ok.stdout
