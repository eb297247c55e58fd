"""Micro-benchmark of the balancing algorithms: nanoseconds per pick.

For each algorithm and backend size (10, 100, 1000 servers, weights 1..4) it prints:
- pick:  `pick(key)` alone (leastconn and first are left out: without `taken` their
         answer never changes, so a pick alone measures nothing real);
- cycle: `pick(key)` + `taken` + `released` of the connection picked n/2 picks earlier,
         i.e. a steady state with about one connection in flight per two servers;
- the 1000/10 ratio of the cycle, the figure that shows O(log n) (target <= 2x).

Hash algorithms hash a rotating set of 1024 URIs of 20-30 bytes; the hash function's
cost per byte is part of their figure. Best of 3 runs. Figures, not asserts.

    python bench/micro_balance.py [--quick]
"""

from __future__ import annotations

import random
import sys
import time
from collections import deque
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weir.backend.server import Server
from weir.balance import make_balancer, parse_balance
from weir.balance.base import BalanceParams

SIZES = (10, 100, 1000)
CASES: list[tuple[str, BalanceParams]] = [
    ("roundrobin", parse_balance(["roundrobin"])),
    ("static-rr", parse_balance(["static-rr"])),
    ("leastconn", parse_balance(["leastconn"])),
    ("first", parse_balance(["first"])),
    ("random(2)", parse_balance(["random"])),
    ("source map-based", parse_balance(["source"])),
    ("uri map-based", parse_balance(["uri"])),
    ("uri consistent", replace(parse_balance(["uri"]), hash_type="consistent", avalanche=True)),
    (
        "uri consistent hbf150",
        replace(
            parse_balance(["uri"]), hash_type="consistent", avalanche=True, hash_balance_factor=150
        ),
    ),
]
NO_PICK_ALONE = {"leastconn", "first"}


def servers(n: int) -> list[Server]:
    rng = random.Random(n)
    return [
        Server(f"s{i}", "127.0.0.1", 10000 + i, puid=i + 1, weight=rng.randint(1, 4))
        for i in range(n)
    ]


def keys_for(params: BalanceParams) -> list[bytes | None]:
    rng = random.Random(0)
    if params.algo == "source":
        return [
            bytes([10, rng.randrange(256), rng.randrange(256), rng.randrange(256)])
            for _ in range(1024)
        ]
    if params.is_hash:
        return [f"/static/{rng.randrange(10**9)}/img{i}.png".encode() for i in range(1024)]
    return [None] * 1024


def time_picks(params: BalanceParams, n: int, count: int) -> float:
    b = make_balancer(servers(n), params, rng=random.Random(1))
    keys = keys_for(params)
    pick = b.pick
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        for i in range(count):
            pick(keys[i & 1023])
        best = min(best, (time.perf_counter_ns() - t0) / count)
    return best


def time_cycles(params: BalanceParams, n: int, count: int) -> float:
    b = make_balancer(servers(n), params, rng=random.Random(1))
    keys = keys_for(params)
    pick, taken, released = b.pick, b.taken, b.released
    inflight: deque[Server] = deque()
    for i in range(n // 2):  # warm up to the steady state
        s = pick(keys[i & 1023])
        assert s is not None
        s.cur_sess += 1
        taken(s)
        inflight.append(s)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        for i in range(count):
            s = pick(keys[i & 1023])
            if s is not None:
                s.cur_sess += 1
                taken(s)
                inflight.append(s)
            old = inflight.popleft()
            old.cur_sess -= 1
            released(old)
        best = min(best, (time.perf_counter_ns() - t0) / count)
    return best


def main() -> None:
    count = 20_000 if "--quick" in sys.argv else 100_000
    head = f"{'algorithm':<24}" + "".join(f"{'pick/' + str(n):>11}" for n in SIZES)
    head += "".join(f"{'cycle/' + str(n):>12}" for n in SIZES) + f"{'1000/10':>9}"
    print("ns per operation (best of 3)")
    print(head)
    for name, params in CASES:
        row = f"{name:<24}"
        for n in SIZES:
            if name in NO_PICK_ALONE:
                row += f"{'-':>11}"
            else:
                row += f"{time_picks(params, n, count):>11.0f}"
        cycles = [time_cycles(params, n, count) for n in SIZES]
        row += "".join(f"{c:>12.0f}" for c in cycles)
        row += f"{cycles[-1] / cycles[0]:>8.2f}x"
        print(row, flush=True)


if __name__ == "__main__":
    main()
