"""`balance roundrobin` (FWRR) and `balance static-rr`.

The `HAPROXY_*` sequences were recorded from HAProxy 2.6.12 (Debian 2.6.12-1+deb12u4):
a `mode tcp` listener with the same servers (ids by position) in front of local HTTP
responders, each pick a new connection kept open, the events sent on the stats socket
(`set weight`, `set server ... state maint|ready`), with the same script as `script`
plays here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from weir.backend.server import Server, SrvState
from weir.balance.base import Balancer
from weir.balance.hash_map import build_map

Mk = Callable[..., tuple[Balancer, list[Server]]]
Script = Callable[..., str]


def picks(b: Balancer, n: int, avoid: Server | None = None) -> str:
    out = []
    for _ in range(n):
        s = b.pick(avoid=avoid)
        out.append("-" if s is None else s.name)
    return "".join(out)


# -- roundrobin ---------------------------------------------------------------------------


def test_weights_3_1_1_interleave_like_haproxy(mk: Mk) -> None:
    b, _ = mk("A:3", "B:1", "C:1")
    # HAProxy's FWRR order: the heavy server is spread out, never three in a row
    assert picks(b, 15) == "AABAC" * 3


def test_equal_weights_rotate_in_declaration_order(mk: Mk) -> None:
    b, _ = mk("A", "B", "C", "D")
    assert picks(b, 9) == "ABCDABCDA"


HAPROXY_RR_SCRIPT = "p12 wA=1 p10 wC=4 p12 dB p6 uB p12"
HAPROXY_RR = "AABACAABACAA|BCABCABCAB|CCABCCCCABCC|CCACCC|CACBCCCACBCC"


def test_weight_and_state_changes_match_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A:3", "B:1", "C:1")
    assert script(b, servers, HAPROXY_RR_SCRIPT) == HAPROXY_RR


def test_first_backup_then_allbackups_match_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A", "B", "D:2:backup", "E:1:backup")
    assert script(b, servers, "p3 dA dB p4 dD p3 uD p2 uA p3") == "ABA||DDDD|EEE|DD|AAA"
    b, servers = mk("A", "B", "D:2:backup", "E:1:backup", allbackups=True)
    assert script(b, servers, "p3 dA dB p9") == "ABA||DDEDDEDDE"


@pytest.mark.parametrize("algo", ["roundrobin", "static-rr"])
def test_distribution_follows_weights(mk: Mk, algo: str) -> None:
    b, _ = mk("A:5", "B:3", "C:2", "D:7", "E:1", algo=algo)
    n = 100_000
    counts = Counter(picks(b, n))
    for name, w in {"A": 5, "B": 3, "C": 2, "D": 7, "E": 1}.items():
        assert abs(counts[name] / n - w / 18) < 0.02


def test_set_weight_takes_effect(mk: Mk) -> None:
    b, servers = mk("A", "B")
    picks(b, 10)
    b.set_weight(servers[0], 4)
    counts = Counter(picks(b, 1000))
    assert abs(counts["A"] / 1000 - 0.8) < 0.02
    b.set_weight(servers[0], 0)
    assert set(picks(b, 50)) == {"B"}
    b.set_weight(servers[0], 1)
    assert set(picks(b, 50)) == {"A", "B"}


def test_weight_zero_receives_nothing(mk: Mk) -> None:
    b, _ = mk("A:0", "B", "C")
    assert "A" not in picks(b, 100)


def test_avoid_and_full_servers_are_skipped(mk: Mk) -> None:
    b, servers = mk("A", "B", "C:1:maxconn=1")
    a = servers[0]
    assert "A" not in picks(b, 30, avoid=a)
    servers[2].cur_sess = 1  # full: maxconn reached
    assert set(picks(b, 30)) == {"A", "B"}
    b2, (only,) = mk("A")
    assert b2.pick(avoid=only) is only  # nothing else can serve


def test_all_full_returns_none_but_tot_weight_says_usable(mk: Mk) -> None:
    b, servers = mk("A:1:maxconn=1", "B:1:maxconn=1")
    for s in servers:
        s.cur_sess = 1
    assert b.pick() is None
    assert b.tot_weight == 2
    servers[1].cur_sess = 0
    assert picks(b, 4) == "BBBB"


def test_no_usable_server(mk: Mk) -> None:
    b, servers = mk("A", "B")
    for s in servers:
        s.state = SrvState.DOWN
        b.server_down(s)
    assert b.pick() is None
    assert b.tot_weight == 0


def test_many_servers_get_equal_turns(mk: Mk) -> None:
    b, _ = mk(*[f"s{i}" for i in range(1000)])
    counts = Counter(b.pick().name for _ in range(5000))  # type: ignore[union-attr]
    assert set(counts.values()) == {5}


# -- static-rr ----------------------------------------------------------------------------

HAPROXY_SRR = "ABBDABDCABDBADBCDABB|ADADCDADAC|BDABDCABDBADBCDAB"


def test_static_rr_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A:4", "B:6", "C:2", "D:5", algo="static-rr")
    assert script(b, servers, "p20 dB p10 uB p17") == HAPROXY_SRR


def test_static_rr_ignores_weight_changes_except_zero(mk: Mk) -> None:
    b, servers = mk("A:3", "B:1", "C:1", algo="static-rr")
    before = picks(b, 10)
    b.set_weight(servers[1], 50)  # ignored: static
    assert picks(b, 10) == before
    b.set_weight(servers[1], 0)
    assert "B" not in picks(b, 20)
    assert not b.dynamic


def _haproxy_map(weights: list[int]) -> list[int]:
    """The slot table by HAProxy's own rule (lb_map.c recalc_server_map), O(slots x n)."""
    tot = sum(weights)
    score = [0] * len(weights)
    out = []
    for _ in range(tot):
        best, top = -1, 0
        for i, w in enumerate(weights):
            score[i] += w
            num = score[i] + tot
            v = num // tot if num >= 0 else -((-num) // tot)  # C division
            if best < 0 or v > top:
                best, top = i, v
        out.append(best)
        score[best] -= tot
    return out


def test_fast_map_builder_equals_haproxy_rule() -> None:
    import random

    rng = random.Random(5)
    cases = [[1], [3, 1, 1], [4, 6, 2, 5], [1] * 50, [256, 1, 255]]
    cases += [[rng.randint(1, 40) for _ in range(rng.randint(1, 12))] for _ in range(60)]
    for weights in cases:
        servers = [Server(str(i), "h", 1, puid=i + 1) for i in range(len(weights))]
        table = build_map(list(zip(servers, weights, strict=True)))
        assert [servers.index(s) for s in table] == _haproxy_map(weights), weights
