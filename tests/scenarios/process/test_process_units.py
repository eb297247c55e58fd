"""The process model's pure parts, without running weir: keywords, `cpu-map`, the command
line, the file-descriptor plan, and the socket hand-over dialogue over a socketpair."""

from __future__ import annotations

import resource
import socket
import threading
from pathlib import Path

import pytest

from weir.cli import UsageError, parse_args
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.config.model import Config
from weir.net.listener import SOFT_STOP, InheritedSockets, socket_key
from weir.process import handover
from weir.process.conf import CpuMapError, parse_cpu_map, process_conf
from weir.process.master import describe_status
from weir.process.mcli import parse_spec
from weir.process.system import StartupError, fd_plan

TAIL = """\
defaults
    mode http
    timeout client 1s
    timeout server 1s
    timeout connect 1s
listen l
    bind 127.0.0.1:1
    server s 127.0.0.1:2
"""


def _load(tmp_path: Path, global_lines: str) -> tuple[Config, list[str]]:
    path = tmp_path / "t.cfg"
    path.write_text("global\n" + global_lines + TAIL)
    diags = Diagnostics()
    cfg = load([str(path)], diags)
    return cfg, [str(d) for d in diags.errors]


def test_process_keywords_fill_the_settings(tmp_path: Path) -> None:
    cfg, errors = _load(
        tmp_path,
        "    nbthread 4\n    master-worker no-exit-on-failure\n    mworker-max-reloads 3\n"
        "    chroot /var/empty\n    ulimit-n 8000\n    fd-hard-limit 9000\n    strict-limits\n"
        "    hard-stop-after 30s\n    grace 2s\n    close-spread-time 5s\n    noreuseport\n"
        "    cpu-map 1/1-2 0\n    cpu-map 1/2 1\n",
    )
    assert errors == []
    g = process_conf(cfg)
    assert cfg.global_.nbthread == 4
    assert (g.master_worker, g.exit_on_failure, g.mworker_max_reloads) == (True, False, 3)
    assert (g.chroot, g.ulimit_n, g.fd_hard_limit, g.strict_limits) == (
        "/var/empty",
        8000,
        9000,
        True,
    )
    assert (g.hard_stop_after, g.grace, g.close_spread_time) == (30000, 2000, 5000)
    assert g.noreuseport
    # A later line overrides what it overlaps.
    assert g.cpu_map == {1: frozenset({0}), 2: frozenset({1})}


def test_process_keyword_errors(tmp_path: Path) -> None:
    for line, message in (
        ("nbthread 65", "nbthread"),
        ("nbthread 0", "nbthread"),
        ("master-worker sometimes", "no-exit-on-failure"),
        ("hard-stop-after soon", "not a time value"),
        ("cpu-map 2/1 0", "process 1"),
        ("cpu-map auto:1/1-4 0-1", "pairs threads with CPUs"),
    ):
        _cfg, errors = _load(tmp_path, f"    {line}\n")
        assert errors, line
        assert message in errors[0], (line, errors)


def test_close_spread_time_infinite(tmp_path: Path) -> None:
    cfg, errors = _load(tmp_path, "    close-spread-time infinite\n")
    assert errors == []
    assert process_conf(cfg).close_spread_infinite


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["1", "0-3"], dict.fromkeys(range(1, 65), frozenset({0, 1, 2, 3}))),
        (["1/all", "2"], dict.fromkeys(range(1, 65), frozenset({2}))),
        (["auto:1/1-4", "3", "2", "1", "0"], {t: frozenset({t - 1}) for t in range(1, 5)}),
        (["auto:1/1-2", "0-1"], {1: frozenset({0}), 2: frozenset({1})}),
        (["1/odd", "0"], {t: frozenset({0}) for t in range(1, 65, 2)}),
        (["1/2-", "1"], {t: frozenset({1}) for t in range(2, 65)}),
    ],
)
def test_cpu_map_sets(args: list[str], expected: dict[int, frozenset[int]]) -> None:
    assert parse_cpu_map(args) == expected


@pytest.mark.parametrize(
    "args", [["1/0", "0"], ["1/1", "64"], ["1/3-2", "0"], ["1/x", "0"], ["1/1"]]
)
def test_cpu_map_refuses(args: list[str]) -> None:
    with pytest.raises(CpuMapError):
        parse_cpu_map(args)


def test_command_line_of_reloads() -> None:
    a = parse_args(["-W", "-f", "x.cfg", "-sf", "12", "34", "-x", "/run/s", "-S", "/m,level,user"])
    assert a.master_worker
    assert not a.systemd
    assert (a.old_pids, a.terminate_old) == ([12, 34], False)
    assert (a.fetch_path, a.master_cli, a.files) == ("/run/s", ["/m,level,user"], ["x.cfg"])
    a = parse_args(["-Ws", "-st", "7", "-f", "y.cfg"])
    assert a.systemd
    assert a.master_worker
    assert a.terminate_old
    assert a.old_pids == [7]
    # An empty pid list (an empty pidfile) is fine, as in HAProxy.
    assert parse_args(["-f", "z.cfg", "-sf"]).old_pids == []
    with pytest.raises(UsageError, match="process ids"):
        parse_args(["-sf", "abc"])


def test_master_cli_spec() -> None:
    assert parse_spec("/run/m.sock,mode,600,level,user") == (
        "/run/m.sock",
        {"mode": "600", "level": "user"},
    )
    with pytest.raises(StartupError):
        parse_spec("/run/m.sock,mode")
    with pytest.raises(StartupError):
        parse_spec("/run/m.sock,colour,blue")


def test_fd_plan(tmp_path: Path) -> None:
    cfg, _ = _load(tmp_path, "    ulimit-n 4096\n")
    assert fd_plan(cfg, 1).wanted == 4096
    cfg, _ = _load(tmp_path, "    maxconn 1000\n")
    plan = fd_plan(cfg, 1)
    assert plan.reason == "maxconn"
    assert 2000 < plan.wanted < 2100
    cfg, _ = _load(tmp_path, "    fd-hard-limit 5000\n")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    assert fd_plan(cfg, 1).wanted == min(5000, hard)


def test_wait_status_words() -> None:
    assert describe_status(0) == (0, "Exit")
    assert describe_status(3 << 8) == (3, "Exit")
    assert describe_status(9) == (137, "Killed")
    assert describe_status(15) == (143, "Terminated")


def _listener() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(4)
    return s


def test_handover_dialogue_passes_listening_sockets() -> None:
    socks = [_listener() for _ in range(3)]
    keys = {socket_key(s) for s in socks}
    server, client = socket.socketpair()
    done = threading.Event()

    def serve() -> None:
        assert handover._read_line(server, len(handover.REQUEST)) == handover.REQUEST
        handover.send_listeners(server, socks)
        done.set()

    t = threading.Thread(target=serve)
    t.start()
    try:
        client.settimeout(5)
        got = handover._receive(client, "test")
        t.join(5)
        assert done.is_set()
        assert {socket_key(s) for s in got} == keys
        # A received socket is the same socket: a connection to it is accepted there.
        pool = InheritedSockets(got)
        key = socket_key(socks[0])
        assert key is not None
        taken = pool.take(key)
        assert taken is not None
        with socket.create_connection(socks[0].getsockname(), timeout=5):
            conn, _ = taken.accept()
            conn.close()
        taken.close()
        pool.close_rest()
        assert len(pool) == 0
    finally:
        for s in (*socks, server, client):
            s.close()


def test_fetch_from_a_pid_without_weir_is_none() -> None:
    # Our own pid offers nothing (this test process is not serving).
    assert handover.fetch_from_pid(1 << 22) is None


def test_socket_keys_ignore_non_listeners() -> None:
    s = socket.socket()
    try:
        assert socket_key(s) is None
    finally:
        s.close()
    pool = InheritedSockets([socket.socket()])
    assert len(pool) == 0


def test_soft_stop_state_closes_idle_sessions() -> None:
    class Session:
        def __init__(self) -> None:
            self.closed = False

        def stop_idle(self) -> None:
            self.closed = True
            SOFT_STOP.sessions.discard(self)

    SOFT_STOP.reset()
    try:
        sessions = [Session() for _ in range(3)]
        SOFT_STOP.sessions.update(sessions)
        SOFT_STOP.begin_drain(close_responses=False)
        assert SOFT_STOP.stopping
        assert SOFT_STOP.draining
        assert not SOFT_STOP.close_responses
        SOFT_STOP.close_idle()
        assert all(s.closed for s in sessions)
        assert not SOFT_STOP.sessions
    finally:
        SOFT_STOP.reset()


def test_a_failed_bind_gives_inherited_sockets_back(tmp_path: Path) -> None:
    """When binding fails after some inherited sockets were taken, they return to the pool
    for the next try (the SIGTTOU retry) instead of being closed."""
    from weir.net.listener import BindError
    from weir.process.listeners import bind_listeners

    inherited = _listener()
    blocker = _listener()
    port, taken = inherited.getsockname()[1], blocker.getsockname()[1]
    path = tmp_path / "t.cfg"
    path.write_text(
        TAIL.replace("bind 127.0.0.1:1", f"bind 127.0.0.1:{port}\n    bind 127.0.0.1:{taken}")
    )
    diags = Diagnostics()
    cfg = load([str(path)], diags)
    assert not diags.has_errors()
    pool = InheritedSockets([inherited])
    try:
        with pytest.raises(BindError):
            bind_listeners(cfg, inherited=pool, reuseport=False)
        assert len(pool) == 1
        assert inherited.fileno() >= 0
    finally:
        pool.close_rest()
        blocker.close()
