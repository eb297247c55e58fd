"""The balancer interface, its parameters, and the active/backup logic every algorithm shares.

Theory of operation
-------------------
A `Balancer` serves one backend. Its servers fall in two groups, active and backup, and
each group has its own `Pool`: the algorithm's data structure (a tree, a map, a ring)
holding the group's usable servers with their weights. The balancer, not the algorithm,
decides which group serves, exactly as HAProxy's backend does:

- while at least one active server is usable, the active pool serves;
- otherwise, without `option allbackups`, the first usable backup server (declaration
  order) takes everything, whatever the algorithm;
- otherwise (allbackups) the backup pool serves, balanced like the active one.

A server is in its pool while `Server.usable` is true (up and effective weight > 0).
The owner of server state changes it first (`state`, `eweight`, `cur_sess`) and then
tells the balancer (`server_up`, `server_down`, `set_weight`, `taken`, `released`); the
balancer compares with the weight it last committed for that server, so every event is
idempotent and the three state calls are interchangeable.

Weights: `Server.eweight` counts in user units (0..256, like `weight`). Dynamic pools
work on `eweight * WEIGHT_SCALE`, as HAProxy's `cur_eweight` does (its BE_WEIGHT_SCALE),
which keeps their sequences and consistent-hash rings identical to HAProxy's for the
same servers and ids.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from weir.backend.server import Server

WEIGHT_SCALE = 16  # HAProxy's BE_WEIGHT_SCALE: effective weight units per user weight unit
MAX_WEIGHT = 256  # largest user weight (HAProxy's SRV_UWGHT_MAX)

ALGORITHMS = (
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "uri",
    "url_param",
    "hdr",
    "rdp-cookie",
    "random",
    "hash",
)
HASH_ALGORITHMS = frozenset({"source", "uri", "url_param", "hdr", "rdp-cookie", "hash"})
HTTP_ALGORITHMS = frozenset({"uri", "url_param", "hdr"})
HASH_TYPES = ("map-based", "consistent")
HASH_FUNCTION_NAMES = ("sdbm", "djb2", "wt6", "crc32", "none")


@dataclass(frozen=True, slots=True)
class BalanceParams:
    """What `balance`, `hash-type`, `hash-balance-factor` and `option allbackups` set.

    Only the fields of the chosen `algo` matter; the others keep their defaults.
    """

    algo: str = "roundrobin"
    # balance uri [whole] [len N] [depth N] [path-only]
    uri_whole: bool = False
    uri_len: int = 0
    uri_depth: int = 0
    uri_path_only: bool = False
    # balance url_param NAME [check_post]
    url_param: str = ""
    check_post: bool = False
    # balance hdr(NAME) [use_domain_only]
    hdr_name: str = ""
    use_domain_only: bool = False
    # balance rdp-cookie[(NAME)]
    rdp_cookie: str = "mstshash"
    # balance random[(DRAWS)]
    draws: int = 2
    # balance hash EXPR (the sample expression's text; the sample layer compiles it)
    expr: str = ""
    # hash-type, hash-balance-factor
    hash_type: str = "map-based"
    hash_function: str = "sdbm"
    avalanche: bool = False
    hash_balance_factor: int = 0
    # option allbackups
    allbackups: bool = False

    def __post_init__(self) -> None:
        if self.algo not in ALGORITHMS:
            raise ValueError(f"unknown balancing algorithm '{self.algo}'")
        if self.hash_type not in HASH_TYPES:
            raise ValueError(f"unknown hash type '{self.hash_type}'")
        if self.hash_function not in HASH_FUNCTION_NAMES:
            raise ValueError(f"unknown hash function '{self.hash_function}'")
        if self.hash_balance_factor != 0 and self.hash_balance_factor <= 100:
            raise ValueError("hash-balance-factor must be 0 (off) or more than 100")
        if self.draws < 1:
            raise ValueError("random needs at least 1 draw")
        if self.uri_len < 0 or self.uri_depth < 0:
            raise ValueError("uri 'len' and 'depth' must be positive")

    def __deepcopy__(self, memo: dict[int, object]) -> BalanceParams:
        return self  # immutable (and, compiled, copy's field-by-field rebuild fails)

    @property
    def is_hash(self) -> bool:
        """A hash of a request key picks the server (source, uri, url_param, hdr, ...)."""
        return self.algo in HASH_ALGORITHMS

    @property
    def needs_http(self) -> bool:
        """The key comes from HTTP (uri, url_param, hdr): in `mode tcp` HAProxy warns and
        balances by round robin instead."""
        return self.algo in HTTP_ALGORITHMS

    @property
    def dynamic(self) -> bool:
        """Runtime weight changes take effect (else only 0 / non-0 matters)."""
        if self.algo == "static-rr":
            return False
        return not self.is_hash or self.hash_type == "consistent"


class Pool(ABC):
    """One group's (active or backup) selection structure, as one algorithm keeps it.

    The balancer calls `add` when a server becomes usable, `remove` when it stops being
    usable, `reweight` when a usable server's effective weight changes; weights are in
    `Server.eweight` units and always > 0. `taken`/`released` follow `cur_sess` changes
    of servers in the pool. `pick` is only called while the pool holds a server.
    """

    __slots__ = ()

    def build(self, entries: Sequence[tuple[Server, int]]) -> None:
        """Add the servers usable at start-up, in declaration order."""
        for s, weight in entries:
            self.add(s, weight)

    @abstractmethod
    def add(self, s: Server, weight: int) -> None: ...

    @abstractmethod
    def remove(self, s: Server) -> None: ...

    @abstractmethod
    def reweight(self, s: Server, old: int, new: int) -> None: ...

    def taken(self, s: Server) -> None:  # noqa: B027 - optional event, no-op by default
        """`s.cur_sess` was incremented."""

    def released(self, s: Server) -> None:  # noqa: B027 - optional event, no-op by default
        """`s.cur_sess` was decremented."""

    @abstractmethod
    def pick(self, key: bytes | None, avoid: Server | None) -> Server | None:
        """The server for `key` (None: no key), skipping `avoid` if another can serve."""


class Balancer(ABC):
    """Picks a server for each new connection or request of one backend.

    `pick(key, avoid=...)`: `key` is the hashing key of hash-based algorithms, already
    extracted by the caller (see `keys`); None means absent, and the hash algorithms then
    balance by round robin. `avoid` is skipped when another server can serve (redispatch
    after a failed attempt). Returns None when no server is usable, and also, like
    HAProxy, when the algorithm's candidates are all full (`Server.full`): the caller then
    queues the request (`tot_weight` tells the two cases apart).

    `servers` are the backend's servers in declaration order; the balancer keeps them
    for its whole life (a reload builds a new one).
    """

    dynamic: ClassVar[bool] = True  # False: runtime weights only matter as 0 / non-0

    __slots__ = (
        "_act",
        "_act_n",
        "_act_w",
        "_bck",
        "_bck_n",
        "_bck_w",
        "_cur",
        "_fbck",
        "_fixed",
        "_weights",
        "params",
        "rng",
        "served",
        "servers",
    )

    def __init__(
        self,
        servers: Sequence[Server],
        params: BalanceParams,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.params = params
        self.servers: tuple[Server, ...] = tuple(servers)
        self.rng = rng if rng is not None else random.Random()
        self.served = sum(s.cur_sess for s in self.servers)
        self._weights: dict[Server, int] = {}
        self._act_n = self._bck_n = 0
        self._act_w = self._bck_w = 0
        self._fbck: Server | None = None
        self._cur: Pool | None = None
        self._fixed: Server | None = None
        self._prepare()
        self._act = self._new_pool([s for s in self.servers if not s.backup], backup=False)
        self._bck = self._new_pool([s for s in self.servers if s.backup], backup=True)
        act: list[tuple[Server, int]] = []
        bck: list[tuple[Server, int]] = []
        for s in self.servers:
            w = self._lb_weight(s)
            if w > 0:
                self._weights[s] = w
                (bck if s.backup else act).append((s, w))
        self._act_n, self._act_w = len(act), sum(w for _, w in act)
        self._bck_n, self._bck_w = len(bck), sum(w for _, w in bck)
        self._act.build(act)
        self._bck.build(bck)
        self._fbck = self._first_backup()
        self._route()

    # -- what algorithms provide -------------------------------------------------------

    def _prepare(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Hook run before the pools are built (e.g. to compute static weights)."""

    @abstractmethod
    def _new_pool(self, members: list[Server], *, backup: bool) -> Pool:
        """An empty pool for a group; `members` are all its servers, usable or not."""

    def _lb_weight(self, s: Server) -> int:
        """The weight `s` should have in its pool now; 0 when it must not be there."""
        return s.eweight if s.usable else 0

    # -- the interface -----------------------------------------------------------------

    def pick(self, key: bytes | None = None, *, avoid: Server | None = None) -> Server | None:
        cur = self._cur
        if cur is not None:
            return cur.pick(key, avoid)
        return self._fixed

    def server_up(self, s: Server) -> None:
        """`s` may have become usable (state changed); idempotent."""
        self._sync(s)

    def server_down(self, s: Server) -> None:
        """`s` may have stopped being usable (state changed); idempotent."""
        self._sync(s)

    def set_weight(self, s: Server, eweight: int) -> None:
        """Set `s.eweight` (runtime weight, slow start) and apply it.

        0 takes the server out like a state change would. Static algorithms (static-rr,
        map-based hashing) only honour 0 / non-0, as HAProxy does: they keep the weight
        the server had when the balancer was built.
        """
        s.eweight = eweight
        self._sync(s)

    def taken(self, s: Server) -> None:
        """`s.cur_sess` was just incremented."""
        self.served += 1
        if s in self._weights:
            (self._bck if s.backup else self._act).taken(s)

    def released(self, s: Server) -> None:
        """`s.cur_sess` was just decremented."""
        self.served -= 1
        if s in self._weights:
            (self._bck if s.backup else self._act).released(s)

    @property
    def tot_weight(self) -> int:
        """Total weight (eweight units) of the servers that receive traffic now; 0 means
        that no server is usable (HAProxy's "no server available", a 503)."""
        if self._act_n:
            return self._act_w
        if self._fbck is not None:
            return self._weights[self._fbck]
        return self._bck_w

    @property
    def using_backup(self) -> bool:
        """No active server is usable: backups (or nothing) serve."""
        return self._act_n == 0

    # -- shared machinery --------------------------------------------------------------

    def _sync(self, s: Server) -> None:
        old = self._weights.get(s)
        new = self._lb_weight(s)
        pool = self._bck if s.backup else self._act
        if old is None:
            if new <= 0:
                return
            self._weights[s] = new
            self._count(s, 1, new)
            pool.add(s, new)
        elif new <= 0:
            del self._weights[s]
            self._count(s, -1, -old)
            pool.remove(s)
        elif new != old:
            self._weights[s] = new
            self._count(s, 0, new - old)
            pool.reweight(s, old, new)
        else:
            return
        if s.backup:
            self._fbck = self._first_backup()
        self._route()

    def _count(self, s: Server, dn: int, dw: int) -> None:
        if s.backup:
            self._bck_n += dn
            self._bck_w += dw
        else:
            self._act_n += dn
            self._act_w += dw

    def _first_backup(self) -> Server | None:
        if self.params.allbackups or not self._bck_n:
            return None
        weights = self._weights
        for s in self.servers:
            if s.backup and s in weights:
                return s
        return None

    def _route(self) -> None:
        """Point `pick` at the pool (or the single server) that serves now."""
        self._fixed = None
        if self._act_n:
            self._cur = self._act
        elif self._fbck is not None:
            self._cur = None
            self._fixed = self._fbck
        elif self._bck_n:
            self._cur = self._bck
        else:
            self._cur = None
