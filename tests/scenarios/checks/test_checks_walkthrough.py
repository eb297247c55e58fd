"""The seed's walk-through through a real weir process: a health page turns 404, the
server goes DOWN after `fall` checks and traffic avoids it; the page comes back, the
server goes UP after `rise` checks and gets traffic again.

State changes are read from weir's own log (HAProxy's lines); traffic goes through
weir's frontend with a real HTTP client. Waits are bounded; nothing is timed.
"""

from __future__ import annotations

import http.client
from collections.abc import Callable

from tests.helpers.backends import HttpBackend, wait_until
from tests.helpers.ports import LOOPBACK, free_port
from tests.helpers.procs import ProxyProcess


def get(port: int) -> str:
    """One request through weir; the name of the backend that answered."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        return resp.getheader("X-Backend") or ""
    finally:
        conn.close()


def test_health_page_404_takes_the_server_out_and_200_brings_it_back(
    weir: Callable[..., ProxyProcess], http_backend: Callable[..., HttpBackend]
) -> None:
    web1 = http_backend("web1")
    web2 = http_backend("web2")
    port = free_port()
    proc = weir(
        f"""\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    option httpchk GET /healthCheck.html

frontend fe
    bind {LOOPBACK}:{port}
    default_backend app

backend app
    balance roundrobin
    server web1 {web1.address} check inter 100ms rise 2 fall 3
    server web2 {web2.address} check inter 100ms rise 2 fall 3
""",
        wait_ports=[port],
    )
    assert wait_until(lambda: len(web1.checks) >= 2 and len(web2.checks) >= 2, timeout=10)
    assert {get(port) for _ in range(4)} == {"web1", "web2"}
    assert web1.checks[0].target == "/healthCheck.html"

    web1.health_status = 404
    down = proc.wait_log(
        r"Server app/web1 is DOWN, reason: Layer7 wrong status, code: 404, "
        r'info: "Not Found", check duration: \d+ms\. 1 active and 0 backup servers left\.',
        timeout=10,
    )
    assert down is not None, proc.log
    before = len(web1.requests)
    assert {get(port) for _ in range(6)} == {"web2"}
    assert len(web1.requests) == before

    web1.health_status = 200
    up = proc.wait_log(
        r"Server app/web1 is UP, reason: Layer7 check passed, code: 200, "
        r"check duration: \d+ms\. 2 active and 0 backup servers online\.",
        timeout=10,
    )
    assert up is not None, proc.log
    assert "web1" in {get(port) for _ in range(4)}
