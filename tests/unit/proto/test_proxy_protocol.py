"""PROXY protocol v1/v2 headers (weir.proto.proxy_protocol): parsing, building, errors."""

from __future__ import annotations

import pytest

from weir.proto import proxy_protocol as pp


def test_v1_round_trip_and_rest() -> None:
    head = pp.v1(("192.0.2.7", 5555), ("198.51.100.1", 80))
    assert head == b"PROXY TCP4 192.0.2.7 198.51.100.1 5555 80\r\n"
    info, used = pp.parse(head + b"GET / HTTP/1.1\r\n")  # type: ignore[misc]
    assert (info.src, info.dst, info.version, used) == (
        ("192.0.2.7", 5555), ("198.51.100.1", 80), 1, len(head),
    )  # fmt: skip
    info, _ = pp.parse(pp.v1(("2001:db8::1", 1), ("2001:db8::2", 2)))  # type: ignore[misc]
    assert info.src == ("2001:db8::1", 1)


def test_v2_round_trip_local_and_tlvs() -> None:
    head = pp.v2(("192.0.2.7", 5555), ("198.51.100.1", 443))
    info, used = pp.parse(head + b"rest")  # type: ignore[misc]
    assert (info.src, info.dst, info.version, used) == (
        ("192.0.2.7", 5555), ("198.51.100.1", 443), 2, len(head),
    )  # fmt: skip
    info, _ = pp.parse(pp.v2(None, None))  # type: ignore[misc]
    assert info.src is None
    # A TLV after the addresses is skipped with them.
    with_tlv = bytearray(pp.v2(("2001:db8::1", 1), ("2001:db8::2", 2)))
    with_tlv[14:16] = (36 + 5).to_bytes(2, "big")
    with_tlv += b"\x01\x00\x02h2"
    info, used = pp.parse(bytes(with_tlv) + b"x")  # type: ignore[misc]
    assert (info.src, used) == (("2001:db8::1", 1), len(with_tlv))


_V2 = pp.v2(("192.0.2.1", 1), ("192.0.2.2", 2))


@pytest.mark.parametrize(
    "partial", [b"", b"PRO", b"PROXY TCP4 1.2.3.4", pp.V2_SIGNATURE[:7], _V2[:20]]
)
def test_incomplete_headers_wait(partial: bytes) -> None:
    assert pp.parse(partial) is None


@pytest.mark.parametrize(
    "bad",
    [
        b"GET / HTTP/1.1\r\n\r\n",
        b"PROXY TCP4 1.2.3.4 5.6.7.8 99999 80\r\n",
        b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
        b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
        b"PROXY TCP4 " + b"1" * 120,
        pp.V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\0" * 12,
        pp.V2_SIGNATURE + b"\x21\x11\x00\x04" + b"\0" * 4,
    ],
)
def test_malformed_headers_are_refused(bad: bytes) -> None:
    with pytest.raises(pp.ProxyHeaderError):
        pp.parse(bad)
