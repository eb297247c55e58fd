"""Passive health through a real weir process: traffic errors mark a server down."""

from __future__ import annotations

from tests.compat.helpers import curl
from tests.helpers.ports import free_port


def test_observe_layer7_marks_a_failing_server_down(weir, http_backend) -> None:
    bad = http_backend("bad", status=500)
    good = http_backend("good")
    port = free_port()
    weir(
        f"""
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
    server bad {bad.address} check inter 60s observe layer7 error-limit 2 on-error mark-down
    server good {good.address} check inter 60s
""",
        wait_ports=[port],
    )
    statuses = [curl(f"http://127.0.0.1:{port}/").status for _ in range(10)]
    # 'bad' answers 500 until 'error-limit' consecutive errors mark it down (its first
    # health check, spread over the interval, may land in between and restart the count:
    # at most one more), then only 'good' answers.
    assert 2 <= statuses.count(500) <= 3
    assert statuses[-4:] == [200, 200, 200, 200]
    assert len(bad.requests) == statuses.count(500)
