"""Process-model benchmarks: weir's workers against HAProxy's threads, and reloads under load.

    python bench/reload.py workers                  # weir nbthread 2 vs HAProxy nbthread 2
    python bench/reload.py reload                   # wrk while each proxy is reloaded 5 times
    python bench/reload.py reload --how master      # reload through the master (SIGUSR2)
    python bench/reload.py reload --keepalive off --reloads 10 --duration 20

Figures only, never asserts (see bench/README.md for the method of bench/run.py, whose
backends, wrk driver and CPU accounting are reused here).

`workers`: both proxies get `nbthread N` (weir: N worker processes; HAProxy: N threads),
the same job as bench/run.py (one frontend, two nginx backends, keep-alive), and are
measured interleaved. With --pin the proxy gets CPUs `--proxy-cpus` and the load the
others; on a 2-CPU machine the default is no pinning, so figures include contention with
wrk and the backends. Reported: req/s, latency, and requests per proxy CPU-second (the
proxy's whole process tree, master included).

`reload`: wrk runs for `--duration` seconds; during it the proxy is reloaded `--reloads`
times at even intervals, either by a new process with `-sf` (weir takes the sockets from the
old process by itself; HAProxy is given `-x` with `stats socket ... expose-fd listeners`,
its seamless form) or through the master (`-W`, SIGUSR2). Reported per proxy: requests,
wrk's errors by kind (connect, read, write, status, timeout: a seamless reload has none),
and latency percentiles over the whole run, next to a run without reloads.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import (  # noqa: E402
    CLK_TCK,
    SIZES,
    WRK_LUA,
    Pinning,
    Scenario,
    preflight,
    run_wrk,
    start_backend,
    ticks_delta,
    tree_ticks,
)
from tests.helpers.ports import free_port  # noqa: E402
from tests.helpers.procs import HAPROXY_BIN, ProxyProcess  # noqa: E402

ERROR_KINDS = ("connect", "read", "write", "status", "timeout")


def proxy_cfg(
    kind: str, port: int, backends: Sequence[int], *, nbthread: int, workdir: Path
) -> str:
    servers = "\n".join(f"    server be{i} 127.0.0.1:{p}" for i, p in enumerate(backends, 1))
    extra = ""
    if kind == "haproxy":
        # HAProxy's seamless -sf: the new process fetches the sockets over the stats socket.
        extra = f"    stats socket {workdir}/admin.sock level admin expose-fd listeners\n"
    return (
        f"global\n    maxconn 4096\n    nbthread {nbthread}\n    hard-stop-after 30s\n{extra}"
        "defaults\n    mode http\n    timeout connect 5s\n"
        "    timeout client 30s\n    timeout server 30s\n    timeout http-keep-alive 5s\n"
        f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend be\n"
        f"backend be\n    balance roundrobin\n{servers}\n"
    )


def argv_for(kind: str, *extra: str, pin: Pinning) -> Callable[[str], list[str]]:
    def argv(cfg: str) -> list[str]:
        if kind == "weir":
            base = [sys.executable, "-m", "weir", "-db", "-f", cfg, *extra]
        else:
            base = [HAPROXY_BIN, "-db", "-f", cfg, *extra]
        return pin.wrap(base, "proxy")

    return argv


@dataclass
class Setup:
    tmp: Path
    pin: Pinning
    lua: Path
    backends: list[ProxyProcess] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)

    def close(self) -> None:
        for b in self.backends:
            b.stop()


def setup(pin: Pinning) -> Setup:
    tmp = Path(tempfile.mkdtemp(prefix="weir-bench-reload-"))
    www = tmp / "www"
    www.mkdir()
    for name, size in SIZES.items():
        (www / f"{name}.bin").write_bytes(b"x" * size)
    lua = tmp / "report.lua"
    lua.write_text(WRK_LUA)
    s = Setup(tmp, pin, lua)
    for name in ("backend1", "backend2"):
        proc, port = start_backend(tmp, name, www, pin)
        s.backends.append(proc)
        s.ports.append(port)
    return s


def start_proxy(
    s: Setup, kind: str, label: str, nbthread: int, *extra: str
) -> tuple[ProxyProcess, int]:
    port = free_port()
    d = s.tmp / label
    d.mkdir()
    cfg = proxy_cfg(kind, port, s.ports, nbthread=nbthread, workdir=d)
    p = ProxyProcess(cfg, argv_for(kind, *extra, pin=s.pin), name=label, workdir=d)
    p.start(wait_ports=[port], timeout=30)
    err = preflight(port, "/100.bin", SIZES["100"])
    if err:
        p.stop()
        raise RuntimeError(f"{label}: {err}")
    return p, port


# -- workers ---------------------------------------------------------------------------------


def bench_workers(args: argparse.Namespace, s: Setup) -> None:
    sc = Scenario("100", args.connections, args.keepalive == "on")
    procs = {}
    for kind in ("weir", "haproxy"):
        procs[kind] = start_proxy(s, kind, f"{kind}-n{args.nbthread}", args.nbthread)
    results: dict[str, list[dict[str, float]]] = {k: [] for k in procs}
    try:
        for _p, port in procs.values():  # warm-up
            with contextlib.suppress(Exception):
                run_wrk(port, sc, 2, args.threads, s.lua, s.pin)
        for _rep in range(args.repeat):
            for kind, (p, port) in procs.items():
                before = tree_ticks(p.pid)
                w = run_wrk(port, sc, args.duration, args.threads, s.lua, s.pin)
                cpu = ticks_delta(before, tree_ticks(p.pid)) / CLK_TCK
                w["cpu_s"] = cpu
                results[kind].append(w)
    finally:
        for p, _ in procs.values():
            p.stop()
    print(
        f"\nnbthread {args.nbthread}, {sc.name}, {args.repeat} x {args.duration:g}s, "
        f"wrk -t{args.threads}"
    )
    print(
        f"{'proxy':<10} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'req/CPU-s':>10} {'errors':>7}"
    )
    for kind, runs in results.items():
        rps = statistics.median(r["requests"] / (r["duration_us"] / 1e6) for r in runs)
        p50 = statistics.median(r["p50_us"] for r in runs) / 1000
        p99 = statistics.median(r["p99_us"] for r in runs) / 1000
        per_cpu = statistics.median(r["requests"] / r["cpu_s"] for r in runs if r["cpu_s"])
        errors = int(sum(sum(r[k] for k in ERROR_KINDS) for r in runs))
        print(f"{kind:<10} {rps:>10,.0f} {p50:>8.2f} {p99:>8.2f} {per_cpu:>10,.0f} {errors:>7}")


# -- reload ----------------------------------------------------------------------------------


class Reloader:
    """Reloads one proxy `count` times at even intervals within `span` seconds."""

    def __init__(
        self, s: Setup, kind: str, how: str, first: ProxyProcess, count: int, span: float
    ) -> None:
        self.s, self.kind, self.how = s, kind, how
        self.current = first
        self.count, self.span = count, span
        self.done = 0
        self.failures: list[str] = []
        self.old: list[ProxyProcess] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        step = self.span / (self.count + 1)
        for i in range(1, self.count + 1):
            time.sleep(step)
            try:
                self._reload(i)
                self.done += 1
            except Exception as e:  # reported, not raised: the bench goes on
                self.failures.append(f"reload {i}: {e}")

    def _reload(self, i: int) -> None:
        if self.how == "master":
            before = self.current.log.count("Loading success.")
            self.current.send_signal(signal.SIGUSR2)
            deadline = time.monotonic() + 20
            while self.current.log.count("Loading success.") <= before:
                if time.monotonic() > deadline:
                    raise RuntimeError("the master did not report a successful reload")
                time.sleep(0.02)
            return
        old = self.current
        d = old.dir.parent / f"{old.name}-r{i}"
        d.mkdir()
        extra = ["-sf", str(old.pid)]
        if self.kind == "haproxy":
            extra = ["-x", str(old.dir / "admin.sock"), *extra]
            text = old.cfg_text.replace(str(old.dir), str(d))
        else:
            text = old.cfg_text
        new = ProxyProcess(
            text, argv_for(self.kind, *extra, pin=self.s.pin), name=f"{old.name}", workdir=d
        )
        new.start(timeout=30)
        self.old.append(old)
        self.current = new
        deadline = time.monotonic() + 20
        while old.alive and "stopped" not in old.log:
            if not new.alive:
                raise RuntimeError(f"the new process died: {new.log[-500:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the old process was never told to leave")
            time.sleep(0.02)


def bench_reload(args: argparse.Namespace, s: Setup) -> None:
    sc = Scenario("100", args.connections, args.keepalive == "on")
    kinds = ["weir", "haproxy"] if args.proxies == "both" else [args.proxies]
    rows = []
    for kind in kinds:
        extra = ("-W",) if args.how == "master" else ()
        for reloads in (0, args.reloads):
            first, port = start_proxy(s, kind, f"{kind}-{reloads}", args.nbthread, *extra)
            rl = Reloader(s, kind, args.how, first, reloads, args.duration)
            try:
                rl.thread.start()
                w = run_wrk(port, sc, args.duration, args.threads, s.lua, s.pin)
                rl.thread.join(30)
            finally:
                for p in [*rl.old, rl.current]:
                    p.stop()
            rows.append((kind, reloads, rl.done, w, rl.failures))
    print(
        f"\nreload under load ({args.how}), {sc.name}, {args.duration:g}s, "
        f"wrk -t{args.threads}, nbthread {args.nbthread}"
    )
    print(
        f"{'proxy':<8} {'reloads':>7} {'requests':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'max ms':>7}  errors"
    )
    for kind, reloads, done, w, failures in rows:
        errors = " ".join(f"{k}={int(w[k])}" for k in ERROR_KINDS)
        rps = w["requests"] / (w["duration_us"] / 1e6)
        print(
            f"{kind:<8} {f'{done}/{reloads}':>7} {int(w['requests']):>9} {rps:>8,.0f} "
            f"{w['p50_us'] / 1000:>7.2f} {w['p99_us'] / 1000:>7.2f} {w['max_us'] / 1000:>7.1f}"
            f"  {errors}"
        )
        for f in failures:
            print(f"    {kind}: {f}")


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("workers", "reload"))
    p.add_argument("--nbthread", type=int, default=2)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=3, help="workers: interleaved repetitions")
    p.add_argument("--connections", type=int, default=50)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--keepalive", choices=("on", "off"), default="on")
    p.add_argument("--reloads", type=int, default=5)
    p.add_argument("--how", choices=("sf", "master"), default="sf")
    p.add_argument("--proxies", choices=("weir", "haproxy", "both"), default="both")
    p.add_argument("--pin", action="store_true", help="pin the proxy to --proxy-cpus")
    p.add_argument("--proxy-cpus", default="0")
    p.add_argument("--load-cpus", default="1")
    args = p.parse_args(argv)
    pin = Pinning(args.proxy_cpus, args.load_cpus) if args.pin else Pinning(None, None)
    s = setup(pin)
    try:
        if args.what == "workers":
            bench_workers(args, s)
        else:
            bench_reload(args, s)
    finally:
        s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
