"""Variables: `set-var(txn.name)` in rules and the `set-var` converter write them, `var()`
reads them. Names carry their scope, as in HAProxy:

    proc.NAME   the whole process
    sess.NAME   the client connection (every request on it)
    txn.NAME    the transaction (request and response)
    req.NAME    the request only, res.NAME the response only (kept with txn here)

A name is the scope, a dot, and letters, digits, `_` and `.`.
"""

from __future__ import annotations

import re
from typing import Any

from weir.sample.core import SampleError
from weir.stream import Stream

_NAME = re.compile(r"(proc|sess|txn|req|res)\.[A-Za-z0-9_.]+\Z")
PROC: dict[str, Any] = {}


def check_var_name(name: str) -> str:
    """The name, checked; SampleError names the problem."""
    if not _NAME.match(name):
        raise SampleError(
            f"invalid variable name '{name}': expects proc., sess., txn., req. or res. "
            "followed by letters, digits, '_' or '.'"
        )
    return name


def _table(stream: Stream, name: str, create: bool) -> dict[str, Any] | None:
    scope = name[: name.index(".")]
    if scope == "proc":
        return PROC
    if scope == "sess":
        if stream.sess_vars is None and create:
            stream.sess_vars = {}
        return stream.sess_vars
    if stream.vars is None and create:
        stream.vars = {}
    return stream.vars


def set_var(stream: Stream, name: str, value: Any) -> None:
    table = _table(stream, name, True)
    assert table is not None
    table[name] = value


def unset_var(stream: Stream, name: str) -> None:
    table = _table(stream, name, False)
    if table is not None:
        table.pop(name, None)


def get_var(stream: Stream, name: str) -> Any:
    table = _table(stream, name, False)
    return None if table is None else table.get(name)
