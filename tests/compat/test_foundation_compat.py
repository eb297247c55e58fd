"""The same configuration and traffic through HAProxy 2.6 and weir, results compared."""

from __future__ import annotations

import socket

from tests.compat.helpers import curl, run_both
from tests.helpers.ports import free_port

SEED = """\
defaults
    mode http
    option http-keep-alive
    option forwardfor
    timeout connect 2s
    timeout client 5s
    timeout server 5s

frontend http-in
    bind 127.0.0.1:{port}
    acl url_ms1 path_beg -i /ms1/
    acl url_ms2 path_beg -i /ms2/
    use_backend ms1 if url_ms1
    use_backend ms2 if url_ms2
    default_backend default_servers

backend ms1
    balance roundrobin
    cookie HA_STICKY_ms1 insert indirect nocache
    server ms1.srv1 {ms1a} cookie ms1.srv1
    server ms1.srv2 {ms1b} cookie ms1.srv2

backend ms2
    server ms2.srv1 {ms2}

backend default_servers
    server def.srv1 {default}
"""


def _seed(http_backend) -> tuple[str, int]:
    port = free_port()
    cfg = SEED.format(
        port=port,
        ms1a=http_backend("ms1.srv1").address,
        ms1b=http_backend("ms1.srv2").address,
        ms2=http_backend("ms2.srv1").address,
        default=http_backend("def.srv1").address,
    )
    return cfg, port


def test_seed_routing_and_cookies_match_haproxy(http_backend) -> None:
    cfg, port = _seed(http_backend)
    base = f"http://127.0.0.1:{port}"

    def traffic(_proc: object) -> list[tuple[int, bytes, str | None]]:
        out = []
        for path in ("/ms1/demo.html", "/ms1/demo.html", "/MS2/x", "/ms2/x", "/other"):
            r = curl(base + path)
            out.append((r.status, r.body, r.header("set-cookie")))
        sticky = curl(base + "/ms1/demo.html", "-b", "HA_STICKY_ms1=ms1.srv2")
        out.append((sticky.status, sticky.body, sticky.header("set-cookie")))
        return out

    haproxy, weir = run_both(cfg, traffic, [port])
    assert weir == haproxy


def _raw(port: int, request: bytes) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request)
        head = s.recv(4096)
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.") else -1


def test_malformed_requests_get_haproxys_statuses(http_backend) -> None:
    be = http_backend("def.srv1")
    port = free_port()
    cfg = (
        "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n"
        f"    timeout server 5s\nlisten l\n    bind 127.0.0.1:{port}\n    server s {be.address}\n"
    )
    requests = [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n",
        b"GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"G@T / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
    ]

    def traffic(_proc: object) -> list[int]:
        return [_raw(port, r) for r in requests]

    haproxy, weir = run_both(cfg, traffic, [port])
    assert weir == haproxy
    assert be.requests == []
