"""Section parsing, keyword dispatch and diagnostics, through the real loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Cap, Config, Mode

BASE = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""


def load_text(tmp_path: Path, text: str, name: str = "haproxy.cfg") -> tuple[Config, Diagnostics]:
    path = tmp_path / name
    path.write_text(text)
    diags = Diagnostics()
    return load([str(path)], diags, env={}), diags


def alerts(diags: Diagnostics) -> list[str]:
    return [d.format(pid=1) for d in diags.items if d.level is Level.ALERT]


def test_seed_style_config_loads(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """
frontend http-in
    bind 127.0.0.1:9001
    acl url_ms1 path_beg -i /ms1/
    use_backend ms1 if url_ms1
    default_backend def

backend ms1
    server a 127.0.0.1:8080 weight 2 maxconn 30

backend def
    server b 127.0.0.1:8082
""",
    )
    assert alerts(diags) == []
    fe = cfg.frontends["http-in"]
    assert fe.mode is Mode.HTTP
    assert fe.timeouts.client == 10000
    assert [r.backend for r in fe.switch_rules] == ["ms1"]
    assert fe.default_backend == "def"
    srv = cfg.backends["ms1"].servers[0]
    assert (srv.weight, srv.maxconn, srv.puid) == (2, 30, 1)


def test_unknown_keyword_suggests_and_names_file_and_line(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend b\n    balanse roundrobin\n")
    [msg] = alerts(diags)
    assert "parsing [" in msg
    assert "haproxy.cfg:7]" in msg
    assert "unknown keyword 'balanse' in 'backend' section" in msg
    assert "did you mean 'balance'" in msg


def test_haproxy_keyword_not_supported_yet(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend b\n    option tcp-smart-connect\n")
    [msg] = alerts(diags)
    assert "haproxy.cfg:7" in msg
    assert "'option tcp-smart-connect' is a HAProxy keyword that weir does not support yet" in msg


def test_removed_keyword_says_what_replaced_it(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, "defaults\n    contimeout 5000\n")
    [msg] = alerts(diags)
    assert "'contimeout'" in msg
    assert "timeout connect" in msg


def test_keyword_in_wrong_section(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend b\n    bind :80\n")
    [msg] = alerts(diags)
    assert "'bind' is not allowed in a 'backend' section" in msg


def test_five_mistakes_all_reported_with_their_lines(tmp_path: Path) -> None:
    text = (
        BASE
        + """
frontend f
    bind 127.0.0.1:99999
    use_backend nowhere if { path_beg /x }
    default_backend b

backend b
    balanse roundrobin
    server s1 127.0.0.1:80 wieght 3
    server s1 127.0.0.1:81
"""
    )
    _, diags = load_text(tmp_path, text)
    found = alerts(diags)
    assert len(found) == 5, found
    lines = sorted(int(m.split("haproxy.cfg:")[1].split("]")[0]) for m in found)
    assert lines == [8, 9, 13, 14, 15]


def test_defaults_inheritance_and_named_from(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        """\
defaults base
    mode tcp
    timeout client 1s
    timeout connect 1s
    timeout server 1s
defaults web from base
    mode http
frontend a from base
    bind 127.0.0.1:1
    default_backend c
frontend b from web
    bind 127.0.0.1:2
    default_backend d
backend c from base
    server s 127.0.0.1:3
backend d
    server s 127.0.0.1:4
""",
    )
    assert alerts(diags) == []
    assert cfg.frontends["a"].mode is Mode.TCP
    assert cfg.frontends["b"].mode is Mode.HTTP
    # Without 'from', a proxy inherits the last defaults section seen.
    assert cfg.backends["d"].mode is Mode.HTTP
    assert cfg.frontends["b"].timeouts.client == 1000


def test_listen_is_frontend_and_backend(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path, BASE + "listen l\n    bind 127.0.0.1:5\n    server s 127.0.0.1:6\n"
    )
    assert alerts(diags) == []
    assert cfg.frontends["l"] is cfg.backends["l"]
    assert cfg.frontends["l"].cap is Cap.LISTEN


def test_frontend_and_backend_may_share_a_name(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        BASE + "frontend www\n    bind 127.0.0.1:5\n"
        "    default_backend www\nbackend www\n    server s 127.0.0.1:6\n",
    )
    assert alerts(diags) == []
    assert cfg.frontends["www"] is not cfg.backends["www"]


def test_duplicate_proxy_name(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "backend b\nbackend b\n")
    [msg] = alerts(diags)
    assert "haproxy.cfg:7" in msg
    assert "same name" in msg


def test_mode_mismatch_between_frontend_and_backend(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE + "frontend f\n    bind 127.0.0.1:5\n"
        "    default_backend b\nbackend b\n    mode tcp\n"
        "    server s 127.0.0.1:6\n",
    )
    [msg] = alerts(diags)
    assert "http frontend 'f'" in msg
    assert "tcp backend 'b'" in msg


def test_warnings_for_missing_timeouts_and_bind(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        "frontend f\n    mode http\n    default_backend b\n"
        "backend b\n    mode http\n    server s 127.0.0.1:6\n",
    )
    assert alerts(diags) == []
    texts = [d.message for d in diags.warnings]
    assert any("has no 'bind' line" in t for t in texts)
    assert any("missing timeouts for frontend 'f'" in t for t in texts)
    assert any("missing timeouts for backend 'b'" in t for t in texts)


def test_unknown_acl_in_condition(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE + "frontend f\n    bind 127.0.0.1:5\n"
        "    acl is_api path_beg /api\n    use_backend b if is_apj\n"
        "backend b\n    server s 127.0.0.1:6\n",
    )
    [msg] = alerts(diags)
    assert "ACL 'is_apj'" in msg
    assert "did you mean 'is_api'" in msg


@pytest.mark.parametrize(
    ("line", "needle"),
    [
        ("bind 127.0.0.1:70000", "out of range"),
        ("bind 127.0.0.1", "missing port"),
        ("bind 127.0.0.1:80 foo", "unknown bind option 'foo'"),
        ("bind 127.0.0.1:80 ssl", "'ssl' on this bind needs a certificate"),
        ("maxconn lots", "not an integer"),
        ("timeout client 5x", "unknown time unit"),
        ("mode udp", "unknown mode 'udp'"),
    ],
)
def test_frontend_argument_errors(tmp_path: Path, line: str, needle: str) -> None:
    _, diags = load_text(tmp_path, BASE + f"frontend f\n    {line}\n")
    found = alerts(diags)
    assert len(found) == 1, found
    assert needle in found[0]
    assert "haproxy.cfg:7" in found[0]


def test_dir_loads_cfg_files_in_lexical_order(tmp_path: Path) -> None:
    d = tmp_path / "conf.d"
    d.mkdir()
    (d / "20-backend.cfg").write_text("backend b\n    server s 127.0.0.1:6\n")
    (d / "10-defaults.cfg").write_text(BASE)
    (d / "30-frontend.cfg").write_text("frontend f\n    bind 127.0.0.1:5\n    default_backend b\n")
    (d / "notes.txt").write_text("this is not a config\n")
    diags = Diagnostics()
    cfg = load([str(d)], diags, env={})
    assert alerts(diags) == []
    assert [Path(f).name for f in cfg.files] == [
        "10-defaults.cfg",
        "20-backend.cfg",
        "30-frontend.cfg",
    ]
    # The defaults of the first file applied to the proxies of the later ones.
    assert cfg.backends["b"].mode is Mode.HTTP


def test_missing_file_is_reported(tmp_path: Path) -> None:
    diags = Diagnostics()
    load([str(tmp_path / "nope.cfg")], diags, env={})
    assert any("could not open configuration file" in m for m in alerts(diags))


def test_unsupported_section_is_refused_once(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, BASE + "mailers m\n    mailer a 127.0.0.1:25\n")
    [msg] = alerts(diags)
    assert "'mailers' sections are HAProxy's but weir does not support them yet" in msg


def test_env_expansion_reaches_keywords(tmp_path: Path) -> None:
    path = tmp_path / "e.cfg"
    path.write_text(
        BASE + 'frontend f\n    bind "127.0.0.1:${PORT}"\n    default_backend b\n'
        "backend b\n    server s 127.0.0.1:6\n"
    )
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={"PORT": "8123"})
    assert alerts(diags) == []
    assert cfg.frontends["f"].binds[0].addresses[0].port_low == 8123


def test_errorfile_needs_an_existing_file_and_a_known_status(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        BASE + "backend b\n    errorfile 503 /nonexistent/503.http\n"
        "    errorfile 999 /nonexistent/x.http\n",
    )
    found = alerts(diags)
    assert len(found) == 2
    assert "cannot open file '/nonexistent/503.http'" in found[0]
    assert "status '999' cannot be replaced" in found[1]


def test_registered_sections_get_their_keywords_and_unregistered_ones_are_refused(
    tmp_path: Path,
) -> None:
    from weir.config.parser import Ctx
    from weir.config.registry import REGISTRY, SECTION_OPENERS, Args, keyword, section

    text = "peers mesh\n    probe one two\nmailers m\n    mailer a 127.0.0.1:25\n"
    _, diags = load_text(tmp_path, text)
    assert any("'mailers' sections are HAProxy's" in str(d) for d in diags.items)
    seen: list[tuple[str, tuple[str, ...]]] = []

    @section("peers")
    def _open(ctx: Ctx, args: Args) -> None:
        ctx.block = args[0]

    @keyword("probe", "p", "<a> <b>", "test only")
    def _probe(ctx: Ctx, args: Args) -> None:
        seen.append((ctx.block, tuple(args)))

    try:
        _, diags = load_text(tmp_path, text)
        assert seen == [("mesh", ("one", "two"))]
        assert not any("'peers' sections" in str(d) for d in diags.items)
    finally:
        del SECTION_OPENERS["peers"]
        REGISTRY.remove("probe")


def test_bare_balance_is_roundrobin(tmp_path: Path) -> None:
    """HAProxy 2.6 takes `balance` alone as roundrobin (over what defaults said)."""
    cfg, diags = load_text(
        tmp_path,
        BASE
        + """
defaults
    balance leastconn
backend be
    balance
    server s1 127.0.0.1:8080
""",
    )
    assert alerts(diags) == []
    be = next(p for p in cfg.proxies if p.name == "be")
    assert be.balance is not None
    assert be.balance.algo == "roundrobin"
