"""Fetches of the proxies' live state: usable servers, connections and queues, for
conditions such as `monitor fail if { nbsrv(app) lt 1 }` or
`use_backend spare if { be_conn(app) gt 100 }`.

The runtime's backends are registered by name when it is built (`install`); a fetch
names its backend (default: the stream's) and finds it at run time, so a backend that is
defined later in the file than the rule is found too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.backend.server import SrvState
from weir.sample.core import BOOL, INT, L4, SampleError, fetch
from weir.stream import Stream

BACKENDS: dict[str, Any] = {}  # name -> weir.proxy.runtime.Backend


def install(backends: dict[str, Any]) -> None:
    BACKENDS.clear()
    BACKENDS.update(backends)


def _backend_getter(args: list[str]) -> Callable[[Stream], Any]:
    if args and args[0]:
        name = args[0]
        return lambda s: BACKENDS.get(name)
    return lambda s: s.backend


def _per_backend(name: str, doc: str, value: Callable[[Any], int]) -> None:
    def compile_(args: list[str]) -> Callable[[Stream], int | None]:
        be_of = _backend_getter(args)

        def get(s: Stream) -> int | None:
            be = be_of(s)
            return None if be is None else value(be)

        return get

    fetch(name, INT, args=(0, 1), needs=L4, doc=doc)(compile_)


_per_backend(
    "nbsrv", "usable servers of the backend", lambda be: sum(1 for s in be.servers if s.usable)
)
_per_backend("be_conn", "current connections of the backend", lambda be: be.counters.cur_sess)
_per_backend("queue", "requests waiting in the backend's queue", lambda be: len(be.queue))
_per_backend(
    "connslots",
    "free connection and queue slots of the backend's usable servers",
    lambda be: sum(
        (s.maxconn - s.cur_sess) if s.maxconn else 1 << 31 for s in be.servers if s.usable
    ),
)
_per_backend(
    "avg_queue",
    "queued requests per usable server",
    lambda be: len(be.queue) // max(1, sum(1 for s in be.servers if s.usable)),
)


@fetch("srv_is_up", BOOL, args=(1, 1), needs=L4, doc="whether BACKEND/SERVER is up")
def _srv_is_up(args: list[str]) -> Callable[[Stream], bool | None]:
    be_name, slash, srv_name = args[0].partition("/")
    if not slash:
        raise SampleError("'srv_is_up' expects <backend>/<server>")

    def get(s: Stream) -> bool | None:
        be = BACKENDS.get(be_name)
        if be is None:
            return None
        srv = next((x for x in be.servers if x.name == srv_name), None)
        return None if srv is None else srv.state in (SrvState.UP, SrvState.DRAIN)

    return get
