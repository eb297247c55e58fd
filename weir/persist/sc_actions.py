"""Rule actions on the general-purpose counters of tracked entries:

    http-request sc-inc-gpc0(0) if { path_beg /login }
    http-request sc-set-gpt0(1) 1 if abuser
    http-response sc-inc-gpc1(0) if { status 401 }

`sc-inc-gpc0(N)`/`sc-inc-gpc1(N)` count one event on the entry tracked by counter N (and
its `gpc0_rate`/`gpc1_rate`, where stored); `sc-set-gpt0(N) <int|expr>` sets the tag
`gpt0`. Nothing happens when counter N tracks nothing or the table lacks the data type,
as in HAProxy. The entry counts as updated: replicated tables push it to their peers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.config.parser import Ctx
from weir.http.rules import CONTINUE, REQUEST, RESPONSE, Action, Txn, action, effect_action
from weir.persist.stick import MAX_TRACK, now_ms
from weir.persist.table import Table
from weir.sample.core import INT, REQ, RES, SampleError, compile_expr
from weir.stream import Stream

Effect = Callable[[Stream], None]


def _counter_index(ctx: Ctx, words: list[str], action: str) -> int | None:
    arg = words[0] if words else ""
    inner = arg[1:-1] if arg.startswith("(") and arg.endswith(")") else ""
    if not inner.isdigit() or int(inner) >= MAX_TRACK:
        ctx.error(f"'{action}' expects a tracking counter number, as in '{action}(0)'")
        return None
    return int(inner)


def _inc(counter: str) -> Callable[[Ctx, list[str]], Effect | None]:
    action = f"sc-inc-{counter}"

    def compile_(ctx: Ctx, words: list[str]) -> Effect | None:
        i = _counter_index(ctx, words, action)
        if i is None:
            return None
        if len(words) > 1:
            ctx.error(f"unexpected '{words[1]}' after '{action}{words[0]}'")
            return None

        def inc(s: Stream) -> None:
            item = s.track[i] if s.track is not None else None
            if item is None:
                return
            t, e = item
            now = now_ms()
            Table.add(e, counter, now)
            t.touch(e, now)

        return inc

    return compile_


for _counter in ("gpc0", "gpc1"):
    effect_action(
        f"sc-inc-{_counter}",
        (REQUEST, RESPONSE),
        "(<sc-id>)",
        f"Count one event on the tracked entry's {_counter} (and {_counter}_rate).",
    )(_inc(_counter))


def _set_gpt0(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    i = _counter_index(ctx, words, "sc-set-gpt0")
    if i is None:
        return None
    if len(words) != 2:
        ctx.error("'sc-set-gpt0(<sc-id>)' expects one value: an integer or an expression")
        return None
    text = words[1]
    value: Callable[[Stream], Any]
    if text.lstrip("-").isdigit():
        const = int(text)
        value = lambda s: const  # noqa: E731
    else:
        try:
            value = compile_expr(text, REQ if phase == REQUEST else RES, want=INT).get
        except SampleError as e:
            ctx.error(str(e))
            return None

    def set_gpt0(txn: Txn) -> int:
        s = txn.stream
        item = s.track[i] if s.track is not None else None
        if item is None:
            return CONTINUE
        t, e = item
        v = value(s)
        if v is not None and "gpt0" in e.data:
            e.data["gpt0"] = int(v) & 0xFFFFFFFF
            t.touch(e, now_ms())
        return CONTINUE

    return set_gpt0


action(
    "sc-set-gpt0",
    (REQUEST, RESPONSE),
    "(<sc-id>) <int|expr>",
    "Set the tracked entry's gpt0 tag.",
)(_set_gpt0)
