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

The ring is one sorted list of points stored as `hash << 32 | position`: the position
(`puid * 4096 + j`) keeps points with equal hashes in a fixed order and tells whose
point it is. Lookups bisect; a few points are inserted or deleted in place, more are
spliced in one pass of slice copies. A server's points are computed once and kept.
Computing a point costs about a microsecond: a ring of 1000 servers of weight 1 (16,000
points) builds in tens of milliseconds, one of weight 256 each (4 million) in seconds,
as it is proportionally heavier in HAProxy too.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Sequence

from weir.backend.server import Server
from weir.balance.base import WEIGHT_SCALE, Balancer, Pool
from weir.balance.hashes import HashFunc, full_hash, make_hasher

_M32 = 0xFFFFFFFF
_EW_RANGE = 256 * WEIGHT_SCALE  # HAProxy's SRV_EWGHT_RANGE: positions per server id
_POS_BITS = 12  # log2(_EW_RANGE): a point's position encodes its server's id above these
_ID_MASK = (1 << (32 - _POS_BITS)) - 1  # ids are told apart modulo 2**20, as in HAProxy
_FEW = 8  # up to this many points change in place; more rebuild the list from slices


def point(puid: int, j: int) -> int:
    """The ring point j of server `puid`, as `hash << 32 | position`."""
    pos = (puid * _EW_RANGE + j) & _M32
    return (full_hash(pos) << 32) | pos


def _merged(keys: list[int], new: list[int]) -> list[int]:
    """`keys` with the sorted points `new` inserted: one pass of C-level slice copies."""
    out: list[int] = []
    prev = 0
    for k in new:
        i = bisect_left(keys, k, prev)
        out += keys[prev:i]
        out.append(k)
        prev = i
    out += keys[prev:]
    return out


def _without(keys: list[int], gone: list[int]) -> list[int]:
    """`keys` without the sorted points `gone` (all present)."""
    out: list[int] = []
    prev = 0
    for k in gone:
        i = bisect_left(keys, k, prev)
        out += keys[prev:i]
        prev = i + 1
    out += keys[prev:]
    return out


class _Rec:
    __slots__ = ("cum", "now", "points", "srv", "w")

    def __init__(self, srv: Server) -> None:
        self.srv = srv
        self.w = 0  # scaled effective weight = points wanted
        self.now = 0  # points on the ring
        self.cum = 0  # total weight of the usable servers declared before it (bounded load)
        self.points: list[int] = []  # its points computed so far, by index j

    def points_upto(self, n: int) -> list[int]:
        pts = self.points
        if len(pts) < n:
            puid = self.srv.puid
            pts.extend(point(puid, j) for j in range(len(pts), n))
        return pts


class ChashPool(Pool):
    """One group's ring: a sorted list of points; a point's low bits name its server."""

    __slots__ = (
        "_by_id",
        "_cum_dirty",
        "_hasher",
        "_keys",
        "_last",
        "_members",
        "_owner",
        "_recs",
        "tot",
    )

    def __init__(self, owner: Balancer, members: list[Server], hasher: HashFunc | None) -> None:
        self._owner = owner
        self._members = members
        self._hasher = hasher
        self._keys: list[int] = []
        self._recs: dict[Server, _Rec] = {}
        self._by_id: dict[int, _Rec] = {}  # id modulo 2**20 -> record, to decode points
        for s in members:
            ident = s.puid & _ID_MASK
            if ident in self._by_id:
                raise ValueError(
                    f"servers '{self._by_id[ident].srv.name}' and '{s.name}' have ids equal "
                    "modulo 2**20: consistent hashing would put them on the same points"
                )
            self._by_id[ident] = self._recs[s] = _Rec(s)
        self._last: int | None = None  # ring point where the keyless walk stopped
        self._cum_dirty = True
        self.tot = 0  # total scaled weight of the usable servers in the pool

    def _owner_of(self, k: int) -> _Rec:
        return self._by_id[(k & _M32) >> _POS_BITS]

    # -- ring maintenance ----------------------------------------------------------------

    def _set_points(self, rec: _Rec, want: int) -> None:
        # a user weight above 256 (HAProxy's maximum) would overflow into the next id's
        # positions: cap the points there
        want = min(want, _EW_RANGE)
        have = rec.now
        if want == have:
            return
        keys = self._keys
        if want > have:
            new = rec.points_upto(want)[have:want]
            if len(new) <= _FEW:
                for k in new:
                    insort(keys, k)
            else:
                self._keys = _merged(keys, sorted(new))
        else:
            gone = rec.points[want:have]
            if len(gone) <= _FEW:
                for k in gone:
                    del keys[bisect_left(keys, k)]
            else:
                self._keys = _without(keys, sorted(gone))
        rec.now = want

    def build(self, entries: Sequence[tuple[Server, int]]) -> None:
        keys: list[int] = []
        for s, weight in entries:
            rec = self._recs[s]
            rec.w = weight * WEIGHT_SCALE
            rec.now = min(rec.w, _EW_RANGE)
            self.tot += rec.w
            keys.extend(rec.points_upto(rec.now)[: rec.now])
        keys.sort()
        self._keys = keys

    def add(self, s: Server, weight: int) -> None:
        rec = self._recs[s]
        rec.w = weight * WEIGHT_SCALE
        self.tot += rec.w
        self._set_points(rec, rec.w)
        self._cum_dirty = True

    def remove(self, s: Server) -> None:
        rec = self._recs[s]
        self.tot -= rec.w
        rec.w = 0
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
                r = recs[s]
                r.cum = cum
                cum += r.w  # 0 for servers out of the ring
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
        rec = self._owner_of(keys[i])
        factor = self._owner.params.hash_balance_factor
        if rec.srv is not avoid and (not factor or self._eligible(rec, factor)):
            return rec.srv
        wraps = 0
        while rec.srv is avoid or (factor and not self._eligible(rec, factor)):
            i += 1
            if i == n:
                i = 0
                wraps += 1
                if wraps > 1:  # went all the way round: settle for the current one
                    break
            rec = self._owner_of(keys[i])
        return rec.srv

    def next_server(self, avoid: Server | None) -> Server | None:
        """Keyless walk: the next point's server that is not full, skipping `avoid`."""
        keys = self._keys
        n = len(keys)
        if not n:
            return None
        i = 0 if self._last is None else bisect_right(keys, self._last)
        avoided = -1
        for _ in range(n):
            if i >= n:
                i = 0
            s = self._owner_of(keys[i]).srv
            if not s.full:
                if s is not avoid:
                    self._last = keys[i]
                    return s
                avoided = i
            i += 1
        if avoided >= 0:
            self._last = keys[avoided]
            return self._owner_of(keys[avoided]).srv
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
