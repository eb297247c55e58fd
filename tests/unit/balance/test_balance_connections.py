"""`balance leastconn` and `balance first`: the algorithms that follow `cur_sess`.

The `HAPROXY_*` sequences were recorded from HAProxy 2.6.12 the same way as in
test_balance_roundrobin.py: every pick keeps its connection open, "cK" closes the K-th
oldest one, events go through the stats socket.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from weir.backend.server import Server
from weir.balance.base import Balancer

Mk = Callable[..., tuple[Balancer, list[Server]]]
Script = Callable[..., str]


def take(b: Balancer, avoid: Server | None = None) -> Server:
    s = b.pick(avoid=avoid)
    assert s is not None
    s.cur_sess += 1
    b.taken(s)
    return s


def release(b: Balancer, s: Server) -> None:
    s.cur_sess -= 1
    b.released(s)


# -- leastconn ----------------------------------------------------------------------------


def test_leastconn_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A:1", "B:1", "C:2", algo="leastconn")
    assert script(b, servers, "p6 c0 c2 p4 wC=1 p3 c1 c1 p5") == "ABCCCACBAC|BABCACBA"


def test_leastconn_with_maxconn_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A:1:maxconn=2", "B:2:maxconn=1", "C:1", algo="leastconn")
    assert script(b, servers, "p8 c1 p2 c0 c0 p3") == "ABCACCCCBCACC"


def test_leastconn_round_robin_among_equals(mk: Mk) -> None:
    b, _ = mk("A", "B", "C", algo="leastconn")
    # without taken(), nothing changes: the same idle server comes back
    assert {b.pick() for _ in range(5)} == {b.pick()}
    names = "".join(take(b).name for _ in range(9))
    assert names == "ABCABCABC"


def test_leastconn_prefers_fewest_connections_per_weight(mk: Mk) -> None:
    b, servers = mk("A", "B", "C:3", algo="leastconn")
    a, bb, c = servers
    for _ in range(4):
        a.cur_sess += 1
        b.taken(a)
    got = Counter(take(b).name for _ in range(50))
    # C has three times B's weight: it ends with about three times B's connections
    assert abs(c.cur_sess / bb.cur_sess - 3) < 0.5
    assert got["A"] < got["B"]
    for _ in range(c.cur_sess):
        release(b, c)
    assert b.pick() is c  # idle again: first


def test_leastconn_distribution_with_weights(mk: Mk) -> None:
    b, servers = mk("A:1", "B:2", "C:5", algo="leastconn")
    n = 100_000
    for _ in range(n):
        take(b)
    for s, w in zip(servers, (1, 2, 5), strict=True):
        assert abs(s.cur_sess / n - w / 8) < 0.02


def test_leastconn_full_servers_wait_for_a_release(mk: Mk) -> None:
    b, (a, _) = mk("A:1:maxconn=1", "B:1:maxconn=2", algo="leastconn")
    assert [take(b).name for _ in range(3)] == ["A", "B", "B"]
    assert b.pick() is None  # all full: the caller queues
    release(b, a)
    assert b.pick() is a


def test_leastconn_avoid(mk: Mk) -> None:
    b, (a, bb) = mk("A", "B", algo="leastconn")
    assert b.pick(avoid=a) is bb
    b2, (only,) = mk("A", algo="leastconn")
    assert b2.pick(avoid=only) is only


def test_leastconn_server_down_then_up_keeps_counts(mk: Mk, script: Script) -> None:
    b, servers = mk("A", "B", algo="leastconn")
    assert script(b, servers, "p4 dA p2 uA p2") == "ABAB|BB|AA"


# -- first --------------------------------------------------------------------------------


def test_first_matches_haproxy(mk: Mk, script: Script) -> None:
    b, servers = mk("A:1:maxconn=2", "B:1:maxconn=3", "C", algo="first")
    assert script(b, servers, "p7 c0 p2 c3 c0 p3") == "AABBBCCACABC"


def test_first_uses_ids_not_declaration_order(mk: Mk) -> None:
    b, _ = mk("A:1:id=30", "B:1:id=10", "C:1:id=20", algo="first")
    assert b.pick().name == "B"  # type: ignore[union-attr]


def test_first_ignores_weights_but_not_zero(mk: Mk) -> None:
    b, servers = mk("A:1:maxconn=1", "B:100", algo="first")
    assert take(b).name == "A"
    assert take(b).name == "B"
    assert take(b).name == "B"
    release(b, servers[0])
    b.set_weight(servers[0], 0)
    assert take(b).name == "B"


def test_first_without_maxconn_takes_everything(mk: Mk) -> None:
    b, _ = mk("A", "B", algo="first")
    assert {take(b).name for _ in range(100)} == {"A"}


def test_first_avoid_and_all_full(mk: Mk) -> None:
    b, (a, bb) = mk("A:1:maxconn=1", "B:1:maxconn=1", algo="first")
    assert b.pick(avoid=a) is bb
    take(b)
    take(b)
    assert b.pick() is None
    release(b, bb)
    assert b.pick(avoid=bb) is bb  # the only one with room
