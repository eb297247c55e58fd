"""End-to-end: real weir processes, real backends and curl on 127.0.0.1."""

from __future__ import annotations

import socket

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

DEFAULTS = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


def test_roundrobin_alternates_between_two_backends(weir, http_backend) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    server a {a.address}
    server b {b.address}
""",
        wait_ports=[port],
    )
    bodies = [curl(f"http://127.0.0.1:{port}/x").body for _ in range(6)]
    assert set(bodies) == {b"Hello! This is a!", b"Hello! This is b!"}
    assert all(bodies[i] != bodies[i + 1] for i in range(5))
    assert len(a.requests) == 3
    assert len(b.requests) == 3


def test_dead_backend_is_a_503_not_a_hang(weir) -> None:
    port, dead = free_port(), free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    retries 1
    server gone 127.0.0.1:{dead}
""",
        wait_ports=[port],
    )
    r = curl(f"http://127.0.0.1:{port}/", max_time=10)
    assert r.status == 503


def test_seed_routing_by_path_prefix(weir, http_backend) -> None:
    ms1, ms2, default = http_backend("ms1.srv1"), http_backend("ms2.srv1"), http_backend("def")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend http-in
    bind 127.0.0.1:{port}
    acl url_ms1 path_beg -i /ms1/
    acl url_ms2 path_beg -i /ms2/
    use_backend ms1 if url_ms1
    use_backend ms2 if url_ms2
    default_backend default_servers
backend ms1
    server ms1.srv1 {ms1.address}
backend ms2
    server ms2.srv1 {ms2.address}
backend default_servers
    server def.srv1 {default.address}
""",
        wait_ports=[port],
    )
    base = f"http://127.0.0.1:{port}"
    assert curl(base + "/ms1/demo.html").body == b"Hello! This is ms1.srv1!"
    assert curl(base + "/MS1/demo.html").body == b"Hello! This is ms1.srv1!"  # -i
    assert curl(base + "/ms2/demo.html").body == b"Hello! This is ms2.srv1!"
    assert curl(base + "/ms3/demo.html").body == b"Hello! This is def!"
    assert [r.path for r in ms1.requests] == ["/ms1/demo.html", "/MS1/demo.html"]


def test_forwardfor_and_keep_alive_reuse(weir, http_backend) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
    option forwardfor
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    base = f"http://127.0.0.1:{port}"
    # curl's extra arguments come before its URL: /one, then /two, on one connection.
    r = curl(base + "/two", base + "/one")
    assert r.status == 200
    assert [q.path for q in be.requests] == ["/one", "/two"]
    assert be.requests[0].header("x-forwarded-for") == "127.0.0.1"
    assert be.accepted == 1  # the server connection was kept for the second request


def test_malformed_request_never_reaches_the_server(weir, http_backend) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
        answer = s.recv(4096)
    assert answer.startswith(b"HTTP/1.1 400 ")
    assert be.requests == []


def test_tcp_mode_relays_both_ways_with_half_close(weir, tcp_backend) -> None:
    echo = tcp_backend("echo")
    port = free_port()
    weir(
        f"""
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server e {echo.address}
""",
        wait_ports=[port],
    )
    payload = b"x" * 200_000
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)  # the client is done sending; the reply must still come
        got = bytearray()
        for _ in range(10_000):
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
    assert bytes(got).endswith(payload)


def test_errorfile_replaces_the_built_in_page(weir, tmp_path) -> None:
    page = tmp_path / "503.http"
    page.write_bytes(
        b"HTTP/1.0 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
        b"Connection: close\r\n\r\nsorry, down for maintenance\n"
    )
    port, dead = free_port(), free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    errorfile 503 {page}
    retries 0
    server gone 127.0.0.1:{dead}
""",
        wait_ports=[port],
    )
    r = curl(f"http://127.0.0.1:{port}/")
    assert r.status == 503
    assert r.body == b"sorry, down for maintenance\n"


def test_monitor_uri_is_answered_by_weir(weir, http_backend) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
    option tcpka
    option contstats
frontend fe
    bind 127.0.0.1:{port}
    monitor-uri /haproxy_test
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    r = curl(f"http://127.0.0.1:{port}/haproxy_test")
    assert r.status == 200
    assert curl(f"http://127.0.0.1:{port}/other").status == 200
    assert [q.path for q in be.requests] == ["/other"]  # the probe never reached it


def test_monitor_fail_turns_the_probe_to_503(weir, http_backend) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    monitor-uri /health
    acl drill hdr(x-drill) -m found
    monitor fail if drill
    monitor fail if {{ hdr(x-other) -i down }}
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}/health"
    assert curl(url).status == 200
    assert curl(url, "-H", "X-Drill: 1").status == 503
    assert curl(url, "-H", "X-Other: DOWN").status == 503
    assert curl(url, "-H", "X-Other: up").status == 200
    assert be.requests == []  # probes never reach a server


def test_monitor_fail_on_no_usable_server(weir, http_backend) -> None:
    be = http_backend("a")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    monitor-uri /health
    monitor fail if {{ nbsrv(empty) lt 1 }}
    use_backend empty if {{ path /e }}
    default_backend full
backend full
    server a {be.address}
backend empty
    server b {be.address} disabled
""",
        wait_ports=[port],
    )
    assert curl(f"http://127.0.0.1:{port}/health").status == 503


def test_server_at_star_reaches_the_clients_destination(weir, http_backend) -> None:
    """`server x *:PORT` connects to the address the client connected to (HAProxy's
    transparent destination): weir listens on 127.0.0.2 and the only backend listens on
    127.0.0.2 too, where 0.0.0.0 would not reach it."""
    be = http_backend("a", host="127.0.0.2")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.2:{port}
    default_backend be
backend be
    server a *:{be.port}
""",
        wait_ports=[],
    )
    import time

    deadline = time.monotonic() + 10
    r = curl(f"http://127.0.0.2:{port}/")
    while r.status < 0 and time.monotonic() < deadline:
        time.sleep(0.1)
        r = curl(f"http://127.0.0.2:{port}/")
    assert r.status == 200
    assert r.header("x-backend") == "a"
