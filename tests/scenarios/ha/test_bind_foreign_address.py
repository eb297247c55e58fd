"""`bind ... freebind` / `transparent`: weir starts listening on an address this node does
not have yet (a keepalived backup node and its virtual IP), and serves it once the address
arrives. Without the option the bind fails. Inside private network namespaces, with an
address from 192.0.2.0/24 that exists only there."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.scenarios.ha.netns import Lab, available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

NODE, VIP, CLIENT = "192.0.2.11", "192.0.2.100", "192.0.2.20"

CFG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend site
    bind {vip}:80 {option}
    monitor-uri /alive
"""


def _wait(cond: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    lab = Lab(tmp_path)
    try:
        yield lab
    finally:
        lab.close()


@pytest.mark.parametrize("option", ["freebind", "transparent"])
def test_bind_before_the_address_exists(lab: Lab, option: str) -> None:
    node = lab.host("n1", NODE)
    client = lab.host("cl", CLIENT)
    cfg = lab.dir / "weir.cfg"
    cfg.write_text(CFG.format(vip=VIP, option=option))
    weir = lab.run(node, [sys.executable, "-m", "weir", "-db", "-f", str(cfg)], "weir.log")

    def serves() -> bool:
        r = lab.sh(client, "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "1",
                   f"http://{VIP}/alive")  # fmt: skip
        return r.stdout == "200"

    # Listening although the node does not have the address: nothing answers yet.
    assert _wait(lambda: f"{VIP}:80" in lab.sh(node, "ss", "-ltnH").stdout, 20), lab.log("weir.log")
    assert weir.poll() is None
    assert not serves()
    # The address arrives (keepalived adding the virtual IP): weir serves it.
    assert lab.sh(node, "ip", "addr", "add", f"{VIP}/24", "dev", "eth0").returncode == 0
    assert _wait(serves, 10), lab.log("weir.log")


def test_without_the_option_the_bind_fails(lab: Lab) -> None:
    node = lab.host("n1", NODE)
    cfg = lab.dir / "weir.cfg"
    cfg.write_text(CFG.format(vip=VIP, option=""))
    weir = lab.run(node, [sys.executable, "-m", "weir", "-db", "-f", str(cfg)], "weir.log")
    assert weir.wait(20) != 0
    assert "cannot" in lab.log("weir.log").lower()
