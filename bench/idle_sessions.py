"""Memory of idle sessions, weir and HAProxy 2.6 side by side.

    python bench/idle_sessions.py [--sessions 10000] [--proxies weir,haproxy] [--mode http]

mode tcp (the default): each proxy relays N client connections to one silent server (it
accepts and reads, and never answers), all open at once and idle. mode http: each of the
N clients sends one request, reads its response and keeps its connection open, idle
between requests (keep-alive). Printed: the proxy's resident memory (RSS, its process
tree) before and with the N sessions, and the memory per session. Figures, never asserts.
"""

from __future__ import annotations

import argparse
import os
import resource
import selectors
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.helpers.ports import free_port  # noqa: E402
from tests.helpers.procs import HAPROXY_BIN, ProxyProcess, weir_argv  # noqa: E402

CFG = """\
global
    maxconn {maxconn}
{extra}defaults
    mode {mode}
    timeout connect 5s
    timeout client 5m
    timeout server 5m
frontend fe
    bind 127.0.0.1:{port}
    backlog 4096
    default_backend be
backend be
    server s1 127.0.0.1:{backend}
"""


def rss_kib(pid: int) -> int:
    """Resident memory of `pid` and its descendants, in KiB (from /proc)."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def silent_server(port: int, stop: threading.Event, http: bool = False) -> None:
    """Accept everything, read, never answer (`http`: answer each request head)."""
    ls = socket.create_server(("127.0.0.1", port), backlog=4096)
    ls.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(ls, selectors.EVENT_READ)
    conns = []
    while not stop.is_set():
        for key, _ in sel.select(0.1):
            if key.fileobj is ls:
                while True:
                    try:
                        c, _ = ls.accept()
                    except BlockingIOError:
                        break
                    c.setblocking(False)
                    conns.append(c)
                    if http:
                        sel.register(c, selectors.EVENT_READ)
            else:
                c = key.fileobj  # type: ignore[assignment]
                try:
                    data = c.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(c)
                    continue
                for _ in range(data.count(b"\r\n\r\n")):
                    c.sendall(RESPONSE)
    for c in conns:
        c.close()
    ls.close()


def measure(kind: str, n: int, tmp: Path, mode: str) -> tuple[int, int, int]:
    """(RSS KiB idle, RSS KiB with n sessions, sessions established) for one proxy."""
    backend = free_port()
    stop = threading.Event()
    http = mode == "http"
    server = threading.Thread(target=silent_server, args=(backend, stop, http), daemon=True)
    server.start()
    port = free_port()
    extra = "    nbthread 1\n" if kind == "haproxy" else ""
    cfg = CFG.format(maxconn=n + 20, extra=extra, port=port, backend=backend, mode=mode)
    d = tmp / kind
    d.mkdir()
    argv = weir_argv if kind == "weir" else (lambda path: [HAPROXY_BIN, "-db", "-f", path])
    p = ProxyProcess(cfg, argv, name=kind, workdir=d)
    p.start(wait_ports=[port], timeout=20)
    clients: list[socket.socket] = []
    try:
        time.sleep(0.5)
        before = rss_kib(p.pid)
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            if http:
                s.sendall(b"GET / HTTP/1.1\r\nHost: idle\r\n\r\n")
                answer = b""
                while not answer.endswith(b"ok"):
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
            else:
                s.sendall(b"x")
            clients.append(s)
        time.sleep(2.0)  # every session relayed its byte and went idle
        return before, rss_kib(p.pid), len(clients)
    finally:
        for s in clients:
            s.close()
        p.stop()
        stop.set()
        server.join(5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    # 9,900: HAProxy asks for 2 descriptors per connection and more, and this machine's
    # hard limit is 20,000 descriptors per process.
    ap.add_argument("--sessions", type=int, default=9_900)
    ap.add_argument("--proxies", default="weir,haproxy")
    ap.add_argument("--mode", choices=("tcp", "http"), default="tcp")
    args = ap.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = 2 * args.sessions + 1000  # this process holds the clients and the server's side
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, need), hard))
    tmp = Path(tempfile.mkdtemp(prefix="weir-idle-"))
    print(
        f"{'proxy':8} {'sessions':>8} {'RSS idle MiB':>13} {'RSS with MiB':>13} {'KiB/session':>12}"
    )
    for kind in args.proxies.split(","):
        before, after, made = measure(kind, args.sessions, tmp, args.mode)
        per = (after - before) / made if made else 0
        print(f"{kind:8} {made:8,} {before / 1024:13.1f} {after / 1024:13.1f} {per:12.2f}")
    print(f"(machine: {os.cpu_count()} CPUs; RSS of each proxy's process tree)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
