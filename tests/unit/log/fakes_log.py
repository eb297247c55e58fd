"""Stand-ins for the runtime objects a log line reads, and fixed Streams built from them.

The formatters read only names and live counts (`counters.cur_sess`, `Server.cur_sess`),
and a `listen`'s own backend through `conf.cap` / `default_backend`; these fakes carry
exactly that, so a test states every value the line depends on.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field

from weir.config.model import Cap
from weir.proto.h1 import RequestHead
from weir.stream import Stream


@dataclass
class Counters:
    cur_sess: int = 0


@dataclass
class Conf:
    cap: Cap = Cap.FRONTEND


@dataclass
class Server:
    name: str
    cur_sess: int = 0
    host: str = "10.0.0.2"
    port: int = 8080


@dataclass
class Backend:
    name: str
    counters: Counters = field(default_factory=Counters)


@dataclass
class Frontend:
    name: str
    counters: Counters = field(default_factory=lambda: Counters(1))
    conf: Conf = field(default_factory=Conf)
    default_backend: Backend | None = None
    captures: object = None


def Req(method: bytes, target: bytes, version: bytes = b"HTTP/1.1") -> RequestHead:
    """A request head with this start line and no header (built directly, not parsed:
    a test may give a target the parser would refuse)."""
    line = b"%s %s %s" % (method, target, version)
    return RequestHead(
        method, target, version, line + b"\r\n\r\n", len(line), None, False, True, False,
        False, None,
    )  # fmt: skip


def utc(year: int, month: int, day: int, hh: int, mm: int, ss: int, ms: int = 0) -> float:
    """A wall-clock time (seconds since the epoch) given in UTC, with milliseconds."""
    # The half millisecond keeps float rounding from ever landing below the intended ms.
    return calendar.timegm((year, month, day, hh, mm, ss)) + (ms + 0.5) / 1000.0


T0 = 5000.0  # an arbitrary loop.time() at accept


def at(ms: float) -> float:
    """loop.time() `ms` milliseconds after T0 (a quarter ms later, so truncation is exact)."""
    return T0 + (ms + 0.25) / 1000.0


def stream(
    fe: Frontend,
    *,
    client: tuple[str, int] = ("127.0.0.1", 35462),
    accept_date: float,
    backend: Backend | None = None,
    server: Server | None = None,
    req: Req | None = None,
    request: float | None = None,
    head: float | None = None,
    queue: float | None = None,
    connect: float | None = None,
    response: float | None = None,
    close: float = 0.0,
    status: int = 200,
    bytes_in: int = 30,
    bytes_out: int = 77,
    termination: str = "----",
    retries: int = 0,
) -> Stream:
    """A Stream whose events happened at the given milliseconds after accept (None: never)."""
    s = Stream(client[0], client[1], fe)
    s.accept_date = accept_date
    s.t_accept = T0
    s.t_request = at(request) if request is not None else 0.0
    s.t_head = at(head) if head is not None else 0.0
    s.t_queue = at(queue) if queue is not None else 0.0
    s.t_connect = at(connect) if connect is not None else 0.0
    s.t_response = at(response) if response is not None else 0.0
    s.t_close = at(close)
    s.backend = backend
    s.server = server
    s.req = req
    s.res_status = status
    s.bytes_in = bytes_in
    s.bytes_out = bytes_out
    s.termination = termination
    s.retries = retries
    return s
