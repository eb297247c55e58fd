"""Map-based selection: `hash-type map-based` hashing and `balance static-rr`.

Theory of operation
-------------------
The usable servers of a group are spread over a table with one slot per unit of weight
(weights first divided by their greatest common divisor, as HAProxy does). A hash picks
slot `hash % len(table)`; static round robin walks the table. The table interleaves
servers smoothly (weights 3:1:1 give A A B A C), built by HAProxy's rule: at each
slot every server earns its weight, the one whose earnings are the highest (in whole
multiples of the table size; the first declared wins ties) takes the slot and pays the
table size back. That is why the same servers in the same order give the same table as
HAProxy, hence the same server for the same hash.

The table only changes when a server becomes usable or unusable (weights are static:
runtime weight changes other than to 0 are ignored) and is rebuilt on the next pick.
HAProxy's rule costs O(slots x servers); this one produces the identical table in
O(slots x log servers) by only revisiting a server when its earnings cross a multiple.

A hash lookup ignores `avoid` (the key designates one server), as HAProxy's does.
"""

from __future__ import annotations

from collections.abc import Sequence
from heapq import heappop, heappush
from math import gcd

from weir.backend.server import Server
from weir.balance.base import Balancer, Pool
from weir.balance.hashes import HashFunc, make_hasher


def static_weights(servers: Sequence[Server]) -> dict[Server, int]:
    """Each server's weight in the map: its user weight divided by the GCD of all non-zero
    user weights of the backend (active and backup)."""
    g = 0
    for s in servers:
        g = gcd(g, s.uweight)
    g = g or 1
    return {s: s.uweight // g for s in servers}


def build_map(entries: Sequence[tuple[Server, int]]) -> list[Server]:
    """The slot table for `entries` (servers in declaration order, weights > 0).

    Equivalent to: for each slot, add every server's weight to its score, give the slot
    to the first server with the highest `(score + total) // total`, and subtract the
    total from that server's score. With `due[i]` = floor(slot_count_so_far * w_i / total)
    that quotient is `due[i] - picks[i] + 1`, so a server only needs revisiting when its
    `due` grows, which happens exactly w_i times over the whole table.
    """
    total = sum(w for _, w in entries)
    if total <= 0:
        return []
    n = len(entries)
    weights = [w for _, w in entries]
    debt = [0] * n  # due - picks
    grows = [1] * n  # next value of `due` for each server
    events: list[tuple[int, int]] = []  # (slot number at which `due` grows, server index)
    for i, w in enumerate(weights):
        heappush(events, (-(-total // w), i))  # ceil(total / w): first growth
    # candidates ordered by highest debt, then declaration order; stale entries skipped
    best: list[tuple[int, int]] = [(0, i) for i in range(n)]
    table: list[Server] = []
    for slot in range(1, total + 1):
        while events and events[0][0] <= slot:
            _, i = heappop(events)
            debt[i] += 1
            heappush(best, (-debt[i], i))
            k = grows[i] = grows[i] + 1
            if k <= weights[i]:
                heappush(events, (-(-k * total // weights[i]), i))
        while True:
            d, i = best[0]
            if -d == debt[i]:
                break
            heappop(best)
        table.append(entries[i][0])
        debt[i] -= 1
        heappush(best, (-debt[i], i))
    return table


class MapPool(Pool):
    """A group's slot table; hashes with `hasher`, or walks it when there is no key."""

    __slots__ = ("_dirty", "_hasher", "_map", "_members", "_rr", "_static", "_usable")

    def __init__(
        self, members: list[Server], static: dict[Server, int], hasher: HashFunc | None
    ) -> None:
        self._members = members
        self._static = static
        self._hasher = hasher
        self._usable: set[Server] = set()
        self._map: list[Server] = []
        self._dirty = False
        self._rr = 0

    def add(self, s: Server, weight: int) -> None:
        self._usable.add(s)
        self._dirty = True

    def remove(self, s: Server) -> None:
        self._usable.discard(s)
        self._dirty = True

    def reweight(self, s: Server, old: int, new: int) -> None:
        return None  # static: only usable / not usable matters

    def _rebuild(self) -> None:
        usable = self._usable
        self._map = build_map([(s, self._static[s]) for s in self._members if s in usable])
        self._dirty = False

    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        if self._dirty:
            self._rebuild()
        table = self._map
        if key is not None and self._hasher is not None:
            return table[self._hasher(key) % len(table)]
        return self.next_server(avoid)

    def next_server(self, avoid: Server | None) -> Server | None:
        """Static round robin over the table, skipping full servers and `avoid`."""
        table = self._map
        n = len(table)
        if not n:
            return None
        # the saved index may equal n (not wrapped yet), which matters when the table
        # grows before the next pick: HAProxy resumes there too
        if not 0 <= self._rr < n:
            self._rr = 0
        start = idx = self._rr
        avoided: Server | None = None
        avoided_next = 0
        while True:
            srv = table[idx]
            idx += 1
            if not srv.full:
                if srv is not avoid:
                    self._rr = idx
                    return srv
                avoided, avoided_next = srv, idx
            if idx == n:
                idx = 0
            if idx == start:
                break
        if avoided is not None:
            self._rr = avoided_next
        return avoided


class _StaticBalancer(Balancer):
    """Shared by static-rr and map-based hashing: weights fixed at build time."""

    dynamic = False
    __slots__ = ("_static",)

    def _prepare(self) -> None:
        self._static = static_weights(self.servers)

    def _lb_weight(self, s: Server) -> int:
        # only 0 / non-0 of the runtime weight matters; report the user weight as built
        return s.uweight if s.usable and self._static.get(s, 0) > 0 else 0

    def _hasher(self) -> HashFunc | None:
        return None

    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        return MapPool(members, self._static, self._hasher())


class HashMap(_StaticBalancer):
    """Hash-based algorithms (source, uri, url_param, hdr, rdp-cookie, hash) with
    `hash-type map-based` (the default)."""

    __slots__ = ()

    def _hasher(self) -> HashFunc | None:
        p = self.params
        return make_hasher(p.hash_function, p.avalanche, source=p.algo == "source")
