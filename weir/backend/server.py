"""Runtime state of one server: what balancing, queueing, checks and stats read and change.

The configuration model (`weir.config.model.ServerConf`) is immutable; a `Server` is built
from it once per load and then mutated by the running proxy only. Names follow HAProxy's
(`uweight` the user-set weight, `eweight` the effective one, `cur_sess`, `puid`).
"""

from __future__ import annotations

import time
from enum import StrEnum


class SrvState(StrEnum):
    """Operational state as stats show it."""

    UP = "UP"
    DOWN = "DOWN"
    MAINT = "MAINT"
    DRAIN = "DRAIN"


class Server:
    """One server of a backend.

    Contract for balancers: a server may receive new traffic when `usable` is true; its
    weight for the algorithm is `eweight` (0 means: nothing new). `cur_sess` counts the
    connections currently served; the owner calls the balancer's `taken`/`released`
    when it changes, so leastconn-like algorithms can keep their ordering.
    """

    __slots__ = (
        "_down_total",
        "addr",
        "backup",
        "check_code",
        "check_desc",
        "check_duration_ms",
        "check_health",
        "check_status",
        "chkdown",
        "chkfail",
        "cur_sess",
        "eweight",
        "host",
        "last_change",
        "max_sess",
        "maxconn",
        "name",
        "port",
        "puid",
        "state",
        "tot_sess",
        "uweight",
    )

    # Health-check state, written by weir.check only (added for it; stats reads it):
    # `check_status` is HAProxy's short status of the last check ("L7OK", "L4CON", ...;
    # "INI" before the first one, None when the server is not checked), `check_code` its
    # HTTP status when it has one, `check_duration_ms` how long it took, `check_desc` the
    # detail ("Not Found", "Connection refused"; may be ""). `chkfail` counts failed checks
    # (while not already down), `chkdown` UP->DOWN transitions, `last_change` the
    # time.time() of the last state change. `check_health` is HAProxy's health counter
    # (0..rise+fall-1, up from `rise`); it is only set once checks start, so read it with
    # getattr(srv, "check_health", default).
    check_health: int

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        *,
        puid: int,
        weight: int = 1,
        backup: bool = False,
        maxconn: int = 0,
    ) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.addr = (host, port)
        self.puid = puid
        self.uweight = weight
        self.eweight = weight
        self.backup = backup
        self.maxconn = maxconn
        self.state = SrvState.UP
        self.cur_sess = 0
        self.max_sess = 0
        self.tot_sess = 0
        self.check_status: str | None = None
        self.check_code: int | None = None
        self.check_duration_ms: int | None = None
        self.check_desc = ""
        self.chkfail = 0
        self.chkdown = 0
        self.last_change = time.time()
        self._down_total = 0.0

    @property
    def downtime(self) -> int:
        """Seconds spent DOWN (not in maintenance) since start, the current period included."""
        total = self._down_total
        if self.state is SrvState.DOWN:
            total += max(0.0, time.time() - self.last_change)
        return int(total)

    def add_downtime(self, seconds: float) -> None:
        """Account a finished DOWN period (called by health checks when the server rises)."""
        self._down_total += max(0.0, seconds)

    @property
    def usable(self) -> bool:
        """Up, not in maintenance or drain, and with a non-zero effective weight."""
        return self.state is SrvState.UP and self.eweight > 0

    @property
    def full(self) -> bool:
        """True when `maxconn` is set and reached: new work must queue."""
        return 0 < self.maxconn <= self.cur_sess

    def __repr__(self) -> str:
        return f"<Server {self.name} {self.host}:{self.port} {self.state}>"
