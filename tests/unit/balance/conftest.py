"""Shared fixtures for the balancer tests.

- `mk(*specs, algo=..., **params) -> (balancer, servers)`: servers from short specs
  ("A", "A:3", "D:2:backup", "A:1:maxconn=2", "A:1:id=10"), puid = position unless
  given, and the balancer for `algo` (seeded rng).
- `script(balancer, servers, ops, key_for=None) -> str`: plays an event script the way
  the HAProxy recordings in these tests were made and returns the picks as letters:
  "p5" five picks (each keeps its connection: cur_sess+1 then `taken`), "c2" closes the
  third oldest open connection (cur_sess-1 then `released`), "wA=4" `set_weight`,
  "dA" / "uA" maintenance / ready (state change then `server_down` / `server_up`);
  every event writes "|". `key_for(position)` gives the key of a pick, position being
  the length of the output so far.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from weir.backend.server import Server, SrvState
from weir.balance import make_balancer, parse_balance
from weir.balance.base import Balancer

Made = tuple[Balancer, list[Server]]


def make_servers(*specs: str) -> list[Server]:
    out = []
    for i, spec in enumerate(specs):
        name, *rest = spec.split(":")
        weight = int(rest[0]) if rest else 1
        opts = rest[1:]
        kw: dict[str, Any] = {"puid": i + 1, "weight": weight}
        for o in opts:
            if o == "backup":
                kw["backup"] = True
            elif o.startswith("maxconn="):
                kw["maxconn"] = int(o.split("=")[1])
            elif o.startswith("id="):
                kw["puid"] = int(o.split("=")[1])
            else:
                raise ValueError(o)
        out.append(Server(name, "127.0.0.1", 8000 + i, **kw))
    return out


@pytest.fixture
def mk() -> Callable[..., Made]:
    def make(*specs: str, algo: str = "roundrobin", seed: int = 1, **params: Any) -> Made:
        servers = make_servers(*specs)
        p = replace(parse_balance(algo.split()), **params)
        return make_balancer(servers, p, rng=random.Random(seed)), servers

    return make


def play(
    b: Balancer,
    servers: list[Server],
    ops: str,
    key_for: Callable[[int], bytes | None] | None = None,
) -> str:
    by_name = {s.name: s for s in servers}
    live: list[Server] = []
    out: list[str] = []
    for op in ops.split():
        kind, rest = op[0], op[1:]
        if kind == "p":
            for _ in range(int(rest or 1)):
                s = b.pick(key_for(len(out)) if key_for else None)
                assert s is not None
                s.cur_sess += 1
                b.taken(s)
                live.append(s)
                out.append(s.name)
            continue
        if kind == "c":
            s = live.pop(int(rest))
            s.cur_sess -= 1
            b.released(s)
            continue
        if kind == "w":
            name, w = rest.split("=")
            b.set_weight(by_name[name], int(w))
        elif kind == "d":
            by_name[rest].state = SrvState.MAINT
            b.server_down(by_name[rest])
        elif kind == "u":
            by_name[rest].state = SrvState.UP
            b.server_up(by_name[rest])
        else:
            raise ValueError(op)
        out.append("|")
    return "".join(out)


@pytest.fixture
def script() -> Callable[..., str]:
    return play
