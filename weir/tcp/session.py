"""mode tcp: relay bytes between a client and a server, both ways, with backpressure.

A client connection picks a server from its frontend's default backend at accept time,
connects (retrying `retries` times, on another server with `option redispatch`), and
then relays. A half-close travels through: a client that shuts down its write side still
receives the whole response, and a server's end of stream reaches the client as one.
Inactivity beyond `timeout client` / `timeout server` closes both sides.
"""

from __future__ import annotations

import asyncio
from typing import cast

from weir.backend.server import Server
from weir.proxy.runtime import Backend, Frontend


class TcpClient(asyncio.Protocol):
    __slots__ = (
        "backend",
        "cli_eof",
        "closed",
        "deadline",
        "fe",
        "holds_slot",
        "last",
        "loop",
        "pending",
        "retries_left",
        "server",
        "srv",
        "srv_eof",
        "timer",
        "transport",
    )

    def __init__(self, fe: Frontend, loop: asyncio.AbstractEventLoop) -> None:
        self.fe = fe
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.srv: TcpServer | None = None
        self.server: Server | None = None
        self.backend: Backend | None = fe.default_backend
        self.pending: list[bytes] = []
        self.closed = False
        self.cli_eof = False  # the client shut its write side
        self.srv_eof = False  # the server shut its write side
        self.holds_slot = False
        self.retries_left = 0
        self.last = loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.deadline = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.fe.counters.cur_sess += 1
        self.fe.counters.tot_sess += 1
        self.fe.counters.max_sess = max(self.fe.counters.max_sess, self.fe.counters.cur_sess)
        if self.fe.limiter.full():
            self.transport.pause_reading()
            self.fe.limiter.wait(self._admit)
            return
        self._admit()

    def _admit(self) -> None:
        if self.closed or self.transport is None:
            return
        if self.fe.limiter.full():
            self.fe.limiter.wait(self._admit)
            return
        self.fe.limiter.take()
        self.holds_slot = True
        self.transport.pause_reading()
        be = self.backend
        if be is None:
            self.close()
            return
        self.retries_left = be.retries
        srv = be.pick()
        if srv is None:
            self.close()
            return
        self._connect(srv)
        self._schedule()

    def _connect(self, srv: Server) -> None:
        be = self.backend
        assert be is not None
        be.take(srv)
        self.server = srv
        conn = TcpServer(self)
        self.srv = conn
        coro = self.loop.create_connection(lambda: conn, srv.host, srv.port)
        if be.timeout_connect:
            task = self.loop.create_task(asyncio.wait_for(coro, be.timeout_connect))
        else:
            task = self.loop.create_task(coro)
        task.add_done_callback(self._connected)

    def _connected(self, task: asyncio.Task[object]) -> None:
        if task.cancelled() or task.exception() is not None:
            be, srv = self.backend, self.server
            self.srv = None
            if be is not None and srv is not None:
                be.release(srv)
                be.counters.errors += 1
                self.server = None
                if self.retries_left > 0 and not self.closed:
                    self.retries_left -= 1
                    nxt = be.pick(avoid=srv) if be.redispatch else srv
                    if nxt is not None:
                        self._connect(nxt)
                        return
            self.close()
            return
        if self.closed:
            if self.srv is not None:
                self.srv.close()
            return
        srv_conn = self.srv
        assert srv_conn is not None
        assert srv_conn.transport is not None
        if self.pending:
            srv_conn.transport.writelines(self.pending)
            self.pending = []
        if self.cli_eof:
            srv_conn.transport.write_eof()
        elif self.transport is not None:
            self.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self.last = self.loop.time()
        self.fe.counters.bytes_in += len(data)
        srv = self.srv
        if srv is not None and srv.transport is not None:
            srv.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool | None:
        """The client is done sending: pass the half-close on (now, or once connected) and
        keep the connection open for the server's answer."""
        self.cli_eof = True
        if self.srv_eof:
            self.close()
            return None
        srv = self.srv
        if srv is not None and srv.transport is not None:
            srv.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.close()

    # -- timeouts: one timer, re-armed only when it fires early ---------------------------

    def _timeout(self) -> float | None:
        be = self.backend
        if be is not None and be.timeout_tunnel:
            return be.timeout_tunnel  # in a relay, `timeout tunnel` supersedes the others
        values = [t for t in (self.fe.timeout_client, be.timeout_server if be else None) if t]
        return min(values) if values else None

    def _schedule(self) -> None:
        t = self._timeout()
        if t is not None and not self.closed:
            self.timer = self.loop.call_at(self.last + t, self._on_timer)

    def _on_timer(self) -> None:
        self.timer = None
        t = self._timeout()
        if t is None or self.closed:
            return
        if self.loop.time() - self.last >= t:
            self.close()
        else:
            self._schedule()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        self.fe.counters.cur_sess -= 1
        if self.holds_slot:
            self.holds_slot = False
            self.fe.limiter.release()
        if self.transport is not None:
            self.transport.close()
        srv_conn, self.srv = self.srv, None
        if srv_conn is not None:
            srv_conn.close()
        be, srv = self.backend, self.server
        self.server = None
        if be is not None and srv is not None:
            be.release(srv)

    def pause_writing(self) -> None:
        if self.srv is not None and self.srv.transport is not None:
            self.srv.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.srv is not None and self.srv.transport is not None:
            self.srv.transport.resume_reading()


class TcpServer(asyncio.Protocol):
    __slots__ = ("client", "transport")

    def __init__(self, client: TcpClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        c = self.client
        c.last = c.loop.time()
        if c.transport is not None:
            c.transport.write(data)
            c.fe.counters.bytes_out += len(data)

    def eof_received(self) -> bool | None:
        c = self.client
        c.srv_eof = True
        if c.cli_eof or c.transport is None:
            c.close()
            return None
        c.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        self.client.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.resume_reading()
