"""`option log-health-checks`: each check result that moves a server's health counter is
logged, with HAProxy's wording and the counter (`status: 1/2 DOWN`)."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.helpers.ports import free_port


def test_check_results_are_logged(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    dead = free_port()
    port = free_port()
    proc = weir(
        f"""\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 1s
    option log-health-checks
frontend fe
    bind 127.0.0.1:{port}
    default_backend app
backend app
    server good {be.address} check inter 100 rise 2 fall 2
    server bad 127.0.0.1:{dead} check inter 100 rise 2 fall 2
""",
        wait_ports=[port],
    )
    deadline = time.monotonic() + 10
    # The lines HAProxy 2.6 prints for this configuration (compared by hand with its
    # binary): the good server's first check raises its health to the top, the bad one's
    # first failure takes it down, and the DOWN line then omits the reason.
    want = [
        re.compile(
            r"Health check for server app/good succeeded, reason: Layer4 check passed, "
            r"check duration: \d+ms, status: 2/2 UP\."
        ),
        re.compile(
            r"Health check for server app/bad failed, reason: Layer4 connection problem, "
            r'info: "Connection refused", check duration: \d+ms, status: 0/2 DOWN\.'
        ),
        re.compile(r"Server app/bad is DOWN\. 1 active and 0 backup servers left\."),
    ]
    while time.monotonic() < deadline and not all(w.search(proc.log) for w in want):
        time.sleep(0.1)
    log = proc.log
    for w in want:
        assert w.search(log), log
    # A check that passes while the server is already at the top of its health is not logged.
    assert log.count("Health check for server app/good") == 1
