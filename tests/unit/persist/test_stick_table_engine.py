"""Stick-table entries, expiry, eviction and rates (weir.persist.table), on a clock the
test drives (milliseconds)."""

from __future__ import annotations

import ipaddress

from weir.persist.table import FreqCounter, Table, TableConf


def _table(size: int = 3, expire: int = 1000) -> Table:
    store = {"http_req_cnt": 0, "http_req_rate": 10_000, "conn_cur": 0, "gpc0": 0}
    return Table(TableConf("t", "ip", 4, size, expire, store))


def test_rates_slide_over_the_period() -> None:
    f = FreqCounter(10_000, now_ms=0)
    for _ in range(10):
        f.hit(1000)
    assert f.rate(9_999) == 10
    # Half-way through the next period, half of the previous period still counts.
    assert f.rate(15_000) == 5
    f.hit(15_000, 2)
    assert f.rate(15_000) == 7
    assert f.rate(30_001) == 0  # two periods later nothing is left


def test_counting_expiry_and_eviction() -> None:
    t = _table()
    ip = ipaddress.ip_address("192.0.2.1").packed  # addresses are kept packed
    e = t.get(t.key_of(b"192.0.2.1"), 0)
    assert e is not None
    assert e.key == ip
    assert t.key_of(ipaddress.ip_address("192.0.2.1")) == ip
    assert t.key_text(e.key) == "192.0.2.1"
    Table.add(e, "http_req_cnt", 0, 3)
    assert Table.value(e, "http_req_cnt", 0) == 3
    assert Table.value(e, "http_req_rate", 0) == 3
    assert Table.value(e, "bytes_in_cnt", 0) is None  # not stored
    assert t.lookup(ip, 999) is e
    assert t.lookup(ip, 1000) is None  # expired 1 s after its last update
    for i in range(4):  # the least recently used entry makes room
        t.get(t.key_of(f"192.0.2.{10 + i}".encode()), 2000)
    assert [t.key_text(k) for k in t.entries] == ["192.0.2.11", "192.0.2.12", "192.0.2.13"]
    busy = t.entries[ipaddress.ip_address("192.0.2.11").packed]
    busy.ref = 1  # tracked entries are never evicted nor expired
    t.get(t.key_of(b"192.0.2.99"), 2001)
    assert ipaddress.ip_address("192.0.2.11").packed in t.entries
    t.purge(10_000)
    assert list(t.entries) == [ipaddress.ip_address("192.0.2.11").packed]


def test_keys_follow_the_table_type() -> None:
    t = _table()
    assert t.key_of(b"not an ip") is None
    assert t.key_of(b"::ffff:192.0.2.1") == ipaddress.ip_address("192.0.2.1").packed
    s = Table(TableConf("s", "string", 5, 10, 0, {}))
    assert s.key_of(b"abcdefgh") == b"abcde"
    n = Table(TableConf("n", "integer", 4, 10, 0, {}))
    assert n.key_of(42) == 42
