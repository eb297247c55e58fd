"""`compression` through HAProxy 2.6 and weir side by side: for each response kind and
Accept-Encoding, both proxies make the same choice (compress or not, with which coding),
send the same framing headers, Vary and ETag, and the decompressed body is the server's
body exactly, Content-Length and chunked bodies of every size alike. `compression offload`
keeps Accept-Encoding from the server."""

from __future__ import annotations

import http.client
import socket
import threading
import zlib
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.ports import free_port

BIG = b"".join(b"line %06d of a long and very compressible text\n" % i for i in range(40000))


def _response(path: str) -> bytes:
    """The server's canned answer for a path."""
    ctype, extra, body, chunked, status = b"text/html", b"", b"<p>hello</p>" * 50, False, 200
    if path == "/big":
        body = BIG
    elif path == "/big-chunked":
        body, chunked = BIG, True
    elif path == "/chunked":
        chunked = True
    elif path == "/png":
        ctype = b"image/png"
    elif path == "/notype":
        ctype = b""
    elif path == "/encoded":
        extra = b"Content-Encoding: br\r\n"
    elif path == "/no-transform":
        extra = b"Cache-Control: public, no-transform\r\n"
    elif path == "/etag":
        extra = b'ETag: "v1"\r\n'
    elif path == "/weak-etag":
        extra = b'ETag: W/"v1"\r\n'
    elif path == "/bad-etag":
        extra = b"ETag: v1\r\n"
    elif path == "/multipart":
        ctype = b"multipart/mixed; boundary=x"
    elif path == "/404":
        status = 404
    elif path == "/empty":
        body = b""
    elif path == "/echo-ae":
        body = b"(none)"  # replaced by the request's Accept-Encoding below
    head = b"HTTP/1.1 %d X\r\n" % status
    if ctype:
        head += b"Content-Type: " + ctype + b"\r\n"
    head += extra
    if not chunked:
        return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
    step = 7000
    chunks = [body[i : i + step] for i in range(0, len(body), step)]
    framed = b"".join(b"%x;ext=1\r\n%b\r\n" % (len(c), c) for c in chunks)
    return head + b"Transfer-Encoding: chunked\r\n\r\n" + framed + b"0\r\nX-Trailer: t\r\n\r\n"


class CannedServer:
    """An HTTP/1.1 server answering each path with `_response` (keep-alive), on a thread."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(10)
        buf = b""
        with conn:
            while not self.stopping.is_set():
                while b"\r\n\r\n" not in buf:
                    try:
                        data = conn.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    buf += data
                head, _, buf = buf.partition(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                answer = _response(path)
                if path == "/echo-ae":
                    ae = b"(none)"
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"accept-encoding":
                            ae = value.strip()
                    answer = answer.replace(b"(none)", ae.ljust(6, b" ")[:6])
                try:
                    conn.sendall(answer)
                except OSError:
                    return

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)


CFG = """\
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    compression algo gzip deflate
    compression type text/html text/plain
    default_backend be
backend be
    server s1 127.0.0.1:{backend}
frontend fe-offload
    bind 127.0.0.1:{port2}
    default_backend be-offload
backend be-offload
    compression algo raw-deflate
    compression offload
    server s1 127.0.0.1:{backend}
"""

CASES = [
    ("/", "gzip"),
    ("/", "deflate"),
    ("/", "br, gzip;q=0.5, deflate;q=0.8"),
    ("/", "gzip;q=0, deflate;q=0"),
    ("/", "*"),
    ("/", "identity"),
    ("/", None),
    ("/big", "gzip"),
    ("/big-chunked", "gzip, deflate"),
    ("/chunked", "gzip"),
    ("/png", "gzip"),
    ("/notype", "gzip"),
    ("/encoded", "gzip"),
    ("/no-transform", "gzip"),
    ("/etag", "gzip"),
    ("/weak-etag", "gzip"),
    ("/bad-etag", "gzip"),
    ("/multipart", "gzip"),
    ("/404", "gzip"),
    ("/empty", "gzip"),
]


def _fetch(port: int, path: str, ae: str | None, **extra: str) -> tuple[Any, ...]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Host": "x", **extra}
        if ae is not None:
            headers["Accept-Encoding"] = ae
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        coding = r.getheader("content-encoding")
        if coding == "gzip":
            body = zlib.decompress(raw, 16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            # zlib-wrapped (deflate) or raw (raw-deflate): both answer to "deflate".
            try:
                body = zlib.decompress(raw)
            except zlib.error:
                body = zlib.decompress(raw, -zlib.MAX_WBITS)
        else:
            body = raw
        framing = "chunked" if r.getheader("transfer-encoding") else "length"
        return (r.status, coding, r.getheader("vary"), r.getheader("etag"), framing, body)
    finally:
        conn.close()


@pytest.fixture
def canned() -> Any:
    srv = CannedServer()
    yield srv
    srv.stop()


def test_compression_matches_haproxy(haproxy: Any, weir: Any, canned: Any) -> None:
    ports = {}
    for name, start in (("haproxy", haproxy), ("weir", weir)):
        port, port2 = free_port(), free_port()
        start(CFG.format(port=port, port2=port2, backend=canned.port), wait_ports=[port, port2])
        ports[name] = (port, port2)
    for path, ae in CASES:
        theirs = _fetch(ports["haproxy"][0], path, ae)
        ours = _fetch(ports["weir"][0], path, ae)
        assert ours[:5] == theirs[:5], (path, ae)
        assert ours[5] == theirs[5], (path, ae, len(ours[5]), len(theirs[5]))
        expected = _response(path).partition(b"\r\n\r\n")[2]
        if path not in ("/big-chunked", "/chunked"):
            assert ours[5] == expected, (path, ae)
    # Old browsers are never sent compressed bodies, MSIE 7 is.
    for ua in ("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)",
               "Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)"):  # fmt: skip
        theirs = _fetch(ports["haproxy"][0], "/", "gzip", **{"User-Agent": ua})
        ours = _fetch(ports["weir"][0], "/", "gzip", **{"User-Agent": ua})
        assert ours[:2] == theirs[:2], ua
    # offload: the server never sees Accept-Encoding; the client still gets raw deflate.
    theirs = _fetch(ports["haproxy"][1], "/echo-ae", "deflate")
    ours = _fetch(ports["weir"][1], "/echo-ae", "deflate")
    assert ours == theirs
    assert ours[1] == "deflate"
    assert ours[5] == b"(none)"


def test_compressed_bodies_are_counted(weir: Any, canned: Any, tmp_path: Path) -> None:
    """The frontend's and backend's comp_in / comp_out / comp_rsp (stats CSV)."""
    sock = tmp_path / "api.sock"
    port, port2 = free_port(), free_port()
    cfg = f"global\n    stats socket {sock} level admin\n" + CFG.format(
        port=port, port2=port2, backend=canned.port
    )
    weir(cfg, wait_ports=[port])
    assert _fetch(port, "/big", "gzip")[1] == "gzip"
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(b"show stat\n")
        csv = b""
        while chunk := s.recv(65536):
            csv += chunk
    lines = csv.decode().splitlines()
    names = lines[0].lstrip("# ").split(",")
    rows = {}
    for line in lines[1:]:
        row = dict(zip(names, line.split(","), strict=False))
        if row.get("svname") in ("FRONTEND", "BACKEND"):
            rows[row["pxname"]] = row
    fe = rows["fe"]
    assert int(fe["comp_rsp"]) == 1
    assert int(fe["comp_in"]) == len(BIG)
    assert 0 < int(fe["comp_out"]) < len(BIG) // 10
    assert int(rows["be"]["comp_rsp"]) == 1
