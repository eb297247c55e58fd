"""http-request / http-response / redirect rules on real traffic: what curl sees and what
the backend receives."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

DEFAULTS = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout tarpit 200ms
"""


def _start(weir: Callable[..., Any], be: Any, frontend: str, backend: str = "") -> str:
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
{frontend}
    default_backend be
backend be
{backend}
    server a {be.address}
""",
        wait_ports=[port],
    )
    return f"http://127.0.0.1:{port}"


def test_deny_and_deny_status_never_reach_the_server(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    acl admin path_beg /admin
    http-request deny if admin
    http-request deny deny_status 429 if { path /busy }
    http-request deny deny_status 404 content-type text/plain string nothing-here if { path /gone }
""",
    )
    assert curl(url + "/admin/x").status == 403
    assert curl(url + "/busy").status == 429
    r = curl(url + "/gone")
    assert (r.status, r.body, r.header("content-type")) == (404, b"nothing-here", "text/plain")
    assert curl(url + "/ok").status == 200
    assert [q.path for q in be.requests] == ["/ok"]


def test_header_edits_are_seen_by_the_server(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request set-header X-Client %[src]:%cp
    http-request set-header X-Host-Copy %[req.hdr(host)]
    http-request add-header X-Added one
    http-request add-header X-Added two
    http-request del-header X-Secret
    http-request replace-header User-Agent (.*)bot(.*) \\1robot\\2
    http-request replace-value X-List ^b$ B
""",
    )
    r = curl(url + "/", "-H", "X-Secret: s", "-A", "googlebot/2", "-H", "X-List: a, b, c")
    assert r.status == 200
    got = be.requests[0]
    assert got.header(
        "X-Client",
    ).startswith("127.0.0.1:")  # type: ignore[union-attr]
    assert got.header("X-Host-Copy") == url.removeprefix("http://")
    assert got.header_values("X-Added") == ["one", "two"]
    assert got.header("X-Secret") is None
    assert got.header("User-Agent") == "googlerobot/2"
    assert got.header("X-List") == "a, B, c"


def test_runs_of_header_edits_behave_as_one_after_the_other(weir: Any, http_backend: Any) -> None:
    # Edits that read a header an earlier one writes, or write the same one twice, are
    # applied in their own turn; the others of the run together (weir.http.rules._fuse).
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request set-header X-A first
    http-request set-header X-B %[req.hdr(x-a)]
    http-request add-header X-C %[req.hdr(x-b)]
    http-request set-header X-D %[src]
    http-request set-header X-A second
    http-request set-header X-E %[req.hdr(x-a)]-%[req.hdr(x-keep)]
    http-response set-header X-Backend replaced
    http-response set-header X-R1 %[res.hdr(x-backend)]
    http-response add-header X-R2 %[status]
    http-after-response set-header X-After1 one
    http-after-response add-header X-After2 %[res.hdr(x-r2)]
""",
    )
    r = curl(
        url + "/", "-H", "X-A: client", "-H", "X-B: client", "-H", "X-Keep: k", "-H", "x-d: old"
    )
    assert r.status == 200
    assert r.header_values("x-backend") == ["replaced"]
    assert r.header("x-r1") == "replaced"
    assert r.header("x-r2") == "200"
    assert (r.header("x-after1"), r.header("x-after2")) == ("one", "200")
    got = be.requests[0]
    assert got.header_values("X-A") == ["second"]
    assert got.header_values("X-B") == ["first"]
    assert got.header_values("X-C") == ["first"]
    assert got.header_values("X-D") == ["127.0.0.1"]
    assert got.header_values("X-E") == ["second-k"]
    assert got.header_values("X-Keep") == ["k"]


def test_header_injection_through_a_rule_value_is_refused(weir: Any, http_backend: Any) -> None:
    # A value computed from the request may decode to CR, LF or NUL: the request ends
    # with a 500 and never reaches the server, whether the edit runs alone or in a run.
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request set-header X-Alone %[url_param(a),url_dec] if { url_param(a) -m found }
    http-request set-header X-Run1 pre-%[src]-mid-%[req.hdr(x-keep)]-post
    http-request set-header X-Run2 %[url_param(b),url_dec]
    http-request add-header X-Run3 end
""",
    )
    for query in ("a=x%0d%0aInjected:%20yes", "b=x%0aInjected:%20yes", "b=x%00y", "a=x%0dy"):
        assert curl(url + "/?" + query).status == 500, query
    assert be.requests == []
    assert curl(url + "/?a=ok&b=fine", "-H", "X-Keep: k").status == 200
    got = be.requests[0]
    assert got.header_values("X-Alone") == ["ok"]
    assert got.header_values("X-Run1") == ["pre-127.0.0.1-mid-k-post"]
    assert (got.header("X-Run2"), got.header("X-Run3")) == ("fine", "end")
    assert got.header("Injected") is None


def test_path_query_and_method_rewrites(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request set-path /v2%[path] if { path_beg /api/ }
    http-request set-query debug=1 if { path /q }
    http-request replace-path /old/(.*) /new/\\1
    http-request set-method POST if { path /m }
""",
    )
    for path in ("/api/users?x=1", "/q?a=b", "/old/thing?k=v", "/m"):
        assert curl(url + path).status == 200
    targets = [(q.method, q.target) for q in be.requests]
    assert targets == [
        ("GET", "/v2/api/users?x=1"),
        ("GET", "/q?debug=1"),
        ("GET", "/new/thing?k=v"),
        ("POST", "/m"),
    ]


def test_redirects(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request redirect scheme https code 301 if { path_beg /secure }
    http-request redirect location /login set-cookie SEEN=1 if { path /account }
    http-request redirect prefix /v2 code 308 drop-query if { path_beg /v1 }
    redirect location /moved code 307 if { path /legacy }
""",
    )
    host = url.removeprefix("http://")
    r = curl(url + "/secure/x?y=1")
    assert (r.status, r.header("location")) == (301, f"https://{host}/secure/x?y=1")
    r = curl(url + "/account")
    assert (r.status, r.header("location")) == (302, "/login")
    assert r.header("set-cookie") == "SEEN=1; path=/"
    r = curl(url + "/v1/items?page=2")
    assert (r.status, r.header("location")) == (308, "/v2/v1/items")
    r = curl(url + "/legacy")
    assert (r.status, r.header("location")) == (307, "/moved")
    assert be.requests == []


def test_return_auth_and_tarpit(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request return status 200 content-type text/plain lf-string "hello %[req.hdr(x-name)]" hdr X-From weir if { path /hi }
    http-request auth realm Private if { path_beg /private }
    http-request tarpit if { path /slow }
""",  # noqa: E501
    )
    r = curl(url + "/hi", "-H", "X-Name: you")
    assert (r.status, r.body, r.header("x-from")) == (200, b"hello you", "weir")
    r = curl(url + "/private/x")
    assert r.status == 401
    assert r.header("www-authenticate") == 'Basic realm="Private"'
    assert curl(url + "/slow").status == 500
    assert be.requests == []


def test_response_rules(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-response set-header Strict-Transport-Security "max-age=31536000"
    http-response set-status 299 reason Custom if { path /status }
""",
        """\
    http-response del-header X-Backend
    http-response deny if { path /hidden }
""",
    )
    r = curl(url + "/")
    assert r.status == 200
    assert r.header("strict-transport-security") == "max-age=31536000"
    assert r.header("x-backend") is None
    assert curl(url + "/status").status == 299
    assert curl(url + "/hidden").status == 502


def test_normalize_uri_makes_admin_protection_unbypassable(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request normalize-uri path-merge-slashes
    http-request normalize-uri path-strip-dot
    http-request normalize-uri path-strip-dotdot
    http-request normalize-uri percent-decode-unreserved
    http-request normalize-uri percent-to-uppercase
    http-request deny if { path_beg -i /admin }
""",
    )
    for path in ("/admin", "/ADMIN", "/%61dmin", "//admin", "/./admin", "/x/../admin"):
        assert curl(url + path, "--path-as-is").status == 403, path
    assert curl(url + "/public/a//b/./c", "--path-as-is").status == 200
    assert [q.target for q in be.requests] == ["/public/a/b/c"]


def test_bad_rules_are_refused_with_their_line(tmp_path: Any) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "bad.cfg"
    cfg.write_text(
        DEFAULTS
        + """
frontend fe
    bind 127.0.0.1:1
    http-request deny deny_status abc
    http-request redirect scheme
    http-request set-header X %[nosuchfetch]
    http-request deny if unknown_acl
    http-request deny if { nosuch_thing x }
"""
    )
    out = subprocess.run(
        [sys.executable, "-m", "weir", "-c", "-f", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    err = out.stderr
    assert "bad.cfg:10" in err
    assert "invalid status code" in err
    assert "bad.cfg:11" in err
    assert "bad.cfg:12" in err
    assert "nosuchfetch" in err
    assert "bad.cfg:13" in err
    assert "unknown_acl" in err
    assert "bad.cfg:14" in err


def test_dynamic_use_backend_from_a_map(weir: Any, http_backend: Any, tmp_path: Any) -> None:
    site, api = http_backend("site"), http_backend("api")
    hosts = tmp_path / "hosts.map"
    hosts.write_text("www.example.com site\napi.example.com api\n")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    use_backend %[req.hdr(host),lower,map({hosts},site)]
    default_backend site
backend site
    server s {site.address}
backend api
    server a {api.address}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}/"
    assert curl(url, "-H", "Host: API.example.com").header("x-backend") == "api"
    assert curl(url, "-H", "Host: www.example.com").header("x-backend") == "site"
    assert curl(url, "-H", "Host: other.example.com").header("x-backend") == "site"


def test_variables_set_in_the_request_are_read_later(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-var(sess.seen) str(yes) if { path /first }
    http-request set-header X-Host-Var %[var(txn.host)]
    http-request set-header X-Sess %[var(sess.seen)]
    http-request deny deny_status 418 if { var(txn.host) -m str teapot.example }
    http-response set-header X-Echo-Host %[var(txn.host)]
""",
    )
    r = curl(url + "/", "-H", "Host: WWW.Example.COM")
    assert (r.status, r.header("x-echo-host")) == (200, "www.example.com")
    assert be.requests[0].header("X-Host-Var") == "www.example.com"
    assert curl(url + "/", "-H", "Host: teapot.example").status == 418
    # sess.* lives as long as the connection: two requests on one keep-alive connection.
    # (the helper puts its URL last: /first, then /second, on one connection)
    r = curl(url + "/second", "-H", "Host: a", url + "/first")
    assert [q.header("X-Sess") for q in be.requests[-2:]] == ["yes", "yes"]


def test_use_server_set_src_and_set_log_level(weir: Any, http_backend: Any) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    option forwardfor
    http-request set-src req.hdr(x-real-ip) if {{ req.hdr(x-real-ip) -m found }}
    http-request set-header X-Src %[src]
    default_backend be
backend be
    balance roundrobin
    use-server b if {{ path_beg /pinned }}
    server a {a.address}
    server b {b.address}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}"
    assert {curl(url + "/pinned/x").header("x-backend") for _ in range(4)} == {"b"}
    curl(url + "/", "-H", "X-Real-IP: 203.0.113.9")
    (got,) = [q for q in a.requests + b.requests if q.path == "/"]
    assert got.header("X-Src") == "203.0.113.9"
    assert got.header("X-Forwarded-For") == "203.0.113.9"


def test_force_and_ignore_persist(weir: Any, http_backend: Any) -> None:
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
    cookie SRV insert indirect nocache
    ignore-persist if {{ path_beg /static }}
    force-persist if {{ req.hdr(x-debug) -m found }}
    server a {a.address} cookie ca
    server b {b.address} cookie cb disabled
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}"
    # b is disabled: a persistent client goes to a, unless force-persist holds.
    assert curl(url + "/", "-H", "Cookie: SRV=cb").header("x-backend") == "a"
    assert curl(url + "/", "-H", "Cookie: SRV=cb", "-H", "X-Debug: 1").header("x-backend") == "b"
    # ignore-persist: the cookie is not used (nor is one set back).
    r = curl(url + "/static/x", "-H", "Cookie: SRV=cb", "-H", "X-Debug: 1")
    assert r.header("x-backend") == "a"


def test_capture_actions_reach_the_log_line(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    port = free_port()
    proc = weir(
        f"""\
global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    log-format "caps %hr %hs"
    capture request header User-Agent len 5
    declare capture response len 3
    http-request capture req.hdr(host),lower len 20
    http-response capture res.hdr(x-backend) id 0
    default_backend be
backend be
    server a {be.address}
""",
        wait_ports=[port],
    )
    assert (
        curl(f"http://127.0.0.1:{port}/", "-H", "Host: WWW.Example.COM", "-A", "curl/8").status
        == 200
    )
    import time

    deadline = time.monotonic() + 5
    while "caps " not in proc.log and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "caps {curl/|www.example.com} {a}" in proc.log, proc.log


def test_srv_id_and_date_us(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        """\
    http-request return status 200 content-type text/plain lf-string "%[date_us]" if { path /us }
    bind-process all
""",
        "    http-response set-header X-Srv-Id %[srv_id]",
    )
    assert curl(url + "/").header("x-srv-id") == "1"
    us = curl(url + "/us").body
    assert us.isdigit()
    assert 0 <= int(us) < 1_000_000


def test_capture_fetches_in_responses(weir: Any, http_backend: Any) -> None:
    be = http_backend("a")
    url = _start(
        weir,
        be,
        "",
        "    http-response set-header X-Req %[capture.req.method]-%[capture.req.uri]-"
        "%[capture.req.ver]-%[capture.res.ver]",
    )
    assert curl(url + "/p?q=1").header("x-req") == "GET-/p?q=1-HTTP/1.1-HTTP/1.1"


@pytest.mark.parametrize("program", ["weir", "haproxy"])
def test_set_timeout_server(program: str, weir: Any, haproxy: Any, http_backend: Any) -> None:
    """A request's own `timeout server`: the slow server is given up on (504) for the
    requests that asked for less, waited for otherwise."""
    be = http_backend("slow", delay=0.8)
    port = free_port()
    start = weir if program == "weir" else haproxy
    start(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    http-request set-timeout server 200ms if {{ path /short }}
    http-request set-timeout server int(300) if {{ path /expr }}
    server a {be.address}
""",
        wait_ports=[port],
    )
    url = f"http://127.0.0.1:{port}"
    assert curl(url + "/short").status == 504
    assert curl(url + "/expr").status == 504
    assert curl(url + "/long").status == 200
