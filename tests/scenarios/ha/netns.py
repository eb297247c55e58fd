"""A small private network of Linux network namespaces for high-availability tests.

One namespace holds a bridge (the "switch"); every other namespace gets one veth pair into
it, its end renamed `eth0` inside the namespace, an address from 192.0.2.0/24 (the
documentation range, which exists only inside these namespaces) and its loopback up.
Names carry a per-run suffix so that two runs never collide, and `close()` removes the
processes it started and every namespace (deleting a namespace deletes its veths and the
bridge), whatever state the test left them in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

PREFIX = 24


def available() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if shutil.which("ip") is None:
        return "needs iproute2's ip"
    name = f"wprobe{os.getpid()}"
    probe = subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False)
    if probe.returncode != 0:
        return "cannot create network namespaces: " + probe.stderr.decode().strip()
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Lab:
    """The namespaces, their addresses and the processes started in them."""

    def __init__(self, workdir: Path) -> None:
        self.tag = f"{os.getpid() % 100000}"
        self.dir = workdir
        self.spaces: list[str] = []
        self.ns: dict[str, str] = {}  # role -> namespace name
        self.procs: list[subprocess.Popen[bytes]] = []
        self.switch = self._space("sw")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")

    def _space(self, role: str) -> str:
        name = f"w{role}{self.tag}"
        _ip("netns", "add", name)
        self.spaces.append(name)
        self.ns[role] = name
        _ip("-n", name, "link", "set", "lo", "up")
        return name

    def host(self, role: str, address: str) -> str:
        """A namespace plugged into the switch with `address`/24 on its eth0."""
        ns = self._space(role)
        outer = f"v{role}{self.tag}"[:15]
        _ip("link", "add", outer, "type", "veth", "peer", "name", "tmp" + outer[3:])
        _ip("link", "set", outer, "netns", self.switch)
        _ip("link", "set", "tmp" + outer[3:], "netns", ns)
        _ip("-n", ns, "link", "set", "tmp" + outer[3:], "name", "eth0")
        _ip("-n", ns, "addr", "add", f"{address}/{PREFIX}", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", self.switch, "link", "set", outer, "master", "br0")
        _ip("-n", self.switch, "link", "set", outer, "up")
        return ns

    def run(self, ns: str, argv: Sequence[str], log: str) -> subprocess.Popen[bytes]:
        """Start `argv` inside `ns`, its output in `<workdir>/<log>`."""
        out = (self.dir / log).open("wb")
        p = subprocess.Popen(
            ["ip", "netns", "exec", ns, *argv], stdout=out, stderr=subprocess.STDOUT
        )
        out.close()
        self.procs.append(p)
        return p

    def sh(self, ns: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def has_address(self, ns: str, address: str) -> bool:
        out = subprocess.run(
            ["ip", "-n", ns, "-4", "addr", "show", "dev", "eth0"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return f"inet {address}/" in out

    def log(self, name: str) -> str:
        with contextlib.suppress(OSError):
            return (self.dir / name).read_text(errors="replace")
        return ""

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for ns in reversed(self.spaces):
            # Anything still running inside (a keepalived child) goes first.
            pids = subprocess.run(
                ["ip", "netns", "pids", ns], capture_output=True, text=True, check=False
            ).stdout.split()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
