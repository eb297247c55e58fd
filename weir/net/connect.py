"""Connections to servers, by the address a `server` line gives: a UNIX socket path
(`unix@/path`, `/path`, or an abstract `abns@name`, held as a path starting with a NUL
byte) or a host and port."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from weir.backend.server import Server
from weir.stream import Stream

if TYPE_CHECKING:
    from weir.net.listener import ProtocolFactory


def is_unix(host: str) -> bool:
    """Whether a server's host is a UNIX socket path (a file, or an abstract name)."""
    return host[:1] in ("/", "\0")


def connect_server(
    loop: asyncio.AbstractEventLoop,
    factory: ProtocolFactory,
    srv: Server,
    *,
    host: str,
    port: int,
    stream: Stream | None,
    handshake_timeout: float | None = None,
) -> Coroutine[Any, Any, Any]:
    """The coroutine that opens a connection to `srv` at `host`:`port` (its own address,
    or the client's destination for `server x *:port`), in TLS for `server ... ssl`, with
    the server name its `sni` expression makes for `stream` (run it as a task)."""
    kwargs: dict[str, Any] = {}
    if srv.tls is not None:
        ctx, sni = srv.tls
        name = sni(stream) if sni is not None and stream is not None else None
        kwargs = {"ssl": ctx, "server_hostname": name.decode() if name else None}
        if handshake_timeout:
            kwargs["ssl_handshake_timeout"] = handshake_timeout
    if host.startswith("\0"):
        return _abstract(loop, factory, host, kwargs)
    if is_unix(host):
        return loop.create_unix_connection(factory, host, **kwargs)
    return loop.create_connection(factory, host, port, **kwargs)


async def _abstract(
    loop: asyncio.AbstractEventLoop,
    factory: ProtocolFactory,
    name: str,
    kwargs: dict[str, Any],
) -> Any:
    """An abstract-namespace socket, connected here: uvloop takes the name for an empty
    path (it stops at the leading NUL byte)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        await loop.sock_connect(sock, name)
        return await loop.create_unix_connection(factory, sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise
