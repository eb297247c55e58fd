"""TLS termination on `bind ... ssl` with real clients: SNI picks among certificates
(exact names and a wildcard; the first is the default), strict-sni refuses unknown names,
client certificates are required and their details reach the backend, TLS goes on to an
HTTPS backend, and the HTTPS redirect recipe works."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from tests.scenarios.tls.certs import CertAuthority

DEFAULTS = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
"""


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    ca = CertAuthority(d)
    other = CertAuthority(d, "other-ca")
    return {
        "ca": ca.pem,
        "a": ca.issue("a", "/CN=a.example", ["a.example"]),
        "b": ca.issue("b", "/CN=b.example", ["b.example", "www.b.example"]),
        "wild": ca.issue("wild", "/CN=*.wild.example", ["*.wild.example"]),
        "client": ca.issue("client", "/C=FR/O=Weir Tests/CN=alice"),
        "stranger": other.issue("stranger", "/CN=mallory"),
        "backend": ca.issue("backend", "/CN=localhost", ["localhost"]),
    }


def _https(port: int, name: str, ca: Path, *args: str) -> Any:
    return curl(
        f"https://{name}:{port}/",
        "--resolve", f"{name}:{port}:127.0.0.1", "--cacert", str(ca), *args,
    )  # fmt: skip


def test_sni_selects_the_certificate(weir: Any, http_backend: Any, pki: dict[str, Path]) -> None:
    be = http_backend("app")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port} ssl crt {pki["a"]} crt {pki["b"]} crt {pki["wild"]}
    http-request set-header X-SNI %[ssl_fc_sni]
    http-request set-header X-TLS %[ssl_fc]/%[ssl_fc_protocol]
    default_backend be
backend be
    server s {be.address}
""",
        wait_ports=[port],
    )
    # curl checks that the certificate it gets is for the name it asked: success means
    # the right certificate was chosen.
    for name in ("a.example", "b.example", "www.b.example", "x.wild.example"):
        r = _https(port, name, pki["ca"])
        assert r.status == 200, (name, r)
    assert [q.header("X-SNI") for q in be.requests] == [
        "a.example", "b.example", "www.b.example", "x.wild.example",
    ]  # fmt: skip
    assert be.requests[0].header("X-TLS") in ("1/TLSv1.3", "1/TLSv1.2")
    # A name no certificate covers gets the first (default) one: a.example's.
    r = _https(port, "c.example", pki["ca"])
    assert r.status < 0  # curl refuses: the certificate is not for c.example
    r = _https(port, "c.example", pki["ca"], "--insecure")
    assert r.status == 200


def test_strict_sni_refuses_unknown_names(
    weir: Any, http_backend: Any, pki: dict[str, Path]
) -> None:
    be = http_backend("app")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port} ssl crt {pki["a"]} strict-sni
    default_backend be
backend be
    server s {be.address}
""",
        wait_ports=[port],
    )
    assert _https(port, "a.example", pki["ca"]).status == 200
    assert _https(port, "c.example", pki["ca"], "--insecure").status < 0
    assert len(be.requests) == 1


def test_client_certificates(weir: Any, http_backend: Any, pki: dict[str, Path]) -> None:
    be = http_backend("app")
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port} ssl crt {pki["a"]} ca-file {pki["ca"]} verify required
    http-request set-header X-Client-DN %[ssl_c_s_dn]
    http-request set-header X-Client-Used %[ssl_c_used]
    default_backend be
backend be
    server s {be.address}
""",
        wait_ports=[port],
    )
    assert _https(port, "a.example", pki["ca"]).status < 0  # no certificate
    assert _https(port, "a.example", pki["ca"], "--cert", str(pki["stranger"])).status < 0
    r = _https(port, "a.example", pki["ca"], "--cert", str(pki["client"]))
    assert r.status == 200
    (req,) = be.requests
    assert req.header("X-Client-DN") == "/C=FR/O=Weir Tests/CN=alice"
    assert req.header("X-Client-Used") == "1"


@pytest.fixture
def https_backend(pki: dict[str, Path]) -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            body = b"secure hello\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki["backend"])
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        t.join(5)


def test_tls_to_an_https_backend(weir: Any, https_backend: int, pki: dict[str, Path]) -> None:
    port = free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s 127.0.0.1:{https_backend} ssl verify required ca-file {pki["ca"]} sni str(localhost)
""",
        wait_ports=[port],
    )
    r = curl(f"http://127.0.0.1:{port}/")
    assert (r.status, r.body) == (200, b"secure hello\n")


def test_tls_to_a_backend_with_an_unknown_ca_fails(weir: Any, https_backend: int, pki: Any) -> None:
    port = free_port()
    other = pki["stranger"].parent / "other-ca.pem"
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    retries 0
    server s 127.0.0.1:{https_backend} ssl verify required ca-file {other}
""",
        wait_ports=[port],
    )
    assert curl(f"http://127.0.0.1:{port}/").status == 503


def test_https_redirect_recipe(weir: Any, http_backend: Any, pki: dict[str, Path]) -> None:
    be = http_backend("app")
    plain, tls = free_port(), free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{plain}
    bind 127.0.0.1:{tls} ssl crt {pki["a"]}
    http-request redirect scheme https code 301 unless {{ ssl_fc }}
    http-response set-header Strict-Transport-Security "max-age=31536000"
    default_backend be
backend be
    server s {be.address}
""",
        wait_ports=[plain, tls],
    )
    r = curl(f"http://127.0.0.1:{plain}/x", "-H", "Host: a.example")
    assert (r.status, r.header("location")) == (301, "https://a.example/x")
    r = _https(tls, "a.example", pki["ca"])
    assert r.status == 200
    assert r.header("strict-transport-security") == "max-age=31536000"


def test_missing_certificate_is_a_load_error(tmp_path: Path) -> None:
    import sys

    cfg = tmp_path / "bad.cfg"
    cfg.write_text(DEFAULTS + "frontend fe\n    bind 127.0.0.1:1 ssl crt /nonexistent.pem\n")
    out = subprocess.run(
        [sys.executable, "-m", "weir", "-c", "-f", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode != 0
    assert "bad.cfg:7" in out.stderr
    assert "/nonexistent.pem" in out.stderr


def test_health_checks_over_tls(weir: Any, https_backend: int, http_backend: Any) -> None:
    plain = http_backend("plain")
    port, port2 = free_port(), free_port()
    weir(
        DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend tls
frontend fe2
    bind 127.0.0.1:{port2}
    default_backend broken
backend tls
    option httpchk GET /
    server s 127.0.0.1:{https_backend} ssl verify none check inter 100ms fall 1
backend broken
    # TLS checks against a plain HTTP server: the handshake fails, the server goes DOWN
    server p {plain.address} check check-ssl verify none inter 100ms fall 1
""",
        wait_ports=[port, port2],
    )
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and curl(f"http://127.0.0.1:{port2}/").status != 503:
        time.sleep(0.1)
    assert curl(f"http://127.0.0.1:{port2}/").status == 503
    time.sleep(0.5)  # several more checks of both servers (fall 1: one failure is enough)
    r = curl(f"http://127.0.0.1:{port}/")
    assert (r.status, r.body) == (200, b"secure hello\n")  # checked over TLS and UP


def _subject(port: int, ca: Path) -> dict[str, str]:
    ctx = ssl.create_default_context(cafile=str(ca))
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname="a.example") as tls:
        cert = tls.getpeercert()
    return {k: v for rdn in cert["subject"] for k, v in rdn}


def test_certificate_swap_through_the_runtime_api(
    weir: Any, http_backend: Any, pki: dict[str, Path], tmp_path: Path
) -> None:
    be = http_backend("app")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        f"global\n    stats socket {sock} level admin\n"
        + DEFAULTS
        + f"""
frontend fe
    bind 127.0.0.1:{port} ssl crt {pki["a"]}
    default_backend be
backend be
    server s {be.address}
""",
        wait_ports=[port],
    )
    assert _subject(port, pki["ca"])["commonName"] == "a.example"
    ctx = ssl.create_default_context(cafile=str(pki["ca"]))
    kept = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                           server_hostname="a.example")  # fmt: skip
    request = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n"
    try:
        kept.sendall(request)
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        renewed = CertAuthority(pki["ca"].parent).issue(
            "a2", "/O=Renewed/CN=a.example", ["a.example"]
        )
        out = subprocess.run(
            ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
            input=(
                f"set ssl cert {pki['a']} <<\n{renewed.read_text()}\ncommit ssl cert {pki['a']}\n"
            ).encode(),
            capture_output=True,
            timeout=10,
            check=True,
        ).stdout.decode()
        assert f"Transaction created for certificate {pki['a']}!" in out
        assert "Success!" in out
        assert _subject(port, pki["ca"]).get("organizationName") == "Renewed"
        kept.sendall(request)  # the connection opened before the swap goes on
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        kept.close()
