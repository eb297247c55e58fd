"""Idle server connections shared between client sessions: `http-reuse`, and the server
options `pool-max-conn` and `pool-purge-delay`, as in HAProxy 2.6.

A server connection that ends a response ready to serve again stays with its client
session, which prefers it for its next request, and also joins its server's pool, from
which other sessions may take it: with `http-reuse safe` (the default) for any request
but the first of a session, with `aggressive` also for first requests when the connection
has served at least twice, with `always` for any request; `never` keeps connections
private to their session. A session that ends leaves its pooled connections to the pool
(orphans), up to a quarter of `maxconn` in the whole process (HAProxy bounds them by its
share of file descriptors); others are closed. Every `pool-purge-delay` (default 5s) half
of a server's idle connections are closed, oldest first; `pool-max-conn` caps how many
a server keeps (-1, the default: no cap; 0: none).

A connection is never shared when it carries something of its client: a PROXY protocol
header (`send-proxy`), a TLS server name made per request (`sni`), the client's own
destination (`server x *:80`), or an NTLM or Negotiate authentication (a 401 asking for
one makes the connection private, as in HAProxy).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, ClassVar, Final

from weir.config.parser import Ctx
from weir.config.registry import SERVER_OPTIONS, Args, keyword
from weir.config.units import parse_time

if TYPE_CHECKING:
    from weir.backend.server import Server
    from weir.http.session import ServerConn

NEVER, SAFE, AGGRESSIVE, ALWAYS = 0, 1, 2, 3
MODES: Final = {"never": NEVER, "safe": SAFE, "aggressive": AGGRESSIVE, "always": ALWAYS}


class Orphans:
    """Pooled connections whose session has ended, counted for the whole process."""

    count: ClassVar[int] = 0
    cap: ClassVar[int] = 1024  # set by weir.proxy.runtime.build: a quarter of maxconn


def shareable(srv: Server) -> bool:
    """Whether connections to this server may serve other clients than their own."""
    return not srv.send_proxy and srv.host != "0.0.0.0" and (srv.tls is None or not srv.tls[1])


def put(srv: Server, conn: ServerConn, loop: asyncio.AbstractEventLoop) -> None:
    """Offer an idle connection (still held by its session) to other sessions."""
    pool = srv.pool
    if srv.pool_max >= 0 and len(pool) >= srv.pool_max:
        return
    pool[conn] = None
    conn.pooled = True
    if srv.purge_timer is None:
        srv.purge_timer = loop.call_later(srv.purge_delay, _purge, srv, loop)


def remove(conn: ServerConn) -> None:
    """A pooled connection is taken, closed, or lost."""
    if conn.pooled:
        conn.pooled = False
        conn.srv.pool.pop(conn, None)
        if conn.client is None:
            Orphans.count -= 1


def take(srv: Server, mode: int, first: bool) -> ServerConn | None:
    """An idle connection another session left, the newest that `mode` allows, or None."""
    pool = srv.pool
    if not pool or (first and mode == SAFE):
        return None
    for conn in reversed(pool):
        if not first or mode == ALWAYS or conn.uses > 1:
            remove(conn)
            owner = conn.client
            if owner is not None and owner.idle.get(srv) is conn:
                del owner.idle[srv]
            return conn
    return None


def orphan(conn: ServerConn) -> bool:
    """The connection's session ended: keep it pooled (True) when the process may hold
    one more orphan; False: the caller closes it."""
    if not conn.pooled or Orphans.count >= Orphans.cap:
        return False
    conn.client = None
    Orphans.count += 1
    return True


def _purge(srv: Server, loop: asyncio.AbstractEventLoop) -> None:
    srv.purge_timer = None
    pool = srv.pool
    for conn in list(pool)[: (len(pool) + 1) // 2]:  # the oldest half
        conn.close()
    if pool:
        srv.purge_timer = loop.call_later(srv.purge_delay, _purge, srv, loop)


# ---- configuration ----------------------------------------------------------------------------


@keyword(
    "http-reuse",
    "dbl",
    "never|safe|aggressive|always",
    "How idle server connections are shared between client sessions (default safe: for "
    "any request but the first of a session).",
)
def _http_reuse(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "one of never, safe, aggressive, always"):
        return
    if args[0] not in MODES:
        ctx.error(f"expects one of never, safe, aggressive, always, got '{args[0]}'")
        return
    ctx.px.http_reuse = args[0]


@SERVER_OPTIONS.option(
    "pool-max-conn", 1, "<max>", "Most idle connections kept for this server (-1: no limit)."
)
def _pool_max_conn(ctx: Ctx, target: object, args: Args) -> None:
    try:
        value = int(args[0])
    except ValueError:
        value = -2
    if value < -1:
        ctx.error(f"'pool-max-conn' expects -1 or a number of connections, got '{args[0]}'")
        return
    target.pool_max_conn = value  # type: ignore[attr-defined]


@SERVER_OPTIONS.option(
    "pool-purge-delay",
    1,
    "<time>",
    "Every such delay, half of the server's idle connections are closed (default 5s).",
)
def _pool_purge_delay(ctx: Ctx, target: object, args: Args) -> None:
    try:
        target.pool_purge_delay = parse_time(args[0])  # type: ignore[attr-defined]
    except ValueError as e:
        ctx.error(str(e))
