"""Sticking rules: persistence through a stick table.

    backend app
        stick-table type string len 32 size 1m expire 30m
        stick store-response res.cook(SID)
        stick match req.cook(SID)

`stick match EXPR` sends a request whose key was stored to the server stored with it;
`stick store-request EXPR` stores the key of a request with the server it went to;
`stick on EXPR` does both; `stick store-response EXPR` stores a key found in the server's
response (an application's session cookie, say) with that server, so that the client
presenting it later keeps its server: the "learn" recipe above. Each rule may name
another proxy's table (`table NAME`) and carry a condition.

An entry keeps the server twice, as HAProxy does: `server_id` (the server's `id`) and
`server_key`, its name (or its `IP:port` with the table's `srvkey addr`). A match looks the
server up by `server_key` first, then by id, so an entry keeps leading to the same server
across a reload that renumbers servers, or from another backend that shares the table
and has a server of that name. The stored server is used while it is up or draining (or
always with `force-persist`); otherwise the request is balanced and stored again.

Only the first store rule of each table applies to a request (the first whose condition
holds and whose key can be fetched), and likewise the first store-response rule of each
table to a response: rules can be listed from the most to the least precise key.
Requests' keys are stored when the server is chosen, responses' keys when the response
head arrives, before the http-response rules run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from weir.backend.server import SrvState
from weir.config.parser import Ctx
from weir.config.registry import Args, keyword
from weir.persist.table import TABLES
from weir.sample.core import SampleError
from weir.stream import Stream

# A stored server keeps requests while it is up or draining (HAProxy: not stopped).
_KEEP_STATES = (SrvState.UP, SrvState.DRAIN)


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


@dataclass(slots=True)
class StickRule:
    where: Any
    kind: str  # "on", "match", "store-request" or "store-response"
    expr: str
    table: str | None
    cond: Any  # CondDef | None


def _stick(kind: str) -> Callable[[Ctx, Args], None]:
    def handler(ctx: Ctx, args: Args) -> None:
        from weir.config.model import CondDef, Mode
        from weir.sample.core import L4_CONTENT, REQ, RES, compile_expr

        words = list(args)
        cut = next((i for i, w in enumerate(words) if w in ("if", "unless")), len(words))
        head, tail = words[:cut], words[cut:]
        table = None
        if len(head) == 3 and head[1] == "table":
            table = head[2]
        elif len(head) != 1:
            ctx.error("expects a sample expression, optionally followed by 'table <name>'")
            return
        http = ctx.px.mode is Mode.HTTP
        if kind == "store-response" and not http:
            ctx.error("'stick store-response' is supported in 'mode http' only by weir")
            return
        place = (RES if kind == "store-response" else REQ) if http else L4_CONTENT
        try:
            compile_expr(head[0], place)
        except SampleError as e:
            ctx.error(str(e))
            return
        cond = None
        if tail:
            if len(tail) < 2:
                ctx.error(f"missing condition after '{tail[0]}'")
                return
            cond = CondDef(ctx.where, tail[0] == "unless", tail[1:])
        ctx.px.stick_rules.append(StickRule(ctx.where, kind, head[0], table, cond))

    return handler


for _kind, _doc in (
    ("on", "Stick clients to the server their key was stored with (match and store)."),
    ("match", "Send a client to the server its key was stored with."),
    ("store-request", "Remember the server chosen for this request's key."),
    ("store-response", "Remember the server that answered with this key in its response."),
):
    keyword(
        f"stick {_kind}",
        "bl",
        "<expr> [table <name>] [{if | unless} <condition>]",
        _doc,
    )(_stick(_kind))


def server_key(srv: Any, srvkey: str) -> str:
    """How a table identifies `srv`: its name, or `IP:port` with `srvkey addr`."""
    return f"{srv.host}:{srv.port}" if srvkey == "addr" else srv.name


class Sticker:
    """A backend's sticking rules at run time: `match` finds the server a key was stored
    with, `store` and `store_response` record the server of a request's or a response's
    key.

    `force` is the backend's `force-persist` condition (None without one). `index` maps
    server keys and ids to the backend's servers; it is built on first use and dropped
    (set to None) when the servers change."""

    __slots__ = ("force", "index", "matches", "responses", "stores")

    def __init__(
        self, rules: list[Any], acls: dict[str, list[Any]], default_table: str, http: bool
    ) -> None:
        from weir.sample.acl import compile_cond
        from weir.sample.core import L4_CONTENT, REQ, RES, compile_expr

        self.matches: list[tuple[Any, Any, str]] = []
        self.stores: list[tuple[Any, Any, str]] = []
        self.responses: list[tuple[Any, Any, str]] = []
        self.force: Callable[[Stream], bool] | None = None
        self.index: dict[Any, Any] | None = None
        for r in rules:
            pred = None if r.cond is None else compile_cond(r.cond.words, r.cond.unless, acls)
            if r.kind == "store-response":
                self.responses.append((pred, compile_expr(r.expr, RES).get, r.table))
                continue
            place = REQ if http else L4_CONTENT
            item = (pred, compile_expr(r.expr, place).get, r.table or default_table)
            if r.kind in ("on", "match"):
                self.matches.append(item)
            if r.kind in ("on", "store-request"):
                self.stores.append(item)
        self.responses = [(pred, get, name or default_table) for pred, get, name in self.responses]

    def _servers(self, servers: list[Any]) -> dict[Any, Any]:
        index = self.index
        if index is None:
            index = {}
            for srv in reversed(servers):  # the first server of a name or id wins
                index[("id", srv.puid)] = srv
                index[("name", srv.name)] = srv
                index[("addr", f"{srv.host}:{srv.port}")] = srv
            self.index = index
        return index

    def match(self, s: Stream, servers: list[Any]) -> Any:
        """The server a key of this stream was stored with, when it may take the request
        (up or draining, or `force-persist`), or None."""
        now = _now_ms()
        found = None
        for pred, get, name in self.matches:
            if pred is not None and not pred(s):
                continue
            t = TABLES.get(name)
            value = get(s)
            if t is None or value is None:
                continue
            key = t.key_of(value)
            e = t.lookup(key, now) if key is not None else None
            if e is None:
                continue
            t.touch(e, now)
            if found is not None:
                continue
            index = self._servers(servers)
            data = e.data
            skey = data.get("server_key")
            srv = index.get((t.conf.srvkey, skey)) if skey else None
            if srv is None and data.get("server_id"):
                srv = index.get(("id", data["server_id"]))
            if srv is not None and (
                srv.state in _KEEP_STATES or (self.force is not None and self.force(s))
            ):
                found = srv
        return found

    def store(self, s: Stream, srv: Any) -> None:
        """`stick on` / `store-request`: the request's keys now lead to `srv`."""
        self._store(self.stores, s, srv)

    def store_response(self, s: Stream, srv: Any) -> None:
        """`stick store-response`: the response's keys now lead to `srv`."""
        self._store(self.responses, s, srv)

    @staticmethod
    def _store(rules: list[tuple[Any, Any, str]], s: Stream, srv: Any) -> None:
        now = _now_ms()
        done: set[str] = set()
        for pred, get, name in rules:
            if name in done or (pred is not None and not pred(s)):
                continue
            t = TABLES.get(name)
            value = get(s)
            key = t.key_of(value) if t is not None and value is not None else None
            if t is None or key is None:
                continue
            done.add(name)
            e = t.get(key, now)
            if e is None:
                continue
            data = e.data
            if "server_id" in data:
                data["server_id"] = srv.puid
            if "server_key" in data:
                data["server_key"] = server_key(srv, t.conf.srvkey)
