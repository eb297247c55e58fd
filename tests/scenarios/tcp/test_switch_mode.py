"""A mode tcp frontend whose sessions go on as HTTP: `tcp-request content switch-mode
http` (the frontend's HTTP rules then apply, each later request of the connection runs
its content rules again, variables set before the switch reach the first request), and a
backend in mode http (HAProxy's implicit upgrade: the frontend's HTTP rules apply too,
though HAProxy warns that they are ignored). HTTP fetches read the request head during
inspection in mode tcp, so a tcp frontend can route by path. Every scenario runs through
weir and HAProxy 2.6 alike."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import pytest

from tests.helpers.ports import free_port
from tests.helpers.procs import run_check

CFG = """\
defaults
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend upgrade
    mode tcp
    bind 127.0.0.1:{up}
    tcp-request inspect-delay 2s
    tcp-request content set-var(req.first) req.len
    tcp-request content switch-mode http if HTTP
    tcp-request content reject
    http-request set-header x-name %[fe_name]
    http-request set-header x-first %[var(req.first)]
    http-request deny if {{ path_beg /private }}
    default_backend be
frontend implicit
    mode tcp
    bind 127.0.0.1:{imp}
    http-request set-header x-implicit yes
    default_backend be
backend be
    mode http
    http-request set-header x-name %[be_name] unless {{ req.fhdr(x-name) -m found }}
    server s1 {backend}
"""


def _requests(port: int, paths: list[str]) -> list[bytes]:
    """The paths, one request each, on one connection; each answer's status line."""
    out = []
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        f = s.makefile("rb")
        for path in paths:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            status = f.readline()
            length = 0
            while (line := f.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            f.read(length)
            out.append(status.split(b" ")[1] if status else b"")
    return out


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_switch_mode_and_implicit_upgrade(
    program: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    be = http_backend("s1")
    up, imp = free_port(), free_port()
    start = weir if program == "weir" else haproxy
    start(CFG.format(up=up, imp=imp, backend=be.address), wait_ports=[up, imp])

    assert _requests(up, ["/a", "/b", "/private/x"]) == [b"200", b"200", b"403"]
    reqs = be.requests
    assert [r.path for r in reqs] == ["/a", "/b"]
    assert reqs[0].conn == reqs[1].conn  # one server connection, kept alive
    # The frontend's HTTP rules ran on each request; the variable set before the switch
    # reached the first one (the bytes seen then: its whole head); later requests run
    # the content rules again, in HTTP, where req.len is the request's head too.
    assert [r.header("x-name") for r in reqs] == ["upgrade", "upgrade"]
    assert reqs[0].header("x-first") == str(len(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n"))

    # Not HTTP: the switch does not happen and the last rule rejects, before any server.
    with socket.create_connection(("127.0.0.1", up), timeout=5) as s:
        s.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(100) == b""

    # The implicit upgrade: the backend's rules, and the tcp frontend's too.
    assert _requests(imp, ["/d", "/e"]) == [b"200", b"200"]
    reqs = be.requests[2:]
    assert [r.path for r in reqs] == ["/d", "/e"]
    assert [r.header("x-name") for r in reqs] == ["be", "be"]
    assert [r.header("x-implicit") for r in reqs] == ["yes", "yes"]
    assert len(be.requests) == 4


ROUTE_CFG = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    tcp-request inspect-delay 2s
    tcp-request content accept if HTTP
    use_backend api if {{ path_beg /api }}
    default_backend web
backend api
    server s1 {api}
backend web
    server s1 {web}
"""


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_a_tcp_frontend_routes_by_path(
    program: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    """HTTP fetches in mode tcp read the request head that inspection buffered."""
    api, web = http_backend("api"), http_backend("web")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(ROUTE_CFG.format(port=port, api=api.address, web=web.address), wait_ports=[port])
    assert _requests(port, ["/api/v1"]) == [b"200"]
    assert _requests(port, ["/index.html"]) == [b"200"]
    assert [r.path for r in api.requests] == ["/api/v1"]
    assert [r.path for r in web.requests] == ["/index.html"]


def test_switch_mode_is_checked() -> None:
    base = "frontend f\n    mode tcp\n    bind 127.0.0.1:8080\n    tcp-request content {rule}\n"
    ok = run_check(base.format(rule="switch-mode http proto h1 if HTTP"))
    assert ok.returncode == 0, ok.stdout
    for rule, says in [
        ("switch-mode", "expects a mode"),
        ("switch-mode tcp", "expects a valid mode"),
        ("switch-mode http proto", "expects a protocol"),
        ("switch-mode http proto h2", "HTTP/1.x only"),
        ("switch-mode http proto spdy", "valid MUX protocol"),
    ]:
        r = run_check(base.format(rule=rule))
        assert r.returncode != 0, rule
        assert says in r.stdout, r.stdout
    r = run_check("backend b\n    tcp-request content switch-mode http\n")
    assert r.returncode != 0
    assert "has no frontend capability" in r.stdout
    # HTTP directives of a tcp proxy that never switches are ignored, with a warning.
    r = run_check(
        "frontend f\n    mode tcp\n    bind 127.0.0.1:8080\n"
        "    http-request set-header a b\n    option forwardfor\n"
    )
    assert r.returncode == 0
    assert "'http-request' rules ignored for frontend 'f'" in r.stdout
    assert "'option forwardfor' ignored" in r.stdout
    r = run_check(base.format(rule="switch-mode http") + "    http-request set-header a b\n")
    assert "ignored" not in r.stdout, r.stdout
