"""Persistence through HAProxy 2.6 and weir: dated cookies (`maxidle`, `maxlife`) and the
log's cookie characters, dynamic cookie values, cookies issued by one and presented to
the other, and stick tables learning a server from the response (`stick store-response`),
compared entry by entry on the runtime API."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl, run_both
from tests.helpers.ports import free_port
from tests.scenarios.log.syslog_listener import SyslogListener
from weir.persist.cookie import b64tos30, s30tob64

COOKIE_CFG = """\
global
    log 127.0.0.1:{syslog} local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    log-format "%tsc %s"
    default_backend be
backend be
    balance first
    cookie SRV insert indirect {options}
    ignore-persist if {{ path /ignore }}
    use-server c if {{ path /c }}
    server a {a} cookie sa
    server b {b} cookie sb
    server c {c}
"""


@pytest.fixture
def udp() -> Generator[SyslogListener, None, None]:
    listener = SyslogListener()
    yield listener
    listener.close()


def _code(seconds: int) -> str:
    return s30tob64((seconds + 3) >> 2).decode()


def _dates(set_cookie: str | None, now: int) -> str | None:
    """The Set-Cookie value with each date written relative to `now` to the minute, as
    |NOW or |NOW-600 (the two proxies run a few seconds apart)."""
    if set_cookie is None:
        return None

    def one(m: re.Match[str]) -> str:
        delta = (b64tos30(m.group(1).encode()) << 2) - now
        return "|NOW" if abs(delta) <= 10 else f"|NOW{round(delta / 60) * 60:+d}"

    return re.sub(r"\|([A-Za-z0-9+/]{5})", one, set_cookie)


def _cookie_cases(now: int) -> list[tuple[str, str | None]]:
    first = _code(now - 600)
    return [
        ("/", None),
        ("/", "SRV=sb"),
        ("/", f"SRV=sb|{_code(now + 60)}|{first}"),
        ("/", f"SRV=sb|{_code(now + 60)}"),
        ("/", f"SRV=sb|{_code(now - 120)}|{first}"),
        ("/", f"SRV=sb|{_code(now - 3600)}"),
        ("/", f"SRV=sb|{_code(now)}|{_code(now - 7200)}"),
        ("/", f"SRV=sb|{_code(now + 3 * 86400)}"),
        ("/", f"SRV=sb|{_code(now)}|{_code(now + 3 * 86400)}"),
        ("/", "SRV=sb|!!!!!"),
        ("/", f"SRV=nobody|{_code(now)}"),
        ("/", "SRV="),
        ("/", "other=1; SRV=sa; more=2"),
        ("/ignore", "SRV=sb"),
        ("/ignore", f"SRV=sb|{_code(now - 3600)}"),
        ("/c", None),
        ("/c", "SRV=sa"),
    ]


@pytest.mark.parametrize(
    "options", ["maxidle 10m maxlife 1h", "maxidle 10m", "maxlife 1h", "", "postonly"]
)
def test_cookie_dates_and_log_states_match_haproxy(
    http_backend: Any, udp: SyslogListener, options: str
) -> None:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    port = free_port()
    cfg = COOKIE_CFG.format(
        syslog=udp.port, port=port, options=options, a=a.address, b=b.address, c=c.address
    )

    def traffic(_proc: object) -> list[tuple[int, str | None, str | None, str]]:
        out = []
        now = int(time.time())
        for i, (path, cookie) in enumerate(_cookie_cases(now)):
            args = ["-H", f"Cookie: {cookie}"] if cookie is not None else []
            r = curl(f"http://127.0.0.1:{port}{path}", *args)
            line = udp.recv().decode().rsplit(": ", 1)[1].strip()
            out.append((i, r.header("x-backend"), _dates(r.header("set-cookie"), now), line))
        return out

    reference, ours = run_both(cfg, traffic, [port])
    assert ours == reference


DYN_CFG = """\
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
    cookie SRV insert indirect dynamic
    dynamic-cookie-key {key}
{servers}
"""


@pytest.mark.parametrize("key", ["mysecretkey", "k"])
def test_dynamic_cookie_values_match_haproxy(http_backend: Any, key: str) -> None:
    backends = [http_backend(f"s{i}") for i in range(3)]
    port = free_port()
    servers = "\n".join(f"    server s{i} {b.address}" for i, b in enumerate(backends))
    servers += f"\n    server fixed {backends[0].address} cookie own"
    cfg = DYN_CFG.format(port=port, key=key, servers=servers)

    def traffic(_proc: object) -> list[tuple[str | None, str | None]]:
        seen = [curl(f"http://127.0.0.1:{port}/") for _ in range(4)]
        values = [(r.header("x-backend"), r.header("set-cookie")) for r in seen]
        # Each value leads back to its server.
        for name, set_cookie in values[:3]:
            assert set_cookie is not None
            cookie = set_cookie.split(";")[0]
            again = curl(f"http://127.0.0.1:{port}/", "-H", f"Cookie: {cookie}")
            assert again.header("x-backend") == name
        return values

    reference, ours = run_both(cfg, traffic, [port])
    assert ours == reference


CROSS_CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    balance first
    cookie SRV insert indirect maxidle 30m maxlife 8h
    use-server b if {{ path /b }}
    server a {a} cookie sa
    server b {b} cookie sb
"""


def _start_of_date_window() -> None:
    """Wait (at most 4 s) for a cookie date to begin: dates count 4-second steps, and a
    cookie read in a later step than it was written in is refreshed by both proxies."""
    for _ in range(100):  # 5 s
        now = time.time()
        if (int(now) + 3) % 4 == 0 and now % 1 < 0.5:
            return
        time.sleep(0.05)


def test_dated_cookies_cross_between_haproxy_and_weir(
    weir: Any, haproxy: Any, http_backend: Any
) -> None:
    a, b = http_backend("a"), http_backend("b")
    hport, wport = free_port(), free_port()
    haproxy(CROSS_CFG.format(port=hport, a=a.address, b=b.address), wait_ports=[hport])
    weir(CROSS_CFG.format(port=wport, a=a.address, b=b.address), wait_ports=[wport])
    for issuer, reader in ((hport, wport), (wport, hport)):
        _start_of_date_window()
        issued = curl(f"http://127.0.0.1:{issuer}/b").header("set-cookie")
        assert issued is not None
        assert issued.startswith("SRV=sb|")
        cookie = issued.split(";")[0]
        # Presented to the other one: kept on b, and the dates are still good.
        r = curl(f"http://127.0.0.1:{reader}/", "-H", f"Cookie: {cookie}")
        assert r.header("x-backend") == "b"
        assert r.header("set-cookie") is None
        # Made stale, it is refused by both alike.
        srv, _last, first = cookie.removeprefix("SRV=").split("|")
        stale = f"SRV={srv}|{_code(int(time.time()) - 40 * 60)}|{first}"
        for port in (issuer, reader):
            r = curl(f"http://127.0.0.1:{port}/", "-H", f"Cookie: {stale}")
            assert r.header("x-backend") == "a"


STICK_CFG = """\
global
    stats socket {sock} level admin
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:{port}
    use_backend two if {{ path_beg /two }}
    default_backend one
backend sessions
    stick-table type string len 32 size 1k expire 30m {srvkey}
backend one
    balance roundrobin
    stick store-response res.cook(SID) table sessions
    stick match req.cook(SID) table sessions
    server a {a} id 1
    server b {b} id 2
backend two
    balance roundrobin
    stick match req.cook(SID) table sessions
    server b {b} id 1
    server a {a} id 2
"""


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


@pytest.mark.parametrize("srvkey", ["", "srvkey name", "srvkey addr"])
def test_stick_store_response_learns_like_haproxy(
    http_backend: Any, tmp_path: Path, srvkey: str
) -> None:
    a = http_backend("a", headers=[("Set-Cookie", "SID=session-of-a; Path=/")])
    b = http_backend("b", headers=[("Set-Cookie", "SID=session-of-b; Path=/")])
    port = free_port()
    sock = tmp_path / "api.sock"
    cfg = STICK_CFG.format(sock=sock, port=port, srvkey=srvkey, a=a.address, b=b.address)
    url = f"http://127.0.0.1:{port}"

    def traffic(_proc: object) -> tuple[list[str | None], list[str], list[str | None]]:
        learnt = [curl(f"{url}/").header("x-backend") for _ in range(2)]
        table = _cli(sock, "show table sessions")
        # Entries lose their address and expiry; the data stays.
        lines = sorted(
            re.sub(r"^0x[0-9a-f]+: | exp=\d+", "", line)
            for line in table.splitlines()
            if line.startswith("0x")
        )
        sticky = [
            curl(f"{url}{path}", "-H", f"Cookie: SID=session-of-{name}").header("x-backend")
            for path in ("/", "/two")
            for name in ("a", "b", "a", "b")
        ]
        return learnt, lines, sticky

    reference, ours = run_both(cfg, traffic, [port])
    assert ours == reference
    assert ours[2] == ["a", "b"] * 4


def test_dynamic_cookie_runtime_commands_match_haproxy(http_backend: Any, tmp_path: Path) -> None:
    backends = [http_backend(f"s{i}") for i in range(2)]
    port = free_port()
    sock = tmp_path / "api.sock"
    servers = "\n".join(f"    server s{i} {b.address}" for i, b in enumerate(backends))
    cfg = f"global\n    stats socket {sock} level admin\n" + DYN_CFG.format(
        port=port, key="first", servers=servers
    )

    def cookies() -> list[str | None]:
        return [curl(f"http://127.0.0.1:{port}/").header("set-cookie") for _ in range(2)]

    def traffic(_proc: object) -> list[Any]:
        out: list[Any] = [cookies()]
        for line in (
            "set dynamic-cookie-key backend be second",
            "disable dynamic-cookie backend be",
            "enable dynamic-cookie backend be",
            "set dynamic-cookie-key backend be",
            "set dynamic-cookie-key backend nosuch k",
            "enable dynamic-cookie backend",
        ):
            out.append((line, _cli(sock, line)))
            out.append(cookies())
        return out

    reference, ours = run_both(cfg, traffic, [port])
    assert ours == reference
