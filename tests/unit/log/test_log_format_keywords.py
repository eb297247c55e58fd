"""log-format, log-format-sd, unique-id-*, capture and option logasap through the real loader.

Which lines HAProxy 2.6.12 refuses was checked with `haproxy -c`; weir refuses the same
ones, in its own words, at the line that set the format (formats are compiled once the
whole configuration, and so each proxy's mode, is known).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config

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


def messages(diags: Diagnostics, level: Level) -> list[tuple[int, str]]:
    return [
        (d.where.line, d.message) for d in diags.items if d.level is level and d.where is not None
    ]


def frontend(lines: str, mode: str = "http") -> str:
    return (
        DEFAULTS
        + f"""\
frontend fe
    mode {mode}
    bind 127.0.0.1:8000
    log 127.0.0.1:514 local0
{lines}
    default_backend be
backend be
    mode {mode}
    server s1 127.0.0.1:8080
"""
    )


LINE = 10  # the first line of `lines` in `frontend()`


def test_log_format_is_stored_and_replaces_option_httplog(tmp_path: Path) -> None:
    cfg, diags = load_text(tmp_path, frontend('    option httplog\n    log-format "%ci %b"'))
    assert not messages(diags, Level.ALERT)
    px = cfg.frontends["fe"]
    assert px.log_format == "%ci %b"
    assert not px.httplog
    assert px.logformat_where is not None
    assert px.logformat_where.line == LINE + 1


def test_option_httplog_after_log_format_wins(tmp_path: Path) -> None:
    cfg, _ = load_text(tmp_path, frontend('    log-format "%ci"\n    option httplog json'))
    px = cfg.frontends["fe"]
    assert px.log_format is None
    assert px.httplog
    assert px.log_json


def test_defaults_warn_when_a_second_format_overrides(tmp_path: Path) -> None:
    text = DEFAULTS + '    option httplog\n    log-format "%ci"\n    option tcplog\n'
    _, diags = load_text(tmp_path, text)
    assert messages(diags, Level.WARNING) == [
        (7, "'log-format' : overrides 'option httplog' set earlier in this defaults section"),
        (8, "'option tcplog' : overrides 'log-format' set earlier in this defaults section"),
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ("    log-format %r foo", "expects one format string: quote it"),
        ("    log-format", "expects a format string"),
        ("    log-format-sd a b", "expects one format string"),
        ("    unique-id-format a b", "expects one format string"),
        ("    unique-id-header", "expects a header name"),
        ("    capture cookie", "expects 'capture cookie <name> len <length>'"),
        ("    capture cookie X len", "expects 'capture cookie <name> len <length>'"),
        ("    capture cookie X len abc", "invalid capture length 'abc'"),
        ("    capture request header X", "expects 'capture request header <name> len"),
        ("    capture request header X len 64 foo", "unexpected argument 'foo'"),
        ("    capture response header X len -1", "invalid capture length '-1'"),
        ("    option logasap foo", "takes no argument"),
    ],
)
def test_line_errors(tmp_path: Path, lines: str, message: str) -> None:
    _, diags = load_text(tmp_path, frontend(lines))
    [(line, alert)] = messages(diags, Level.ALERT)
    assert line == LINE
    assert message in alert


@pytest.mark.parametrize(
    ("lines", "mode", "message"),
    [
        ('    log-format "%zz"', "http", "unknown log-format variable '%zz'"),
        ('    log-format "%{+Q}"', "http", "not followed by a variable"),
        ('    log-format "a % b"', "http", "is not a variable"),
        ('    log-format "%r"', "tcp", "'%r' needs 'mode http'"),
        ('    log-format "%CC %tsc %hr"', "tcp", "'%CC' needs 'mode http'"),
        ('    log-format "%[path]"', "http", "sample fetch 'path' cannot be used in a log format"),
        ('    log-format "%[src,nosuchconv]"', "http", "unknown converter 'nosuchconv'"),
        ('    log-format-sd "[x %zz]"', "http", "unknown log-format variable '%zz'"),
        ('    unique-id-format "%[nope]"', "http", "sample fetch 'nope'"),
    ],
)
def test_format_errors_point_at_the_format_line(
    tmp_path: Path, lines: str, mode: str, message: str
) -> None:
    _, diags = load_text(tmp_path, frontend(lines, mode))
    [(line, alert)] = messages(diags, Level.ALERT)
    assert line == LINE
    assert alert.startswith("frontend 'fe': cannot use this '")
    assert message in alert


def test_a_bad_defaults_format_is_reported_for_each_frontend(tmp_path: Path) -> None:
    text = DEFAULTS + '    log-format "%zz"\n' + frontend("").split("\n", 5)[-1]
    _, diags = load_text(tmp_path, text)
    alerts = messages(diags, Level.ALERT)
    assert [line for line, _ in alerts] == [6]


def test_accepted_formats_including_haproxys_examples(tmp_path: Path) -> None:
    lines = (
        "    log-format %T\\ %t\\ Some\\ Text\n"
        '    log-format "%{+Q}o %t %s %{-Q}r %[src] %[method] %[capture.req.hdr(0)]"\n'
        '    log-format-sd "%{+Q,+E}o [exampleSDID@1234 header=%[capture.req.hdr(0)]]"\n'
        "    unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid\n"
        "    unique-id-header X-Unique-ID\n"
        "    capture request header Host len 20\n"
        "    capture response header Content-Length len 9\n"
        "    capture cookie SESS len 32\n"
        "    option logasap"
    )
    cfg, diags = load_text(tmp_path, frontend(lines))
    assert not messages(diags, Level.ALERT), diags.items
    px = cfg.frontends["fe"]
    assert px.capture_request_headers == [("Host", 20)]
    assert px.capture_response_headers == [("Content-Length", 9)]
    assert px.capture_cookie == ("SESS", 32)
    assert px.unique_id_header == "X-Unique-ID"
    assert px.unique_id_format == "%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid"
    assert px.logasap


def test_captures_keep_their_order_and_cookie_length_is_cut(tmp_path: Path) -> None:
    lines = (
        "    capture request header A len 1\n"
        "    capture request header B len 2\n"
        "    capture cookie X len 64\n"
        "    capture cookie Y len 3"
    )
    cfg, diags = load_text(tmp_path, frontend(lines))
    px = cfg.frontends["fe"]
    assert px.capture_request_headers == [("A", 1), ("B", 2)]
    assert px.capture_cookie == ("Y", 3)
    assert [m for _, m in messages(diags, Level.WARNING)] == [
        "'capture cookie' : capture length 64 is cut to 63 bytes, the most a cookie capture keeps",
        "'capture cookie' : replaces 'capture cookie X': only one cookie is captured",
    ]


def test_no_option_logasap(tmp_path: Path) -> None:
    text = DEFAULTS + "    option logasap\n" + frontend("    no option logasap").split("\n", 5)[-1]
    cfg, _ = load_text(tmp_path, text)
    assert not cfg.frontends["fe"].logasap


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEFAULTS + "    capture cookie X len 3\n", "is not allowed in a 'defaults' section"),
        (
            DEFAULTS + "backend b\n    capture request header X len 3\n",
            "is not allowed in a 'backend' section",
        ),
        (
            DEFAULTS + "frontend f\n    http-response capture res.hdr(x) len 10\n",
            "'http-response capture' needs a slot made by 'declare capture'",
        ),
    ],
)
def test_refused_in_the_wrong_place(tmp_path: Path, text: str, message: str) -> None:
    _, diags = load_text(tmp_path, text)
    assert any(message in m for _, m in messages(diags, Level.ALERT)), diags.items


def test_weirs_own_warnings(tmp_path: Path) -> None:
    lines = (
        "    capture request header Host len 5\n    unique-id-header X-ID\n    option httplog json"
    )
    _, diags = load_text(tmp_path, frontend(lines, "tcp"))
    warnings = [m for _, m in messages(diags, Level.WARNING)]
    assert (
        "'option httplog json' needs 'mode http': frontend 'fe' uses 'option tcplog json' "
        "instead" in warnings
    )
    assert "frontend 'fe' is not in 'mode http': its 'capture' lines capture nothing" in warnings
    assert (
        "frontend 'fe' has 'unique-id-header' but no 'unique-id-format': no header is added"
        in warnings
    )


def test_log_format_without_a_target_warns(tmp_path: Path) -> None:
    text = frontend('    log-format "%ci"').replace("    log 127.0.0.1:514 local0\n", "")
    _, diags = load_text(tmp_path, text)
    assert (
        LINE - 1,
        "frontend 'fe' has a log format but no log target, so it logs nothing (add "
        "'log global' or a 'log' line)",
    ) in messages(diags, Level.WARNING)
