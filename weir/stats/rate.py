"""Per-second event rates, the way HAProxy's stats page reports them.

A `RateCounter` keeps two buckets: the events of the current wall second and those of the
previous one. The rate read at time t is the current bucket plus the previous bucket scaled
by the part of the second not yet elapsed, so the figure slides smoothly instead of jumping
at each second boundary. `max` is the highest count seen within a single second (what the
"Max" column and the `*_max` CSV fields show).

A hit costs an `int()` of the time, one comparison and one addition; callers on the data
path pass the time they already have (`loop.time()` or `time.monotonic()`): any clock works
as long as one counter always gets the same one.
"""

from __future__ import annotations

import time


class RateCounter:
    __slots__ = ("_curr", "_prev", "_sec", "max")

    def __init__(self) -> None:
        self._sec = 0  # the second the current bucket belongs to
        self._curr = 0
        self._prev = 0
        self.max = 0

    def hit(self, n: int = 1, now: float | None = None) -> None:
        """Count `n` events at time `now` (default: `time.monotonic()`)."""
        sec = int(time.monotonic() if now is None else now)
        if sec != self._sec:
            self._prev = self._curr if sec == self._sec + 1 else 0
            self._curr = 0
            self._sec = sec
        self._curr += n
        if self._curr > self.max:  # noqa: PLR1730 -- on the data path; a call to max() costs more
            self.max = self._curr

    def read(self, now: float | None = None) -> int:
        """Events per second over the last elapsed second, as seen at time `now`."""
        if now is None:
            now = time.monotonic()
        sec = int(now)
        if sec == self._sec:
            prev, curr = self._prev, self._curr
        elif sec == self._sec + 1:
            prev, curr = self._curr, 0
        else:
            return 0
        return curr + int(prev * (1.0 - (now - sec)))
