"""The lines a server's state change prints, in HAProxy 2.6's wording.

Operators grep these, so the shape is HAProxy's, fact for fact::

    Server ms1/ms1.srv1 is DOWN, reason: Layer7 wrong status, code: 404, info: "Not Found",
    check duration: 2ms. 1 active and 0 backup servers left. 0 sessions active,
    0 requeued, 0 remaining in queue.
    Server ms1/ms1.srv1 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms.
    2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue.
    backend 'ms1' has no server available!

(each on one line). "code" appears only with the statuses that carry one (L7OK, L7OKC,
L7STS; 0 when the protocol has none), "info" only when the check has a detail, which is
quoted with every byte that is not printable ASCII, `<`, `>` or `"` written as `<XX>`
(hex), and "check duration" only for a check that ran (not for observed traffic).

Administrative changes an agent asks for have their own lines ("enters drain state",
"is going DOWN for maintenance", "is UP/READY (leaving forced maintenance)" ...).
"""

from __future__ import annotations

import re

from weir.check.status import Outcome

_UNSAFE = re.compile(rb'[^\x20-\x7e]|[<>"]')


def encode_info(text: str) -> str:
    """HAProxy's escaping of a check detail inside double quotes."""
    raw = text.encode("utf-8", "surrogateescape")
    return _UNSAFE.sub(lambda m: b"<%02X>" % m.group()[0], raw).decode("ascii")


def check_reason(outcome: Outcome | None) -> str:
    """`, reason: …, code: …, info: "…", check duration: Nms` for a state change ("" for
    None: with `option log-health-checks` the check's own line already said it)."""
    if outcome is None:
        return ""
    v = outcome.verdict
    out = f", reason: {v.status.description}"
    if v.status.has_code:
        out += f", code: {v.code or 0}"
    if v.desc:
        out += f', info: "{encode_info(v.desc)}"'
    if outcome.duration_ms >= 0:
        out += f", check duration: {outcome.duration_ms}ms"
    return out


def down_message(  # noqa: PLR0917
    proxy: str,
    server: str,
    backup: bool,
    outcome: Outcome | None,
    active: int,
    backups: int,
    sessions: int,
    requeued: int = 0,
    queued: int = 0,
) -> str:
    """The line for a server going DOWN; `active`/`backups` count usable servers left."""
    running = " Running on backup." if backups and not active else ""
    return (
        f"{'Backup ' if backup else ''}Server {proxy}/{server} is DOWN{check_reason(outcome)}."
        f" {active} active and {backups} backup servers left.{running}"
        f" {sessions} sessions active, {requeued} requeued, {queued} remaining in queue."
    )


def up_message(  # noqa: PLR0917
    proxy: str,
    server: str,
    backup: bool,
    outcome: Outcome | None,
    active: int,
    backups: int,
    requeued: int = 0,
    queued: int = 0,
) -> str:
    """The line for a server coming UP; `requeued` counts waiting requests it took."""
    running = " Running on backup." if backups and not active else ""
    return (
        f"{'Backup ' if backup else ''}Server {proxy}/{server} is UP{check_reason(outcome)}."
        f" {active} active and {backups} backup servers online.{running}"
        f" {requeued} sessions requeued, {queued} total in queue."
    )


def no_server_message(kind: str, proxy: str) -> str:
    """`kind` is "backend", or "proxy" for a `listen` section (HAProxy's words)."""
    return f"{kind} '{proxy}' has no server available!"


def _left(active: int, backups: int, sessions: int, requeued: int = 0, queued: int = 0) -> str:
    running = " Running on backup." if backups and not active else ""
    return (
        f". {active} active and {backups} backup servers left.{running}"
        f" {sessions} sessions active, {requeued} requeued, {queued} remaining in queue."
    )


def _online(active: int, backups: int, requeued: int = 0, queued: int = 0) -> str:
    running = " Running on backup." if backups and not active else ""
    return (
        f". {active} active and {backups} backup servers online.{running}"
        f" {requeued} sessions requeued, {queued} total in queue."
    )


def _server(proxy: str, server: str, backup: bool) -> str:
    return f"{'Backup ' if backup else ''}Server {proxy}/{server}"


def stopping_message(  # noqa: PLR0917
    proxy: str, server: str, backup: bool, outcome: Outcome, active: int, backups: int
) -> str:
    """A server that still passes its check but asks for no new traffic (HAProxy's
    "stopping", e.g. a 404 with `http-check disable-on-404`)."""
    return f"{_server(proxy, server, backup)} is stopping{check_reason(outcome)}" + _online(
        active, backups
    )


def drain_message(  # noqa: PLR0917
    proxy: str, server: str, backup: bool, up: bool, active: int, backups: int, sessions: int
) -> str:
    """The agent put the server in drain mode."""
    tail = _online(active, backups) if up else _left(active, backups, sessions)
    return f"{_server(proxy, server, backup)} enters drain state" + tail


def leave_drain_message(proxy: str, server: str, backup: bool, up: bool) -> str:
    return f"{_server(proxy, server, backup)} is {'UP' if up else 'DOWN'} (leaving forced drain)."


def maint_message(  # noqa: PLR0917
    proxy: str, server: str, backup: bool, was_up: bool, active: int, backups: int, sessions: int
) -> str:
    """The agent put the server in maintenance."""
    if not was_up:
        return f"{_server(proxy, server, backup)} was DOWN and now enters maintenance."
    return f"{_server(proxy, server, backup)} is going DOWN for maintenance" + _left(
        active, backups, sessions
    )


def leave_maint_message(proxy: str, server: str, backup: bool, up: bool, drain: bool) -> str:
    return (
        f"{_server(proxy, server, backup)} is {'UP' if up else 'DOWN'}/"
        f"{'DRAIN' if drain else 'READY'} (leaving forced maintenance)."
    )
