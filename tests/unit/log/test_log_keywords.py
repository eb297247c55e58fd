"""The logging keywords through the real loader: what they store and how they complain."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from weir.config.address import Family
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config, LogTarget
from weir.log.checks import check_logging
from weir.log.keywords import parse_sample, parse_target

DEFAULTS = """\
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
    return load([str(path)], diags, env={}), diags


def messages(diags: Diagnostics, level: Level) -> list[str]:
    """Messages about a configuration line (not whole-file ones such as "no proxy")."""
    return [d.message for d in diags.items if d.level is level and d.where is not None]


def global_log(tmp_path: Path, line: str) -> tuple[list[LogTarget], list[str]]:
    cfg, diags = load_text(tmp_path, f"global\n    {line}\n")
    return cfg.global_.logs, messages(diags, Level.ALERT)


# ---- targets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "family", "host", "port"),
    [
        ("127.0.0.1", Family.IPV4, "127.0.0.1", 514),
        ("127.0.0.1:5514", Family.IPV4, "127.0.0.1", 5514),
        ("udp@10.0.0.1:600", Family.IPV4, "10.0.0.1", 600),
        ("udp4@10.0.0.1", Family.IPV4, "10.0.0.1", 514),
        ("ipv4@10.0.0.1:9", Family.IPV4, "10.0.0.1", 9),
        ("udp6@[::1]:5514", Family.IPV6, "::1", 5514),
        ("[::1]", Family.IPV6, "::1", 514),
        ("::1:", Family.IPV6, "::1", 514),  # HAProxy's "address, colon, optional port"
        ("/dev/log", Family.UNIX, "/dev/log", 0),
        ("unix@/run/syslog.sock", Family.UNIX, "/run/syslog.sock", 0),
        ("uxdg@/tmp/x", Family.UNIX, "/tmp/x", 0),
    ],
)
def test_socket_targets(text: str, family: Family, host: str, port: int) -> None:
    addr, fd = parse_target(text)
    assert fd == -1
    assert addr is not None
    assert (addr.family, addr.host, addr.port_low) == (family, host, port)


@pytest.mark.parametrize(("text", "fd"), [("stdout", 1), ("stderr", 2), ("fd@7", 7)])
def test_descriptor_targets(text: str, fd: int) -> None:
    assert parse_target(text) == (None, fd)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ring@buf", "ring buffers ('ring@') are HAProxy's but weir does not support them yet"),
        ("tcp@127.0.0.1:514", "stream log targets ('tcp@') are HAProxy's"),
        ("fd@x", "'fd@' expects a file descriptor number, got 'x'"),
        ("foo@1.2.3.4", "unknown address family 'foo@'"),
        ("udp6@127.0.0.1", "is not ipv6"),
        ("unix@", "missing path"),
    ],
)
def test_bad_targets(tmp_path: Path, text: str, message: str) -> None:
    logs, alerts = global_log(tmp_path, f"log {text} local0")
    assert logs == []
    assert len(alerts) == 1
    assert alerts[0].startswith("'log' : ")
    assert message in alerts[0]


# ---- the whole line -----------------------------------------------------------------------


def test_full_global_log_line(tmp_path: Path) -> None:
    logs, alerts = global_log(
        tmp_path, "log 127.0.0.1:5514 len 4096 format rfc5424 sample 1-2,5:6 local3 notice err"
    )
    assert alerts == []
    [t] = logs
    assert t.address is not None
    assert t.address.port_low == 5514
    assert (t.length, t.fmt, t.facility, t.max_level, t.min_level) == (4096, "rfc5424", 19, 5, 3)
    assert (t.sample_ranges, t.sample_size) == (((1, 2), (5, 5)), 6)


def test_defaults_of_a_short_line(tmp_path: Path) -> None:
    logs, alerts = global_log(tmp_path, "log stdout daemon")
    assert alerts == []
    [t] = logs
    assert (t.address, t.fd, t.facility, t.max_level, t.min_level) == (None, 1, 3, 7, 0)
    assert (t.length, t.fmt, t.sample_ranges) == (1024, "", ())


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("log 127.0.0.1", "expects <target> [len <length>]"),
        ("log 127.0.0.1 len 79 local0", "invalid log length '79': it must be between 80 and 65535"),
        ("log 127.0.0.1 len 65536 local0", "invalid log length '65536'"),
        ("log 127.0.0.1 len abc local0", "invalid log length 'abc'"),
        (
            "log 127.0.0.1 format rfc3146 local0",
            "unknown log format 'rfc3146' (expects one of local, rfc3164, rfc5424, priority, "
            "short, timed, iso, raw); did you mean 'rfc3164'?",
        ),
        ("log 127.0.0.1 locl0", "unknown log facility 'locl0'; did you mean 'local0'?"),
        (
            "log 127.0.0.1 format raw len 100 daemon",
            "'len' is misplaced: the order is <target> [len <length>]",
        ),
        ("log 127.0.0.1 local0 inf", "unknown log level 'inf'"),
        ("log 127.0.0.1 local0 info eror", "unknown minimum log level 'eror'"),
        ("log 127.0.0.1 local0 info err debug", "unexpected argument 'debug' after the levels"),
        ("log 127.0.0.1 len 100", "expects a facility after the target"),
        ("log 127.0.0.1 sample 1-2 local0", "the size is missing in '1-2'"),
        ("log 127.0.0.1 sample 0-2:4 local0", "invalid sample range '0-2'"),
        ("log 127.0.0.1 sample 3-3:4 local0", "invalid sample range '3-3'"),
        ("log 127.0.0.1 sample 1-3,2:4 local0", "sample ranges overlap in '1-3,2:4'"),
        ("log 127.0.0.1 sample 1-5:4 local0", "sample size 4 must be at least 5"),
        ("log 127.0.0.1 sample 1:x local0", "invalid sample size 'x'"),
        ("log global", "'log global' belongs in a proxy section"),
        ("no log stdout", "'no log' takes no argument"),
    ],
)
def test_log_line_errors(tmp_path: Path, line: str, message: str) -> None:
    logs, alerts = global_log(tmp_path, line)
    assert logs == []
    assert len(alerts) == 1, alerts
    assert message in alerts[0]


def test_global_no_log_forgets_earlier_lines(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        """\
global
    log 127.0.0.1 local0
    no log
    log stderr local1
""",
    )
    assert messages(diags, Level.ALERT) == []
    assert [t.fd for t in cfg.global_.logs] == [2]


def test_log_tag_and_hostname(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        """\
global
    log-tag edge
    log-send-hostname lb1
    log-send-hostname lb2
""",
    )
    assert cfg.global_.log_tag == "edge"
    assert cfg.global_.log_send_hostname == "lb1"
    assert messages(diags, Level.ALERT) == [
        "'log-send-hostname' : is already set; this line is ignored"
    ]


def test_log_send_hostname_defaults_to_the_system_name(tmp_path: Path) -> None:
    cfg, _ = load_text(tmp_path, "global\n    log-send-hostname\n")
    assert cfg.global_.log_send_hostname == os.uname().nodename


# ---- proxies ------------------------------------------------------------------------------


SEED = (
    """\
global
    log 127.0.0.1 local0 info
    log 127.0.0.1 local1 warning
"""
    + DEFAULTS
    + """\
    log global
    option httplog
frontend http-in
    bind 127.0.0.1:9001
    default_backend web
backend web
    server a 127.0.0.1:8080
"""
)


def test_seed_configuration(tmp_path: Path) -> None:
    cfg, diags = load_text(tmp_path, SEED)
    assert messages(diags, Level.ALERT) == []
    fe = cfg.frontends["http-in"]
    assert fe.logs == cfg.global_.logs
    assert [t.facility for t in fe.logs] == [16, 17]
    assert fe.log_global
    assert fe.httplog
    assert not fe.tcplog
    assert cfg.backends["web"].logs == cfg.global_.logs  # backends inherit too


def test_proxy_targets_no_log_and_log_global_once(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        SEED
        + """\
frontend quiet
    bind 127.0.0.1:9002
    no log
    default_backend web
frontend own
    bind 127.0.0.1:9003
    log global
    log stdout format raw daemon
    log 127.0.0.1:5514 local2
    log 127.0.0.1:5515 local3
    log-tag own
    default_backend web
""",
    )
    assert messages(diags, Level.ALERT) == []
    assert cfg.frontends["quiet"].logs == []
    assert not cfg.frontends["quiet"].log_global
    own = cfg.frontends["own"]
    # The inherited `log global` is not repeated; HAProxy 2.6 has no limit of two targets.
    assert [t.facility for t in own.logs] == [16, 17, 3, 18, 19]
    assert own.log_tag == "own"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("log global local0", "'log global' takes no other argument"),
        ("log 127.0.0.1", "expects <target>"),
        ("option httplog xml", "only accepts 'clf' or 'json', not 'xml'"),
        ("option tcplog clf", "only accepts 'json', not 'clf'"),
        ("log-tag", "expects a tag"),
    ],
)
def test_proxy_errors(tmp_path: Path, line: str, message: str) -> None:
    _, diags = load_text(tmp_path, DEFAULTS + f"frontend f\n    bind :80\n    {line}\n")
    [alert] = messages(diags, Level.ALERT)
    assert message in alert


def test_httplog_cannot_be_negated(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, DEFAULTS + "frontend f\n    bind :80\n    no option httplog\n")
    [alert] = messages(diags, Level.ALERT)
    assert "'option httplog' cannot be negated" in alert


def test_httplog_clf_and_last_format_wins(tmp_path: Path) -> None:
    cfg, _ = load_text(
        tmp_path,
        DEFAULTS
        + """\
frontend a
    bind :80
    option httplog clf
frontend b
    bind :81
    option httplog
    option tcplog
""",
    )
    a, b = cfg.frontends["a"], cfg.frontends["b"]
    assert (a.httplog, a.httplog_clf, a.tcplog) == (True, True, False)
    assert (b.httplog, b.httplog_clf, b.tcplog) == (False, False, True)


def test_defaults_override_and_backend_warnings(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        DEFAULTS
        + """\
    option tcplog
    option httplog
backend be
    option httplog
    option dontlognull
    server s 127.0.0.1:80
""",
    )
    warnings = messages(diags, Level.WARNING)
    assert "'option httplog' : overrides 'option tcplog' set earlier in this defaults section" in (
        warnings
    )
    assert (
        "'option httplog' : is ignored in backend 'be': 'option httplog' applies to frontends"
        in (warnings)
    )
    assert "'option dontlognull' : is ignored in backend 'be': it applies to frontends" in warnings
    assert not cfg.backends["be"].dontlognull


def test_frontend_flags_and_their_negation(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        DEFAULTS
        + """\
    option dontlognull
    option log-separate-errors
frontend a
    bind :80
    no option dontlognull
    option dontlog-normal
frontend b
    bind :81
""",
    )
    assert messages(diags, Level.ALERT) == []
    a, b = cfg.frontends["a"], cfg.frontends["b"]
    assert (a.dontlognull, a.dontlog_normal, a.log_separate_errors) == (False, True, True)
    assert (b.dontlognull, b.dontlog_normal, b.log_separate_errors) == (True, False, True)


# ---- whole-configuration checks -------------------------------------------------------------


def test_check_logging_warnings(tmp_path: Path) -> None:
    cfg, _ = load_text(
        tmp_path,
        """\
global
    log 127.0.0.1 local0
"""
        + DEFAULTS
        + """\
frontend no_target
    bind :80
    option httplog
frontend tcp_httplog
    mode tcp
    bind :81
    log global
    option httplog
frontend fine
    bind :82
    log global
    option httplog
""",
    )
    diags = Diagnostics()
    check_logging(cfg, diags)
    assert [(d.message, d.where.line if d.where else 0) for d in diags.items] == [
        (
            "frontend 'no_target' has a log format but no log target, so it logs nothing (add "
            "'log global' or a 'log' line)",
            10,
        ),
        (
            "'option httplog' needs 'mode http': frontend 'tcp_httplog' uses 'option tcplog' "
            "instead",
            15,
        ),
    ]
    assert all(d.level is Level.WARNING for d in diags.items)


def test_parse_sample_sorts_ranges() -> None:
    assert parse_sample("7-9,2:10") == (((2, 2), (7, 9)), 10)
