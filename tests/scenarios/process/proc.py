"""Helpers for the process-model scenarios: weir processes started with any command line,
a bounded HTTP load generator, and small /proc readers.

`LoadGenerator` runs threads that send GET requests to weir for at most `duration`
seconds (or until `stop()`): "keep-alive" threads reuse one connection as long as weir
keeps it (http.client reconnects after a `Connection: close` response), "fresh" threads
open a new connection per request. Every exception or unexpected status is a failure,
recorded with its text; connection resets are also counted apart.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers.backends import wait_until
from tests.helpers.procs import ArgvFor, ProxyProcess

PY = sys.executable


def weir_with(*extra: str, foreground: bool = True) -> ArgvFor:
    """An argv builder for ProxyProcess: `python -m weir [-db] -f CFG EXTRA...`."""

    def argv(cfg: str) -> list[str]:
        return [PY, "-m", "weir", *(["-db"] if foreground else []), "-f", cfg, *extra]

    return argv


def start(
    cfg_text: str,
    workdir: Path,
    *extra: str,
    name: str = "weir",
    wait_ports: Sequence[int] = (),
    foreground: bool = True,
) -> ProxyProcess:
    """A weir process with `extra` arguments, its files in `workdir` (kept for the test)."""
    workdir.mkdir(parents=True, exist_ok=True)
    p = ProxyProcess(
        cfg_text,
        weir_with(*extra, foreground=foreground),
        name=name,
        workdir=workdir,
    )
    return p.start(wait_ports=list(wait_ports))


def reload_sf(
    old: ProxyProcess, cfg_text: str, workdir: Path, *extra: str, name: str, flag: str = "-sf"
) -> ProxyProcess:
    """Start a process replacing `old` with `-sf` (or `-st`) and return it once `old` was
    told to leave (it says so when it stops its proxies) or has exited."""
    new = start(cfg_text, workdir, *extra, flag, str(old.pid), name=name)
    told = wait_until(
        lambda: "stopped (cumulated conns" in old.log or not old.alive or not new.alive,
        timeout=20,
    )
    assert told, f"the old process was not told to leave\n--- new ---\n{new.log}"
    assert new.alive, f"the new process died:\n{new.log}"
    return new


def children(pid: int) -> list[int]:
    """Child pids of `pid` (from /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is not alive for our purposes.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return False


def wait_gone(pid: int, timeout: float = 20.0) -> bool:
    return wait_until(lambda: not alive(pid), timeout=timeout, interval=0.02)


def status_field(pid: int, name: str) -> str:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key == name:
            return value.strip()
    raise KeyError(name)


def kill_quietly(pid: int, sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def get(port: int, path: str = "/", timeout: float = 10.0) -> tuple[int, str, str]:
    """(status, X-Backend header, body) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.getheader("X-Backend") or "", r.read().decode()
    finally:
        conn.close()


@dataclass
class LoadResult:
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    resets: int = 0
    backends: Counter[str] = field(default_factory=Counter)
    closes_asked: int = 0  # responses that said Connection: close to a keep-alive client


class LoadGenerator:
    def __init__(
        self,
        port: int,
        *,
        keepalive: int = 4,
        fresh: int = 4,
        path: str = "/",
        duration: float = 10.0,
        timeout: float = 10.0,
    ) -> None:
        self.port = port
        self.path = path
        self.duration = duration
        self.timeout = timeout
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._keepalive, daemon=True) for _ in range(keepalive)
        ] + [threading.Thread(target=self._fresh, daemon=True) for _ in range(fresh)]

    def __enter__(self) -> LoadGenerator:
        self._deadline = time.monotonic() + self.duration
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> LoadResult:
        self._stop.set()
        for t in self._threads:
            t.join(self.timeout + 5)
        return self.result

    def _running(self) -> bool:
        return not self._stop.is_set() and time.monotonic() < self._deadline

    def _record(self, status: int, backend: str, *, close: bool = False) -> None:
        with self._lock:
            if status == 200:
                self.result.ok += 1
                self.result.backends[backend] += 1
            else:
                self.result.failures.append(f"status {status} from {backend or '?'}")
            if close:
                self.result.closes_asked += 1

    def _failed(self, e: BaseException, kind: str) -> None:
        at = time.monotonic() - self._deadline + self.duration
        with self._lock:
            self.result.failures.append(f"{kind} client at {at:.2f}s: {type(e).__name__}: {e}")
            if isinstance(e, ConnectionResetError):
                self.result.resets += 1

    def _keepalive(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        try:
            while self._running():
                try:
                    conn.request("GET", self.path)
                    r = conn.getresponse()
                    r.read()
                    self._record(r.status, r.getheader("X-Backend") or "", close=bool(r.will_close))
                except (OSError, http.client.HTTPException) as e:
                    self._failed(e, "keep-alive")
                    conn.close()
        finally:
            conn.close()

    def _fresh(self) -> None:
        while self._running():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                conn.request("GET", self.path, headers={"Connection": "close"})
                r = conn.getresponse()
                r.read()
                self._record(r.status, r.getheader("X-Backend") or "")
            except (OSError, http.client.HTTPException) as e:
                self._failed(e, "new-connection")
            finally:
                conn.close()
