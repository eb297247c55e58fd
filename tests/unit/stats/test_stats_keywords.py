"""The `stats` keywords, through the real loader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stats_runtime import stats_keywords

from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config
from weir.stats import check_stats

BASE = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""

INTRO = (
    BASE
    + r"""
listen stats
    bind *:1080
    stats refresh 30s
    stats uri /stats
    stats realm HAProxy\ Stats
    stats auth admin:admin
"""
)


@pytest.fixture(autouse=True)
def _registered() -> Iterator[None]:
    with stats_keywords():
        yield


def load_text(tmp_path: Path, text: str) -> tuple[Config, Diagnostics]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    return load([str(path)], diags, env={}), diags


def messages(diags: Diagnostics, level: Level) -> list[str]:
    return [d.format(pid=1) for d in diags.items if d.level is level]


def test_introduction_config(tmp_path: Path) -> None:
    cfg, diags = load_text(tmp_path, INTRO)
    assert messages(diags, Level.ALERT) == []
    assert messages(diags, Level.WARNING) == []
    st = cfg.frontends["stats"].stats
    assert st.enabled
    assert (st.uri, st.realm, st.auths, st.refresh) == (
        "/stats",
        "HAProxy Stats",
        [("admin", "admin")],
        30,
    )
    assert st.where is not None
    assert st.where.line == 9


def test_defaults_without_stats(tmp_path: Path) -> None:
    cfg, _diags = load_text(tmp_path, BASE + "frontend f\n    bind :80\n")
    assert not cfg.frontends["f"].stats.enabled
    assert cfg.frontends["f"].stats.uri == "/haproxy?stats"


def test_each_stats_keyword_enables(tmp_path: Path) -> None:
    for line in (
        "stats enable",
        "stats uri /s",
        "stats realm R",
        "stats auth a:b",
        "stats refresh 5s",
        "stats hide-version",
    ):
        cfg, diags = load_text(tmp_path, BASE + f"backend b\n    {line}\n")
        assert messages(diags, Level.ALERT) == [], line
        assert cfg.backends["b"].stats.enabled, line


def test_refresh_units(tmp_path: Path) -> None:
    for text, seconds in (
        ("30", 30),
        ("30s", 30),
        ("2m", 120),
        ("1500ms", 2),
        ("500ms", 1),
        ("0", 0),
    ):
        cfg, _ = load_text(tmp_path, BASE + f"backend b\n    stats refresh {text}\n")
        assert cfg.backends["b"].stats.refresh == seconds, text
    _, diags = load_text(tmp_path, BASE + "backend b\n    stats refresh soon\n")
    [msg] = messages(diags, Level.ALERT)
    assert "stats refresh" in msg
    assert "soon" in msg


def test_missing_arguments_are_errors(tmp_path: Path) -> None:
    for kw in ("uri", "realm", "auth", "refresh"):
        _, diags = load_text(tmp_path, BASE + f"backend b\n    stats {kw}\n")
        [msg] = messages(diags, Level.ALERT)
        assert f"'stats {kw}'" in msg
        assert "haproxy.cfg:7" in msg


def test_auth_without_password_and_duplicates_warn(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE + "backend b\n    stats auth bob\n    stats auth bob:other\n    stats auth ann:x\n",
    )
    assert messages(diags, Level.ALERT) == []
    warnings = messages(diags, Level.WARNING)
    assert len(warnings) == 2
    assert "empty" in warnings[0]
    assert "already declared" in warnings[1]
    assert cfg.backends["b"].stats.auths == [("bob", ""), ("ann", "x")]


def test_first_stats_line_drops_inherited_settings(tmp_path: Path) -> None:
    text = (
        BASE
        + """\
    stats auth admin:secret
    stats realm Inherited

frontend keeps
    bind :80

frontend own
    bind :81
    stats uri /mine
"""
    )
    cfg, diags = load_text(tmp_path, text)
    assert messages(diags, Level.ALERT) == []
    keeps, own = cfg.frontends["keeps"].stats, cfg.frontends["own"].stats
    assert keeps.enabled
    assert keeps.auths == [("admin", "secret")]
    assert keeps.realm == "Inherited"
    # HAProxy: a proxy's own `stats` line starts from the built-in settings
    assert own.enabled
    assert own.uri == "/mine"
    assert own.auths == []
    assert own.realm is None


def test_several_stats_lines_in_one_section_accumulate(tmp_path: Path) -> None:
    cfg, _ = load_text(tmp_path, INTRO + "    stats auth ops:ops\n    stats hide-version\n")
    st = cfg.frontends["stats"].stats
    assert st.auths == [("admin", "admin"), ("ops", "ops")]
    assert st.uri == "/stats"
    assert st.hide_version


def test_allowed_in_every_proxy_section(tmp_path: Path) -> None:
    text = (
        "defaults\n    mode http\n    stats enable\n"
        "frontend f\n    bind :80\n    stats uri /f\n"
        "backend b\n    stats uri /b\n"
        "listen l\n    bind :81\n    stats uri /l\n"
    )
    cfg, diags = load_text(tmp_path, text)
    assert messages(diags, Level.ALERT) == []
    assert [
        cfg.frontends["f"].stats.uri,
        cfg.backends["b"].stats.uri,
        cfg.frontends["l"].stats.uri,
    ] == ["/f", "/b", "/l"]


def test_unimplemented_stats_keywords_are_refused(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path, BASE + "listen l\n    bind :80\n    stats http-request deny if TRUE\n"
    )
    [msg] = messages(diags, Level.ALERT)
    assert "stats http-request" in msg
    assert "does not support" in msg


def test_admin_legends_node_desc_scope(tmp_path: Path) -> None:
    from weir.stats.conf import settings

    cfg, diags = load_text(
        tmp_path,
        BASE + "listen l\n    bind :80\n    acl local src 127.0.0.1\n"
        "    stats admin if local\n    stats admin unless TRUE\n    stats show-legends\n"
        "    stats show-node edge1\n    stats show-desc main site\n"
        "    stats scope .\n    stats scope app\n",
    )
    assert messages(diags, Level.ALERT) == []
    st = settings(cfg.frontends["l"])
    assert [(c.unless, c.words) for c in st.admin] == [(False, ["local"]), (True, ["TRUE"])]
    assert (st.show_legends, st.show_node, st.show_desc) == (True, "edge1", "main site")
    assert st.scopes == [".", "app"]
    assert st.enabled


def test_admin_needs_a_known_condition(tmp_path: Path) -> None:
    for line, expected in (
        ("stats admin", "requires either 'if' or 'unless'"),
        ("stats admin if", "requires either 'if' or 'unless'"),
        ("stats admin if nosuchacl", "unknown ACL"),
    ):
        _, diags = load_text(tmp_path, BASE + f"listen l\n    bind :80\n    {line}\n")
        [msg] = messages(diags, Level.ALERT)
        assert expected in msg, line
    _, diags = load_text(tmp_path, BASE + "    stats admin if TRUE\n")
    [msg] = messages(diags, Level.ALERT)
    assert "not allowed in a 'defaults' section" in msg


def test_use_service_kept_when_stats_keywords_follow(tmp_path: Path) -> None:
    from weir.stats.conf import settings

    cfg, diags = load_text(
        tmp_path,
        BASE + "    stats enable\n    stats auth a:b\n"
        "frontend f\n    bind :80\n    http-request use-service prometheus-exporter\n"
        "    stats uri /x\n",
    )
    assert messages(diags, Level.ALERT) == []
    st = settings(cfg.frontends["f"])
    assert st.services == [None]
    # the first `stats` line of the section starts over from the built-in settings
    assert (st.uri, st.auths) == ("/x", [])


def test_stats_in_tcp_mode_warns(tmp_path: Path) -> None:
    cfg, _ = load_text(
        tmp_path,
        "listen l\n    mode tcp\n    bind :80\n    stats enable\n    server s 127.0.0.1:1\n",
    )
    diags = Diagnostics()
    check_stats(cfg, diags)
    [msg] = messages(diags, Level.WARNING)
    assert "requires HTTP mode" in msg
    assert "'l'" in msg
