"""Listening sockets: create them from `bind` addresses, serve them, and enforce maxconn.

Sockets are created (and bound) before privileges are dropped and before the first
connection is served, so that `weir -D` fails loudly in the foreground when a port is taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from pathlib import Path

from weir.config.address import Address, Family


class BindError(OSError):
    """A listener could not be created; the message names the address."""


def open_listening_sockets(
    addr: Address, *, backlog: int, v6only: bool | None
) -> list[socket.socket]:
    """One socket per port of `addr` (a range gives several), bound and listening."""
    if addr.family is Family.FD:
        try:
            sock = socket.socket(fileno=addr.fd)
        except OSError as e:
            raise BindError(f"cannot use inherited socket fd@{addr.fd}: {e.strerror}") from None
        sock.setblocking(False)
        return [sock]
    if addr.family is Family.UNIX:
        path = addr.host
        with contextlib.suppress(FileNotFoundError):
            if Path(path).is_socket():
                Path(path).unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(path)
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            raise BindError(f"cannot bind UNIX socket '{path}': {e.strerror}") from None
        sock.setblocking(False)
        return [sock]
    out: list[socket.socket] = []
    for port in addr.ports:
        sock = socket.socket(addr.socket_family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if addr.family is Family.IPV6 and v6only is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            sock.bind((addr.host, port))
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            for s in out:
                s.close()
            raise BindError(
                f"cannot bind socket [{addr.host or '0.0.0.0'}:{port}]: {e.strerror}"
            ) from None
        sock.setblocking(False)
        out.append(sock)
    return out


class ConnLimiter:
    """Counts live connections against maxconn limits; connections over the limit wait.

    A connection that arrives while the limit is reached is accepted by the kernel but its
    reading is paused until a slot frees, oldest first: nothing is dropped, and the client
    simply waits, as with HAProxy's paused listeners.
    """

    __slots__ = ("cur", "limit", "max", "parent", "waiting")

    def __init__(self, limit: int, parent: ConnLimiter | None = None) -> None:
        self.limit = limit  # 0: no limit of its own
        self.parent = parent
        self.cur = 0
        self.max = 0
        self.waiting: list[Callable[[], None]] = []

    def full(self) -> bool:
        if 0 < self.limit <= self.cur:
            return True
        return self.parent is not None and self.parent.full()

    def take(self) -> None:
        self.cur += 1
        self.max = max(self.max, self.cur)
        if self.parent is not None:
            self.parent.take()

    def release(self) -> None:
        self.cur -= 1
        if self.parent is not None:
            self.parent.release()
        root = self
        while root.parent is not None:
            root = root.parent
        root.wake()

    def wait(self, resume: Callable[[], None]) -> None:
        root = self
        while root.parent is not None:
            root = root.parent
        root.waiting.append(resume)

    def wake(self) -> None:
        while self.waiting and not self.full():
            self.waiting.pop(0)()


async def serve(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    factory: Callable[[], asyncio.BaseProtocol],
) -> asyncio.Server:
    return await loop.create_server(factory, sock=sock, start_serving=True)
