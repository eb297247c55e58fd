"""StatsService: which requests are stats requests, authentication, and the responses."""

from __future__ import annotations

import base64

import pytest
from stats_runtime import intro_config, intro_runtime

from weir.config.model import Mode, StatsConf
from weir.proxy.runtime import build
from weir.stats import StatsService, make_stats


def _service(**conf: object) -> StatsService:
    rt = intro_runtime()
    stats = StatsConf(**{"enabled": True, "uri": "/stats", **conf})  # type: ignore[arg-type]
    return StatsService(stats, rt)


def _basic(user: str, password: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def _split(response: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        assert name not in headers, f"duplicate header {name}"
        headers[name] = value
    return lines[0], headers, body


# -- which requests ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "target", "expected"),
    [
        (b"GET", b"/stats", True),
        (b"GET", b"/stats;csv", True),
        (b"GET", b"/statsanything/below", True),  # any target with the prefix
        (b"HEAD", b"/stats", True),
        (b"POST", b"/stats", True),
        (b"PUT", b"/stats", False),  # other methods go to the backend
        (b"GET", b"/stat", False),
        (b"GET", b"/", False),
        (b"GET", b"http://example.com/stats?x", True),  # absolute-form: the path counts
        (b"GET", b"http://example.com", False),
    ],
)
def test_matches(method: bytes, target: bytes, expected: bool) -> None:
    assert _service().matches(method, target) is expected


def test_default_uri_includes_its_query_string() -> None:
    svc = _service(uri="/haproxy?stats")
    assert svc.matches(b"GET", b"/haproxy?stats")
    assert svc.matches(b"GET", b"/haproxy?stats;csv")
    assert not svc.matches(b"GET", b"/haproxy")
    assert not svc.matches(b"GET", b"/haproxy?other")


# -- authentication ----------------------------------------------------------------------


def test_no_credentials_get_401_with_realm() -> None:
    svc = _service(realm="HAProxy Stats", auths=[("admin", "admin")])
    status, headers, body = _split(svc.handle(b"GET", b"/stats", None))
    assert status == "HTTP/1.1 401 Unauthorized"
    assert headers["www-authenticate"] == 'Basic realm="HAProxy Stats"'
    assert int(headers["content-length"]) == len(body)
    assert b"401 Unauthorized" in body
    assert b"app" not in body  # nothing of the report leaks


@pytest.mark.parametrize(
    "authorization",
    [
        _basic("admin", "wrong"),
        _basic("nobody", "admin"),
        _basic("admin", "admin").replace(b"Basic", b"Bearer"),
        b"Basic !!!not-base64!!!",
        b"Basic " + base64.b64encode(b"adminadmin"),  # no colon
    ],
)
def test_wrong_credentials_get_401(authorization: bytes) -> None:
    svc = _service(realm="HAProxy Stats", auths=[("admin", "admin")])
    status, _, _ = _split(svc.handle(b"GET", b"/stats", authorization))
    assert status == "HTTP/1.1 401 Unauthorized"


def test_right_credentials_get_the_page() -> None:
    svc = _service(realm="HAProxy Stats", auths=[("admin", "admin"), ("ops", "s3:cret")])
    for auth in (
        _basic("admin", "admin"),
        _basic("ops", "s3:cret"),
        b"basic " + base64.b64encode(b"admin:admin"),
    ):
        status, headers, body = _split(svc.handle(b"GET", b"/stats", auth))
        assert status == "HTTP/1.1 200 OK"
        assert headers["content-type"] == "text/html"
        assert b"app" in body


def test_default_realm_when_none_is_set() -> None:
    svc = _service(auths=[("admin", "admin")])
    _, headers, _ = _split(svc.handle(b"GET", b"/stats", None))
    assert headers["www-authenticate"] == 'Basic realm="HAProxy Statistics"'


def test_without_users_no_authentication_is_asked() -> None:
    status, _, _ = _split(_service().handle(b"GET", b"/stats", None))
    assert status == "HTTP/1.1 200 OK"


# -- responses -----------------------------------------------------------------------------


def test_html_page_has_haproxy_structure() -> None:
    status, headers, body = _split(_service().handle(b"GET", b"/stats", None))
    page = body.decode()
    assert status == "HTTP/1.1 200 OK"
    assert headers["cache-control"] == "no-cache"
    assert int(headers["content-length"]) == len(body)
    assert "refresh" not in headers
    for text in (
        "General process information",
        "Queue",
        "Session rate",
        "Sessions",
        "Bytes",
        "Denied",
        "Errors",
        "Warnings",
        "Server",
        "LbTot",
        "LastChk",
        "Dwntme",
        "Thrtle",
        "Frontend",
        "Backend",
        "20h28m UP",
        "L7OK/200 in 1ms",
        "<i>no check</i>",
        "1m30s DOWN",
        "MAINT",
        "UP 1/3",
        "weir version",
    ):
        assert text in page, text
    assert page.index(">stats<") < page.index(">web<") < page.index(">app<")


def test_hide_version() -> None:
    page = _service(hide_version=True).html()
    assert "weir version" not in page


def test_csv_suffix() -> None:
    status, headers, body = _split(_service().handle(b"GET", b"/stats;csv", None))
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == "text/plain"
    assert body.startswith(b"# pxname,svname,qcur,")
    assert b"\napp,web1," in body


def test_head_has_headers_only() -> None:
    full = _service().handle(b"GET", b"/stats;csv", None)
    head = _service().handle(b"HEAD", b"/stats;csv", None)
    assert head.endswith(b"\r\n\r\n")
    assert _split(head)[1]["content-length"] == _split(full)[1]["content-length"]


def test_refresh_header_and_norefresh() -> None:
    svc = _service(refresh=30)
    _, headers, body = _split(svc.handle(b"GET", b"/stats", None))
    assert headers["refresh"] == "30"
    assert b"Disable refresh" in body
    _, headers, body = _split(svc.handle(b"GET", b"/stats;norefresh", None))
    assert "refresh" not in headers
    assert b"Enable refresh" in body


def test_up_hides_down_servers() -> None:
    _, _, body = _split(_service().handle(b"GET", b"/stats;up;csv", None))
    names = [line.split(b",")[1] for line in body.splitlines()[1:]]
    assert b"web4" not in names
    assert b"web5" not in names
    assert b"web1" in names


def test_scope_limits_the_proxies() -> None:
    _, _, body = _split(_service().handle(b"GET", b"/stats;csv?scope=we", None))
    assert {line.split(b",")[0] for line in body.splitlines()[1:]} == {b"web"}
    # a scope with characters HAProxy refuses is ignored
    _, _, body = _split(_service().handle(b"GET", b"/stats;csv?scope=<x>", None))
    assert {line.split(b",")[0] for line in body.splitlines()[1:]} == {b"stats", b"web", b"app"}


def test_post_is_denied_with_a_redirect() -> None:
    svc = _service(auths=[("admin", "admin")])
    assert _split(svc.handle(b"POST", b"/stats", None))[0] == "HTTP/1.1 401 Unauthorized"
    status, headers, body = _split(svc.handle(b"POST", b"/stats;up", _basic("admin", "admin")))
    assert status == "HTTP/1.1 303 See Other"
    assert headers["location"] == "/stats;st=DENY;up"
    assert body == b""
    page = svc.handle(b"GET", b"/stats;st=DENY;up", _basic("admin", "admin")).decode()
    assert "Action denied." in page


def test_close_adds_connection_close() -> None:
    assert b"\r\nconnection: close\r\n" in _service().handle(b"GET", b"/stats", None, close=True)
    assert b"connection:" not in _service().handle(b"GET", b"/stats", None)


def test_handle_of_a_foreign_target_is_404() -> None:
    assert _service().handle(b"GET", b"/other", None).startswith(b"HTTP/1.1 404 ")


def test_make_stats_needs_enabled_http_proxy() -> None:
    cfg = intro_config()
    rt = build(cfg)
    st, web, _ = cfg.proxies
    assert isinstance(make_stats(st, rt), StatsService)
    assert make_stats(web, rt) is None  # stats not enabled there
    st.mode = Mode.TCP
    assert make_stats(st, rt) is None
