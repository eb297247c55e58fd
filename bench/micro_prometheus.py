"""Micro-benchmark of a Prometheus scrape: the whole exposition of a runtime with 1,000
servers (10 backends of 100, every third server checked), rendered in-process.

    python bench/micro_prometheus.py [--servers N] [--backends B] [--scrapes K]

Prints milliseconds per scrape, the size of the exposition and its number of lines, and
the same for the CSV of `show stat` for comparison. Figures, not asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.proxy.runtime import Runtime, build
from weir.stats.csv import render_csv
from weir.stats.fields import Clock, collect
from weir.stats.prometheus import render

HEAD = """\
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend fe
    bind 127.0.0.1:1
    http-request use-service prometheus-exporter if {{ path /metrics }}
    default_backend b0
"""


def build_runtime(servers: int, backends: int) -> Runtime:
    lines = [HEAD.format()]
    per = max(1, servers // backends)
    n = 0
    for b in range(backends):
        lines.append(f"backend b{b}\n    balance roundrobin\n")
        for i in range(per):
            check = " check" if n % 3 == 0 else ""
            lines.append(f"    server s{i} 127.0.{b}.{i % 250 + 1}:{8000 + i}{check}\n")
            n += 1
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.cfg"
        path.write_text("".join(lines))
        diags = Diagnostics()
        cfg = load([str(path)], diags, env={})
        if diags.has_errors():
            diags.print(sys.stderr)
            raise SystemExit(1)
    rt = build(cfg)
    for be in rt.backends.values():
        for srv, conf in zip(be.servers, be.conf.servers, strict=True):
            if conf.check.enabled:  # as the check scheduler leaves them
                srv.check_status, srv.check_health, srv.check_duration_ms = "L4OK", 4, 1
            srv.tot_sess = srv.puid * 1000
    return rt


def timed(fn: object, scrapes: int) -> tuple[float, str]:
    assert callable(fn)
    out = fn()
    start = time.perf_counter()
    for _ in range(scrapes):
        out = fn()
    return (time.perf_counter() - start) / scrapes * 1000, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--backends", type=int, default=10)
    ap.add_argument("--scrapes", type=int, default=20)
    args = ap.parse_args()
    rt = build_runtime(args.servers, args.backends)
    clock = Clock.now(time.time(), time.monotonic())
    ms, text = timed(lambda: render(rt, clock), args.scrapes)
    print(
        f"prometheus: {ms:8.1f} ms/scrape  {len(text) / 1024:8.0f} KiB  "
        f"{text.count(chr(10)):7d} lines  ({args.servers} servers, {args.backends} backends)"
    )
    ms, csv = timed(lambda: render_csv(collect(rt, clock)), args.scrapes)
    size, lines = len(csv) / 1024, csv.count("\n")
    print(f"show stat:  {ms:8.1f} ms/scrape  {size:8.0f} KiB  {lines:7d} lines")


if __name__ == "__main__":
    main()
