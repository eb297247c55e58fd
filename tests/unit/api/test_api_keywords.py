"""`stats socket`, `stats timeout`, `stats maxconn` in the global section."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import load_text

from weir.api import Level, api_conf
from weir.api.conf import first_proxy_id
from weir.config.address import Family
from weir.config.diagnostics import Diagnostics

TAIL = """
defaults
    mode http
frontend fe
    bind 127.0.0.1:18080
    default_backend be
backend be
    server s1 127.0.0.1:18081
"""


def _errors(diags: Diagnostics) -> list[str]:
    return [d.message for d in diags.errors]


def test_sockets_with_options(tmp_path: Path) -> None:
    cfg, diags = load_text(
        tmp_path,
        "global\n"
        "    stats socket /run/weir/admin.sock mode 660 level admin\n"
        "    stats socket ipv4@127.0.0.1:9999 level user\n"
        "    stats socket /run/weir/oper.sock\n"
        "    stats timeout 2m\n"
        "    stats maxconn 3\n" + TAIL,
    )
    assert _errors(diags) == []
    conf = api_conf(cfg)
    first, second, third = conf.stats_sockets
    assert (first.address.family, first.address.host, first.mode, first.level) == (
        Family.UNIX,
        "/run/weir/admin.sock",
        0o660,
        Level.ADMIN,
    )
    assert (second.address.family, second.address.port_low, second.level) == (
        Family.IPV4,
        9999,
        Level.USER,
    )
    assert third.level is Level.OPERATOR  # HAProxy's default level
    assert (conf.stats_timeout_ms, conf.stats_maxconn) == (120_000, 3)
    # the API's own frontend shifts the proxies' ids, as in HAProxy
    assert first_proxy_id(cfg) == 2
    # the rest of the global section still reads as before
    assert cfg.global_.maxconn == 0


def test_defaults_without_api(tmp_path: Path) -> None:
    cfg, diags = load_text(tmp_path, TAIL)
    assert _errors(diags) == []
    conf = api_conf(cfg)
    assert (conf.stats_sockets, conf.stats_timeout_ms, conf.stats_maxconn) == ([], 10_000, 10)
    assert first_proxy_id(cfg) == 1


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("stats socket", "expects an address or a path to a UNIX socket"),
        ("stats socket /x level root", "'level' only supports 'user', 'operator', and 'admin'"),
        ("stats socket /x mode rw", "'mode' expects an octal permission"),
        ("stats socket /x expose-fd sockets", "'expose-fd' only supports 'listeners'"),
        ("stats socket /x severity-output string", "weir does not support yet"),
        ("stats socket /x frobnicate", "unknown option 'frobnicate'"),
        ("stats socket /x level", "'level' expects a value"),
        ("stats socket udp@127.0.0.1:1", "weir does not support them yet"),
        ("stats timeout 0", "expects a positive value"),
        ("stats timeout soon", ""),
        ("stats maxconn 0", "expects a positive value"),
    ],
)
def test_refusals(tmp_path: Path, line: str, expected: str) -> None:
    _, diags = load_text(tmp_path, f"global\n    {line}\n" + TAIL)
    errors = _errors(diags)
    assert errors, line
    assert expected in errors[0]
