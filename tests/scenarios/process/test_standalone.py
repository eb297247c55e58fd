"""One weir process: -sf/-st/-x, signals (SIGTTOU/SIGTTIN, SIGHUP, SIGUSR1 with `grace`
and `hard-stop-after`), and a configuration that fails to load replacing nothing."""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from pathlib import Path

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import free_port, is_listening
from tests.helpers.procs import REPO_ROOT
from tests.scenarios.process.proc import PY, alive, get, reload_sf, start, wait_gone

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
    default_backend {backend}
backend app
    server a 127.0.0.1:{a}
backend other
    server b 127.0.0.1:{b}
"""


def _cfg(port: int, a: HttpBackend, b: HttpBackend, backend: str = "app", extra: str = "") -> str:
    return CFG.format(extra=extra, port=port, backend=backend, a=a.port, b=b.port)


def _two(http_backend: object, delay: float = 0.0) -> tuple[HttpBackend, HttpBackend]:
    return http_backend("app", delay=delay), http_backend("other")  # type: ignore[operator]


def _weir(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "weir", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
        check=False,
    )


def test_broken_config_with_sf_leaves_the_old_process_serving(
    tmp_path: Path, http_backend: object
) -> None:
    a, b = _two(http_backend)
    port = free_port()
    old = start(_cfg(port, a, b), tmp_path / "old", name="old", wait_ports=[port])
    try:
        bad = tmp_path / "bad.cfg"
        bad.write_text(_cfg(port, a, b) + "    frobnicate\n")
        r = _weir("-db", "-f", str(bad), "-sf", str(old.pid), cwd=tmp_path)
        assert r.returncode == 1
        assert "Fatal errors found in configuration" in r.stderr
        assert alive(old.pid)
        assert "stopped (cumulated" not in old.log
        assert get(port)[1] == "app"
    finally:
        old.stop()
    assert old.stopped_cleanly, old.log


def test_st_terminates_the_old_process_at_once(tmp_path: Path, http_backend: object) -> None:
    a, b = _two(http_backend, delay=3.0)
    port = free_port()
    old = start(_cfg(port, a, b), tmp_path / "old", name="old", wait_ports=[port])
    new = None
    try:
        got: list[object] = []

        def slow() -> None:
            try:
                got.append(get(port))
            except OSError as e:
                got.append(e)

        t = threading.Thread(target=slow)
        t.start()
        assert a.wait_requests(1, timeout=10)
        new = start(_cfg(port, a, b, "other"), tmp_path / "new", "-st", str(old.pid), name="new")
        assert wait_gone(old.pid, timeout=10), old.log
        t.join(10)
        # The old process was terminated with the request in flight.
        assert len(got) == 1
        assert isinstance(got[0], OSError), got
        assert get(port)[1] == "other"
    finally:
        if new is not None:
            new.stop()
        old.stop()


def test_bind_conflict_pauses_and_resumes_the_old_process(
    tmp_path: Path, http_backend: object
) -> None:
    """Without the socket hand-over (`-x /dev/null`) and without SO_REUSEPORT, the new
    process must pause the old one (SIGTTOU) to bind; when it still cannot bind (here a
    second port is held by someone else), it resumes the old one (SIGTTIN) and exits 1."""
    a, b = _two(http_backend)
    port = free_port()
    extra = "    noreuseport"
    old = start(_cfg(port, a, b, extra=extra), tmp_path / "old", name="old", wait_ports=[port])
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        taken = blocker.getsockname()[1]
        text = _cfg(port, a, b, extra=extra) + (
            f"frontend more\n    bind 127.0.0.1:{taken}\n    default_backend app\n"
        )
        cfg = tmp_path / "new.cfg"
        cfg.write_text(text)
        r = _weir("-db", "-f", str(cfg), "-x", "/dev/null", "-sf", str(old.pid), cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        assert "Address already in use" in r.stderr
        assert wait_until(lambda: "listeners resumed" in old.log, timeout=10), old.log
        assert "listeners paused" in old.log
        assert get(port)[1] == "app"
        blocker.close()
        # Now the pause lets the new process bind, and it takes over.
        new = reload_sf(
            old, _cfg(port, a, b, "other", extra), tmp_path / "new", "-x", "/dev/null", name="new"
        )
        try:
            assert wait_gone(old.pid, timeout=10)
            assert get(port)[1] == "other"
        finally:
            new.stop()
    finally:
        blocker.close()
        old.stop()


def test_x_fetches_sockets_from_a_path(tmp_path: Path, http_backend: object) -> None:
    """`-x PATH` takes the listening sockets offered on a UNIX socket (what a `stats
    socket ... expose-fd listeners` offers): here a test server offers one listening
    socket without SO_REUSEPORT, which weir could not bind next to."""
    from weir.process import handover

    a, b = _two(http_backend)
    port = free_port()
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(16)
    path = str(tmp_path / "offer.sock")
    offer = socket.socket(socket.AF_UNIX)
    offer.bind(path)
    offer.listen(1)

    def serve() -> None:
        conn, _ = offer.accept()
        with conn:
            assert conn.recv(len(handover.REQUEST)) == handover.REQUEST
            handover.send_listeners(conn, [lsock])

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    p = start(_cfg(port, a, b), tmp_path / "w", "-x", path, name="weir")
    try:
        t.join(10)
        lsock.close()  # weir holds the only copy now
        assert wait_until(lambda: is_listening(port), timeout=10)
        assert wait_until(lambda: _ok(port), timeout=10), p.log
        assert get(port)[1] == "app"
    finally:
        p.stop()
        offer.close()
    assert p.stopped_cleanly, p.log
    # A path with nothing behind it is fatal, as in HAProxy.
    r = _weir("-db", "-f", str(tmp_path / "w" / "weir.cfg"), "-x", path, cwd=tmp_path)
    assert r.returncode == 1
    assert "failed to get the sockets from the old process" in r.stderr


def _ok(port: int) -> bool:
    try:
        return get(port, timeout=2)[0] == 200
    except OSError:
        return False


def test_sigttou_and_sigttin_pause_and_resume(tmp_path: Path, http_backend: object) -> None:
    a, b = _two(http_backend)
    port = free_port()
    p = start(_cfg(port, a, b), tmp_path, name="weir", wait_ports=[port])
    try:
        p.send_signal(signal.SIGTTOU)
        assert wait_until(lambda: not is_listening(port), timeout=10)
        p.send_signal(signal.SIGTTIN)
        assert wait_until(lambda: is_listening(port), timeout=10)
        assert get(port)[0] == 200
    finally:
        p.stop()
    assert p.stopped_cleanly, p.log


def test_sighup_dumps_server_states(tmp_path: Path, http_backend: object) -> None:
    a, b = _two(http_backend)
    port = free_port()
    p = start(_cfg(port, a, b), tmp_path, name="weir", wait_ports=[port])
    try:
        assert get(port)[0] == 200
        p.send_signal(signal.SIGHUP)
        assert wait_until(lambda: "SIGHUP: Proxy other" in p.log, timeout=10), p.log
        assert "SIGHUP: Server app/a is UP. Conn: 0 act, 0 pend, 1 tot." in p.log
        assert "SIGHUP: Proxy app has 1 active servers and 0 backup servers available." in p.log
        assert alive(p.pid)
    finally:
        p.stop()
    assert p.stopped_cleanly, p.log


def test_grace_keeps_accepting_then_soft_stop(tmp_path: Path, http_backend: object) -> None:
    a, b = _two(http_backend)
    port = free_port()
    p = start(_cfg(port, a, b, extra="    grace 1500ms"), tmp_path, name="weir", wait_ports=[port])
    try:
        p.send_signal(signal.SIGUSR1)
        # Still accepting during the grace delay ...
        assert get(port)[0] == 200
        # ... then unbound, and gone once idle.
        assert wait_until(lambda: not is_listening(port), timeout=10)
        assert p.wait_exit(10) == 0, p.log
    finally:
        p.stop()


def test_hard_stop_after_bounds_a_soft_stop(tmp_path: Path, http_backend: object) -> None:
    a, b = _two(http_backend, delay=8.0)
    port = free_port()
    p = start(
        _cfg(port, a, b, extra="    hard-stop-after 500ms"),
        tmp_path,
        name="weir",
        wait_ports=[port],
    )
    try:
        t = threading.Thread(target=lambda: _ok(port), daemon=True)
        t.start()
        assert a.wait_requests(1, timeout=10)
        p.send_signal(signal.SIGUSR1)
        assert p.wait_exit(5) == 0, p.log
        assert "soft-stop running for too long, performing a hard-stop." in p.log
    finally:
        p.stop()


def test_expose_fd_listeners_hands_the_port_to_x(tmp_path: Path, http_backend: object) -> None:
    """`stats socket ... expose-fd listeners` + `-x` on that socket: the new process gets
    the listening socket from the old one. With `noreuseport` it could not bind its own
    next to it, and without `-sf` nothing pauses the old one to free the port; so the new
    process serving the port after the old one stopped proves the hand-over."""
    a, b = _two(http_backend)
    port = free_port()
    sock = tmp_path / "api.sock"
    extra = f"    noreuseport\n    stats socket {sock} level admin expose-fd listeners"
    old = start(_cfg(port, a, b, extra=extra), tmp_path / "old", name="old", wait_ports=[port])
    try:
        assert get(port)[1] == "app"
        ready = tmp_path / "new.sock"  # appears once the new process has its listeners
        extra_new = f"    noreuseport\n    stats socket {ready}"
        new_cfg = _cfg(port, a, b, backend="other", extra=extra_new)
        new = start(new_cfg, tmp_path / "new", "-x", str(sock), name="new")
        try:
            assert wait_until(lambda: ready.exists() or not new.alive, 20)
            assert new.alive, new.log
            old.stop()
            assert wait_until(lambda: _ok(port), timeout=10), new.log
            assert get(port)[1] == "other"
        finally:
            new.stop()
    finally:
        old.stop()
