"""Stick tables in the configuration and on the data path: `stick-table`, the
`track-sc0/1/2` actions, the `sc_*`/`src_*` fetches, and the end-of-stream accounting.

    frontend www
        bind :80
        stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur
        http-request track-sc0 src
        http-request deny deny_status 429 if { sc_http_req_rate(0) gt 100 }

A tracked entry counts, for the stream that tracks it: the connection (`conn_cnt`,
`conn_rate`, `sess_cnt`, `sess_rate`) when tracked from `tcp-request`, the request
(`http_req_cnt`, `http_req_rate`) when tracked from `http-request`, one more current
connection (`conn_cur`) until the stream ends; at the end, a 4xx response counts as an
HTTP error (`http_err_*`), a 5xx as a server failure (`http_fail_*`), and the bytes
(`bytes_in_*`, `bytes_out_*`) are added.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from weir.config.parser import Ctx
from weir.config.registry import Args, keyword
from weir.config.units import parse_size, parse_time
from weir.persist.table import (
    COUNTERS,
    KEY_TYPES,
    RATES,
    TABLES,
    Entry,
    Table,
    TableConf,
)
from weir.sample.core import BOOL, INT, L4, SampleError, fetch
from weir.stream import Stream

MAX_TRACK = 3


def now_ms() -> int:
    return int(time.monotonic() * 1000)


# ---- the stick-table keyword -------------------------------------------------------------


@keyword(
    "stick-table",
    "fbl",
    "type {ip|ipv6|integer|string [len N]|binary [len N]} size N [expire T] [nopurge] "
    "[srvkey name|addr] "
    "[peers <section>] [store <data>[,<data>]*]",
    "This proxy's stick table: keys, counters and rates for tracking and persistence.",
)
def _stick_table(ctx: Ctx, args: Args) -> None:
    words = list(args)
    key_type, key_len, size, expire, nopurge, peers = "", 32, 0, 0, False, ""
    store: dict[str, int] = {}
    srvkey = "name"
    i = 0
    while i < len(words):
        w = words[i]
        val = words[i + 1] if i + 1 < len(words) else None
        if w == "srvkey":
            if val not in ("name", "addr"):
                ctx.error(f"unknown server key type '{val or ''}' (expects name or addr)")
                return
            srvkey = val
            i += 2
            continue
        if w == "type" and val in KEY_TYPES:
            key_type = val
            i += 2
            continue
        if w == "len" and val is not None and val.isdigit():
            key_len = int(val)
        elif w == "size" and val is not None:
            try:
                size = parse_size(val)
            except ValueError as e:
                ctx.error(str(e))
                return
        elif w == "expire" and val is not None:
            try:
                expire = parse_time(val)
            except ValueError as e:
                ctx.error(str(e))
                return
        elif w == "nopurge":
            nopurge = True
            i += 1
            continue
        elif w == "store" and val is not None:
            for item in val.split(","):
                problem = _store_item(item, store)
                if problem:
                    ctx.error(problem)
                    return
        elif w == "peers" and val is not None:
            peers = val
        else:
            ctx.error(f"unexpected '{w}' (expects type, len, size, expire, nopurge, peers, store)")
            return
        i += 2
    if not key_type:
        ctx.error("expects 'type ip|ipv6|integer|string|binary'")
        return
    if key_type == "string" and "len" not in words:
        key_len = 31  # HAProxy's 32 bytes hold 31 characters and the terminating NUL
    if size <= 0:
        ctx.error("expects a 'size'")
        return
    if ctx.px.stick_table is not None:
        ctx.error("only one stick-table per proxy")
        return
    ctx.px.stick_table = TableConf(
        ctx.px.name, key_type, key_len, size, expire, store, nopurge, peers=peers
    )
    ctx.px.stick_table.srvkey = srvkey


def _store_item(item: str, store: dict[str, int]) -> str | None:
    name, paren, arg = item.strip().partition("(")
    if name in ("server_key", "server_name"):  # the server's name or address
        store["server_key"] = 0
        return None
    if name in COUNTERS:
        if paren:
            return f"'{name}' takes no period"
        store[name] = 0
        return None
    if name in RATES:
        if not paren or not arg.endswith(")"):
            return f"'{name}' expects a period, as in {name}(10s)"
        try:
            store[name] = parse_time(arg[:-1])
        except ValueError as e:
            return str(e)
        return None
    return f"unknown or unsupported stick-table data type '{name}'"


def build_tables(proxies: list[Any]) -> dict[str, Table]:
    # Tables that stick rules use keep the server of each key (`server_id`, and its name or
    # address as `server_key`) implicitly.
    used = {r.table or px.name for px in proxies for r in px.stick_rules}
    for px in proxies:
        if px.stick_table is not None and px.name in used:
            px.stick_table.store.setdefault("server_id", 0)
            px.stick_table.store.setdefault("server_key", 0)
    tables = {px.name: Table(px.stick_table) for px in proxies if px.stick_table is not None}
    from weir.persist import table

    table.install(tables)
    return tables


# ---- tracking -------------------------------------------------------------------------------


def compile_track(
    ctx: Ctx, index: int, words: list[str], where: int
) -> Callable[[Stream], None] | None:
    """`track-scN <expr> [table <name>]` as an effect on the stream; `where` is the sample
    place (connection, content or request) the rule runs at."""
    from weir.sample.core import compile_expr

    if not words:
        ctx.error("expects a sample expression (such as 'src')")
        return None
    table_name = ctx.px.name
    if len(words) == 3 and words[1] == "table":
        table_name = words[2]
    elif len(words) != 1:
        ctx.error("expects a sample expression, optionally followed by 'table <name>'")
        return None
    try:
        get = compile_expr(words[0], where).get
    except SampleError as e:
        ctx.error(str(e))
        return None
    request = where >= 2  # tracked per HTTP request, not per connection
    counts = ("http_req_cnt",) if request else ("conn_cnt", "sess_cnt")

    def track(s: Stream) -> None:
        tracked = s.track
        if tracked is None:
            tracked = s.track = [None] * MAX_TRACK
        elif tracked[index] is not None:
            return  # a counter already tracks something for this stream
        t = TABLES.get(table_name)
        value = get(s)
        if t is None or value is None:
            return
        key = t.key_of(value)
        if key is None:
            return
        now = now_ms()
        e = t.get(key, now)
        if e is None:
            return
        e.ref += 1
        tracked[index] = (t, e)
        if "conn_cur" in e.data:
            e.data["conn_cur"] += 1
        for name in counts:
            Table.add(e, name, now)

    return track


def stream_ended(s: Stream) -> None:
    """Release what the stream tracked, counting its outcome and its bytes."""
    tracked = s.track
    if tracked is None:
        return
    now = now_ms()
    status = s.res_status
    for item in tracked:
        if item is None:
            continue
        t, e = item
        e.ref -= 1
        if not t.at_end:
            t.touch(e, now)
            continue
        if "conn_cur" in e.data and e.data["conn_cur"] > 0:
            e.data["conn_cur"] -= 1
        if 400 <= status < 500:
            Table.add(e, "http_err_cnt", now)
        elif status >= 500:
            Table.add(e, "http_fail_cnt", now)
        if s.bytes_in:
            Table.add(e, "bytes_in_cnt", now, s.bytes_in)
        if s.bytes_out:
            Table.add(e, "bytes_out_cnt", now, s.bytes_out)
        t.touch(e, now)
    s.track = None


# ---- fetches ---------------------------------------------------------------------------------

_READ = (
    "conn_cnt", "conn_cur", "conn_rate", "sess_cnt", "sess_rate", "http_req_cnt",
    "http_req_rate", "http_err_cnt", "http_err_rate", "http_fail_cnt", "http_fail_rate",
    "bytes_in_rate", "bytes_out_rate", "gpc0_rate", "gpc1_rate",
)  # fmt: skip
_READ_AS = {"get_gpc0": "gpc0", "get_gpc1": "gpc1", "get_gpt0": "gpt0", "kbytes_in": "bytes_in_cnt"}
_READ_AS["kbytes_out"] = "bytes_out_cnt"


def _entry_of_sc(index: int | None) -> Callable[[list[str]], Callable[[Stream], Entry | None]]:
    def compile_(args: list[str]) -> Callable[[Stream], Entry | None]:
        idx = index
        rest = args
        if idx is None:
            if not args or not args[0].isdigit() or int(args[0]) >= MAX_TRACK:
                raise SampleError("expects the tracking counter number (0 to 2)")
            idx, rest = int(args[0]), args[1:]
        if rest:
            raise SampleError("looking the key up in another table is not supported yet")
        i = idx

        def entry(s: Stream) -> Entry | None:
            tracked = s.track
            item = tracked[i] if tracked is not None else None
            return item[1] if item is not None else None

        return entry

    return compile_


def _entry_of_src(args: list[str], create: bool) -> Callable[[Stream], tuple[Table, Entry] | None]:
    name = args[0] if args else None

    def entry(s: Stream) -> tuple[Table, Entry] | None:
        t = TABLES.get(name if name is not None else s.frontend.name)
        if t is None and name is None and s.backend is not None:
            t = TABLES.get(s.backend.name)
        if t is None:
            return None
        key = t.key_of(s.client_ip.encode())
        if key is None:
            return None
        e = t.get(key, now_ms()) if create else t.lookup(key, now_ms())
        return None if e is None else (t, e)

    return entry


def _register_reads() -> None:
    names = {n: n for n in _READ} | _READ_AS
    for fname, data in names.items():
        kilo = fname.startswith("kbytes")

        def value(e: Entry | None, data: str = data, kilo: bool = kilo) -> int | None:
            if e is None:
                return None
            v = Table.value(e, data, now_ms())
            return None if v is None else (v // 1024 if kilo else v)

        for prefix, index in (("sc_", None), ("sc0_", 0), ("sc1_", 1), ("sc2_", 2)):

            def compile_sc(args: list[str], index: int | None = index, value: Any = value) -> Any:
                entry = _entry_of_sc(index)(args)
                return lambda s: value(entry(s))

            fetch(prefix + fname, INT, args=(0 if index is not None else 1, 2), needs=L4)(
                compile_sc
            )

        def compile_src(args: list[str], value: Any = value) -> Any:
            entry = _entry_of_src(args, create=False)
            return lambda s: value(item[1]) if (item := entry(s)) is not None else 0

        fetch("src_" + fname, INT, args=(0, 1), needs=L4)(compile_src)


_register_reads()


def _gpc_op(op: str, counter: str) -> None:
    def apply(t: Table, e: Entry) -> int:
        now = now_ms()
        if op == "inc":
            Table.add(e, counter, now)
        elif op == "clr":
            before = int(e.data.get(counter, 0))
            if counter in e.data:
                e.data[counter] = 0
            return before
        return int(e.data.get(counter, 0))

    for prefix, index in (("sc_", None), ("sc0_", 0), ("sc1_", 1), ("sc2_", 2)):

        def compile_sc(args: list[str], index: int | None = index) -> Any:
            idx = index
            rest = args
            if idx is None:
                if not args or not args[0].isdigit():
                    raise SampleError("expects the tracking counter number (0 to 2)")
                idx, rest = int(args[0]), args[1:]
            if rest:
                raise SampleError("looking the key up in another table is not supported yet")
            i = idx

            def get(s: Stream) -> int | None:
                item = s.track[i] if s.track is not None else None
                return None if item is None else apply(*item)

            return get

        fetch(f"{prefix}{op}_{counter}", INT, args=(0 if index is not None else 1, 2), needs=L4)(
            compile_sc
        )

    def compile_src(args: list[str]) -> Any:
        entry = _entry_of_src(args, create=True)
        return lambda s: apply(*item) if (item := entry(s)) is not None else None

    fetch(f"src_{op}_{counter}", INT, args=(0, 1), needs=L4)(compile_src)


for _op in ("inc", "clr"):
    for _counter in ("gpc0", "gpc1"):
        _gpc_op(_op, _counter)


def _tracked(index: int | None) -> Callable[[list[str]], Any]:
    def compile_(args: list[str]) -> Any:
        entry = _entry_of_sc(index)(args)
        return lambda s: entry(s) is not None

    return compile_


fetch("sc_tracked", BOOL, args=(1, 2), needs=L4)(_tracked(None))
for _i in range(MAX_TRACK):
    fetch(f"sc{_i}_tracked", BOOL, args=(0, 1), needs=L4)(_tracked(_i))


@fetch("table_cnt", INT, args=(0, 1), needs=L4, doc="entries in the table")
def _table_cnt(args: list[str]) -> Any:
    name = args[0] if args else None
    return lambda s: len(t.entries) if (t := TABLES.get(name or s.frontend.name)) else None


@fetch("table_avl", INT, args=(0, 1), needs=L4, doc="free entries in the table")
def _table_avl(args: list[str]) -> Any:
    name = args[0] if args else None
    return lambda s: (
        t.conf.size - len(t.entries) if (t := TABLES.get(name or s.frontend.name)) else None
    )
