"""Maps and ACL files changed through the runtime API take effect on the next request,
and are listed and dumped in HAProxy's formats."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from tests.compat.helpers import curl
from tests.helpers.ports import free_port


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def test_map_and_acl_changes_at_run_time(weir: Any, http_backend: Any, tmp_path: Path) -> None:
    site, api = http_backend("site"), http_backend("api")
    hosts = tmp_path / "hosts.map"
    hosts.write_text("# host backend\nwww.example.com site\n")
    blocked = tmp_path / "blocked.acl"
    blocked.write_text("/nothing\n")
    sock = tmp_path / "api.sock"
    port = free_port()
    weir(
        f"""\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    acl blocked path_beg -f {blocked}
    http-request deny if blocked
    use_backend %[req.hdr(host),lower,map({hosts},site)]
backend site
    server s {site.address}
backend api
    server a {api.address}
""",
        wait_ports=[port],
    )
    deadline = time.monotonic() + 5
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}/"

    def backend_for(host: str, path: str = "/") -> str | None:
        r = curl(url.rstrip("/") + path, "-H", f"Host: {host}")
        return r.header("x-backend") if r.status == 200 else str(r.status)

    assert backend_for("api.example.com") == "site"
    assert _cli(sock, "add map " + str(hosts) + " api.example.com api") == "\n"
    assert backend_for("api.example.com") == "api"
    listing = _cli(sock, "show map")
    assert listing.startswith("# id (file) description\n")
    assert f"({hosts}) pattern loaded from file '{hosts}'" in listing
    assert "entry_cnt=2" in listing
    dump = _cli(sock, f"show map {hosts}")
    assert dump.splitlines()[1].endswith(" api.example.com api")
    assert 'found=yes, idx=tree, key="api.example.com", value="api"' in _cli(
        sock, f"get map {hosts} api.example.com"
    )
    _cli(sock, f"set map {hosts} api.example.com site")
    assert backend_for("api.example.com") == "site"
    assert _cli(sock, f"del map {hosts} nosuch") == "Key not found.\n\n"
    _cli(sock, f"clear map {hosts}")
    assert _cli(sock, f"show map {hosts}") == "\n"

    assert backend_for("x", "/admin/panel") == "site"
    _cli(sock, f"add acl {blocked} /admin")
    assert backend_for("x", "/admin/panel") == "403"
    _cli(sock, f"del acl {blocked} /admin")
    assert backend_for("x", "/admin/panel") == "site"
    assert _cli(sock, "show map /no/such.map").startswith("Unknown map identifier")


def test_acl_unique_id_and_map_keys_as_patterns(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    """`-u 7` gives the ACL's file the id the runtime API knows it by; `-M` reads a map
    file's keys as the ACL's patterns."""
    be = http_backend("a")
    blocked = tmp_path / "blocked.acl"
    blocked.write_text("/nothing\n")
    paths = tmp_path / "paths.map"
    paths.write_text("/old/ moved\n/gone/ removed\n")
    sock = tmp_path / "api.sock"
    port = free_port()
    weir(
        f"""\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    acl blocked path_beg -u 7 -f {blocked}
    acl legacy path_beg -M -f {paths}
    http-request deny deny_status 403 if blocked
    http-request deny deny_status 410 if legacy
    default_backend be
backend be
    server s {be.address}
""",
        wait_ports=[port],
    )
    deadline = time.monotonic() + 5
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    assert curl(f"{url}/gone/x").status == 410
    assert curl(f"{url}/old/y").status == 410
    assert curl(f"{url}/secret").status == 200
    assert f"\n7 ({blocked}) " in _cli(sock, "show acl")
    assert _cli(sock, "add acl #7 /secret") == "\n"
    assert curl(f"{url}/secret").status == 403
