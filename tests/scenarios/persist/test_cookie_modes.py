"""Cookie persistence modes other than insert, with the application setting its own
cookie: `rewrite`, `prefix`, and passive (no mode); and `option persist`."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    cookie JSESSIONID {mode}
    server a {a} cookie sa
    server b {b} cookie sb
"""


def _start(weir: Any, http_backend: Any, mode: str, value: str) -> tuple[str, Any, Any]:
    a = http_backend("a", headers=[("Set-Cookie", f"JSESSIONID={value}; Path=/")])
    b = http_backend("b", headers=[("Set-Cookie", f"JSESSIONID={value}; Path=/")])
    port = free_port()
    weir(CFG.format(port=port, mode=mode, a=a.address, b=b.address), wait_ports=[port])
    return f"http://127.0.0.1:{port}/", a, b


def test_prefix_mode(weir: Any, http_backend: Any) -> None:
    url, a, b = _start(weir, http_backend, "prefix", "app123")
    r = curl(url)
    cookie = r.header("set-cookie")
    server = r.header("x-backend")
    assert cookie == f"JSESSIONID=s{server}~app123; Path=/"
    # The client comes back with the prefixed value: same server, and the application
    # sees its own value again.
    for _ in range(3):
        r = curl(url, "-H", f"Cookie: other=1; JSESSIONID=s{server}~app123")
        assert r.header("x-backend") == server
    last = (a if server == "a" else b).requests[-1]
    assert last.header("Cookie") == "other=1; JSESSIONID=app123"


def test_rewrite_mode(weir: Any, http_backend: Any) -> None:
    url, _a, _b = _start(weir, http_backend, "rewrite", "anything")
    r = curl(url)
    server = r.header("x-backend")
    assert r.header("set-cookie") == f"JSESSIONID=s{server}; Path=/"
    for _ in range(3):
        assert curl(url, "-H", f"Cookie: JSESSIONID=s{server}").header("x-backend") == server


def test_passive_mode_reads_the_servers_own_cookie(weir: Any, http_backend: Any) -> None:
    url, _a, _b = _start(weir, http_backend, "", "sb")
    r = curl(url)
    assert r.header("set-cookie") == "JSESSIONID=sb; Path=/"  # untouched
    for _ in range(3):
        assert curl(url, "-H", "Cookie: JSESSIONID=sb").header("x-backend") == "b"


PERSIST_CFG = """\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
{option}    cookie SRV insert indirect nocache
    server a {a} cookie sa
    server b {b} cookie sb
"""


@pytest.mark.parametrize("option", ["", "    option persist\n"])
@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_option_persist_keeps_a_server_in_maintenance(
    program: str, option: str, weir: Any, haproxy: Any, http_backend: Any, tmp_path: Path
) -> None:
    """A cookie naming a server in maintenance: balanced elsewhere, unless `option
    persist`, which sends the request to that server all the same."""
    a, b = http_backend("a"), http_backend("b")
    port, sock = free_port(), tmp_path / "api.sock"
    start = weir if program == "weir" else haproxy
    start(
        PERSIST_CFG.format(sock=sock, port=port, option=option, a=a.address, b=b.address),
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}/"
    assert curl(url, "-H", "Cookie: SRV=sb").header("x-backend") == "b"
    subprocess.run(
        ["socat", "-", f"UNIX-CONNECT:{sock}"],
        input=b"disable server be/b\n",
        capture_output=True,
        timeout=10,
        check=True,
    )
    served = {curl(url, "-H", "Cookie: SRV=sb").header("x-backend") for _ in range(3)}
    assert served == ({"b"} if option else {"a"})
