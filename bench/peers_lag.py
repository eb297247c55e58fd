"""Replication lag over the peers protocol, weir and HAProxy 2.6 side by side.

    python bench/peers_lag.py [--seconds 2] [--repeat 3] [--proxies weir,haproxy]

Two nodes of the same kind share one stick table (`type string`, one entry per request:
wrk sends a new key in every request's X-K header, and the node tracks it and answers
itself, with no backend). wrk loads node A for `--seconds`; then the runtime API of both
nodes is read every 5 ms until node B holds as many entries as node A. Printed per run:
the updates made, their rate, and the lag (from the end of the load until B has them
all). Figures, never asserts; the machine is shared, so compare the two proxies in the
same run rather than absolute figures.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.helpers.ports import free_port  # noqa: E402
from tests.helpers.procs import HAPROXY_BIN, ProxyProcess, weir_argv  # noqa: E402

WRK_BIN = shutil.which("wrk") or "/usr/bin/wrk"

NODE = """\
global
    localpeer {me}
    stats socket {sock} level admin
{nbthread}peers mesh
    peer a 127.0.0.1:{pa}
    peer b 127.0.0.1:{pb}
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:{port}
    stick-table type string len 32 size 1m expire 10m peers mesh store http_req_cnt
    http-request track-sc0 req.hdr(x-k)
    http-request return status 200 content-type text/plain string ok
"""

# A new key in every request: the thread's number and a counter.
WRK_LUA = """\
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", "/", {["X-K"] = tid .. "-" .. n})
end
"""


def used(sock: Path) -> int:
    """The entry count of table `fe`, from the runtime API."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"show table\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    m = re.search(rb"used:(\d+)", data)
    return int(m.group(1)) if m else -1


def one_run(kind: str, tmp: Path, seconds: float, lua: Path) -> tuple[int, float, float]:
    """(updates, their rate per second, lag in seconds) for one pair of `kind` nodes."""
    pa, pb = free_port(), free_port()
    nodes = []
    for me in ("a", "b"):
        d = tmp / f"{kind}-{me}-{time.monotonic_ns()}"
        d.mkdir()
        port = free_port()
        cfg = NODE.format(
            me=me,
            sock=d / "api.sock",
            nbthread="    nbthread 1\n" if kind == "haproxy" else "",
            pa=pa,
            pb=pb,
            port=port,
        )
        argv = weir_argv if kind == "weir" else (lambda path: [HAPROXY_BIN, "-db", "-f", path])
        p = ProxyProcess(cfg, argv, name=f"{kind}-{me}", workdir=d)
        p.start(wait_ports=[port], timeout=20)
        nodes.append((p, port, d / "api.sock"))
    try:
        (_, port_a, sock_a), (_, _, sock_b) = nodes
        time.sleep(1.0)  # the two nodes connect and finish their start-up resync
        subprocess.run(
            [
                WRK_BIN,
                "-t2",
                "-c20",
                f"-d{seconds:g}s",
                "-s",
                str(lua),
                f"http://127.0.0.1:{port_a}/",
            ],
            check=True,
            capture_output=True,
            timeout=seconds + 30,
        )
        end = time.monotonic()
        made = used(sock_a)
        deadline = end + 60
        while used(sock_b) < made and time.monotonic() < deadline:
            time.sleep(0.005)
        lag = time.monotonic() - end
        return made, made / seconds, lag
    finally:
        for p, _, _ in nodes:
            p.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--proxies", default="weir,haproxy")
    args = ap.parse_args(argv)
    kinds = [k for k in args.proxies.split(",") if k]
    tmp = Path(tempfile.mkdtemp(prefix="weir-peers-lag-"))
    lua = tmp / "keys.lua"
    lua.write_text(WRK_LUA)
    results: dict[str, list[tuple[int, float, float]]] = {k: [] for k in kinds}
    for rep in range(1, args.repeat + 1):
        for kind in kinds:  # interleaved
            made, rate, lag = one_run(kind, tmp, args.seconds, lua)
            results[kind].append((made, rate, lag))
            print(
                f"[{rep}] {kind:8} {made:7,} updates at {rate:9,.0f}/s; "
                f"the peer had them all {lag * 1000:7.1f} ms after the load ended",
                file=sys.stderr,
            )
    print(f"\n{'proxy':8} {'updates/s':>10} {'lag ms (median)':>16}")
    for kind, rows in results.items():
        rate = statistics.median(r[1] for r in rows)
        lag = statistics.median(r[2] for r in rows) * 1000
        print(f"{kind:8} {rate:10,.0f} {lag:16.1f}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
