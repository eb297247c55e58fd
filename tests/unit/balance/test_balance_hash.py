"""Hash-based balancing: map-based and consistent, fallback, bounded load, `random`.

The `HAPROXY_*` sequences were recorded from HAProxy 2.6.12 with `balance source` in
`mode tcp`, each connection made from the loopback address `SOURCES[position]`
(position = length of the output so far, events included), as `script` replays them.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable

import pytest

from weir.backend.server import Server, SrvState
from weir.balance import source_key
from weir.balance.base import Balancer

Mk = Callable[..., tuple[Balancer, list[Server]]]
Script = Callable[..., str]

SOURCES = [f"127.0.0.{i}" for i in range(1, 25)] + [
    "127.1.2.3",
    "127.200.3.4",
    "127.9.9.9",
    "127.44.0.1",
]


def by_source(pos: int) -> bytes:
    return source_key(SOURCES[pos % len(SOURCES)])


KEYS = [f"/item/{i}?v={i * 7}".encode() for i in range(3000)]


def mapping(b: Balancer, keys: list[bytes] = KEYS) -> dict[bytes, str]:
    out = {}
    for k in keys:
        s = b.pick(k)
        assert s is not None
        out[k] = s.name
    return out


def set_state(b: Balancer, s: Server, up: bool) -> None:
    s.state = SrvState.UP if up else SrvState.MAINT
    (b.server_up if up else b.server_down)(s)


# -- recorded from HAProxy ----------------------------------------------------------------

HAPROXY_SOURCE_CONSISTENT = (
    "DDCADACAADBDDCAAADAAADBACCAD|DCADACAADADDCAAADAAADAACCADD|CADACAADBDDCAAADAAADBACCADDD"
)
HAPROXY_SOURCE_MAP = (
    "BCDABCDABCDABCDABCDABCDADABB|ACDACDACDACDACDACDACDACCCCCD|DABCDABCDABCDABCDABCDADABBBC"
)


def test_source_consistent_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A", "B", "C", "D", algo="source", hash_type="consistent", avalanche=True)
    got = script(b, servers, "p28 dB p28 uB p28", key_for=by_source)
    assert got == HAPROXY_SOURCE_CONSISTENT


def test_source_map_based_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A", "B", "C", "D", algo="source")
    assert script(b, servers, "p28 dB p28 uB p28", key_for=by_source) == HAPROXY_SOURCE_MAP


HAPROXY_CONSISTENT_WEIGHTS = (
    "CACACCCACCCCCCCAACACABBACCAC|ACACACACACCCCCAACACAABACCAAC|"
    "CAAACAAABCACAAAAAAAABACCAAAA|AAACAAAACACAAAAAAAAAACCAAAAC"
)


def test_consistent_weight_changes_match_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A:2", "B:1", "C:3", algo="source", hash_type="consistent", avalanche=True)
    got = script(b, servers, "p28 wA=5 p28 wC=1 p28 dB p28", key_for=by_source)
    assert got == HAPROXY_CONSISTENT_WEIGHTS


def test_bounded_load_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk(
        "A",
        "B",
        "C",
        algo="source",
        hash_type="consistent",
        avalanche=True,
        hash_balance_factor=150,
    )
    same = source_key("127.0.0.1")
    got = script(b, servers, "p9 c0 c0 p3", key_for=lambda _: same)
    assert got == "BCBCBCBCBCBC"


# -- consistent hashing -------------------------------------------------------------------


def test_consistent_removal_moves_only_that_servers_keys(mk: Mk) -> None:
    b, servers = mk("A", "B", "C", "D", "E", algo="uri", hash_type="consistent", avalanche=True)
    before = mapping(b)
    set_state(b, servers[2], up=False)
    after = mapping(b)
    moved = {k for k in KEYS if before[k] != after[k]}
    assert moved == {k for k in KEYS if before[k] == "C"}
    assert all(after[k] != "C" for k in KEYS)
    set_state(b, servers[2], up=True)
    assert mapping(b) == before


def test_consistent_adding_a_server_moves_about_one_nth(mk: Mk) -> None:
    b4, _ = mk("A", "B", "C", "D", algo="uri", hash_type="consistent", avalanche=True)
    b5, _ = mk("A", "B", "C", "D", "E", algo="uri", hash_type="consistent", avalanche=True)
    before, after = mapping(b4), mapping(b5)
    moved = [k for k in KEYS if before[k] != after[k]]
    assert all(after[k] == "E" for k in moved)  # keys only move to the newcomer
    assert 0.10 < len(moved) / len(KEYS) < 0.30  # about 1/5


def test_map_based_removal_moves_most_keys(mk: Mk) -> None:
    b, servers = mk("A", "B", "C", "D", "E", algo="uri")
    before = mapping(b)
    set_state(b, servers[2], up=False)
    after = mapping(b)
    moved = sum(before[k] != after[k] for k in KEYS)
    assert moved / len(KEYS) > 0.5


def test_consistent_weight_change_is_dynamic(mk: Mk) -> None:
    b, servers = mk("A", "B", algo="uri", hash_type="consistent", avalanche=True)
    base = Counter(mapping(b).values())
    b.set_weight(servers[0], 4)
    heavier = Counter(mapping(b).values())
    assert heavier["A"] > base["A"] * 1.3
    b.set_weight(servers[0], 1)
    assert Counter(mapping(b).values()) == base


def test_map_based_distribution_follows_weights(mk: Mk) -> None:
    b, _ = mk("A:3", "B:1", "C:2", algo="hash req.cookie(id)", hash_function="crc32")
    rng = random.Random(3)
    n = 100_000
    counts = Counter(b.pick(rng.randbytes(8)).name for _ in range(n))  # type: ignore[union-attr]
    for name, w in {"A": 3, "B": 1, "C": 2}.items():
        assert abs(counts[name] / n - w / 6) < 0.02


def test_same_key_same_server_and_ids_matter(mk: Mk) -> None:
    b1, _ = mk("A:1:id=1", "B:1:id=2", algo="uri", hash_type="consistent", avalanche=True)
    b2, _ = mk("A:1:id=1", "B:1:id=2", algo="uri", hash_type="consistent", avalanche=True)
    assert mapping(b1) == mapping(b2)
    b3, _ = mk("A:1:id=7", "B:1:id=2", algo="uri", hash_type="consistent", avalanche=True)
    assert mapping(b3) != mapping(b1)


# -- fallback, avoid, bounded load --------------------------------------------------------


@pytest.mark.parametrize("hash_type", ["map-based", "consistent"])
def test_missing_key_falls_back_to_round_robin(mk: Mk, hash_type: str) -> None:
    b, _ = mk("A", "B", "C", algo="url_param id", hash_type=hash_type)
    names = Counter(b.pick(None).name for _ in range(300))  # type: ignore[union-attr]
    assert set(names) == {"A", "B", "C"}
    assert max(names.values()) - min(names.values()) <= 300 // 3  # roughly even


def test_map_based_fallback_is_static_rr(mk: Mk) -> None:
    b, _ = mk("A:3", "B", "C", algo="hdr(host)")
    assert "".join(b.pick().name for _ in range(10)) == "AABACAABAC"  # type: ignore[union-attr]


def test_consistent_avoid_walks_to_the_next_server(mk: Mk) -> None:
    b, _ = mk("A", "B", "C", algo="uri", hash_type="consistent", avalanche=True)
    for k in KEYS[:200]:
        first = b.pick(k)
        second = b.pick(k, avoid=first)
        assert second is not None
        assert second is not first


def test_map_based_hash_ignores_avoid(mk: Mk) -> None:
    b, _ = mk("A", "B", "C", algo="uri")
    for k in KEYS[:50]:
        s = b.pick(k)
        assert b.pick(k, avoid=s) is s  # the key designates one server, as in HAProxy


def test_bounded_load_caps_a_hot_key(mk: Mk) -> None:
    b, servers = mk(
        "A",
        "B",
        "C",
        "D",
        algo="uri",
        hash_type="consistent",
        avalanche=True,
        hash_balance_factor=125,
    )
    for _ in range(400):  # one hot key, every request kept
        s = b.pick(b"/hot")
        assert s is not None
        s.cur_sess += 1
        b.taken(s)
    loads = sorted(s.cur_sess for s in servers)
    assert loads[-1] <= 1.25 * 400 / 4 + 1
    assert b.served == 400


def test_hash_full_server_is_still_returned(mk: Mk) -> None:
    b, _ = mk("A:1:maxconn=1", "B:1:maxconn=1", algo="uri")
    s = b.pick(b"/x")
    assert s is not None
    s.cur_sess = 1
    assert b.pick(b"/x") is s  # the request queues on its server


# -- random -------------------------------------------------------------------------------


def test_random_is_reproducible_with_a_seeded_rng(mk: Mk) -> None:
    def run(seed: int) -> str:
        b, _ = mk("A", "B", "C", algo="random", seed=seed)
        return "".join(b.pick().name for _ in range(100))  # type: ignore[union-attr]

    assert run(42) == run(42)
    assert run(42) != run(43)
    assert set(run(42)) == {"A", "B", "C"}


def test_random_respects_weights(mk: Mk) -> None:
    b, _ = mk("A:1", "B:4", "Z:0", algo="random(1)")
    counts = Counter(b.pick().name for _ in range(20_000))  # type: ignore[union-attr]
    assert "Z" not in counts
    assert 2.5 < counts["B"] / counts["A"] < 6


def test_random_two_choices_balance_load(mk: Mk) -> None:
    def spread(algo: str) -> int:
        b, servers = mk(*[f"s{i}" for i in range(20)], algo=algo, seed=7)
        for _ in range(2000):
            s = b.pick()
            assert s is not None
            s.cur_sess += 1
            b.taken(s)
        return max(s.cur_sess for s in servers) - min(s.cur_sess for s in servers)

    assert spread("random(2)") < spread("random(1)")
    assert spread("random(2)") <= 10


def test_random_avoid_and_full(mk: Mk) -> None:
    b, (a, bb) = mk("A", "B:1:maxconn=1", algo="random")
    assert all(b.pick(avoid=a) is bb for _ in range(30))
    bb.cur_sess = 1
    # a full winner means "queue", not "settle for another"
    assert all(b.pick(avoid=a) is None for _ in range(30))
