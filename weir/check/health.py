"""The rise/fall state machine and check intervals, as pure functions of small integers.

Theory of operation (HAProxy 2.6's, followed exactly)
-----------------------------------------------------
A checked server carries a health counter from 0 to `rise + fall - 1` ("top"):

* the server is UP while health >= rise, DOWN below;
* a passed check adds 1; reaching `rise` jumps straight to top (fully up);
* a failed check subtracts 1 (only while health > 0); dropping below `rise` falls
  straight to 0 (fully down).

So a fully up server goes DOWN after `fall` consecutive failures, and a fully down one
comes back UP after `rise` consecutive successes. At start-up a checked server is UP with
health = `rise`: up, but one failure takes it down, and one success makes it fully up.
A server in maintenance is not checked and has health 0; when it leaves maintenance its
health is set back to `rise` (up, checked again at once).

The delay before the next check depends on where the counter stands: `inter` when fully
up, `downinter` (default `inter`) when fully down, `fastinter` (default `inter`) while in
between. The first checks are spread over the smallest interval of at least one second
(at most `max-spread-checks`), so that a restart does not send every check at the same
instant, and `spread-checks` adds some jitter to every interval after that.
"""

from __future__ import annotations

from collections.abc import Sequence

SPREAD_THRESHOLD_MS = 1000  # intervals shorter than this do not dictate the spreading


def top(rise: int, fall: int) -> int:
    return rise + fall - 1


def initial_health(rise: int, fall: int, maint: bool) -> int:
    """Health at start-up: `rise` (up, falls at the first failure), 0 in maintenance."""
    return 0 if maint else rise


def is_up(health: int, rise: int) -> bool:
    return health >= rise


def after_check(health: int, rise: int, fall: int, passed: bool) -> int:
    """The health counter after one completed check."""
    full = top(rise, fall)
    if passed:
        if health < full:
            health += 1
            if health >= rise:
                health = full
        return health
    if health > 0:
        health -= 1
        if health < rise:
            health = 0
    return health


def counts_as_failure(health: int) -> bool:
    """Whether a failed check at this health is counted in `chkfail` (not when already 0)."""
    return health > 0


def interval_ms(  # noqa: PLR0917
    health: int, rise: int, fall: int, down: bool, inter: int, fastinter: int, downinter: int
) -> int:
    """Milliseconds until the next check, from the health counter and the server state
    (`down`: DOWN or in maintenance)."""
    if health == top(rise, fall):
        return inter
    if down and health == 0:
        return downinter or inter
    return fastinter or inter


def first_delays_ms(intervals: Sequence[int], max_spread: int = 0) -> list[int]:
    """Start delays for checks whose current intervals are `intervals`, in declaration order
    (a server's agent right after its check).

    The k-th of n checks starts after m * k / n ms, where m is the smallest interval of at
    least one second among all of them, or the check's own interval if that is larger,
    and at most `max_spread` ms when that is set (`max-spread-checks`).
    """
    n = len(intervals)
    spread = min((i for i in intervals if i >= SPREAD_THRESHOLD_MS), default=0)
    out = []
    for k, own in enumerate(intervals):
        m = max(spread, own)
        if max_spread and m > max_spread:
            m = max_spread
        out.append(m * k // n)
    return out


def jittered_ms(interval: int, spread_checks: int, draw: float) -> int:
    """The delay before the next check with `spread-checks` percent of jitter: `interval`
    moved by up to that share of itself either way; `draw` is uniform in [0, 1]."""
    if spread_checks <= 0:
        return interval
    rv = interval * spread_checks // 100
    return interval + rv - int(2 * rv * draw)
