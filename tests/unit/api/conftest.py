"""Helpers for the runtime API's unit tests: a runtime built from configuration text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.config.model import Config
from weir.proxy.runtime import Runtime, build

BASE = """\
global
    stats socket /tmp/weir-unit-api.sock level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend fe1
    bind 127.0.0.1:18080
    default_backend be1
backend be1
    balance roundrobin
    server s1 127.0.0.1:18081 check weight 10
    server s2 127.0.0.1:18082 weight 20
    server s3 127.0.0.1:18083 backup disabled
listen tcp1
    mode tcp
    bind 127.0.0.1:18090
    server t1 127.0.0.1:18091 maxconn 5
"""


def load_text(tmp_path: Path, text: str) -> tuple[Config, Diagnostics]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    return load([str(path)], diags, env={}), diags


@pytest.fixture
def runtime_of(tmp_path: Path) -> Callable[[str], Runtime]:
    """Load configuration text (no errors allowed) and build its runtime."""

    def make(text: str = BASE) -> Runtime:
        cfg, diags = load_text(tmp_path, text)
        assert not diags.has_errors(), [d.format(pid=1) for d in diags.errors]
        return build(cfg)

    return make
