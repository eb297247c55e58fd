"""`slowstart`: HAProxy's ramp of the effective weight after a DOWN to UP transition.

The ramp's arithmetic and its stepping are checked in this process (a warm-up stepped by
hand on an event loop that does not run, so no time passes); the hook in the health
checks and "not at start" are checked in a real weir process through its statistics.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import pytest

from tests.helpers.backends import wait_until
from tests.helpers.ports import free_port
from tests.scenarios.balance.lb import STATS, config, stats
from weir.backend import slowstart
from weir.backend.server import Server, SrvState
from weir.balance import make_balancer, parse_balance


@pytest.mark.parametrize(
    ("uweight", "elapsed", "seconds", "weight"),
    [
        # HAProxy's sixteenths: weight * (16 * elapsed + seconds) // seconds / 16
        (16, 0, 3, 1),
        (16, 1, 3, 6),
        (16, 2, 3, 11),
        (16, 3, 3, 16),  # time is up: full weight
        (32, 5, 10, 18),  # 32 * 9 / 16
        (10, 5, 10, 6),  # 10 * 9 / 16 = 5.6, rounded up to a whole unit
        (10, 0, 10, 1),  # at least 1
        (1, 0, 60, 1),  # weight 1 cannot be throttled in whole units
        (256, 0, 16, 16),
        (256, 15, 16, 256),  # the last sixteenth is reached a second early
        (0, 0, 10, 0),  # a draining server stays at 0
        (7, 0, 0, 7),  # no slow start
        (7, -1, 10, 7),  # a clock that went back: full weight, as HAProxy
        (7, 11, 10, 7),
    ],
)
def test_ramp_weight(uweight: int, elapsed: int, seconds: int, weight: int) -> None:
    assert slowstart.ramp_weight(uweight, elapsed, seconds) == weight


@pytest.mark.parametrize(("ms", "seconds"), [(0, 0), (1, 1), (999, 1), (1000, 1), (1001, 2)])
def test_slowstart_rounds_up_to_seconds(ms: int, seconds: int) -> None:
    assert slowstart.slowstart_seconds(ms) == seconds


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    lp = asyncio.new_event_loop()
    yield lp
    lp.close()


def _pair(algo: str = "roundrobin") -> tuple[object, Server, Server]:
    a = Server("a", "127.0.0.1", 1, puid=1, weight=16)
    b = Server("b", "127.0.0.1", 2, puid=2, weight=16)
    return make_balancer([a, b], parse_balance(algo.split())), a, b


def _came_up(balancer, srv: Server, ms: int, loop) -> slowstart.Warmup | None:
    """What the health check does on a DOWN to UP transition."""
    srv.state = SrvState.UP
    warmup = slowstart.begin(balancer, srv, ms, loop=loop)
    balancer.server_up(srv)
    return warmup


def test_a_server_coming_up_ramps_then_runs_at_full_weight(loop) -> None:
    balancer, a, _ = _pair()
    a.state = SrvState.DOWN
    balancer.server_down(a)
    w = _came_up(balancer, a, 3000, loop)
    assert w is not None
    assert slowstart.warming(a) is w
    assert a.eweight == 1
    assert slowstart.throttle(a) == 7  # 1/16, rounded up
    # the balancer honours the reduced weight: 1 pick in 17 for a (once its round robin
    # cycle, which it joined midway, has come round)
    for _ in range(17):
        balancer.pick()
    assert Counter(balancer.pick().name for _ in range(170)) == {"a": 10, "b": 160}
    seen = []
    for second in (1, 2, 3):
        going = w.step(w.start + second)
        seen.append(a.eweight)
        assert going is (second < 3)
    assert seen == [6, 11, 16]
    assert slowstart.warming(a) is None
    assert slowstart.throttle(a) is None
    picks = Counter(balancer.pick().name for _ in range(32 * 10))
    assert abs(picks["a"] - picks["b"]) <= 16  # even shares from the next cycle on


def test_a_server_going_down_stops_its_ramp_and_the_next_rise_starts_over(loop) -> None:
    balancer, a, _ = _pair()
    a.state = SrvState.DOWN
    balancer.server_down(a)
    w1 = _came_up(balancer, a, 10_000, loop)
    assert w1 is not None
    w1.step(w1.start + 5)
    assert a.eweight == 9
    a.state = SrvState.DOWN
    balancer.server_down(a)
    assert w1.step(w1.start + 6) is False  # the ramp ends; the weight is left alone
    assert a.eweight == 9
    assert slowstart.warming(a) is None
    w2 = _came_up(balancer, a, 10_000, loop)
    assert w2 is not None
    assert a.eweight == 1  # from the start again
    assert w1.step(w1.start + 7) is False  # a replaced ramp never touches the weight
    assert a.eweight == 1
    slowstart.cancel(a)
    assert slowstart.warming(a) is None


def test_weight_follows_the_user_weight_read_at_each_step(loop) -> None:
    balancer, a, _ = _pair()
    w = _came_up(balancer, a, 4000, loop)
    assert w is not None
    a.uweight = 64  # e.g. a runtime weight change during the ramp
    w.step(w.start + 2)
    assert a.eweight == 64 * 9 // 16
    w.step(w.start + 4)
    assert a.eweight == 64


@pytest.mark.parametrize("algo", ["static-rr", "uri"])  # uri: map-based hashing
def test_static_algorithms_come_back_at_full_weight(loop, algo: str) -> None:
    balancer, a, _ = _pair(algo)
    a.state = SrvState.DOWN
    balancer.server_down(a)
    assert _came_up(balancer, a, 10_000, loop) is None
    assert a.eweight == 16


def test_no_ramp_without_slowstart_or_with_weight_0(loop) -> None:
    balancer, a, b = _pair()
    assert _came_up(balancer, a, 0, loop) is None
    assert a.eweight == 16
    b.uweight = b.eweight = 0
    assert _came_up(balancer, b, 10_000, loop) is None
    assert b.eweight == 0


def test_timer_steps_the_ramp_to_full_weight(loop) -> None:
    # A real, running loop: 1 s steps over a 2 s ramp. Only the end state is asserted.
    balancer, a, _ = _pair()
    a.state = SrvState.DOWN
    balancer.server_down(a)

    async def scenario() -> list[int]:
        seen = []
        w = _came_up(balancer, a, 2000, asyncio.get_running_loop())
        assert w is not None
        while slowstart.warming(a) is w:
            seen.append(a.eweight)
            await asyncio.sleep(0.05)
        return seen

    seen = loop.run_until_complete(asyncio.wait_for(scenario(), 10))
    assert a.eweight == 16
    assert seen[0] == 1
    assert seen == sorted(seen)
    assert set(seen) <= {1, 9}  # 1/16, then 9/16 after the first second


def test_in_a_real_process_slowstart_ramps_after_a_rise_but_not_at_start(
    weir, http_backend
) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    proxy = weir(
        config(
            port,
            f"""option httpchk GET /healthCheck.html
            server a {a.address} weight 16 slowstart 3s check inter 100ms rise 1 fall 1
            server b {b.address} weight 16""",
            frontend=STATS,
        ),
        wait_ports=[port],
    )

    def weight() -> int:
        return int(stats(port)["a"]["weight"])

    # At start: full weight at once, before and after the first checks.
    assert weight() == 16
    assert wait_until(lambda: a.checks != [], 10)
    assert weight() == 16
    a.health_status = 503
    assert proxy.wait_log(r"Server be/a is DOWN", timeout=10)
    a.health_status = 200
    assert proxy.wait_log(r"Server be/a is UP", timeout=10)
    seen = [weight()]
    assert wait_until(lambda: seen.append(weight()) or seen[-1] == 16, 15, interval=0.05)
    assert seen[0] < 16
    assert seen == sorted(seen)
    assert set(seen) <= {1, 6, 11, 16}  # HAProxy's steps for 3 s: 1/16, 6/16, 11/16
