"""`balance roundrobin`: HAProxy's fast weighted round robin (FWRR), dynamic, O(log n).

Theory of operation
-------------------
Each group runs in "time windows" whose length is the group's total effective weight W.
A server of weight w is due about every W / w positions; its next due position is `npos`
(integer part) plus a remainder `rweight` carried over in units of 1/w. Three ordered
sets hold the servers:

- `curr`: servers due in the current window, ordered by position, then (at equal
  position) heavier first and larger carried remainder first;
- `init`: servers not placed yet (start-up, or put back after a tree switch), heaviest
  first; a server is taken from there when the head of `curr` is not due yet;
- `next`: servers whose next position falls beyond the current window.

A pick takes the head of `curr` if it is due (`npos <= curr_pos`), else the head of
`init`, advances that server's position by W / w, and puts it back in `curr` or `next`.
When both are exhausted the trees switch (`next` becomes `init`) and a new window starts.
Because heavier servers sit first at equal positions and everybody advances by W / w,
weights interleave (3:1:1 gives A A B A C, repeated) instead of coming in bursts.

This reproduces the behaviour of HAProxy 2.6's FWRR (lb_fwrr.c): the same positions, keys,
tie-breaking, handling of saturated and avoided servers, and re-placement on weight
changes, so that a backend picks servers in the same order as HAProxy does. HAProxy's ebtrees
are binary heaps here: entries are `(sort_key, record)` with a unique sort key (the tree
key, then an insertion counter: equal keys come out first-in first-out, as in an ebtree);
a removed record simply stops pointing at its entry, which is discarded when it surfaces
(and all such stale entries are swept if they pile up).

HAProxy documents this algorithm as limited to 4095 active servers (its 32-bit tree keys
would overflow); it does not check that at load time. Python integers do not overflow,
so weir works beyond, and `check_server_count` lets the configuration layer warn.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heapify, heappop, heappush
from typing import Final

from weir.backend.server import Server
from weir.balance.base import WEIGHT_SCALE, BalanceParams, Balancer, Pool

MAX_RR_SERVERS: Final = 4095

_EW_MAX: Final = 256 * WEIGHT_SCALE  # largest effective weight (HAProxy's SRV_EWGHT_MAX)
_UW_RANGE: Final = 256  # HAProxy's SRV_UWGHT_RANGE, the position multiplier in tree keys
_SEQ_BITS: Final = 48  # room for the insertion counter below the tree key


def check_server_count(params: BalanceParams, active_servers: int) -> str | None:
    """A warning for the configuration layer when `roundrobin` exceeds HAProxy's limit."""
    if params.algo == "roundrobin" and active_servers > MAX_RR_SERVERS:
        return (
            f"'balance roundrobin' is limited to {MAX_RR_SERVERS} active servers in HAProxy "
            f"(this backend has {active_servers}); consider 'static-rr' or 'leastconn'"
        )
    return None


def _cdiv(a: int, b: int) -> int:
    """C's integer division (truncates toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


_Entry = tuple[int, "_Rec"]


class _Rec:
    """Per-server FWRR state (HAProxy's npos, lpos, rweight, lb_tree, lb_node)."""

    __slots__ = ("live", "lpos", "npos", "rweight", "srv", "tree", "w")

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.w = 0  # committed effective weight (scaled)
        self.npos = 0
        self.lpos = 0
        self.rweight = 0
        self.tree: list[_Entry] | None = None  # the heap the server belongs to
        # the key of its live entry there (keys are unique), None when dequeued; entries
        # are matched by key, not identity, as compiled code may copy tuples
        self.live: int | None = None


class FwrrPool(Pool):
    """One group (active or backup) of a roundrobin balancer."""

    __slots__ = (
        "_curr",
        "_init",
        "_next",
        "_recs",
        "_seq",
        "_stale",
        "curr_pos",
        "curr_weight",
        "next_weight",
    )

    def __init__(self) -> None:
        self._curr: list[_Entry] = []
        self._init: list[_Entry] = []
        self._next: list[_Entry] = []
        self._recs: dict[Server, _Rec] = {}
        self._seq = 0
        self._stale = 0
        self.curr_pos = 0
        self.curr_weight = 0
        self.next_weight = 0

    # -- tree primitives -----------------------------------------------------------------

    def _rec(self, s: Server) -> _Rec:
        rec = self._recs.get(s)
        if rec is None:
            rec = self._recs[s] = _Rec(s)
        return rec

    def _push(self, tree: list[_Entry], key: int, rec: _Rec) -> None:
        self._seq += 1
        entry = ((key << _SEQ_BITS) | self._seq, rec)
        heappush(tree, entry)
        rec.tree = tree
        rec.live = entry[0]

    def _dequeue(self, rec: _Rec) -> None:
        live = rec.live
        if live is None:
            return
        rec.live = None
        tree = rec.tree
        if tree and tree[0][0] == live:
            heappop(tree)
            return
        self._stale += 1
        if self._stale > 2 * len(self._recs) + 64:
            self._sweep()

    def _sweep(self) -> None:
        for tree in (self._curr, self._init, self._next):
            tree[:] = [e for e in tree if e[1].live == e[0]]
            heapify(tree)
        self._stale = 0

    @staticmethod
    def _first(tree: list[_Entry]) -> _Rec | None:
        while tree:
            entry = tree[0]
            rec = entry[1]
            if rec.live == entry[0]:
                return rec
            heappop(tree)
        return None

    def _queue_by_weight(self, tree: list[_Entry], rec: _Rec) -> None:
        self._push(tree, _EW_MAX - rec.w, rec)

    def _queue_srv(self, rec: _Rec) -> None:
        """Place a dequeued server in `curr` at its next position, or in `next`."""
        cw = self.curr_weight
        if rec.w <= 0 or rec.npos >= 2 * cw or rec.npos >= cw + self.next_weight:
            rec.npos -= cw
            self._queue_by_weight(self._next, rec)
        else:
            key = _UW_RANGE * rec.npos + (_EW_MAX + rec.rweight - rec.w) // WEIGHT_SCALE
            self._seq = seq = self._seq + 1
            entry = ((key << _SEQ_BITS) | seq, rec)
            heappush(self._curr, entry)
            rec.tree = self._curr
            rec.live = entry[0]

    def _get_srv(self, rec: _Rec) -> None:
        """Prepare positions of a server leaving its tree (depends on which tree)."""
        if rec.tree is self._init:
            rec.npos = rec.rweight = 0
        elif rec.tree is self._next:
            rec.npos += self.curr_weight
        elif rec.tree is None:
            rec.npos = self.curr_pos

    def _switch_trees(self) -> None:
        self._init, self._next = self._next, self._init
        self.curr_weight = self.next_weight
        self.curr_pos = self.curr_weight

    # -- Pool events ---------------------------------------------------------------------

    def build(self, entries: Sequence[tuple[Server, int]]) -> None:
        total = 0
        for s, weight in entries:
            rec = self._rec(s)
            rec.w = weight * WEIGHT_SCALE
            total += rec.w
        self.curr_pos = self.curr_weight = self.next_weight = total
        for s, _ in entries:
            self._queue_by_weight(self._init, self._recs[s])

    def add(self, s: Server, weight: int) -> None:
        rec = self._rec(s)
        w = rec.w = weight * WEIGHT_SCALE
        self.next_weight += w
        self._get_srv(rec)
        rec.npos = self.curr_pos + _cdiv(self.next_weight + self.curr_weight - self.curr_pos, w)
        self._queue_srv(rec)

    def remove(self, s: Server) -> None:
        rec = self._recs[s]
        self.next_weight -= rec.w
        self._dequeue(rec)
        rec.tree = None

    def reweight(self, s: Server, old: int, new: int) -> None:
        rec = self._recs[s]
        w = new * WEIGHT_SCALE
        self.next_weight += w - rec.w
        rec.w = w
        if rec.tree is self._init:
            self._dequeue(rec)
            self._queue_by_weight(self._init, rec)
            return
        if rec.tree is None:  # not reachable while usable; kept for parity with HAProxy
            self._dequeue(rec)
            self._get_srv(rec)
            rec.npos = self.curr_pos + _cdiv(self.next_weight + self.curr_weight - self.curr_pos, w)
            self._queue_srv(rec)
            return
        # in `curr` or `next`: keep what was already consumed of the window
        self._get_srv(rec)
        prev_next = rec.npos
        step = self.next_weight // w
        rec.npos = rec.lpos + step
        rec.rweight = 0
        rec.npos = min(rec.npos, prev_next)
        if rec.npos < self.curr_pos + 2:
            rec.npos = self.curr_pos + step
        self._dequeue(rec)
        self._queue_srv(rec)

    # -- pick ----------------------------------------------------------------------------

    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        # HAProxy's fwrr_get_next_server with fwrr_get_server_from_group and
        # fwrr_update_position inlined: this is the hot path.
        curr = self._curr
        switched = False
        avoided: _Rec | None = None
        skipped: list[_Rec] | None = None  # extracted but saturated or avoided
        chosen: _Rec | None
        while True:
            if not self.curr_weight:
                self.curr_pos = self.curr_weight = self.next_weight
            while True:
                # the head of `curr` if due, else the head of `init`, else `curr`'s head
                s1 = None
                while curr:
                    entry = curr[0]
                    if entry[1].live == entry[0]:
                        s1 = entry[1]
                        break
                    heappop(curr)
                if s1 is not None and s1.npos <= self.curr_pos:
                    chosen = s1
                else:
                    chosen = self._first(self._init)
                    if chosen is not None:
                        chosen.npos = chosen.rweight = 0
                    else:
                        chosen = s1
                if chosen is not None or switched:
                    break
                switched = True
                self._switch_trees()
            if chosen is None:
                chosen = avoided
                break
            # advance its position by W / w, carrying the remainder
            w = chosen.w
            if not chosen.npos:
                chosen.npos = self.curr_pos
            chosen.lpos = chosen.npos
            nw = self.next_weight
            chosen.npos += nw // w
            chosen.rweight += nw % w
            if chosen.rweight >= w:
                chosen.rweight -= w
                chosen.npos += 1
            # it is the head of its tree (`curr` or `init`): take it out
            heappop(chosen.tree)  # type: ignore[arg-type]
            chosen.live = None
            self.curr_pos += 1
            srv = chosen.srv
            if not srv.full:
                if srv is not avoid or avoided is not None:
                    break
                avoided = chosen
            if skipped is None:
                skipped = []
            skipped.append(chosen)
        if chosen is not None:
            self._queue_srv(chosen)
        if skipped is not None:
            # put back the others, most recent first; after a switch their place in the
            # window is lost and only their weight matters
            for rec in reversed(skipped):
                if rec is not chosen:
                    if switched:
                        self._queue_by_weight(self._init, rec)
                    else:
                        self._queue_srv(rec)
        return None if chosen is None else chosen.srv


class RoundRobin(Balancer):
    """`balance roundrobin`."""

    __slots__ = ()

    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        return FwrrPool()
