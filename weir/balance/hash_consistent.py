"""`hash-type consistent`: a hash ring with points per server proportional to its weight.

Theory of operation
-------------------
Each usable server owns `eweight * 16` points on a 32-bit ring; point j of the server
with id `puid` sits at `full_hash(puid * 4096 + j)`, HAProxy's placement, so the same
servers with the same ids land on the same points as in HAProxy (which is what makes
several load balancers agree). A key's hash goes to the nearest point on either side
(the earlier one on a tie). A server going down removes only its own points: only its
keys move. A weight change adds or removes its last points, so it is dynamic (slow
start works).

Bounded load (`hash-balance-factor` F > 0): a server is skipped while it serves at least
its share of ceil((total served + 1) * F / 100) slots (its weight's share, the division
remainder spread by cumulative weight, never less than 1), and the walk continues
clockwise, as in "Consistent Hashing with Bounded Loads" (Mirrokni, Thorup,
Zadimoghaddam). `avoid` is skipped the same way. Without a key the ring is walked
point by point from where the last such walk stopped: a weighted round robin that skips
full servers.

The ring is two parallel sorted lists (point and owner); lookups bisect, changes insert
or delete in place. A point is stored as `hash << 32 | position` so that points with
the same hash keep a fixed order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from weir.backend.server import Server
from weir.balance.base import WEIGHT_SCALE, Balancer, Pool
from weir.balance.hashes import HashFunc, full_hash, make_hasher

_M32 = 0xFFFFFFFF
_EW_RANGE = 256 * WEIGHT_SCALE  # HAProxy's SRV_EWGHT_RANGE: positions per server id
_BULK = 64  # above this many points at once, merge and re-sort instead of inserting


def point(puid: int, j: int) -> int:
    """The ring point j of server `puid`, as `hash << 32 | position`."""
    pos = (puid * _EW_RANGE + j) & _M32
    return (full_hash(pos) << 32) | pos


class _Rec:
    __slots__ = ("cum", "now", "srv", "w")

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.w = 0  # scaled effective weight = points wanted
        self.now = 0  # points on the ring
        self.cum = 0  # total weight of the usable servers declared before it (bounded load)


class ChashPool(Pool):
    """One group's ring."""

    __slots__ = (
        "_cum_dirty",
        "_hasher",
        "_keys",
        "_last",
        "_members",
        "_owner",
        "_recs",
        "_srvs",
        "tot",
    )

    def __init__(self, owner: Balancer, members: list[Server], hasher: HashFunc | None) -> None:
        self._owner = owner
        self._members = members
        self._hasher = hasher
        self._keys: list[int] = []
        self._srvs: list[_Rec] = []
        self._recs: dict[Server, _Rec] = {}
        self._last: int | None = None  # ring point where the keyless walk stopped
        self._cum_dirty = True
        self.tot = 0  # total scaled weight of the pool

    # -- ring maintenance ----------------------------------------------------------------

    def _set_points(self, rec: _Rec, want: int) -> None:
        have = rec.now
        if want == have:
            return
        puid = rec.srv.puid
        keys, srvs = self._keys, self._srvs
        if want > have:
            new = [point(puid, j) for j in range(have, want)]
            if len(new) > _BULK:
                pairs = sorted(
                    [*zip(keys, srvs, strict=True), *((k, rec) for k in new)], key=lambda p: p[0]
                )
                keys[:] = [p[0] for p in pairs]
                srvs[:] = [p[1] for p in pairs]
            else:
                for k in new:
                    i = bisect_left(keys, k)
                    keys.insert(i, k)
                    srvs.insert(i, rec)
        else:
            gone = [point(puid, j) for j in range(want, have)]
            if len(gone) > _BULK:
                drop = set(gone)
                kept = [(k, r) for k, r in zip(keys, srvs, strict=True) if k not in drop]
                keys[:] = [p[0] for p in kept]
                srvs[:] = [p[1] for p in kept]
            else:
                for k in gone:
                    i = bisect_left(keys, k)
                    del keys[i]
                    del srvs[i]
        rec.now = want

    def build(self, entries: Sequence[tuple[Server, int]]) -> None:
        pairs: list[tuple[int, _Rec]] = []
        for s, weight in entries:
            rec = self._recs[s] = _Rec(s)
            rec.w = rec.now = weight * WEIGHT_SCALE
            self.tot += rec.w
            pairs.extend((point(s.puid, j), rec) for j in range(rec.w))
        pairs.sort(key=lambda p: p[0])
        self._keys = [p[0] for p in pairs]
        self._srvs = [p[1] for p in pairs]

    def add(self, s: Server, weight: int) -> None:
        rec = self._recs[s] = _Rec(s)
        rec.w = weight * WEIGHT_SCALE
        self.tot += rec.w
        self._set_points(rec, rec.w)
        self._cum_dirty = True

    def remove(self, s: Server) -> None:
        rec = self._recs.pop(s)
        self.tot -= rec.w
        self._set_points(rec, 0)
        self._cum_dirty = True

    def reweight(self, s: Server, old: int, new: int) -> None:
        rec = self._recs[s]
        w = new * WEIGHT_SCALE
        self.tot += w - rec.w
        rec.w = w
        self._set_points(rec, w)
        self._cum_dirty = True

    # -- bounded load --------------------------------------------------------------------

    def _eligible(self, rec: _Rec, factor: int) -> bool:
        """Below its share of the allowed slots (HAProxy's chash_server_is_eligible)."""
        if self._cum_dirty:
            cum = 0
            recs = self._recs
            for s in self._members:
                r = recs.get(s)
                if r is not None:
                    r.cum = cum
                    cum += r.w
            self._cum_dirty = False
        tot = self.tot
        slots_total = ((self._owner.served + 1) * factor + 99) // 100
        per_weight, remainder = divmod(slots_total, tot)
        slots = rec.w * per_weight
        slots += (rec.cum + rec.w) * remainder // tot - rec.cum * remainder // tot
        return rec.srv.cur_sess < (slots or 1)

    # -- lookups -------------------------------------------------------------------------

    def lookup(self, h: int, avoid: Server | None) -> Server | None:
        """The server nearest to hash `h`, walking on past `avoid` and overloaded ones."""
        keys = self._keys
        n = len(keys)
        if not n:
            return None
        i = bisect_left(keys, h << 32)
        if i == n:
            i = 0
        # nearest of the point at or after h and the one before it; earlier wins a tie
        before = keys[i - 1] >> 32
        if (h - before) & _M32 <= ((keys[i] >> 32) - h) & _M32:
            i = i - 1 if i else n - 1
        rec = self._srvs[i]
        factor = self._owner.params.hash_balance_factor
        if rec.srv is not avoid and (not factor or self._eligible(rec, factor)):
            return rec.srv
        srvs = self._srvs
        wraps = 0
        while rec.srv is avoid or (factor and not self._eligible(rec, factor)):
            i += 1
            if i == n:
                i = 0
                wraps += 1
                if wraps > 1:  # went all the way round: settle for the current one
                    break
            rec = srvs[i]
        return rec.srv

    def next_server(self, avoid: Server | None) -> Server | None:
        """Keyless walk: the next point's server that is not full, skipping `avoid`."""
        keys, srvs = self._keys, self._srvs
        n = len(keys)
        if not n:
            return None
        i = 0 if self._last is None else bisect_right(keys, self._last)
        avoided = -1
        for _ in range(n):
            if i >= n:
                i = 0
            s = srvs[i].srv
            if not s.full:
                if s is not avoid:
                    self._last = keys[i]
                    return s
                avoided = i
            i += 1
        if avoided >= 0:
            self._last = keys[avoided]
            return srvs[avoided].srv
        return None

    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        if key is None or self._hasher is None:
            return self.next_server(avoid)
        return self.lookup(self._hasher(key), avoid)


class HashConsistent(Balancer):
    """Hash-based algorithms (source, uri, url_param, hdr, rdp-cookie, hash) with
    `hash-type consistent`."""

    __slots__ = ()

    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        p = self.params
        hasher = make_hasher(p.hash_function, p.avalanche, source=p.algo == "source")
        return ChashPool(self, members, hasher)
