"""The stats page in a real browser: headless Chromium loads it from a local server.

The page comes from the whole chain: the introduction's configuration text goes through
the loader (the `stats` keywords), `build` makes the runtime, `make_stats` the service, and
a tiny HTTP server on 127.0.0.1 answers each request with `StatsService.handle`, exactly
as the HTTP session does. Chromium's `--dump-dom` shows what it rendered; a screenshot of
the page is kept in the test's temporary directory (and in $WEIR_STATS_SCREENSHOT when
set) for a human to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.unit.stats.stats_runtime import stats_keywords
from weir.backend.server import SrvState
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.proxy.runtime import build
from weir.stats import StatsService, make_stats

CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium not installed")

CONFIG = r"""
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

listen stats
    bind *:1080
    stats refresh 30s
    stats uri /stats
    stats realm HAProxy\ Stats
    stats auth admin:admin

frontend web
    bind *:8080
    maxconn 2000
    default_backend app

backend app
    description the application servers
    server web1 127.0.0.1:8001
    server web2 127.0.0.1:8002
    server web3 127.0.0.1:8003
    server web4 127.0.0.1:8004 backup
    server web5 127.0.0.1:8005 disabled
"""


def _service(tmp_path: Path) -> StatsService:
    path = tmp_path / "haproxy.cfg"
    path.write_text(CONFIG)
    diags = Diagnostics()
    with stats_keywords():
        cfg = load([str(path)], diags, env={})
    assert not diags.has_errors(), [d.format(pid=1) for d in diags.items]
    rt = build(cfg)
    svc = make_stats(cfg.frontends["stats"], rt)
    assert svc is not None
    # some traffic and one dead server, for the picture
    fe = next(f for f in rt.frontends if f.name == "web")
    fe.counters.cur_sess, fe.counters.max_sess, fe.counters.tot_sess = 3, 25, 48213
    fe.counters.bytes_in, fe.counters.bytes_out = 5_421_337, 187_228_190
    web1, web2, web3, _, _ = rt.backends["app"].servers
    web1.cur_sess, web1.max_sess, web1.tot_sess = 2, 13, 24107
    web2.cur_sess, web2.max_sess, web2.tot_sess = 1, 12, 24106
    web3.state = SrvState.DOWN
    return svc


class _Handler(BaseHTTPRequestHandler):
    service: StatsService
    sent: list[bytes]  # the status line of every answer, in order

    def _answer(self) -> None:
        method, target = self.command.encode(), self.path.encode()
        if not self.service.matches(method, target):
            self.send_error(404)
            return
        auth = self.headers.get("Authorization")
        self.close_connection = True
        response = self.service.handle(
            method, target, None if auth is None else auth.encode("latin-1"), close=True
        )
        self.sent.append(response.partition(b"\r\n")[0])
        self.wfile.write(response)

    def do_GET(self) -> None:
        self._answer()

    def do_HEAD(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def sent() -> list[bytes]:
    return []


@pytest.fixture
def stats_url(tmp_path: Path, sent: list[bytes]) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"service": _service(tmp_path), "sent": sent})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://admin:admin@127.0.0.1:{server.server_address[1]}/stats"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium'}",
            "--window-size=1400,900",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_page_renders_in_chromium(tmp_path: Path, stats_url: str, sent: list[bytes]) -> None:
    dom = _chromium(tmp_path, "--dump-dom", stats_url).stdout
    # the browser is challenged first, then sends the URL's credentials
    assert sent[:2] == [b"HTTP/1.1 401 Unauthorized", b"HTTP/1.1 200 OK"]
    assert "Statistics Report for pid" in dom
    for name in ("stats", "web", "app", "web1", "web5", "Frontend", "Backend"):
        assert f">{name}</a>" in dom, name
    assert "the application servers" in dom
    for state in ("UP", "DOWN", "MAINT"):  # a state and its age: "20h28m UP"
        assert re.search(rf">\d+[dhms]\w* {state}</td>", dom), state
    for text in ("<i>no check</i>", "Session rate", "LastChk", "Dwntme"):
        assert text in dom, text

    png = tmp_path / "stats.png"
    _chromium(tmp_path, f"--screenshot={png}", stats_url)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1400, 900)
    # A blank or error page compresses to a few kilobytes; the report's tables do not.
    assert len(data) > 30_000
    keep = os.environ.get("WEIR_STATS_SCREENSHOT")
    if keep:
        shutil.copyfile(png, keep)


def test_browser_without_credentials_gets_401(
    tmp_path: Path, stats_url: str, sent: list[bytes]
) -> None:
    dom = _chromium(tmp_path, "--dump-dom", stats_url.replace("admin:admin@", "")).stdout
    assert sent
    assert set(sent) == {b"HTTP/1.1 401 Unauthorized"}
    assert "Statistics Report" not in dom
