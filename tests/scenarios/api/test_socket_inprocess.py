"""The runtime API's sockets driven by real clients (socat, haproxyadmin), with the API
served in-process on its own event loop thread: framing, `;`, prompt mode, levels,
timeouts and the connection limit, independently of the process runner."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from weir.api import start_api
from weir.api.server import ApiServer
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.net.loop import new_loop
from weir.proxy.runtime import Runtime, build

CONFIG = """\
global
    stats socket {dir}/admin.sock mode 600 level admin
    stats socket {dir}/user.sock level user
    stats timeout {timeout}
    stats maxconn 2
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe1
    bind 127.0.0.1:18080
    default_backend be1
backend be1
    server s1 127.0.0.1:18081 weight 10
    server s2 127.0.0.1:18082 weight 20
"""

needs_socat = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")


@dataclass
class Served:
    dir: Path
    rt: Runtime
    server: ApiServer

    @property
    def admin(self) -> str:
        return str(self.dir / "admin.sock")

    @property
    def user(self) -> str:
        return str(self.dir / "user.sock")


def _serve(tmp_path: Path, timeout: str = "2s") -> Iterator[Served]:
    path = tmp_path / "weir.cfg"
    path.write_text(CONFIG.format(dir=tmp_path, timeout=timeout))
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors()
    rt = build(cfg)
    loop = new_loop()
    started = threading.Event()
    holder: list[ApiServer] = []

    def run() -> None:
        def start() -> None:
            server = start_api(loop, rt, cfg, say=lambda level, msg: None)
            assert server is not None
            holder.append(server)
            started.set()

        loop.call_soon(start)
        loop.run_forever()
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(5)
    deadline = time.monotonic() + 5
    while not (tmp_path / "admin.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    yield Served(tmp_path, rt, holder[0])

    def stop() -> None:
        holder[0].close()
        loop.stop()

    loop.call_soon_threadsafe(stop)
    thread.join(5)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from _serve(tmp_path)


def _socat(sock: str, data: str, timeout: float = 5) -> str:
    out = subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=data.encode(),
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    return out.stdout.decode()


def _raw(sock: str, data: bytes, *, wait_close: float = 5) -> bytes:
    """Send `data`, keep the connection open, read until the server closes."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(wait_close)
        s.connect(sock)
        s.sendall(data)
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)


@needs_socat
def test_one_shot_and_semicolons(served: Served) -> None:
    assert _socat(served.admin, "get weight be1/s2\n") == "20 (initial 20)\n\n"
    out = _socat(served.admin, "set weight be1/s2 5; get weight be1/s2\n")
    assert out == "\n5 (initial 20)\n\n"
    # an escaped semicolon is part of the word
    out = _socat(served.admin, "show backend\\;\n")
    assert out.startswith("Unknown command")
    # a last line without its newline is not run
    assert _socat(served.admin, "get weight be1/s2") == ""
    assert (served.dir / "admin.sock").stat().st_mode & 0o777 == 0o600


@needs_socat
def test_pipelined_lines_run_in_order(served: Served) -> None:
    out = _socat(served.admin, "disable server be1/s1\nshow stat -1 4 -1\n")
    lines = out.split("\n")
    assert lines[0] == ""  # the first answer is empty, then its empty line
    assert any(line.startswith("be1,s1,") and ",MAINT," in line for line in lines)
    assert out.endswith("\n\n")


@needs_socat
def test_prompt_mode(served: Served) -> None:
    out = _socat(served.admin, "prompt\nshow cli level\nquit\n")
    assert out == "\n> admin\n\n> "


def test_interactive_session_stays_open_until_quit(served: Served) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(served.admin)
        s.sendall(b"prompt\n")
        assert s.recv(100) == b"\n> "
        s.sendall(b"get weight be1/s1\n")
        assert s.recv(100) == b"10 (initial 10)\n\n> "
        s.sendall(b"user\nshow cli level\n")
        data = b""
        while not data.endswith(b"user\n\n> "):
            data += s.recv(100)
        s.sendall(b"set weight be1/s1 3\n")
        assert s.recv(100) == b"Permission denied\n\n> "
        s.sendall(b"quit\n")
        assert s.recv(100) == b""
    assert served.rt.backends["be1"].servers[0].uweight == 10


@needs_socat
def test_user_level_socket(served: Served) -> None:
    assert _socat(served.user, "disable server be1/s1\n") == "Permission denied\n\n"
    assert _socat(served.user, "show cli level\n") == "user\n\n"
    csv = _socat(served.user, "show stat\n")
    assert csv.startswith("# pxname,svname,")


def test_idle_connection_is_closed_by_the_timeout(tmp_path: Path) -> None:
    for served in _serve(tmp_path, timeout="300ms"):
        start = time.monotonic()
        assert _raw(served.admin, b"prompt\n", wait_close=5) == b"\n> "
        assert time.monotonic() - start < 4


def test_connections_over_maxconn_wait_for_a_slot(served: Served) -> None:
    held = []
    try:
        for _ in range(2):  # stats maxconn 2
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(5)
            s.connect(served.admin)
            s.sendall(b"prompt\n")
            assert s.recv(10) == b"\n> "
            held.append(s)
        waiting = socket.socket(socket.AF_UNIX)
        waiting.settimeout(0.3)
        waiting.connect(served.admin)
        waiting.sendall(b"show cli level\n")
        with pytest.raises(TimeoutError):
            waiting.recv(100)
        held.pop().close()  # a slot frees: the waiting one is served
        waiting.settimeout(5)
        assert waiting.recv(100) == b"admin\n\n"
        waiting.close()
    finally:
        for s in held:
            s.close()


def test_haproxyadmin_lists_disables_and_weights(served: Served) -> None:
    haproxy = pytest.importorskip("haproxyadmin.haproxy")
    hap = haproxy.HAProxy(socket_file=served.admin, timeout=5)
    assert sorted(b.name for b in hap.backends()) == ["be1"]
    assert sorted(s.name for s in hap.server("s2")) == ["s2"]
    (s2,) = hap.server("s2", backend="be1")
    assert int(s2.weight) == 20  # haproxyadmin returns the CSV text
    assert s2.setweight(7) is True
    assert int(s2.weight) == 7
    assert s2.setstate("disable") is True
    assert s2.status == "MAINT"
    assert s2.setstate("drain") is True
    assert s2.status == "DRAIN"
    assert s2.setstate("enable") is True
    assert s2.status == "no check"
    assert int(hap.metric("Maxconn")) > 0  # read from `show info`
    assert served.rt.backends["be1"].servers[1].uweight == 7
