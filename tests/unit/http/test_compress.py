"""weir.http.compress without sockets: the algorithm a request gets, and bodies that come
out of the compressor whole however the server's framing was cut into reads."""

from __future__ import annotations

import itertools
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st

from weir.config.model import CompressionConf
from weir.http.compress import BodyCompressor, Compression, choose
from weir.proto.h1 import parse_request_head
from weir.proxy.runtime import Counters


def _req(*lines: str) -> object:
    raw = ("GET / HTTP/1.1\r\nHost: x\r\n" + "".join(f"{h}\r\n" for h in lines) + "\r\n").encode()
    found = parse_request_head(raw)
    assert found is not None
    return found[0]


def _comp(*algos: str) -> Compression:
    return Compression(CompressionConf(algos=list(algos)), 1)


def _chosen(comp: Compression, *lines: str) -> str | None:
    algo = choose(None, comp, _req(*lines))  # type: ignore[arg-type]
    return None if algo is None else algo.name


def test_choice_follows_accept_encoding() -> None:
    both = _comp("gzip", "deflate")
    assert _chosen(both) is None
    assert _chosen(both, "Accept-Encoding: gzip") == "gzip"
    assert _chosen(both, "Accept-Encoding: GZIP") == "gzip"
    assert _chosen(both, "Accept-Encoding: br, deflate") == "deflate"
    assert _chosen(both, "Accept-Encoding: gzip;q=0.5, deflate;q=0.51") == "deflate"
    assert _chosen(both, "Accept-Encoding: gzip; q=0, br") is None
    assert _chosen(both, "Accept-Encoding: *") == "deflate"  # the last one listed
    assert _chosen(both, "Accept-Encoding: gzip", "Accept-Encoding: deflate;q=2") == "gzip"
    assert _chosen(_comp("identity", "gzip")) == "identity"  # needs no header
    assert _chosen(both, "Accept-Encoding: gzip", "User-Agent: Mozilla/4.0 (X11)") is None


def test_backend_list_first_then_frontend() -> None:
    fe, be = _comp("gzip"), Compression(CompressionConf(types=["text/"]), 1)
    algo = choose(fe, be, _req("Accept-Encoding: gzip"))  # type: ignore[arg-type]
    assert algo is not None
    assert algo.name == "gzip"  # the backend lists no algorithm: the frontend's apply


PAYLOAD = b"".join(b"%d bottles of beer on the wall\n" % i for i in range(3000))


def _chunked(payload: bytes, size: int) -> bytes:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x;x=y\r\n%b\r\n" % (len(p), p) for p in parts) + b"0\r\nT: 1\r\n\r\n"


def _unchunk(data: bytes) -> bytes:
    out, pos = b"", 0
    while True:
        lf = data.index(b"\r\n", pos)
        size = int(data[pos:lf], 16)
        if not size:
            return out
        out += data[lf + 2 : lf + 2 + size]
        pos = lf + 2 + size + 2


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 9000),
    cuts=st.lists(st.integers(0, 200_000), max_size=12),
    algo=st.sampled_from(["gzip", "deflate", "raw-deflate", "identity"]),
    chunked=st.booleans(),
)
def test_any_split_of_the_framing_compresses_to_the_payload(
    size: int, cuts: list[int], algo: str, chunked: bool
) -> None:
    framed = _chunked(PAYLOAD, size) if chunked else PAYLOAD
    comp = _comp(algo)
    counters = Counters()
    squeeze = BodyCompressor(comp.algos[0], chunked, [counters])
    points = sorted({min(c, len(framed)) for c in cuts} | {0, len(framed)})
    pieces = [framed[a:b] for a, b in itertools.pairwise(points)]
    out = b"".join(squeeze.feed(p, i == len(pieces) - 1) for i, p in enumerate(pieces))
    assert out.endswith(b"0\r\n\r\n")
    body = _unchunk(out)
    wbits = {"gzip": 31, "deflate": 15, "raw-deflate": -15}.get(algo)
    assert (body if wbits is None else zlib.decompress(body, wbits)) == PAYLOAD
    assert counters.comp_in == len(PAYLOAD)
    assert counters.comp_rsp == 1


def test_trailers_in_a_later_read_are_dropped() -> None:
    squeeze = BodyCompressor(_comp("identity").algos[0], True, [Counters()])
    out = squeeze.feed(b"2\r\nok\r\n0\r\n", False)
    out += squeeze.feed(b"T: 1\r\n", False)
    out += squeeze.feed(b"\r\n", True)
    assert _unchunk(out) == b"ok"
