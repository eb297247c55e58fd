"""Rules and ACLs in a named defaults section (HAProxy 2.5+): they run before the rules
of each proxy using the section, their conditions name the section's own ACLs (a proxy's
ACL of the same name is another one), and the same configuration behaves the same in
HAProxy 2.6. Anonymous defaults sections refuse them, and a defaults section with rules
serves frontends or backends, not both."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from tests.helpers.procs import run_check

TIMEOUTS = "    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n"

CFG = (
    "defaults base\n    mode http\n"
    + TIMEOUTS
    + """\
    acl is_x path_beg /x
    http-request deny deny_status 403 if is_x
    http-request set-header X-From-Defaults yes
defaults plain
    mode http
"""
    + TIMEOUTS
    + """\
frontend fe from base
    bind 127.0.0.1:{port}
    acl is_x path_beg /other
    http-request set-header X-Seen %[req.hdr(x-from-defaults)]
    http-request deny deny_status 410 if is_x
    default_backend be
backend be from plain
    server s1 {backend}
"""
)


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_named_defaults_rules_run_first_with_their_own_acls(
    program: str, weir: Any, haproxy: Any, http_backend: Any
) -> None:
    be = http_backend("a")
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(CFG.format(port=port, backend=be.address), wait_ports=[port])
    url = f"http://127.0.0.1:{port}"
    assert curl(f"{url}/x").status == 403  # the defaults section's is_x
    assert curl(f"{url}/other").status == 410  # the frontend's is_x
    assert curl(f"{url}/").status == 200
    (req,) = be.requests
    assert req.header("X-From-Defaults") == "yes"
    assert req.header("X-Seen") == "yes"  # the defaults' rule ran before the frontend's


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "defaults\n    mode http\n    http-request deny\nfrontend f\n    bind :8080\n",
            "'http-request' not allowed in anonymous 'defaults' section",
        ),
        (
            "defaults d\n    mode http\n    acl a path /a\n    http-request deny if a\n"
            "frontend f from d\n    bind :8080\n    default_backend b\n"
            "backend b from d\n    server s 127.0.0.1:9\n",
            "frontends and backends cannot inherit from the same defaults section",
        ),
        (
            "defaults d\n    mode http\n    http-request deny if b\n"
            "frontend f from d\n    bind :8080\n    acl b path /b\n",
            "'b'",  # the frontend's ACL is not the defaults section's
        ),
    ],
)
def test_defaults_rules_are_refused_where_haproxy_refuses_them(text: str, message: str) -> None:
    for program in ("weir", "haproxy"):
        r = run_check(text, program=program)
        assert r.returncode != 0, (program, r.stdout)
    r = run_check(text)
    assert message in r.stdout, r.stdout
