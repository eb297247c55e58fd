"""`balance static-rr`: weighted round robin over a static slot table.

Same table as map-based hashing (see `hash_map`), walked in order: weights interleave
like roundrobin's, there is no limit on the number of servers, and a server coming back
up is reintroduced at once (the table is rebuilt). Runtime weight changes are ignored
except to and from 0, as in HAProxy, which refuses other values for static algorithms
(`Balancer.dynamic` is False so the runtime API can do the same).
"""

from __future__ import annotations

from weir.balance.hash_map import _StaticBalancer


class StaticRoundRobin(_StaticBalancer):
    """`balance static-rr`."""

    __slots__ = ()
