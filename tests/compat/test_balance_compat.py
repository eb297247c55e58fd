"""Balancing through HAProxy 2.6 and weir side by side: the same backend, the same keyed
requests, the same server names answering.

The hashing cases send 1,000 distinct keys through both proxies (each on one keep-alive
connection) to the same four backends, which answer with their names, and require every
key to land on the same server name in both; the count of matches is printed. `balance
source` is left out: from one loopback client address it would compare a single key.
Other cases compare the server options that decide who serves (weights, `weight 0`,
`disabled`, backups, `option allbackups`), automatic server ids, and what `-c` accepts.
"""

from __future__ import annotations

import pytest

from tests.helpers.ports import free_port
from tests.helpers.procs import run_check
from tests.scenarios.balance.lb import STATS, Client, config, stats

KEYS = 1000

# (balance, hash-type, per-server options for a, b, c, d, how a request carries key i)
HASH_CASES = {
    "uri-consistent": ("uri", "consistent", ("", "", "", ""), "uri"),
    "uri-consistent-weights-ids": (
        "uri",
        "consistent",
        ("weight 3", "id 7", "weight 2", "id 2 weight 5"),
        "uri",
    ),
    "uri-map-based": ("uri", "map-based", ("", "", "", ""), "uri"),
    "uri-map-based-weights": ("uri", "map-based", ("weight 3", "", "weight 2", "weight 5"), "uri"),
    "uri-whole-consistent-djb2": ("uri whole", "consistent djb2", ("", "", "", ""), "uri"),
    "url_param-consistent": ("url_param key", "consistent", ("", "", "", ""), "query"),
    "hdr-consistent": ("hdr(X-Key)", "consistent", ("", "weight 2", "", ""), "header"),
    "hdr-map-based-avalanche": ("hdr(X-Key)", "map-based sdbm avalanche", ("",) * 4, "header"),
    "hash-expr-consistent": (
        "hash req.hdr(X-Key)",
        "consistent",
        ("", "weight 2", "", ""),
        "header",
    ),
    "hash-expr-converters-map-based": (
        "hash req.hdr(X-Key),lower,field(1,@)",
        "map-based djb2",
        ("",) * 4,
        "header",
    ),
    "hash-expr-path": ("hash path", "consistent", ("",) * 4, "uri"),
}


def _request(how: str, i: int) -> tuple[str, dict[str, str]]:
    if how == "uri":
        return f"/static/{i}/file{i * 7919 % 1000}.js?cache={i % 5}", {}
    if how == "query":
        return f"/search?page=2&key=k{i}", {}
    return "/", {"X-Key": f"user-{i}@example.com"}


@pytest.mark.parametrize("case", list(HASH_CASES))
def test_keyed_requests_land_on_the_same_server_names(haproxy, weir, http_backend, case) -> None:
    algo, hash_type, options, how = HASH_CASES[case]
    backends = [http_backend(n) for n in "abcd"]
    lines = "\n".join(
        f"server {be.name} {be.address} {opt}" for be, opt in zip(backends, options, strict=True)
    )
    backend = f"balance {algo}\nhash-type {hash_type}\n{lines}"
    hport, wport = free_port(), free_port()
    haproxy(config(hport, backend), wait_ports=[hport])
    weir(config(wport, backend), wait_ports=[wport])
    requests = [_request(how, i) for i in range(KEYS)]
    answers = {}
    for name, port in (("haproxy", hport), ("weir", wport)):
        with Client(port) as c:
            answers[name] = [c.get(path, headers) for path, headers in requests]
    assert all(status == 200 for status, _ in answers["haproxy"] + answers["weir"])
    same = sum(h == w for h, w in zip(answers["haproxy"], answers["weir"], strict=True))
    print(f"{case}: {same}/{KEYS} keys on the same server in HAProxy and weir")
    assert {n for _, n in answers["haproxy"]} == {"a", "b", "c", "d"}
    assert same == KEYS


SERVER_CASES = {
    "weights": "balance roundrobin\nserver a {a} weight 1\nserver b {b} weight 3\nserver c {c}",
    "static-rr-weights": "balance static-rr\nserver a {a} weight 2\nserver b {b}\nserver c {c}",
    "weight-0": "server a {a} weight 0\nserver b {b}\nserver c {c} weight 2",
    "weight-0-then-backup": "server a {a} weight 0\nserver b {b} backup\nserver c {c} backup",
    "disabled-first-backup": "server a {a} disabled\nserver b {b} backup\nserver c {c} backup",
    "allbackups": "option allbackups\nserver a {a} disabled\n"
    "server b {b} backup\nserver c {c} backup weight 2",
    "backup-idle": "server a {a}\nserver b {b} backup\nserver c {c}",
}


@pytest.mark.parametrize("case", list(SERVER_CASES))
def test_server_options_pick_the_same_servers(haproxy, weir, http_backend, case) -> None:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    backend = SERVER_CASES[case].format(a=a.address, b=b.address, c=c.address)
    hport, wport = free_port(), free_port()
    haproxy(config(hport, backend), wait_ports=[hport])
    weir(config(wport, backend), wait_ports=[wport])
    seqs = {}
    for name, port in (("haproxy", hport), ("weir", wport)):
        with Client(port) as cl:
            seqs[name] = cl.names(f"/{i}" for i in range(24))
    assert seqs["weir"] == seqs["haproxy"]


def test_no_usable_server_is_a_503_in_both(haproxy, weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    backend = f"server a {a.address} weight 0\nserver b {b.address} disabled"
    hport, wport = free_port(), free_port()
    haproxy(config(hport, backend, defaults="timeout queue 30s"), wait_ports=[hport])
    weir(config(wport, backend, defaults="timeout queue 30s"), wait_ports=[wport])
    for port in (hport, wport):
        with Client(port, timeout=5) as cl:
            assert cl.get("/")[0] == 503


def test_automatic_server_ids_match(haproxy, weir, http_backend) -> None:
    bes = {n: http_backend(n).address for n in "abcdef"}
    backend = (
        f"server a {bes['a']}\nserver b {bes['b']} id 1\nserver c {bes['c']}\n"
        f"server d {bes['d']} id 5\nserver e {bes['e']}\nserver f {bes['f']}"
    )
    hport, wport = free_port(), free_port()
    haproxy(config(hport, backend, frontend=STATS), wait_ports=[hport])
    weir(config(wport, backend, frontend=STATS), wait_ports=[wport])
    ids = [{n: stats(p)[n]["sid"] for n in bes} for p in (hport, wport)]
    assert ids[1] == ids[0]


def test_both_accept_every_algorithm_and_server_option(haproxy) -> None:
    # (`hash-type ... none` is left out: weir accepts it, HAProxy only from 2.7 on.)
    sections = "".join(
        f"backend b{i}\n    mode http\n    balance {algo}\n    hash-type {ht}\n"
        "    hash-balance-factor 150\n    option allbackups\n"
        "    server s1 127.0.0.1:8001 weight 3 id 7 maxconn 10 slowstart 30s\n"
        "    server s2 127.0.0.1:8002 weight 0 backup\n"
        "    server s3 127.0.0.1:8003 disabled\n"
        for i, (algo, ht) in enumerate(
            [
                ("roundrobin", "map-based"),
                ("static-rr", "consistent"),
                ("leastconn", "consistent wt6"),
                ("first", "map-based"),
                ("source", "consistent crc32"),
                ("uri whole len 12 depth 2", "map-based djb2 avalanche"),
                ("url_param user", "consistent"),
                ("hdr(host) use_domain_only", "consistent"),
                ("random(3)", "consistent"),
            ]
        )
    )
    cfg = "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
    cfg += f"frontend fe\n    mode http\n    bind 127.0.0.1:{free_port()}\n    default_backend b0\n"
    cfg += sections
    for program in ("haproxy", "weir"):
        done = run_check(cfg, program=program)
        assert done.returncode == 0, f"{program}:\n{done.stdout}"
