"""`balance leastconn`: fewest connections relative to weight, dynamic, O(log n).

Theory of operation
-------------------
Servers are ordered by HAProxy's key: 0 for an idle server, else
`(cur_sess + 1) * 4096 // effective_weight` (so an idle server always comes first, and
among busy ones the load per weight unit decides, counting the connection about to be
added). Equal keys are served first-in first-out, and a server is re-inserted each time
its key changes (`taken`/`released`), which is what makes equally loaded servers take
turns: round robin within a load level.

The order lives in a binary heap of `(key, insertion counter)` entries with lazy
removal. A full server (`Server.full`) met at the head is set aside until a `released`
makes room, so skipping saturated servers costs nothing on the next picks.
"""

from __future__ import annotations

from heapq import heapify, heappop, heappush
from typing import Final

from weir.backend.server import Server
from weir.balance.base import WEIGHT_SCALE, Balancer, Pool

_EW_MAX: Final = 256 * WEIGHT_SCALE
_SEQ_BITS: Final = 48

_Entry = tuple[int, "_Rec"]


class _Rec:
    __slots__ = ("key", "live", "parked", "srv", "w")

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.w = 0  # scaled effective weight
        self.key = 0
        # the key of its live heap entry (unique), None when out of the heap; matched by
        # key, not identity, as compiled code may copy tuples
        self.live: int | None = None
        self.parked = False  # set aside because full


class LeastConnPool(Pool):
    """One group of a leastconn balancer."""

    __slots__ = ("_heap", "_recs", "_seq", "_stale")

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._recs: dict[Server, _Rec] = {}
        self._seq = 0
        self._stale = 0

    @staticmethod
    def _key(rec: _Rec) -> int:
        n = rec.srv.cur_sess
        return (n + 1) * _EW_MAX // rec.w if n > 0 else 0

    def _queue(self, rec: _Rec) -> None:
        rec.key = key = self._key(rec)
        self._seq += 1
        entry = ((key << _SEQ_BITS) | self._seq, rec)
        heappush(self._heap, entry)
        rec.live = entry[0]

    def _dequeue(self, rec: _Rec) -> None:
        live = rec.live
        if live is None:
            return
        rec.live = None
        heap = self._heap
        if heap[0][0] == live:
            heappop(heap)
            return
        self._stale += 1
        if self._stale > 2 * len(self._recs) + 64:
            heap[:] = [e for e in heap if e[1].live == e[0]]
            heapify(heap)
            self._stale = 0

    def add(self, s: Server, weight: int) -> None:
        rec = self._recs.get(s)
        if rec is None:
            rec = self._recs[s] = _Rec(s)
        rec.w = weight * WEIGHT_SCALE
        rec.parked = False
        self._queue(rec)

    def remove(self, s: Server) -> None:
        rec = self._recs.pop(s)
        self._dequeue(rec)

    def reweight(self, s: Server, old: int, new: int) -> None:
        rec = self._recs[s]
        rec.w = new * WEIGHT_SCALE
        if not rec.parked:
            self._dequeue(rec)
            self._queue(rec)

    def _reposition(self, s: Server) -> None:
        rec = self._recs[s]
        if rec.parked:
            if s.full:
                return
            rec.parked = False
        elif rec.live is not None and self._key(rec) == rec.key:
            return
        self._dequeue(rec)
        self._queue(rec)

    def taken(self, s: Server) -> None:
        self._reposition(s)

    def released(self, s: Server) -> None:
        self._reposition(s)

    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        heap = self._heap
        held: _Entry | None = None  # the avoided server's entry, put back at the end
        found: Server | None = None
        while heap:
            entry = heap[0]
            rec = entry[1]
            if rec.live != entry[0]:
                heappop(heap)
                continue
            s = rec.srv
            if s.full:
                heappop(heap)
                rec.live = None
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
                found = held[1].srv
        return found


class LeastConn(Balancer):
    """`balance leastconn`."""

    __slots__ = ()

    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        return LeastConnPool()
