"""Loopback ports for tests: hand out free ones, and wait for listeners to appear or go.

`free_port()` asks the kernel for an unused port (bind to port 0, read it, close) and
remembers every port it handed out, so one test run never gives the same port twice even
after the first user closed it. Listeners the helpers open themselves (`bind_listener`) are
remembered too, so a later `free_port()` cannot collide with a backend that is still up.

Waiting comes in two forms:
- `wait_port` connects, like a client would (a port is ready when it accepts connections);
- `wait_listening` / `wait_closed` read the kernel's socket tables (/proc/net/tcp, tcp6)
  instead, so that probing a proxy's port does not open a connection that the proxy would
  log and count. Where /proc is missing they fall back to connecting.
Every wait is bounded by its timeout.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from pathlib import Path

LOOPBACK = "127.0.0.1"
_POLL = 0.02  # seconds between probes
_MAX_ATTEMPTS = 200  # kernel draws before giving up on finding an unseen port

_lock = threading.Lock()
_handed_out: set[int] = set()


def _reserve_new(sock: socket.socket) -> int:
    port: int = sock.getsockname()[1]
    with _lock:
        if port in _handed_out:
            return 0
        _handed_out.add(port)
    return port


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port on `host` that was free a moment ago and that no one else in this test run
    received from this module. The caller binds it soon (another program could take it in
    between; the kernel rarely hands a just-released port out again)."""
    for _ in range(_MAX_ATTEMPTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = _reserve_new(s)
        if port:
            return port
    raise RuntimeError(f"no unused port found on {host} after {_MAX_ATTEMPTS} attempts")


def reserve_port(port: int) -> None:
    """Record `port` as taken, so `free_port()` never returns it (for ports chosen by hand)."""
    with _lock:
        _handed_out.add(port)


def bind_listener(
    host: str = LOOPBACK, port: int | None = None, backlog: int = 1024
) -> socket.socket:
    """A listening TCP socket on `host`, on `port` or on a kernel-chosen port that no one
    received from `free_port()`. SO_REUSEADDR is set so that a server can be restarted on
    the same port while old connections linger in TIME_WAIT."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    if port is not None:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
            sock.listen(backlog)
        except BaseException:
            sock.close()
            raise
        reserve_port(port)
        return sock
    rejected: list[socket.socket] = []  # kept open so the kernel does not offer them again
    try:
        for _ in range(_MAX_ATTEMPTS):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
            if _reserve_new(sock):
                sock.listen(backlog)
                return sock
            rejected.append(sock)
    finally:
        for s in rejected:
            s.close()
    raise RuntimeError(f"no unused port found on {host} after {_MAX_ATTEMPTS} attempts")


def can_connect(port: int, host: str = LOOPBACK, timeout: float = 0.5) -> bool:
    """True if a TCP connection to host:port succeeds right now (it is closed at once)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port: int, timeout: float = 10.0, host: str = LOOPBACK) -> bool:
    """Poll by connecting until host:port accepts a connection; False after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if can_connect(port, host, timeout=max(0.05, min(0.5, deadline - time.monotonic()))):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


_PROC_TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
_TCP_LISTEN = "0A"


def listening_ports() -> set[int] | None:
    """Ports with a socket in LISTEN state in this network namespace, on any address, read
    from /proc/net/tcp{,6}; None if those tables cannot be read."""
    ports: set[int] = set()
    readable = False
    for table in _PROC_TABLES:
        try:
            text = table.read_text()
        except OSError:
            continue
        readable = True
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[3] == _TCP_LISTEN:
                ports.add(int(fields[1].rpartition(":")[2], 16))
    return ports if readable else None


def is_listening(port: int, host: str = LOOPBACK) -> bool:
    """True if something listens on `port`, without connecting where /proc allows it."""
    ports = listening_ports()
    if ports is None:
        return can_connect(port, host)
    return port in ports


def wait_listening(port: int, timeout: float = 10.0, host: str = LOOPBACK) -> bool:
    """Poll until a socket listens on `port` (no connection is made); False after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if is_listening(port, host):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def wait_closed(port: int, timeout: float = 10.0, host: str = LOOPBACK) -> bool:
    """Poll until nothing listens on `port` any more; False after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_listening(port, host):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL)


def port_in_use(port: int, host: str = LOOPBACK) -> bool:
    """True if binding host:port would fail because someone listens on or holds it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


__all__ = [
    "LOOPBACK",
    "bind_listener",
    "can_connect",
    "free_port",
    "is_listening",
    "listening_ports",
    "port_in_use",
    "reserve_port",
    "wait_closed",
    "wait_listening",
    "wait_port",
]
