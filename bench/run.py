"""Side-by-side benchmark: weir, HAProxy 2.6 and nginx as HTTP reverse proxies, driven by wrk.

    python bench/run.py                                   # all proxies, 100 B / 16 KiB / 1 MiB
    python bench/run.py --quick --proxies haproxy,nginx   # 3-second smoke run
    python bench/run.py --proxies haproxy --aa            # A/A: HAProxy against itself
    python bench/run.py --proxies weir,haproxy --log udp  # both log each request (httplog)
    python bench/run.py --mode tcp                        # layer 4: see bench/l4.py

Figures only, never asserts. Method (see bench/README.md): every proxy has the same job (one
loopback frontend, one backend of two nginx servers, keep-alive on both sides); the proxy is
pinned alone on CPU 0, wrk and the backends share CPU 1; each measured run reads the proxy's
CPU time (utime+stime of its process tree from /proc) around one wrk run; contenders are
interleaved (A B C A B C ...) and each contender's figure is compared with HAProxy's from the
same repetition, the median of those per-run ratios being reported. A proxy that fails to
start, fails the pre-flight request or dies is reported, and the others still run.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.helpers.ports import free_port  # noqa: E402
from tests.helpers.procs import HAPROXY_BIN, ProxyProcess, ProxyStartError, weir_argv  # noqa: E402

NGINX_BIN = shutil.which("nginx") or "/usr/sbin/nginx"
WRK_BIN = shutil.which("wrk") or "/usr/bin/wrk"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SIZES = {"100": 100, "16k": 16 * 1024, "1m": 1024 * 1024}
SIZE_NAMES = {"100": "100B", "16k": "16KiB", "1m": "1MiB"}
PROXY_KINDS = (
    "weir", "haproxy", "nginx", "weir+rules", "haproxy+rules",
    "weir+track", "haproxy+track", "weir+peers", "haproxy+peers",
    "weir+tcp", "haproxy+tcp", "weir+splice", "haproxy+splice", "weir+gzip", "haproxy+gzip",
)  # fmt: skip

# `--tls`: weir and HAProxy terminate TLS with the same certificate (made at start, an ECDSA
# P-256 or RSA 2048 key); wrk speaks HTTPS. With `--keepalive off` every request is a new
# TLS handshake, the figure that compares the proxies' handshake cost.
TLS: dict[str, str] = {}

# `weir+rules` / `haproxy+rules`: the same job with a realistic rule set (10 ACLs, 1 deny,
# 3 set-header, 3 use_backend), evaluated on every request and matching none of them, so
# that each proxy's cost of its rule engine is (1 - rules / plain) in requests per CPU-s.
RULESET = """\
    acl is_api path_beg /api/
    acl is_static path_end .css .js .png .jpg
    acl is_admin path_beg -i /admin
    acl from_lan src 10.0.0.0/8 192.168.0.0/16
    acl host_www hdr(host) -i www.example.com
    acl host_api hdr(host) -i api.example.com
    acl is_post method POST
    acl has_auth req.hdr(authorization) -m found
    acl bad_ua hdr_sub(user-agent) -i sqlmap nikto
    acl is_health path /health
    http-request deny if bad_ua
    http-request set-header X-Forwarded-Proto http
    http-request set-header X-Client %[src]
    http-request set-header X-Req-Host %[req.hdr(host)]
    use_backend be if is_api host_api
    use_backend be if is_static has_auth
    use_backend be if is_admin from_lan is_post
"""
# `+track`: every request is tracked in a local stick table (rate and count by source);
# `+peers`: the same table replicated over the peers protocol to a second node of the same
# kind (started beside the load, its CPU not counted). (1 - peers / track) is the cost of
# replication; (1 - track / plain) the cost of tracking.
TRACK = """\
    stick-table type ip size 100k expire 30s store http_req_rate(10s),http_req_cnt{peers}
    http-request track-sc0 src
"""
# `+tcp`: the same job relayed in mode tcp (layer 4: wrk's HTTP goes through untouched);
# `+splice`: mode tcp with `option splice-auto`, the kernel moving large transfers.
REFERENCE = "haproxy"
AA_LABEL = "haproxy-aa"

WRK_LUA = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,'
    .. '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,'
    .. '"mean_us":%.1f,"max_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max))
end
"""


# -- CPU placement and accounting ------------------------------------------------------------
@dataclass(frozen=True)
class Pinning:
    """taskset CPU lists for the proxy and for the load side (wrk + backends); None: no
    pinning (one CPU only, or --no-pin)."""

    proxy: str | None
    load: str | None

    def wrap(self, argv: Sequence[str], side: str) -> list[str]:
        cpus = self.proxy if side == "proxy" else self.load
        return ["taskset", "-c", cpus, *argv] if cpus is not None else list(argv)


def choose_pinning(no_pin: bool, proxy_cpu: str, load_cpus: str) -> Pinning:
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2 or shutil.which("taskset") is None:
        return Pinning(None, None)
    return Pinning(proxy_cpu, load_cpus)


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, utime+stime in clock ticks) of `pid`, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_ticks(root: int) -> dict[int, int]:
    """CPU ticks of `root` and of every descendant, by pid (workers count too)."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                stats[int(entry.name)] = st
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out: dict[int, int] = {}
    todo = [root]
    while todo:  # bounded by the number of processes read above
        pid = todo.pop()
        if pid in stats and pid not in out:
            out[pid] = stats[pid][1]
            todo.extend(children.get(pid, ()))
    return out


def ticks_delta(before: dict[int, int], after: dict[int, int]) -> int:
    """CPU ticks spent between two snapshots; a process born in between counts from 0 and
    one that died in between is lost (its time cannot be read any more)."""
    return sum(t - before.get(pid, 0) for pid, t in after.items())


# -- configurations ------------------------------------------------------------------------
def proxy_cfg(
    port: int,
    backends: Sequence[int],
    *,
    haproxy: bool,
    log_port: int | None = None,
    rules: bool = False,
    track: bool = False,
    peers: tuple[str, int, int] | None = None,
    layer4: str = "",
    gzip: bool = False,
) -> str:
    """The same job for weir and HAProxy, in plain keywords only; HAProxy additionally gets
    `nbthread 1` so that it runs on one CPU like weir's single event loop. With `log_port`
    both log every request (`option httplog`) to a UDP syslog sink on that port."""
    servers = "\n".join(f"    server be{i} 127.0.0.1:{p}" for i, p in enumerate(backends, start=1))
    nbthread = "    nbthread 1\n" if haproxy else ""
    logging = f"    log 127.0.0.1:{log_port} local0\n    option httplog\n" if log_port else ""
    if rules:
        logging += RULESET
    if gzip:  # `+gzip`: responses compressed (wrk then asks for gzip)
        logging += "    compression algo gzip\n"
    section = ""
    if peers is not None:  # (this node's name, its peers port, the other node's)
        me, mine, other = peers
        a, b = ("a", "b") if me == "a" else ("b", "a")
        section = f"peers mesh\n    peer {a} 127.0.0.1:{mine}\n    peer {b} 127.0.0.1:{other}\n"
        nbthread += f"    localpeer {me}\n"
    if track or peers is not None:
        logging += TRACK.format(peers=" peers mesh" if peers is not None else "")
    ssl = f" ssl crt {TLS['pem']}" if TLS else ""
    mode = "http"
    if layer4:  # "tcp" or "splice"
        mode, logging = "tcp", "    option splice-auto\n" if layer4 == "splice" else ""
        if log_port:
            logging += f"    log 127.0.0.1:{log_port} local0\n    option tcplog\n"
    return (
        f"global\n    maxconn 4096\n{nbthread}{section}"
        f"defaults\n    mode {mode}\n    timeout connect 5s\n"
        "    timeout client 30s\n    timeout server 30s\n"
        f"frontend fe\n    bind 127.0.0.1:{port}{ssl}\n{logging}    default_backend be\n"
        f"backend be\n    balance roundrobin\n{servers}\n"
    )


# A syslog sink for `--log udp`: reads and discards datagrams, and prints how many it got
# when it is stopped (SIGTERM), so that the report can say every request was logged. It
# polls (drain, then sleep 2 ms) instead of blocking in recv(): a sink asleep in recv()
# must be woken by every datagram, and on loopback that wake-up (~12 us measured here) is
# charged to the sending proxy's CPU, more often for a slower proxy (fewer lines per
# wake-up), which would blur the cost of logging itself.
UDP_SINK = """\
import signal, socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.setblocking(False)
n = 0
def stop(*_):
    print(n, flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
buf = bytearray(65536)
print("ready", flush=True)
while True:
    try:
        while True:
            s.recv_into(buf)
            n += 1
    except BlockingIOError:
        time.sleep(0.002)
"""


def start_udp_sink(pin: Pinning) -> tuple[subprocess.Popen[str], int]:
    """The `--log udp` sink on the load CPUs; (process, port)."""
    port = free_port()
    proc = subprocess.Popen(
        pin.wrap([sys.executable, "-c", UDP_SINK, str(port)], "load"),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError("the UDP log sink did not start")
    return proc, port


def stop_udp_sink(proc: subprocess.Popen[str]) -> int:
    """Stop the sink; the number of datagrams it received (-1 if unknown)."""
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return -1
    lines = out.strip().splitlines()
    return int(lines[-1]) if lines and lines[-1].isdigit() else -1


def _nginx_common(d: Path) -> str:
    return textwrap.dedent(
        f"""\
        daemon off;
        master_process off;
        worker_processes 1;
        pid {d}/nginx.pid;
        error_log {d}/error.log warn;
        worker_rlimit_nofile 65536;
        events {{ worker_connections 20000; multi_accept on; }}
        """
    )


def _nginx_http_common(d: Path) -> str:
    return textwrap.indent(
        textwrap.dedent(
            f"""\
            access_log off;
            client_body_temp_path {d}/client_body;
            proxy_temp_path {d}/proxy;
            fastcgi_temp_path {d}/fastcgi;
            uwsgi_temp_path {d}/uwsgi;
            scgi_temp_path {d}/scgi;
            keepalive_requests 1000000;
            keepalive_timeout 60s;
            tcp_nodelay on;
            """
        ),
        "    ",
    )


def nginx_backend_cfg(d: Path, port: int, www: Path) -> str:
    return (
        _nginx_common(d)
        + "http {\n"
        + _nginx_http_common(d)
        + textwrap.indent(
            textwrap.dedent(
                f"""\
                sendfile on;
                tcp_nopush on;
                open_file_cache max=16 inactive=60s;
                default_type application/octet-stream;
                server {{
                    listen 127.0.0.1:{port} backlog=4096;
                    location / {{ root {www}; }}
                }}
                """
            ),
            "    ",
        )
        + "}\n"
    )


def nginx_proxy_cfg(d: Path, port: int, backends: Sequence[int]) -> str:
    servers = "".join(f"        server 127.0.0.1:{p};\n" for p in backends)
    return (
        _nginx_common(d)
        + "http {\n"
        + _nginx_http_common(d)
        + "    upstream be {\n"
        + servers
        + "        keepalive 1024;\n        keepalive_requests 1000000;\n    }\n"
        + textwrap.indent(
            textwrap.dedent(
                f"""\
                server {{
                    listen 127.0.0.1:{port} backlog=4096;
                    location / {{
                        proxy_pass http://be;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_max_temp_file_size 0;
                    }}
                }}
                """
            ),
            "    ",
        )
        + "}\n"
    )


def nginx_argv(d: Path) -> Callable[[str], list[str]]:
    return lambda cfg: [NGINX_BIN, "-p", str(d), "-c", cfg, "-e", str(d / "error.log")]


# -- processes -------------------------------------------------------------------------------
@dataclass
class Contender:
    label: str
    kind: str  # weir | haproxy | nginx
    port: int = 0
    proc: ProxyProcess | None = None
    error: str | None = None
    peer: ProxyProcess | None = None  # `+peers`: the other node, pinned with the load

    @property
    def ok(self) -> bool:
        return self.error is None and self.proc is not None and self.proc.alive


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def preflight(port: int, path: str, size: int, tls: bool = False) -> str | None:
    """One request through the proxy; None if it returns 200 with `size` bytes."""
    try:
        if tls:
            import ssl as ssl_module

            ctx = ssl_module._create_unverified_context()
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                "127.0.0.1", port, timeout=10, context=ctx
            )
        else:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
    except (OSError, http.client.HTTPException) as e:
        return f"pre-flight GET {path} failed: {type(e).__name__}: {e}"
    if resp.status != 200 or len(body) != size:
        return (
            f"pre-flight GET {path}: status {resp.status}, {len(body)} bytes (expected 200, {size})"
        )
    return None


def start_contender(
    c: Contender, tmp: Path, backends: Sequence[int], pin: Pinning, log_port: int | None = None
) -> None:
    c.port = free_port()
    d = tmp / c.label
    d.mkdir()
    argv: Callable[[str], list[str]]
    kind, _, extra = c.kind.partition("+")
    rules, track, gzip = extra == "rules", extra == "track", extra == "gzip"
    layer4 = extra if extra in ("tcp", "splice") else ""
    peers = None
    if extra == "peers":
        mine, other = free_port(), free_port()
        peers = ("a", mine, other)
        c.error = start_peer_node(c, tmp, kind, backends, pin, (other, mine))
        if c.error is not None:
            return
    if kind == "weir":
        cfg = proxy_cfg(
            c.port, backends, haproxy=False, log_port=log_port, rules=rules, track=track,
            peers=peers, layer4=layer4, gzip=gzip,
        )  # fmt: skip
        argv = lambda path: pin.wrap(weir_argv(path), "proxy")  # noqa: E731
    elif kind == "haproxy":
        cfg = proxy_cfg(
            c.port, backends, haproxy=True, log_port=log_port, rules=rules, track=track,
            peers=peers, layer4=layer4, gzip=gzip,
        )  # fmt: skip
        argv = lambda path: pin.wrap([HAPROXY_BIN, "-db", "-f", path], "proxy")  # noqa: E731
    else:
        cfg = nginx_proxy_cfg(d, c.port, backends)
        argv = lambda path: pin.wrap(nginx_argv(d)(path), "proxy")  # noqa: E731
    c.proc = ProxyProcess(cfg, argv, name=c.label, workdir=d)
    try:
        c.proc.start(wait_ports=[c.port], timeout=20)
    except (ProxyStartError, OSError) as e:
        c.error = f"failed to start: {_tail(str(e))}"
        return
    c.error = preflight(c.port, "/100.bin", SIZES["100"], tls=bool(TLS) and kind != "nginx")


def start_peer_node(
    c: Contender,
    tmp: Path,
    kind: str,
    backends: Sequence[int],
    pin: Pinning,
    ports: tuple[int, int],
) -> str | None:
    """The second node of a `+peers` contender: the same kind and table, named "b"."""
    d = tmp / f"{c.label}-peer"
    d.mkdir()
    port = free_port()
    cfg = proxy_cfg(port, backends, haproxy=kind == "haproxy", peers=("b", *ports))
    base = weir_argv if kind == "weir" else (lambda path: [HAPROXY_BIN, "-db", "-f", path])
    c.peer = ProxyProcess(cfg, lambda path: pin.wrap(base(path), "load"), name=d.name, workdir=d)
    try:
        c.peer.start(wait_ports=[port], timeout=20)
    except (ProxyStartError, OSError) as e:
        return f"its peer failed to start: {_tail(str(e))}"
    return None


def start_backend(tmp: Path, name: str, www: Path, pin: Pinning) -> tuple[ProxyProcess, int]:
    """An nginx serving the fixed bodies from `www`, pinned with the load; (process, port)."""
    d = tmp / name
    d.mkdir()
    port = free_port()
    proc = ProxyProcess(
        nginx_backend_cfg(d, port, www),
        lambda path: pin.wrap(nginx_argv(d)(path), "load"),
        name=name,
        workdir=d,
    )
    proc.start(wait_ports=[port], timeout=10)
    return proc, port


def make_certificate(tmp: Path, kind: str) -> Path:
    """A self-signed certificate and key in one PEM file, for `--tls`."""
    key = (
        ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
        if kind == "ecdsa"
        else ["-newkey", "rsa:2048"]
    )
    cmd = ["openssl", "req", "-x509", *key, "-nodes", "-days", "2", "-subj", "/CN=bench"]
    subprocess.run(
        [*cmd, "-keyout", str(tmp / "k.pem"), "-out", str(tmp / "c.pem")],
        check=True,
        capture_output=True,
    )
    pem = tmp / "bench.pem"
    pem.write_bytes((tmp / "c.pem").read_bytes() + (tmp / "k.pem").read_bytes())
    return pem


# -- measuring -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    size: str
    connections: int
    keepalive: bool

    @property
    def name(self) -> str:
        return f"{SIZE_NAMES[self.size]} c{self.connections} {'ka' if self.keepalive else 'close'}"

    @property
    def path(self) -> str:
        return f"/{self.size}.bin"


@dataclass
class Run:
    proxy: str
    scenario: str
    rep: int
    requests: int = 0
    duration_s: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p90_ms: float = 0.0
    p99_ms: float = 0.0
    errors: int = 0
    proxy_cpu_s: float = 0.0
    req_per_cpu_s: float = 0.0
    proxy_cpu_pct: float = 0.0
    load_cpu_pct: float = 0.0
    error: str | None = None
    wrk: dict[str, float] = field(default_factory=dict)


def run_wrk(
    port: int,
    sc: Scenario,
    duration: float,
    threads: int,
    lua: Path,
    pin: Pinning,
    gzip: bool = False,
) -> dict[str, float]:
    argv = [
        WRK_BIN,
        f"-t{min(threads, sc.connections)}",
        f"-c{sc.connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(lua),
    ]
    if not sc.keepalive:
        argv += ["-H", "Connection: close"]
    if gzip:
        argv += ["-H", "Accept-Encoding: gzip"]
    argv.append(f"{'https' if TLS else 'http'}://127.0.0.1:{port}{sc.path}")
    done = subprocess.run(
        pin.wrap(argv, "load"),
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return {k: float(v) for k, v in json.loads(line[8:]).items()}
    raise RuntimeError(f"wrk exited {done.returncode}: {_tail(done.stdout + done.stderr, 5)}")


def measure(
    c: Contender,
    sc: Scenario,
    rep: int,
    duration: float,
    threads: int,
    lua: Path,
    pin: Pinning,
    load_pids: Sequence[int],
) -> Run:
    run = Run(c.label, sc.name, rep)
    assert c.proc is not None
    if not c.proc.alive:
        run.error = f"not running (exit status {c.proc.wait_exit(0)})"
        return run
    before = tree_ticks(c.proc.pid)
    load_before = sum(sum(tree_ticks(p).values()) for p in load_pids)
    ru_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    try:
        w = run_wrk(c.port, sc, duration, threads, lua, pin, c.kind.endswith("+gzip"))
    except (RuntimeError, subprocess.TimeoutExpired, OSError) as e:
        run.error = str(e)
        return run
    wall = time.monotonic() - t0
    after = tree_ticks(c.proc.pid)
    load_after = sum(sum(tree_ticks(p).values()) for p in load_pids)
    ru_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (ru_after.ru_utime + ru_after.ru_stime) - (ru_before.ru_utime + ru_before.ru_stime)
    run.wrk = w
    run.requests = int(w["requests"])
    run.duration_s = w["duration_us"] / 1e6
    run.rps = run.requests / run.duration_s if run.duration_s else 0.0
    run.p50_ms, run.p90_ms, run.p99_ms = (w[k] / 1000 for k in ("p50_us", "p90_us", "p99_us"))
    run.errors = int(sum(w[k] for k in ("connect", "read", "write", "status", "timeout")))
    run.proxy_cpu_s = ticks_delta(before, after) / CLK_TCK
    run.req_per_cpu_s = run.requests / run.proxy_cpu_s if run.proxy_cpu_s else 0.0
    run.proxy_cpu_pct = 100 * run.proxy_cpu_s / wall
    load_cpu = (load_after - load_before) / CLK_TCK + wrk_cpu
    run.load_cpu_pct = 100 * load_cpu / wall
    if not c.proc.alive:
        run.error = f"died during the run (exit status {c.proc.wait_exit(0)})"
    return run


# -- summary ---------------------------------------------------------------------------------
def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def summarise(
    runs: Sequence[Run], labels: Sequence[str], scenarios: Sequence[Scenario]
) -> list[dict[str, object]]:
    """One row per (scenario, proxy): medians of the good runs, and the median over
    repetitions of the ratio to HAProxy's run of the same repetition."""
    good = {(r.scenario, r.proxy, r.rep): r for r in runs if r.error is None and r.requests}
    rows: list[dict[str, object]] = []
    for sc in scenarios:
        for label in labels:
            mine = [r for (s, p, _), r in good.items() if s == sc.name and p == label]
            failed = [r for r in runs if r.scenario == sc.name and r.proxy == label and r.error]
            ratio_cpu: list[float] = []
            ratio_rps: list[float] = []
            for r in mine:
                ref = good.get((sc.name, REFERENCE, r.rep))
                if ref is not None and ref.req_per_cpu_s and ref.rps:
                    ratio_cpu.append(r.req_per_cpu_s / ref.req_per_cpu_s)
                    ratio_rps.append(r.rps / ref.rps)
            rows.append(
                {
                    "proxy": label,
                    "scenario": sc.name,
                    "runs": len(mine),
                    "failed_runs": len(failed),
                    "rps": _median([r.rps for r in mine]),
                    "p50_ms": _median([r.p50_ms for r in mine]),
                    "p99_ms": _median([r.p99_ms for r in mine]),
                    "proxy_cpu_s": _median([r.proxy_cpu_s for r in mine]),
                    "req_per_cpu_s": _median([r.req_per_cpu_s for r in mine]),
                    "proxy_cpu_pct": _median([r.proxy_cpu_pct for r in mine]),
                    "load_cpu_pct": _median([r.load_cpu_pct for r in mine]),
                    "errors": sum(r.errors for r in mine),
                    "ratio_req_per_cpu_s": _median(ratio_cpu),
                    "ratio_rps": _median(ratio_rps),
                    "ratio_spread": [min(ratio_cpu), max(ratio_cpu)] if ratio_cpu else None,
                }
            )
    return rows


def variant_costs(
    runs: Sequence[Run], labels: Sequence[str], scenarios: Sequence[Scenario]
) -> list[str]:
    """For each `proxy+variant` run beside its plain `proxy`: what the variant costs,
    1 - variant / plain in requests per CPU-second, pair by pair (the runs of one
    repetition are interleaved, so they share the machine's mood); the median and the
    mean of the pairs, and weir's mean over HAProxy's when both ran the variant. A
    proxy's cost can be smaller than the noise between two runs: read the mean."""
    good = {(r.scenario, r.proxy, r.rep): r for r in runs if r.error is None and r.requests}
    lines: list[str] = []
    for sc in scenarios:
        means: dict[tuple[str, str], float] = {}
        for label in labels:
            base, plus, variant = label.partition("+")
            if not plus or base not in labels:
                continue
            costs = []
            for (s, p, rep), r in good.items():
                plain = good.get((s, base, rep))
                if s == sc.name and p == label and plain is not None and plain.req_per_cpu_s:
                    costs.append(1 - r.req_per_cpu_s / plain.req_per_cpu_s)
            if not costs:
                continue
            means[(base, variant)] = statistics.mean(costs)
            lines.append(
                f"{sc.name}: {label} costs {100 * statistics.median(costs):.1f}% (median), "
                f"{100 * means[(base, variant)]:.1f}% (mean of {len(costs)} pairs)"
            )
        for (base, variant), mean in means.items():
            ref = means.get((REFERENCE, variant))
            if base != REFERENCE and ref is not None and ref > 0:
                lines.append(
                    f"{sc.name}: {base}'s cost of +{variant} is {mean / ref:.2f}x {REFERENCE}'s "
                    "(means)"
                )
    return lines


def _fmt(value: object, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: Sequence[dict[str, object]], out: TextIO = sys.stdout) -> None:
    cols = [
        ("proxy", "proxy", "<12", "s"),
        ("scenario", "scenario", "<16", "s"),
        ("req/s", "rps", ">10", ",.0f"),
        ("p50 ms", "p50_ms", ">8", ".2f"),
        ("p99 ms", "p99_ms", ">8", ".2f"),
        ("CPU-s", "proxy_cpu_s", ">7", ".2f"),
        ("req/CPU-s", "req_per_cpu_s", ">10", ",.0f"),
        ("xHA cpu", "ratio_req_per_cpu_s", ">8", ".3f"),
        ("xHA rps", "ratio_rps", ">8", ".3f"),
        ("prx%", "proxy_cpu_pct", ">5", ".0f"),
        ("load%", "load_cpu_pct", ">6", ".0f"),
        ("errors", "errors", ">7", "d"),
    ]
    lines = [" ".join(format(title, align) for title, _, align, _ in cols)]
    for row in rows:
        cells = []
        for _, key, align, spec in cols:
            cells.append(format(_fmt(row[key], spec), align))
        line = " ".join(cells)
        if row["failed_runs"]:
            line += f"  ({row['failed_runs']} failed runs)"
        elif not row["runs"]:
            line += "  (not measured: see below)"
        lines.append(line)
    print("\n".join(lines), file=out)


def versions() -> dict[str, str]:
    def first_line(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"unavailable ({e})"
        return (
            (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""
        )

    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next(
            (
                ln.split(":", 1)[1].strip()
                for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")
            ),
            "",
        )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    weir = subprocess.run(
        [sys.executable, "-m", "weir", "-v"],
        capture_output=True,
        text=True,
        env=env,
        timeout=20,
        check=False,
    )
    return {
        "weir": (weir.stdout.strip().splitlines() or ["unavailable"])[0],
        "haproxy": first_line([HAPROXY_BIN, "-v"]),
        "nginx": first_line([NGINX_BIN, "-v"]),
        "wrk": first_line([WRK_BIN, "--version"]),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": str(os.cpu_count()),
    }


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


# -- main ------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Benchmark weir against HAProxy 2.6 and nginx (figures, not asserts).",
    )
    p.add_argument(
        "--proxies", default="weir,haproxy,nginx", help="comma list of weir, haproxy, nginx"
    )
    p.add_argument(
        "--aa", action="store_true", help="add a second, identical HAProxy (A/A noise floor)"
    )
    p.add_argument(
        "--sizes", default=None, help="comma list of 100, 16k, 1m (default: all; --quick: 100)"
    )
    p.add_argument(
        "--connections", default="50", help="comma list of client connection counts, e.g. 50,500"
    )
    p.add_argument(
        "--keepalive", default="on", help="on, off, or on,off (off sends Connection: close)"
    )
    p.add_argument("--duration", type=float, default=None, help="seconds per wrk run (default 10)")
    p.add_argument("--repeat", type=int, default=None, help="interleaved repetitions (default 3)")
    p.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="unmeasured seconds per scenario and proxy (default 2)",
    )
    p.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s, 1 repetition, 100 B only")
    p.add_argument("--no-pin", action="store_true", help="do not pin processes to CPUs")
    p.add_argument("--proxy-cpu", default="0", help="CPU list for the proxy (default 0)")
    p.add_argument("--load-cpus", default="1", help="CPU list for wrk and backends (default 1)")
    p.add_argument(
        "--log",
        choices=("none", "udp"),
        default="none",
        help="udp: weir and HAProxy log every request (option httplog) to a UDP sink "
        "(nginx is left as it is)",
    )
    p.add_argument(
        "--tls",
        choices=("none", "ecdsa", "rsa"),
        default="none",
        help="weir and HAProxy terminate TLS with an ECDSA P-256 or RSA 2048 certificate",
    )
    p.add_argument(
        "--mode",
        choices=("http", "tcp"),
        default="http",
        help="tcp: weir against HAProxy in mode tcp with bench/l4load.c (see bench/l4.py)",
    )
    p.add_argument(
        "--scenarios",
        default="small,small1k,short,down1m,up1m",
        help="--mode tcp: comma list of small, small1k, short, down1m, up1m",
    )
    p.add_argument(
        "--splice", default="off,auto,on", help="--mode tcp: comma list of off, auto, on"
    )
    p.add_argument(
        "--pipesize", default="", help="--mode tcp: tune.pipesize for both proxies (bytes)"
    )
    p.add_argument("--json", type=Path, default=None, help="write every run and the summary here")
    p.add_argument(
        "--keep-tmp", action="store_true", help="keep the temporary directory (configs, logs)"
    )
    args = p.parse_args(argv)
    args.sizes = args.sizes or ("100" if args.quick else "100,16k,1m")
    args.duration = args.duration or (3.0 if args.quick else 10.0)
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.warmup = args.warmup if args.warmup is not None else (0.0 if args.quick else 2.0)
    return args


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.mode == "tcp":
        import l4

        return l4.main(args)
    kinds = _split(args.proxies)
    bad = [k for k in kinds if k not in PROXY_KINDS]
    sizes = _split(args.sizes)
    bad += [s for s in sizes if s not in SIZES]
    if bad:
        print(f"unknown proxies or sizes: {bad}", file=sys.stderr)
        return 2
    try:
        conns = [int(c) for c in _split(args.connections)]
    except ValueError:
        print(f"bad --connections {args.connections!r}", file=sys.stderr)
        return 2
    ka = {"on": [True], "off": [False]}
    keepalives = [v for k in _split(args.keepalive) for v in ka.get(k, [])]
    if not keepalives:
        print(f"bad --keepalive {args.keepalive!r}", file=sys.stderr)
        return 2
    missing = [b for b in (WRK_BIN, NGINX_BIN) if not os.access(b, os.X_OK)]
    if (any(k.startswith("haproxy") for k in kinds) or args.aa) and not os.access(
        HAPROXY_BIN, os.X_OK
    ):
        missing.append(HAPROXY_BIN)
    if missing:
        print(f"missing programs: {missing}", file=sys.stderr)
        return 2

    contenders = [Contender(k, k) for k in kinds]
    if args.aa:
        contenders.append(Contender(AA_LABEL, "haproxy"))
    labels = [c.label for c in contenders]
    scenarios = [Scenario(s, c, k) for s in sizes for c in conns for k in keepalives]
    pin = choose_pinning(args.no_pin, args.proxy_cpu, args.load_cpus)
    meta: dict[str, object] = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "pinning": asdict(pin),
        "versions": versions(),
        "loadavg_at_start": _loadavg(),
    }
    log = sys.stderr
    print(
        f"bench: {len(scenarios)} scenarios x {len(contenders)} proxies x {args.repeat} runs of "
        f"{args.duration:g}s; pinning: {'proxy on CPU ' + pin.proxy if pin.proxy else 'none'}"
        + (f", load on CPU {pin.load}" if pin.load else "")
        + f"; machine load average {_loadavg()} (a busy machine blurs every figure)",
        file=log,
    )

    tmp = Path(tempfile.mkdtemp(prefix="weir-bench-"))
    if args.tls != "none":
        TLS["pem"] = str(make_certificate(tmp, args.tls))
    sink: subprocess.Popen[str] | None = None
    log_port: int | None = None
    backends: list[ProxyProcess] = []
    bports: list[int] = []
    runs: list[Run] = []
    try:
        www = tmp / "www"
        www.mkdir()
        for name, size in SIZES.items():
            (www / f"{name}.bin").write_bytes(b"x" * size)
        lua = tmp / "report.lua"
        lua.write_text(WRK_LUA)
        try:
            for name in ("backend1", "backend2"):
                proc, port = start_backend(tmp, name, www, pin)
                backends.append(proc)
                bports.append(port)
        except ProxyStartError as e:
            print(f"bench: an nginx backend failed to start:\n{e}", file=sys.stderr)
            return 1
        for port in bports:
            err = preflight(port, "/16k.bin", SIZES["16k"])
            if err:
                print(f"bench: backend on {port}: {err}", file=sys.stderr)
                return 1
        load_pids = [b.pid for b in backends]
        if args.log == "udp":
            sink, log_port = start_udp_sink(pin)
            load_pids.append(sink.pid)
            print(f"bench: logging to a UDP sink on port {log_port}", file=log)

        for c in contenders:
            start_contender(c, tmp, bports, pin, log_port)
            state = f"listening on {c.port}" if c.error is None else f"NOT USABLE: {c.error}"
            print(f"bench: {c.label}: {state}", file=log)
            if c.error is not None and c.proc is not None:
                c.proc.stop()

        total = len(scenarios) * args.repeat * sum(1 for c in contenders if c.error is None)
        n = 0
        for sc in scenarios:
            if args.warmup > 0:
                for c in contenders:
                    if c.ok:
                        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired, OSError):
                            run_wrk(
                                c.port, sc, args.warmup, args.threads, lua, pin,
                                c.kind.endswith("+gzip"),
                            )  # fmt: skip
            for rep in range(1, args.repeat + 1):
                for c in contenders:  # interleaved: A B C, A B C, ...
                    if c.error is not None:
                        continue
                    n += 1
                    r = measure(c, sc, rep, args.duration, args.threads, lua, pin, load_pids)
                    runs.append(r)
                    if r.error:
                        print(
                            f"[{n}/{total}] {c.label} {sc.name} #{rep}: FAILED: {r.error}", file=log
                        )
                    else:
                        print(
                            f"[{n}/{total}] {c.label} {sc.name} #{rep}: {r.rps:,.0f} req/s, "
                            f"p99 {r.p99_ms:.2f} ms, CPU {r.proxy_cpu_s:.2f} s "
                            f"({r.proxy_cpu_pct:.0f}%), {r.req_per_cpu_s:,.0f} req/CPU-s, "
                            f"load {r.load_cpu_pct:.0f}%, errors {r.errors}",
                            file=log,
                        )
    except KeyboardInterrupt:
        print("bench: interrupted; reporting what was measured", file=log)
    finally:
        for c in contenders:
            if c.proc is not None and c.proc.proc is not None:
                died = not c.proc.alive and c.error is None
                status = c.proc.stop()
                if died:
                    c.error = f"died (exit status {status}):\n{_tail(c.proc.log)}"
            if c.peer is not None:
                c.peer.stop()
        for b in backends:
            b.stop()
        if sink is not None:
            received = stop_udp_sink(sink)
            meta["log_lines_received"] = received
            print(f"bench: the UDP sink received {received} log lines", file=log)
        if args.keep_tmp:
            print(f"bench: configs and logs kept in {tmp}", file=log)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    rows = summarise(runs, labels, scenarios)
    print()
    print_table(rows)
    costs = variant_costs(runs, labels, scenarios)
    if costs:
        print("\ncost of each variant against the same proxy without it (req/CPU-s):")
        print("\n".join("  " + line for line in costs))
    failures = {c.label: c.error for c in contenders if c.error}
    for label, err in failures.items():
        print(f"\n{label}: {err}")
    if REFERENCE not in labels:
        print("\n(no HAProxy in this run: ratio columns are empty)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "meta": meta,
                    "failures": failures,
                    "summary": rows,
                    "runs": [asdict(r) for r in runs],
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
