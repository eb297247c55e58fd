"""HTTP response compression: `compression algo|type|offload`, as in HAProxy 2.6.

A request chooses an algorithm from its Accept-Encoding (the backend's `compression algo`
list when it has one, else the frontend's): the one the best-rated coding names (the first
of equals), `*` taking the last one listed; `identity` applies without being asked for.
The response is compressed when it is a 200, 201, 202 or 203 to an HTTP/1.1 request
other than HEAD, in HTTP/1.1, with a chunked or non-empty Content-Length body, not already
encoded, without `Cache-Control: no-transform`, with at most one valid ETag, and with a
Content-Type that is not multipart and starts with one of the `compression type` list
when there is one (a response without a Content-Type is then left alone). Old browsers
announcing "Mozilla/4" (other than MSIE 6 SP2 and MSIE 7+) are never sent compressed bodies.

A compressed response loses its Content-Length and is sent chunked, with
`Content-Encoding`, `Vary: Accept-Encoding` and a weak ETag. Its body is compressed as it
streams: each read from the server becomes one chunk (a sync flush), so that nothing waits
in the compressor. `compression offload` removes Accept-Encoding from the request, so
that the server never compresses itself. zlib does the work, at `tune.comp.maxlevel`
(default 1: the fastest).
"""

from __future__ import annotations

import re
import zlib
from typing import TYPE_CHECKING

from weir.config.model import CompressionConf
from weir.config.registry import Args, keyword

if TYPE_CHECKING:
    from weir.config.parser import Ctx
    from weir.proto.h1 import RequestHead, ResponseHead
    from weir.proxy.runtime import Counters

# Config name -> the coding it answers to in Accept-Encoding and sends in Content-Encoding.
CODINGS = {"identity": b"identity", "gzip": b"gzip", "deflate": b"deflate"}
CODINGS["raw-deflate"] = b"deflate"
_WBITS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS, "raw-deflate": -zlib.MAX_WBITS}

_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]*")
_QVALUE = re.compile(rb";[ \t]*q=([0-9])(?:\.([0-9]{0,3}))?", re.IGNORECASE)
_ETAG = re.compile(rb'(?:W/)?"[^"]*"\Z')
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[^\r]*+", re.IGNORECASE)
_STRONG_ETAG = re.compile(rb'(\r\netag:[ \t]*)(?=")', re.IGNORECASE)


class Algo:
    """One configured algorithm."""

    __slots__ = ("coding", "level", "name", "wbits")

    def __init__(self, name: str, level: int) -> None:
        self.name = name
        self.level = level
        self.coding = CODINGS[name]
        self.wbits = _WBITS.get(name)  # None: identity


class Compression:
    """A proxy's compression settings, ready for the data path."""

    __slots__ = ("algos", "identity", "level", "offload", "types")

    def __init__(self, conf: CompressionConf, level: int) -> None:
        # HAProxy keeps the list in reverse order of the lines: the last one listed is the
        # one `Accept-Encoding: *` gets.
        self.algos = tuple(Algo(a, level) for a in reversed(conf.algos))
        self.identity = next((a for a in self.algos if a.name == "identity"), None)
        self.types = tuple(t.lower().encode() for t in conf.types) or None
        self.offload = conf.offload
        self.level = level


def choose(fe: Compression | None, be: Compression | None, req: RequestHead) -> Algo | None:
    """The algorithm for this request's response, if any (HAProxy's choice)."""
    ua = req.header(b"user-agent")
    if ua is not None and ua.startswith(b"Mozilla/4") and _old_browser(ua):
        return None
    comp = be if be is not None and be.algos else fe
    if comp is None or not comp.algos:
        return None
    best, best_q = None, 0
    for header in req.header_values(b"accept-encoding"):
        for item in header.split(b","):
            value = item.strip(b" \t")
            token = _TOKEN.match(value)
            tok = token.group() if token is not None else b""
            q = _qvalue(value[len(tok) :])
            if q <= best_q:
                continue
            for algo in comp.algos:
                if value[:1] == b"*" or tok.lower() == algo.coding:
                    best, best_q = algo, q
                    break
    return best or comp.identity


def _old_browser(ua: bytes) -> bool:
    """A "Mozilla/4" user agent that is not MSIE 6 SP2 or MSIE 7 and later (the offsets
    of HAProxy's test: "Mozilla/4.0 (compatible; MSIE N.N; ...")."""
    if len(ua) < 31 or ua[25:30] != b"MSIE ":
        return True
    major = ua[30:31]
    return major < b"6" or (major == b"6" and (len(ua) < 54 or ua[51:54] != b"SV1"))


def _qvalue(params: bytes) -> int:
    """The q of a coding's parameters, in thousandths (1000 when there is none)."""
    m = _QVALUE.match(params.lstrip(b" \t")) if params else None
    if m is None:
        return 1000
    q = int(m.group(1)) * 1000 + int((m.group(2) or b"").ljust(3, b"0"))
    return min(q, 1000)


def wanted(req: RequestHead, res: ResponseHead, types: tuple[bytes, ...] | None) -> bool:
    """Whether the server's response (before http-response rules) may be compressed."""
    if res.status not in (200, 201, 202, 203) or req.method == b"HEAD":
        return False
    if req.version != b"HTTP/1.1" or res.version != b"HTTP/1.1":
        return False
    if not res.chunked and not res.content_length:  # no length, or an empty body
        return False
    if res.header(b"content-encoding") is not None:
        return False
    for header in res.header_values(b"cache-control"):
        if any(v.strip(b" \t").lower() == b"no-transform" for v in header.split(b",")):
            return False
    etags = res.header_values(b"etag")
    if len(etags) > 1 or (etags and _ETAG.match(etags[0].strip(b" \t")) is None):
        return False
    ctype = res.header(b"content-type")
    if ctype is None:
        return types is None
    ctype = ctype.lower()
    if ctype.startswith(b"multipart"):
        return False
    return types is None or ctype.startswith(types)


def compressed_head(raw: bytes, algo: Algo, chunked: bool) -> bytes:
    """The response head as sent with a compressed body: without Content-Length, chunked,
    with its coding, `Vary: Accept-Encoding` and a weak ETag."""
    raw = _CONTENT_LENGTH.sub(b"", raw)
    raw = _STRONG_ETAG.sub(rb"\1W/", raw, count=1)
    add = b"" if algo.wbits is None else b"Content-Encoding: " + algo.coding + b"\r\n"
    if not chunked:
        add += b"Transfer-Encoding: chunked\r\n"
    return raw[:-2] + add + b"Vary: Accept-Encoding\r\n\r\n"


class BodyCompressor:
    """A response body on its way to the client: `feed` takes what the server's framing
    delimited (chunked or not) and returns chunks of the compressed payload; the last
    call (`end=True`) adds the final chunk."""

    __slots__ = ("counters", "left", "skip", "tail", "unchunk", "z")

    def __init__(self, algo: Algo, chunked: bool, counters: list[Counters]) -> None:
        wbits = algo.wbits
        self.z = None if wbits is None else zlib.compressobj(algo.level, zlib.DEFLATED, wbits)
        self.unchunk = chunked
        self.left = 0  # bytes of chunk data still to come (-1: the last chunk came)
        self.skip = 0  # bytes of the CRLF after chunk data still to come
        self.tail = b""  # an incomplete chunk size line
        self.counters = counters
        for c in counters:
            c.comp_rsp += 1

    def feed(self, data: bytes, end: bool) -> bytes:
        pieces = self._payload(data) if self.unchunk else [data]
        size_in = sum(map(len, pieces))
        z = self.z
        if z is None:
            body = b"".join(pieces)
        else:
            out = [z.compress(p) for p in pieces]
            out.append(z.flush(zlib.Z_FINISH if end else zlib.Z_SYNC_FLUSH))
            body = b"".join(out)
        for c in self.counters:
            c.comp_in += size_in
            c.comp_out += len(body)
        chunk = b"%x\r\n%b\r\n" % (len(body), body) if body else b""
        return chunk + b"0\r\n\r\n" if end else chunk

    def _payload(self, data: bytes) -> list[bytes]:
        """The chunk data in `data`, chunked bytes a ChunkedBody framer accepted (so well
        formed); trailers are dropped. One step per chunk, never per byte."""
        out: list[bytes] = []
        if self.left < 0:  # past the last chunk: trailers, dropped
            return out
        if self.tail:
            data = self.tail + data
            self.tail = b""
        pos, n = 0, len(data)
        while pos < n:
            if self.left:
                take = min(self.left, n - pos)
                out.append(data[pos : pos + take])
                pos += take
                self.left -= take
                if not self.left:
                    self.skip = 2
            elif self.skip:
                step = min(self.skip, n - pos)
                pos += step
                self.skip -= step
            else:
                lf = data.find(b"\n", pos)
                if lf < 0:
                    self.tail = data[pos:]
                    break
                size = int(data[pos:lf].split(b";", 1)[0].strip(b" \t\r"), 16)
                if not size:  # the last chunk: what follows is trailers
                    self.left = -1
                    break
                self.left = size
                pos = lf + 1
        return out


# ---- configuration ----------------------------------------------------------------------------


@keyword(
    "compression",
    "dfbl",
    "algo <algorithm>…|type <mime type>…|offload",
    "Compress responses: 'algo' lists identity, gzip, deflate, raw-deflate (in order of "
    "preference), 'type' the content types to compress (default: all), 'offload' removes "
    "Accept-Encoding so that servers do not compress.",
)
def _compression(ctx: Ctx, args: Args) -> None:
    what = args[0] if args else ""
    conf = ctx.px.compression
    if conf is None:
        conf = ctx.px.compression = CompressionConf()
    if what == "algo":
        if len(args) < 2:
            ctx.error("'compression algo' expects <algorithm>")
            return
        for name in args[1:]:
            if name not in CODINGS:
                ctx.error(
                    f"'compression' : '{name}' is not a supported algorithm (identity, gzip, "
                    "deflate, raw-deflate)"
                )
                return
        conf.algos = [*conf.algos, *args[1:]]
    elif what == "type":
        if len(args) < 2:
            ctx.error("'compression type' expects <type>")
            return
        conf.types = [*conf.types, *args[1:]]
    elif what == "offload":
        if ctx.px.cap.value == "defaults":
            ctx.warn("'compression offload' ignored in 'defaults' section")
            return
        conf.offload = True
    else:
        ctx.error("'compression' expects 'algo', 'type' or 'offload'")


@keyword(
    "tune.comp.maxlevel",
    "g",
    "<1..9>",
    "zlib's compression level for 'compression' (default 1, the fastest).",
)
def _maxlevel(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 1, "a level from 1 to 9"):
        return
    if not args[0].isdigit() or not 1 <= int(args[0]) <= 9:
        ctx.error(f"'tune.comp.maxlevel' expects a level from 1 to 9, got '{args[0]}'")
        return
    ctx.cfg.global_.tune_comp_maxlevel = int(args[0])
