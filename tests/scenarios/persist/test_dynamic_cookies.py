"""Dynamic persistence cookies: values computed from the key, the server's address and
port, kept by returning clients, and changed on the runtime API."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from weir.persist.dyncookie import dynamic_cookie

CFG = """\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance roundrobin
    cookie SRV insert indirect nocache dynamic domain .example.com attr SameSite=Lax
    dynamic-cookie-key s3cret
    server a {a}
    server b {b} cookie own
"""


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def test_dynamic_cookies_and_their_runtime_commands(
    weir: Any, http_backend: Any, tmp_path: Path
) -> None:
    a, b = http_backend("a"), http_backend("b")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(CFG.format(sock=sock, port=port, a=a.address, b=b.address), wait_ports=[port])
    url = f"http://127.0.0.1:{port}/"
    host, aport = a.address.rsplit(":", 1)
    value = dynamic_cookie("s3cret", host, int(aport))
    tail = "; path=/; domain=.example.com; SameSite=Lax"

    seen = {r.header("x-backend"): r.header("set-cookie") for r in (curl(url), curl(url))}
    assert seen == {"a": f"SRV={value}{tail}", "b": f"SRV=own{tail}"}
    for _ in range(3):
        assert curl(url, "-H", f"Cookie: SRV={value}").header("x-backend") == "a"
    assert a.requests[-1].header("Cookie") is None  # indirect: the server never sees it

    assert _cli(sock, "set dynamic-cookie-key backend be other") == "\n"
    # The old value leads nowhere now: balanced, and given a's new value if it lands on a.
    new = dynamic_cookie("other", host, int(aport))
    assert new != value
    answers = [curl(url, "-H", f"Cookie: SRV={value}") for _ in range(2)]
    assert {r.header("set-cookie") for r in answers} == {f"SRV={new}{tail}", f"SRV=own{tail}"}

    assert _cli(sock, "disable dynamic-cookie backend be") == "\n"
    answers = [curl(url) for _ in range(2)]
    removed = f"SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT{tail}"
    assert {r.header("set-cookie") for r in answers} == {removed, f"SRV=own{tail}"}
    assert _cli(sock, "enable dynamic-cookie backend be") == "\n"
    assert curl(url, "-H", f"Cookie: SRV={new}").header("x-backend") == "a"

    assert _cli(sock, "set dynamic-cookie-key backend be") == "String value expected.\n\n"
    assert _cli(sock, "enable dynamic-cookie backend nope") == "No such backend.\n\n"
