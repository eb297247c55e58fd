"""Runtime state of one server: what balancing, queueing, checks and stats read and change.

The configuration model (`weir.config.model.ServerConf`) is immutable; a `Server` is built
from it once per load and then mutated by the running proxy only. Names follow HAProxy's
(`uweight` the user-set weight, `eweight` the effective one, `cur_sess`, `puid`).
"""

from __future__ import annotations

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
        "addr",
        "backup",
        "cur_sess",
        "eweight",
        "host",
        "maxconn",
        "max_sess",
        "name",
        "port",
        "puid",
        "state",
        "tot_sess",
        "uweight",
    )

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
