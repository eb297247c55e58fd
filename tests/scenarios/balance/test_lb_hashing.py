"""Hash-based balancing in real weir processes: uri, source, url_param and hdr keep a key
on one server, and that server is the one weir's balancer computes for the key (so the
process hashed what the test meant); requests without a key are spread. Bounded-load
consistent hashing (`hash-balance-factor`) is checked with requests held in flight."""

from __future__ import annotations

import random
import socket
from collections import Counter

import pytest

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import free_port
from tests.scenarios.balance.lb import Client, config, expected, get, hold
from weir.balance import hdr_key, source_key, uri_key, url_param_key

HASH_TYPES = ["map-based", "consistent"]


def _four(http_backend) -> tuple[list[HttpBackend], str, list[tuple[str, int, int]]]:
    """Four backends, their `server` lines (weights 1..4, ids 1..4), and (name, weight, id)."""
    bes = [http_backend(n) for n in "abcd"]
    spec = [(be.name, i + 1, i + 1) for i, be in enumerate(bes)]
    lines = "\n".join(f"server {be.name} {be.address} weight {i + 1}" for i, be in enumerate(bes))
    return bes, lines, spec


@pytest.mark.parametrize("hash_type", HASH_TYPES)
def test_uri_keeps_each_uri_on_its_server(weir, http_backend, hash_type: str) -> None:
    _, lines, spec = _four(http_backend)
    port = free_port()
    weir(config(port, f"balance uri\nhash-type {hash_type}\n{lines}"), wait_ports=[port])
    uris = [f"/obj/{i}/item?v={i % 3}" for i in range(60)]
    again = uris[:]
    random.Random(7).shuffle(again)
    with Client(port) as c:
        first = dict(zip(uris, c.names(uris), strict=True))
        second = dict(zip(again, c.names(again), strict=True))
    assert first == second
    assert set(first.values()) == {"a", "b", "c", "d"}
    for uri, name in first.items():
        assert name == expected("uri", spec, uri_key(uri.encode()), hash_type=hash_type), uri


@pytest.mark.parametrize("hash_type", HASH_TYPES)
def test_source_keeps_a_client_address_on_one_server(weir, http_backend, hash_type: str) -> None:
    _, lines, spec = _four(http_backend)
    port = free_port()
    weir(config(port, f"balance source\nhash-type {hash_type}\n{lines}"), wait_ports=[port])
    names = {get(port, f"/{i}")[1] for i in range(12)}  # a new connection each time
    assert names == {expected("source", spec, source_key("127.0.0.1"), hash_type=hash_type)}


def test_source_in_tcp_mode_keeps_a_client_on_one_server(weir, tcp_backend) -> None:
    a, b = tcp_backend("a", greeting=True), tcp_backend("b", greeting=True)
    port = free_port()
    weir(
        config(port, f"balance source\nserver a {a.address}\nserver b {b.address}", mode="tcp"),
        wait_ports=[port],
    )
    seen = []
    for _ in range(6):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            seen.append(s.recv(100))
    assert len(set(seen)) == 1


@pytest.mark.parametrize("hash_type", HASH_TYPES)
def test_url_param_sticks_by_parameter_value(weir, http_backend, hash_type: str) -> None:
    _, lines, spec = _four(http_backend)
    port = free_port()
    weir(config(port, f"balance url_param user\nhash-type {hash_type}\n{lines}"), wait_ports=[port])
    users = [f"u{i}" for i in range(40)]
    with Client(port) as c:
        first = c.names(f"/app?x=1&user={u}" for u in users)
        second = c.names(f"/other/path?user={u}&y=2" for u in users)  # the path does not matter
        keyless = c.names(f"/app?other={i}" for i in range(8))
    assert first == second
    assert set(first) == {"a", "b", "c", "d"}
    for u, name in zip(users, first, strict=True):
        key = url_param_key(f"x=1&user={u}".encode(), b"user")
        assert name == expected("url_param user", spec, key, hash_type=hash_type)
    assert len(set(keyless)) > 1  # no parameter: round robin


@pytest.mark.parametrize("hash_type", HASH_TYPES)
def test_hdr_sticks_by_header_value(weir, http_backend, hash_type: str) -> None:
    _, lines, spec = _four(http_backend)
    port = free_port()
    weir(config(port, f"balance hdr(X-Tenant)\nhash-type {hash_type}\n{lines}"), wait_ports=[port])
    tenants = [f"tenant-{i}" for i in range(40)]
    with Client(port) as c:
        first = [c.get("/", {"X-Tenant": t})[1] for t in tenants]
        second = [c.get(f"/p{i}", {"x-tenant": t})[1] for i, t in enumerate(tenants)]
        keyless = c.names(f"/{i}" for i in range(8))
    assert first == second
    assert set(first) == {"a", "b", "c", "d"}
    for t, name in zip(tenants, first, strict=True):
        key = hdr_key(t.encode())
        assert name == expected("hdr(x-tenant)", spec, key, hash_type=hash_type)
    assert len(set(keyless)) > 1  # no header: round robin


def test_hdr_use_domain_only_hashes_the_domain_label(weir, http_backend) -> None:
    _, lines, spec = _four(http_backend)
    port = free_port()
    weir(config(port, f"balance hdr(host) use_domain_only\n{lines}"), wait_ports=[port])
    domains = [f"site{i}" for i in range(30)]
    with Client(port) as c:
        www = [c.get("/", {"Host": f"www.{d}.com"})[1] for d in domains]
        api = [c.get("/", {"Host": f"api.{d}.org"})[1] for d in domains]
    assert www == api
    assert len(set(www)) > 1
    for d, name in zip(domains, www, strict=True):
        assert name == expected("hdr(host) use_domain_only", spec, d.encode())


def _held_spread(weir, http_backend, factor: int | None, n: int) -> Counter[str]:
    """Hold `n` requests for one URI (each reaches its server before the next is sent)
    and count them per server."""
    a = http_backend("a", mode="no-response")
    b = http_backend("b", mode="no-response")
    c = http_backend("c", mode="no-response")
    port = free_port()
    bounded = f"hash-balance-factor {factor}" if factor else ""
    weir(
        config(
            port,
            f"""balance uri
            hash-type consistent
            {bounded}
            server a {a.address}
            server b {b.address}
            server c {c.address}""",
        ),
        wait_ports=[port],
    )
    held: list[socket.socket] = []
    try:
        for i in range(n):
            held.append(hold(port, "/same"))
            assert wait_until(lambda i=i: sum(len(x.requests) for x in (a, b, c)) == i + 1, 10)
        return Counter({x.name: len(x.requests) for x in (a, b, c) if x.requests})
    finally:
        for s in held:
            s.close()


def test_without_hash_balance_factor_one_uri_stays_on_one_server(weir, http_backend) -> None:
    counts = _held_spread(weir, http_backend, None, 6)
    assert list(counts.values()) == [6]


def test_hash_balance_factor_bounds_the_load_of_a_hot_uri(weir, http_backend) -> None:
    # With 150%, no server may hold more than ceil(1.5 * (in flight + 1) / 3) requests.
    counts = _held_spread(weir, http_backend, 150, 9)
    assert sum(counts.values()) == 9
    assert len(counts) > 1  # the walk goes on clockwise: the next server may be any other
    assert max(counts.values()) <= 5
