"""mode tcp: relay bytes between a client and a server, both ways, with backpressure.

A client connection gets a Stream at accept time (what `balance source`, the tcplog line
and the stats read), picks a server from its frontend's default backend, waits in the
backend's queue (or the chosen server's) when every slot is taken, connects (retrying
`retries` times, on another server with `option redispatch`), and then relays. A
half-close travels through: a client that shuts down its write side still receives the
whole response, and a server's end of stream reaches the client as one. Inactivity beyond
`timeout tunnel` (else the smaller of `timeout client` / `timeout server`) closes both.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Final, Protocol, cast

from weir.backend.server import Server
from weir.config.model import Mode
from weir.net.connect import connect_server
from weir.net.listener import drop_silently, set_keepalive
from weir.persist.rdp import rdp_server
from weir.persist.stick import stream_ended
from weir.proto import proxy_protocol
from weir.proto.h1 import H1Error, parse_request_head
from weir.proxy.runtime import Backend, Frontend
from weir.stream import Stream
from weir.tcp import splice
from weir.tcp.rules import ACCEPT, CLOSE, REJECT, SWITCH, decide

# The most bytes content inspection buffers before the rules must decide (HAProxy's buffer).
INSPECT_MAX: Final = 16384


class Upgraded(Protocol):
    """The HTTP session a mode tcp one becomes (weir.http.session.HttpClient)."""

    def adopt(
        self, transport: asyncio.Transport, stream: Stream, data: bytes, *, eof: bool
    ) -> None: ...


# Not an asyncio.Protocol subclass: the event loop only calls the methods, and classes
# without an interpreted base compile to C structs if this module is compiled.
class TcpClient:
    __slots__ = (
        "backend",
        "cli_eof",
        "closed",
        "connect_timer",
        "fe",
        "holds_slot",
        "inspect_timer",
        "inspecting",
        "last",
        "loop",
        "pending",
        "proxied",
        "proxy_buf",
        "ready",
        "relay",
        "res_pending",
        "res_timer",
        "retries_left",
        "routed",
        "server",
        "splice_burst",
        "splice_paused",
        "splice_want",
        "srv",
        "srv_eof",
        "stream",
        "timer",
        "transport",
        "upgrade",
    )

    def __init__(
        self,
        fe: Frontend,
        loop: asyncio.AbstractEventLoop,
        *,
        proxied: bool = False,
        upgrade: Callable[[], Upgraded] | None = None,
    ) -> None:
        self.fe = fe
        # What the session becomes when it upgrades to HTTP (`switch-mode http`, or a
        # backend in mode http): a new HTTP client session of this frontend.
        self.upgrade = upgrade
        self.proxied = proxied  # `accept-proxy`: a PROXY header comes first
        self.proxy_buf = b""
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.srv: TcpServer | None = None
        self.server: Server | None = None
        self.backend: Backend | None = None  # chosen once the connection is admitted
        self.stream: Stream | None = None
        self.pending: list[bytes] = []
        # The server connection is in use: until then, client bytes (and a half-close)
        # wait in `pending`, so that they reach the server in order.
        self.ready = False
        self.closed = False
        self.cli_eof = False  # the client shut its write side
        self.srv_eof = False  # the server shut its write side
        self.holds_slot = False
        self.routed = False  # a backend was chosen (and counts this session)
        self.inspecting = False  # within `tcp-request inspect-delay`
        self.inspect_timer: asyncio.TimerHandle | None = None
        # `tcp-response content`: the server's bytes held while its rules decide (None
        # when nothing is inspected), and the end of `tcp-response inspect-delay`.
        self.res_pending: list[bytes] | None = None
        self.res_timer: asyncio.TimerHandle | None = None
        # Kernel splicing (weir/tcp/splice.py): the relay once the session is taken over
        # from its transports; the burst size from which to take it over (0: never), and
        # the burst so far (see `_splice_due`).
        self.relay: splice.SplicedRelay | None = None
        self.splice_want = 0
        self.splice_burst = 0
        self.splice_paused = False  # reading paused while buffers drain for a take-over
        self.retries_left = 0
        self.connect_timer: asyncio.TimerHandle | None = None  # `timeout connect`
        self.last = loop.time()
        self.timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        ip, port = (peer[0], peer[1]) if isinstance(peer, tuple) else ("unix", 0)
        stream = self.stream = Stream(ip, port, self.fe)
        stream.t_accept = stream.t_request = stream.t_head = self.last
        stream.accept_date = time.time()
        if self.fe.tcpka:
            set_keepalive(transport)
        c = self.fe.counters
        c.cur_sess += 1
        c.tot_sess += 1
        c.max_sess = max(c.max_sess, c.cur_sess)
        c.sess_rate.hit(1, self.last)
        fe = self.fe
        if fe.tcp_conn is not None:
            # On the connection's own addresses, before any PROXY header (which the rules
            # may ask for: `expect-proxy layer4`).
            if decide(fe.tcp_conn, stream) == REJECT:
                fe.counters.denied += 1
                stream.logged = True  # HAProxy does not log what `tcp-request connection` drops
                self.close("PR")
                return
            self.proxied = self.proxied or stream.proxy_expected
        if self.proxied:
            return  # admitted once the PROXY header has told who the client is
        if fe.limiter.full():
            self.transport.pause_reading()
            fe.limiter.wait(self._admit)
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
        fe, stream = self.fe, self.stream
        assert stream is not None
        if fe.tcp_content is not None:
            if fe.inspect_delay:
                # Content inspection: read the first bytes before choosing a backend.
                self.inspecting = True
                self.inspect_timer = self.loop.call_later(fe.inspect_delay, self._inspected)
                self.transport.resume_reading()
                return
            # No delay: the rules decide at once, on no content.
            stream.payload = b""
            verdict = decide(fe.tcp_content, stream)
            if verdict == REJECT:
                fe.counters.denied += 1
                self.close("PR")
                return
            if verdict == SWITCH:
                self._upgrade()
                return
        self._route()

    def _inspect(self) -> None:
        """More bytes arrived during inspection: let the content rules decide if they can."""
        stream = self.stream
        assert stream is not None
        payload = stream.payload = b"".join(self.pending)
        if stream.req is None:
            # HTTP fetches (`HTTP`, `path`, `hdr(host)`…) read a whole request head once
            # one is there, as HAProxy's do in mode tcp; anything else leaves them absent.
            try:
                found = parse_request_head(payload, max_size=INSPECT_MAX)
            except H1Error:
                found = None
            if found is not None:
                stream.req = found[0]
        rules = self.fe.tcp_content
        verdict = decide(rules, stream) if rules is not None else 0
        if verdict == REJECT:
            self.fe.counters.denied += 1
            self.close("PR")
        elif verdict == SWITCH:
            self._upgrade()
        elif verdict == ACCEPT or len(payload) >= INSPECT_MAX or self.cli_eof:
            self._inspected()

    def _inspected(self) -> None:
        """Inspection is over (accepted, delay expired, buffer full or client done)."""
        if not self.inspecting or self.closed:
            return
        self.inspecting = False
        if self.inspect_timer is not None:
            self.inspect_timer.cancel()
            self.inspect_timer = None
        if self.transport is not None:
            self.transport.pause_reading()
        stream = self.stream
        if stream is not None and stream.payload is None and self.pending:
            stream.payload = b"".join(self.pending)
        self._route()

    def _upgrade(self) -> None:
        """Go on as an HTTP session: the connection, its admission (the frontend's slot and
        counts), what the client sent so far and the stream's variables pass to a new
        HTTP client session; this one ends without a log line (each request gets one)."""
        transport, stream, make = self.transport, self.stream, self.upgrade
        if self.closed or transport is None or stream is None:
            return
        if make is None:  # not served by a listener that upgrades (cannot happen)
            self.close("PR")
            return
        self.closed = True
        self.inspecting = False
        for timer in (self.inspect_timer, self.timer):
            if timer is not None:
                timer.cancel()
        self.inspect_timer = self.timer = None
        self.transport = None
        self.holds_slot = False  # the HTTP session holds it now
        data, self.pending = b"".join(self.pending), []
        make().adopt(transport, stream, data, eof=self.cli_eof)

    def _route(self) -> None:
        """Choose the backend (`use_backend` rules, which may read the inspected bytes, or
        the default one), then a server."""
        stream = self.stream
        assert stream is not None
        be = self.backend = self.fe.route(stream)
        stream.backend = be
        if be is None:
            self.close("SC")
            return
        if be.mode is Mode.HTTP:
            # A backend in mode http: the session upgrades, and its requests are routed
            # as HTTP ones from now on (HAProxy's implicit upgrade).
            self.backend = stream.backend = None
            self._upgrade()
            return
        if be.tcp_content is not None and decide(be.tcp_content, stream) == REJECT:
            be.counters.denied += 1
            self.close("PR")
            return
        self.routed = True
        bc = be.counters
        bc.tot_sess += 1
        bc.cur_sess += 1
        bc.max_sess = max(bc.max_sess, bc.cur_sess)
        self.retries_left = be.retries
        self._schedule()
        persisted = None
        if be.rdp_persist is not None and stream.payload:
            persisted = rdp_server(stream.payload, be.rdp_persist, be.servers, be.persist)
        sticker = be.sticker
        if sticker is None:
            self._assign(persisted or be.pick(stream))
            return
        srv = persisted or sticker.match(stream, be.servers) or be.pick(stream)
        if srv is not None:
            sticker.store(stream, srv)
        self._assign(srv)

    def _assign(self, srv: Server | None) -> None:
        be, stream = self.backend, self.stream
        assert be is not None
        assert stream is not None
        if srv is None:
            if be.has_usable():
                be.queue.append(self._dequeued)
                stream.queue_be = len(be.queue)
                return
            self.close("SC")
            return
        if srv.full:
            stream.queue_srv = be.wait_for(srv, self._dequeued)
            if not stream.queue_srv:  # its queue is at `maxqueue`: go elsewhere
                other = be.pick(stream, avoid=srv)
                if other is not None and other is not srv and not other.full:
                    self._connect(other)
                    return
                be.queue.append(self._dequeued)
                stream.queue_be = len(be.queue)
            return
        self._connect(srv)

    def _dequeued(self, srv: Server) -> bool:
        """Called by the backend when a slot frees; False if this client went away."""
        if self.closed or self.server is not None:
            return False
        self._connect(srv)
        return True

    def _connect(self, srv: Server) -> None:
        be, stream = self.backend, self.stream
        assert be is not None
        assert stream is not None
        be.take(srv)
        if srv.sessions is not None:  # on-marked-down/up shutdown-sessions
            srv.sessions.add(self)
        self.server = srv
        stream.server = srv
        stream.t_queue = self.loop.time()
        conn = TcpServer(self)
        self.srv = conn
        host, port = srv.host, srv.port
        if host == "0.0.0.0":  # `server x *:80`: where the client connected to
            local = stream.frontend_addr
            if local is None and self.transport is not None:
                sockname = self.transport.get_extra_info("sockname")
                local = (sockname[0], sockname[1]) if isinstance(sockname, tuple) else None
            if local is not None:
                host, port = local[0], port or local[1]
        coro = connect_server(self.loop, lambda: conn, srv, host=host, port=port, stream=stream)
        task = self.loop.create_task(coro)
        task.add_done_callback(self._connected)
        if be.timeout_connect:  # a timer, not asyncio.wait_for (a second task per connect)
            self.connect_timer = self.loop.call_later(
                be.timeout_connect, self._connect_expired, task
            )

    def _connect_expired(self, task: asyncio.Task[object]) -> None:
        self.connect_timer = None  # (how _connected tells this cancel from others)
        task.cancel()

    def _connected(self, task: asyncio.Task[object]) -> None:
        timer = self.connect_timer
        if timer is not None:
            timer.cancel()
            self.connect_timer = None
        if task.cancelled() or task.exception() is not None:
            be = self.backend
            if task.cancelled() and (timer is not None or be is None or not be.timeout_connect):
                # Cancelled from outside, not by `timeout connect`: the process is
                # stopping, and a retry would start a connection nobody waits for.
                self.retries_left = 0
            be, srv, stream = self.backend, self.server, self.stream
            self.srv = None
            if be is not None and srv is not None and stream is not None:
                if srv.sessions is not None:
                    srv.sessions.discard(self)
                be.release(srv)
                be.counters.econ += 1
                if srv.observer is not None:
                    srv.observer.l4_error()
                self.server = None
                if self.retries_left > 0 and not self.closed:
                    self.retries_left -= 1
                    stream.retries += 1
                    be.counters.wretr += 1
                    nxt = be.pick(stream, avoid=srv) if be.redispatch else srv
                    if nxt is not None and nxt is not srv:
                        be.counters.wredis += 1
                    self._assign(nxt)
                    return
            self.close("SC")
            return
        if self.closed:
            if self.srv is not None:
                self.srv.close()
            return
        srv_conn = self.srv
        assert srv_conn is not None
        assert srv_conn.transport is not None
        if self.server is not None and self.server.observer is not None:
            self.server.observer.l4_ok()
        if self.stream is not None:
            self.stream.t_connect = self.stream.t_response = self.loop.time()
        be = self.backend
        self.ready = True
        if self.server is not None and self.server.send_proxy:
            srv_conn.transport.write(self._proxy_line(self.server.send_proxy))
        if self.pending:
            srv_conn.transport.writelines(self.pending)
            self.pending = []
        if self.cli_eof:
            srv_conn.transport.write_eof()
        elif self.transport is not None:
            self.transport.resume_reading()
        modes = self.fe.splice | (be.splice if be is not None else frozenset())
        if modes and splice.POOL.limit:
            # splice-request/-response: at once (or at the next read if a side still has
            # bytes to send); splice-auto: at the first large read.
            self.splice_want = 1 if modes & {"request", "response"} else splice.AUTO_THRESHOLD
            if self.splice_want == 1:
                self._splice()

    # -- tcp-response content ---------------------------------------------------------------

    def _inspect_response(self, data: bytes) -> None:
        """Server bytes during response inspection: held until the rules decide."""
        pending, be, stream = self.res_pending, self.backend, self.stream
        assert pending is not None
        assert be is not None
        assert be.tcp_response is not None
        pending.append(data)
        if stream is None:
            return
        payload = stream.res_payload = b"".join(pending)
        verdict = decide(be.tcp_response, stream)
        if verdict == REJECT:
            be.counters.dresp += 1
            self.close("PD")
        elif verdict == CLOSE:
            self._response_inspected()
            self.close("--")
        elif (
            verdict == ACCEPT
            or be.res_inspect_delay <= 0
            or len(payload) >= INSPECT_MAX
            or self.srv_eof
        ):
            self._response_inspected()

    def _response_inspected(self) -> None:
        """Response inspection is over: what was held goes to the client."""
        pending, self.res_pending = self.res_pending, None
        if self.res_timer is not None:
            self.res_timer.cancel()
            self.res_timer = None
        if pending and self.transport is not None and not self.closed:
            self.transport.writelines(pending)
            n = sum(map(len, pending))
            self.fe.counters.bytes_out += n
            if self.stream is not None:
                self.stream.bytes_out += n

    # -- kernel splicing ---------------------------------------------------------------------

    def _splice_due(self, n: int) -> bool:
        """Whether a read of `n` bytes makes the session due for splicing: a burst of
        reads (either way) of at least `splice.AUTO_MIN_READ` each adds up to
        `splice_want`; a smaller read, the mark of request/response chatter, ends it.
        Counting a burst, not one read, keeps the choice independent of how the kernel
        happens to cut a stream into reads."""
        if n >= self.splice_want:  # splice-request/-response want any read (1)
            return True
        if n < splice.AUTO_MIN_READ:
            self.splice_burst = 0
            return False
        self.splice_burst += n
        return self.splice_burst >= self.splice_want

    def _splice(self) -> None:
        """Hand both directions to a SplicedRelay once nothing is buffered on either side:
        while something is, reading stops on both and the take-over is tried again a
        moment later. Stay on the ordinary path when no pipe is free."""
        srv = self.srv
        if (
            self.closed
            or self.relay is not None
            or self.res_pending is not None
            or self.cli_eof
            or self.srv_eof
            or self.transport is None
            or srv is None
            or srv.transport is None
        ):
            self._splice_resume()
            return
        if self.transport.get_write_buffer_size() or srv.transport.get_write_buffer_size():
            self.transport.pause_reading()
            srv.transport.pause_reading()
            self.splice_paused = True
            self.loop.call_later(0.001, self._splice)
            return
        pipes = splice.POOL.take(2)
        self.splice_want = 0
        if pipes is None:
            self._splice_resume()
            return
        client_t, server_t = self.transport, srv.transport
        self.transport = srv.transport = None  # theirs no more: see connection_lost
        cfd, sfd = splice.take_over(client_t), splice.take_over(server_t)
        if cfd is None or sfd is None:
            splice.POOL.give(pipes, clean=True)
            for fd in (cfd, sfd):
                if fd is not None:
                    os.close(fd)
            self.close("PR")
            return
        self.relay = splice.SplicedRelay(
            self.loop,
            cfd,
            sfd,
            pipes,
            on_bytes=(self._spliced_in, self._spliced_out),
            on_end=self.close,
        )

    def _splice_resume(self) -> None:
        """No take-over (now): reading goes on where a wait for it paused it."""
        if self.closed or not self.splice_paused:
            return
        self.splice_paused = False
        if self.transport is not None:
            self.transport.resume_reading()
        srv = self.srv
        if srv is not None and srv.transport is not None:
            srv.transport.resume_reading()

    def _spliced_in(self, n: int) -> None:
        self.last = self.loop.time()
        self.fe.counters.bytes_in += n
        if self.stream is not None:
            self.stream.bytes_in += n

    def _spliced_out(self, n: int) -> None:
        self.last = self.loop.time()
        splice.POOL.spliced_out += n
        self.fe.counters.bytes_out += n
        if self.stream is not None:
            self.stream.bytes_out += n

    def _proxy_line(self, version: int) -> bytes:
        """The PROXY header that tells a `send-proxy` server who the client is."""
        stream = self.stream
        local = stream.frontend_addr if stream is not None else None
        if local is None and self.transport is not None:
            sockname = self.transport.get_extra_info("sockname")
            local = (sockname[0], sockname[1]) if isinstance(sockname, tuple) else None
        if stream is None or local is None or stream.client_ip == "unix":
            return proxy_protocol.v2(None, None) if version == 2 else b"PROXY UNKNOWN\r\n"
        peer = (stream.client_ip, stream.client_port)
        return proxy_protocol.v2(peer, local) if version == 2 else proxy_protocol.v1(peer, local)

    def data_received(self, data: bytes) -> None:
        self.last = self.loop.time()
        if self.proxied:
            rest = self._proxy_header(data)
            if rest is None:
                return
            data = rest
            if not data:
                return
        n = len(data)
        self.fe.counters.bytes_in += n
        if self.stream is not None:
            self.stream.bytes_in += n
        srv = self.srv
        if self.ready and srv is not None and srv.transport is not None:
            srv.transport.write(data)
            if self.splice_want and self._splice_due(n):
                self._splice()
        else:
            self.pending.append(data)
            if self.inspecting:
                self._inspect()
            elif self.transport is not None:
                # Until the server connection is up, one read waits, no more: reading
                # paused by connection_made does not hold under uvloop, and a client
                # must not fill memory while its session waits in a queue.
                self.transport.pause_reading()

    def _proxy_header(self, data: bytes) -> bytes | None:
        """`accept-proxy`: read the PROXY header, adopt its addresses, then admit the
        connection as if it had just arrived. Returns what follows the header (None while
        it is incomplete, or after closing a connection that does not start with one)."""
        buf = self.proxy_buf = self.proxy_buf + data
        try:
            found = proxy_protocol.parse(buf)
        except proxy_protocol.ProxyHeaderError:
            self.fe.counters.errors += 1
            if self.stream is not None:
                self.stream.logged = True
            self.close("PR")
            return None
        if found is None:
            return None
        info, used = found
        self.proxied = False
        self.proxy_buf = b""
        stream = self.stream
        if stream is not None and info.src is not None:
            stream.client_ip, stream.client_port = info.src
            stream.frontend_addr = info.dst
        if self.fe.limiter.full():
            if self.transport is not None:
                self.transport.pause_reading()
            self.fe.limiter.wait(self._admit)
        else:
            self._admit()
        return buf[used:]

    def eof_received(self) -> bool | None:
        """The client is done sending: pass the half-close on (now, or once connected) and
        keep the connection open for the server's answer."""
        self.cli_eof = True
        if self.srv_eof:
            self.close("--")
            return None
        if self.inspecting:
            self._inspected()
        srv = self.srv
        if self.ready and srv is not None and srv.transport is not None:
            srv.transport.write_eof()
        self._half_closed()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.relay is not None:
            return  # the transport let go of the socket: the relay carries on
        self.transport = None
        self.close("CD" if exc is not None else "--")

    # -- timeouts: one timer, re-armed only when it fires early ---------------------------

    def _timeout(self) -> float | None:
        """The session's inactivity limit: the smaller of its two sides'. Each side has
        `timeout tunnel` when it is set (in a relay it supersedes the others), else its own
        `timeout client|server`; once weir has passed an end of stream on to a side (shut
        its write), that side has `timeout client-fin|server-fin` when set."""
        fe, be = self.fe, self.backend
        tunnel = be.timeout_tunnel if be is not None else None
        cli = fe.timeout_client_fin if self.srv_eof else None
        cli = cli or tunnel or fe.timeout_client
        srv = be.timeout_server_fin if self.cli_eof and be is not None else None
        srv = srv or tunnel or (be.timeout_server if be is not None else None)
        if cli and srv:
            return min(cli, srv)
        return cli or srv

    def _half_closed(self) -> None:
        """A side was just shut: its `-fin` timeout may bring the deadline nearer."""
        be = self.backend
        if self.timer is not None and (
            self.fe.timeout_client_fin or (be is not None and be.timeout_server_fin)
        ):
            self.timer.cancel()
            self.timer = None
            self._schedule()

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
            self.close("cD")
        else:
            self._schedule()

    def close(self, term: str = "--") -> None:
        """End the session once: close both sides, give the server slot back, log it.
        `term` is the first two characters of HAProxy's termination state."""
        if self.closed:
            return
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        if self.inspect_timer is not None:
            self.inspect_timer.cancel()
        if self.res_timer is not None:
            self.res_timer.cancel()
        if self.relay is not None:
            self.relay.close()
        if self.transport is not None:
            if self.stream is not None and self.stream.drop:
                drop_silently(self.transport)
            else:
                self.transport.close()
        srv_conn, self.srv = self.srv, None
        if srv_conn is not None:
            srv_conn.close()
        admitted = self.holds_slot  # admitted sessions were counted on their backend too
        be, srv, stream = self.backend, self.server, self.stream
        self.server = None
        if be is not None:
            if srv is not None:
                if srv.sessions is not None:
                    srv.sessions.discard(self)
                be.release(srv)
            if admitted and self.routed:
                be.counters.cur_sess -= 1
        if stream is not None:
            if stream.track is not None:
                stream_ended(stream)
            # Logged while the frontend and the process still count this session, and
            # after the backend and server stopped counting it, as HAProxy does.
            stream.t_close = self.loop.time()
            if term != "--":
                stream.termination = term + stream.termination[2:]
            logger = self.fe.logger
            if logger is not None:
                logger.log(stream)
        self.fe.counters.cur_sess -= 1
        if admitted:
            self.holds_slot = False
            self.fe.limiter.release()

    def shutdown(self, cause: str) -> None:
        """Its server went down ("D") or a better one came up ("U") with
        `on-marked-down/up shutdown-sessions`: end the session now."""
        self.close(cause + "D")

    def pause_writing(self) -> None:
        if self.srv is not None and self.srv.transport is not None:
            self.srv.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.srv is not None and self.srv.transport is not None:
            self.srv.transport.resume_reading()


class TcpServer:
    __slots__ = ("client", "transport")

    def __init__(self, client: TcpClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        c = self.client
        be = c.backend
        if be is not None and be.tcpka:
            set_keepalive(transport)
        if be is not None and be.tcp_response is not None and c.res_pending is None:
            # From the first byte the server sends (it may come before the connection is
            # reported ready): held while the tcp-response rules decide.
            c.res_pending = []
            if be.res_inspect_delay > 0:
                c.res_timer = c.loop.call_later(be.res_inspect_delay, c._response_inspected)

    def data_received(self, data: bytes) -> None:
        c = self.client
        c.last = c.loop.time()
        if c.res_pending is not None:
            c._inspect_response(data)
            return
        if c.transport is not None:
            c.transport.write(data)
            n = len(data)
            if c.splice_want and c._splice_due(n):
                c._splice()
            c.fe.counters.bytes_out += n
            if c.stream is not None:
                c.stream.bytes_out += n

    def eof_received(self) -> bool | None:
        c = self.client
        c.srv_eof = True
        if c.res_pending is not None:
            c._response_inspected()  # the server said all it will: nothing more to wait for
        if c.cli_eof or c.transport is None:
            c.close("--")
            return None
        c.transport.write_eof()
        c._half_closed()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client.relay is not None:
            return  # the transport let go of the socket: the relay carries on
        self.transport = None
        self.client.close("SD" if exc is not None else "--")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def pause_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.client.transport is not None:
            self.client.transport.resume_reading()
