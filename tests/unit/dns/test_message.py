"""The DNS codec: queries as bytes, answers decoded and judged, malformed input refused."""

from __future__ import annotations

import struct

import pytest

from weir.dns.message import (
    QR,
    RD,
    TC,
    DnsError,
    Message,
    Outcome,
    QType,
    Question,
    RCode,
    Record,
    Srv,
    check_name,
    classify,
    decode,
    encode,
    encode_query,
    normalize,
)


def test_query_bytes_match_the_wire_format() -> None:
    data = encode_query(0x1234, "App.Example.", QType.A, 4096)
    assert data[:12] == bytes.fromhex("1234 0100 0001 0000 0000 0001")
    assert data[12:29] == b"\x03App\x07Example\x00\x00\x01\x00\x01"
    # EDNS0 OPT: root name, type 41, class = payload size, ttl 0, no data
    assert data[29:] == b"\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
    msg = decode(data)
    assert msg.qid == 0x1234
    assert msg.flags == RD
    assert msg.questions == [Question("app.example", QType.A)]
    assert msg.additional[0].rtype == QType.OPT
    assert msg.additional[0].rclass == 4096


def test_answers_round_trip() -> None:
    q = Question("svc.example", QType.SRV)
    msg = Message(
        7,
        QR | RD,
        [q],
        [
            Record("svc.example", QType.SRV, 60, Srv(10, 5, 8080, "a.example")),
            Record("a.example", QType.A, 60, "192.0.2.1"),
            Record("b.example", QType.AAAA, 60, "2001:db8::1"),
            Record("c.example", QType.CNAME, 60, "a.example"),
            Record("d.example", 16, 60, b"\x03txt"),
        ],
    )
    assert decode(encode(msg)) == msg


def test_compressed_names_are_followed() -> None:
    head = struct.pack("!HHHHHH", 1, QR, 1, 1, 0, 0)
    question = b"\x03www\x07example\x00" + struct.pack("!HH", 1, 1)
    answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + bytes([192, 0, 2, 7])
    msg = decode(head + question + answer)
    assert msg.answers == [Record("www.example", QType.A, 30, "192.0.2.7")]


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01",  # shorter than a header
        struct.pack("!HHHHHH", 1, QR, 1, 0, 0, 0) + b"\x05abc",  # label past the end
        struct.pack("!HHHHHH", 1, QR, 1, 0, 0, 0) + b"\xc0\x0c\x00\x01\x00\x01",  # self loop
        struct.pack("!HHHHHH", 1, QR, 0, 1, 0, 0)
        + b"\x00"
        + struct.pack("!HHIH", 1, 1, 30, 3)
        + b"\x01\x02\x03",  # A record of 3 bytes
        struct.pack("!HHHHHH", 1, QR, 0, 1, 0, 0) + b"\x00" + struct.pack("!HHIH", 1, 1, 30, 9),
        struct.pack("!HHHHHH", 1, QR, 1, 0, 0, 0) + b"\x80abc",  # unknown label type
    ],
)
def test_malformed_messages_raise(data: bytes) -> None:
    with pytest.raises(DnsError):
        decode(data)


def _answer(flags: int, *records: Record, name: str = "a.example", qtype: int = 1) -> Message:
    return Message(1, QR | flags, [Question(name, qtype)], list(records))


def test_classify_follows_cnames_and_keeps_the_asked_type() -> None:
    msg = _answer(
        0,
        Record("a.example", QType.CNAME, 5, "b.example"),
        Record("b.example", QType.CNAME, 5, "c.example"),
        Record("c.example", QType.A, 5, "192.0.2.3"),
        Record("c.example", QType.AAAA, 5, "2001:db8::3"),
        Record("other.example", QType.A, 5, "192.0.2.99"),
    )
    outcome, records = classify(msg, "a.example", QType.A)
    assert outcome is Outcome.VALID
    assert [r.data for r in records] == ["192.0.2.3"]


@pytest.mark.parametrize(
    ("msg", "outcome"),
    [
        (_answer(RCode.NXDOMAIN), Outcome.NX),
        (_answer(RCode.REFUSED), Outcome.REFUSED),
        (_answer(RCode.SERVFAIL), Outcome.OTHER),
        (_answer(TC), Outcome.TRUNCATED),
        (_answer(0), Outcome.ANCOUNT_ZERO),
        (_answer(0, Record("a.example", QType.CNAME, 5, "z.example")), Outcome.CNAME_ERROR),
        (_answer(0, Record("a.example", QType.AAAA, 5, "::1")), Outcome.ANCOUNT_ZERO),
        (_answer(0, name="b.example"), Outcome.INVALID),  # not the question asked
        (_answer(0, qtype=28), Outcome.INVALID),
        (Message(1, 0, [Question("a.example", 1)]), Outcome.INVALID),  # a query, not an answer
    ],
)
def test_classify_errors(msg: Message, outcome: Outcome) -> None:
    assert classify(msg, "a.example", QType.A) == (outcome, [])


def test_names() -> None:
    assert normalize("WWW.Example.COM.") == "www.example.com"
    assert check_name("a.example") is None
    assert check_name("a..example") is not None
    assert check_name("x" * 64 + ".example") is not None
    assert check_name("") is not None
    with pytest.raises(DnsError):
        encode_query(1, "a..b", QType.A)
