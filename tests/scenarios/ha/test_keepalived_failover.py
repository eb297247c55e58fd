"""The seed's keepalived walk-through, automated: two weir nodes behind one virtual IP
held by real keepalived (unicast VRRP) in private network namespaces; killing weir on the
master moves the virtual IP to the backup and the client goes on; restoring the master
takes the IP back (the master has the higher priority and may preempt). With a `peers`
section, a client stuck to a server on the master keeps that server on the backup.

Addresses are from 192.0.2.0/24 and exist only inside the test's namespaces. The failover
time is printed (a figure, never asserted beyond a generous bound).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.scenarios.ha.netns import Lab, available

VIP = "192.0.2.100"
NODES = {"n1": "192.0.2.11", "n2": "192.0.2.12"}
BACKENDS = {"b1": "192.0.2.31", "b2": "192.0.2.32"}
CLIENT = "192.0.2.20"
HEALTH_PORT = 8404

WEIR_CFG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend site
    bind {vip}:80
    default_backend app
frontend health
    bind {me}:{health}
    monitor-uri /health
backend app
    balance roundrobin
{persist}    server b1 {b1}:8080
    server b2 {b2}:8080
"""

# Persistence shared by the two nodes: the stick table replicates over the peers protocol.
PEERS_CFG = """\
peers ha
    peer n1 {n1}:10000
    peer n2 {n2}:10000
"""
PERSIST = """\
    stick-table type ip size 1k expire 10m peers ha
    stick on src
"""

KEEPALIVED_CFG = """\
global_defs {{
    router_id {name}
    script_user root
}}
vrrp_script chk_weir {{
    script "/usr/bin/curl -fsS -o /dev/null -m 1 http://{me}:{health}/health"
    interval 1
    fall 1
    rise 1
    weight -20
}}
vrrp_instance VI_1 {{
    state {state}
    interface eth0
    virtual_router_id 51
    priority {priority}
    advert_int 1
    unicast_src_ip {me}
    unicast_peer {{
        {peer}
    }}
    virtual_ipaddress {{
        {vip}/24 dev eth0
    }}
    track_script {{
        chk_weir
    }}
}}
"""


def _why_not() -> str | None:
    if shutil.which("keepalived") is None:
        return "needs keepalived (Debian package keepalived)"
    if shutil.which("curl") is None:
        return "needs curl"
    return available()


pytestmark = pytest.mark.skipif(_why_not() is not None, reason=str(_why_not()))


def _wait(cond: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return False


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


def _start_weir(lab: Lab, name: str, *, peers: bool = False) -> subprocess.Popen[bytes]:
    cfg = lab.dir / f"{name}.cfg"
    text = WEIR_CFG.format(
        vip=VIP,
        me=NODES[name],
        health=HEALTH_PORT,
        b1=BACKENDS["b1"],
        b2=BACKENDS["b2"],
        persist=PERSIST if peers else "",
    )
    cfg.write_text(PEERS_CFG.format(**NODES) + text if peers else text)
    argv = [sys.executable, "-m", "weir", "-db", "-f", str(cfg), "-L", name]
    return lab.run(lab.ns[name], argv, f"weir-{name}.log")


def _healthy(lab: Lab, name: str) -> bool:
    url = f"http://{NODES[name]}:{HEALTH_PORT}/health"
    return lab.sh(lab.ns["cl"], "curl", "-fsS", "-o", "/dev/null", "-m", "1", url).returncode == 0


def _get(lab: Lab, client: str = "cl") -> str | None:
    r = lab.sh(lab.ns[client], "curl", "-fsS", "-m", "1", f"http://{VIP}/", timeout=5)
    return r.stdout.strip() if r.returncode == 0 else None


def _start_pair(lab: Lab, *, peers: bool = False) -> dict[str, subprocess.Popen[bytes]]:
    """Backends, the client, two weir nodes and their keepalived; n1 holds the VIP."""
    for name, address in BACKENDS.items():
        ns = lab.host(name, address)
        lab.run(
            ns,
            [sys.executable, str(Path(__file__).with_name("nsbackend.py")), name, address, "8080"],
            f"{name}.log",
        )
    lab.host("cl", CLIENT)
    weirs = {}
    for name, address in NODES.items():
        ns = lab.host(name, address)
        assert lab.sh(ns, "sysctl", "-qw", "net.ipv4.ip_nonlocal_bind=1").returncode == 0
        weirs[name] = _start_weir(lab, name, peers=peers)
    for name in NODES:
        assert _wait(lambda n=name: _healthy(lab, n), 20), lab.log(f"weir-{name}.log")
    for name, state, prio, peer in (("n1", "MASTER", 101, "n2"), ("n2", "BACKUP", 100, "n1")):
        conf = lab.dir / f"keepalived-{name}.conf"
        conf.write_text(
            KEEPALIVED_CFG.format(
                name=name,
                me=NODES[name],
                peer=NODES[peer],
                health=HEALTH_PORT,
                state=state,
                priority=prio,
                vip=VIP,
            )
        )
        run = lab.dir / name
        pids = ["-p", f"{run}.pid", "-r", f"{run}-vrrp.pid", "-c", f"{run}-chk.pid"]
        argv = ["keepalived", "-n", "-l", "-D", "-P", "-f", str(conf), *pids]
        lab.run(lab.ns[name], argv, f"keepalived-{name}.log")
    n1, n2 = lab.ns["n1"], lab.ns["n2"]
    assert _wait(lambda: lab.has_address(n1, VIP), 20), lab.log("keepalived-n1.log")
    assert not lab.has_address(n2, VIP)
    return weirs


def _fail_master(lab: Lab, weirs: dict[str, subprocess.Popen[bytes]]) -> float:
    """Kill weir on the master; how long until the client was served again."""
    weirs["n1"].send_signal(signal.SIGKILL)
    weirs["n1"].wait(5)
    t0 = time.monotonic()
    assert _wait(lambda: _get(lab) is not None, 30, step=0.2), lab.log("keepalived-n2.log")
    assert lab.has_address(lab.ns["n2"], VIP)
    assert not lab.has_address(lab.ns["n1"], VIP)
    return time.monotonic() - t0


def test_failover_moves_the_virtual_ip_and_back(lab: Lab) -> None:
    weirs = _start_pair(lab)
    n1 = lab.ns["n1"]
    seen = {_get(lab) for _ in range(6)}
    assert seen == {"b1", "b2"}, seen

    # The master's weir dies: its check fails, its priority drops below the backup's.
    failover = _fail_master(lab, weirs)
    print(f"\nfailover: the client was served again after {failover:.1f} s")

    # weir is back on the master: its check passes, it takes the IP back.
    weirs["n1"] = _start_weir(lab, "n1")
    assert _wait(lambda: _healthy(lab, "n1"), 20), lab.log("weir-n1.log")
    assert _wait(lambda: lab.has_address(n1, VIP), 30), lab.log("keepalived-n1.log")
    assert _wait(lambda: _get(lab) is not None, 10)


def test_failover_keeps_each_client_on_its_server(lab: Lab) -> None:
    lab.host("cl2", "192.0.2.21")
    weirs = _start_pair(lab, peers=True)
    # On the master, the first client is given b1 and the second b2 (round robin), and
    # each sticks to it. The backup has served nobody: left to itself, its round robin
    # would give the second client b1.
    assert _get(lab, "cl2") == "b1"
    assert [_get(lab) for _ in range(3)] == ["b2"] * 3
    _fail_master(lab, weirs)
    assert [_get(lab) for _ in range(3)] == ["b2"] * 3, lab.log("weir-n2.log")
    assert _get(lab, "cl2") == "b1"
