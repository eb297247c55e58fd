"""Log outputs that never block traffic: datagram sockets and file descriptors.

Theory of operation
-------------------
A log line is handed to the kernel in one non-blocking call or it is dropped and counted
(`Sinks.dropped`, HAProxy's DroppedLogs): a slow or dead syslog server must never stall
the event loop.

- UDP and UNIX datagram targets share one unconnected socket per address family, made on
  first use (so a process that never logs opens nothing, and a daemon opens them after
  it forked). `sendto` on a full socket buffer raises BlockingIOError: the line is dropped.
- `stdout`, `stderr` and `fd@N` targets: one writer per descriptor. A pipe or FIFO is
  reopened through /proc/self/fd with O_NONBLOCK, so the process's own descriptor keeps
  its blocking mode (other writers of stdout are not surprised by EAGAIN); when that is
  impossible the descriptor itself is made non-blocking, as HAProxy does. A socket is
  written with MSG_DONTWAIT. A terminal or a regular file is written as it is (a terminal
  is never made non-blocking; non-blocking has no effect on regular files), as HAProxy
  does. If the kernel takes only part of a line, the rest is kept (at most one line) and
  sent before the next one, so lines are never interleaved; a line that arrives while a
  remainder is still waiting is dropped.

Any other error (no syslog daemon on a UNIX socket, EPIPE…) drops the line too, counts it
in `Sinks.failed`, and is reported once per output through the `alert` callback.
"""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import sys
from collections.abc import Callable

_PIPE = 0
_SOCK = 1
_PLAIN = 2

Alert = Callable[[str], None]


def _stderr_alert(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"{'[ALERT]':<10} ({os.getpid()}) : {message}", file=sys.stderr, flush=True)


class Sinks:
    """The process's log outputs and their counters; one instance per running process."""

    __slots__ = ("_alert", "_dgram", "_fds", "dropped", "failed", "sent")

    def __init__(self, alert: Alert | None = None) -> None:
        self._alert = alert or _stderr_alert
        self._dgram: dict[int, DgramSink] = {}
        self._fds: dict[int, FdSink] = {}
        self.sent = 0  # lines handed to the kernel whole
        self.dropped = 0  # lines dropped because the output was full (EAGAIN)
        self.failed = 0  # lines lost to any other error

    def dgram(self, family: int) -> DgramSink:
        sink = self._dgram.get(family)
        if sink is None:
            sink = self._dgram[family] = DgramSink(self, family)
        return sink

    def fd(self, fd: int) -> FdSink:
        sink = self._fds.get(fd)
        if sink is None:
            sink = self._fds[fd] = FdSink(self, fd)
        return sink

    def alert(self, message: str) -> None:
        self._alert(message)

    def flush(self) -> None:
        """Try once more to write what descriptors still hold (e.g. before exiting)."""
        for sink in self._fds.values():
            sink.flush()

    def close(self) -> None:
        for d in self._dgram.values():
            d.close()
        for f in self._fds.values():
            f.close()
        self._dgram.clear()
        self._fds.clear()


class DgramSink:
    """One unconnected non-blocking datagram socket of one family (AF_INET, AF_INET6,
    AF_UNIX), shared by every target of that family."""

    __slots__ = ("_alerted", "_family", "_owner", "_sock")

    def __init__(self, owner: Sinks, family: int) -> None:
        self._owner = owner
        self._family = family
        self._sock: socket.socket | None = None
        self._alerted = False

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.socket(self._family, socket.SOCK_DGRAM)
        except OSError as e:
            self._fail(f"cannot create a log socket: {e.strerror} (errno={e.errno})")
            return None
        sock.setblocking(False)
        # Nothing is ever read from it.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 0)
        self._sock = sock
        return sock

    def send(self, data: bytes, addr: str | tuple[str, int]) -> None:
        sock = self._sock or self._open()
        if sock is None:
            self._owner.failed += 1
            return
        try:
            sock.sendto(data, addr)
        except BlockingIOError:
            self._owner.dropped += 1
            return
        except OSError as e:
            self._owner.failed += 1
            self._fail(
                f"sending a log line to {_where(addr)} failed: {e.strerror} (errno={e.errno})"
            )
            return
        self._owner.sent += 1

    def _fail(self, message: str) -> None:
        if not self._alerted:
            self._alerted = True
            self._owner.alert(message)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def _where(addr: str | tuple[str, int]) -> str:
    if isinstance(addr, str):
        return addr
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class FdSink:
    """Lines written to an inherited file descriptor (stdout, stderr, fd@N)."""

    __slots__ = ("_alerted", "_fd", "_kind", "_out", "_owner", "_pending", "_sock")

    def __init__(self, owner: Sinks, fd: int) -> None:
        self._owner = owner
        self._fd = fd
        self._out = -1  # the descriptor written to, once chosen
        self._kind = _PLAIN
        self._sock: socket.socket | None = None
        self._pending = b""  # the unwritten tail of the last line
        self._alerted = False

    def _open(self) -> bool:
        fd = self._fd
        try:
            mode = os.fstat(fd).st_mode
        except OSError as e:
            self._fail(f"cannot log to fd@{fd}: {e.strerror} (errno={e.errno})")
            return False
        if stat.S_ISSOCK(mode):
            try:
                self._sock = socket.socket(fileno=os.dup(fd))
            except OSError as e:
                self._fail(f"cannot log to fd@{fd}: {e.strerror} (errno={e.errno})")
                return False
            self._kind = _SOCK
            self._out = fd
            return True
        if stat.S_ISFIFO(mode):
            self._kind = _PIPE
            try:
                self._out = os.open(
                    f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC
                )
            except OSError:
                os.set_blocking(fd, False)
                self._out = fd
            return True
        self._kind = _PLAIN
        self._out = fd
        return True

    def _write(self, data: bytes) -> int:
        if self._sock is not None:
            return self._sock.send(data, socket.MSG_DONTWAIT)
        return os.write(self._out, data)

    def send(self, data: bytes) -> None:
        if self._out < 0 and not self._open():
            self._owner.failed += 1
            return
        if self._pending:
            self.flush()
            if self._pending:
                self._owner.dropped += 1
                return
        try:
            n = self._write(data)
        except BlockingIOError:
            self._owner.dropped += 1
            return
        except OSError as e:
            self._owner.failed += 1
            self._fail(
                f"writing a log line to fd@{self._fd} failed: {e.strerror} (errno={e.errno})"
            )
            return
        if n < len(data):
            self._pending = data[n:]
        self._owner.sent += 1

    def flush(self) -> None:
        if not self._pending:
            return
        try:
            n = self._write(self._pending)
        except BlockingIOError:
            return
        except OSError:
            self._pending = b""
            self._owner.failed += 1
            return
        self._pending = self._pending[n:]

    def _fail(self, message: str) -> None:
        if not self._alerted:
            self._alerted = True
            self._owner.alert(message)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()  # closes the socket's own duplicate, never `fd` itself
            self._sock = None
        elif self._out >= 0 and self._out != self._fd:
            with contextlib.suppress(OSError):
                os.close(self._out)
        self._out = -1
