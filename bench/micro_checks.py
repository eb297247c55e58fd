"""Micro-benchmark of health checks: the CPU that 1,000 checked servers cost.

Runs weir's check scheduler (the real loader, runtime and `start_checks`, on uvloop) for
N servers with `check inter 2s` against one local listener for a while, and prints the
CPU seconds this process used while only the checks ran, per check and as a share of one
core. The listener runs in a child process, so its CPU is not counted; it accepts and
closes (TCP checks) or answers a one-line HTTP 200 (`--http`, with `option httpchk`).
The number of checks completed in the window tells whether they kept their pace (about
servers x seconds / inter). With `--haproxy`, HAProxy 2.6 then runs the same checks
against the same listener, as the reference: its CPU is read from /proc, and its checks
are counted as that expected number (a TCP check of HAProxy, like weir's, resets the
connection before the listener accepts it, so the listener cannot count them).
Figures, not asserts.

    python bench/micro_checks.py [--servers 1000] [--inter 2000] [--seconds 20] [--http]
                                 [--haproxy]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import weir.check.keywords  # noqa: F401  (registers the keywords)
from weir.check import check_config, start_checks
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.net.loop import new_loop
from weir.proxy.runtime import Runtime, build

LISTENER = r"""
import asyncio, sys
import uvloop

HTTP = sys.argv[1] == "http"
RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"

class Peer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        if not HTTP:
            transport.close()
    def data_received(self, data):
        if b"\r\n\r\n" in data:
            self.transport.write(RESPONSE)
            self.transport.close()

async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Peer, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)

uvloop.run(main())
"""


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) of process `pid`, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def config(port: int, servers: int, inter: int, http: bool) -> str:
    lines = [
        "defaults",
        "    timeout connect 5s",
        "    timeout client 10s",
        "    timeout server 10s",
        "backend be",
        "    option httpchk GET /health" if http else "    # TCP checks",
    ]
    lines += [f"    server s{i} 127.0.0.1:{port} check inter {inter}ms" for i in range(servers)]
    return "\n".join(lines) + "\n"


def runtime(text: str) -> Runtime:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "haproxy.cfg"
        path.write_text(text)
        diags = Diagnostics()
        cfg = load([str(path)], diags, env={})
        check_config(cfg, diags)
    alerts = [d.message for d in diags.items if d.level is Level.ALERT]
    if alerts:
        raise SystemExit(f"configuration refused: {alerts[:3]}")
    return build(cfg)


Window = tuple[float, float, int]  # CPU seconds, wall seconds, checks run


async def measure_weir(rt: Runtime, seconds: float, inter: int) -> Window:
    """The measured window starts once every check has had the time to run twice."""
    loop = asyncio.get_running_loop()
    sched = start_checks(loop, rt.backends.values(), say=lambda level, message: None)

    def count() -> int:
        return sum(c.runs for c in sched.checks)

    await asyncio.sleep(2 * inter / 1000 + 0.5)
    n0, c0, t0 = count(), cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    c1, t1, n1 = cpu(), time.monotonic(), count()
    sched.stop()
    await sched.wait_stopped()
    servers = rt.backends["be"].servers
    bad = sum(1 for s in servers if s.check_status not in ("L4OK", "L7OK"))
    if bad:
        print(f"warning: {bad} servers ended with a failed check", file=sys.stderr)
    return c1 - c0, t1 - t0, n1 - n0


def measure_haproxy(text: str, seconds: float, inter: int, servers: int) -> Window:
    """The same window for HAProxy 2.6 running the same configuration (one thread)."""
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "haproxy.cfg"
        with socket.socket() as probe:  # HAProxy will not run without a listener
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        listener = f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
        path.write_text("global\n    nbthread 1\n" + text + listener)
        proc = subprocess.Popen([binary, "-db", "-q", "-f", str(path)], stdout=subprocess.DEVNULL)
        try:
            time.sleep(2 * inter / 1000 + 0.5)
            c0, t0 = proc_cpu(proc.pid), time.monotonic()
            time.sleep(seconds)
            c1, t1 = proc_cpu(proc.pid), time.monotonic()
        finally:
            proc.terminate()
            proc.wait(5)
    return c1 - c0, t1 - t0, round(servers * (t1 - t0) / (inter / 1000))


def report(who: str, window: Window, servers: int, inter: int) -> None:
    used, wall, n = window
    expected = servers * wall / (inter / 1000)
    per = f", {1e6 * used / n:.0f} us per check" if n else ""
    print(
        f"{who}: {n} checks (expected about {expected:.0f}), CPU {used:.3f} s "
        f"= {100 * used / wall:.2f}% of one core{per}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--inter", type=int, default=2000, help="check interval, ms")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--http", action="store_true", help="option httpchk instead of TCP checks")
    ap.add_argument("--haproxy", action="store_true", help="also measure HAProxy 2.6")
    args = ap.parse_args()
    child = subprocess.Popen(
        [sys.executable, "-c", LISTENER, "http" if args.http else "tcp"],
        stdout=subprocess.PIPE,
        text=True,
    )
    out = child.stdout
    assert out is not None
    reference = None
    try:
        port = int(out.readline())
        text = config(port, args.servers, args.inter, args.http)
        loop = new_loop()
        try:
            weir = loop.run_until_complete(measure_weir(runtime(text), args.seconds, args.inter))
        finally:
            loop.close()
        if args.haproxy:
            reference = measure_haproxy(text, args.seconds, args.inter, args.servers)
    finally:
        child.terminate()
        child.wait(5)
    kind = "HTTP (option httpchk)" if args.http else "TCP (connect only)"
    print(f"{args.servers} servers, {kind}, inter {args.inter} ms, {args.seconds:.0f} s each")
    report("weir   ", weir, args.servers, args.inter)
    if reference is not None:
        report("haproxy", reference, args.servers, args.inter)


if __name__ == "__main__":
    main()
