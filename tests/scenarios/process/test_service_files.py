"""The service files in examples/: the init script run for real on this machine, with every
path under a temporary root, and the systemd unit's commands run the way systemd would run
them (there is no systemd here): notify protocol, reload, stop."""

from __future__ import annotations

import re
import shlex
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import free_port, is_listening
from tests.helpers.procs import REPO_ROOT
from tests.scenarios.process.proc import PY, alive, children, get, kill_quietly, wait_gone

INIT = REPO_ROOT / "examples" / "weir.init"
UNIT = REPO_ROOT / "examples" / "weir.service"

CFG = """\
global
    hard-stop-after 10s
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


def _root(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A temporary root with the weir program, its configuration and run directories."""
    root = tmp_path / "root"
    for d in ("etc/weir", "run/weir", "usr/local/bin"):
        (root / d).mkdir(parents=True)
    prog = root / "usr/local/bin/weir"
    prog.write_text(f'#!/bin/sh\nPYTHONPATH={REPO_ROOT} exec {PY} -m weir "$@"\n')
    prog.chmod(0o755)
    env = {
        "PATH": "/sbin:/usr/sbin:/bin:/usr/bin",
        "DEFAULTS": str(root / "etc/default/weir"),  # absent
        "PIDFILE": str(root / "run/weir.pid"),
        "CONFIG": str(root / "etc/weir/weir.cfg"),
        "WEIR": str(prog),
        "RUNDIR": str(root / "run/weir"),
    }
    return root, env


def _init(env: dict[str, str], action: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(INIT), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _pid(env: dict[str, str]) -> int:
    return int(Path(env["PIDFILE"]).read_text().split()[0])


@pytest.mark.skipif(shutil.which("start-stop-daemon") is None, reason="needs start-stop-daemon")
@pytest.mark.skipif(not Path("/lib/lsb/init-functions").exists(), reason="needs lsb-base")
def test_init_script_start_reload_restart_stop(tmp_path: Path, http_backend: object) -> None:
    a: HttpBackend = http_backend("app")  # type: ignore[operator]
    b: HttpBackend = http_backend("other")  # type: ignore[operator]
    port = free_port()
    _root_dir, env = _root(tmp_path)
    cfg = Path(env["CONFIG"])
    cfg.write_text(CFG.format(port=port, backend="app", a=a.port, b=b.port))
    pids: list[int] = []
    try:
        r = _init(env, "start")
        assert r.returncode == 0, r.stdout + r.stderr
        first = _pid(env)
        pids.append(first)
        assert alive(first)
        assert get(port)[1] == "app"
        # Starting again does nothing.
        assert _init(env, "start").returncode == 0
        assert _pid(env) == first
        r = _init(env, "status")
        assert (r.returncode, r.stdout.strip()) == (0, "weir is running.")
        # reload: a new process takes over with -sf; the old one leaves.
        cfg.write_text(CFG.format(port=port, backend="other", a=a.port, b=b.port))
        r = _init(env, "reload")
        assert r.returncode == 0, r.stdout + r.stderr
        second = _pid(env)
        pids.append(second)
        assert second != first
        assert wait_gone(first)
        assert get(port)[1] == "other"
        # A configuration that does not load is refused; the running process stays.
        cfg.write_text("frontend web\n    bind 127.0.0.1:1\n    frobnicate\n")
        r = _init(env, "reload")
        assert r.returncode == 1
        assert _pid(env) == second
        assert alive(second)
        assert get(port)[1] == "other"
        # restart: stop, then start.
        cfg.write_text(CFG.format(port=port, backend="app", a=a.port, b=b.port))
        r = _init(env, "restart")
        assert r.returncode == 0, r.stdout + r.stderr
        third = _pid(env)
        pids.append(third)
        assert not alive(second)
        assert get(port)[1] == "app"
        # stop
        r = _init(env, "stop")
        assert r.returncode == 0, r.stdout + r.stderr
        assert wait_gone(third)
        assert not Path(env["PIDFILE"]).exists()
        assert not is_listening(port)
        r = _init(env, "status")
        assert (r.returncode, r.stdout.strip()) == (3, "weir not running.")
    finally:
        for pid in pids:
            kill_quietly(pid)


def _unit_lines(key: str) -> list[str]:
    return [
        line.split("=", 1)[1]
        for line in UNIT.read_text().splitlines()
        if line.startswith(key + "=")
    ]


def _expand(cmd: str, env: dict[str, str], prog: str) -> list[str]:
    """A unit's command line as systemd runs it: `$VAR` splits into words."""
    cmd = cmd.replace("/usr/local/bin/weir", prog)
    words: list[str] = []
    for w in shlex.split(cmd):
        m = re.fullmatch(r"\$(\w+)", w)
        words += env.get(m.group(1), "").split() if m else [w]
    return words


def test_systemd_unit_lifecycle(tmp_path: Path, http_backend: object) -> None:
    a: HttpBackend = http_backend("app")  # type: ignore[operator]
    b: HttpBackend = http_backend("other")  # type: ignore[operator]
    port = free_port()
    root, env = _root(tmp_path)
    cfg = Path(env["CONFIG"])
    cfg.write_text(CFG.format(port=port, backend="app", a=a.port, b=b.port))
    unit_env = dict(re.findall(r'"(\w+)=([^"]*)"', next(iter(_unit_lines("Environment")))))
    unit_env |= {
        "CONFIG": env["CONFIG"],
        "PIDFILE": env["PIDFILE"],
        "EXTRAOPTS": unit_env["EXTRAOPTS"].replace("/run/", f"{root}/run/"),
    }
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify_path = str(tmp_path / "notify")
    notify.bind(notify_path)
    notify.settimeout(20)
    (start,) = _unit_lines("ExecStart")
    main = subprocess.Popen(
        _expand(start, unit_env, env["WEIR"]),
        env={**env, "NOTIFY_SOCKET": notify_path},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        msg = notify.recv(4096).decode()
        assert "READY=1" in msg
        assert f"MAINPID={main.pid}" in msg
        assert get(port)[1] == "app"
        cfg.write_text(CFG.format(port=port, backend="other", a=a.port, b=b.port))
        for reload in _unit_lines("ExecReload"):
            argv = _expand(reload.replace("$MAINPID", str(main.pid)), unit_env, env["WEIR"])
            r = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=60, check=False
            )
            assert r.returncode == 0, r.stdout + r.stderr
        assert notify.recv(4096) == b"RELOADING=1"
        assert notify.recv(4096) == b"READY=1"
        assert wait_until(lambda: get(port)[1] == "other", timeout=10)
        mcli = f"{root}/run/weir-master.sock"
        assert Path(mcli).exists()
        # KillMode=mixed: SIGTERM to the main process; it stops its workers.
        workers = children(main.pid)
        main.send_signal(signal.SIGTERM)
        assert main.wait(20) == 0
        assert notify.recv(4096) == b"STOPPING=1"
        for w in workers:
            assert wait_gone(w)
    finally:
        if main.poll() is None:
            main.kill()
        notify.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_unit_verifies(tmp_path: Path) -> None:
    _root_dir, env = _root(tmp_path)
    unit = tmp_path / "weir.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/weir", env["WEIR"]))
    r = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    assert "weir.service" not in r.stderr, r.stderr
