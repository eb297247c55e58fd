"""Run a proxy (weir or HAProxy) as a real process for a test, with bounded waits.

`ProxyProcess` writes the configuration text to a file in a private directory, starts the
program in the foreground with stdout and stderr going to one log file, and waits until
every expected port listens. Listening is detected from the kernel's socket tables, not by
connecting, so the wait adds no connection to the proxy's logs or counters. Before starting,
a port that something else already listens on is an error (otherwise the wait would be
satisfied by the wrong process). `stop()` sends SIGTERM, waits, kills if it must, and returns
the exit status. A clean stop is status 0 for weir; HAProxy 2.6 run standalone (`-db`, no
master) does not catch SIGTERM, so the signal itself ends it (status -SIGTERM from
subprocess) and that counts as clean for it: see `clean_statuses` and `stopped_cleanly`.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from tests.helpers.ports import LOOPBACK, is_listening, wait_listening

REPO_ROOT = Path(__file__).resolve().parents[2]
HAPROXY_BIN = os.environ.get("HAPROXY_BIN") or shutil.which("haproxy") or "/usr/sbin/haproxy"
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
CHECK_TIMEOUT = 30.0
_POLL = 0.02

Program = Literal["weir", "haproxy"]
ArgvFor = Callable[[str], Sequence[str]]


def haproxy_available() -> bool:
    """True if the HAProxy binary exists and is executable."""
    return os.access(HAPROXY_BIN, os.X_OK)


def weir_argv(cfg_path: str) -> list[str]:
    """weir in the foreground with one configuration file."""
    return [sys.executable, "-m", "weir", "-db", "-f", cfg_path]


def haproxy_argv(cfg_path: str) -> list[str]:
    """HAProxy in the foreground with one configuration file."""
    return [HAPROXY_BIN, "-db", "-f", cfg_path]


def program_argv(program: Program) -> ArgvFor:
    return {"weir": weir_argv, "haproxy": haproxy_argv}[program]


def _env() -> dict[str, str]:
    """The child's environment: weir importable from this checkout, unbuffered output."""
    env = dict(os.environ)
    path = env.get("PYTHONPATH", "")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + path if path else "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ProxyStartError(RuntimeError):
    """The proxy exited or did not listen in time; the message holds its log."""


class ProxyProcess:
    """One proxy process. Use as a context manager, or call start() and stop().

    cfg_text is written to `<workdir>/<name>.cfg`; output goes to `<workdir>/<name>.log`.
    workdir defaults to a fresh temporary directory (removed by stop() unless `keep_dir`);
    the process runs with it as its current directory. `argv` maps the config path to the
    command line (weir_argv or haproxy_argv). `clean_statuses` are the exit statuses that
    count as a clean stop on SIGTERM (default: 0, and also -SIGTERM for haproxy_argv).
    """

    def __init__(
        self,
        cfg_text: str,
        argv: ArgvFor = weir_argv,
        *,
        name: str | None = None,
        wait_ports: Iterable[int] = (),
        workdir: str | Path | None = None,
        env: dict[str, str] | None = None,
        keep_dir: bool = False,
        clean_statuses: Iterable[int] | None = None,
    ) -> None:
        self.cfg_text = cfg_text
        self.argv_for = argv
        self.name = name or ("haproxy" if argv is haproxy_argv else "weir")
        self.wait_ports = list(wait_ports)
        self._own_dir = workdir is None
        self.dir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        )
        self.keep_dir = keep_dir
        self.cfg_path = self.dir / f"{self.name}.cfg"
        self.log_path = self.dir / f"{self.name}.log"
        self.env = env
        self.clean_statuses = frozenset(
            clean_statuses
            if clean_statuses is not None
            else (0, -signal.SIGTERM)
            if argv is haproxy_argv
            else (0,)
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self.killed = False
        self._log_cache = ""

    @property
    def argv(self) -> list[str]:
        return list(self.argv_for(str(self.cfg_path)))

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise RuntimeError(f"{self.name} is not started")
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def log(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        with contextlib.suppress(OSError):  # directory removed: keep the last text read
            self._log_cache = self.log_path.read_text(errors="replace")
        return self._log_cache

    def start(
        self, wait_ports: Iterable[int] | None = None, timeout: float = START_TIMEOUT
    ) -> Self:
        """Start the process and return once every port in `wait_ports` (default: those
        given to the constructor) listens. Raises ProxyStartError, with the log, if the
        process exits first or `timeout` passes (the process is then killed)."""
        if self.proc is not None:
            raise RuntimeError(f"{self.name} was already started")
        ports = list(self.wait_ports if wait_ports is None else wait_ports)
        busy = [p for p in ports if is_listening(p)]
        if busy:
            self.stop()
            raise ProxyStartError(f"{self.name}: ports {busy} already listen before the start")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.cfg_path.write_text(self.cfg_text)
        try:
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=self.dir,
                    env=self.env if self.env is not None else _env(),
                    start_new_session=True,  # a ^C to pytest must not reach the proxy directly
                )
        except OSError as e:
            self.stop()
            raise ProxyStartError(f"{self.name}: cannot run {self.argv}: {e}") from e
        deadline = time.monotonic() + timeout
        pending = ports
        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.stop()
                raise ProxyStartError(
                    f"{self.name} exited with status {rc} before listening on {pending}\n"
                    f"--- {self.name} log ---\n{self.log}"
                )
            pending = [p for p in pending if not is_listening(p)]
            if not pending:
                return self
            if time.monotonic() >= deadline:
                self.stop()
                raise ProxyStartError(
                    f"{self.name} did not listen on {pending} within {timeout}s\n"
                    f"--- {self.name} log ---\n{self.log}"
                )
            time.sleep(_POLL)

    @property
    def stopped_cleanly(self) -> bool:
        """True once the process has ended with one of `clean_statuses`."""
        return self.returncode is not None and self.returncode in self.clean_statuses

    def send_signal(self, sig: int) -> None:
        if self.alive and self.proc is not None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int | None:
        """Wait up to `timeout` for the process to end; its exit status, or None."""
        if self.proc is None:
            return self.returncode
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL. Returns the exit status (negative:
        killed by that signal). Removes a temporary directory this object created (the log
        text stays readable). Idempotent; a process that was never started returns 0."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.killed = True
                    self.proc.kill()
                    self.proc.wait(STOP_TIMEOUT)
            self.returncode = self.proc.returncode
        _ = self.log  # keep the text for reports after the directory goes
        if self._own_dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        return 0 if self.returncode is None else self.returncode

    def wait_log(
        self, pattern: str | re.Pattern[str], timeout: float = 5.0
    ) -> re.Match[str] | None:
        """Wait until the log matches `pattern` (a regex); the match, or None on timeout."""
        rx = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log)
            if m is not None:
                return m
            if time.monotonic() >= deadline:
                return None
            time.sleep(_POLL)

    def __enter__(self) -> Self:
        if self.proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "not started" if self.proc is None else f"pid {self.proc.pid}"
        return f"<ProxyProcess {self.name} {state}>"


def run_check(
    cfg_text: str,
    *extra_args: str,
    program: Program = "weir",
    timeout: float = CHECK_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run `PROGRAM -c -f CFG EXTRA...` on `cfg_text`. The result's returncode is the exit
    status; stdout holds stdout and stderr interleaved (stderr is None)."""
    with tempfile.TemporaryDirectory(prefix=f"{program}-check-") as d:
        cfg = Path(d) / f"{program}.cfg"
        cfg.write_text(cfg_text)
        base = [sys.executable, "-m", "weir"] if program == "weir" else [HAPROXY_BIN]
        return subprocess.run(
            [*base, "-c", "-f", str(cfg), *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            cwd=d,
            env=_env(),
            timeout=timeout,
            check=False,
        )


__all__ = [
    "HAPROXY_BIN",
    "REPO_ROOT",
    "ProxyProcess",
    "ProxyStartError",
    "haproxy_argv",
    "haproxy_available",
    "program_argv",
    "run_check",
    "weir_argv",
]


def spawn_daemon(
    procs: list[subprocess.Popen[bytes]], argv: list[str], port: int, **kw: Any
) -> None:
    """Start a server program (redis-server, postgres...) that listens on `port`, add it
    to `procs` (the `daemons` fixture stops them), and wait until it listens."""
    p = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw
    )
    procs.append(p)
    if not wait_listening(port, timeout=20):
        raise AssertionError(f"{argv[0]} did not listen on port {port}")


def spawn_redis(procs: list[subprocess.Popen[bytes]], port: int, *options: str) -> None:
    """A redis-server (Debian's package) on loopback `port`, without persistence; the test
    is skipped where it is not installed."""
    import pytest

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    argv = [binary, "--port", str(port), "--bind", LOOPBACK, "--save", "", "--appendonly", "no"]
    spawn_daemon(procs, [*argv, "--daemonize", "no", *options], port)
