"""What every algorithm inherits from the base: backups, weight 0, idempotent events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from weir.backend.server import Server, SrvState
from weir.balance.base import Balancer

Mk = Callable[..., tuple[Balancer, list[Server]]]

ALGOS = [
    ("roundrobin", {}),
    ("static-rr", {}),
    ("leastconn", {}),
    ("first", {}),
    ("random", {}),
    ("source", {}),
    ("uri", {"hash_type": "consistent", "avalanche": True}),
    ("hdr(host)", {"hash_function": "djb2"}),
]
IDS = [a for a, _ in ALGOS]


def served(b: Balancer, n: int = 60) -> Counter[str]:
    """Names picked over n picks with varied keys, connections kept (cur_sess grows)."""
    out: Counter[str] = Counter()
    for i in range(n):
        s = b.pick(bytes([10, 0, i // 256, i % 256]))
        if s is None:
            out["-"] += 1
            continue
        s.cur_sess += 1
        b.taken(s)
        out[s.name] += 1
    return out


def down(b: Balancer, s: Server) -> None:
    s.state = SrvState.DOWN
    b.server_down(s)


def up(b: Balancer, s: Server) -> None:
    s.state = SrvState.UP
    b.server_up(s)


@pytest.fixture(params=ALGOS, ids=IDS)
def algo(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    return request.param  # type: ignore[no-any-return]


def test_backups_only_when_all_active_are_down(mk: Mk, algo: tuple[str, dict]) -> None:
    name, kw = algo
    b, (a1, a2, b1, _b2) = mk("A1", "A2", "B1:1:backup", "B2:1:backup", algo=name, **kw)
    assert set(served(b)) <= {"A1", "A2"}
    assert not b.using_backup
    down(b, a1)
    assert set(served(b)) == {"A2"}
    down(b, a2)
    assert b.using_backup
    assert set(served(b)) == {"B1"}  # only the first backup, whatever the algorithm
    down(b, b1)
    assert set(served(b)) == {"B2"}
    up(b, b1)  # an earlier backup takes over again
    assert set(served(b)) == {"B1"}
    up(b, a2)
    assert set(served(b)) == {"A2"}


def test_allbackups_balances_over_all_of_them(mk: Mk, algo: tuple[str, dict]) -> None:
    name, kw = algo
    b, servers = mk(
        "A1", "B1:1:backup", "B2:1:backup", "B3:1:backup", algo=name, allbackups=True, **kw
    )
    down(b, servers[0])
    got = served(b, 300)
    if name == "first":
        assert set(got) == {"B1"}  # `first` still fills the lowest id first
    else:
        assert set(got) == {"B1", "B2", "B3"}


def test_nothing_usable(mk: Mk, algo: tuple[str, dict]) -> None:
    name, kw = algo
    b, servers = mk("A", "B:1:backup", algo=name, **kw)
    for s in servers:
        down(b, s)
    assert b.pick(b"k") is None
    assert b.pick(None) is None
    assert b.tot_weight == 0
    up(b, servers[1])
    assert b.pick(b"k") is servers[1]


def test_weight_zero_gets_nothing_and_comes_back(mk: Mk, algo: tuple[str, dict]) -> None:
    name, kw = algo
    b, (a, _, c) = mk("A", "B:0", "C", algo=name, **kw)
    assert "B" not in served(b)
    b.set_weight(a, 0)
    assert set(served(b)) == {"C"}
    b.set_weight(a, 1)
    b.set_weight(c, 0)
    assert set(served(b)) == {"A"}
    assert b.tot_weight == 1


def test_events_are_idempotent(mk: Mk, algo: tuple[str, dict]) -> None:
    name, kw = algo
    b, servers = mk("A", "B", "C", algo=name, **kw)
    a = servers[0]
    b.server_up(a)  # already up: nothing changes
    down(b, a)
    b.server_down(a)
    b.server_down(a)
    assert "A" not in served(b)
    up(b, a)
    b.server_up(a)
    b.set_weight(a, a.eweight)
    assert b.tot_weight == 3
    assert "A" in served(b, 200) or name == "first"


def test_drain_and_maint_states_are_not_usable(mk: Mk) -> None:
    b, (a, bb) = mk("A", "B")
    a.state = SrvState.DRAIN
    b.server_down(a)
    assert {b.pick() for _ in range(10)} == {bb}


def test_served_counts_taken_minus_released(mk: Mk) -> None:
    b, (a, bb) = mk("A", "B", algo="leastconn")
    for s in (a, bb, a):
        s.cur_sess += 1
        b.taken(s)
    a.cur_sess -= 1
    b.released(a)
    assert b.served == 2
