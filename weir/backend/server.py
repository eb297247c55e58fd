"""Runtime state of one server: what balancing, queueing, checks and stats read and change.

The configuration model (`weir.config.model.ServerConf`) is immutable; a `Server` is built
from it once per load and then mutated by the running proxy only. Names follow HAProxy's
(`uweight` the user-set weight, `eweight` the effective one, `cur_sess`, `puid`).
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from weir.http.session import ServerConn


class SrvState(StrEnum):
    """Operational state as stats show it."""

    UP = "UP"
    DOWN = "DOWN"
    MAINT = "MAINT"
    DRAIN = "DRAIN"


class HealthObserver(Protocol):
    """Where the data path reports what it sees of a server when `observe` is set
    (weir.check.observe implements it; HAProxy's health-analysis events).

    layer4: `l4_ok` a connection to the server was established, `l4_error` it failed or
    timed out. layer7 (mode http): `http_status` a response head arrived (100-499, 501
    and 505 count as good), `bad_header` its head was invalid, `bad_response` the
    response broke while its body was relayed, `read_error` the connection failed before
    the response, `read_timeout` `timeout server` struck before it, `broken_pipe` the
    server closed before answering.
    """

    def l4_ok(self) -> None: ...
    def l4_error(self) -> None: ...
    def http_status(self, status: int) -> None: ...
    def bad_header(self) -> None: ...
    def bad_response(self) -> None: ...
    def read_error(self) -> None: ...
    def read_timeout(self) -> None: ...
    def broken_pipe(self) -> None: ...


class LiveSession(Protocol):
    """A session using a server, as `Server.sessions` holds it: `shutdown(cause)` ends it
    now and logs it with termination cause `cause` ("D": its server went down, "U": a
    better server came up)."""

    def shutdown(self, cause: str) -> None: ...


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
        "agent_code",
        "agent_desc",
        "agent_duration_ms",
        "agent_health",
        "agent_status",
        "backup",
        "be_counters",
        "check_code",
        "check_desc",
        "check_duration_ms",
        "check_health",
        "check_status",
        "chkdown",
        "chkfail",
        "cur_sess",
        "eweight",
        "fullconn",
        "hanafail",
        "host",
        "iweight",
        "last_change",
        "max_sess",
        "maxconn",
        "minconn",
        "name",
        "observer",
        "pool",
        "pool_max",
        "port",
        "puid",
        "purge_delay",
        "purge_timer",
        "rmaint",
        "send_proxy",
        "sessions",
        "state",
        "tls",
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
    # Added for weir.check: the agent check's fields, like the check_* ones (`agent_status`
    # None when there is no agent); `iweight` the configured weight that agent
    # percentages apply to; `hanafail` the failed checks caused by observed traffic.
    # `observer` is None unless `observe` is set: the data path tests that one attribute
    # and reports to it. `sessions` is None unless the server (or a peer, for
    # `on-marked-up shutdown-backup-sessions`) needs its live sessions shut down: the
    # data path then adds each session that uses the server and discards it at its end.

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
        # Idle HTTP connections other sessions may take (weir.net.pool), oldest first.
        self.pool: dict[ServerConn, None] = {}
        self.pool_max = -1
        self.purge_delay = 5.0
        self.purge_timer: Any = None
        self.addr = (host, port)
        self.puid = puid
        self.uweight = weight
        self.eweight = weight
        self.backup = backup
        self.maxconn = maxconn
        # A dynamic limit (HAProxy's minconn): set, with the backend's fullconn and
        # counters, only when minconn < maxconn; 0 keeps `maxconn` as the limit.
        self.minconn = 0
        self.fullconn = 1
        self.be_counters: Any = None
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
        self.iweight = weight
        self.agent_status: str | None = None
        self.agent_code: int | None = None
        self.agent_duration_ms: int | None = None
        self.agent_desc = ""
        self.agent_health = 0
        self.hanafail = 0
        self.observer: HealthObserver | None = None
        self.sessions: set[LiveSession] | None = None
        # `server ... ssl`: (ssl.SSLContext, the SNI's getter or None); None: plain TCP.
        self.tls: Any = None
        self.send_proxy = 0  # PROXY protocol version sent first (0: none)
        # In maintenance because its host name gives no address (HAProxy's RMAINT), set
        # and cleared by weir.dns only; `state` is then MAINT.
        self.rmaint = False

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
        if self.minconn:
            return self.dynamic_maxconn() <= self.cur_sess
        return 0 < self.maxconn <= self.cur_sess

    def dynamic_maxconn(self) -> int:
        """The limit of a server with `minconn`: from minconn when its backend is idle, up
        to maxconn once the backend has `fullconn` connections, on a straight line."""
        load: int = self.be_counters.cur_sess
        if load >= self.fullconn:
            return self.maxconn
        return max(self.minconn, load * self.maxconn // self.fullconn)

    def __repr__(self) -> str:
        return f"<Server {self.name} {self.host}:{self.port} {self.state}>"
