"""The haproxy-compatible command line, run as a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers.ports import free_port, wait_port

ROOT = Path(__file__).resolve().parents[3]


def weir(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "weir", *args],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=cwd,
        check=False,
    )


def test_version() -> None:
    r = weir("-v")
    assert r.returncode == 0
    assert r.stdout.startswith("weir version ")
    rr = weir("-vv")
    assert rr.returncode == 0
    assert "Python" in rr.stdout
    assert "uvloop" in rr.stdout


def test_check_valid_and_invalid(tmp_path: Path) -> None:
    good = tmp_path / "good.cfg"
    good.write_text(
        "defaults\n    mode http\n    timeout client 1s\n    timeout connect 1s\n"
        "    timeout server 1s\nlisten l\n    bind 127.0.0.1:1\n"
        "    server s 127.0.0.1:2\n"
    )
    r = weir("-c", "-f", str(good))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "Configuration file is valid"
    bad = tmp_path / "bad.cfg"
    bad.write_text("frontend f\n    bind 127.0.0.1:1\n    frobnicate\n")
    r = weir("-c", "-f", str(bad))
    assert r.returncode == 1
    assert "parsing [" + str(bad) + ":3]" in r.stderr
    assert "Fatal errors found in configuration." in r.stderr


def test_check_seed_examples() -> None:
    for name in ("seed-l7.cfg", "seed-l4.cfg"):
        r = weir("-c", "-f", str(ROOT / "examples" / name))
        assert r.returncode == 0, r.stderr
        assert "Configuration file is valid" in r.stdout


def test_cc_evaluates_conditions() -> None:
    assert weir("-cc", "version_atleast(2.4)").returncode == 0
    assert weir("-cc", "version_before(2.0)").returncode == 1
    assert weir("-cc", "nonsense(").returncode == 2


def test_unknown_flag_is_refused_with_usage() -> None:
    r = weir("-f", "x.cfg", "--frobnicate")
    assert r.returncode == 1
    assert "unknown option '--frobnicate'" in r.stderr
    assert "Usage : weir" in r.stderr


def test_sigterm_and_sigint_stop_cleanly(tmp_path: Path) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        port = free_port()
        cfg = tmp_path / "c.cfg"
        cfg.write_text(
            "defaults\n    mode tcp\n    timeout client 1s\n    timeout connect 1s\n"
            f"    timeout server 1s\nlisten l\n    bind 127.0.0.1:{port}\n"
            "    server s 127.0.0.1:9\n"
        )
        p = subprocess.Popen(
            [sys.executable, "-m", "weir", "-db", "-f", str(cfg)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert wait_port(port, timeout=10)
            p.send_signal(sig)
            _out, err = p.communicate(timeout=10)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        assert p.returncode == 0, err
        assert "Traceback" not in err


def test_daemon_mode_writes_pidfile_and_detaches(tmp_path: Path) -> None:
    port = free_port()
    pidfile = tmp_path / "weir.pid"
    cfg = tmp_path / "c.cfg"
    cfg.write_text(
        "defaults\n    mode tcp\n    timeout client 1s\n    timeout connect 1s\n"
        f"    timeout server 1s\nlisten l\n    bind 127.0.0.1:{port}\n"
        "    server s 127.0.0.1:9\n"
    )
    r = weir("-D", "-p", str(pidfile), "-f", str(cfg))
    assert r.returncode == 0, r.stderr
    assert wait_port(port, timeout=10)
    pid = int(pidfile.read_text())
    try:
        import os

        os.kill(pid, 0)
    finally:
        import os
        import time

        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
