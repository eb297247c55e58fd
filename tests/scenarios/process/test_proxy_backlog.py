"""`backlog` in a proxy: the listen queue of its binds that set none, as the kernel
reports it (`ss` shows a listening socket's backlog in its Send-Q column)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.helpers.ports import free_port

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


def _backlog_of(port: int) -> int:
    out = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout.split()
    return int(out[2])  # State Recv-Q Send-Q ...


def test_proxy_backlog_applies_to_binds_without_their_own(weir: Callable[..., Any]) -> None:
    a, b = free_port(), free_port()
    weir(
        f"""\
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    backlog 37
frontend web
    bind 127.0.0.1:{a}
    bind 127.0.0.1:{b} backlog 11
    monitor-uri /health
""",
        wait_ports=[a, b],
    )
    assert _backlog_of(a) == 37
    assert _backlog_of(b) == 11
