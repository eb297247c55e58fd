"""The rise/fall state machine and check intervals, as pure functions."""

from __future__ import annotations

import pytest

from weir.check.health import (
    after_check,
    first_delays_ms,
    initial_health,
    interval_ms,
    is_up,
    jittered_ms,
    top,
)


def run(health: int, rise: int, fall: int, results: str) -> list[int]:
    """Apply results ('+' passed, '-' failed) one by one; the health after each."""
    out = []
    for r in results:
        health = after_check(health, rise, fall, r == "+")
        out.append(health)
    return out


def test_fully_up_server_goes_down_after_fall_failures() -> None:
    rise, fall = 2, 3
    seq = run(top(rise, fall), rise, fall, "---")
    assert seq == [3, 2, 0]
    assert [is_up(h, rise) for h in seq] == [True, True, False]


def test_fully_down_server_comes_up_after_rise_successes() -> None:
    rise, fall = 2, 3
    seq = run(0, rise, fall, "++")
    assert seq == [1, 4]
    assert [is_up(h, rise) for h in seq] == [False, True]


def test_a_success_in_between_resets_the_fall() -> None:
    rise, fall = 2, 3
    seq = run(top(rise, fall), rise, fall, "--+--")
    assert seq == [3, 2, 4, 3, 2]
    assert all(is_up(h, rise) for h in seq)


def test_a_failure_while_rising_starts_over() -> None:
    rise, fall = 3, 2
    seq = run(0, rise, fall, "++-+++")
    # Below `rise`, any failure drops straight back to 0: the rise must be consecutive.
    assert seq == [1, 2, 0, 1, 2, 4]
    assert [is_up(h, rise) for h in seq] == [False, False, False, False, False, True]


def test_start_up_state_falls_at_the_first_failure() -> None:
    # HAProxy 2.6: "up, but will fall down at first failure".
    rise, fall = 2, 3
    start = initial_health(rise, fall, maint=False)
    assert start == rise
    assert is_up(start, rise)
    assert run(start, rise, fall, "-") == [0]
    assert run(start, rise, fall, "+") == [top(rise, fall)]


def test_maintenance_starts_at_zero() -> None:
    assert initial_health(2, 3, maint=True) == 0


def test_rise_and_fall_of_one() -> None:
    assert run(1, 1, 1, "-+-") == [0, 1, 0]


@pytest.mark.parametrize(
    ("health", "down", "expected"),
    [
        (4, False, 2000),  # fully up: inter
        (3, False, 500),  # going down: fastinter
        (2, False, 500),  # start-up state (health == rise): fastinter
        (1, True, 500),  # going up: fastinter
        (0, True, 7000),  # fully down: downinter
    ],
)
def test_interval_follows_the_health(health: int, down: bool, expected: int) -> None:
    assert interval_ms(health, 2, 3, down, 2000, 500, 7000) == expected


def test_intervals_default_to_inter() -> None:
    assert interval_ms(0, 2, 3, True, 2000, 0, 0) == 2000
    assert interval_ms(3, 2, 3, False, 2000, 0, 0) == 2000


def test_first_checks_are_spread_over_the_smallest_interval() -> None:
    assert first_delays_ms([2000, 2000, 2000, 2000]) == [0, 500, 1000, 1500]
    # A larger own interval is used for that check; short ones do not set the spread.
    assert first_delays_ms([100, 4000, 2000]) == [0, 1333, 1333]
    assert first_delays_ms([100, 100]) == [0, 50]
    assert first_delays_ms([]) == []


def test_max_spread_checks_bounds_the_spreading() -> None:
    assert first_delays_ms([20000, 20000, 20000, 20000], max_spread=4000) == [0, 1000, 2000, 3000]
    assert first_delays_ms([20000, 20000]) == [0, 10000]


def test_spread_checks_jitter() -> None:
    assert jittered_ms(2000, 0, 0.9) == 2000
    assert jittered_ms(2000, 10, 0.0) == 2200  # up to +10%
    assert jittered_ms(2000, 10, 1.0) == 1800  # down to -10%
    assert jittered_ms(2000, 10, 0.5) == 2000
    assert all(1500 <= jittered_ms(2000, 25, d / 100) <= 2500 for d in range(101))
