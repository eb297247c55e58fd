"""Stick tables on real traffic: HTTP rate limiting with track-sc0 and a 429, a limit of
concurrent connections per source in TCP, and the table seen through the runtime API."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

DEFAULTS = """\
defaults
    mode {mode}
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def test_http_rate_limit_with_track_sc0(weir: Any, http_backend: Any, tmp_path: Path) -> None:
    be = http_backend("a")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        f"global\n    stats socket {sock} level admin\n"
        + DEFAULTS.format(mode="http")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 5m store http_req_rate(60s),http_req_cnt,conn_cur,gpc0
    http-request track-sc0 src
    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 5 }}
    http-request set-header X-Count %[sc0_http_req_cnt]
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    statuses = [curl(f"http://127.0.0.1:{port}/").status for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    assert [q.header("X-Count") for q in be.requests] == ["1", "2", "3", "4", "5"]
    shown = _cli(sock, "show table fe")
    assert "# table: fe, type: ip, size:1024, used:1" in shown
    assert "key=127.0.0.1 use=0" in shown
    assert "http_req_rate(60000)=8" in shown
    assert "http_req_cnt=8" in shown
    assert _cli(sock, "show table") == "# table: fe, type: ip, size:1024, used:1\n\n"
    _cli(sock, "clear table fe")
    assert curl(f"http://127.0.0.1:{port}/").status == 200  # a fresh count


def _closed(s: socket.socket) -> bool:
    """The peer closed (or reset) the connection without sending anything."""
    try:
        return s.recv(10) == b""
    except ConnectionResetError:
        return True


def test_tcp_concurrent_connections_per_source(weir: Any, tcp_backend: Any) -> None:
    echo = tcp_backend("echo")
    port = free_port()
    weir(
        DEFAULTS.format(mode="tcp")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 1m store conn_cur,conn_cnt
    tcp-request connection track-sc0 src
    tcp-request connection reject if {{ sc0_conn_cur gt 2 }}
    default_backend echo
backend echo
    server e {echo.address}
""",
        wait_ports=[port],
    )
    held = []
    try:
        for _ in range(2):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"ping")
            assert s.recv(10) == b"ping"
            held.append(s)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as third:
            assert _closed(third)  # the third concurrent connection is rejected
    finally:
        for s in held:
            s.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the two closed connections are released
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            try:
                s.sendall(b"again")
                if s.recv(10) == b"again":
                    break
            except (ConnectionResetError, BrokenPipeError):
                pass  # still counted: weir has not seen the closes yet
        time.sleep(0.05)
    else:
        raise AssertionError("connections were not released")


def test_stick_on_keeps_a_source_on_its_server(weir: Any, tcp_backend: Any) -> None:
    servers = [tcp_backend(f"s{i}", greeting=True) for i in range(3)]
    port = free_port()
    lines = "\n".join(f"    server s{i} {b.address}" for i, b in enumerate(servers))
    weir(
        DEFAULTS.format(mode="tcp")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend farm
backend farm
    balance roundrobin
    stick-table type ip size 1k expire 1m
    stick on src
{lines}
""",
        wait_ports=[port],
    )

    def served_by() -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            return s.recv(100).split(b"\n")[0]

    assert len({served_by() for _ in range(6)}) == 1  # round robin alone would rotate


def test_stick_on_a_header_in_a_shared_table(weir: Any, http_backend: Any) -> None:
    backends = [http_backend(f"h{i}") for i in range(3)]
    port = free_port()
    lines = "\n".join(f"    server h{i} {b.address}" for i, b in enumerate(backends))
    weir(
        DEFAULTS.format(mode="http")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend app
backend sessions
    stick-table type string len 32 size 1k expire 10m
backend app
    balance roundrobin
    stick on req.hdr(x-user) table sessions
{lines}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}/"
    for user in ("alice", "bob"):
        seen = {curl(url, "-H", f"X-User: {user}").header("x-backend") for _ in range(5)}
        assert len(seen) == 1, (user, seen)
    anonymous = {curl(url).header("x-backend") for _ in range(6)}
    assert len(anonymous) > 1  # no key: plain round robin


def test_stick_on_src_across_a_thousand_clients_and_eviction_at_size(
    weir: Any, tcp_backend: Any, tmp_path: Path
) -> None:
    """1,000 client addresses (127.0.x.y) each keep the server their first connection got,
    the servers share them evenly, and a table of 500 entries keeps the 500 most recent."""
    servers = [tcp_backend(f"s{i}", greeting=True) for i in range(3)]
    port = free_port()
    sock = tmp_path / "api.sock"
    lines = "\n".join(f"    server s{i} {b.address}" for i, b in enumerate(servers))
    weir(
        f"global\n    stats socket {sock} level admin\n"
        + DEFAULTS.format(mode="tcp")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend farm
backend farm
    balance roundrobin
    stick-table type ip size 500 expire 10m
    stick on src
{lines}
""",
        wait_ports=[port],
    )

    def served_by(source: str) -> bytes:
        with socket.create_connection(
            ("127.0.0.1", port), timeout=5, source_address=(source, 0)
        ) as s:
            return s.recv(100).split(b"\n")[0]

    sources = [f"127.0.{1 + i // 250}.{1 + i % 250}" for i in range(1000)]
    first = {src: served_by(src) for src in sources}
    shares = {name: list(first.values()).count(name) for name in set(first.values())}
    assert len(shares) == 3
    assert all(n > 250 for n in shares.values()), shares
    # The 500 most recent clients are remembered: they come back to their server.
    recent = sources[500:]
    assert [served_by(src) for src in recent] == [first[src] for src in recent]
    shown = _cli(sock, "show table farm")
    assert "size:500, used:500" in shown
    assert "key=127.0.1.1 " not in shown  # the oldest were evicted


def test_rate_limit_recovers_after_its_window(weir: Any, http_backend: Any) -> None:
    """A client over the limit is refused until the sliding window has passed over its
    burst (two periods at most, HAProxy's frequency counters), then served again."""
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS.format(mode="http")
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    stick-table type ip size 1k expire 1m store http_req_rate(1s)
    http-request track-sc0 src
    http-request deny deny_status 429 if {{ sc_http_req_rate(0) gt 3 }}
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}/"
    assert [curl(url).status for _ in range(5)] == [200, 200, 200, 429, 429]
    time.sleep(2.2)  # the burst's period and the next one are over
    assert curl(url).status == 200
