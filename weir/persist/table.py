"""Stick tables: keyed entries with counters, expiry and a size limit.

A table stores, per key (an address, an integer or a string), the data types its
`store` list names: counters (`conn_cnt`, `http_req_cnt`, `gpc0` …), the current number
of tracked connections (`conn_cur`), rates over a sliding period (`conn_rate(10s)` …),
and the server a key sticks to (`server_id`). Rates follow HAProxy's frequency counters:
a count for the current period and one for the previous, the rate being the current
count plus the previous one weighted by how much of the period is left.

Entries expire `expire` after their last update (unless one is still tracked), and the
least recently used entry makes room when the table is full. Clocks are milliseconds,
passed in (`now_ms`), so the table can be driven by any clock.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

# Data types HAProxy 2.6 stores, with whether each is a rate (takes a period).
COUNTERS = (
    "server_id", "gpt0", "gpc0", "gpc1", "conn_cnt", "conn_cur", "sess_cnt", "http_req_cnt",
    "http_err_cnt", "http_fail_cnt", "bytes_in_cnt", "bytes_out_cnt",
)  # fmt: skip
RATES = (
    "gpc0_rate", "gpc1_rate", "conn_rate", "sess_rate", "http_req_rate", "http_err_rate",
    "http_fail_rate", "bytes_in_rate", "bytes_out_rate",
)  # fmt: skip
KEY_TYPES = ("ip", "ipv6", "integer", "string", "binary")
# The rate a counter's events also count in (`http_req_cnt` -> `http_req_rate`, `gpc0` ->
# `gpc0_rate`); "" for none.
RATE_OF = {c: (c[:-4] if c.endswith("_cnt") else c) + "_rate" for c in COUNTERS}
RATE_OF.update(server_id="", gpt0="", conn_cur="", server_key="")
END_COUNTS = (
    "conn_cur", "http_err_cnt", "http_err_rate", "http_fail_cnt", "http_fail_rate",
    "bytes_in_cnt", "bytes_in_rate", "bytes_out_cnt", "bytes_out_rate",
)  # fmt: skip


class FreqCounter:
    """Events over a sliding period (HAProxy's freq_ctr)."""

    __slots__ = ("curr", "period", "prev", "tick")

    def __init__(self, period_ms: int, now_ms: int) -> None:
        self.period = period_ms
        self.tick = now_ms  # start of the current period
        self.curr = 0
        self.prev = 0

    def _rotate(self, now_ms: int) -> None:
        elapsed = now_ms - self.tick
        if elapsed < self.period:
            return
        periods = elapsed // self.period
        self.prev = self.curr if periods == 1 else 0
        self.curr = 0
        self.tick += periods * self.period

    def hit(self, now_ms: int, n: int = 1) -> None:
        if now_ms - self.tick >= self.period:
            self._rotate(now_ms)
        self.curr += n

    def state(self, now_ms: int) -> tuple[int, int, int]:
        """(ms since the current period began, current count, previous count)."""
        self._rotate(now_ms)
        return now_ms - self.tick, self.curr, self.prev

    def restore(self, now_ms: int, elapsed: int, curr: int, prev: int) -> None:
        self.tick = now_ms - min(max(elapsed, 0), self.period)
        self.curr, self.prev = curr, prev

    def rate(self, now_ms: int) -> int:
        """Events in the last period: the current count plus the previous count weighted
        by the part of the period still to run."""
        self._rotate(now_ms)
        remain = self.tick + self.period - now_ms
        return self.curr + self.prev * remain // self.period


@dataclass(slots=True)
class TableConf:
    name: str
    key_type: str
    key_len: int
    size: int
    expire_ms: int
    store: dict[str, int]  # data type -> period in ms (0 for a counter)
    nopurge: bool = False
    srvkey: str = "name"  # how sticking rules identify a server: "name" or "addr"
    peers: str = ""  # the peers section that replicates it


@dataclass(slots=True)
class Entry:
    key: Any
    expire: int  # ms
    data: dict[str, Any] = field(default_factory=dict)
    ref: int = 0  # streams tracking it


class Table:
    """A stick table at run time.

    `sync`, when the table is replicated to peers, is told of every local change to an
    entry (creation, `get`, `touch`); entries learnt from peers (`learn`) are not."""

    __slots__ = ("at_end", "conf", "entries", "name", "sync")

    def __init__(self, conf: TableConf) -> None:
        self.conf = conf
        self.name = conf.name
        self.entries: OrderedDict[Any, Entry] = OrderedDict()
        self.sync: Any = None  # weir.peers.engine.TableSync
        # Whether a tracked stream's end counts anything here (its outcome, its bytes, the
        # connection it held): most tables only count requests, and skip that work.
        self.at_end = any(name in conf.store for name in END_COUNTS)

    def key_of(self, value: Any) -> Any:
        """The table's key for a sample value (None when it does not fit the type)."""
        kt = self.conf.key_type
        try:
            # Addresses are kept packed (4 or 16 bytes): bytes hash once and for all,
            # where an address object computes its hash again at every lookup.
            if kt == "ip":
                ip = value if not isinstance(value, bytes) else ipaddress.ip_address(value.decode())
                if type(ip) is not ipaddress.IPv4Address:
                    if not isinstance(ip, ipaddress.IPv6Address) or ip.ipv4_mapped is None:
                        return None
                    ip = ip.ipv4_mapped
                return ip.packed
            if kt == "ipv6":
                ip = value if not isinstance(value, bytes) else ipaddress.ip_address(value.decode())
                if isinstance(ip, ipaddress.IPv4Address):
                    ip = ipaddress.IPv6Address("::ffff:" + str(ip))
                return ip.packed
            if kt == "integer":
                return int(value)
        except (ValueError, TypeError, UnicodeDecodeError):
            return None
        raw = value if isinstance(value, bytes) else str(value).encode()
        if kt == "binary":  # a fixed size, zero-padded as HAProxy keeps it
            return raw[: self.conf.key_len].ljust(self.conf.key_len, b"\0")
        return raw[: self.conf.key_len]

    def _fresh(self, key: Any, now_ms: int) -> Entry:
        e = Entry(key, now_ms + self.conf.expire_ms)
        for dt, period in self.conf.store.items():
            e.data[dt] = FreqCounter(period, now_ms) if period else 0
        return e

    def lookup(self, key: Any, now_ms: int) -> Entry | None:
        e = self.entries.get(key)
        if e is None:
            return None
        if e.ref == 0 and self.conf.expire_ms and e.expire <= now_ms:
            del self.entries[key]
            return None
        return e

    def get(self, key: Any, now_ms: int) -> Entry | None:
        """The entry for `key`, created if needed (None when the table is full and nothing
        can be evicted)."""
        e = self.entries.get(key)  # the common case, `learn` inlined: a live entry
        if e is None or (e.ref == 0 and e.expire <= now_ms and self.conf.expire_ms):
            e = self.learn(key, now_ms)
        else:
            self.entries.move_to_end(key)
            if self.conf.expire_ms:
                e.expire = now_ms + self.conf.expire_ms
        if e is not None and self.sync is not None:
            self.sync.mark(e)
        return e

    def learn(self, key: Any, now_ms: int) -> Entry | None:
        """`get` without telling the peers (for what they taught us)."""
        e = self.lookup(key, now_ms)
        if e is not None:
            self.entries.move_to_end(key)
            if self.conf.expire_ms:
                e.expire = now_ms + self.conf.expire_ms
            return e
        if len(self.entries) >= self.conf.size and not self._evict(now_ms):
            return None
        e = self.entries[key] = self._fresh(key, now_ms)
        return e

    def _evict(self, now_ms: int) -> bool:
        if self.conf.nopurge:
            return False
        for key, e in self.entries.items():
            if e.ref == 0:
                del self.entries[key]
                return True
        return False

    def touch(self, e: Entry, now_ms: int) -> None:
        if self.conf.expire_ms:
            e.expire = now_ms + self.conf.expire_ms
        if self.sync is not None:
            self.sync.mark(e)

    def purge(self, now_ms: int) -> None:
        """Drop expired entries (called from time to time and by `show table`)."""
        if not self.conf.expire_ms:
            return
        dead = [k for k, e in self.entries.items() if e.ref == 0 and e.expire <= now_ms]
        for k in dead:
            del self.entries[k]

    # -- counters ----------------------------------------------------------------------------

    @staticmethod
    def add(e: Entry, name: str, now_ms: int, n: int = 1) -> None:
        """Count `n` events of `name` (its counter and its rate, where stored)."""
        data = e.data
        v = data.get(name)
        if v is not None:
            data[name] = v + n
        rate = data.get(RATE_OF.get(name, ""))
        if rate is not None:
            rate.hit(now_ms, n)

    @staticmethod
    def value(e: Entry, name: str, now_ms: int) -> int | None:
        v = e.data.get(name)
        if v is None:
            return None
        return v.rate(now_ms) if isinstance(v, FreqCounter) else int(v)

    def key_text(self, key: Any) -> str:
        kt = self.conf.key_type
        if kt in ("ip", "ipv6"):
            return str(ipaddress.ip_address(key))
        if isinstance(key, bytes):
            return key.hex().upper() if kt == "binary" else key.decode("latin-1")
        return str(key)


TABLES: dict[str, Table] = {}


def install(tables: dict[str, Table]) -> None:
    TABLES.clear()
    TABLES.update(tables)
