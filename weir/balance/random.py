"""`balance random[(N)]`: power of N random choices by least load, on the weighted ring.

Each draw is a random 32-bit value looked up on the same ring as consistent hashing
(points proportional to weight, `hash-balance-factor` honoured, `avoid` skipped), so
weights are respected and changes apply at once. Of the N servers drawn (2 by default),
the one with the fewest connections per weight unit wins; the earlier draw keeps a tie.
As in HAProxy, if the winner is full the pick returns None (the request queues at the
backend) rather than settling for a busier server.

Reproducibility: draws come from the balancer's `rng` (a `random.Random`), which a test
passes seeded.
"""

from __future__ import annotations

from weir.backend.server import Server
from weir.balance.base import Balancer, Pool
from weir.balance.hash_consistent import ChashPool


class RandomPool(ChashPool):
    """A ring looked up with random draws instead of key hashes."""

    __slots__ = ()

    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        owner = self._owner
        getrandbits = owner.rng.getrandbits
        weights = owner._weights  # committed eweights, the ones the ring reflects
        curr: Server | None = None
        for _ in range(owner.params.draws):
            prev = curr
            curr = self.lookup(getrandbits(32), avoid)
            if curr is None:
                break
            # keep the previous draw if it is less loaded per unit of weight
            if (
                prev is not None
                and prev is not curr
                and curr.cur_sess * weights[prev] > prev.cur_sess * weights[curr]
            ):
                curr = prev
        if curr is not None and curr.full:
            return None
        return curr


class Random(Balancer):
    """`balance random`."""

    __slots__ = ()

    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        return RandomPool(self, members, None)
