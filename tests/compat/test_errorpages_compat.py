"""Error pages through HAProxy 2.6 and weir side by side: `http-errors` sections imported
with `errorfiles` (whole or by code, declared after their users), `http-error` with a
static or log-format payload and headers, `errorloc303`, `errorfile`, and a backend's page
winning over its frontend's. Each proxy's own error answers the same status with the same
page."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

from tests.helpers.ports import free_port
from tests.helpers.procs import run_check

CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    errorfiles site 503
    http-error status 403 content-type text/plain string "no entry" hdr X-Why %[path]
    http-error status 429 content-type text/plain lf-string "slow down, %[req.hdr(host)]"
    errorloc303 405 http://example.com/err
    errorfile 410 {gone}
    http-request deny deny_status 403 if {{ path /forbidden }}
    http-request deny deny_status 429 if {{ path /slow }}
    http-request deny deny_status 405 if {{ path /method }}
    http-request deny deny_status 410 if {{ path /gone }}
    http-request deny deny_status 404 if {{ path /missing }}
    use_backend own if {{ path /own }}
    default_backend empty
backend empty
backend own
    http-error status 503 errorfiles site
    errorfiles site 404
http-errors site
    errorfile 503 {f503}
    errorfile 404 {f404}
"""

PAGE_503 = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n"
    b"site 503\n"
)
PAGE_404 = (
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nsite 404\n"
)
PAGE_410 = b"HTTP/1.1 410 Gone\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\ngone\n"


def _get(port: int, path: str) -> tuple[int, str | None, str | None, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers={"Host": "example.org"})
        r = conn.getresponse()
        return r.status, r.getheader("x-why"), r.getheader("location"), r.read()
    finally:
        conn.close()


def test_error_pages_match_haproxy(haproxy: Any, weir: Any, tmp_path: Path) -> None:
    files = {"f503": PAGE_503, "f404": PAGE_404, "gone": PAGE_410}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    paths = {name: str(tmp_path / name) for name in files}
    ports = {}
    for label, start in (("haproxy", haproxy), ("weir", weir)):
        port = free_port()
        start(CFG.format(port=port, **paths), wait_ports=[port])
        ports[label] = port
    for path in ("/forbidden", "/slow", "/method", "/gone", "/x", "/own"):
        theirs, ours = _get(ports["haproxy"], path), _get(ports["weir"], path)
        assert ours == theirs, path
    # The default page for a status nobody replaced: same status (the text is each one's).
    assert _get(ports["weir"], "/missing")[0] == _get(ports["haproxy"], "/missing")[0] == 404
    assert _get(ports["weir"], "/slow")[3] == b"slow down, example.org"
    assert _get(ports["weir"], "/own")[3] == b"site 503\n"  # `http-error ... errorfiles site`


def test_errorfiles_errors_name_the_line() -> None:
    r = run_check("frontend fe\n    bind 127.0.0.1:1\n    errorfiles nowhere\n")
    assert r.returncode != 0
    assert "unknown http-errors section 'nowhere'" in r.stdout
    r = run_check("frontend fe\n    bind 127.0.0.1:1\n    http-error status 403 string x\n")
    assert r.returncode != 0
    assert "content-type" in r.stdout
    r = run_check("frontend fe\n    bind 127.0.0.1:1\n    errorloc 302 http://x/\n")
    assert r.returncode != 0
    assert "cannot be replaced" in r.stdout
