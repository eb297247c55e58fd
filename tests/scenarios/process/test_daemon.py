"""Detaching, the pidfile, dropping privileges and chroot, observed from /proc.

The privilege and chroot tests need root (they are skipped otherwise) and use the user
`nobody`."""

from __future__ import annotations

import os
import pwd
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import free_port, is_listening, reserve_port, wait_listening
from tests.helpers.procs import REPO_ROOT
from tests.scenarios.process.proc import (
    PY,
    alive,
    children,
    get,
    kill_quietly,
    start,
    status_field,
    wait_gone,
)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

CFG = """\
global
{extra}
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:{port}
    default_backend app
backend app
    server a 127.0.0.1:{a}
"""


def _weir(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "weir", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def _stop(pid: int) -> None:
    kill_quietly(pid, signal.SIGTERM)
    if not wait_gone(pid, timeout=10):
        kill_quietly(pid, signal.SIGKILL)


def test_daemon_writes_pidfile_and_detaches(tmp_path: Path, http_backend: object) -> None:
    a: HttpBackend = http_backend("app")  # type: ignore[operator]
    port = free_port()
    cfg = tmp_path / "weir.cfg"
    cfg.write_text(CFG.format(extra="    daemon", port=port, a=a.port))
    pidfile = tmp_path / "weir.pid"
    r = _weir("-f", str(cfg), "-p", str(pidfile), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    # The command returned once serving: the pidfile names a live, detached process.
    pid = int(pidfile.read_text())
    try:
        assert alive(pid)
        assert is_listening(port)
        assert os.getsid(pid) == pid  # leader of its own session
        assert status_field(pid, "PPid") != str(os.getpid())
        for fd in (0, 1, 2):
            assert str(Path(f"/proc/{pid}/fd/{fd}").readlink()) == "/dev/null"
        assert get(port)[0] == 200
    finally:
        _stop(pid)
    assert not pidfile.exists()  # removed by the process that it named


def test_daemon_start_failure_is_reported(tmp_path: Path) -> None:
    port = free_port()
    cfg = tmp_path / "weir.cfg"
    cfg.write_text(CFG.format(extra=f"    chroot {tmp_path}/missing", port=port, a=9))
    r = _weir("-D", "-f", str(cfg), "-p", str(tmp_path / "p.pid"), cwd=tmp_path)
    assert r.returncode == 1
    assert "cannot chroot" in r.stderr
    assert wait_until(lambda: not is_listening(port), timeout=10)


def test_daemon_master_worker_pidfile_holds_the_master(
    tmp_path: Path, http_backend: object
) -> None:
    a: HttpBackend = http_backend("app")  # type: ignore[operator]
    port = free_port()
    cfg = tmp_path / "weir.cfg"
    cfg.write_text(CFG.format(extra="    nbthread 2\n    master-worker", port=port, a=a.port))
    pidfile = tmp_path / "weir.pid"
    r = _weir("-D", "-f", str(cfg), "-p", str(pidfile), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    master = int(pidfile.read_text())
    try:
        assert wait_until(lambda: len(children(master)) == 2, timeout=10)
        assert get(port)[0] == 200
        # `-sf $(cat pidfile)` hands the sockets over from the master.
        r = _weir("-D", "-f", str(cfg), "-p", str(pidfile), "-sf", str(master), cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        new = int(pidfile.read_text())
        assert new != master
        assert wait_gone(master, timeout=20)
        assert get(port)[0] == 200
        master = new
    finally:
        _stop(master)


def _privileged_port() -> int:
    for port in range(700, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        reserve_port(port)
        return port
    pytest.skip("no free port below 1024")


@needs_root
def test_privileges_dropped_after_binding_a_privileged_port(
    tmp_path: Path, http_backend: object
) -> None:
    a: HttpBackend = http_backend("app")  # type: ignore[operator]
    port = _privileged_port()
    nobody = pwd.getpwnam("nobody")
    text = CFG.format(extra="    user nobody\n    group nogroup", port=port, a=a.port)
    p = start(text, tmp_path / "one", name="weir", wait_ports=[port])
    try:
        uid = str(nobody.pw_uid)
        assert wait_until(lambda: status_field(p.pid, "Uid").split() == [uid] * 4, timeout=10)
        assert status_field(p.pid, "Gid").split() == [str(nobody.pw_gid)] * 4
        assert status_field(p.pid, "Groups") == ""
        assert get(port)[0] == 200
    finally:
        p.stop()
    assert p.stopped_cleanly, p.log
    # With workers, the master keeps root (to bind new ports on reload); workers drop it.
    port2 = _privileged_port()
    text = CFG.format(
        extra="    user nobody\n    group nogroup\n    nbthread 2", port=port2, a=a.port
    )
    m = start(text, tmp_path / "mw", "-W", name="master", wait_ports=[port2])
    try:
        assert wait_until(lambda: "Loading success." in m.log, timeout=20)
        workers = children(m.pid)
        assert len(workers) == 2
        assert status_field(m.pid, "Uid").split()[1] == "0"
        for w in workers:
            assert status_field(w, "Uid").split() == [str(nobody.pw_uid)] * 4
        assert get(port2)[0] == 200
    finally:
        m.stop()
    assert m.stopped_cleanly, m.log


@needs_root
def test_chroot_into_an_empty_directory(tmp_path: Path, http_backend: object) -> None:
    """Everything a running weir does — proxying, the stats page, health checks, logging,
    error pages, a state dump, a soft stop — works from inside an empty, unwritable
    directory: nothing is imported or opened from the file system after the chroot."""
    a: HttpBackend = http_backend("app")  # type: ignore[operator]
    jail = tmp_path / "jail"
    jail.mkdir()
    jail.chmod(0o555)
    port = free_port()
    log_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    log_sock.bind(("127.0.0.1", 0))
    log_sock.settimeout(5)
    logport = log_sock.getsockname()[1]
    text = f"""\
global
    chroot {jail}
    user nobody
    group nogroup
    log 127.0.0.1:{logport} local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend web
    bind 127.0.0.1:{port}
    stats enable
    stats uri /stats
    use_backend dead if {{ path_beg /dead }}
    default_backend app
backend app
    option httpchk GET /healthCheck.html
    server a 127.0.0.1:{a.port} check inter 200ms
backend dead
    server d 127.0.0.1:9
"""
    p = start(text, tmp_path / "w", name="weir", wait_ports=[port])
    try:
        assert wait_until(
            lambda: str(Path(f"/proc/{p.pid}/root").readlink()) == str(jail), timeout=10
        )
        assert get(port)[0] == 200
        assert get(port, "/dead")[0] == 503
        assert get(port, "/stats")[0] == 200
        assert get(port, "/stats;csv")[0] == 200
        assert wait_until(lambda: len(a.checks) >= 3, timeout=10)
        data, _ = log_sock.recvfrom(65536)
        assert b"web" in data
        p.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "SIGHUP: Server app/a is UP" in p.log, timeout=10), p.log
        p.send_signal(signal.SIGUSR1)
        assert p.wait_exit(10) == 0, p.log
    finally:
        p.stop()
        log_sock.close()
    for bad in ("Traceback", "Error", "cannot preload"):
        assert bad not in p.log, p.log
    assert wait_listening(port, timeout=0.1) is False
