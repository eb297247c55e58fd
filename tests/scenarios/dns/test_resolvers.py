"""DNS resolution at run time: a real weir process, a tiny DNS server and HTTP backends on
loopback addresses (127.0.0.0/8 is all loopback on Linux, so a record can point to
127.0.0.2 with a backend bound there)."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.dns import DnsServer
from tests.helpers.ports import free_port

NAME = "app.weir.test"  # .test never resolves through the system's resolver
POLL = 0.05
DEADLINE = 10.0  # seconds any awaited change may take (DNS runs every 100 ms here)

RESOLVERS = """\
resolvers dns
    nameserver ns1 127.0.0.1:{dns}
    resolve_retries 2
    timeout resolve 100ms
    timeout retry 100ms
    hold valid 100ms
    hold nx 100ms
    hold other 100ms
"""

BASE = """\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:{port}
    default_backend app
"""


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    server = DnsServer().start()
    yield server
    server.stop()
    assert not server.errors


def _get(port: int) -> tuple[int, str]:
    """One request on a new connection: (status, the X-Backend header or "")."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("X-Backend") or ""
    finally:
        conn.close()


def _until(cond: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while True:
        got = cond()
        if got:
            return got
        assert time.monotonic() < deadline, f"not in time: {what}"
        time.sleep(POLL)


def _api(sock: str, command: str) -> str:
    _until(lambda: Path(sock).exists(), "the API socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(sock)
        s.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode()


def _servers_state(sock: str) -> dict[str, list[str]]:
    """server name -> the fields of its `show servers state` line."""
    out: dict[str, list[str]] = {}
    for line in _api(sock, "show servers state app").splitlines()[2:]:
        words = line.split()
        if len(words) > 4:
            out[words[3]] = words
    return out


def test_server_without_address_starts_in_maintenance_and_serves_once_resolved(
    weir: Callable[..., Any], http_backend: Callable[..., Any], dns: DnsServer, tmp_path: Path
) -> None:
    backend = http_backend("b1")
    port, sock = free_port(), str(tmp_path / "api.sock")
    cfg = BASE.format(sock=sock, port=port) + RESOLVERS.format(dns=dns.port)
    cfg += (
        "backend app\n"
        f"    server s1 {NAME}:{backend.port} resolvers dns init-addr none resolve-prefer ipv4\n"
    )
    proc = weir(cfg, wait_ports=[port])
    assert _get(port)[0] == 503  # no address: in maintenance
    state = _servers_state(sock)["s1"]
    assert state[4] == "-"  # no address
    assert state[6] == str(0x20)  # RMAINT
    assert state[17] == NAME  # srv_fqdn
    stat = _api(sock, "show stat")
    assert "MAINT (resolution)" in stat

    dns.set(NAME, ["127.0.0.1"])
    _until(lambda: _get(port)[0] == 200, "the server leaves maintenance")
    assert backend.requests
    assert proc.wait_log(r"app/s1 changed its IP from \(none\) to 127.0.0.1 by dns/ns1")
    assert proc.wait_log(rf"Server app/s1 \('{NAME}'\) is UP/READY \(resolves again\)")
    assert _servers_state(sock)["s1"][4] == "127.0.0.1"

    # The name disappears: past `hold nx` the server goes back to maintenance.
    dns.set(NAME, None)
    _until(lambda: _get(port)[0] == 503, "the server goes to maintenance on NXDOMAIN")
    assert proc.wait_log(r"Server app/s1 is going DOWN for maintenance \(DNS NX status\)")

    answer = _api(sock, "show resolvers")
    assert answer.startswith("Resolvers section dns\n nameserver ns1:\n  sent:        ")
    counters = {
        line.split(":")[0].strip(): int(line.split(":")[1])
        for line in answer.splitlines()[2:]
        if line
    }
    assert list(counters) == [
        "sent", "snd_error", "valid", "update", "cname", "cname_error", "any_err", "nx",
        "timeout", "refused", "other", "invalid", "too_big", "truncated", "outdated",
    ]  # fmt: skip
    assert counters["sent"] > 0
    assert counters["valid"] > 0
    assert counters["nx"] > 0
    assert counters["update"] >= 1
    assert _api(sock, "show resolvers nope") == "Can't find that resolvers section\n\n"


def test_address_change_moves_new_connections(
    weir: Callable[..., Any], http_backend: Callable[..., Any], dns: DnsServer, tmp_path: Path
) -> None:
    first = http_backend("first")
    second = http_backend("second", host="127.0.0.2", port=first.port)
    dns.set(NAME, ["127.0.0.1"])
    port, sock = free_port(), str(tmp_path / "api.sock")
    cfg = BASE.format(sock=sock, port=port) + RESOLVERS.format(dns=dns.port)
    # resolve-prefer is left at ipv6: AAAA finds nothing, then A is asked (HAProxy's order)
    cfg += (
        "backend app\n    option httpchk GET /healthCheck.html\n"
        f"    server s1 {NAME}:{first.port} resolvers dns init-addr none check inter 100ms\n"
    )
    proc = weir(cfg, wait_ports=[port])
    _until(lambda: _get(port) == (200, "first"), "traffic reaches the first address")
    _until(lambda: first.checks, "health checks follow the first address")
    assert (NAME, 28) in dns.queries
    assert (NAME, 1) in dns.queries

    dns.set(NAME, ["127.0.0.2"])
    _until(lambda: _get(port) == (200, "second"), "traffic moves to the new address")
    assert proc.wait_log("app/s1 changed its IP from 127.0.0.1 to 127.0.0.2 by dns/ns1")
    before = len(first.requests)
    assert [_get(port) for _ in range(3)] == [(200, "second")] * 3
    assert len(first.requests) == before
    _until(lambda: second.checks, "health checks follow the new address")


def test_server_template_takes_one_address_per_server(
    weir: Callable[..., Any], http_backend: Callable[..., Any], dns: DnsServer, tmp_path: Path
) -> None:
    b1 = http_backend("b1")
    b2 = http_backend("b2", host="127.0.0.2", port=b1.port)
    b3 = http_backend("b3", host="127.0.0.3", port=b1.port)
    dns.set(NAME, ["127.0.0.1", "127.0.0.2"])
    port, sock = free_port(), str(tmp_path / "api.sock")
    cfg = BASE.format(sock=sock, port=port) + RESOLVERS.format(dns=dns.port)
    cfg += (
        "backend app\n    balance roundrobin\n"
        f"    server-template web 3 {NAME}:{b1.port} resolvers dns init-addr none "
        "resolve-prefer ipv4\n"
    )
    weir(cfg, wait_ports=[port])

    def addresses() -> dict[str, str]:
        return {name: w[4] for name, w in _servers_state(sock).items()}

    _until(
        lambda: addresses() == {"web1": "127.0.0.1", "web2": "127.0.0.2", "web3": "-"},
        "two servers filled, the third without an address",
    )
    assert _servers_state(sock)["web3"][6] == str(0x20)
    seen = {_get(port)[1] for _ in range(4)}
    assert seen == {"b1", "b2"}

    dns.set(NAME, ["127.0.0.1", "127.0.0.2", "127.0.0.3"])
    _until(lambda: addresses()["web3"] == "127.0.0.3", "the third server is filled")
    _until(lambda: {_get(port)[1] for _ in range(6)} == {"b1", "b2", "b3"}, "all three serve")
    assert b3.requests

    # One address goes away: its server is left without one, the others keep theirs.
    dns.set(NAME, ["127.0.0.1", "127.0.0.3"])
    _until(lambda: _servers_state(sock)["web2"][6] == str(0x20), "web2 to maintenance")
    assert addresses()["web1"] == "127.0.0.1"
    assert addresses()["web3"] == "127.0.0.3"
    assert {_get(port)[1] for _ in range(4)} == {"b1", "b3"}
    assert b2.requests  # it served before


CORPUS = Path("/work/shared/corpus/haproxy-configs")


@pytest.mark.parametrize("name", ["025.cfg", "127.cfg", "089.cfg"])
def test_weir_c_accepts_real_configs_with_resolvers(name: str, tmp_path: Path) -> None:
    src = CORPUS / name
    if not src.exists():
        pytest.skip(f"{src} is not available here")
    cfg = tmp_path / name
    cfg.write_text(src.read_text())
    argv = [sys.executable, "-m", "weir", "-c", "-f", str(cfg)]
    done = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout + done.stderr
