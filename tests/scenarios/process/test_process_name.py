"""keepalived's checks find weir by name: `killall -0 weir` and `pidof weir` (the seed's
`vrrp_script` uses `killall -0 haproxy`), however weir was started."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.ports import free_port
from tests.scenarios.process.proc import start

CFG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:{port}
    monitor-uri /alive
"""


@pytest.mark.skipif(
    not (shutil.which("pidof") and shutil.which("killall")), reason="needs pidof and killall"
)
def test_pidof_and_killall_find_weir(tmp_path: Path) -> None:
    port = free_port()
    p = start(CFG.format(port=port), tmp_path, name="weir", wait_ports=[port])
    try:
        pids = subprocess.run(["pidof", "weir"], capture_output=True, text=True, check=False)
        assert str(p.pid) in pids.stdout.split()
        assert subprocess.run(["killall", "-0", "weir"], check=False).returncode == 0
        comm = Path(f"/proc/{p.pid}/comm").read_text().strip()
        assert comm == "weir"
        title = Path(f"/proc/{p.pid}/cmdline").read_bytes()
        assert title.split(b"\0")[0].split()[:2] == [b"weir", b"-db"]  # name, then arguments
    finally:
        p.stop()
