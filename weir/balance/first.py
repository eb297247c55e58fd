"""`balance first`: the usable server with the lowest id that still has a free slot.

Servers are taken by increasing `puid` (HAProxy's numeric id, by default the position in
the backend); once a server reaches its `maxconn` the next one is used. Weights are
ignored, except that a zero weight takes a server out. Without `maxconn` the first server
takes everything.

The candidates sit in a heap ordered by id. A full server met at the head is set aside
until a `released` frees one of its slots, so a pick is O(log n) however many servers
are saturated.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from weir.backend.server import Server
from weir.balance.base import Balancer, Pool

_Entry = tuple[int, int, int, "_Rec"]  # id, declaration order, insertion counter


class _Rec:
    __slots__ = ("live", "order", "parked", "srv")

    def __init__(self, srv: Server, order: int) -> None:
        self.srv = srv
        self.order = order  # declaration order, breaks equal ids
        # the insertion counter of its live heap entry (unique), 0 when out of the heap;
        # matched by counter, not identity, as compiled code may copy tuples
        self.live = 0
        self.parked = False


class FirstPool(Pool):
    """One group of a `first` balancer."""

    __slots__ = ("_heap", "_order", "_recs", "_seq", "_stale")

    def __init__(self, members: list[Server]) -> None:
        self._heap: list[_Entry] = []
        self._recs: dict[Server, _Rec] = {}
        self._order = {s: i for i, s in enumerate(members)}
        self._stale = 0
        self._seq = 0  # keeps entries unique when a server leaves and comes back

    def _queue(self, rec: _Rec) -> None:
        rec.parked = False
        self._seq += 1
        entry = (rec.srv.puid, rec.order, self._seq, rec)
        heappush(self._heap, entry)
        rec.live = self._seq

    def add(self, s: Server, weight: int) -> None:
        rec = self._recs[s] = _Rec(s, self._order[s])
        self._queue(rec)

    def remove(self, s: Server) -> None:
        rec = self._recs.pop(s)
        if rec.live:
            rec.live = 0  # dropped from the heap when it surfaces, or swept
            self._stale += 1
            if self._stale > 2 * len(self._order) + 64:
                heap = self._heap
                heap[:] = [e for e in heap if e[3].live == e[2]]
                heapify(heap)
                self._stale = 0

    def reweight(self, s: Server, old: int, new: int) -> None:
        return None  # weights do not matter here

    def released(self, s: Server) -> None:
        rec = self._recs[s]
        if rec.parked and not s.full:
            self._queue(rec)

    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        heap = self._heap
        held: _Entry | None = None
        found: Server | None = None
        while heap:
            entry = heap[0]
            rec = entry[3]
            if rec.live != entry[2]:
                heappop(heap)
                continue
            s = rec.srv
            if s.full:
                heappop(heap)
                rec.live = 0
                rec.parked = True
                continue
            if s is avoid and held is None:
                held = heappop(heap)
                continue
            found = s
            break
        if held is not None:
            heappush(heap, held)
            if found is None:
                found = held[3].srv
        return found


class First(Balancer):
    """`balance first`."""

    __slots__ = ()

    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        return FirstPool(members)
