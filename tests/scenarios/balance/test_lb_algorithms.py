"""Balancing algorithms in real weir processes: `weir -c` accepts them all, and the
non-hashing ones (roundrobin, static-rr, leastconn, first, random) share traffic as
HAProxy documents. Held requests (backends in mode "no-response") make in-flight counts
exact, so leastconn and first are checked without any timing."""

from __future__ import annotations

import socket
from collections import Counter

from tests.helpers.backends import HttpBackend, TcpEchoBackend, wait_until
from tests.helpers.ports import free_port
from tests.helpers.procs import run_check
from tests.scenarios.balance.lb import Client, abort, config, hold

ALGORITHMS = [
    "roundrobin",
    "static-rr",
    "leastconn",
    "first",
    "source",
    "uri",
    "uri whole",
    "uri len 12 depth 2",
    "uri path-only",
    "url_param user",
    "hdr(host)",
    "hdr(host) use_domain_only",
    "random",
    "random(3)",
]
HASH_TYPES = [
    "map-based",
    "consistent",
    "consistent sdbm avalanche",
    "map-based djb2",
    "consistent wt6",
    "map-based crc32",
    "consistent none",
]


def test_weir_c_accepts_every_algorithm_and_hash_type() -> None:
    sections = [
        f"backend b{i}\n    mode http\n    balance {algo}\n"
        f"    hash-type {HASH_TYPES[i % len(HASH_TYPES)]}\n"
        "    hash-balance-factor 150\n    option allbackups\n"
        "    server s1 127.0.0.1:8001 weight 3 id 7 maxconn 10 slowstart 30s\n"
        "    server s2 127.0.0.1:8002 weight 0 backup\n"
        "    server s3 127.0.0.1:8003 disabled\n"
        for i, algo in enumerate(ALGORITHMS)
    ]
    done = run_check("defaults\n    timeout connect 1s\n" + "".join(sections))
    assert done.returncode == 0, done.stdout


def test_weir_c_refuses_what_it_would_not_do() -> None:
    done = run_check(
        """\
backend b2
    mode http
    balance url_param user check_post
    server s 127.0.0.1:8001
backend b3
    mode http
    balance hash nosuch_fetch(x)
    server s 127.0.0.1:8001
backend b4
    server s 127.0.0.1:8001 weight 257
backend b5
    server s 127.0.0.1:8001 slowstart fast
backend b6
    hash-balance-factor 100
    server s 127.0.0.1:8001
"""
    )
    assert done.returncode != 0
    out = done.stdout
    assert "check_post' is HAProxy's but weir does not support it yet" in out
    assert "'balance hash': unknown sample fetch 'nosuch_fetch'" in out
    assert "weight 257 is out of range (0 to 256)" in out
    assert "'slowstart'" in out
    assert "hash-balance-factor" in out


def test_roundrobin_follows_weights(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        config(
            port,
            f"balance roundrobin\nserver a {a.address} weight 1\nserver b {b.address} weight 3",
        ),
        wait_ports=[port],
    )
    with Client(port) as c:
        names = c.names(f"/{i}" for i in range(40))
    assert Counter(names) == {"a": 10, "b": 30}
    # smooth: never more than 3 in a row on the heavier server
    assert "bbbb" not in "".join(names)


def test_static_rr_follows_weights(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        config(
            port, f"balance static-rr\nserver a {a.address} weight 2\nserver b {b.address} weight 1"
        ),
        wait_ports=[port],
    )
    with Client(port) as c:
        names = c.names(f"/{i}" for i in range(30))
    assert Counter(names) == {"a": 20, "b": 10}


def _which(port: int, path: str, servers: dict[str, HttpBackend]) -> tuple[socket.socket, str]:
    """Hold a request for `path` and return its socket and the server it reached."""
    s = hold(port, path)

    def reached() -> str | None:
        return next(
            (n for n, be in servers.items() if any(r.path == path for r in be.requests)), None
        )

    assert wait_until(lambda: reached() is not None, 10)
    name = reached()
    assert name is not None
    return s, name


def test_leastconn_http_picks_the_server_with_fewest_requests_in_flight(weir, http_backend) -> None:
    a = http_backend("a", mode="no-response")
    b = http_backend("b", mode="no-response")
    servers = {"a": a, "b": b}
    port = free_port()
    weir(
        config(port, f"balance leastconn\nserver a {a.address}\nserver b {b.address}"),
        wait_ports=[port],
    )
    held: list[socket.socket] = []
    try:
        s1, first = _which(port, "/1", servers)
        s2, second = _which(port, "/2", servers)
        held += [s1, s2]
        assert {first, second} == {"a", "b"}
        # The second server's request ends: it has none in flight, the first has one.
        abort(s2)
        assert wait_until(lambda: servers[second].concurrent == 0, 10)
        # Round robin would now go back to `first`; least connections goes to `second`.
        s3, third = _which(port, "/3", servers)
        held.append(s3)
        assert third == second
        s4, fourth = _which(port, "/4", servers)
        s5, fifth = _which(port, "/5", servers)
        held += [s4, s5]
        assert {fourth, fifth} == {"a", "b"}  # a tie, then the other one
    finally:
        for s in held:
            s.close()


def _greeted(port: int) -> tuple[socket.socket, str]:
    """A long-lived TCP connection through the proxy and the name its server greets with."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    line = b""
    while not line.endswith(b"\n"):
        chunk = s.recv(100)
        assert chunk, "connection closed before the greeting"
        line += chunk
    return s, line.decode().removeprefix("Hello! This is ").removesuffix("!\n")


def test_leastconn_tcp_with_long_lived_connections(weir, tcp_backend) -> None:
    a: TcpEchoBackend = tcp_backend("a", greeting=True)
    b: TcpEchoBackend = tcp_backend("b", greeting=True)
    servers = {"a": a, "b": b}
    port = free_port()
    weir(
        config(port, f"balance leastconn\nserver a {a.address}\nserver b {b.address}", mode="tcp"),
        wait_ports=[port],
    )
    held: list[socket.socket] = []
    try:
        c1, first = _greeted(port)
        c2, second = _greeted(port)
        held += [c1, c2]
        assert {first, second} == {"a", "b"}
        c2.close()
        assert wait_until(lambda: servers[second].concurrent == 0, 10)
        c3, third = _greeted(port)
        held.append(c3)
        assert third == second  # round robin would have said `first`
        more = [_greeted(port) for _ in range(4)]
        held += [s for s, _ in more]
        # six long-lived connections end up three on each server
        assert Counter([first, third] + [n for _, n in more]) == {"a": 3, "b": 3}
        assert (a.concurrent, b.concurrent) == (3, 3)
    finally:
        for s in held:
            s.close()


def test_first_fills_servers_by_id_up_to_maxconn(weir, http_backend) -> None:
    a = http_backend("a", mode="no-response")
    b = http_backend("b", mode="no-response")
    c = http_backend("c", mode="no-response")
    servers = {"a": a, "b": b, "c": c}
    port = free_port()
    # Declared a, b, c; their ids put b first, then a, then c.
    weir(
        config(
            port,
            f"""balance first
            server a {a.address} id 2 maxconn 1
            server b {b.address} id 1 maxconn 2
            server c {c.address} id 3 maxconn 1""",
        ),
        wait_ports=[port],
    )
    held: list[socket.socket] = []
    try:
        got = []
        for i in range(4):
            s, name = _which(port, f"/{i}", servers)
            held.append(s)
            got.append(name)
        assert got == ["b", "b", "a", "c"]
        # The first request ends: b has a free slot again and is the first by id.
        abort(held[0])
        assert wait_until(lambda: b.concurrent == 1, 10)
        s, name = _which(port, "/again", servers)
        held.append(s)
        assert name == "b"
    finally:
        for s in held:
            s.close()


def test_random_spreads_over_the_servers(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        config(port, f"balance random\nserver a {a.address}\nserver b {b.address}"),
        wait_ports=[port],
    )
    with Client(port) as cl:
        names = cl.names(f"/{i}" for i in range(60))
    assert set(names) == {"a", "b"}  # all 60 on one server: chance 2**-59
