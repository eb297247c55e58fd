"""Slow start: a server that comes back up takes its share of new traffic gradually.

Theory of operation
-------------------
`slowstart <time>` on a server (HAProxy 2.6's rule, measured in whole seconds: the time
rounds up to seconds, and so does nothing else) starts a warm-up each time a health check
moves the server from DOWN to UP; never at start-up, when every server is at full weight
at once. While `elapsed` whole seconds since the transition are fewer than `slowstart`,
the effective weight is the user weight times (16 * elapsed + slowstart) // slowstart
sixteenths: a sixteenth at once, growing linearly, full when the time is up. It is
recomputed every second, and each change goes to the balancer through `set_weight`, so
the user weight is read afresh at every step.

Only algorithms that honour runtime weights ramp (`BalanceParams.dynamic`): with
static-rr and map-based hashing a server comes back at full weight at once, as in
HAProxy.

Rounding: weir's `Server.eweight` counts whole user-weight units (the balancers scale it
by 16 themselves), so each step is rounded up to a whole unit and is never below 1. A
server of weight 16 or more follows HAProxy's steps closely (exactly for multiples of
16); a server of weight 1 cannot go below one unit and so is at full weight from the
first second. HAProxy's other slow-start effect, ramping the connection limit
(`maxconn`), is not applied: the limit stays the configured one.

Each warm-up is a timer on the running event loop; a later transition of the same
server replaces it, and it ends by itself once the server is at full weight or stops
being UP.
"""

from __future__ import annotations

import asyncio

from weir.backend.server import Server, SrvState
from weir.balance.base import WEIGHT_SCALE, Balancer

STEP = 1.0
"""Seconds between two recomputations of a warming server's weight (HAProxy: 1 s)."""

_EPSILON = 1e-3  # a timer may fire a hair early; it still counts as the whole second


def slowstart_seconds(slowstart_ms: int) -> int:
    """The warm-up in whole seconds, as HAProxy keeps it: milliseconds rounded up."""
    return (slowstart_ms + 999) // 1000 if slowstart_ms > 0 else 0


def ramp_weight(uweight: int, elapsed: int, seconds: int) -> int:
    """The effective weight `elapsed` whole seconds into a warm-up of `seconds` seconds.

    Full weight (`uweight`) when there is no warm-up, when it is over, and for a weight
    of 0 (a draining server stays at 0); otherwise HAProxy's sixteenths, rounded up to a
    whole unit, at least 1.
    """
    if seconds <= 0 or uweight <= 0 or not 0 <= elapsed < seconds:
        return uweight
    sixteenths = uweight * ((WEIGHT_SCALE * elapsed + seconds) // seconds)
    return max(1, -(-sixteenths // WEIGHT_SCALE))


class Warmup:
    """The warm-up of one server: its clock origin and its pending timer."""

    __slots__ = ("balancer", "handle", "loop", "seconds", "server", "start")

    def __init__(
        self,
        balancer: Balancer,
        server: Server,
        seconds: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.balancer = balancer
        self.server = server
        self.seconds = seconds
        self.loop = loop
        self.start = loop.time()
        self.handle: asyncio.TimerHandle | None = None

    def elapsed(self, now: float) -> int:
        """Whole seconds since the transition at loop time `now`."""
        return int((now - self.start) / STEP + _EPSILON)

    def step(self, now: float) -> bool:
        """Apply the weight due at loop time `now`; True while the warm-up goes on.

        A warm-up that was replaced, or whose server is no longer UP, ends without
        touching the weight (the next DOWN to UP transition starts a new one).
        """
        srv = self.server
        if _warmups.get(srv) is not self:
            return False
        if srv.state is not SrvState.UP:
            self.cancel()
            return False
        elapsed = self.elapsed(now)
        weight = ramp_weight(srv.uweight, elapsed, self.seconds)
        if weight != srv.eweight:
            self.balancer.set_weight(srv, weight)
        if elapsed >= self.seconds:
            self.cancel()
            return False
        return True

    def cancel(self) -> None:
        """Stop this warm-up where it is (the weight is left as it is)."""
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None
        if _warmups.get(self.server) is self:
            del _warmups[self.server]

    def _tick(self) -> None:
        self.handle = None
        if self.step(self.loop.time()):
            self._schedule()

    def _schedule(self) -> None:
        k = self.elapsed(self.loop.time()) + 1
        self.handle = self.loop.call_at(self.start + k * STEP, self._tick)


# The warm-ups in progress, by server; an entry leaves when its warm-up ends.
_warmups: dict[Server, Warmup] = {}


def begin(
    balancer: Balancer,
    srv: Server,
    slowstart_ms: int,
    *,
    loop: asyncio.AbstractEventLoop | None = None,
) -> Warmup | None:
    """Start the warm-up of `srv`, which has just gone from DOWN to UP.

    Call it after setting `srv.state` to UP and before telling the balancer
    (`server_up`): the server then joins its pool at its first, reduced weight. Does
    nothing (returns None) without `slowstart`, for a weight of 0, or when `balancer`
    ignores runtime weights. Needs a running event loop unless `loop` is given.
    """
    cancel(srv)
    seconds = slowstart_seconds(slowstart_ms)
    if seconds <= 0 or srv.uweight <= 0 or not balancer.params.dynamic:
        return None
    warmup = Warmup(balancer, srv, seconds, loop or asyncio.get_running_loop())
    _warmups[srv] = warmup
    if warmup.step(warmup.start):
        warmup._schedule()
    return warmup


def cancel(srv: Server) -> None:
    """End the warm-up of `srv` if one is running (its weight is left as it is)."""
    warmup = _warmups.get(srv)
    if warmup is not None:
        warmup.cancel()


def warming(srv: Server) -> Warmup | None:
    """The warm-up in progress for `srv`, if any."""
    return _warmups.get(srv)


def throttle(srv: Server) -> int | None:
    """HAProxy's stats `throttle`: the percentage of its user weight a warming server
    runs at (rounded up); None when it is not warming up."""
    if srv not in _warmups or srv.uweight <= 0:
        return None
    return -(-100 * srv.eweight // srv.uweight)


__all__ = [
    "STEP",
    "Warmup",
    "begin",
    "cancel",
    "ramp_weight",
    "slowstart_seconds",
    "throttle",
    "warming",
]
