"""Health-check keywords through the real loader: what is accepted, what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import weir.check.keywords  # noqa: F401  (registers the keywords, whatever weir.keywords holds)
from weir.check import check_config
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config, Proxy

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


def rule_words(px: Proxy) -> list[list[str]]:
    return [r.words for r in px.checks.http_rules]


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
    inherits = cfg.backends["inherits"]
    restates = cfg.backends["restates"]
    assert inherits.httpchk is not None
    assert restates.httpchk is not None
    assert inherits.httpchk.uri == "/a"
    assert rule_words(inherits) == [["expect", "status", "200"]]
    # A section stating `option httpchk` again starts its own rules, as HAProxy does.
    assert (restates.httpchk.method, restates.httpchk.uri) == ("OPTIONS", "/b")
    assert rule_words(restates) == []


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
    be = cfg.backends["be"]
    assert be.httpchk is not None
    assert be.httpchk.uri == "/b"
    assert rule_words(be) == [["expect", "!", "status", "500-599"], ["expect", "string", "OK"]]


def test_expect_without_httpchk_is_ignored_with_a_warning(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    http-check expect status 200
    server s 127.0.0.1:80 check
""",
    )
    assert check_messages(diags) == []
    assert any(
        "uses http-check rules without 'option httpchk'" in m
        for m in messages(diags, Level.WARNING)
    )


def test_rules_may_come_before_the_option(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    http-check expect status 204
    option httpchk GET /a
    server s 127.0.0.1:80 check
""",
    )
    assert check_messages(diags) == []
    assert rule_words(cfg.backends["be"]) == [["expect", "status", "204"]]


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


def test_http_check_keywords_beyond_expect(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    option httpchk
    http-check disable-on-404
    http-check send-state
    http-check send hdr Host x
    http-check expect hdr name x
""",
    )
    assert messages(diags, Level.ALERT) == []
    ck = cfg.backends["be"].checks
    assert (ck.disable_on_404, ck.send_state) == (True, True)
    assert [r.words[0] for r in ck.http_rules] == ["send", "expect"]


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


# -- check options, agent, globals ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "kind", "args"),
    [
        ("option redis-check", "redis-check", []),
        ("option ldap-check", "ldap-check", []),
        ("option ssl-hello-chk", "ssl-hello-chk", []),
        ("option smtpchk", "smtpchk", []),
        ("option smtpchk EHLO mx.example.org", "smtpchk", ["EHLO", "mx.example.org"]),
        ("option pgsql-check user hc", "pgsql-check", ["user", "hc"]),
        ("option mysql-check", "mysql-check", []),
        ("option mysql-check user hc pre-41", "mysql-check", ["user", "hc", "pre-41"]),
        ("option tcp-check", "tcp-check", []),
    ],
)
def test_check_options(tmp_path: Path, line: str, kind: str, args: list[str]) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE + f"backend be\n    option httpchk\n    {line}\n    server s 127.0.0.1:1 check\n",
    )
    assert messages(diags, Level.ALERT) == []
    be = cfg.backends["be"]
    assert (be.checks.option, be.checks.option_args) == (kind, args)
    assert be.httpchk is None  # the last option wins


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("option pgsql-check", "'user <username>'"),
        ("option pgsql-check login hc", "only supports optional values: 'user'"),
        ("option mysql-check login hc", "only supports optional values: 'user'"),
        ("option mysql-check user hc post-42", "only supports 'post-41' and 'pre-41'"),
        ("option redis-check now", "takes no argument"),
        ("option smtpchk EHLO a b", "expects"),
    ],
)
def test_bad_check_options(tmp_path: Path, line: str, fragment: str) -> None:
    _, diags = load_text(tmp_path, BASE + f"backend be\n    {line}\n")
    assert any(fragment in m for m in messages(diags, Level.ALERT)), messages(diags, Level.ALERT)


def test_agent_options_and_default_server(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """\
backend be
    default-server agent-check agent-port 9000 agent-inter 5s agent-send "hi\\n" check-send-proxy
    server a 127.0.0.1:80 check
    server b 127.0.0.1:80 check agent-addr 127.0.0.2 no-agent-check no-check-send-proxy
    server c 127.0.0.1:80 check port 9100 no-agent-check
""",
    )
    assert messages(diags, Level.ALERT) == []
    a, b, c = (s.check for s in cfg.backends["be"].servers)
    assert (a.agent, a.agent_port, a.agent_inter, a.agent_send, a.send_proxy) == (
        True,
        9000,
        5000,
        "hi\n",
        True,
    )
    assert (b.agent, b.send_proxy) == (False, False)
    assert b.agent_address is not None
    assert b.agent_address.host == "127.0.0.2"
    assert (c.agent, c.port) == (False, 9100)


def test_agent_needs_a_port(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend be\n    server a 127.0.0.1:80 agent-check\n")
    assert any("does not have agent port" in m for m in messages(diags, Level.ALERT))
    _, diags = load_text(
        tmp_path, BASE + "backend be\n    server a 127.0.0.1:80 agent-check port 9000\n"
    )
    assert messages(diags, Level.ALERT) == []


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("agent-port 0", "out of range"),
        ("agent-addr 127.0.0.1:80", "agent-addr"),
        ("agent-addr unix@/x", "agent-addr"),
        ("agent-inter 0", "greater than 0"),
        ('agent-send ""', "'agent-send' expects"),
    ],
)
def test_bad_agent_options(tmp_path: Path, line: str, fragment: str) -> None:
    _, diags = load_text(tmp_path, BASE + f"backend be\n    server a 127.0.0.1:80 {line}\n")
    assert any(fragment in m for m in messages(diags, Level.ALERT)), messages(diags, Level.ALERT)


def test_global_spread_checks(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        "global\n    spread-checks 5\n    max-spread-checks 3s\n" + BASE + "backend be\n",
    )
    assert messages(diags, Level.ALERT) == []
    assert (cfg.global_.spread_checks, cfg.global_.max_spread_checks) == (5, 3000)
    _, diags = load_text(tmp_path, "global\n    spread-checks 51\n" + BASE + "backend be\n")
    assert any("out of range" in m for m in messages(diags, Level.ALERT))
