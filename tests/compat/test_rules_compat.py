"""A rule-heavy configuration through HAProxy 2.6 and weir side by side: the same varied
requests must get the same status, Location and body, and the backend must receive the
same request target and the same rule-made headers from both."""

from __future__ import annotations

import http.client
import itertools
from typing import Any

from tests.helpers.ports import free_port

RULES = r"""
    acl is_api path_beg /api/
    acl is_static path_end .css .js .png
    acl host_admin hdr(host) -i admin.example.com
    acl bad_agent hdr_sub(user-agent) -i sqlmap nikto
    acl has_token req.hdr(x-token) -m found
    http-request deny if bad_agent
    http-request deny deny_status 429 if { path /limited }
    http-request deny if host_admin !has_token
    http-request redirect scheme https code 301 if { path_beg /secure }
    http-request redirect prefix /new code 302 if { path_beg /old/ }
    http-request redirect location /login code 303 if { path /account } !has_token
    http-request return status 200 content-type text/plain string pong if { path /ping }
    http-request set-header X-Api yes if is_api
    http-request add-header X-Static 1 if is_static
    http-request del-header X-Remove-Me
    http-request set-header X-Host %[req.hdr(host)]
    http-request set-header X-Method %[method]
    http-request set-path /v2%[path] if { path_beg /api/v1/ }
    http-request replace-path /legacy/(.*) /modern/\1
    http-request replace-header User-Agent (.*)Bot(.*) \1bot\2
    http-request set-query added=1 if { path_beg /q }
    http-response set-header X-Frame-Options DENY
    http-response set-header X-Path-Seen %[status]
"""

CONFIG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
{rules}
    default_backend be
backend be
    server a {backend}
"""

PATHS = [
    "/", "/index.html", "/api/users", "/api/v1/items?x=1", "/static/app.js", "/img/logo.png",
    "/limited", "/secure/page?a=b", "/old/thing", "/account", "/ping", "/legacy/a/b",
    "/q?z=9", "/style.css", "/API/users", "/api/v1/", "/static/app.js?v=2", "/old/",
    "/secure", "/a.PNG",
]  # fmt: skip
HEADERS: list[dict[str, str]] = [
    {},
    {"User-Agent": "GoogleBot/2.1"},
    {"User-Agent": "sqlmap/1.0"},
    {"Host": "admin.example.com"},
    {"Host": "admin.example.com", "X-Token": "t"},
    {"X-Token": "t", "X-Remove-Me": "secret"},
    {"Host": "shop.example.com", "User-Agent": "Mozilla/5.0 SpiderBot x"},
    {"X-Remove-Me": "1", "Host": "Admin.Example.com"},
    {"User-Agent": "Mozilla NIKTO scanner"},
    {"Host": "ADMIN.EXAMPLE.COM", "X-Token": ""},
]
RULE_HEADERS = ("x-api", "x-static", "x-remove-me", "x-host", "x-method", "user-agent")


def _exchange(port: int, backend: Any) -> list[tuple[Any, ...]]:
    out = []
    for path, headers in itertools.product(PATHS, HEADERS):
        backend.clear()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            got = (
                r.status,
                r.getheader("location"),
                r.getheader("x-frame-options"),
                r.getheader("x-path-seen"),
                # weir's own error pages are worded differently; rule-made bodies must match
                body if backend.requests == [] and r.status < 300 else b"",
            )
        finally:
            conn.close()
        seen = None
        if backend.requests:
            q = backend.requests[0]
            seen = (q.method, q.target, *(q.header(h) for h in RULE_HEADERS))
        out.append((path, tuple(sorted(headers.items())), got, seen))
    return out


def test_rule_heavy_config_behaves_like_haproxy(haproxy: Any, weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    hport, wport = free_port(), free_port()
    haproxy(CONFIG.format(port=hport, rules=RULES, backend=be.address), wait_ports=[hport])
    weir(CONFIG.format(port=wport, rules=RULES, backend=be.address), wait_ports=[wport])
    theirs = _exchange(hport, be)
    ours = _exchange(wport, be)
    # The Host header differs by port when the client does not set one.
    theirs = [_no_port(t, hport) for t in theirs]
    ours = [_no_port(t, wport) for t in ours]
    diff = [(t, o) for t, o in zip(theirs, ours, strict=True) if t != o]
    assert not diff, "\n".join(f"haproxy: {t}\nweir:    {o}" for t, o in diff[:5])
    assert len(ours) == len(PATHS) * len(HEADERS) == 200


def _no_port(item: tuple[Any, ...], port: int) -> tuple[Any, ...]:
    return tuple(_strip(x, port) for x in item)


def _strip(x: Any, port: int) -> Any:
    if isinstance(x, str):
        return x.replace(f":{port}", ":PORT")
    if isinstance(x, tuple):
        return tuple(_strip(y, port) for y in x)
    return x
