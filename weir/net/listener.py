"""Listening sockets: create them from `bind` addresses, serve them, and enforce maxconn;
and the process-wide soft-stop state that client sessions read.

Sockets are created (and bound) before privileges are dropped and before the first
connection is served, so that `weir -D` fails loudly in the foreground when a port is taken.

A socket may also come from elsewhere instead of being bound: a previous weir process hands
its listening sockets over during a seamless reload (see weir.process.handover). Those wait
in an `InheritedSockets` pool, and `open_listening_sockets` takes the one bound to the same
address before binding a new one, so that the new process accepts from the very queue the
old one did and no connection waiting in it is lost.

TCP listeners get SO_REUSEADDR and, unless `noreuseport`, SO_REUSEPORT, as HAProxy's do: a
new process can then bind next to an old one that still listens (the fallback when the old
one cannot hand its sockets over).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import struct
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from weir.config.address import Address, Family


class BindError(OSError):
    """A listener could not be created; the message names the address."""


def _inet_key(family: int, host: str, port: int) -> tuple[int, str, int]:
    """How a TCP listener is recognised across processes: family, normalised IP, port."""
    if not host:
        host = "::" if family == socket.AF_INET6 else "0.0.0.0"
    with contextlib.suppress(ValueError):
        host = ipaddress.ip_address(host.partition("%")[0]).compressed
    return (family, host, port)


def socket_key(sock: socket.socket) -> tuple[int, str, int] | None:
    """The key of a listening socket as `open_listening_sockets` looks it up; None for a
    socket that is not a stream listener weir could reuse."""
    try:
        if sock.type != socket.SOCK_STREAM:
            return None
        if not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            return None
        name = sock.getsockname()
    except OSError:
        return None
    if sock.family == socket.AF_UNIX:
        path = name.decode(errors="surrogateescape") if isinstance(name, bytes) else name
        return (socket.AF_UNIX, _unix_key(path), 0) if path else None
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        return _inet_key(sock.family, name[0], name[1])
    return None


def _unix_key(path: str) -> str:
    """A UNIX socket's path as a key: absolute, or the abstract name as it is."""
    return path if path.startswith("\0") else str(Path(path).absolute())


class InheritedSockets:
    """Listening sockets received from an old process, waiting to be claimed by address.

    `take` hands each socket out at most once (`give_back` returns one a failed start
    took); `close_rest` closes those nobody claimed (the old process keeps its own copies,
    so nothing is lost by closing ours).
    """

    __slots__ = ("_by_key", "_taken")

    def __init__(self, socks: Iterable[socket.socket] = ()) -> None:
        self._by_key: dict[tuple[int, str, int], socket.socket] = {}
        self._taken: dict[int, tuple[int, str, int]] = {}  # id(socket) -> its key
        for s in socks:
            self.add(s)

    def add(self, sock: socket.socket) -> bool:
        key = socket_key(sock)
        if key is None or key in self._by_key:
            sock.close()
            return False
        self._by_key[key] = sock
        return True

    def take(self, key: tuple[int, str, int]) -> socket.socket | None:
        sock = self._by_key.pop(key, None)
        if sock is not None:
            self._taken[id(sock)] = key
        return sock

    def give_back(self, sock: socket.socket) -> bool:
        """Return a socket `take` handed out; False (and nothing done) for any other."""
        key = self._taken.pop(id(sock), None)
        if key is None:
            return False
        self._by_key[key] = sock
        return True

    def __len__(self) -> int:
        return len(self._by_key)

    def close_rest(self) -> None:
        for s in self._by_key.values():
            s.close()
        self._by_key.clear()


def _reuse(sock: socket.socket, backlog: int) -> socket.socket:
    """An inherited socket, listening with this configuration's backlog."""
    sock.setblocking(False)
    with contextlib.suppress(OSError):
        sock.listen(backlog)
    return sock


# Linux socket options (not all exported by Python's socket module).
_IP_FREEBIND, _IPV6_FREEBIND = 15, 78
_IP_TRANSPARENT, _IPV6_TRANSPARENT = 19, 75


def _foreign_bind(sock: socket.socket, v6: bool, freebind: bool, transparent: bool) -> None:
    try:
        if freebind:
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_FREEBIND, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_FREEBIND, 1)
        if transparent:
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_TRANSPARENT, 1)
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_TRANSPARENT, 1)
    except OSError as e:
        what = "freebind" if freebind else "transparent"
        raise BindError(f"cannot set '{what}' on the socket: {e.strerror}") from None


def open_listening_sockets(
    addr: Address,
    *,
    backlog: int,
    v6only: bool | None,
    reuseport: bool = True,
    inherited: InheritedSockets | None = None,
    freebind: bool = False,
    transparent: bool = False,
) -> list[socket.socket]:
    """One socket per port of `addr` (a range gives several), bound and listening; taken
    from `inherited` when it holds one for the same address. `freebind` and `transparent`
    let the bind succeed on an address this host does not have, as a keepalived backup
    node needs for the virtual IP it may take over."""
    if addr.family is Family.FD:
        try:
            sock = socket.socket(fileno=addr.fd)
        except OSError as e:
            raise BindError(f"cannot use inherited socket fd@{addr.fd}: {e.strerror}") from None
        sock.setblocking(False)
        return [sock]
    if addr.family is Family.UNIX:
        path = addr.host
        if inherited is not None:
            got = inherited.take((socket.AF_UNIX, _unix_key(path), 0))
            if got is not None:
                return [_reuse(got, backlog)]
        with contextlib.suppress(FileNotFoundError):
            if not path.startswith("\0") and Path(path).is_socket():
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
        if inherited is not None:
            got = inherited.take(_inet_key(addr.socket_family, addr.host, port))
            if got is not None:
                out.append(_reuse(got, backlog))
                continue
        sock = socket.socket(addr.socket_family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuseport and hasattr(socket, "SO_REUSEPORT"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if addr.family is Family.IPV6 and v6only is not None:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
            if freebind or transparent:
                _foreign_bind(sock, addr.family is Family.IPV6, freebind, transparent)
            sock.bind((addr.host, port))
            sock.listen(backlog)
        except OSError as e:
            sock.close()
            for s in out:
                if inherited is None or not inherited.give_back(s):
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


# What makes a connection's protocol object. weir's protocols do not subclass
# asyncio.Protocol (weir/native.py): the event loop only calls their methods.
ProtocolFactory = Callable[[], Any]


async def serve(
    loop: asyncio.AbstractEventLoop,
    sock: socket.socket,
    factory: ProtocolFactory,
) -> asyncio.Server:
    return await loop.create_server(factory, sock=sock, start_serving=True)


class IdleClosable(Protocol):
    """A client session that can be asked to end if it sits idle between requests."""

    def stop_idle(self) -> None: ...


class SoftStop:
    """The process-wide soft-stop state (HAProxy's `stopping`), read by client sessions.

    weir.process sets it; there is one per process because a process stops as a whole.

    - `stopping`: a soft stop was asked for (SIGUSR1, or a reload took over); listeners may
      still accept during `grace`. What the `stopping` sample fetch returns.
    - `draining`: the listeners are closed; the connections left are being finished.
    - `close_responses`: `draining`, unless `close-spread-time infinite` says to leave
      connections to their own timeouts. While it is true every response sent ends its
      connection.
    - `sessions`: the live HTTP client sessions, so that idle ones can be closed.

    Contract for an HTTP client session (weir.http.session.HttpClient):
    1. `SOFT_STOP.sessions.add(self)` when its connection is made and
       `SOFT_STOP.sessions.discard(self)` when it is lost.
    2. When a response head goes to the client while `SOFT_STOP.close_responses` is true and
       the connection was going to stay open, the connection ends after that response: set
       the close flag and add a `Connection: close` line to the head, so that a keep-alive
       client knows before it sends another request on it. Nothing else changes: a request
       already in progress completes.
    3. `stop_idle()`: close the connection if it is idle between requests (no request in
       progress, nothing buffered); otherwise do nothing (rule 2 ends it). weir.process
       calls it only when `close-spread-time` asks idle connections to be closed, at a
       random moment within that window; by default an idle connection ends at its next
       request boundary (rule 2) or when its keep-alive timeout fires, so that a client never
       sees a connection closed under a request it has just sent.
    TCP sessions need nothing: they end when a side closes, or at `hard-stop-after`.
    """

    __slots__ = ("close_responses", "draining", "sessions", "stopping")

    def __init__(self) -> None:
        self.stopping = False
        self.draining = False
        self.close_responses = False
        self.sessions: set[IdleClosable] = set()

    def begin_drain(self, *, close_responses: bool = True) -> None:
        self.stopping = True
        self.draining = True
        self.close_responses = close_responses

    def close_idle(self) -> None:
        """Ask every session to close if idle (a session that closes leaves the set)."""
        for s in list(self.sessions):
            s.stop_idle()

    def reset(self) -> None:
        self.stopping = self.draining = self.close_responses = False
        self.sessions.clear()


SOFT_STOP = SoftStop()


def set_keepalive(transport: asyncio.BaseTransport) -> None:
    """`option tcpka`: have the kernel send TCP keep-alive probes on this connection."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family != socket.AF_UNIX:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)


# Linux's TCP_REPAIR (not in Python's socket module): a socket in repair mode closes
# without sending anything.
_TCP_REPAIR = getattr(socket, "TCP_REPAIR", 19)


def drop_silently(transport: asyncio.Transport) -> None:
    """`silent-drop`: make the client's connection disappear without telling the client,
    so that an abusive client keeps waiting on it instead of trying again. The socket is
    put in TCP repair mode, which closes it without a FIN or a reset (this needs the
    CAP_NET_ADMIN capability); without it, the connection is reset with a TTL of 1, which
    does not reach a client beyond the first router. HAProxy does the same."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            # Acknowledge what came at once, or the client's retransmits may reset.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, _TCP_REPAIR, 1)
        except OSError:
            with contextlib.suppress(OSError):
                if sock.family == socket.AF_INET:
                    sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
                else:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()  # whatever waits to be sent is dropped with the connection
