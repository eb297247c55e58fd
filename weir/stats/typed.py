"""The typed and JSON forms of stats and info (`show stat typed|json`, `show info
typed|json`, the page's `;typed` and `;json`), field for field HAProxy 2.6's.

Typed lines read `F.2.0.4.scur.1:MGP:u32:0`: the row kind (F frontend, B backend, S server,
L listener), proxy id, server id, field position, field name, process number, then three
tag letters, the value type and the value. The tags say where a figure comes from (origin:
M metric, S status, K key, C config, P product), what it is (nature: G gauge, L limit,
m min, M max, R rate, C counter, D duration, A age, T time, N name, O output, a average)
and its scope (P process, S service, s system, C cluster). JSON carries the same facts
with the letters spelt out. Empty fields are left out of both forms.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from weir.stats.fields import FIELDS, INDEX, ProxyStats, Row
from weir.stats.info import SHOWN, InfoValue

_ORIGIN = {"M": "Metric", "S": "Status", "K": "Key", "C": "Config", "P": "Product"}
_NATURE = {
    "G": "Gauge",
    "L": "Limit",
    "m": "Min",
    "M": "Max",
    "R": "Rate",
    "C": "Counter",
    "D": "Duration",
    "A": "Age",
    "T": "Time",
    "N": "Name",
    "O": "Output",
    "a": "Avg",
}
_SCOPE = {"P": "Process", "S": "Service", "s": "System", "C": "Cluster"}
_KIND = {0: ("F", "Frontend"), 1: ("B", "Backend"), 2: ("S", "Server"), 3: ("L", "Listener")}

# (tags, type) of every stats field, as HAProxy emits them.
_C64, _G32, _MAX, _RATE = ("MCP", "u64"), ("MGP", "u32"), ("MMP", "u32"), ("MRP", "u32")
_CFG, _AVG, _OUT = ("CGS", "u32"), ("MaP", "u32"), ("MOP", "str")
TAGS: dict[str, tuple[str, str]] = {
    "pxname": ("KNS", "str"),
    "svname": ("KNS", "str"),
    "qcur": _G32,
    "qmax": _MAX,
    "scur": _G32,
    "smax": _MAX,
    "slim": ("CLP", "u32"),
    "stot": _C64,
    "bin": _C64,
    "bout": _C64,
    "dreq": _C64,
    "dresp": _C64,
    "ereq": _C64,
    "econ": _C64,
    "eresp": _C64,
    "wretr": _C64,
    "wredis": _C64,
    "status": ("SGP", "str"),
    "weight": _AVG,
    "act": ("SGP", "u32"),
    "bck": ("SGP", "u32"),
    "chkfail": _C64,
    "chkdown": _C64,
    "lastchg": ("MAP", "u32"),
    "downtime": ("MCP", "u32"),
    "qlimit": _CFG,
    "pid": ("KGP", "u32"),
    "iid": ("KGS", "u32"),
    "sid": ("KGS", "u32"),
    "throttle": _AVG,
    "lbtot": _C64,
    "tracked": ("CNS", "str"),
    "type": ("CGS", "u32"),
    "rate": _RATE,
    "rate_lim": ("CLP", "u32"),
    "rate_max": _MAX,
    "check_status": _OUT,
    "check_code": ("MOP", "u32"),
    "check_duration": ("MDP", "u64"),
    "hrsp_1xx": _C64,
    "hrsp_2xx": _C64,
    "hrsp_3xx": _C64,
    "hrsp_4xx": _C64,
    "hrsp_5xx": _C64,
    "hrsp_other": _C64,
    "hanafail": _C64,
    "req_rate": _RATE,
    "req_rate_max": _MAX,
    "req_tot": _C64,
    "cli_abrt": _C64,
    "srv_abrt": _C64,
    "comp_in": _C64,
    "comp_out": _C64,
    "comp_byp": _C64,
    "comp_rsp": _C64,
    "lastsess": ("MAP", "s32"),
    "last_chk": _OUT,
    "last_agt": _OUT,
    "qtime": _AVG,
    "ctime": _AVG,
    "rtime": _AVG,
    "ttime": _AVG,
    "agent_status": _OUT,
    "agent_code": ("MOP", "u32"),
    "agent_duration": ("MDP", "u64"),
    "check_desc": _OUT,
    "agent_desc": _OUT,
    "check_rise": _CFG,
    "check_fall": _CFG,
    "check_health": _CFG,
    "agent_rise": _CFG,
    "agent_fall": _CFG,
    "agent_health": _CFG,
    "addr": ("CGS", "str"),
    "cookie": ("CNS", "str"),
    "mode": ("CGS", "str"),
    "algo": ("CGS", "str"),
    "conn_rate": _RATE,
    "conn_rate_max": _MAX,
    "conn_tot": _C64,
    "intercepted": _C64,
    "dcon": _C64,
    "dses": _C64,
    "wrew": _C64,
    "connect": _C64,
    "reuse": _C64,
    "cache_lookups": _C64,
    "cache_hits": _C64,
    "srv_icur": _G32,
    "src_ilim": ("CLP", "u32"),
    "qtime_max": _MAX,
    "ctime_max": _MAX,
    "rtime_max": _MAX,
    "ttime_max": _MAX,
    "eint": _C64,
    "idle_conn_cur": _G32,
    "safe_conn_cur": _G32,
    "used_conn_cur": _G32,
    "need_conn_est": _G32,
    "uweight": _AVG,
    "agg_server_status": _G32,
    "agg_server_check_status": _G32,
    "agg_check_status": _G32,
}
assert set(TAGS) == set(INDEX), "every stats field has its tags"

# The few fields whose tags differ on a backend row.
_BACKEND_TAGS = {"rate": _G32, "rate_max": _G32, "act": _G32, "bck": _G32}


def _tags(name: str, kind: int) -> tuple[str, str]:
    if kind == 1:
        found = _BACKEND_TAGS.get(name)
        if found is not None:
            return found
    return TAGS[name]


def _rows(proxies: Iterable[ProxyStats]) -> Iterable[Row]:
    for ps in proxies:
        if ps.frontend is not None:
            yield ps.frontend
        yield from ps.servers
        if ps.backend is not None:
            yield ps.backend


def _int(row: Row, name: str) -> int:
    v = row.get(name)
    return v if isinstance(v, int) else 0


def render_typed(proxies: Iterable[ProxyStats], *, desc: bool = False) -> str:
    out: list[str] = []
    for row in _rows(proxies):
        kind = _int(row, "type")
        head = f"{_KIND[kind][0]}.{_int(row, 'iid')}.{_int(row, 'sid')}."
        pid = _int(row, "pid") or 1
        for pos, f in enumerate(FIELDS):
            value = row.get(f.name)
            if value is None:
                continue
            tags, typ = _tags(f.name, kind)
            line = f"{head}{pos}.{f.name}.{pid}:{tags}:{typ}:{value}"
            if desc:
                line += f':"{f.doc}"'
            out.append(line + "\n")
    return "".join(out)


def _json_tags(tags: str) -> str:
    return (
        f'"tags":{{"origin":"{_ORIGIN[tags[0]]}","nature":"{_NATURE[tags[1]]}",'
        f'"scope":"{_SCOPE[tags[2]]}"}}'
    )


def _json_value(typ: str, value: int | str) -> str:
    shown = json.dumps(value) if isinstance(value, str) else str(value)
    return f'"value":{{"type":"{typ}","value":{shown}}}'


def render_json(proxies: Iterable[ProxyStats]) -> str:
    """`show stat json`: one JSON array of rows, each an array of fields, and a newline."""
    rows: list[str] = []
    for row in _rows(proxies):
        kind = _int(row, "type")
        obj = _KIND[kind][1]
        iid, sid, pid = _int(row, "iid"), _int(row, "sid"), _int(row, "pid") or 1
        items: list[str] = []
        for pos, f in enumerate(FIELDS):
            value = row.get(f.name)
            if value is None:
                continue
            tags, typ = _tags(f.name, kind)
            items.append(
                f'{{"objType":"{obj}","proxyId":{iid},"id":{sid},'
                f'"field":{{"pos":{pos},"name":"{f.name}"}},"processNum":{pid},'
                f"{_json_tags(tags)},{_json_value(typ, value)}}}"
            )
        rows.append("[" + ",".join(items) + "]")
    return "[" + ",".join(rows) + "]\n"


# -- info ----------------------------------------------------------------------------------


def render_info(values: Mapping[str, InfoValue], *, desc: bool = False) -> str:
    out = []
    for f in SHOWN:
        line = f"{f.name}: {_text(values.get(f.name))}"
        if desc:
            line += f':"{f.doc}"'
        out.append(line + "\n")
    return "".join(out)


def render_info_typed(values: Mapping[str, InfoValue], *, desc: bool = False) -> str:
    out = []
    for f in SHOWN:
        line = f"{f.pos}.{f.name}.1:{f.tags}:{f.type}:{_text(values.get(f.name))}"
        if desc:
            line += f':"{f.doc}"'
        out.append(line + "\n")
    return "".join(out)


def render_info_json(values: Mapping[str, InfoValue]) -> str:
    items = []
    for f in SHOWN:
        value = values.get(f.name)
        shown: int | str = value if value is not None else (0 if f.type != "str" else "")
        items.append(
            f'{{"field":{{"pos":{f.pos},"name":"{f.name}"}},"processNum":1,'
            f"{_json_tags(f.tags)},{_json_value(f.type, shown)}}}"
        )
    return "[" + ",".join(items) + "]\n"


def _text(value: InfoValue) -> str:
    return "" if value is None else str(value)
