"""The Stream: one request/response exchange (L7) or one session (L4).

It carries what rules, sample fetches, persistence and the log line read: addresses, the
proxies and server chosen, the parsed request, timestamps, byte counts, the status and the
termination state. Sample fetches and log formats read from a Stream and from nothing
else, so that the sample language and the log formats stay independent of sockets.

Timestamps are the event loop's monotonic clock (`loop.time()`, seconds); `accept_date`
is the wall clock at accept, for the log line's date. A timestamp of 0.0 means "did not
happen" (HAProxy logs -1 for those durations).
"""

from __future__ import annotations

import itertools
from typing import Any, Final

from weir.proto.h1 import RequestHead, ResponseHead

# HAProxy's request counter (%rt): every stream takes the next number, from 0.
_UNIQ: Final = itertools.count()


class Stream:
    __slots__ = (
        "accept_date",
        "backend",
        "bytes_in",
        "bytes_out",
        "client_ip",
        "client_port",
        "cookie_cli",
        "cookie_srv",
        "drop",
        "frontend",
        "frontend_addr",
        "log_level",
        "logged",
        "payload",
        "persist",
        "proxy_expected",
        "queue_be",
        "queue_srv",
        "req",
        "req_body",
        "req_cap",
        "res",
        "res_cap",
        "res_payload",
        "res_status",
        "retries",
        "server",
        "sess_vars",
        "ssl",
        "t_accept",
        "t_close",
        "t_connect",
        "t_head",
        "t_queue",
        "t_request",
        "t_response",
        "termination",
        "timeouts",
        "track",
        "uniq_id",
        "unique_id",
        "vars",
    )

    def __init__(self, client_ip: str, client_port: int, frontend: Any) -> None:
        self.client_ip = client_ip
        self.client_port = client_port
        self.frontend = frontend  # weir.proxy.runtime.Frontend
        self.backend: Any = None  # weir.proxy.runtime.Backend, once routed
        self.server: Any = None  # weir.backend.server.Server, once chosen
        self.req: RequestHead | None = None  # in mode http
        self.accept_date = 0.0  # time.time() when the client connection was accepted
        self.t_accept = 0.0  # loop.time() at accept (L4) or when this request began (L7)
        self.t_request = 0.0  # first byte of this request received
        self.t_head = 0.0  # whole request head received
        self.t_queue = 0.0  # left the queue (a server slot was granted)
        self.t_connect = 0.0  # server connection ready (established or reused)
        self.t_response = 0.0  # whole response head received
        self.t_close = 0.0  # stream ended (last byte sent, or error)
        self.res_status = 0  # HTTP status sent to the client (0 in L4, -1 if none)
        self.bytes_in = 0  # bytes received from the client for this stream
        self.bytes_out = 0  # bytes sent to the client for this stream
        self.retries = 0
        self.queue_srv = 0  # position in the server queue when queued
        self.queue_be = 0  # position in the backend queue when queued
        # Termination state, HAProxy's 4 characters: who/what ended the stream, in which
        # phase, and the persistence cookie's status on the way in and out.
        self.termination = "----"
        self.cookie_cli = "-"  # request cookie captured for the log (%CC)
        self.cookie_srv = "-"  # response cookie captured for the log (%CS)
        self.drop = False  # `silent-drop`: the connection ends without the client knowing
        # `http-request set-timeout server|tunnel`: this stream's own values, in seconds.
        self.timeouts: dict[str, float] | None = None
        # What cookie persistence learnt of the request (weir.persist.cookie.Seen: whether
        # the cookie chose the server, its dates), False when the backend has no cookie.
        self.persist: Any = False
        # `option http-buffer-request`: the request body (dechunked, at most tune.bufsize
        # bytes) once it arrived, and its whole size when known; None without the option.
        self.req_body: tuple[bytes, int | None] | None = None
        # `tcp-response content` inspection: the server's first bytes (res.len, res.payload).
        self.res_payload: bytes | None = None
        # Added for weir.log: the request counter (%rt); the unique id once generated
        # (%ID, unique-id-header); captured header values (`capture request/response
        # header`, in declaration order, None where absent; the list itself is None until
        # captured); the frontend's local address (%fi/%fp; None: not recorded); set once
        # the stream was logged early (option logasap).
        self.uniq_id = next(_UNIQ)
        self.unique_id: str | None = None
        self.req_cap: list[str | None] | None = None
        self.res_cap: list[str | None] | None = None
        self.frontend_addr: tuple[str, int] | None = None
        self.logged = False
        # The sample language's view (weir.sample): the response head once received
        # (weir.proto.h1.ResponseHead); transaction variables (`txn.`/`req.`/`res.`
        # scopes, name -> value, None until one is set) and the connection's (`sess.`,
        # shared by the streams of one client connection); the TLS facts of the client
        # connection (weir.tls, None without TLS); the bytes inspected so far in TCP
        # content rules; and the level `set-log-level` chose (None: the proxy's).
        self.res: ResponseHead | None = None
        self.vars: dict[str, Any] | None = None
        self.sess_vars: dict[str, Any] | None = None
        self.ssl: Any = None
        self.payload: bytes | None = None
        self.log_level: int | None = None
        # Stick-table entries this stream tracks (`track-sc0/1/2`): [table, entry] by
        # index, None until something is tracked (weir.persist.stick).
        self.track: list[Any] | None = None
        # `tcp-request connection expect-proxy layer4` held: a PROXY header comes first.
        self.proxy_expected = False
