"""The listening sockets of a configuration: bound once, before privileges are dropped,
then served by one process or shared by many.

`bind_listeners(cfg, ...)` opens one socket per port of every `bind` line of every enabled
frontend, reusing sockets handed over by an old process (`InheritedSockets`) when the
address matches. A `BoundListener` is that socket as the binding process owns it; workers
serve a duplicate of it (`Served`), so that closing what asyncio serves — to pause, or to
stop accepting — never closes the socket the process keeps for a resume or a hand-over.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from weir.config.address import Family
from weir.config.model import Config, Proxy
from weir.net.listener import (
    BindError,
    InheritedSockets,
    ProtocolFactory,
    open_listening_sockets,
    socket_key,
)


@dataclass(slots=True)
class BoundListener:
    """One listening socket of frontend `px`, owned by the process that bound it."""

    px: Proxy
    sock: socket.socket
    backlog: int
    tls: Any = None  # ssl.SSLContext of a `bind ... ssl` listener
    accept_proxy: bool = False  # `accept-proxy`: a PROXY header comes first

    @property
    def name(self) -> str:
        try:
            addr = self.sock.getsockname()
        except OSError:
            return f"{self.px.name}/?"
        if isinstance(addr, tuple):
            host = f"[{addr[0]}]" if ":" in addr[0] else addr[0]
            return f"{self.px.name}/{host}:{addr[1]}"
        return f"{self.px.name}/{addr!s}"


def bind_listeners(
    cfg: Config, *, inherited: InheritedSockets | None = None, reuseport: bool = True
) -> list[BoundListener]:
    """Every listener of `cfg`, bound and listening. On failure every socket bound here is
    closed, inherited ones go back to `inherited`, and BindError names the address."""
    out: list[BoundListener] = []
    try:
        for px in cfg.proxies:
            if px.disabled or not px.cap.is_frontend:
                continue
            for bind in px.binds:
                # The bind's own, else the proxy's `backlog`, else (as HAProxy) the
                # frontend's maxconn.
                backlog = bind.backlog or px.backlog or px.maxconn or 1024
                v6only = True if bind.v6only else (False if bind.v4v6 else None)
                tls = _tls_context(cfg, bind)
                for addr in bind.addresses:
                    socks = open_listening_sockets(
                        addr,
                        backlog=backlog,
                        v6only=v6only,
                        reuseport=reuseport,
                        inherited=inherited,
                        freebind=bind.freebind,
                        transparent=bind.transparent,
                    )
                    out.extend(BoundListener(px, s, backlog, tls, bind.accept_proxy) for s in socks)
                    if addr.family is Family.UNIX and not addr.host.startswith("\0"):
                        _unix_owner(bind, addr.host)
    except BindError:
        # Inherited sockets go back to the pool, for another try; the rest is closed.
        close_all([bl for bl in out if inherited is None or not inherited.give_back(bl.sock)])
        raise
    return out


def _unix_owner(bind: Any, path: str) -> None:
    """`mode`, `uid`/`user`, `gid`/`group` of a bind line, on the socket file it made."""
    try:
        if bind.unix_mode is not None:
            Path(path).chmod(bind.unix_mode)
        if bind.unix_uid is not None or bind.unix_gid is not None:
            uid = -1 if bind.unix_uid is None else bind.unix_uid
            os.chown(path, uid, -1 if bind.unix_gid is None else bind.unix_gid)
    except OSError as e:
        raise BindError(f"cannot set the owner or mode of '{path}': {e.strerror}") from None


def close_all(listeners: list[BoundListener]) -> None:
    for bl in listeners:
        bl.sock.close()


def count_binds(cfg: Config) -> int:
    """How many listening sockets `cfg` asks for (for the file-descriptor estimate)."""
    return sum(
        len(addr.ports) if addr.port_high else 1
        for px in cfg.proxies
        if not px.disabled and px.cap.is_frontend
        for bind in px.binds
        for addr in bind.addresses
    )


def _tls_context(cfg: Config, bind: Any) -> Any:
    """The TLS context of a `bind ... ssl` line (certificates are read now, before
    privileges are dropped), or None."""
    if bind.ssl is None or not bind.ssl.enabled:
        return None
    from weir.tls.context import TlsError, bind_context
    from weir.tls.keywords import tls_global

    try:
        return bind_context(bind.ssl, tls_global(cfg))
    except (TlsError, OSError) as e:
        raise BindError(f"TLS on {bind.where}: {e}") from None


def keys_of(listeners: list[BoundListener]) -> set[tuple[int, str, int]]:
    return {k for bl in listeners if (k := socket_key(bl.sock)) is not None}


class Served:
    """One listener as a process serves it: the asyncio server over a duplicate of the
    kept socket. Attribute names match what the runtime API's `ListenerHandle` reads
    (`frontend`, `sock`, `factory`, `backlog`, `server`)."""

    __slots__ = (
        "address",
        "backlog",
        "factory",
        "frontend",
        "paused",
        "server",
        "sock",
        "tls",
    )

    def __init__(
        self,
        frontend: object,
        sock: socket.socket,
        factory: ProtocolFactory,
        backlog: int,
        tls: Any = None,
    ) -> None:
        self.frontend = frontend
        self.tls = tls  # ssl.SSLContext for a TLS listener
        self.sock = sock  # the kept socket; never given to asyncio itself
        self.factory = factory
        self.backlog = backlog
        self.server: asyncio.Server | None = None
        self.paused = False
        self.address: object = None  # kept by the runtime API while it pauses the frontend

    async def start(self, loop: asyncio.AbstractEventLoop) -> None:
        dup = self.sock.dup()
        dup.setblocking(False)
        try:
            self.server = await serve_socket(loop, dup, self.factory, self.backlog, self.tls)
        except BaseException:
            dup.close()
            raise

    def stop(self) -> None:
        """Stop accepting (the kept socket stays open)."""
        if self.server is not None:
            self.server.close()
            self.server = None

    def pause(self) -> None:
        """SIGTTOU: stop accepting and stop listening, keeping the address bound, so that
        another process may bind it (Linux allows that once no socket listens there)."""
        if self.paused:
            return
        self.paused = True
        self.stop()
        if self.sock.family != socket.AF_UNIX:
            with contextlib.suppress(OSError):  # already shut down by a sibling worker
                self.sock.shutdown(socket.SHUT_RD)

    async def resume(self, loop: asyncio.AbstractEventLoop) -> str | None:
        """SIGTTIN: listen and accept again; a message when the address is taken."""
        if not self.paused:
            return None
        try:
            self.sock.listen(self.backlog)
        except OSError as e:
            return f"cannot resume listening: {e.strerror}"
        await self.start(loop)
        self.paused = False
        return None


# `tune.maxaccept`: at most this many connections accepted in a row from one listener
# before the event loop does other work. 0 (not set) or -1: the event loop's own
# accepting, which takes every pending connection at once.
MAXACCEPT = [0]


async def serve_socket(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    factory: ProtocolFactory,
    backlog: int,
    tls: Any = None,
) -> Any:
    """Accept on a listening socket: the event loop's server, or with `tune.maxaccept` a
    BatchedAcceptor (an object with the server's `close()` and `sockets`)."""
    if MAXACCEPT[0] <= 0:
        return await loop.create_server(factory, sock=sock, backlog=backlog, ssl=tls)
    return BatchedAcceptor(loop, sock, factory, backlog, tls, MAXACCEPT[0])


class BatchedAcceptor:
    """A listener that accepts at most `limit` connections each time it is readable, then
    lets the event loop run (HAProxy's tune.maxaccept)."""

    def __init__(  # noqa: PLR0917
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        factory: ProtocolFactory,
        backlog: int,
        tls: Any,
        limit: int,
    ) -> None:
        self.loop = loop
        self.sock = sock
        self.factory = factory
        self.tls = tls
        self.limit = limit
        self.tasks: set[asyncio.Task[Any]] = set()
        sock.listen(backlog)
        loop.add_reader(sock.fileno(), self._ready)

    @property
    def sockets(self) -> list[socket.socket]:
        return [self.sock]

    def _ready(self) -> None:
        for _ in range(self.limit):
            try:
                conn, _ = self.sock.accept()
            except OSError:  # nothing left (EAGAIN), or out of descriptors: next time
                return
            conn.setblocking(False)
            task = self.loop.create_task(
                self.loop.connect_accepted_socket(self.factory, conn, ssl=self.tls)
            )
            self.tasks.add(task)
            task.add_done_callback(self._started)

    def _started(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled():
            task.exception()  # a failed TLS handshake: the connection is already closed

    def close(self) -> None:
        with contextlib.suppress(ValueError, OSError):
            self.loop.remove_reader(self.sock.fileno())
        self.sock.close()
