"""weir.proto.h1_body: where a body ends, for raw relaying."""

from __future__ import annotations

import pytest

from weir.proto.h1_body import (
    MAX_CHUNK_LINE,
    MAX_TRAILERS,
    ChunkedBody,
    ContentLengthBody,
    EmptyBody,
    UntilCloseBody,
    body_framer,
)
from weir.proto.h1_errors import H1Error

CHUNKED = (
    b"5\r\nhello\r\n"
    b"6;name=value;x\r\n world\r\n"
    b"1A \t;ext\r\n" + b"z" * 26 + b"\r\n"
    b"0\r\n"
    b"Trailer-One: a\r\n"
    b"Trailer-Two:b\r\n"
    b"\r\n"
)


def feed_all(framer: ChunkedBody | ContentLengthBody, pieces: list[bytes]) -> int:
    return sum(framer.feed(p) for p in pieces)


def feed_bytewise(framer: ChunkedBody, data: bytes, repeat: int = 1) -> None:
    for _ in range(repeat):
        for k in range(len(data)):
            framer.feed(data[k : k + 1])


# -- factory --------------------------------------------------------------------------------


def test_body_framer_kinds() -> None:
    assert isinstance(body_framer(None, True, False), ChunkedBody)
    assert isinstance(body_framer(10, True, False), ChunkedBody)  # chunked wins
    assert isinstance(body_framer(10, False, True), ContentLengthBody)
    assert isinstance(body_framer(None, False, True), UntilCloseBody)
    assert isinstance(body_framer(None, False, False), EmptyBody)
    assert body_framer(None, False, False).done
    assert body_framer(0, False, False).done
    assert body_framer(None, True, False).error_status == 400
    assert body_framer(None, True, False, response=True).error_status == 502


# -- content-length, empty, until-close -----------------------------------------------------


def test_content_length_exact() -> None:
    f = ContentLengthBody(5)
    assert f.feed(b"hello") == 5
    assert f.done
    assert f.feed(b"more") == 0


def test_content_length_in_pieces_and_overflow() -> None:
    f = ContentLengthBody(10)
    assert f.feed(b"abc") == 3
    assert not f.done
    assert f.remaining == 7
    assert f.feed(memoryview(b"defghijNEXT")) == 7
    assert f.done
    assert f.remaining == 0


def test_content_length_empty_feed() -> None:
    f = ContentLengthBody(3)
    assert f.feed(b"") == 0
    assert not f.done


def test_truncated_content_length_raises_on_eof() -> None:
    f = ContentLengthBody(3, 502)
    f.feed(b"ab")
    with pytest.raises(H1Error) as info:
        f.feed_eof()
    assert info.value.status == 502


def test_complete_body_accepts_eof() -> None:
    f = ContentLengthBody(2)
    f.feed(b"ab")
    f.feed_eof()
    assert f.done


def test_empty_body_takes_nothing() -> None:
    f = EmptyBody()
    assert f.done
    assert f.feed(b"GET / HTTP/1.1\r\n") == 0
    f.feed_eof()


def test_until_close() -> None:
    f = UntilCloseBody(502)
    assert f.until_close
    assert f.feed(b"x" * 1000) == 1000
    assert f.feed(bytearray(b"yy")) == 2
    assert not f.done
    f.feed_eof()
    assert f.done
    assert f.feed(b"z") == 0


# -- chunked --------------------------------------------------------------------------------


def test_chunked_whole_body() -> None:
    f = ChunkedBody()
    assert f.feed(CHUNKED) == len(CHUNKED)
    assert f.done


def test_chunked_stops_at_body_end() -> None:
    f = ChunkedBody()
    assert f.feed(CHUNKED + b"GET / HTTP/1.1\r\n") == len(CHUNKED)
    assert f.done
    assert f.feed(b"more") == 0


def test_chunked_without_trailers() -> None:
    body = b"3\r\nabc\r\n0\r\n\r\n"
    f = ChunkedBody()
    assert f.feed(body + b"X") == len(body)
    assert f.done


def test_chunked_every_split_in_two_and_three() -> None:
    body = CHUNKED
    for i in range(len(body) + 1):
        for j in range(i, len(body) + 1):
            f = ChunkedBody()
            used = feed_all(f, [body[:i], body[i:j], body[j:] + b"NEXT"])
            assert used == len(body), (i, j)
            assert f.done, (i, j)


def test_chunked_byte_at_a_time() -> None:
    f = ChunkedBody()
    used = 0
    for k in range(len(CHUNKED)):
        assert not f.done
        used += f.feed(CHUNKED[k : k + 1])
    assert f.done
    assert used == len(CHUNKED)


def test_chunked_memoryview_and_bytearray() -> None:
    for kind in (memoryview, bytearray):
        f = ChunkedBody()
        assert f.feed(kind(CHUNKED[:20])) == 20
        assert f.feed(kind(CHUNKED[20:] + b"tail")) == len(CHUNKED) - 20
        assert f.done


def test_chunked_large_chunk_skipped_arithmetically() -> None:
    size = 1 << 20
    f = ChunkedBody()
    assert f.feed(b"%x\r\n" % size) == len(b"100000\r\n")
    assert f.feed(b"a" * (size - 1)) == size - 1
    assert not f.done
    assert f.feed(b"a\r\n0\r\n\r\n") == 8
    assert f.done


def test_chunk_size_leading_zeros_and_upper_case_hex() -> None:
    body = b"000000000000000A\r\n0123456789\r\n0\r\n\r\n"
    f = ChunkedBody()
    assert f.feed(body) == len(body)
    assert f.done


def test_chunk_size_largest_accepted() -> None:
    f = ChunkedBody()
    line = b"fffffffffffff\r\n"  # 2**52 - 1
    assert f.feed(line) == len(line)
    assert not f.done


CHUNKED_REFUSALS = [
    ("invalid hex", b"5g\r\nhello\r\n0\r\n\r\n"),
    ("0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n"),
    ("leading space", b" 5\r\nhello\r\n0\r\n\r\n"),
    ("empty size", b"\r\nhello\r\n0\r\n\r\n"),
    ("negative", b"-5\r\nhello\r\n0\r\n\r\n"),
    ("size 2**52", b"10000000000000\r\n"),
    ("size overflow", b"fffffffffffffffff\r\n"),
    ("size many digits", b"1" + b"0" * 40 + b"\r\n"),
    ("bare lf after size", b"5\nhello\r\n0\r\n\r\n"),
    ("bare cr after size", b"5\rhello\r\n0\r\n\r\n"),
    ("bare lf after data", b"5\r\nhello\n0\r\n\r\n"),
    ("data longer than size", b"5\r\nhelloX\r\n0\r\n\r\n"),
    ("cr only after data", b"5\r\nhello\r0\r\n\r\n"),
    ("control in extension", b"5;\x01\r\nhello\r\n0\r\n\r\n"),
    ("nul in extension", b"5;a\x00\r\nhello\r\n0\r\n\r\n"),
    ("bare lf after last chunk", b"0\n\r\n"),
    ("bare lf ends trailers", b"0\r\n\n"),
    ("trailer without colon", b"0\r\nBad Trailer\r\n\r\n"),
    ("trailer space before colon", b"0\r\nT : v\r\n\r\n"),
    ("trailer empty name", b"0\r\n: v\r\n\r\n"),
    ("trailer nul", b"0\r\nT: v\x00\r\n\r\n"),
    ("trailer bare lf", b"0\r\nT: v\n\r\n"),
    ("trailer obs-fold", b"0\r\nT: v\r\n w\r\n\r\n"),
]


@pytest.mark.parametrize(
    "body", [c[1] for c in CHUNKED_REFUSALS], ids=[c[0] for c in CHUNKED_REFUSALS]
)
def test_chunked_refusal(body: bytes) -> None:
    with pytest.raises(H1Error) as info:
        ChunkedBody().feed(body)
    assert info.value.status == 400


@pytest.mark.parametrize(
    "body", [c[1] for c in CHUNKED_REFUSALS], ids=[c[0] for c in CHUNKED_REFUSALS]
)
def test_chunked_refusal_byte_at_a_time(body: bytes) -> None:
    f = ChunkedBody(502)
    with pytest.raises(H1Error) as info:
        feed_bytewise(f, body)
    assert info.value.status == 502


def test_chunk_size_line_too_long() -> None:
    f = ChunkedBody()
    with pytest.raises(H1Error):
        f.feed(b"5;" + b"e" * MAX_CHUNK_LINE + b"\r\nhello")
    f = ChunkedBody()
    with pytest.raises(H1Error):
        feed_bytewise(f, b"0", MAX_CHUNK_LINE + 1)


def test_long_extension_within_limit() -> None:
    body = b"5;" + b"e" * (MAX_CHUNK_LINE - 10) + b"\r\nhello\r\n0\r\n\r\n"
    f = ChunkedBody()
    assert f.feed(body) == len(body)


def test_trailers_too_large() -> None:
    f = ChunkedBody()
    f.feed(b"0\r\n")
    line = b"T: " + b"v" * 1000 + b"\r\n"
    with pytest.raises(H1Error):
        f.feed(line * (MAX_TRAILERS // len(line) + 2))


def test_truncated_chunked_raises_on_eof() -> None:
    f = ChunkedBody()
    f.feed(b"5\r\nhel")
    with pytest.raises(H1Error):
        f.feed_eof()
