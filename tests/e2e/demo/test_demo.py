"""`weir demo` end to end: the introduction's L7 walk-through on loopback.

Routing by path prefix, cookie persistence, the stats page, and the health-check demo
(rename ms1.srv1's healthCheck.html: the server goes DOWN with L7STS/404, then back UP).
The demo uses the walk-through's fixed ports (9001, 1080, 8080-8082 on 127.0.0.1/.2).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import port_in_use, wait_port

STATS = "http://127.0.0.1:1080/stats;csv"


def _server_row(name: str) -> dict[str, str]:
    r = curl(STATS, "-u", "admin:admin")
    lines = r.body.decode().splitlines()
    header = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("svname") == name:
            return row
    raise AssertionError(f"no stats row for {name}")


def _wait_status(name: str, status: str, timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    row = _server_row(name)
    while row["status"] != status and time.monotonic() < deadline:
        time.sleep(0.25)
        row = _server_row(name)
    return row


@pytest.mark.timeout(90)
def test_demo_walk_through() -> None:
    if any(port_in_use(p) for p in (9001, 1080, 8080, 8081, 8082)):
        pytest.skip("a port of the demo is taken on this machine")
    proc = subprocess.Popen(
        [sys.executable, "-m", "weir", "demo"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_port(9001, timeout=15)
        assert wait_port(1080, timeout=15)
        banner = ""
        assert proc.stdout is not None
        for _ in range(40):
            line = proc.stdout.readline()
            banner += line
            if "Press Ctrl-C" in line:
                break
        root = Path(re.search(r"mv (\S+)/ms1\.srv1/healthCheck\.html ", banner).group(1))  # type: ignore[union-attr]

        base = "http://127.0.0.1:9001"
        first = curl(base + "/ms1/demo.html")
        second = curl(base + "/ms1/demo.html")
        assert {first.body, second.body} == {
            b"Hello! This is ms1.srv1!\n",
            b"Hello! This is ms1.srv2!\n",
        }
        assert curl(base + "/ms2/demo.html").body.startswith(b"Hello! This is ms2.")
        assert curl(base + "/def/demo.html").body.startswith(b"Hello! This is def.")
        cookie = first.header("set-cookie")
        assert cookie is not None
        assert cookie.startswith("HA_STICKY_ms1=ms1.srv")
        sticky = cookie.split(";")[0]
        for _ in range(3):  # the cookie keeps the client on its server
            assert curl(base + "/ms1/demo.html", "-b", sticky).body == first.body

        assert curl("http://127.0.0.1:1080/stats").status == 401
        assert _wait_status("ms1.srv1", "UP", 10)["check_status"] == "L7OK"

        page = root / "ms1.srv1" / "healthCheck.html"
        page.rename(page.with_suffix(".html.bak"))
        row = _wait_status("ms1.srv1", "DOWN", 20)
        assert row["status"] == "DOWN"
        assert row["check_status"] == "L7STS"
        assert row["check_code"] == "404"
        for _ in range(4):  # traffic avoids the DOWN server
            assert curl(base + "/ms1/demo.html").body == b"Hello! This is ms1.srv2!\n"

        page.with_suffix(".html.bak").rename(page)
        assert _wait_status("ms1.srv1", "UP", 20)["status"] == "UP"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
