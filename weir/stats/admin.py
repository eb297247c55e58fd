"""The stats page's admin form (`stats admin if <condition>`): a POST that changes servers.

The form, as HAProxy's page sends it (`application/x-www-form-urlencoded`):
`s=<server>` once per checked server, `action=<what>` and `b=<backend>` (its name or
`#<proxy id>`); the last `action` and `b` count. Actions are HAProxy's: `ready`, `drain`,
`maint`, `dhlth` / `ehlth` (health checks off / on), `hrunn` / `hdown` (force the health
verdict up / down), `shutdown` (kill the servers' sessions), the older `disable`,
`enable`, `stop`, `start`; and weir's own `weight` with a `weight=<N|N%>` field, as the
page's "Set weight" entry sends it. `hnolb` and the agent actions change nothing in weir
(it has no NOLB state nor agent checks of its own here) and so count as refused.

Every change goes through `weir.api.actions.Control`, the runtime API's own functions.
The answer is one of HAProxy's `;st=` codes: DONE (all applied), PART (some), ERRP
(none, or bad parameters), NONE (nothing asked), EXCD (body too large).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote_plus

from weir.backend.server import SrvState

if TYPE_CHECKING:
    from weir.api.actions import Control
    from weir.backend.server import Server
    from weir.proxy.runtime import Backend

MAX_BODY = 16384  # HAProxy refuses a form larger than its buffer (EXCD)

ACTIONS = (
    ("ready", "Set state to READY"),
    ("drain", "Set state to DRAIN"),
    ("maint", "Set state to MAINT"),
    ("dhlth", "Health: disable checks"),
    ("ehlth", "Health: enable checks"),
    ("hrunn", "Health: force UP"),
    ("hnolb", "Health: force NOLB"),
    ("hdown", "Health: force DOWN"),
    ("dagent", "Agent: disable checks"),
    ("eagent", "Agent: enable checks"),
    ("arunn", "Agent: force UP"),
    ("adown", "Agent: force DOWN"),
    ("shutdown", "Kill Sessions"),
    ("weight", "Set weight to"),
)
_KNOWN = frozenset(a for a, _ in ACTIONS) | {"disable", "enable", "stop", "start"}


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """URL-encoded `key=value` pairs in order."""
    out = []
    for part in body.decode("latin-1").split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        out.append((unquote_plus(key, "latin-1"), unquote_plus(value, "latin-1")))
    return out


def apply_form(ctl: Control, body: bytes | None) -> str:
    """Apply one admin POST; returns the status code for `;st=`."""
    if body is None:
        return "NONE"
    if len(body) > MAX_BODY:
        return "EXCD"
    pairs = parse_form(body)
    backend = action = weight = None
    servers: list[str] = []
    for key, value in pairs:
        if key == "b":
            backend = value
        elif key == "action":
            action = value
        elif key == "weight":
            weight = value
        elif key == "s":
            servers.append(value)
    if backend is not None and ctl.backend(backend) is None:
        return "ERRP"
    if action is not None and action not in _KNOWN:
        return "ERRP"
    if backend is None or action is None:
        return "NONE"  # servers are only acted on once the backend and action are known
    be = ctl.backend(backend)
    assert be is not None
    total = altered = 0
    for name in servers:
        srv = ctl.server(be, name)
        total += 1
        if srv is not None and _apply(ctl, be, srv, action, weight):
            altered += 1
            _forward(be.name, srv.name, action, weight)
    if total == 0:
        return "NONE"
    if altered == 0:
        return "ERRP"
    return "DONE" if altered == total else "PART"


# With several workers, what an action did here the others do too, as the runtime API
# command that does the same (weir.api.commands.FORWARD).
_AS_COMMAND = {
    "ready": "set server {} state ready",
    "drain": "set server {} state drain",
    "maint": "set server {} state maint",
    "disable": "disable server {}",
    "enable": "enable server {}",
    "stop": "set server {} state drain",
    "start": "set server {} state ready",
    "dhlth": "disable health {}",
    "ehlth": "enable health {}",
    "hrunn": "set server {} health up",
    "hdown": "set server {} health down",
    "weight": "set weight {} {}",
}


def _forward(backend: str, server: str, action: str, weight: str | None) -> None:
    from weir.api.commands import FORWARD

    template = _AS_COMMAND.get(action)
    if not FORWARD or template is None:
        return
    line = template.format(f"{backend}/{server}", (weight or "").strip())
    for forward in FORWARD:
        forward(line, None)


def _apply(ctl: Control, be: Backend, srv: Server, action: str, weight: str | None) -> bool:
    """One action on one server; True when it was applied (HAProxy counts the state
    actions as applied even when the server was already in that state)."""
    checked = ctl.conf(be, srv).check.enabled
    if action == "ready":
        ctl.set_ready(be, srv)
    elif action == "drain":
        ctl.set_drain(be, srv)
    elif action == "maint":
        ctl.set_maint(be, srv)
    elif action == "disable":
        return ctl.set_maint(be, srv)
    elif action == "enable":
        return srv.state is SrvState.MAINT and ctl.set_ready(be, srv)
    elif action == "stop":
        return ctl.set_drain(be, srv)
    elif action == "start":
        return srv.state is SrvState.DRAIN and ctl.set_ready(be, srv)
    elif action == "dhlth":
        if not checked:
            return False
        ctl.disable_health(srv)
    elif action == "ehlth":
        return checked and ctl.enable_health(be, srv)
    elif action in ("hrunn", "hdown"):
        return ctl.force_health(be, srv, action == "hrunn")
    elif action == "shutdown":
        return ctl.shutdown_sessions(srv)
    elif action == "weight":
        return weight is not None and ctl.set_weight(be, srv, weight.strip()) is None
    else:  # hnolb, agent actions: nothing in weir to act on
        return False
    return True
