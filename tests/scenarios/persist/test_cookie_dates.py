"""Inserted cookies with dates (`maxidle`, `maxlife`), the cookie characters of the log's
termination state, and a server without a cookie value.

`balance first` sends every balanced request to server a, so a request reaching b proves
its cookie was honoured, and one reaching a that its cookie (naming b) was ignored."""

from __future__ import annotations

import re
import time
from collections.abc import Generator
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from tests.scenarios.log.syslog_listener import SyslogListener
from weir.persist.cookie import b64tos30, s30tob64

CFG = """\
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
    server a {a} cookie sa
    server b {b} cookie sb
    server c {c}
    use-server c if {{ path /c }}
"""

DATED = re.compile(r"^SRV=(s[ab])\|([A-Za-z0-9+/]{5})(?:\|([A-Za-z0-9+/]{5}))?; path=/$")


@pytest.fixture
def udp() -> Generator[SyslogListener, None, None]:
    listener = SyslogListener()
    yield listener
    listener.close()


def _start(weir: Any, http_backend: Any, udp: SyslogListener, options: str) -> str:
    a, b, c = http_backend("a"), http_backend("b"), http_backend("c")
    port = free_port()
    cfg = CFG.format(
        syslog=udp.port, port=port, options=options, a=a.address, b=b.address, c=c.address
    )
    weir(cfg, wait_ports=[port])
    return f"http://127.0.0.1:{port}/"


def _code(seconds: int) -> str:
    """A date as HAProxy writes it in a cookie (4-second units, rounded up)."""
    return s30tob64((seconds + 3) >> 2).decode()


def _get(url: str, udp: SyslogListener, cookie: str | None = None) -> tuple[str, str | None, str]:
    """(server, Set-Cookie, termination state) of one request."""
    args = ["-H", f"Cookie: {cookie}"] if cookie is not None else []
    r = curl(url, *args)
    assert r.status == 200
    line = udp.recv().decode()
    tsc = line.rsplit(": ", 1)[1].split()[0]
    return r.header("x-backend") or "", r.header("set-cookie"), tsc


def test_dates_are_written_and_read_back(weir: Any, http_backend: Any, udp: Any) -> None:
    url = _start(weir, http_backend, udp, "maxidle 30m maxlife 8h")
    before = int(time.time())
    server, set_cookie, tsc = _get(url, udp)
    assert server == "a"
    assert tsc == "--NI"
    m = DATED.match(set_cookie or "")
    assert m is not None, set_cookie
    last, first = b64tos30(m.group(2).encode()) << 2, b64tos30(m.group(3).encode()) << 2
    assert last == first
    assert before <= last <= int(time.time()) + 4
    # The client comes back with b's cookie, freshly dated: it stays on b, and gets no new
    # cookie while the date is not past.
    now = int(time.time())
    fresh = f"SRV=sb|{_code(now + 60)}|{_code(now)}"
    assert _get(url, udp, fresh) == ("b", None, "--VN")


def test_a_cookie_idle_too_long_is_ignored(weir: Any, http_backend: Any, udp: Any) -> None:
    url = _start(weir, http_backend, udp, "maxidle 10m")
    stale = f"SRV=sb|{_code(int(time.time()) - 3600)}"
    server, set_cookie, tsc = _get(url, udp, stale)
    assert (server, tsc) == ("a", "--EI")
    assert set_cookie is not None
    assert set_cookie.startswith("SRV=sa|")


def test_a_cookie_too_old_is_ignored(weir: Any, http_backend: Any, udp: Any) -> None:
    url = _start(weir, http_backend, udp, "maxidle 10m maxlife 1h")
    now = int(time.time())
    old = f"SRV=sb|{_code(now)}|{_code(now - 7200)}"
    server, set_cookie, tsc = _get(url, udp, old)
    assert (server, tsc) == ("a", "--OI")
    m = DATED.match(set_cookie or "")
    assert m is not None
    assert m.group(1) == "sa"
    assert m.group(2) == m.group(3)  # a new cookie: first seen now


def test_a_past_date_is_refreshed_keeping_the_first(weir: Any, http_backend: Any, udp: Any) -> None:
    url = _start(weir, http_backend, udp, "maxidle 10m maxlife 1h")
    now = int(time.time())
    first = _code(now - 600)
    server, set_cookie, tsc = _get(url, udp, f"SRV=sb|{_code(now - 120)}|{first}")
    assert (server, tsc) == ("b", "--VU")
    m = DATED.match(set_cookie or "")
    assert m is not None
    assert m.group(1) == "sb"
    assert m.group(3) == first
    assert b64tos30(m.group(2).encode()) << 2 >= now


def test_dates_in_the_future_beyond_a_day_are_ignored(
    weir: Any, http_backend: Any, udp: Any
) -> None:
    url = _start(weir, http_backend, udp, "maxidle 10m")
    ahead = f"SRV=sb|{_code(int(time.time()) + 3 * 86400)}"
    assert _get(url, udp, ahead)[0::2] == ("a", "--EI")


def test_without_dates_configured_a_dated_cookie_is_set_again_plain(
    weir: Any, http_backend: Any, udp: Any
) -> None:
    url = _start(weir, http_backend, udp, "")
    now = int(time.time())
    assert _get(url, udp, f"SRV=sb|{_code(now - 60)}") == ("b", "SRV=sb; path=/", "--VU")
    assert _get(url, udp, "SRV=sb") == ("b", None, "--VN")


def test_maxidle_expires_a_cookie_in_real_time(weir: Any, http_backend: Any, udp: Any) -> None:
    url = _start(weir, http_backend, udp, "maxidle 1s")
    server, set_cookie, _ = _get(url, udp)
    assert server == "a"
    assert set_cookie is not None
    # Claim b's value with the date weir gave: honoured until it is more than one second
    # idle (dates count in 4-second steps), then ignored.
    date = set_cookie.split(";")[0].split("|")[1]
    cookie = f"SRV=sb|{date}"
    assert _get(url, udp, cookie)[0] == "b"
    deadline = time.monotonic() + 15
    while True:
        server, set_cookie, tsc = _get(url, udp, cookie)
        if server == "a":
            break
        assert tsc in ("--VN", "--VU")
        assert time.monotonic() < deadline, "the cookie never expired"
        time.sleep(0.5)
    assert tsc == "--EI"
    assert set_cookie is not None
    assert set_cookie.startswith("SRV=sa|")


def test_cookie_states_in_the_log(weir: Any, http_backend: Any, udp: Any) -> None:
    url = _start(weir, http_backend, udp, "")
    assert _get(url, udp, "SRV=nobody") == ("a", "SRV=sa; path=/", "--II")
    assert _get(url, udp, "SRV=") == ("a", "SRV=sa; path=/", "--II")
    assert _get(url, udp, "other=1") == ("a", "SRV=sa; path=/", "--NI")
    # `use-server` comes first: the cookie is unused, and none is set.
    assert _get(url + "c", udp, "SRV=sb") == ("c", None, "--UN")
    assert _get(url + "c", udp) == ("c", None, "--NN")


def test_a_server_without_a_value_removes_the_cookie(
    weir: Any, http_backend: Any, udp: Any
) -> None:
    c = http_backend("c")
    port = free_port()
    cfg = CFG.split("\nbackend be", maxsplit=1)[0].format(syslog=udp.port, port=port) + "\n"
    weir(cfg + f"backend be\n    cookie SRV insert\n    server c {c.address}\n", wait_ports=[port])
    server, set_cookie, tsc = _get(f"http://127.0.0.1:{port}/", udp, "SRV=sa")
    assert (server, tsc) == ("c", "--II")
    assert set_cookie == "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"


def test_server_set_cookie_is_replaced_in_insert_mode(
    weir: Any, http_backend: Any, udp: Any
) -> None:
    a = http_backend("a", headers=[("Set-Cookie", "SRV=app; Path=/")])
    b = http_backend("b")
    c = http_backend("c")
    port = free_port()
    cfg = CFG.format(syslog=udp.port, port=port, options="", a=a.address, b=b.address, c=c.address)
    weir(cfg, wait_ports=[port])
    r = curl(f"http://127.0.0.1:{port}/")
    assert r.header_values("set-cookie") == ["SRV=sa; path=/"]
    assert udp.recv().decode().rsplit(": ", 1)[1].split()[0] == "--NI"
