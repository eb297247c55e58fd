"""Seamless reloads under load: `weir -sf OLD` (standalone) and the master's SIGUSR2.

Each test drives continuous traffic (keep-alive and new-connection clients) while weir is
replaced several times, and asserts that no request failed and no connection was reset,
that a slow request in flight at a reload completes, and that the new configuration serves
the new connections.
"""

from __future__ import annotations

import signal
import socket
import threading
from pathlib import Path

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import free_port
from tests.scenarios.process.proc import (
    LoadGenerator,
    get,
    reload_sf,
    start,
    wait_gone,
)

# `hard-stop-after` is longer than any test: an old process must leave because its
# connections ended, never because it was cut off.
CFG = """\
global
    hard-stop-after 2m
defaults
    mode http
    timeout connect 2s
    timeout client 20s
    timeout server 20s
    timeout http-keep-alive 15s
frontend web
    bind 127.0.0.1:{port}
    use_backend slow if {{ path_beg /slow }}
    default_backend {backend}
backend app
    server a 127.0.0.1:{a}
backend other
    server b 127.0.0.1:{b}
backend slow
    server s 127.0.0.1:{s}
"""

RELOADS = 6


def _backends(http_backend: object) -> tuple[HttpBackend, HttpBackend, HttpBackend]:
    make = http_backend  # the conftest factory
    a = make("app")  # type: ignore[operator]
    b = make("other")  # type: ignore[operator]
    s = make("slow", delay=2.0)  # type: ignore[operator]
    return a, b, s


def _slow_request(port: int, out: list[object]) -> None:
    try:
        out.append(get(port, "/slow", timeout=20))
    except Exception as e:  # recorded for the assertion
        out.append(e)


def test_reload_with_sf_under_load_loses_nothing(tmp_path: Path, http_backend: object) -> None:
    a, b, s = _backends(http_backend)
    port = free_port()

    def cfg(backend: str) -> str:
        return CFG.format(port=port, backend=backend, a=a.port, b=b.port, s=s.port)

    procs = [start(cfg("app"), tmp_path / "p0", name="weir0", wait_ports=[port])]
    slow: list[object] = []
    slow_thread: threading.Thread | None = None
    try:
        with LoadGenerator(port, duration=30) as load:
            assert wait_until(lambda: load.result.ok > 50, timeout=10)
            for i in range(1, RELOADS + 1):
                if i == 2:
                    # A slow request is in flight on the old process during this reload.
                    slow_thread = threading.Thread(target=_slow_request, args=(port, slow))
                    slow_thread.start()
                    assert wait_until(lambda: len(s.requests) == 1, timeout=10)
                backend = "other" if i == RELOADS else "app"
                procs.append(
                    reload_sf(procs[-1], cfg(backend), tmp_path / f"p{i}", name=f"weir{i}")
                )
                before = load.result.ok
                assert wait_until(lambda before=before: load.result.ok > before + 20, timeout=10)
            # The last configuration routes new connections to "other".
            assert get(port)[1] == "other"
            served = load.result.ok
            assert wait_until(lambda: load.result.backends["other"] > 20, timeout=10)
            result = load.stop()
        assert slow_thread is not None
        slow_thread.join(25)
        assert result.failures == [], result.failures[:10]
        assert result.resets == 0
        assert served > 200
        assert slow == [(200, "slow", "Hello! This is slow!")], slow
        # Every old process leaves once its connections are done.
        for p in procs[:-1]:
            assert wait_gone(p.pid, timeout=20), p.log
            assert p.wait_exit(5) == 0, p.log
            assert "Traceback" not in p.log
    finally:
        for p in reversed(procs):
            p.stop()
    assert procs[-1].stopped_cleanly, procs[-1].log


def test_kept_alive_clients_move_to_the_new_process(tmp_path: Path, http_backend: object) -> None:
    """A keep-alive client that never stops sending is told `Connection: close` by the old
    process, reconnects to the new one, and the old process exits while the load goes on."""
    a, b, s = _backends(http_backend)
    port = free_port()
    text = CFG.format(port=port, backend="app", a=a.port, b=b.port, s=s.port)
    old = start(text, tmp_path / "old", name="old", wait_ports=[port])
    new = None
    try:
        with LoadGenerator(port, keepalive=4, fresh=0, duration=30) as load:
            assert wait_until(lambda: load.result.ok > 50, timeout=10)
            new = reload_sf(old, text, tmp_path / "new", name="new")
            assert wait_gone(old.pid, timeout=10), old.log
            assert load.result.closes_asked >= 4
            before = load.result.ok
            assert wait_until(lambda: load.result.ok > before + 50, timeout=10)
            result = load.stop()
        assert result.failures == [], result.failures[:10]
    finally:
        if new is not None:
            new.stop()
        old.stop()


def test_master_reload_under_load_loses_nothing(tmp_path: Path, http_backend: object) -> None:
    a, b, s = _backends(http_backend)
    port = free_port()
    work = tmp_path / "mw"

    def cfg(backend: str) -> str:
        return "global\n    nbthread 2\n" + CFG.format(
            port=port, backend=backend, a=a.port, b=b.port, s=s.port
        ).removeprefix("global\n")

    master = start(cfg("app"), work, "-W", name="master", wait_ports=[port])
    cfg_path = work / "master.cfg"
    slow: list[object] = []
    try:
        with LoadGenerator(port, duration=30) as load:
            assert wait_until(lambda: load.result.ok > 50, timeout=10)
            for i in range(1, RELOADS + 1):
                if i == 2:
                    t = threading.Thread(target=_slow_request, args=(port, slow))
                    t.start()
                    assert wait_until(lambda: len(s.requests) == 1, timeout=10)
                cfg_path.write_text(cfg("other" if i == RELOADS else "app"))
                done = master.log.count("Loading success.")
                master.send_signal(signal.SIGUSR2)
                assert wait_until(
                    lambda done=done: master.log.count("Loading success.") > done, timeout=20
                ), master.log
                before = load.result.ok
                assert wait_until(lambda before=before: load.result.ok > before + 20, timeout=10)
            assert get(port)[1] == "other"
            result = load.stop()
        t.join(25)
        assert result.failures == [], result.failures[:10]
        assert result.resets == 0
        assert slow == [(200, "slow", "Hello! This is slow!")], slow
        # The old workers all left; two current ones remain.
        assert wait_until(lambda: master.log.count("Former worker") == 2 * RELOADS, timeout=20)
    finally:
        master.stop()
    assert master.stopped_cleanly, master.log
    assert "Traceback" not in master.log


def _idle_keepalive(port: int) -> socket.socket:
    """A client connection that made one keep-alive request and now waits."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    head = b""
    while b"Hello! This is app!" not in head:
        chunk = s.recv(4096)
        assert chunk, head
        head += chunk
    assert b"Connection: close" not in head
    return s


def test_idle_connection_ends_at_its_next_request(tmp_path: Path, http_backend: object) -> None:
    a, b, s = _backends(http_backend)
    port = free_port()
    p = start(
        CFG.format(port=port, backend="app", a=a.port, b=b.port, s=s.port),
        tmp_path,
        name="weir",
        wait_ports=[port],
    )
    try:
        conn = _idle_keepalive(port)
        with conn:
            p.send_signal(signal.SIGUSR1)
            assert wait_until(lambda: "Proxy web stopped" in p.log, timeout=10)
            assert p.alive  # the idle connection keeps it
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200")
            assert b"\r\nConnection: close\r\n" in answer
        assert p.wait_exit(10) == 0, p.log
    finally:
        p.stop()


def test_close_spread_time_closes_idle_connections(tmp_path: Path, http_backend: object) -> None:
    a, b, s = _backends(http_backend)
    port = free_port()
    text = CFG.format(port=port, backend="app", a=a.port, b=b.port, s=s.port)
    text = text.replace("global\n", "global\n    close-spread-time 500ms\n")
    p = start(text, tmp_path, name="weir", wait_ports=[port])
    try:
        conns = [_idle_keepalive(port) for _ in range(3)]
        p.send_signal(signal.SIGUSR1)
        for c in conns:
            with c:
                assert c.recv(1) == b""  # closed by weir within the window
        assert p.wait_exit(10) == 0, p.log
    finally:
        p.stop()
