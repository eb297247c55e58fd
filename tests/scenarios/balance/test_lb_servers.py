"""Server options that shape balancing, in real weir processes: `weight 0`, `disabled`,
`backup` and `option allbackups`, `id`, `maxconn` (queueing), and a backend with no usable
server answering 503 at once rather than waiting for a queue timeout."""

from __future__ import annotations

import socket
from collections import Counter

import pytest

from tests.compat.helpers import curl
from tests.helpers.backends import wait_until
from tests.helpers.ports import free_port
from tests.scenarios.balance.lb import STATS, Client, abort, config, hold, stats

# Long connect and queue timeouts: a request that waited for either would make curl give
# up (max_time) long before weir answered, so a 503 here was an immediate one.
PATIENT = "timeout queue 30s\ntimeout connect 30s"


def test_weight_0_receives_no_new_traffic(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(config(port, f"server a {a.address} weight 0\nserver b {b.address}"), wait_ports=[port])
    with Client(port) as c:
        assert set(c.names(f"/{i}" for i in range(10))) == {"b"}
    assert a.requests == []


def test_disabled_server_receives_nothing(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(config(port, f"server a {a.address} disabled\nserver b {b.address}"), wait_ports=[port])
    with Client(port) as c:
        assert set(c.names(f"/{i}" for i in range(10))) == {"b"}
    assert a.requests == []


@pytest.mark.parametrize(
    "servers",
    [
        "server a {a} weight 0\nserver b {b} weight 0",
        "server a {a} disabled\nserver b {b} disabled",
        "server a {a} weight 0\nserver b {b} backup disabled",
        "server a {a} disabled\nserver b {b} backup weight 0",
    ],
    ids=["all-weight-0", "all-disabled", "weight-0-and-disabled-backup", "disabled-and-backup-0"],
)
def test_no_usable_server_is_an_immediate_503(weir, http_backend, servers: str) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        config(port, servers.format(a=a.address, b=b.address), defaults=PATIENT),
        wait_ports=[port],
    )
    for _ in range(3):
        r = curl(f"http://127.0.0.1:{port}/", max_time=5)
        assert r.status == 503
    assert a.requests == b.requests == []


def test_backup_serves_only_when_no_active_server_is_usable(weir, http_backend) -> None:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    port = free_port()
    weir(
        config(port, f"server a {a.address}\nserver b {b.address} backup\nserver c {c.address}"),
        wait_ports=[port],
    )
    with Client(port) as cl:
        assert Counter(cl.names(f"/{i}" for i in range(10))) == {"a": 5, "c": 5}
    assert b.requests == []


def test_active_weight_0_hands_over_to_the_backup(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        config(port, f"server a {a.address} weight 0\nserver b {b.address} backup"),
        wait_ports=[port],
    )
    with Client(port) as cl:
        assert set(cl.names(f"/{i}" for i in range(5))) == {"b"}


def test_without_allbackups_only_the_first_backup_serves(weir, http_backend) -> None:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    port = free_port()
    weir(
        config(
            port,
            f"server a {a.address} disabled\nserver b {b.address} backup\n"
            f"server c {c.address} backup",
        ),
        wait_ports=[port],
    )
    with Client(port) as cl:
        assert set(cl.names(f"/{i}" for i in range(10))) == {"b"}


def test_allbackups_balances_over_every_backup(weir, http_backend) -> None:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    port = free_port()
    weir(
        config(
            port,
            f"""option allbackups
            server a {a.address} disabled
            server b {b.address} backup
            server c {c.address} backup weight 3""",
        ),
        wait_ports=[port],
    )
    with Client(port) as cl:
        assert Counter(cl.names(f"/{i}" for i in range(20))) == {"b": 5, "c": 15}


def test_backup_takes_over_while_the_active_server_is_down(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    proxy = weir(
        config(
            port,
            f"""option httpchk GET /healthCheck.html
            server a {a.address} check inter 100ms rise 1 fall 1
            server b {b.address} backup""",
        ),
        wait_ports=[port],
    )
    with Client(port) as cl:
        assert set(cl.names(f"/{i}" for i in range(4))) == {"a"}
        a.health_status = 503
        assert proxy.wait_log(r"Server be/a is DOWN", timeout=10)
        assert set(cl.names(f"/down{i}" for i in range(4))) == {"b"}
        a.health_status = 200
        assert proxy.wait_log(r"Server be/a is UP", timeout=10)
        assert set(cl.names(f"/up{i}" for i in range(4))) == {"a"}


def test_ids_follow_haproxys_numbering(weir, http_backend) -> None:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    port = free_port()
    # An explicit id further down moves an earlier automatic one, and explicit ids push
    # the later automatic ones up: HAProxy 2.6 numbers these a=2, b=1, c=4.
    weir(
        config(
            port,
            f"server a {a.address}\nserver b {b.address} id 1\nserver c {c.address}",
            frontend=STATS,
        ),
        wait_ports=[port],
    )
    rows = stats(port)
    assert {n: rows[n]["sid"] for n in "abc"} == {"a": "2", "b": "1", "c": "4"}


def test_maxconn_queues_the_excess_until_a_slot_frees(weir, http_backend) -> None:
    a = http_backend("a", mode="no-response")
    port = free_port()
    weir(
        config(port, f"server a {a.address} maxconn 1", defaults=PATIENT, frontend=STATS),
        wait_ports=[port],
    )
    held: list[socket.socket] = []
    try:
        held.append(hold(port, "/1"))
        assert a.wait_requests(1, 10)
        held.append(hold(port, "/2"))
        assert wait_until(lambda: stats(port)["BACKEND"]["qcur"] == "1", 10)
        assert [r.path for r in a.requests] == ["/1"]  # the second one waits in the queue
        assert stats(port)["a"]["scur"] == "1"
        abort(held[0])  # the first request ends: its slot goes to the waiting one
        assert a.wait_requests(2, 10)
        assert [r.path for r in a.requests] == ["/1", "/2"]
        assert stats(port)["BACKEND"]["qcur"] == "0"
        # (No check of the backend's own connection count: weir frees the slot when it
        # closes the first connection, and the backend may see that close only after it
        # has accepted the next one.)
    finally:
        for s in held:
            s.close()


def test_weight_0_keeps_clients_that_persist_on_it(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        config(
            port,
            f"""cookie SRV insert indirect nocache
            server a {a.address} weight 0 cookie a
            server b {b.address} cookie b""",
        ),
        wait_ports=[port],
    )
    with Client(port) as cl:
        assert cl.get("/", {"Cookie": "SRV=a"})[1] == "a"  # draining: old clients stay
        assert set(cl.names(f"/{i}" for i in range(4))) == {"b"}  # new ones do not come


@pytest.mark.parametrize(("fullconn", "queued"), [(100, True), (2, False)])
def test_minconn_limit_follows_the_backend_load(
    weir, http_backend, fullconn: int, queued: bool
) -> None:
    """`minconn 1 maxconn 50`: the limit is max(1, load * 50 / fullconn). With fullconn
    100 a backend carrying two requests allows the server one; with fullconn 2 it allows
    all 50."""
    a = http_backend("a", mode="no-response")
    port = free_port()
    weir(
        config(
            port,
            f"fullconn {fullconn}\nserver a {a.address} minconn 1 maxconn 50",
            defaults=PATIENT,
            frontend=STATS,
        ),
        wait_ports=[port],
    )
    held: list[socket.socket] = []
    try:
        held.append(hold(port, "/1"))
        assert a.wait_requests(1, 10)
        held.append(hold(port, "/2"))
        if queued:
            assert wait_until(lambda: stats(port)["BACKEND"]["qcur"] == "1", 10)
            assert [r.path for r in a.requests] == ["/1"]
        else:
            assert a.wait_requests(2, 10)
            assert stats(port)["BACKEND"]["qcur"] == "0"
        assert stats(port)["BACKEND"]["slim"] == str(fullconn)
        assert stats(port)["a"]["slim"] == "50"
    finally:
        for s in held:
            s.close()
