"""mode http: one client connection, its streams, and the server connections they use.

Theory of operation
-------------------
`HttpClient` is the asyncio Protocol of one client connection. Bytes accumulate until the
sans-IO parser (`weir.proto.h1`) returns a whole request head; then a Stream is routed
(`Frontend.route`), a server is picked (`Backend.pick`, or the request waits in the
backend's queue), and the head goes out, unmodified but for the headers weir adds, on a
server connection kept by this client session (`idle`, one per server), one another
session left in the server's pool (weir.net.pool, as `http-reuse` allows), or a new one.
A request body is then relayed as raw bytes, its end found by a `BodyFramer`, never
re-encoded. The `ServerConn` protocol parses the response head, hands it to the client
unchanged, and relays the body the same way; when the response ends, the server
connection goes back to the session's idle set (if both sides allow keep-alive), and to
its server's pool for other sessions, and the next pipelined request, if any, is parsed
from what is already buffered. A kept connection that the server closes as a request
arrives (its idle timeout racing the reuse) costs the client nothing when the request may
be sent twice: it goes out again on a new connection.

One timer per client connection carries every deadline (http-request, keep-alive, connect,
queue, server, client): arming it is an assignment, and the timer re-schedules itself when
it fires early. Backpressure: when one side's transport is above its high-water mark,
reading from the other side pauses until it drains.

Errors: a malformed request gets its status (400, 414, 431, 501…) and never reaches a
server; no usable server is a 503; a failed connect is retried `retries` times (on another
server with `option redispatch`) and then answered 503; a malformed or missing response head
is a 502; a server that does not answer within `timeout server` is a 504. After any error
the client connection closes, as HAProxy's do.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final, cast

from weir.backend.server import Server, SrvState
from weir.config.model import Mode
from weir.http.compress import Algo, BodyCompressor, choose, compressed_head, wanted
from weir.http.errors import error_page
from weir.http.rules import (
    CONTINUE,
    REPLY,
    SILENT,
    STOP,
    TARPIT,
    Compiled,
    ProxyRules,
    Txn,
    run_rules,
)
from weir.log.captures import capture_request, capture_response, unique_id_line
from weir.net import pool
from weir.net.connect import connect_server
from weir.net.listener import SOFT_STOP, drop_silently, set_keepalive
from weir.persist.cookie import NO_COOKIE
from weir.persist.stick import stream_ended
from weir.proto import proxy_protocol
from weir.proto.h1 import (
    BodyFramer,
    H1Error,
    RequestHead,
    ResponseHead,
    body_framer,
    parse_request_head,
    parse_response_head,
    serialize_request,
    serialize_response,
)
from weir.proto.h1_body import ChunkedBody, dechunk
from weir.proxy.runtime import Backend, Frontend
from weir.stats import StatsService
from weir.stream import Stream
from weir.tcp.rules import CLOSE, REJECT, decide

# Client-connection states.
_IDLE: Final = 0  # waiting for a request head
_REQ: Final = 1  # a request is being served (head sent or queued; body maybe flowing)
_CLOSING: Final = 2
_TUNNEL: Final = 3  # after a 101 to an Upgrade request: bytes relayed both ways, unparsed
_BODY: Final = 4  # `option http-buffer-request`: a request head waits for its body (in `buf`)

# Server states in which a persistence cookie still leads to the server.
_PERSIST_STATES: Final = (SrvState.UP, SrvState.DRAIN)

_HTTP: Final = Mode.HTTP

# Connection modes in which a server connection is closed after each response.
_SERVER_CLOSE: Final = ("httpclose", "http-server-close")
_CONNECTION: Final = frozenset({b"connection"})


# The protocols below do not subclass asyncio.Protocol: the event loop only calls their
# methods, and a class with no interpreted base compiles to a C struct (weir/native.py).
class HttpClient:
    __slots__ = (
        "backend",
        "buf",
        "close_after",
        "close_server",
        "comp",
        "comp_types",
        "date_start",
        "deadline",
        "deadline_kind",
        "fe",
        "held",
        "idle",
        "later",
        "local",
        "loop",
        "max_hdr",
        "max_size",
        "now",
        "paused",
        "peer",
        "pending",
        "proxied",
        "replay",
        "req",
        "req_framer",
        "retries_left",
        "server",
        "sess_vars",
        "srv_conn",
        "state",
        "stream",
        "t_first",
        "t_start",
        "tarpit_status",
        "timer",
        "timer_at",
        "tls",
        "transport",
        "txn",
        "upgraded",
        "waiting_slot",
    )

    def __init__(
        self,
        fe: Frontend,
        loop: asyncio.AbstractEventLoop,
        max_size: int,
        max_hdr: int,
        *,
        proxied: bool = False,
    ) -> None:
        self.fe = fe
        self.proxied = proxied  # a PROXY protocol header is expected first (accept-proxy)
        self.local: tuple[str, int] | None = None  # the address the client connected to
        self.loop = loop
        self.max_size = max_size
        self.max_hdr = max_hdr
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.held: RequestHead | None = None  # the head waiting in state _BODY
        self.close_server = False  # http-server-close / httpclose: never reuse the server's
        # `compression`: the algorithm this request's response may be compressed with,
        # and the content types that may be (None: any).
        self.comp: Algo | None = None
        self.comp_types: tuple[bytes, ...] | None = None
        self.state = _IDLE
        self.stream: Stream | None = None
        self.req: RequestHead | None = None
        self.req_framer: BodyFramer | None = None
        self.backend: Backend | None = None
        self.server: Server | None = None
        self.srv_conn: ServerConn | None = None
        self.idle: dict[Server, ServerConn] = {}
        self.later = False  # a request of this session has been served (weir.net.pool)
        self.pending: list[bytes] = []  # request bytes waiting for the server connection
        # The bytes of a request sent on a reused server connection, kept until the
        # response starts: replayed on a new connection if the server closed the old one
        # underneath (only for a request without a body, whose method is idempotent).
        self.replay: list[bytes] | None = None
        self.close_after = False
        self.paused = False
        self.retries_left = 0
        self.peer = ("", 0)
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = 0.0  # when `timer` fires
        self.deadline = 0.0
        self.deadline_kind = ""
        self.waiting_slot = False
        self.tarpit_status = 0  # the status a tarpitted request gets when its time is up
        self.txn: Txn | None = None  # the request rules' transaction, made new for each pass
        self.tls: object = None  # the TLS connection's ssl.SSLObject (None: plain TCP)
        self.sess_vars: dict[str, object] | None = None  # `sess.` variables of the connection
        # A mode tcp session upgraded to this one (see `adopt`): its stream, whose content
        # rules already ran on the first request's bytes, until that request is routed.
        self.upgraded: Stream | None = None
        # When the current request's wait began (accept, or the end of the previous
        # response on a kept-alive connection), on the loop's clock and the wall clock,
        # and when its first byte arrived (0.0: not yet).
        # The loop's clock, read once at the start of each callback and used by everything
        # that callback does (one clock read per event, not one per timestamp).
        self.now = loop.time()
        self.t_start = self.now
        self.date_start = time.time()
        self.t_first = 0.0

    # -- connection ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if isinstance(peer, tuple) else ("unix", 0)
        if self.fe.tls:
            self.tls = transport.get_extra_info("ssl_object")
        # No TCP_NODELAY here: uvloop sets it on every TCP transport, and fetching the
        # socket object to set it again cost ~5% of a short connection's CPU.
        SOFT_STOP.sessions.add(self)
        fe = self.fe
        if fe.tcpka:
            set_keepalive(transport)
        c = fe.counters
        c.cur_sess += 1
        c.tot_sess += 1
        c.max_sess = max(c.max_sess, c.cur_sess)
        c.sess_rate.hit(1, self.t_start)
        if fe.tcp_conn is not None and self._rejected_at_connection():
            return
        if fe.limiter.full():
            self.transport.pause_reading()
            self.paused = True
            fe.limiter.wait(self._admit)
            return
        self._admit()

    def adopt(
        self, transport: asyncio.Transport, stream: Stream, data: bytes, *, eof: bool
    ) -> None:
        """Take over a mode tcp frontend's session that upgrades to HTTP (`switch-mode
        http`, or a backend in mode http): admitted and counted already, with `data`, what
        the client sent so far, and `eof` when the client has stopped sending."""
        self.transport = transport
        self.peer = (stream.client_ip, stream.client_port)
        self.local = stream.frontend_addr
        if self.fe.tls:
            self.tls = transport.get_extra_info("ssl_object")
        self.t_start, self.date_start = stream.t_accept, stream.accept_date
        self.sess_vars = stream.sess_vars
        self.upgraded = stream
        self.waiting_slot = True  # the frontend's slot, taken by the tcp session
        self.close_after = eof
        SOFT_STOP.sessions.add(self)
        transport.set_protocol(cast(asyncio.BaseProtocol, self))  # the loop duck-types it
        self._arm(self.fe.timeout_http_request or self.fe.timeout_client, "request")
        if data:
            self.t_first = stream.t_request
            self._parse(data)
        if eof and self.state == _IDLE and not self.buf:
            self._close()  # nothing (whole) to answer: the client is gone
        elif self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()

    def _proxy_header(self, data: bytes) -> bytes | None:
        """`accept-proxy`: take the PROXY header off the first bytes; its addresses are
        the client's from now on. Returns what follows it (None: not whole yet). A
        connection that does not start with a valid header is closed and counted."""
        buf = self.buf
        buf += data
        try:
            found = proxy_protocol.parse(bytes(buf))
        except proxy_protocol.ProxyHeaderError:
            self.fe.counters.errors += 1
            buf.clear()
            self._close()
            return None
        if found is None:
            return None
        info, used = found
        self.proxied = False
        if info.src is not None:
            self.peer = info.src
            self.local = info.dst
        rest = bytes(buf[used:])
        buf.clear()
        return rest

    def _fail_silently(self, term: str) -> None:
        """End the connection without an answer (a `reject`, or a `silent-drop` that the
        client is not even told of), logging the stream."""
        stream = self.stream
        if stream is not None and stream.drop and self.transport is not None:
            drop_silently(self.transport)
        self._end_stream(term, 0)
        self._close()

    def _rejected_at_connection(self) -> bool:
        """`tcp-request connection reject`: close before reading anything (not logged).
        (`expect-proxy layer4`: a PROXY header comes first.)"""
        fe = self.fe
        assert fe.tcp_conn is not None
        stream = Stream(self.peer[0], self.peer[1], fe)
        if decide(fe.tcp_conn, stream) != REJECT:
            self.proxied = self.proxied or stream.proxy_expected
            return False
        fe.counters.denied += 1
        self.state = _CLOSING
        if self.transport is not None:
            if stream.drop:
                drop_silently(self.transport)
            else:
                self.transport.close()
        return True

    def _admit(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self.now = self.loop.time()
        if self.fe.limiter.full():
            self.fe.limiter.wait(self._admit)
            return
        self.fe.limiter.take()
        self.waiting_slot = True  # holds a limiter slot until connection_lost
        self._arm(self.fe.timeout_http_request or self.fe.timeout_client, "request")
        if self.paused:
            self.paused = False
            self.transport.resume_reading()
            if self.buf:  # what came while the connection waited for its slot
                data = bytes(self.buf)
                self.buf.clear()
                self.fe.counters.bytes_in -= len(data)  # counted as it came
                self.data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.now = self.loop.time()
        if self.state == _TUNNEL:
            self.state = _CLOSING
            self._end_stream("--", 0)  # the client ended the tunnel: a normal end
        elif self.state != _CLOSING:
            self.state = _CLOSING
            if self.stream is not None:
                # The client went away mid-exchange: in the request, while it waited
                # for a server (in a queue: no server holds it yet; or connecting), or
                # while the response was on its way.
                term = "CR"
                if self.srv_conn is not None:
                    term = "CD"
                elif self.state == _REQ and self.backend is not None and not self.req_framer:
                    term = "CQ" if self.server is None else "CC"
                self._end_stream(term, 0)
        self.transport = None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        for conn in self.idle.values():
            if not pool.orphan(conn):  # kept for other sessions, or closed
                conn.close()
        self.idle.clear()
        SOFT_STOP.sessions.discard(self)
        self.fe.counters.cur_sess -= 1
        if self.waiting_slot:
            self.waiting_slot = False
            self.fe.limiter.release()

    # -- timers ----------------------------------------------------------------------------

    def _arm(self, timeout: float | None, kind: str) -> None:
        """Set the connection's one deadline. The timer is only re-created when the new
        deadline is earlier than the one it is set for; a later deadline is found by the
        timer when it fires early and re-schedules itself."""
        if timeout is None:
            self.deadline_kind = ""
            return
        deadline = self.deadline = self.now + timeout
        self.deadline_kind = kind
        timer = self.timer
        if timer is None:
            self.timer = self.loop.call_at(deadline, self._on_timer)
            self.timer_at = deadline
        elif deadline < self.timer_at:
            timer.cancel()
            self.timer = self.loop.call_at(deadline, self._on_timer)
            self.timer_at = deadline

    def _on_timer(self) -> None:
        self.timer = None
        if not self.deadline_kind or self.state == _CLOSING:
            return
        now = self.now = self.loop.time()
        if now < self.deadline:
            self.timer = self.loop.call_at(self.deadline, self._on_timer)
            self.timer_at = self.deadline
            return
        kind, self.deadline_kind = self.deadline_kind, ""
        if kind in ("keepalive", "tunnel"):
            if kind == "tunnel":
                self._end_stream("cD", 0)
            self._close()
        elif kind == "request":
            if self.buf:
                self._fail(408, "cR")
            else:
                self._close()
        elif kind == "connect":
            obs = self.server.observer if self.server is not None else None
            if obs is not None:
                obs.l4_error()
            self._fail(503, "sC")
        elif kind == "queue":
            self._fail(503, "sQ")
        elif kind == "tarpit":
            self.fe.counters.denied += 1
            self._fail(self.tarpit_status, "PT")
        elif kind == "server":
            obs = self.server.observer if self.server is not None else None
            if obs is not None:
                obs.read_timeout()
            self._fail(504, "sH")
        else:
            self._close()

    # -- client bytes ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self.now = self.loop.time()
        self.fe.counters.bytes_in += len(data)
        if self.paused:
            # Waiting for a slot under the frontend's maxconn: uvloop starts reading after
            # connection_made whatever it asked, so the pause is made here, holding what
            # came until the connection is admitted.
            self.buf += data
            if self.transport is not None:
                self.transport.pause_reading()
            return
        if self.proxied:
            rest = self._proxy_header(data)
            if not rest:
                return
            data = rest
        if self.state == _TUNNEL:
            self._tunnel_to_server(data)
            return
        if self.state == _BODY:
            self.buf += data
            self._body_wait()
            return
        stream = self.stream
        if stream is not None:
            stream.bytes_in += len(data)
        framer = self.req_framer
        if framer is not None:
            try:
                n = framer.feed(data)
            except H1Error as e:
                self._fail(e.status, "PR")
                return
            self._to_server(data if n == len(data) else data[:n])
            if framer.done:
                self.req_framer = None
                if n < len(data):
                    self.buf += data[n:]
            return
        if self.state == _IDLE:
            if not self.t_first:
                self.t_first = self.now
                if self.deadline_kind == "keepalive":
                    self._arm(self.fe.timeout_http_request or self.fe.timeout_client, "request")
            self._parse(data)
            return
        self.buf += data
        if len(self.buf) > self.max_size and self.transport is not None:
            # Pipelined requests pile up while one is served: stop reading for now.
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        if self.state == _TUNNEL:
            conn = self.srv_conn
            if conn is not None and conn.transport is not None and not conn.eof:
                conn.transport.write_eof()  # pass the half-close on; keep reading replies
                conn.shut = True
                self._tunnel_half_closed()
                return True
            return None
        if self.state == _IDLE and not self.buf:
            return None  # clean close between requests
        if self.state == _REQ and self.req_framer is None:
            # The whole request is here: a client that half-closes still gets its
            # response, unless `option abortonclose` drops the request while it waits for
            # a server (in a queue, or connecting). Nothing more can come: the
            # connection ends with this exchange.
            be = self.backend
            if be is not None and be.abortonclose and self.srv_conn is None:
                return None
            self.close_after = True
            return True
        return None

    def _parse(self, data: bytes) -> None:
        """Look for a request head in what is buffered plus `data`. A head that arrives
        whole (the common case) is parsed from `data` itself, without a copy."""
        buf = self.buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        try:
            found = parse_request_head(data, max_size=self.max_size, max_headers=self.max_hdr)
        except H1Error as e:
            self.buf += data
            self._fail(e.status, "PR")
            return
        if found is None:
            buf += data
            return
        head, used = found
        rest = data[used:]
        fe = self.fe
        self.state = _REQ
        self.req = head
        fe.counters.requests += 1
        stream = self._new_stream()
        stream.req = head
        stream.bytes_in = used
        if fe.captures is not None:
            capture_request(stream, head)
        if not head.keep_alive or fe.conn_mode == "httpclose":
            self.close_after = True
        if fe.monitor_uri is not None and head.target == fe.monitor_uri:
            # An outer health probe (keepalived, another load balancer): answered here,
            # not logged, 503 once this process is stopping so that traffic moves away.
            self.stream = None
            failing = fe.monitor_fail is not None and fe.monitor_fail(stream)
            self.write(error_page(503 if SOFT_STOP.stopping or failing else 200))
            self._close()
            return
        if fe.stats is not None and fe.stats.matches(head.method, head.target, stream):
            self._stats(fe.stats, head, rest)
            return
        if fe.buffer_body and (head.chunked or head.content_length):
            self.held = head
            self.buf += rest
            self._body_wait()
            return
        self._dispatch(head, stream, rest)

    def _body_wait(self) -> None:
        """`option http-buffer-request`: go on with the held request once its body is
        here, or once tune.bufsize bytes of it are (the rules then see that much)."""
        head, stream = self.held, self.stream
        assert head is not None
        assert stream is not None
        data = bytes(self.buf)
        limit = self.max_size
        size: int | None
        if head.chunked:
            framer = ChunkedBody()
            try:
                n = framer.feed(data)
                complete = framer.done
            except H1Error:  # refused further on by the framing, as without the wait
                n, complete = 0, True
            if not complete and len(data) < limit:
                self.state = _BODY
                return
            decoded = dechunk(data[:n])
            body, size = decoded[:limit], (len(decoded) if complete else None)
        else:
            length = head.content_length or 0
            if len(data) < length and len(data) < limit:
                self.state = _BODY
                return
            body, size = data[: min(length, limit)], length
        self.buf.clear()
        self.held = None
        self.state = _REQ
        stream.req_body = (body, size)
        self._dispatch(head, stream, data)

    def _dispatch(self, head: RequestHead, stream: Stream, rest: bytes) -> None:
        """A parsed request (its body's first bytes in `rest`): rules, routing, the server."""
        fe = self.fe
        upgraded = self.upgraded
        if upgraded is not None:
            # The first request of an upgraded mode tcp session: the content rules ran on
            # its bytes already; what they set and track goes on with it.
            self.upgraded = None
            stream.vars, stream.track = upgraded.vars, upgraded.track
            stream.log_level = upgraded.log_level
        elif fe.tcp_content is not None:
            # `tcp-request content` rules of an HTTP frontend run on each request, before
            # its http-request rules; they see the request (and its head as the payload).
            stream.payload = head.raw
            if decide(fe.tcp_content, stream) == REJECT:
                fe.counters.denied += 1
                self._fail_silently("PR")
                return
        rules = fe.http
        if rules is not None:
            ruled = self._request_rules(rules, head, stream, rest)
            if ruled is None:
                return
            head = ruled
        be = fe.route(stream)
        if be is None:
            self._fail(503, "SC")
            return
        if be.mode is not _HTTP:
            # A mode tcp frontend's upgraded session routed to its own tcp servers: an
            # HTTP stream cannot reach them (HAProxy closes too, and warns at start).
            self._fail_silently("PR")
            return
        self.backend = be
        stream.backend = be
        st = be.stats
        if st is not None and st is not fe.stats and st.matches(head.method, head.target, stream):
            self._stats(st, head, rest)
            return
        if be.tcp_content is not None:
            stream.payload = head.raw
            if decide(be.tcp_content, stream) == REJECT:
                be.counters.denied += 1
                self._fail_silently("PR")
                return
        rules = be.http
        if rules is not None:
            ruled = self._request_rules(rules, head, stream, rest)
            if ruled is None:
                return
            head = ruled
        if be.conn_mode == "httpclose":
            self.close_after = True
        bc = be.counters
        bc.tot_sess += 1
        bc.cur_sess += 1
        bc.max_sess = max(bc.max_sess, bc.cur_sess)
        bc.sess_rate.hit(1, stream.t_head)
        framer = (
            body_framer(head.content_length, head.chunked, False)
            if head.chunked or head.content_length
            else None
        )
        persisted: Server | None = None
        if be.use_server is not None:
            # `use-server SRV if COND`: that server while it is up or draining; it comes
            # before the persistence cookie, as in HAProxy.
            for pred, chosen in be.use_server:
                if chosen.state in _PERSIST_STATES and pred(stream):
                    persisted = chosen
                    break
        cookie_lines: list[bytes] | None = None
        if be.cookie is not None:
            by_cookie, cookie_lines = self._cookie_in(head, be, stream, persisted is not None)
            persisted = persisted or by_cookie
        out = self._request_bytes(head, be, cookie_lines)
        if framer is not None and rest:
            try:
                n = framer.feed(rest)
            except H1Error as e:
                self._fail(e.status, "PR")
                return
            out += rest[:n]
            stream.bytes_in += n
            rest = rest[n:]
        self.req_framer = None if framer is None or framer.done else framer
        if rest:
            self.buf += rest
        self.pending = [out]
        self.retries_left = be.retries
        sticker = be.sticker
        if sticker is not None:
            if persisted is None:
                persisted = sticker.match(stream, be.servers)
                if persisted is not None and be.cookie is not None:
                    stream.persist = stream.persist._replace(direct=True)  # no new cookie
            srv = persisted if persisted is not None else be.pick(stream)
            if srv is not None:
                sticker.store(stream, srv)
            self._assign(srv)
            return
        self._assign(persisted if persisted is not None else be.pick(stream))

    def _request_rules(
        self, rules: ProxyRules, head: RequestHead, stream: Stream, rest: bytes
    ) -> RequestHead | None:
        """A proxy's http-request rules, then its `redirect` rules: the head to go on with
        (edited or not), or None when a rule answered the request itself."""
        if rules.request is not None:
            found = self._rule_pass(rules.request, rules, head, stream, rest)
            if found is None:
                return None
            head = found
        if rules.redirects is not None:
            return self._rule_pass(rules.redirects, rules, head, stream, rest)
        return head

    def _rule_pass(
        self,
        compiled: Compiled,
        rules: ProxyRules,
        head: RequestHead,
        stream: Stream,
        rest: bytes,
    ) -> RequestHead | None:
        """One list of _request_rules."""
        txn = self.txn
        if txn is None:
            txn = self.txn = Txn(stream, head, False)
        else:
            txn.reset(stream, head, False)
        verdict = run_rules(compiled, txn)
        if verdict == STOP:
            verdict = CONTINUE
        if verdict == CONTINUE:
            edited = txn.finish()
            if edited is None:
                txn.status = 500
                verdict = REPLY
            elif edited is not head:
                head = self.req = stream.req = edited
        if verdict != CONTINUE:
            self._rule_reply(txn, verdict, rules, rest)
            return None
        return head

    def _rule_reply(self, txn: Txn, verdict: int, rules: ProxyRules, rest: bytes) -> None:
        """Answer a request from a rule: deny (an error page, closing), tarpit (the same
        after `timeout tarpit`), or a whole response (redirect, return, auth), after which
        a kept-alive connection goes on with its next request."""
        stream = txn.stream
        head = txn.head
        if verdict == SILENT:
            self.fe.counters.denied += 1
            self._fail_silently("PR")
            return
        if verdict == TARPIT:
            self.tarpit_status = txn.status
            if self.transport is not None:
                self.transport.pause_reading()
            self._arm(rules.tarpit, "tarpit")
            return
        if txn.reply is None:
            if txn.status != 500:
                self.fe.counters.denied += 1
            self._fail(txn.status, "PR")
            return
        stream.res_status = txn.status
        stream.t_response = self.now
        stream.termination = "LR" + stream.termination[2:]
        self.fe.counters.hrsp[txn.status // 100 if txn.status < 600 else 0] += 1
        if txn.close or head.chunked or head.content_length or head.upgrade:
            # The request's body, if any, is not read: the connection cannot go on.
            self.write(_with_close(txn.reply))
            self._end_stream("LR", 0)
            self._close()
            return
        if not head.keep_alive:
            self.close_after = True
        if rest:
            self.buf += rest
        self.write(txn.reply)
        self._finish()

    def _new_stream(self) -> Stream:
        """The Stream of the request being started, with its timestamps so far."""
        now = self.now
        stream = Stream(self.peer[0], self.peer[1], self.fe)
        stream.ssl = self.tls
        stream.sess_vars = self.sess_vars
        stream.frontend_addr = self.local
        stream.t_accept = self.t_start
        stream.accept_date = self.date_start
        stream.t_request = self.t_first or now
        stream.t_head = now
        self.t_first = 0.0
        self.stream = stream
        self.fe.counters.req_rate.hit(1, now)
        return stream

    def _stats(self, service: StatsService, head: RequestHead, rest: bytes) -> None:
        """Answer the stats page (or Prometheus' /metrics) instead of a server. The admin
        form's body is read when it came with the head (forms are small); a request with
        a body closes the connection afterwards, since the rest of it is not framed here."""
        body: bytes | None = None
        cl = head.content_length
        if head.chunked or cl:
            self.close_after = True
            if cl and not head.chunked and len(rest) >= cl:
                body = rest[:cl]
        elif rest:
            self.buf += rest
        stream = self.stream
        assert stream is not None
        page = service.handle(
            head.method,
            head.target,
            head.header(b"authorization"),
            close=self.close_after,
            stream=stream,
            body=body,
        )
        stream.res_status = int(page[9:12])
        stream.t_response = self.now
        self.write(page)
        stream.termination = "LR" + stream.termination[2:]  # answered by weir itself
        self._finish()

    def _cookie_in(
        self, head: RequestHead, be: Backend, stream: Stream, assigned: bool
    ) -> tuple[Server | None, list[bytes] | None]:
        """Cookie persistence on the way in: the server the cookie names while it is up
        (also when drained, or at weight 0, as HAProxy keeps persistent clients there; a
        full one is waited for) unless one is `assigned` already, and with `indirect` the
        Cookie header values to send instead."""
        ck = be.cookie
        assert ck is not None
        values = head.header_values(b"cookie")
        srv, seen, state = ck.request(
            values, stream, be.ignore_persist, be.force_persist, assigned=assigned
        )
        stream.persist = seen
        stream.termination = "--" + state + "N"
        stripped = None
        if state != "N":
            if ck.rule.mode == "prefix":
                stripped = ck.unprefix(values)  # the application's own value goes on
            elif ck.rule.indirect:
                stripped = ck.strip(values)
        return srv, stripped

    def _request_bytes(
        self, head: RequestHead, be: Backend, cookie_lines: list[bytes] | None = None
    ) -> bytes:
        """The head as it goes to the server: its own bytes plus the lines weir adds."""
        add = b""
        drop: set[bytes] = set()
        if cookie_lines is not None:
            drop.add(b"cookie")
            add += b"".join(b"Cookie: " + v + b"\r\n" for v in cookie_lines)
        if self.fe.captures is not None and self.stream is not None:
            add += unique_id_line(self.stream)  # unique-id-header, once the backend is known
        ff = self.fe.forwardfor or be.forwardfor
        if ff is not None:
            # The client's address as the stream knows it (`set-src` may have changed it).
            client = self.stream.client_ip if self.stream is not None else self.peer[0]
            if ff.wanted(head, client):
                add += ff.header + b": " + client.encode() + b"\r\n"
        if be.conn_mode in _SERVER_CLOSE or self.fe.conn_mode in _SERVER_CLOSE:
            self.close_server = True  # whatever the server answers
            if not be.pretend_keepalive:
                add += b"Connection: close\r\n"
                drop.add(b"connection")
        else:
            # A client's `close` (or HTTP/1.0's implicit one) goes to the server as it is:
            # server connections belong to a client session here, so the server's ends
            # with the client's anyway, and the server closing it first is cheaper.
            self.close_server = False
        fc, bc = self.fe.comp, be.comp
        if fc is None and bc is None:
            self.comp = None
        else:
            self.comp = algo = choose(fc, bc, head)
            types = bc.types if bc is not None else None
            self.comp_types = types or (fc.types if fc is not None else None)
            offload = (fc is not None and fc.offload) or (bc is not None and bc.offload)
            if algo is not None and offload:
                drop.add(b"accept-encoding")  # `compression offload`: servers never compress
        if drop:
            return serialize_request(head, add=add, drop=frozenset(drop))
        return serialize_request(head, add=add)

    # -- server side -----------------------------------------------------------------------

    def _assign(self, srv: Server | None) -> None:
        be = self.backend
        stream = self.stream
        assert be is not None
        assert stream is not None
        if srv is None:
            if be.has_usable():
                be.queue.append(self._dequeued)
                stream.queue_be = len(be.queue)
                self._arm(be.timeout_queue, "queue")
                return
            self._fail(503, "SC")
            return
        if srv.full:
            # Persistence or a hash key chose this server: wait for one of its slots,
            # unless its queue is at `maxqueue`: then any other server, or the backend's
            # queue (this breaks persistence, as HAProxy's maxqueue does).
            stream.queue_srv = be.wait_for(srv, self._dequeued)
            if not stream.queue_srv:
                other = be.pick(stream, avoid=srv)
                if other is not None and other is not srv and not other.full:
                    self._assign(other)
                    return
                be.queue.append(self._dequeued)
                stream.queue_be = len(be.queue)
            self._arm(be.timeout_queue, "queue")
            return
        be.take(srv)
        if srv.sessions is not None:  # on-marked-down/up shutdown-sessions
            srv.sessions.add(self)
        self.server = srv
        stream.server = srv
        stream.t_queue = self.now
        conn = self.idle.pop(srv, None)
        if conn is not None and not conn.closed:
            if conn.pooled:
                pool.remove(conn)
        elif be.reuse:
            conn = pool.take(srv, be.reuse, not self.later)  # one another session left
        else:
            conn = None
        if conn is not None:
            conn.reused = True
            self._use(conn)
            return
        self._connect(srv)

    def _dequeued(self, srv: Server) -> bool:
        """Called by the backend when a slot frees; False if this request went away."""
        if self.state != _REQ or self.server is not None or self.backend is None:
            return False
        self.now = self.loop.time()
        self._assign(srv)
        return True

    def _connect(self, srv: Server) -> None:
        be = self.backend
        assert be is not None
        self._arm(be.timeout_connect, "connect")
        conn = ServerConn(self, srv)
        host, port = srv.host, srv.port
        if host == "0.0.0.0":  # `server x *:80`: where the client connected to
            host, port = self._destination(port)
        coro = connect_server(
            self.loop,
            lambda: conn,
            srv,
            host=host,
            port=port,
            stream=self.stream,
            handshake_timeout=be.timeout_connect,
        )
        task = self.loop.create_task(coro)
        task.add_done_callback(lambda t: self._connected(t, conn))

    def _connected(self, task: asyncio.Task[object], conn: ServerConn) -> None:
        self.now = self.loop.time()
        if task.cancelled() or task.exception() is not None:
            conn.closed = True
            if conn.client is self:
                self._connect_failed()
            return
        if self.state != _REQ or conn.client is not self:
            conn.close()
            return
        if conn.srv.send_proxy and conn.transport is not None:
            conn.transport.write(self._proxy_line(conn.srv.send_proxy))
        obs = conn.srv.observer
        if obs is not None:
            obs.l4_ok()
        self._use(conn)

    def _destination(self, port: int) -> tuple[str, int]:
        """The address the client connected to (from a PROXY header, else the socket's),
        with `port` instead of its port when one is given."""
        local = self.local
        if local is None and self.transport is not None:
            sockname = self.transport.get_extra_info("sockname")
            if isinstance(sockname, tuple):
                local = self.local = (sockname[0], sockname[1])
        if local is None:
            return "0.0.0.0", port
        return local[0], port or local[1]

    def _proxy_line(self, version: int) -> bytes:
        """The PROXY header that tells a `send-proxy` server who the client is."""
        local = self.local
        if local is None and self.transport is not None:
            sockname = self.transport.get_extra_info("sockname")
            local = (sockname[0], sockname[1]) if isinstance(sockname, tuple) else None
        if local is None or self.peer[0] == "unix":
            return proxy_protocol.v2(None, None) if version == 2 else b"PROXY UNKNOWN\r\n"
        if version == 2:
            return proxy_protocol.v2(self.peer, local)
        return proxy_protocol.v1(self.peer, local)

    def replay_request(self, conn: ServerConn) -> bool:
        """The server closed a reused connection before answering: send the request again
        on a new connection when it may be (see `replay`). False when it may not."""
        pending = self.replay
        if pending is None or self.srv_conn is not conn or self.server is None:
            return False
        self.replay = None
        self.srv_conn = None
        conn.close()
        self.pending = pending
        self._connect(self.server)
        return True

    def _connect_failed(self) -> None:
        be, srv, stream = self.backend, self.server, self.stream
        if be is None or srv is None or stream is None or self.state != _REQ:
            return
        be.counters.econ += 1
        obs = srv.observer
        if obs is not None:
            obs.l4_error()
        if self.retries_left > 0:
            self.retries_left -= 1
            stream.retries += 1
            be.counters.wretr += 1
            if be.redispatch:
                be.release(srv)
                self.server = None
                other = be.pick(stream, avoid=srv)
                if other is not None and other is not srv:
                    be.counters.wredis += 1
                if other is not None:
                    self._assign(other)
                    return
                self._fail(503, "SC")
                return
            self._connect(srv)
            return
        self._fail(503, "SC")

    def _use(self, conn: ServerConn) -> None:
        self.srv_conn = conn
        conn.client = self
        conn.uses += 1
        conn.start_response(self.req.method if self.req is not None else b"GET")
        be = self.backend
        assert be is not None
        assert conn.transport is not None
        stream = self.stream
        if stream is not None:
            stream.t_connect = self.now
        self._arm(_server_timeout(stream, be), "server")
        pending, self.pending = self.pending, []
        req = self.req
        self.replay = (
            pending
            if conn.reused and req is not None and _replayable(req) and not self.req_framer
            else None
        )
        conn.transport.writelines(pending)

    def _to_server(self, data: bytes) -> None:
        conn = self.srv_conn
        if conn is not None and conn.transport is not None:
            conn.transport.write(data)
            be = self.backend
            if be is not None:
                be.counters.bytes_in += len(data)
        else:
            self.pending.append(data)

    # -- tunnel (WebSocket and other upgrades) ---------------------------------------------

    def start_tunnel(self, conn: ServerConn, head: ResponseHead, rest: bytes) -> None:
        """The server switched protocols: forward its 101 and relay bytes both ways until
        either side closes, with `timeout tunnel` (else client/server) as inactivity limit."""
        self.state = _TUNNEL
        self.close_after = True
        stream = self.stream
        if stream is not None:
            stream.t_response = self.now
            stream.res_status = 101
        self.fe.counters.hrsp[1] += 1
        self.write(head.raw + rest if rest else head.raw)
        self._arm(self._tunnel_timeout(), "tunnel")
        if self.buf:
            # Bytes the client sent after its request (its first frames): now they go on.
            pending, self.buf = bytes(self.buf), bytearray()
            self._tunnel_to_server(pending)
        if self.transport is not None:
            self.transport.resume_reading()

    def _tunnel_to_server(self, data: bytes) -> None:
        conn = self.srv_conn
        if conn is None or conn.transport is None:
            return
        conn.transport.write(data)
        stream = self.stream
        if stream is not None:
            stream.bytes_in += len(data)
        self._touch_tunnel()

    def _touch_tunnel(self) -> None:
        """Activity in the tunnel moves its inactivity deadline (no new timer)."""
        if self.deadline_kind == "tunnel":
            t = self._tunnel_timeout()
            if t:
                self.deadline = self.now + t

    def _tunnel_timeout(self) -> float | None:
        """The tunnel's inactivity limit: `timeout tunnel`, else `timeout client`, else
        `timeout server`; once weir has passed an end of stream on to a side, the smaller
        of that and the side's `timeout client-fin|server-fin` when set."""
        fe, be, conn = self.fe, self.backend, self.srv_conn
        own = self.stream.timeouts if self.stream is not None else None
        t = (own.get("tunnel") if own else None) or (be.timeout_tunnel if be else None)
        t = t or fe.timeout_client
        t = t or (be.timeout_server if be is not None else None)
        if conn is not None:
            fins = (
                fe.timeout_client_fin if conn.eof else None,
                be.timeout_server_fin if conn.shut and be is not None else None,
            )
            for fin in fins:
                if fin:
                    t = min(t, fin) if t else fin
        return t

    def _tunnel_half_closed(self) -> None:
        """A side of the tunnel was just shut: its `-fin` timeout applies from now."""
        if self.deadline_kind == "tunnel":
            self.now = self.loop.time()
            self._arm(self._tunnel_timeout(), "tunnel")

    # -- response --------------------------------------------------------------------------

    def response_head(self, head: ResponseHead, close_delimited: bool) -> bytes | None:
        """The server's response head as it goes to the client: as received, plus the
        persistence cookie when one must be set."""
        if close_delimited:
            self.close_after = True
        be = self.backend
        stream = self.stream
        if stream is not None:
            stream.t_response = self.now
            stream.res_status = head.status
            stream.res = head
            sticker = be.sticker if be is not None else None
            if sticker is not None and sticker.responses and self.server is not None:
                sticker.store_response(stream, self.server)  # before http-response rules
            if be is not None and be.tcp_response is not None and not self._tcp_response(be):
                return None
            fe_http, be_http = self.fe.http, be.http if be is not None else None
            if (be_http is not None and be_http.responses) or (
                fe_http is not None and fe_http.responses
            ):
                ruled = self._response_rules(head, stream)
                if ruled is None:
                    return None
                head = ruled
            srv = self.server
            if srv is not None and srv.observer is not None:
                srv.observer.http_status(head.status)
            if self.fe.captures is not None:
                capture_response(stream, head)
        status = head.status
        self.fe.counters.hrsp[status // 100 if status < 600 else 0] += 1
        raw = head.raw
        # The server's Connection header is about its own connection; the client's is
        # weir's to announce, as HAProxy does.
        if self.close_after:
            if head.keep_alive:  # this response ends the client's connection: say so
                raw = serialize_response(head, add=b"Connection: close\r\n", drop=_CONNECTION)
        elif not head.keep_alive:
            # A server that closes (http-server-close, or one that closes after each
            # response): the client's connection stays open.
            raw = serialize_response(head, drop=_CONNECTION)
        if SOFT_STOP.close_responses and not self.close_after:
            # A soft stop is draining this process: this response ends the connection,
            # and says so, so that a keep-alive client sends its next request elsewhere.
            self.close_after = True
            raw = serialize_response(
                head, add=b"Connection: close\r\n", drop=frozenset({b"connection"})
            )
        if be is not None:
            self._arm(_server_timeout(stream, be), "server")
            be.counters.hrsp[status // 100 if status < 600 else 0] += 1
            ck = be.cookie
            if ck is not None and stream is not None:
                req = stream.req
                raw, done = ck.response(
                    raw,
                    self.server,
                    stream.persist or NO_COOKIE,
                    req is not None and req.method == b"POST",
                    lambda: _cacheable(head),
                )
                stream.termination = stream.termination[:3] + done
        return raw

    def _tcp_response(self, be: Backend) -> bool:
        """`tcp-response content` rules of an HTTP backend, run once on the response head
        (the L6 fetches see no bytes here, as in HAProxy). False when they ended the
        exchange: `reject` closes without an answer, `close` answers 502."""
        stream = self.stream
        assert stream is not None
        assert be.tcp_response is not None
        verdict = decide(be.tcp_response, stream)
        if verdict == REJECT:
            self.fe.counters.dresp += 1
            be.counters.dresp += 1
            stream.res_status, stream.t_response = -1, 0.0  # logged as no response: -1
            self._fail_silently("PD")
            return False
        if verdict == CLOSE:
            self._fail(502, "SH")
            return False
        return True

    def _response_rules(self, head: ResponseHead, stream: Stream) -> ResponseHead | None:
        """http-response rules (backend's, then frontend's), then http-after-response
        ones: the head to send, or None when a rule refused the response (the client then
        gets a 502, as from HAProxy)."""
        be = self.backend
        both = (be.http if be is not None else None, self.fe.http)
        lists = [r.response for r in both if r is not None and r.response is not None]
        lists += [r.after for r in both if r is not None and r.after is not None]
        if not lists:
            return head
        txn = Txn(stream, head, True)
        for compiled in lists:
            verdict = run_rules(compiled, txn)
            if verdict >= REPLY:
                self.fe.counters.dresp += 1
                if be is not None:
                    be.counters.dresp += 1
                if verdict == SILENT:  # `silent-drop`: no 502 either
                    stream.res_status, stream.t_response = -1, 0.0
                    self._fail_silently("PD")
                return None
        edited: ResponseHead | None = txn.finish()
        if edited is not None and edited is not head:
            stream.res = edited
        return edited

    def write(self, data: bytes | bytearray | memoryview) -> None:
        t = self.transport
        if t is not None:
            t.write(data)
            n = len(data)
            self.fe.counters.bytes_out += n
            stream = self.stream
            if stream is not None:
                stream.bytes_out += n

    def response_done(self, conn: ServerConn, reusable: bool) -> None:
        srv = self.server
        self.srv_conn = None
        if self.req_framer is not None:
            # The server answered before the whole request body arrived: the rest of
            # that body can no longer be framed, so this client connection ends here.
            self.close_after = True
        if reusable and not self.close_after and not self.close_server and srv is not None:
            conn.client = self
            old = self.idle.pop(srv, None)
            if old is not None and old is not conn:
                old.close()
            self.idle[srv] = conn
            conn.park()
            be = self.backend
            if be is not None and be.reuse and not conn.private and pool.shareable(srv):
                pool.put(srv, conn, self.loop)
        else:
            conn.close()
        self._finish()

    def response_failed(self, conn: ServerConn, status: int, started: bool, term: str) -> None:
        """The server connection failed mid-exchange. Before any response byte went to the
        client it gets `status`; after, the only honest signal left is closing."""
        self.srv_conn = None
        conn.close()
        be = self.backend
        if be is not None:
            be.counters.eresp += 1
        if not started:
            self._fail(status, term)
            return
        self._end_stream(term, 0)
        self._close()

    def _finish(self) -> None:
        """The response went out whole: end the stream, then wait for the next request."""
        self._end_stream("--", 0)
        self.later = True  # the session's next requests are not its first
        if self.close_after or self.transport is None:
            self._close()
            return
        self.state = _IDLE
        self.t_start = self.now
        self.date_start = time.time()
        self._arm(self.fe.timeout_http_keep_alive, "keepalive")
        if self.transport is not None:
            self.transport.resume_reading()
        if self.buf:
            self.t_first = self.t_start
            self._parse(b"")

    def _end_stream(self, term: str, status: int) -> None:
        """Release what the stream held (server slot, server connection) and log it.
        `term` is the first two characters of the termination state; `status`, when not 0,
        the error status sent to the client."""
        conn, srv, be, stream = self.srv_conn, self.server, self.backend, self.stream
        self.srv_conn = None
        self.server = None
        self.backend = None
        self.stream = None
        self.req = None
        if conn is not None:
            conn.client = None
            conn.close()
        if be is not None:
            if srv is not None:
                if srv.sessions is not None:
                    srv.sessions.discard(self)
                be.release(srv)
            if stream is not None and stream.backend is be and stream.t_head:
                be.counters.cur_sess -= 1
        if stream is None:
            return
        self.sess_vars = stream.sess_vars  # a rule may have set the connection's first one
        stream.t_close = self.now
        if status:
            stream.res_status = status
        if stream.track is not None:
            stream_ended(stream)
        if term != "--":
            stream.termination = term + stream.termination[2:]
        logger = self.fe.logger
        if logger is not None:
            logger.log(stream)

    def stop_idle(self) -> None:
        """Soft stop: close this connection if it is idle between requests."""
        if self.state == _IDLE and not self.buf and not self.t_first:
            self._close()

    def shutdown(self, cause: str) -> None:
        """Its server went down ("D") or a better one came up ("U") with
        `on-marked-down/up shutdown-sessions`: end the stream now and close."""
        if self.state == _CLOSING:
            return
        self._end_stream(cause + "D", 0)
        self._close()

    # -- errors and closing ----------------------------------------------------------------

    def _fail(self, status: int, term: str) -> None:
        """Answer `status` with weir's error page and close. A request that failed before
        its head was whole still gets a stream, so that it is logged (`<BADREQ>`)."""
        if self.state == _CLOSING:
            return
        if status in (400, 408, 413, 414, 431, 501):
            self.fe.counters.errors += 1
        if self.stream is None and (self.buf or self.t_first):
            stream = self._new_stream()
            stream.bytes_in = len(self.buf)
        # The backend's own error file once the request reached one, else the frontend's,
        # else weir's built-in page.
        be = self.backend
        page = (be.errorfiles.get(status) if be is not None else None) or self.fe.errorfiles.get(
            status
        )
        if callable(page):  # an `http-error` made per request
            page = page(self.stream) if self.stream is not None else None
        self.write(page or error_page(status))
        self._end_stream(term, status)
        self._close()

    def _close(self) -> None:
        self.state = _CLOSING
        self.deadline_kind = ""
        if self.transport is not None:
            self.transport.close()

    # -- backpressure ----------------------------------------------------------------------

    def pause_writing(self) -> None:
        conn = self.srv_conn
        if conn is not None and conn.transport is not None:
            conn.transport.pause_reading()

    def resume_writing(self) -> None:
        conn = self.srv_conn
        if conn is not None and conn.transport is not None:
            conn.transport.resume_reading()


def _server_timeout(stream: Stream | None, be: Backend) -> float | None:
    """`timeout server`, or the stream's own (`http-request set-timeout server`)."""
    own = stream.timeouts if stream is not None else None
    return (own.get("server") if own else None) or be.timeout_server


# Methods whose request may be sent twice (RFC 9110 idempotent methods).
_IDEMPOTENT: Final = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})


def _replayable(req: RequestHead) -> bool:
    return req.method in _IDEMPOTENT and not req.chunked and not req.content_length


def _with_close(reply: bytes) -> bytes:
    """A response made by weir, with `Connection: close` added to its head."""
    end = reply.find(b"\r\n\r\n") + 2
    return reply[:end] + b"connection: close\r\n" + reply[end:]


def _cacheable(head: ResponseHead) -> bool:
    """Whether a response says shared caches may store it (explicit freshness, not
    private/no-cache/no-store), the case where `nocache` must mark it private."""
    cc = b",".join(head.header_values(b"cache-control")).lower()
    if any(t in cc for t in (b"private", b"no-cache", b"no-store")):
        return False
    if b"public" in cc or b"max-age" in cc:
        return not (b"max-age=0" in cc and b"s-maxage" not in cc)
    return head.header(b"expires") is not None


class ServerConn:
    """One connection to a server; it belongs to one client session at a time."""

    __slots__ = (
        "buf",
        "client",
        "closed",
        "eof",
        "framer",
        "keep_alive",
        "method",
        "pooled",
        "private",
        "reused",
        "shut",
        "squeeze",
        "srv",
        "started",
        "transport",
        "tunnel",
        "uses",
    )

    def __init__(self, client: HttpClient, srv: Server) -> None:
        self.client: HttpClient | None = client
        self.srv = srv
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.framer: BodyFramer | None = None
        self.method = b"GET"
        self.keep_alive = True
        self.started = False
        self.closed = False
        self.tunnel = False  # relaying raw bytes after a 101
        self.eof = False  # the server half-closed its side of the tunnel
        self.shut = False  # the client's half-close was passed on to the server
        self.reused = False  # it served an earlier request (taken from the idle set)
        self.uses = 0  # requests sent on it
        self.pooled = False  # in its server's pool, for other sessions (weir.net.pool)
        self.private = False  # never for other sessions (an NTLM-style authentication)
        self.squeeze: BodyCompressor | None = None  # the body being compressed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        be = self.client.backend if self.client is not None else None
        if be is not None and be.tcpka:
            set_keepalive(transport)

    def start_response(self, method: bytes) -> None:
        self.method = method
        self.squeeze = None
        self.framer = None
        self.started = False
        self.buf.clear()

    def park(self) -> None:
        """Idle in a session: nothing is expected; a close from the server just drops it."""
        self.framer = None
        self.started = False

    def data_received(self, data: bytes) -> None:
        client = self.client
        if client is None or client.srv_conn is not self:
            # Bytes on an idle connection: the server broke the protocol; drop it.
            self.close()
            return
        client.now = client.loop.time()
        if self.tunnel:
            client.write(data)
            client._touch_tunnel()
            return
        framer = self.framer
        if framer is not None:
            try:
                n = framer.feed(data)
            except H1Error:
                if self.srv.observer is not None:
                    self.srv.observer.bad_response()
                client.response_failed(self, 502, True, "SD")
                return
            body = data if n == len(data) else data[:n]
            squeeze = self.squeeze
            client.write(body if squeeze is None else squeeze.feed(body, framer.done))
            be = client.backend
            if client.deadline_kind == "server" and be is not None:
                t = _server_timeout(client.stream, be)
                if t:
                    client.deadline = client.now + t
            if framer.done:
                self._done(n == len(data))
            return
        # Fast path: a head that arrives whole is parsed from `data` without a copy.
        buf = self.buf
        if buf:
            buf += data
            data = bytes(buf)
            buf.clear()
        try:
            found = parse_response_head(data, max_size=client.max_size, max_headers=client.max_hdr)
        except H1Error:
            if self.srv.observer is not None:
                self.srv.observer.bad_header()
            client.response_failed(self, 502, False, "PH")
            return
        if found is None:
            buf += data
            return
        head, used = found
        rest = data[used:]
        if 100 <= head.status < 200:
            if head.status == 101:
                req = client.req
                if req is None or not req.upgrade or client.req_framer is not None:
                    # A switch nobody asked for: the server broke the protocol.
                    client.response_failed(self, 502, False, "PH")
                    return
                self.tunnel = True
                self.started = True
                client.start_tunnel(self, head, rest)
                return
            client.write(head.raw)  # interim response: forward and read the final one
            if rest:
                self.data_received(rest)
            return
        self.started = True
        if head.status == 401:
            auth = head.header(b"www-authenticate")
            if auth is not None and auth.split(b" ", 1)[0].lower() in (b"ntlm", b"negotiate"):
                self.private = True  # the connection is the client's authentication
        has_body = head.has_body(self.method)
        close_delimited = has_body and head.content_length is None and not head.chunked
        self.keep_alive = head.keep_alive and not close_delimited
        out = client.response_head(head, close_delimited)
        if out is None:  # refused by an http-response rule
            if client.state != _CLOSING:  # (unless it ended the exchange without a word)
                client.response_failed(self, 502, False, "PH")
            return
        if not has_body:
            client.write(out)
            self._done(not rest)
            return
        algo, req = client.comp, client.req
        squeeze = None
        if algo is not None and req is not None and wanted(req, head, client.comp_types):
            out = compressed_head(out, algo, head.chunked)
            be = client.backend
            counters = [client.fe.counters] if be is None else [client.fe.counters, be.counters]
            squeeze = self.squeeze = BodyCompressor(algo, head.chunked, counters)
        cl = head.content_length
        if cl is not None and not head.chunked and len(rest) >= cl:
            # Fast path: the whole Content-Length body came with the head. One write, and
            # no framer object for a body that is already complete.
            body = rest if len(rest) == cl else rest[:cl]
            client.write(out + (body if squeeze is None else squeeze.feed(body, True)))
            self._done(len(rest) == cl)
            return
        framer = body_framer(cl, head.chunked, close_delimited, response=True)
        n = 0
        if rest:
            try:
                n = framer.feed(rest)
            except H1Error:
                client.response_failed(self, 502, False, "PH")
                return
            # Head and the body bytes that came with it leave in one write (one syscall).
            body = rest if n == len(rest) else rest[:n]
            out += body if squeeze is None else squeeze.feed(body, framer.done)
        client.write(out)
        if framer.done:
            self._done(n == len(rest))
        else:
            self.framer = framer

    def _done(self, clean: bool) -> None:
        self.framer = None
        client = self.client
        if client is not None:
            client.response_done(self, self.keep_alive and clean)

    def eof_received(self) -> bool | None:
        client = self.client
        if self.tunnel and client is not None and client.transport is not None:
            self.eof = True
            client.transport.write_eof()  # the server is done sending; the client may not be
            client._tunnel_half_closed()
            return True
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.transport = None
        if self.pooled:
            pool.remove(self)
        client = self.client
        if client is None:
            return
        client.now = client.loop.time()
        if client.srv_conn is not self:
            # An idle connection the server closed: forget it.
            for srv, conn in list(client.idle.items()):
                if conn is self:
                    del client.idle[srv]
            return
        if self.tunnel:
            # The server ended the tunnel: that is how a tunnel ends, not an error.
            client.srv_conn = None
            client._end_stream("--", 0)
            client._close()
            return
        framer = self.framer
        if framer is not None and framer.until_close:
            framer.done = True
            self.keep_alive = False
            self._done(False)
            return
        if not self.started and self.reused and client.replay_request(self):
            return  # a keep-alive race with the server: the request goes out again
        obs = self.srv.observer
        if obs is not None:
            if self.started:
                obs.bad_response()
            elif exc is not None:
                obs.read_error()
            else:
                obs.broken_pipe()
        client.response_failed(self, 502, self.started, "SD" if self.started else "SH")

    def close(self) -> None:
        if self.pooled:
            pool.remove(self)
        self.client = None
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.close()
        self.closed = True

    def pause_writing(self) -> None:
        c = self.client
        if c is not None and c.transport is not None:
            c.transport.pause_reading()

    def resume_writing(self) -> None:
        c = self.client
        if c is not None and c.transport is not None:
            c.transport.resume_reading()
