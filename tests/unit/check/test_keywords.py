"""Health-check keywords through the real loader: what is accepted, what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import weir.check.keywords  # noqa: F401  (registers the keywords, whatever weir.keywords holds)
from weir.check import check_config
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config

BASE = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""


def load_text(tmp_path: Path, text: str) -> tuple[Config, Diagnostics]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    check_config(cfg, diags)
    return cfg, diags


def messages(diags: Diagnostics, level: Level) -> list[str]:
    return [d.message for d in diags.items if d.level is level]


def check_messages(diags: Diagnostics, level: Level = Level.ALERT) -> list[str]:
    """Messages about check keywords only (other concerns may not be registered yet)."""
    words = ("httpchk", "http-check", "check", "inter", "rise", "fall", "port", "addr")
    return [m for m in messages(diags, level) if any(w in m for w in words)]


def test_introduction_style_config(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
    option httpchk GET /healthCheck.html
    timeout check 2s

backend ms1
    server ms1.srv1 127.0.0.1:8080 maxconn 300 check inter 2000ms rise 2 fall 3
    server ms1.srv2 127.0.0.2:8080 maxconn 300 check
""",
    )
    assert check_messages(diags) == []
    be = cfg.backends["ms1"]
    assert be.httpchk is not None
    assert (be.httpchk.method, be.httpchk.uri, be.httpchk.version) == (
        "GET",
        "/healthCheck.html",
        "HTTP/1.0",
    )
    assert be.timeouts.check == 2000
    s1, s2 = be.servers
    assert (s1.check.enabled, s1.check.inter, s1.check.rise, s1.check.fall) == (True, 2000, 2, 3)
    assert (s2.check.enabled, s2.check.inter, s2.check.rise, s2.check.fall) == (True, 2000, 2, 3)


def test_server_check_options(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    default-server check inter 3s fastinter 1s downinter 10s rise 4 fall 5
    server a 127.0.0.1:80
    server b 127.0.0.1:80 no-check
    server c 127.0.0.1:80 port 8081 addr 127.0.0.2
    server d 127.0.0.1:80 addr 127.0.0.3:9000
""",
    )
    assert check_messages(diags) == []
    a, b, c, d = cfg.backends["be"].servers
    assert (a.check.enabled, a.check.inter, a.check.fastinter, a.check.downinter) == (
        True,
        3000,
        1000,
        10000,
    )
    assert (a.check.rise, a.check.fall) == (4, 5)
    assert b.check.enabled is False
    assert (c.check.port, c.check.addr) == (8081, "127.0.0.2")
    assert d.check.address is not None
    assert (d.check.addr, d.check.address.port_low) == ("127.0.0.3", 9000)


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("server s 127.0.0.1:80 check inter 0", "greater than 0"),
        ("server s 127.0.0.1:80 check inter soon", "not a time value"),
        ("server s 127.0.0.1:80 check rise 0", "out of range"),
        ("server s 127.0.0.1:80 check fall x", "not an integer"),
        ("server s 127.0.0.1:80 check port 70000", "out of range"),
        ("server s 127.0.0.1:80 check addr 1.2.3.4:99999", "addr"),
        ("server s 127.0.0.1 check", "neither a service port nor a check port"),
    ],
)
def test_bad_server_check_options(tmp_path: Path, line: str, fragment: str) -> None:
    _, diags = load_text(tmp_path, BASE + f"backend be\n    {line}\n")
    assert any(fragment in m for m in messages(diags, Level.ALERT)), messages(diags, Level.ALERT)


def test_server_without_port_is_fine_with_a_check_port(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend be\n    server s 127.0.0.1 check port 80\n")
    assert check_messages(diags) == []


def test_httpchk_is_inherited_and_can_be_restated(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
    option httpchk GET /a
    http-check expect status 200

backend inherits
    server s 127.0.0.1:80 check

backend restates
    option httpchk /b
    server s 127.0.0.1:80 check
""",
    )
    assert check_messages(diags) == []
    inherits = cfg.backends["inherits"].httpchk
    restates = cfg.backends["restates"].httpchk
    assert inherits is not None
    assert restates is not None
    assert (inherits.uri, inherits.expects) == ("/a", [("status", "200", False)])
    # A section stating `option httpchk` again starts its own rules, as HAProxy does.
    assert (restates.method, restates.uri, restates.expects) == ("OPTIONS", "/b", [])


def test_expect_rules_of_the_same_section_survive_a_second_option(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    option httpchk GET /a
    http-check expect ! status 500-599
    http-check expect string OK
    option httpchk GET /b
    server s 127.0.0.1:80 check
""",
    )
    assert check_messages(diags) == []
    conf = cfg.backends["be"].httpchk
    assert conf is not None
    assert conf.uri == "/b"
    assert conf.expects == [("status", "500-599", True), ("string", "OK", False)]


def test_expect_without_httpchk_is_refused(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    http-check expect status 200
    server s 127.0.0.1:80 check
""",
    )
    assert any("needs 'option httpchk' before it" in m for m in messages(diags, Level.ALERT))


def test_expect_on_an_inherited_httpchk_is_refused(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE
        + """\
    option httpchk GET /a

backend be
    http-check expect status 200
    server s 127.0.0.1:80 check
""",
    )
    assert any("inherited here" in m for m in messages(diags, Level.ALERT))


def test_no_option_httpchk_is_refused_like_haproxy(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend be\n    no option httpchk\n")
    assert any("cannot be negated" in m for m in messages(diags, Level.ALERT))


def test_httpchk_is_not_a_frontend_keyword(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "frontend fe\n    option httpchk\n")
    assert any("not allowed in a 'frontend'" in m for m in messages(diags, Level.ALERT))


def test_unsupported_http_check_keywords_stay_refused(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    option httpchk
    http-check disable-on-404
    http-check send hdr Host x
    http-check expect hdr name x
""",
    )
    alerts = messages(diags, Level.ALERT)
    assert sum("does not support yet" in m for m in alerts) == 3, alerts


def test_deprecated_version_form_warns(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    mode tcp
    option httpchk OPTIONS * HTTP/1.1\\r\\nHost:\\ www
    server s 127.0.0.1:80 check
""",
    )
    assert check_messages(diags) == []
    assert any("deprecated" in m for m in messages(diags, Level.WARNING))
    conf = cfg.backends["be"].httpchk
    assert conf is not None
    assert (conf.version, conf.headers) == ("HTTP/1.1", [("Host", "www")])
