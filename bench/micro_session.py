"""Micro-benchmark of weir's L7 pipeline: one request and one response through
`HttpClient` and `ServerConn` with transports that do nothing, so the figure is the
interpreter's share of a request (no sockets, no event loop I/O), compiled or pure as
weir was installed (weir/native.py).

    python bench/micro_session.py [--requests N]

Prints microseconds per request/response pair. Figures, not asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import RULESET
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.http.session import HttpClient, ServerConn
from weir.net.loop import new_loop
from weir.proxy.runtime import build

CONFIG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    {extra}
frontend fe
    bind 127.0.0.1:1
    {fe_extra}
    default_backend be
backend be
    balance roundrobin
    server a 127.0.0.1:2
    server b 127.0.0.1:3
"""

REQUEST = (
    b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1:18000\r\nUser-Agent: wrk\r\nAccept: */*\r\n\r\n"
)
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Mon, 23 Nov 2026 22:40:57 GMT\r\n"
    b"Content-Type: text/plain\r\nContent-Length: 80\r\nConnection: keep-alive\r\n\r\n" + b"x" * 80
)


class NullTransport:
    """Accepts everything, sends nothing."""

    def __init__(self) -> None:
        self.sent = 0

    def write(self, data: bytes) -> None:
        self.sent += 1

    def writelines(self, data: list[bytes]) -> None:
        self.sent += 1

    def get_extra_info(self, name: str) -> object:
        return ("127.0.0.1", 40000) if name == "peername" else None

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def is_closing(self) -> bool:
        return False

    def close(self) -> None: ...


TRACK = """stick-table type ip size 100k expire 30s store http_req_rate(10s),http_req_cnt
    http-request track-sc0 src"""


def run(n: int, extra: str, fe_extra: str = "") -> float:
    with tempfile.TemporaryDirectory() as d:
        cfg_path = Path(d) / "b.cfg"
        cfg_path.write_text(CONFIG.format(extra=extra, fe_extra=fe_extra))
        diags = Diagnostics()
        cfg = load([str(cfg_path)], diags)
        assert not diags.has_errors(), diags.items
    rt = build(cfg)
    loop = new_loop()  # uvloop, as in production: its time() is C
    fe = rt.frontends[0]
    client = HttpClient(fe, loop, 16384, 101)
    client.connection_made(NullTransport())  # type: ignore[arg-type]
    conns = {}
    for srv in rt.backends["be"].servers:
        conn = ServerConn(client, srv)
        conn.connection_made(NullTransport())  # type: ignore[arg-type]
        conns[srv] = conn
        client.idle[srv] = conn  # connections already open: the steady keep-alive state
    t0 = time.perf_counter()
    for _ in range(n):
        client.data_received(REQUEST)
        conn = client.srv_conn
        assert conn is not None
        conn.data_received(RESPONSE)
    dt = time.perf_counter() - t0
    loop.close()
    return dt / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--requests", type=int, default=50_000)
    args = ap.parse_args()
    cases = (
        ("plain", "", ""),
        ("forwardfor", "option forwardfor", ""),
        ("track-sc0", "", TRACK),
        ("rules", "", RULESET),  # bench/run.py's `+rules` set
    )
    for label, extra, fe_extra in cases:
        best = min(run(args.requests, extra, fe_extra) for _ in range(3))
        print(f"{label:12} {best:6.2f} us per request+response (interpreter share)")


if __name__ == "__main__":
    main()
