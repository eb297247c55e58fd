"""The master and its workers: `nbthread`, `-W`, supervision, reload, the master CLI."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import free_port, is_listening
from tests.helpers.procs import ProxyProcess
from tests.scenarios.process.proc import (
    alive,
    children,
    get,
    kill_quietly,
    start,
    status_field,
    wait_gone,
)

CFG = """\
global
    nbthread {n}
{extra}
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:{port}
    default_backend {backend}
backend app
    server a 127.0.0.1:{a}
backend other
    server b 127.0.0.1:{b}
"""


def _cfg(
    port: int, a: HttpBackend, b: HttpBackend, *, n: int = 2, backend: str = "app", extra: str = ""
) -> str:
    return CFG.format(n=n, extra=extra, port=port, backend=backend, a=a.port, b=b.port)


def _workers(master: ProxyProcess, count: int) -> list[int]:
    """The master's workers, once they all serve."""
    assert wait_until(lambda: "Loading success." in master.log, timeout=20), master.log
    assert wait_until(lambda: len(children(master.pid)) == count, timeout=10), master.log
    return children(master.pid)


def _mcli(path: str, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(10)
        s.connect(path)
        s.sendall(command.encode() + b"\n")
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode()


def test_nbthread_2_starts_two_workers_that_both_serve(
    tmp_path: Path, http_backend: object
) -> None:
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    p = start(_cfg(port, a, b), tmp_path, name="weir", wait_ports=[port])
    try:
        w1, w2 = _workers(p, 2)
        # Each worker alone serves: stop one, then the other (SIGSTOP keeps it from
        # accepting; the shared queue is then drained by its sibling only).
        for stopped, serving in ((w1, w2), (w2, w1)):
            before = len(a.requests)
            kill_quietly(stopped, signal.SIGSTOP)
            try:
                for _ in range(3):
                    assert get(port)[0] == 200
            finally:
                kill_quietly(stopped, signal.SIGCONT)
            assert len(a.requests) == before + 3
            assert status_field(serving, "State").startswith(("S", "R"))
        assert status_field(w1, "PPid") == str(p.pid)
    finally:
        p.stop()
    assert p.stopped_cleanly, p.log


def test_killed_worker_is_replaced(tmp_path: Path, http_backend: object) -> None:
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    p = start(_cfg(port, a, b), tmp_path, "-W", name="weir", wait_ports=[port])
    try:
        first = _workers(p, 2)
        kill_quietly(first[0], signal.SIGKILL)
        assert wait_until(
            lambda: len(children(p.pid)) == 2 and first[0] not in children(p.pid), timeout=10
        ), p.log
        assert "exited with code 137 (Killed)" in p.log
        assert first[1] in children(p.pid)
        for _ in range(5):
            assert get(port)[0] == 200
    finally:
        p.stop()
    assert p.stopped_cleanly, p.log


def test_reload_takes_new_config_and_broken_config_keeps_old(
    tmp_path: Path, http_backend: object
) -> None:
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    sock = str(tmp_path / "master.sock")
    p = start(_cfg(port, a, b, n=1), tmp_path, "-W", "-S", sock, name="weir", wait_ports=[port])
    cfg_path = tmp_path / "weir.cfg"
    try:
        assert get(port)[1] == "app"
        (old,) = _workers(p, 1)
        out = _mcli(sock, "show proc")
        assert out.splitlines()[0].split() == [
            "#<PID>",
            "<type>",
            "<reloads>",
            "<uptime>",
            "<version>",
        ]
        assert f"{p.pid}" in out
        assert f"{old}" in out
        # A new configuration: new connections follow it; the old worker leaves.
        cfg_path.write_text(_cfg(port, a, b, n=1, backend="other"))
        _mcli(sock, "reload")
        assert wait_until(lambda: p.log.count("Loading success.") == 2, timeout=20), p.log
        assert get(port)[1] == "other"
        assert wait_gone(old), p.log
        (current,) = _workers(p, 1)
        assert "1 [failed: 0]" in _mcli(sock, "show proc")
        # A broken configuration: nothing changes.
        cfg_path.write_text("frontend web\n    bind 127.0.0.1:1\n    frobnicate\n")
        p.send_signal(signal.SIGUSR2)
        assert wait_until(lambda: "reload failed" in p.log, timeout=20), p.log
        assert get(port)[1] == "other"
        assert children(p.pid) == [current]
        assert "2 [failed: 1]" in _mcli(sock, "show proc")
        # A new port that cannot be bound fails the reload as well.
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        try:
            cfg_path.write_text(
                _cfg(port, a, b, n=1) + f"frontend more\n    bind 127.0.0.1:{taken}\n"
                "    default_backend app\n"
            )
            p.send_signal(signal.SIGHUP)  # SIGHUP reloads a master too
            assert wait_until(lambda: p.log.count("reload failed") == 2, timeout=20), p.log
        finally:
            blocker.close()
        assert get(port)[1] == "other"
        assert children(p.pid) == [current]
    finally:
        p.stop()
    assert p.stopped_cleanly, p.log


def test_master_death_makes_workers_leave(tmp_path: Path, http_backend: object) -> None:
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    p = start(_cfg(port, a, b), tmp_path, "-W", name="weir", wait_ports=[port])
    workers = _workers(p, 2)
    try:
        kill_quietly(p.pid, signal.SIGKILL)
        for w in workers:
            assert wait_gone(w, timeout=10)
        assert not is_listening(port)
    finally:
        for w in workers:
            kill_quietly(w)
        p.stop()


def test_soft_stop_of_master_waits_for_requests(tmp_path: Path, http_backend: object) -> None:
    a = http_backend("app", delay=1.5)  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    p = start(_cfg(port, a, b), tmp_path, "-W", name="weir", wait_ports=[port])
    try:
        import threading

        got: list[object] = []
        t = threading.Thread(target=lambda: got.append(get(port)))
        t.start()
        assert a.wait_requests(1, timeout=10)
        p.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: not is_listening(port), timeout=10)
        t.join(10)
        assert got
        assert got[0][0] == 200  # type: ignore[index]
        assert p.wait_exit(10) == 0, p.log
        assert "All workers exited" in p.log
    finally:
        p.stop()


def test_cpu_map_pins_each_worker(tmp_path: Path, http_backend: object) -> None:
    import os

    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    extra = f"    cpu-map auto:1/1-2 {cpus[0]} {cpus[1]}"
    p = start(_cfg(port, a, b, extra=extra), tmp_path, name="weir", wait_ports=[port])
    try:
        workers = _workers(p, 2)
        assert wait_until(
            lambda: (
                sorted(status_field(w, "Cpus_allowed_list") for w in workers)
                == sorted([str(cpus[0]), str(cpus[1])])
            ),
            timeout=10,
        )
    finally:
        p.stop()


@pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")
def test_master_cli_with_socat(tmp_path: Path, http_backend: object) -> None:
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    sock = str(tmp_path / "m.sock")
    p = start(
        _cfg(port, a, b),
        tmp_path,
        "-W",
        "-S",
        f"{sock},level,user",
        name="weir",
        wait_ports=[port],
    )
    try:
        # The workers listening does not mean the master's CLI socket is up yet.
        assert wait_until(lambda: Path(sock).exists(), timeout=10), p.log
        out = subprocess.run(
            ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
            input="show proc\n",
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        assert "# workers" in out
        assert len([ln for ln in out.splitlines() if " worker " in ln]) == 2
        denied = subprocess.run(
            ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
            input="reload\n",
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
        assert "Permission denied" in denied
        assert alive(p.pid)
    finally:
        p.stop()


def test_master_cli_relays_to_a_worker(tmp_path: Path, http_backend: object) -> None:
    """`@1 <command>` / `@2 ...` / `@!<pid> ...` on the master CLI: the answer of that
    worker's runtime API, at the master connection's level."""
    a = http_backend("app")  # type: ignore[operator]
    b = http_backend("other")  # type: ignore[operator]
    port = free_port()
    sock = str(tmp_path / "m.sock")
    p = start(
        _cfg(port, a, b), tmp_path, "-W", "-S", f"{sock},level,user", name="weir",
        wait_ports=[port],
    )  # fmt: skip

    def cli(line: str) -> str:
        return subprocess.run(
            ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
            input=line + "\n",
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout

    try:
        assert wait_until(lambda: Path(sock).exists(), timeout=10), p.log
        workers = [ln.split()[0] for ln in cli("show proc").splitlines() if " worker " in ln]
        assert len(workers) == 2
        pids = set()
        for target in ("@1", "@2", f"@!{workers[0]}"):
            # A worker answers relays once it has started its services, just after it
            # began to serve the port.
            assert wait_until(lambda t=target: "Pid:" in cli(f"{t} show info"), timeout=10)
            info = cli(f"{target} show info")
            pids.add(next(ln for ln in info.splitlines() if ln.startswith("Pid:")).split()[1])
        assert pids == set(workers)
        assert "Permission denied" in cli("@1 disable server be/app")  # a user's connection
        assert "Can't find the target CLI '@7'" in cli("@7 show info")
    finally:
        p.stop()
