"""Stick tables on the runtime API: `show table`, `clear table`, `set table`, in HAProxy's
output format (the entry's address, its key, how many streams use it, the milliseconds
before it expires, then its data in HAProxy's data-type order)."""

from __future__ import annotations

import operator
from collections.abc import Callable

from weir.api.commands import Request, command
from weir.api.conf import Level
from weir.persist.stick import now_ms
from weir.persist.table import TABLES, Entry, FreqCounter, Table

# HAProxy's data-type order (the order `show table` prints them in).
_ORDER = (
    "server_id", "gpt0", "gpc0", "gpc0_rate", "conn_cnt", "conn_rate", "conn_cur",
    "sess_cnt", "sess_rate", "http_req_cnt", "http_req_rate", "http_err_cnt",
    "http_err_rate", "bytes_in_cnt", "bytes_in_rate", "bytes_out_cnt", "bytes_out_rate",
    "gpc1", "gpc1_rate", "server_key", "http_fail_cnt", "http_fail_rate",
)  # fmt: skip
_OPS: dict[str, Callable[[int, int], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _head(t: Table) -> str:
    c = t.conf
    return f"# table: {t.name}, type: {c.key_type}, size:{c.size}, used:{len(t.entries)}\n"


def _line(t: Table, e: Entry, now: int) -> str:
    exp = max(0, e.expire - now) if t.conf.expire_ms else 0
    parts = [f"0x{id(e):x}: key={t.key_text(e.key)} use={e.ref} exp={exp}"]
    for name in _ORDER:
        v = e.data.get(name)
        if v is None:
            continue
        if isinstance(v, FreqCounter):
            parts.append(f"{name}({v.period})={v.rate(now)}")
        elif name == "server_key":  # a server's name or address, "-" before one is stored
            parts.append(f"{name}={v or '-'}")
        else:
            parts.append(f"{name}={v}")
    return " ".join(parts) + "\n"


@command(
    "show table",
    "show table <table> [data.<type> <op> <v>]* | [key <key>]",
    "report table usage stats or dump this table's contents",
    Level.OPERATOR,
)
def _show_table(req: Request, args: list[str]) -> str:
    now = now_ms()
    if len(args) < 3:
        return "".join(_head(t) for t in TABLES.values())
    t = TABLES.get(args[2])
    if t is None:
        return "Data fetch error : unknown table name.\n"
    t.purge(now)
    rest = args[3:]
    entries = list(t.entries.values())
    if rest[:1] == ["key"] and len(rest) == 2:
        key = t.key_of(rest[1].encode())
        entries = [e for e in entries if e.key == key]
    elif rest:
        if len(rest) != 3 or not rest[0].startswith("data.") or rest[1] not in _OPS:
            return 'Optional argument only supports "data.<store_data_type>" <operator> <value>\n'
        name, op = rest[0][5:], _OPS[rest[1]]
        try:
            ref = int(rest[2])
        except ValueError:
            return "Require a valid integer value to compare against\n"
        if name not in t.conf.store:
            return "Data type not stored in this table\n"
        entries = [e for e in entries if op(Table.value(e, name, now) or 0, ref)]
    return _head(t) + "".join(_line(t, e, now) for e in entries)


@command(
    "clear table",
    "clear table <table> [data.<type> <op> <v>]* | [key <key>]",
    "remove entries from a table (all unless filtered)",
    Level.OPERATOR,
)
def _clear_table(req: Request, args: list[str]) -> str:
    if len(args) < 3:
        return "Required table name.\n"
    t = TABLES.get(args[2])
    if t is None:
        return "Data fetch error : unknown table name.\n"
    rest = args[3:]
    if rest[:1] == ["key"] and len(rest) == 2:
        key = t.key_of(rest[1].encode())
        e = t.entries.get(key)
        if e is not None and e.ref == 0:
            del t.entries[key]
        return ""
    for key in [k for k, e in t.entries.items() if e.ref == 0]:
        del t.entries[key]
    return ""


@command(
    "set table",
    "set table <table> key <key> [data.<type> <value>]*",
    "update or create a table entry's data",
    Level.ADMIN,
)
def _set_table(req: Request, args: list[str]) -> str:
    if len(args) < 5 or args[3] != "key":
        return "Required table name.\n" if len(args) < 3 else "Required key.\n"
    t = TABLES.get(args[2])
    if t is None:
        return "Data fetch error : unknown table name.\n"
    key = t.key_of(args[4].encode())
    if key is None:
        return "Unable to parse the key.\n"
    now = now_ms()
    e = t.get(key, now)
    if e is None:
        return "Unable to allocate a new entry\n"
    words = args[5:]
    for i in range(0, len(words) - 1, 2):
        name = words[i][5:] if words[i].startswith("data.") else ""
        if name not in e.data:
            return f"Data type '{words[i]}' not stored in this table\n"
        try:
            value = int(words[i + 1])
        except ValueError:
            return "Require a valid integer value to store\n"
        slot = e.data[name]
        if isinstance(slot, FreqCounter):
            slot.curr, slot.prev, slot.tick = value, 0, now
        else:
            e.data[name] = value
    return ""
