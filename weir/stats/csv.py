"""The CSV report (`<uri>;csv`), field for field HAProxy 2.6's.

The first line is `# ` and the field names, each followed by a comma; every other line is
one row, each value followed by a comma. A `-` column closes the fixed fields (HAProxy
puts the optional modules' fields after it; weir has none). A text value is quoted only
when it holds a comma, a double quote or a line break, with inner quotes doubled.
"""

from __future__ import annotations

from collections.abc import Iterable

from weir.stats.fields import NAMES, ProxyStats, Row, Value

HEADER = "# " + "".join(f"{name}," for name in NAMES) + "-,\n"

_SPECIAL = frozenset(',"\r\n')


def _cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return str(value)
    if _SPECIAL.isdisjoint(value):
        return value
    return '"' + value.replace('"', '""') + '"'


def csv_line(row: Row) -> str:
    get = row.get
    return "".join(_cell(get(name)) + "," for name in NAMES) + "-,\n"


def render_csv(proxies: Iterable[ProxyStats]) -> str:
    """The whole CSV document: header, then per proxy its frontend, servers, backend."""
    out = [HEADER]
    for ps in proxies:
        if ps.frontend is not None:
            out.append(csv_line(ps.frontend))
        out.extend(csv_line(row) for row in ps.servers)
        if ps.backend is not None:
            out.append(csv_line(ps.backend))
    return "".join(out)
