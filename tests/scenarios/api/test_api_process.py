"""The runtime API of a real weir process, driven by socat and haproxyadmin as their users
drive HAProxy: list servers, put one in maintenance, change a weight, and see traffic
follow. Also the Prometheus exporter and the stats page's admin form through curl.

These need the process runner to start the API (`weir.api.start_api`) and the HTTP
session to hand requests to `StatsService.matches/handle` with the Stream and body; until
that wiring exists, they skip with the reason."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port

pytestmark = pytest.mark.skipif(shutil.which("socat") is None, reason="socat is not installed")

CONFIG = """\
global
    stats socket {sock} level admin
    stats timeout 5s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:{port}
    http-request use-service prometheus-exporter if {{ path /metrics }}
    stats enable
    stats uri /stats
    stats admin if LOCALHOST
    default_backend app
backend app
    balance roundrobin
    server a1 127.0.0.1:{p1}
    server a2 127.0.0.1:{p2}
"""

NOT_WIRED = (
    "weir -c accepts the runtime API configuration but the process does not open the "
    "socket yet: weir/process/run.py must call weir.api.start_api"
)


def _start(
    weir: Callable[..., Any], http_backend: Callable[..., Any], tmp_path: Path
) -> tuple[str, int]:
    a1, a2 = http_backend("a1"), http_backend("a2")
    port = free_port()
    sock = str(tmp_path / "weir.sock")
    text = CONFIG.format(sock=sock, port=port, p1=a1.port, p2=a2.port)
    cfg = tmp_path / "check.cfg"
    cfg.write_text(text)
    check = subprocess.run(
        [sys.executable, "-m", "weir", "-c", "-f", str(cfg)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert check.returncode == 0, check.stderr.decode()
    weir(text, wait_ports=[port])
    deadline = time.monotonic() + 3
    while not Path(sock).exists():
        if time.monotonic() > deadline:
            pytest.skip(NOT_WIRED)
        time.sleep(0.05)
    return sock, port


def _socat(sock: str, command: str) -> str:
    out = subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(command + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    )
    return out.stdout.decode()


def _backends_seen(port: int, n: int) -> set[str]:
    seen = set()
    for _ in range(n):
        r = curl(f"http://127.0.0.1:{port}/")
        assert r.status == 200
        seen.add(r.header("X-Backend") or "")
    return seen


def test_socat_drives_servers(
    weir: Callable[..., Any], http_backend: Callable[..., Any], tmp_path: Path
) -> None:
    sock, port = _start(weir, http_backend, tmp_path)
    assert _socat(sock, "show info").startswith("Name: HAProxy\n")
    csv = _socat(sock, "show stat")
    assert "app,a1," in csv
    assert _backends_seen(port, 6) == {"a1", "a2"}
    assert _socat(sock, "set server app/a1 state maint") == "\n"
    assert _backends_seen(port, 6) == {"a2"}
    status = next(
        line for line in _socat(sock, "show stat").splitlines() if line.startswith("app,a1,")
    )
    assert ",MAINT," in status
    assert _socat(sock, "set server app/a1 state ready; get weight app/a1") == "\n1 (initial 1)\n\n"
    assert _backends_seen(port, 6) == {"a1", "a2"}


def test_haproxyadmin_drives_servers(
    weir: Callable[..., Any], http_backend: Callable[..., Any], tmp_path: Path
) -> None:
    haproxy = pytest.importorskip("haproxyadmin.haproxy")
    sock, port = _start(weir, http_backend, tmp_path)
    hap = haproxy.HAProxy(socket_file=sock, timeout=5)
    assert sorted(s.name for s in hap.servers(backend="app")) == ["a1", "a2"]
    (a2,) = hap.server("a2", backend="app")
    assert a2.setstate("disable") is True
    assert a2.status == "MAINT"
    assert _backends_seen(port, 4) == {"a1"}
    assert a2.setstate("enable") is True
    assert a2.setweight(0) is True
    assert int(a2.weight) == 0
    assert _backends_seen(port, 4) == {"a1"}


def test_prometheus_and_admin_form_over_http(
    weir: Callable[..., Any], http_backend: Callable[..., Any], tmp_path: Path
) -> None:
    sock, port = _start(weir, http_backend, tmp_path)
    metrics = curl(f"http://127.0.0.1:{port}/metrics")
    if metrics.status != 200 or b"haproxy_process_nbthread" not in metrics.body:
        pytest.skip(
            "the HTTP session does not hand requests to StatsService.matches(..., stream) yet"
        )
    from prometheus_client.parser import text_string_to_metric_families

    names = {f.name for f in text_string_to_metric_families(metrics.body.decode())}
    assert "haproxy_server_status" in names
    posted = curl(f"http://127.0.0.1:{port}/stats", "-d", "s=a1&action=maint&b=app")
    assert posted.status == 303
    if posted.header("location") != "/stats;st=DONE":
        pytest.skip("the HTTP session does not pass the POST body to StatsService.handle yet")
    assert ",MAINT," in next(
        line for line in _socat(sock, "show stat").splitlines() if line.startswith("app,a1,")
    )
