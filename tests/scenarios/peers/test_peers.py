"""Stick-table replication over the peers protocol, on loopback: two weir nodes share a
table both ways; a restarted node learns the whole table from its peer; a reload hands the
table to the new process; and a weir node and an HAProxy 2.6 node form one peers group."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

NODE = """\
global
    localpeer {me}
    stats socket {sock} level admin
peers mesh
    peer {a} 127.0.0.1:{pa}
    peer {b} 127.0.0.1:{pb}
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 5m peers mesh store http_req_cnt,gpc0,http_req_rate(60s)
    http-request track-sc0 src
    http-request sc-inc-gpc0(0) if {{ path_beg /mark }}
    default_backend be
backend be
    server s1 {backend}
"""


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def _entry(sock: Path, table: str, key: str) -> str:
    for line in _cli(sock, f"show table {table}").splitlines():
        if f" key={key} " in line:
            return line
    return ""


def _wait_for(sock: Path, table: str, key: str, *wanted: str, seconds: float = 15) -> str:
    """The table's line for `key` once it shows every `wanted` part (bounded)."""
    line = ""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = _entry(sock, table, key)
        except subprocess.CalledProcessError:  # the socket of a process still starting
            line = ""
        if line and all(w in line for w in wanted):
            return line
        time.sleep(0.1)
    raise AssertionError(f"{table}/{key}: wanted {wanted}, last seen {line!r}")


def _wait_in_step(*socks: Path, seconds: float = 20) -> None:
    """Until every node has a session with its peer and has done learning the tables at
    start (bounded). Traffic before that races the resync: what a node is taught at start
    replaces what it counted meanwhile, as on HAProxy."""
    for sock in socks:
        shown = ""
        deadline = time.monotonic() + seconds
        while not ("resync=finished" in shown and "(remote,active)" in shown):
            assert time.monotonic() < deadline, shown
            time.sleep(0.1)
            try:
                shown = _cli(sock, "show peers")
            except subprocess.CalledProcessError:  # the socket of a process still starting
                shown = ""


class Node:
    def __init__(self, name: str, tmp_path: Path, ports: dict[str, int], backend: str) -> None:
        self.name = name
        self.port = free_port()
        self.sock = tmp_path / f"{name}.sock"
        names = sorted(ports)
        self.cfg = NODE.format(
            me=name,
            sock=self.sock,
            a=names[0],
            pa=ports[names[0]],
            b=names[1],
            pb=ports[names[1]],
            port=self.port,
            backend=backend,
        )

    def get(self, path: str = "/") -> int:
        return curl(f"http://127.0.0.1:{self.port}{path}").status


def _pair(tmp_path: Path, backend: str) -> tuple[Node, Node]:
    ports = {"lb1": free_port(), "lb2": free_port()}
    return Node("lb1", tmp_path, ports, backend), Node("lb2", tmp_path, ports, backend)


def test_two_nodes_share_a_table_both_ways(weir: Any, http_backend: Any, tmp_path: Path) -> None:
    be = http_backend("a")
    a, b = _pair(tmp_path, be.address)
    weir(a.cfg, wait_ports=[a.port])
    weir(b.cfg, wait_ports=[b.port])
    _wait_in_step(a.sock, b.sock)
    assert [a.get() for _ in range(3)] == [200] * 3
    assert a.get("/mark") == 200
    _wait_for(b.sock, "fe", "127.0.0.1", "http_req_cnt=4", "gpc0=1")
    # The node that learnt the entry counts on from there, and the first node learns that.
    assert [b.get() for _ in range(2)] == [200] * 2
    line = _wait_for(a.sock, "fe", "127.0.0.1", "http_req_cnt=6")
    assert "gpc0=1" in line
    assert "http_req_rate(60000)=6" in line
    deadline = time.monotonic() + 15
    while "resync=finished" not in (shown := _cli(a.sock, "show peers")):
        assert time.monotonic() < deadline, shown
        time.sleep(0.1)
    assert "id=mesh disabled=0 local=lb1 resync=finished tables=1" in shown
    assert "id=lb2(remote,active)" in shown
    assert "last_status=ESTA" in shown
    assert _cli(a.sock, "show peers nosuch").strip() == "Unknown peers section 'nosuch'."


def test_a_restarted_node_learns_the_whole_table(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    be = http_backend("a")
    a, b = _pair(tmp_path, be.address)
    first_a = weir(a.cfg, wait_ports=[a.port])
    weir(b.cfg, wait_ports=[b.port])
    _wait_in_step(a.sock, b.sock)
    assert [a.get() for _ in range(3)] == [200] * 3
    _wait_for(b.sock, "fe", "127.0.0.1", "http_req_cnt=3")
    first_a.stop()
    # b learnt the entry from a: it is not in b's own updates, so only a resync (the
    # whole table, asked by the new a) brings it back.
    weir(a.cfg, wait_ports=[a.port])
    _wait_for(a.sock, "fe", "127.0.0.1", "http_req_cnt=3")
    assert a.get() == 200
    _wait_for(b.sock, "fe", "127.0.0.1", "http_req_cnt=4")


def test_a_weir_node_and_an_haproxy_node_form_one_group(
    weir: Any, haproxy: Any, http_backend: Any, tmp_path: Path
) -> None:
    be = http_backend("a")
    ha, wr = _pair(tmp_path, be.address)
    haproxy(ha.cfg, wait_ports=[ha.port])
    weir(wr.cfg, wait_ports=[wr.port])
    _wait_in_step(wr.sock)
    assert [ha.get() for _ in range(2)] == [200] * 2
    assert ha.get("/mark") == 200
    _wait_for(wr.sock, "fe", "127.0.0.1", "http_req_cnt=3", "gpc0=1")
    assert [wr.get("/mark") for _ in range(2)] == [200] * 2
    line = _wait_for(ha.sock, "fe", "127.0.0.1", "http_req_cnt=5", "gpc0=3")
    assert "http_req_rate(60000)=5" in line


def test_a_reload_hands_the_table_to_the_new_process(http_backend: Any, tmp_path: Path) -> None:
    from tests.scenarios.process.proc import reload_sf, start, wait_gone

    be = http_backend("a")
    port, peer_port = free_port(), free_port()
    sock = tmp_path / "api.sock"
    # A section with this node alone: what it replicates is its own next process.
    cfg = NODE.format(
        me="lb1", sock=sock, a="lb1", pa=peer_port, b="lb1", pb=peer_port, port=port,
        backend=be.address,
    ).replace(f"    peer lb1 127.0.0.1:{peer_port}\n", "", 1)  # fmt: skip
    old = start(cfg, tmp_path / "old", name="old", wait_ports=[port])
    new = None
    try:
        assert [curl(f"http://127.0.0.1:{port}/").status for _ in range(3)] == [200] * 3
        new = reload_sf(old, cfg, tmp_path / "new", name="new")
        assert wait_gone(old.pid, timeout=15), old.log
        _wait_for(sock, "fe", "127.0.0.1", "http_req_cnt=3")
        assert curl(f"http://127.0.0.1:{port}/").status == 200
        _wait_for(sock, "fe", "127.0.0.1", "http_req_cnt=4")
    finally:
        if new is not None:
            new.stop()
        old.stop()


def test_string_keys_replicate_between_weir_and_haproxy(
    weir: Any, haproxy: Any, http_backend: Any, tmp_path: Path
) -> None:
    """HAProxy counts a string key's terminating NUL in the table's key size."""
    be = http_backend("a")
    ha, wr = _pair(tmp_path, be.address)
    for node in (ha, wr):
        node.cfg = node.cfg.replace("type ip size", "type string len 8 size").replace(
            "track-sc0 src", "track-sc0 req.hdr(x-user)"
        )
    haproxy(ha.cfg, wait_ports=[ha.port])
    weir(wr.cfg, wait_ports=[wr.port])
    _wait_in_step(wr.sock)
    assert curl(f"http://127.0.0.1:{ha.port}/", "-H", "x-user: alice").status == 200
    _wait_for(wr.sock, "fe", "alice", "http_req_cnt=1")
    assert curl(f"http://127.0.0.1:{wr.port}/", "-H", "x-user: bob-the-builder").status == 200
    _wait_for(ha.sock, "fe", "bob-the-", "http_req_cnt=1")  # cut to 8 characters on both


STICKY = """\
global
    localpeer {me}
    stats socket {sock} level admin
peers mesh
    peer lb1 127.0.0.1:{pa}
    peer lb2 127.0.0.1:{pb}
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    stick-table type ip size 1k expire 5m peers mesh
    stick on src
    server s1 {s1}
    server s2 {s2}
"""


def test_a_client_stuck_on_haproxy_keeps_its_server_on_weir(
    weir: Any, haproxy: Any, http_backend: Any, tmp_path: Path
) -> None:
    s1, s2 = http_backend("s1"), http_backend("s2")
    pa, pb, ha_port, wr_port = free_port(), free_port(), free_port(), free_port()
    ha_sock, wr_sock = tmp_path / "ha.sock", tmp_path / "wr.sock"
    common = {"pa": pa, "pb": pb, "s1": s1.address, "s2": s2.address}
    haproxy(STICKY.format(me="lb1", sock=ha_sock, port=ha_port, **common), wait_ports=[ha_port])
    weir(STICKY.format(me="lb2", sock=wr_sock, port=wr_port, **common), wait_ports=[wr_port])
    _wait_in_step(wr_sock)
    # On HAProxy, 127.0.0.2 gets s1 and 127.0.0.1 gets s2; weir, left to its own round
    # robin, would give 127.0.0.1 its first server, s1.
    assert curl(f"http://127.0.0.1:{ha_port}/a", "--interface", "127.0.0.2").status == 200
    assert curl(f"http://127.0.0.1:{ha_port}/b").status == 200
    assert ([r.path for r in s1.requests], [r.path for r in s2.requests]) == (["/a"], ["/b"])
    line = _wait_for(wr_sock, "be", "127.0.0.1", "server_id=2")
    assert "server_key=s2" in line
    assert [curl(f"http://127.0.0.1:{wr_port}/c").status for _ in range(2)] == [200] * 2
    assert [r.path for r in s2.requests] == ["/b", "/c", "/c"]


def test_a_reload_keeps_tables_without_any_peers_section(http_backend: Any, tmp_path: Path) -> None:
    """HAProxy loses a table on reload unless a peers section names this node; weir hands
    every table to the new process."""
    from tests.scenarios.process.proc import reload_sf, start, wait_gone

    be = http_backend("a")
    port = free_port()
    sock = tmp_path / "api.sock"
    cfg = f"""\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 5m store http_req_cnt,gpc0
    http-request track-sc0 src
    http-request sc-inc-gpc0(0) if {{ path_beg /mark }}
    default_backend be
backend be
    stick-table type string len 16 size 1k expire 5m
    stick on req.hdr(x-user)
    server s1 {be.address}
"""
    old = start(cfg, tmp_path / "old", name="old", wait_ports=[port])
    new = None
    try:
        assert curl(f"http://127.0.0.1:{port}/mark", "-H", "x-user: alice").status == 200
        assert curl(f"http://127.0.0.1:{port}/").status == 200
        new = reload_sf(old, cfg, tmp_path / "new", name="new")
        assert wait_gone(old.pid, timeout=15), old.log
        _wait_for(sock, "fe", "127.0.0.1", "http_req_cnt=2", "gpc0=1")
        _wait_for(sock, "be", "alice", "server_id=1")
    finally:
        if new is not None:
            new.stop()
        old.stop()


def test_a_master_reload_hands_the_tables_to_the_new_worker(
    http_backend: Any, tmp_path: Path
) -> None:
    import os
    import signal

    from tests.helpers.backends import wait_until
    from tests.scenarios.process.proc import children, start

    be = http_backend("a")
    port = free_port()
    sock = tmp_path / "api.sock"
    cfg = f"""\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 5m store http_req_cnt
    http-request track-sc0 src
    default_backend be
backend be
    server s1 {be.address}
"""
    master = start(cfg, tmp_path, "-W", name="master", wait_ports=[port])
    try:
        assert [curl(f"http://127.0.0.1:{port}/").status for _ in range(3)] == [200] * 3
        (old,) = children(master.pid)
        os.kill(master.pid, signal.SIGUSR2)
        assert wait_until(lambda: old not in children(master.pid), timeout=20), master.log
        _wait_for(sock, "fe", "127.0.0.1", "http_req_cnt=3")
    finally:
        master.stop()


def test_a_peer_that_is_down_costs_nothing_but_retries(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    be = http_backend("a")
    a, _ = _pair(tmp_path, be.address)  # lb2 is never started
    weir(a.cfg, wait_ports=[a.port])
    assert [a.get() for _ in range(20)] == [200] * 20
    _wait_for(a.sock, "fe", "127.0.0.1", "http_req_cnt=20")
    deadline = time.monotonic() + 15
    while True:  # it keeps trying, a little later each time
        shown = _cli(a.sock, "show peers")
        line = next(x for x in shown.splitlines() if "new_conn=" in x)
        if int(line.split("new_conn=")[1].split()[0]) >= 2:
            break
        assert time.monotonic() < deadline, shown
        time.sleep(0.2)
    assert "id=lb2(remote,inactive)" in shown
    assert "last_status=CONN" in shown


def _wait_for_workers(sock: Path) -> None:
    """Until both workers have answered that their session with the other is up."""
    up: set[str] = set()
    deadline = time.monotonic() + 20
    while len(up) < 2:
        assert time.monotonic() < deadline, up
        try:
            out = _cli(sock, "show info;show peers")
        except subprocess.CalledProcessError:
            continue
        pid = next(x for x in out.splitlines() if x.startswith("Pid:"))
        if "id=(workers)" in out and "(remote,active)" in out:
            up.add(pid)
        time.sleep(0.05)


def test_workers_share_their_tables(weir: Any, http_backend: Any, tmp_path: Path) -> None:
    """With nbthread 2, the two worker processes keep one table in step: whichever worker
    answers the runtime API shows every request, wherever it was served; and a rate limit
    counts requests across both."""
    be = http_backend("a")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        f"""\
global
    nbthread 2
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 5m store http_req_cnt
    http-request track-sc0 src
    http-request deny deny_status 429 if {{ sc_http_req_cnt(0) gt 12 }}
    default_backend be
backend be
    server s1 {be.address}
""",
        wait_ports=[port],
    )
    _wait_for_workers(sock)
    statuses = [curl(f"http://127.0.0.1:{port}/").status for _ in range(15)]
    assert statuses == [200] * 12 + [429] * 3
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(seen) < 2:  # until both workers have answered
        assert time.monotonic() < deadline, seen
        try:
            out = _cli(sock, "show info;show table fe")
        except subprocess.CalledProcessError:
            continue
        pid = next(x for x in out.splitlines() if x.startswith("Pid:"))
        seen[pid] = next((x for x in out.splitlines() if " key=127.0.0.1 " in x), "")
    assert all("http_req_cnt=15" in line for line in seen.values()), seen
    # The statistics add up what every worker served (the others' counters come once a
    # second): both workers report the frontend's 15 sessions and 12 served requests.
    totals: dict[str, tuple[str, str, str]] = {}
    deadline = time.monotonic() + 20
    while len(totals) < 2 or any(t != ("15", "3", "15") for t in totals.values()):
        assert time.monotonic() < deadline, totals
        try:
            out = _cli(sock, "show info;show stat")
        except subprocess.CalledProcessError:
            continue
        pid = next(x for x in out.splitlines() if x.startswith("Pid:"))
        head = next(x for x in out.splitlines() if x.startswith("# pxname"))
        names = head[2:].split(",")
        row = next(x for x in out.splitlines() if x.startswith("fe,FRONTEND,")).split(",")
        conns = next(x for x in out.splitlines() if x.startswith("CumConns:")).split()[1]
        totals[pid] = (row[names.index("stot")], row[names.index("dreq")], conns)
        time.sleep(0.1)


def test_workers_probe_each_server_once_and_agree(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    """With nbthread 2, the first worker probes and the other follows its outcomes: a
    server that stops is marked DOWN once (one log line, not one per worker), and both
    workers' statistics say so."""
    be = http_backend("a")
    port = free_port()
    sock = tmp_path / "api.sock"
    p = weir(
        f"""\
global
    nbthread 2
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    option httpchk GET /health
    server s1 {be.address} check inter 100ms fall 2 rise 2
""",
        wait_ports=[port],
    )
    be.stop()
    deadline = time.monotonic() + 20
    while "be/s1 is DOWN" not in p.log:
        assert time.monotonic() < deadline, p.log
        time.sleep(0.1)
    seen: dict[str, str] = {}
    while len(seen) < 2 or not all(",DOWN," in row for row in seen.values()):
        assert time.monotonic() < deadline, seen  # both workers answer, and say DOWN
        try:
            out = _cli(sock, "show info;show stat")
        except subprocess.CalledProcessError:
            continue
        pid = next(x for x in out.splitlines() if x.startswith("Pid:"))
        seen[pid] = next((x for x in out.splitlines() if x.startswith("be,s1,")), "")
    time.sleep(1.0)  # several more failed checks: still one state-change line
    assert p.log.count("be/s1 is DOWN") == 1, p.log


def test_an_api_command_reaches_every_worker(weir: Any, http_backend: Any, tmp_path: Path) -> None:
    """With nbthread 2, `disable server` sent to whichever worker answers the socket puts
    the server in maintenance in both: no request reaches it afterwards, wherever it is
    served."""
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        f"""\
global
    nbthread 2
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server a {a.address}
    server b {b.address}
""",
        wait_ports=[port],
    )
    _wait_for_workers(sock)
    _cli(sock, "disable server be/a")
    seen: dict[str, str] = {}
    deadline = time.monotonic() + 20
    while len(seen) < 2 or not all(",MAINT," in row for row in seen.values()):
        assert time.monotonic() < deadline, seen  # both workers answer, and say MAINT
        out = _cli(sock, "show info;show stat")
        pid = next(x for x in out.splitlines() if x.startswith("Pid:"))
        seen[pid] = next((x for x in out.splitlines() if x.startswith("be,a,")), "")
    before = len(a.requests)
    assert [curl(f"http://127.0.0.1:{port}/").status for _ in range(12)] == [200] * 12
    assert len(a.requests) == before
    assert len(b.requests) >= 12
