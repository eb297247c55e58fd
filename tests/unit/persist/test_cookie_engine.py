"""Cookie persistence without sockets: the date format, XXH64 and dynamic values, and the
request/response decisions of insert mode."""

from __future__ import annotations

import time

import pytest

from weir.backend.server import Server, SrvState
from weir.persist.cookie import (
    DIRECT,
    NO_COOKIE,
    CookiePersist,
    Seen,
    b64tos30,
    date_code,
    make_rule,
    s30tob64,
)
from weir.persist.dyncookie import dynamic_cookie, xxh64


def _persist(**options: object) -> tuple[CookiePersist, Server, Server]:
    a = Server("a", "127.0.0.1", 8001, puid=1)
    b = Server("b", "127.0.0.1", 8002, puid=2)
    rule = make_rule(
        "SRV",
        mode="insert",
        indirect=True,
        nocache=False,
        httponly=False,
        secure=False,
        domains=[],
        attrs=[],
        **options,  # type: ignore[arg-type]
    )
    return CookiePersist(rule, [(a, "sa"), (b, "sb")]), a, b


@pytest.mark.parametrize("value", [0, 1, 63, 64, 0x3FFFFFFF, 452_000_000])
def test_date_codec_round_trips(value: int) -> None:
    text = s30tob64(value)
    assert len(text) == 5
    assert b64tos30(text) == value


def test_date_codec_refuses_what_is_not_base64() -> None:
    assert b64tos30(b"ab=cd") == -1
    assert b64tos30(b"ab|cd") == -1
    assert b64tos30(b"abc") == -1


def test_dates_round_up_to_four_seconds() -> None:
    assert b64tos30(date_code(1000)) << 2 == 1000
    assert b64tos30(date_code(1001)) << 2 == 1004


@pytest.mark.parametrize(
    ("data", "digest"),
    [
        (b"", 0xEF46DB3751D8E999),
        (b"a", 0xD24EC4F1A98C6E5B),
        (b"abc", 0x44BC2CF5AD770999),
        (b"Nobody inspects the spammish repetition", 0xFBCEA83C8A378BF1),
    ],
)
def test_xxh64_known_digests(data: bytes, digest: int) -> None:
    assert xxh64(data) == digest


def test_dynamic_value_as_haproxy_computes_it() -> None:
    # Checked against HAProxy 2.6 (`dynamic-cookie-key mysecret`, server 127.0.0.1:18081).
    assert dynamic_cookie("mysecret", "127.0.0.1", 18081) == "f10cd5196101d734"
    assert dynamic_cookie("mysecret", "db.example", 80) is None
    assert len(dynamic_cookie("k", "::1", 80) or "") == 16


def test_request_states() -> None:
    ck, _a, b = _persist()
    assert ck.request([], None, None, None) == (None, NO_COOKIE, "N")
    assert ck.request([b"x=1; SRV=sb"], None, None, None) == (b, DIRECT, "V")
    assert ck.request([b"SRV=zz"], None, None, None) == (None, NO_COOKIE, "I")
    assert ck.request([b"SRV="], None, None, None) == (None, NO_COOKIE, "I")
    b.state = SrvState.DOWN
    assert ck.request([b"SRV=sb"], None, None, None) == (None, NO_COOKIE, "D")
    assert ck.request([b"SRV=sb"], None, None, lambda s: True) == (b, DIRECT, "D")
    assert ck.request([b"SRV=sa"], None, lambda s: True, None)[1:] == (Seen(False, 0, 0, True), "U")
    assert ck.request([b"SRV=sa"], None, None, None, assigned=True) == (None, DIRECT, "U")


def test_shared_values_go_to_the_first_server_up() -> None:
    a = Server("a", "127.0.0.1", 8001, puid=1)
    b = Server("b", "127.0.0.1", 8002, puid=2)
    rule = make_rule(
        "S", indirect=False, nocache=False, httponly=False, secure=False, domains=[], attrs=[]
    )
    ck = CookiePersist(rule, [(a, "x"), (b, "x")])
    assert ck.request([b"S=x"], None, None, None)[0] is a
    a.state = SrvState.MAINT
    assert ck.request([b"S=x"], None, None, None)[0] is b


def test_aged_cookies() -> None:
    ck, _, _ = _persist(maxidle=60, maxlife=3600)
    now = 1_800_000_000
    assert ck.aged(now - 30, now - 100, now) == ""
    assert ck.aged(now - 61, now - 100, now) == "E"
    assert ck.aged(now - 30, now - 3601, now) == "O"
    assert ck.aged(now + 86401, 0, now) == "E"


def test_response_inserts_updates_and_keeps() -> None:
    ck, a, _b = _persist(maxidle=600)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    raw, state = ck.response(head, a, NO_COOKIE, False, lambda: False)
    assert state == "I"
    assert raw.startswith(head[:-2] + b"Set-Cookie: SRV=sa|")
    now = int(time.time())
    fresh = Seen(True, now + 60, 0)
    assert ck.response(head, a, fresh, False, lambda: False) == (head, "N")
    past = Seen(True, now - 60, 0)
    raw, state = ck.response(head, a, past, False, lambda: False)
    assert state == "U"
    assert b"Set-Cookie: SRV=sa|" in raw


def test_response_removes_the_servers_own_cookie_unless_preserved() -> None:
    head = b"HTTP/1.1 200 OK\r\nSet-Cookie: SRV=app\r\nContent-Length: 0\r\n\r\n"
    ck, a, _ = _persist()
    raw, state = ck.response(head, a, NO_COOKIE, False, lambda: False)
    assert (raw.count(b"Set-Cookie"), state) == (1, "I")
    assert b"Set-Cookie: SRV=sa; path=/\r\n" in raw
    ck, a, _ = _persist(preserve=True)
    assert ck.response(head, a, NO_COOKIE, False, lambda: False) == (head, "P")


def test_postonly_inserts_on_post_only() -> None:
    ck, a, _ = _persist(postonly=True)
    head = b"HTTP/1.1 200 OK\r\n\r\n"
    assert ck.response(head, a, NO_COOKIE, False, lambda: False) == (head, "N")
    assert ck.response(head, a, NO_COOKIE, True, lambda: False)[1] == "I"


def test_dynamic_values_follow_key_and_address() -> None:
    a = Server("a", "127.0.0.1", 8001, puid=1)
    b = Server("b", "127.0.0.1", 8002, puid=2)
    rule = make_rule(
        "S", indirect=False, nocache=False, httponly=False, secure=False, domains=[], attrs=[]
    )
    ck = CookiePersist(rule, [(a, None), (b, "own")], dynamic=True, key="k1")
    va = ck.value_of(a)
    assert va == dynamic_cookie("k1", "127.0.0.1", 8001)
    assert ck.value_of(b) == "own"
    ck.key = "k2"
    ck.refresh([a, b])
    assert ck.value_of(a) not in (None, va)
    a.host = "127.0.0.2"
    ck.readdress(a)
    assert ck.value_of(a) == dynamic_cookie("k2", "127.0.0.2", 8001)
    ck.dynamic = False
    ck.refresh([a, b])
    assert ck.value_of(a) is None
    assert ck.value_of(b) == "own"
