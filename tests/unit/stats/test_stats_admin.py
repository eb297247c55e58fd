"""The stats page's admin mode (`stats admin if ...`), its form and its actions, and the
page's `;json` / `;typed` outputs, `show-legends`, `show-node`, `scope`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from stats_runtime import stats_keywords

from weir.backend.server import SrvState
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.proto.h1 import parse_request_head
from weir.proxy.runtime import Frontend, Runtime, build
from weir.stats import StatsService
from weir.stats.admin import apply_form, parse_form
from weir.stream import Stream

CONFIG = """\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen stats
    bind 127.0.0.1:18080
    stats uri /st
    stats admin if LOCALHOST
    stats show-legends
    stats show-node edge1
    server s1 127.0.0.1:18081 check
    server s2 127.0.0.1:18082 weight 20 cookie c2
backend app
    server a1 127.0.0.1:18083
    server a2 127.0.0.1:18084
"""


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    with stats_keywords():
        yield


def _runtime(tmp_path: Path, text: str = CONFIG) -> Runtime:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors(), [d.message for d in diags.errors]
    return build(cfg)


def _service(rt: Runtime) -> tuple[StatsService, Frontend]:
    fe = rt.frontends[0]
    assert fe.stats is not None
    return fe.stats, fe


def _stream(fe: Frontend, method: bytes, target: bytes, client: str) -> Stream:
    s = Stream(client, 40000, fe)
    found = parse_request_head(method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert found is not None
    s.req = found[0]
    return s


def _post(rt: Runtime, body: bytes, client: str = "127.0.0.1", target: bytes = b"/st") -> bytes:
    service, fe = _service(rt)
    return service.handle(
        b"POST", target, None, stream=_stream(fe, b"POST", target, client), body=body
    )


def _location(response: bytes) -> str:
    for line in response.split(b"\r\n"):
        if line.lower().startswith(b"location: "):
            return line[10:].decode()
    raise AssertionError(response)


def test_admin_page_has_checkboxes_and_the_action_menu(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    service, fe = _service(rt)
    page = service.handle(b"GET", b"/st", None, stream=_stream(fe, b"GET", b"/st", "127.0.0.1"))
    html = page.decode()
    assert html.count('<form method="post">') == 2  # one per backend with servers
    assert 'class="stats-checkbox" type="checkbox" name="s" value="s1"' in html
    assert 'name="s" value="a2"' in html
    assert '<option value="maint">Set state to MAINT</option>' in html
    assert '<option value="drain">Set state to DRAIN</option>' in html
    assert '<option value="ready">Set state to READY</option>' in html
    assert '<input type="hidden" name="b" value="#2">' in html
    assert 'name="weight"' in html
    # legends and node
    assert "addr: 127.0.0.1:18082, cookie: &#x27;c2&#x27;" in html or "cookie: 'c2'" in html
    assert "cap: listen, mode: http, id: 1" in html
    assert "Statistics Report for pid" in html
    assert " on edge1</h2>" in html
    # not an admin (not from localhost): no form
    other = service.handle(b"GET", b"/st", None, stream=_stream(fe, b"GET", b"/st", "10.0.0.9"))
    assert b'<form method="post">' not in other
    assert b'name="s"' not in other


def test_post_applies_through_the_control(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    app = rt.backends["app"]
    a1, a2 = app.servers
    response = _post(rt, b"s=a1&s=a2&action=maint&b=app")
    assert response.startswith(b"HTTP/1.1 303 See Other\r\n")
    assert _location(response) == "/st;st=DONE"
    assert (a1.state, a2.state) == (SrvState.MAINT, SrvState.MAINT)
    assert app.pick() is None
    assert _location(_post(rt, b"s=a1&action=ready&b=%232")) == "/st;st=DONE"  # b=#2
    assert a1.state is SrvState.UP
    assert app.pick() is a1
    assert _location(_post(rt, b"s=a1&s=nope&action=drain&b=app")) == "/st;st=PART"
    assert a1.state is SrvState.DRAIN
    assert _location(_post(rt, b"s=a2&action=weight&weight=50%25&b=app")) == "/st;st=DONE"
    assert a2.uweight == 0  # 50% of the initial weight 1, rounded down
    assert _location(_post(rt, b"s=a2&action=weight&weight=7&b=app")) == "/st;st=DONE"
    assert a2.uweight == 7


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "NONE"),
        (b"s=a1&b=app", "NONE"),  # no action
        (b"s=a1&action=bogus&b=app", "ERRP"),
        (b"s=a1&action=maint&b=nope", "ERRP"),
        (b"s=nope&action=maint&b=app", "ERRP"),
        (b"action=maint&b=app", "NONE"),  # no server
        (b"s=a1&action=dhlth&b=app", "ERRP"),  # a1 has no check to disable
        (b"s=a1&action=hnolb&b=app", "ERRP"),  # no NOLB state in weir
        (b"s=" + b"x" * 20000, "EXCD"),
    ],
)
def test_post_results(tmp_path: Path, body: bytes, code: str) -> None:
    assert _location(_post(_runtime(tmp_path), body)) == f"/st;st={code}"


def test_post_without_admin_rights_is_denied(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    response = _post(rt, b"s=a1&action=maint&b=app", client="192.0.2.1")
    assert _location(response) == "/st;st=DENY"
    assert rt.backends["app"].servers[0].state is SrvState.UP
    # keeps the page options in the redirection
    response = _post(rt, b"", client="192.0.2.1", target=b"/st;up;norefresh")
    assert _location(response) == "/st;st=DENY;up"


def test_health_actions(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    s1 = rt.backends["stats"].servers[0]
    s1.check_status, s1.check_health = "L4OK", 4
    assert _location(_post(rt, b"s=s1&action=hdown&b=stats")) == "/st;st=DONE"
    assert (s1.state, s1.check_health) == (SrvState.DOWN, 0)
    assert _location(_post(rt, b"s=s1&action=hrunn&b=stats")) == "/st;st=DONE"
    assert (s1.state, s1.check_health) == (SrvState.UP, 4)
    assert _location(_post(rt, b"s=s1&action=dhlth&b=stats")) == "/st;st=DONE"
    assert s1.check_status is None


def test_form_parsing() -> None:
    assert parse_form(b"s=a+b&s=c%2Fd&action=maint&b=%231") == [
        ("s", "a b"),
        ("s", "c/d"),
        ("action", "maint"),
        ("b", "#1"),
    ]


def test_apply_form_without_body(tmp_path: Path) -> None:
    from weir.api import control_for

    assert apply_form(control_for(_runtime(tmp_path)), None) == "NONE"


def test_admin_if_true_without_a_stream(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, CONFIG.replace("if LOCALHOST", "if TRUE"))
    service, _ = _service(rt)
    page = service.handle(b"GET", b"/st", None)
    assert b'<form method="post">' in page


def test_json_and_typed_pages(tmp_path: Path) -> None:
    rt = _runtime(tmp_path)
    service, _ = _service(rt)
    response = service.handle(b"GET", b"/st;json", None)
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"content-type: application/json" in head
    data = json.loads(body)
    assert data[0][0]["value"] == {"type": "str", "value": "stats"}
    typed = service.handle(b"GET", b"/st;typed", None).partition(b"\r\n\r\n")[2]
    assert typed.startswith(b"F.1.0.0.pxname.1:KNS:str:stats\n")
    csv = service.handle(b"GET", b"/st;csv", None).partition(b"\r\n\r\n")[2].decode()
    # show-legends: addresses and cookies in the CSV too
    s2 = next(line for line in csv.splitlines() if line.startswith("stats,s2,"))
    assert "127.0.0.1:18082" in s2
    assert ",c2," in s2


def test_scope_limits_the_page(tmp_path: Path) -> None:
    rt = _runtime(tmp_path, CONFIG.replace("    stats show-legends\n", "    stats scope .\n"))
    service, _ = _service(rt)
    csv = service.handle(b"GET", b"/st;csv", None).partition(b"\r\n\r\n")[2].decode()
    names = {line.split(",")[0] for line in csv.splitlines()[1:]}
    assert names == {"stats"}
