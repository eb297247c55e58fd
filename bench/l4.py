"""Layer 4 benchmark: weir against HAProxy 2.6 in `mode tcp`, splicing off and on.

    python bench/run.py --mode tcp                                  # everything, 5 s x 3
    python bench/run.py --mode tcp --scenarios small --splice off   # one slice

Figures only, never asserts. Both proxies relay one frontend to one backend server in
`mode tcp` with `nbthread 1` (weir: one event loop), without splicing (`off`), with
`option splice-auto` (`auto`) or with `option splice-request` + `option splice-response`
(`on`); `--pipesize N` sets `tune.pipesize` for both (default: each proxy's own, the
kernel's 64 KiB for HAProxy, 1 MiB for weir). The load is bench/l4load.c (built with cc
at start): a thread per persistent connection that sends a 16-byte header and UP bytes,
and reads the DOWN bytes the backend answers (the same program, as the backend, answers
with the length asked for):

- `small`: 64 B up, 64 B down, 50 connections: many short request/response exchanges;
- `small1k`: the same on 1,000 connections;
- `short`: 100 B up, 100 B down, a new connection for each exchange (connect, exchange,
  close), 50 at a time;
- `down1m`: 16 B up, 1 MiB down, 8 connections; `up1m`: 1 MiB up, 16 B down, 8 connections.

The proxy runs alone on CPU 0, the load and the backend on CPU 1; each run reads the
proxy's CPU time (utime+stime from /proc) around one client run. The contenders are
interleaved (A B A B ...) and each weir figure is divided by HAProxy's from the same
repetition (same splice setting); the median of these ratios is reported, with exchanges
(and bytes) per proxy CPU-second, never wall-clock rates alone.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import run as common  # noqa: E402

from tests.helpers.ports import free_port  # noqa: E402
from tests.helpers.procs import HAPROXY_BIN, ProxyProcess, ProxyStartError, weir_argv  # noqa: E402

MiB = 1 << 20


@dataclass(frozen=True)
class L4Scenario:
    name: str
    up: int
    down: int
    connections: int
    short: bool = False  # a new connection per exchange


SCENARIOS = {
    "small": L4Scenario("small", 64, 64, 50),
    "small1k": L4Scenario("small1k", 64, 64, 1000),
    "short": L4Scenario("short", 100, 100, 50, short=True),
    "down1m": L4Scenario("down1m", 16, MiB, 8),
    "up1m": L4Scenario("up1m", MiB, 16, 8),
}
SPLICE = {
    "off": "",
    "auto": "    option splice-auto\n",
    "on": "    option splice-request\n    option splice-response\n",
}


def build_load(tmp: Path) -> Path:
    """bench/l4load.c compiled into `tmp`."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) to build bench/l4load.c")
    out = tmp / "l4load"
    subprocess.run(
        [cc, "-O2", "-pthread", "-o", str(out), str(HERE / "l4load.c")],
        check=True,
        capture_output=True,
    )
    return out


def proxy_cfg(port: int, backend: int, splice: str, pipesize: str = "") -> str:
    """The same job for both proxies, in plain keywords."""
    tune = f"    tune.pipesize {pipesize}\n" if pipesize else ""
    return (
        f"global\n    maxconn 4096\n    nbthread 1\n{tune}"
        "defaults\n    mode tcp\n    timeout connect 5s\n"
        "    timeout client 30s\n    timeout server 30s\n"
        f"frontend fe\n    bind 127.0.0.1:{port}\n{SPLICE[splice]}    default_backend be\n"
        f"backend be\n    server s1 127.0.0.1:{backend}\n"
    )


@dataclass
class Contender:
    kind: str  # "weir" or "haproxy"
    splice: str
    port: int = 0
    proc: ProxyProcess | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return self.kind if self.splice == "off" else f"{self.kind}+splice-{self.splice}"


def start(c: Contender, tmp: Path, backend: int, pin: common.Pinning, pipesize: str) -> None:
    c.port = free_port()
    d = tmp / c.label
    d.mkdir()
    base = weir_argv if c.kind == "weir" else (lambda path: [HAPROXY_BIN, "-db", "-f", path])
    c.proc = ProxyProcess(
        proxy_cfg(c.port, backend, c.splice, pipesize),
        lambda path: pin.wrap(base(path), "proxy"),
        name=c.label,
        workdir=d,
    )
    try:
        c.proc.start(wait_ports=[c.port], timeout=20)
    except (ProxyStartError, OSError) as e:
        c.error = f"failed to start: {common._tail(str(e))}"


def client(load: Path, port: int, sc: L4Scenario, seconds: float, pin: common.Pinning) -> Any:
    argv = [str(load), "client", str(port), str(sc.connections), str(seconds)]
    done = subprocess.run(
        pin.wrap([*argv, str(sc.up), str(sc.down), *(["short"] if sc.short else [])], "load"),
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(
    c: Contender, load: Path, sc: L4Scenario, seconds: float, pin: common.Pinning
) -> dict[str, Any]:
    assert c.proc is not None
    before = common.tree_ticks(c.proc.pid)
    t0 = time.monotonic()
    got = client(load, c.port, sc, seconds, pin)
    wall = time.monotonic() - t0
    cpu = common.ticks_delta(before, common.tree_ticks(c.proc.pid)) / common.CLK_TCK
    return {
        "proxy": c.label,
        "scenario": sc.name,
        "exchanges": got["exchanges"],
        "bytes": got["bytes"],
        "errors": got["errors"],
        "proxy_cpu_s": cpu,
        "proxy_cpu_pct": 100 * cpu / wall,
        "ex_per_cpu_s": got["exchanges"] / cpu if cpu else 0.0,
        "mib_per_cpu_s": got["bytes"] / MiB / cpu if cpu else 0.0,
        "alive": c.proc.alive,
    }


def main(args: Any) -> int:
    """Run from bench/run.py with `--mode tcp` (its parsed arguments)."""
    scenarios = [SCENARIOS[s] for s in common._split(args.scenarios)]
    splices = common._split(args.splice)
    if any(s not in SPLICE for s in splices):
        print(f"bad --splice {args.splice!r} (off, auto, on)", file=sys.stderr)
        return 2
    pin = common.choose_pinning(args.no_pin, args.proxy_cpu, args.load_cpus)
    seconds = args.duration if args.duration else 5.0
    tmp = Path(tempfile.mkdtemp(prefix="weir-bench-l4-"))
    load = build_load(tmp)
    backend_port = free_port()
    backend = subprocess.Popen(
        pin.wrap([str(load), "server", str(backend_port)], "load"),
        stdout=subprocess.PIPE,
        text=True,
    )
    contenders = [Contender(k, s) for s in splices for k in ("weir", "haproxy")]
    runs: list[dict[str, Any]] = []
    print(
        f"bench l4: {len(scenarios)} scenarios x {len(contenders)} proxies x {args.repeat} "
        f"runs of {seconds:g}s; load average {common._loadavg()}",
        file=sys.stderr,
    )
    try:
        assert backend.stdout is not None
        if backend.stdout.readline().strip() != "ready":
            raise RuntimeError("the backend did not start")
        for c in contenders:
            start(c, tmp, backend_port, pin, args.pipesize)
            if c.error:
                print(f"{c.label}: {c.error}", file=sys.stderr)
        live = [c for c in contenders if c.error is None]
        for sc in scenarios:
            for c in live:  # warm-up, unmeasured
                client(load, c.port, sc, 1.0, pin)
            for rep in range(args.repeat):
                for c in live:
                    r = measure(c, load, sc, seconds, pin)
                    r["rep"] = rep
                    runs.append(r)
                    print(
                        f"  {sc.name:7} {c.label:22} rep {rep}: "
                        f"{r['ex_per_cpu_s']:>10,.0f} ex/CPU-s {r['mib_per_cpu_s']:>9,.0f} "
                        f"MiB/CPU-s  proxy CPU {r['proxy_cpu_pct']:.0f}%  errors {r['errors']}",
                        file=sys.stderr,
                    )
    finally:
        for c in contenders:
            if c.proc is not None:
                c.proc.stop()
        backend.terminate()
        backend.wait(10)
        if not args.keep_tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = summarise(runs, scenarios, splices)
    print_rows(rows)
    if args.json is not None:
        args.json.write_text(json.dumps({"runs": runs, "summary": rows}, indent=1))
    return 0


def summarise(
    runs: list[dict[str, Any]], scenarios: list[L4Scenario], splices: list[str]
) -> list[dict[str, Any]]:
    """Per scenario and splice setting: the median per-repetition ratio weir/HAProxy of
    exchanges per CPU-second, and each proxy's median against its own unspliced figure."""
    by = {(r["scenario"], r["proxy"], r["rep"]): r["ex_per_cpu_s"] for r in runs}
    reps = sorted({r["rep"] for r in runs})
    rows = []
    for sc in scenarios:
        for s in splices:
            suffix = "" if s == "off" else f"+splice-{s}"
            row: dict[str, Any] = {"scenario": sc.name, "splice": s}
            for kind in ("weir", "haproxy"):
                vals = [by[k] for rep in reps if (k := (sc.name, kind + suffix, rep)) in by]
                row[kind] = statistics.median(vals) if vals else None
                own = [
                    by[(sc.name, kind + suffix, rep)] / by[(sc.name, kind, rep)]
                    for rep in reps
                    if (sc.name, kind + suffix, rep) in by and by.get((sc.name, kind, rep))
                ]
                row[f"{kind}_vs_unspliced"] = statistics.median(own) if own and s != "off" else None
            w, h = "weir" + suffix, "haproxy" + suffix
            ratios = [
                by[(sc.name, w, rep)] / by[(sc.name, h, rep)]
                for rep in reps
                if (sc.name, w, rep) in by and by.get((sc.name, h, rep))
            ]
            row["weir/haproxy"] = statistics.median(ratios) if ratios else None
            rows.append(row)
    return rows


def print_rows(rows: list[dict[str, Any]]) -> None:
    def f(v: Any, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    print(
        "| scenario | splice | weir/HAProxy | weir spliced/unspliced | HAProxy spliced/unspliced |"
    )
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['splice']} | {f(r['weir/haproxy'], '.2f')}x | "
            f"{f(r['weir_vs_unspliced'], '.2f')} | {f(r['haproxy_vs_unspliced'], '.2f')} |"
        )
