"""A real weir process logs real requests to a real UDP socket and a real UNIX datagram
socket; the lines are read back by a third-party parser (the `haproxy-log-analysis`
package, which reads HAProxy's httplog lines) and checked field by field.

The requests go through curl or a raw socket; nothing here depends on timing except the
bounded waits for datagrams.
"""

from __future__ import annotations

import json
import re
import socket
import tempfile
from collections.abc import Generator
from pathlib import Path

import pytest
from haproxy.line import Line

from tests.compat.helpers import curl
from tests.helpers.ports import free_port
from tests.scenarios.log.syslog_listener import SyslogListener

DEFAULTS = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""

HEADER = re.compile(rb"<(\d+)>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d weir\[\d+\]: (.*)\n")


class UnixListener:
    """A UNIX datagram socket standing in for /dev/log, with a bounded wait."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="weirlog-")  # short: sun_path limit
        self.path = str(Path(self.dir.name) / "log.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def recv(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(70000)
        return data

    def close(self) -> None:
        self.sock.close()
        self.dir.cleanup()


@pytest.fixture
def syslog_unix() -> Generator[UnixListener, None, None]:
    listener = UnixListener()
    yield listener
    listener.close()


def message(data: bytes, pri: int) -> str:
    m = HEADER.fullmatch(data)
    assert m is not None, data
    assert int(m[1]) == pri
    return m[2].decode()


def config(udp: int, unix: str, port: int, backend: str, lines: str) -> str:
    return (
        f"""\
global
    log 127.0.0.1:{udp} local0
    log {unix} local1
"""
        + DEFAULTS
        + f"""\
frontend fe
    bind 127.0.0.1:{port}
    log global
{lines}
    default_backend be
backend be
    server s1 {backend}
"""
    )


def test_httplog_over_udp_and_unix_reads_as_haproxys(  # type: ignore[no-untyped-def]
    weir, http_backend, syslog_udp: SyslogListener, syslog_unix: UnixListener
) -> None:
    be = http_backend("s1")
    port = free_port()
    lines = (
        "    option httplog\n"
        "    capture request header Host len 20\n"
        "    capture request header User-Agent len 5\n"
        "    capture cookie SID len 20"
    )
    weir(config(syslog_udp.port, syslog_unix.path, port, be.address, lines), wait_ports=[port])
    r = curl(
        f"http://127.0.0.1:{port}/a/b?c=1",
        "-H",
        "Host: h.example",
        "-A",
        "agent/7.1",
        "-b",
        "SID=42; other=1",
    )
    assert r.status == 200
    udp = message(syslog_udp.recv(), 16 * 8 + 6)
    unix = message(syslog_unix.recv(), 17 * 8 + 6)
    assert udp == unix
    line = Line(f"Nov 23 10:00:00 host weir[1]: {udp}")
    assert line.is_valid, udp
    assert line.client_ip == "127.0.0.1"
    assert 0 < line.client_port < 65536
    assert (line.frontend_name, line.backend_name, line.server_name) == ("fe", "be", "s1")
    assert line.status_code == "200"
    wire = len(b"".join(f"{n}: {v}\r\n".encode() for n, v in r.headers)) + len(r.body) + 19
    assert int(line.bytes_read) == wire  # the status line, headers, blank line and body
    assert line.time_wait_request >= 0
    assert line.time_wait_queues >= 0
    assert line.time_connect_server >= 0
    assert line.time_wait_response >= 0
    assert int(line.total_time) >= line.time_wait_response
    assert (line.connections_frontend, line.connections_backend) == ("1", "0")
    assert line.retries == "0"
    assert (line.queue_server, line.queue_backend) == (0, 0)
    assert line.captured_request_headers == "h.example|agent"
    assert line.http_request_method == "GET"
    assert line.http_request_path == "/a/b?c=1"
    assert line.http_request_protocol == "HTTP/1.1"
    # What the parser leaves out: cookies and the termination state.
    assert " SID=42 - ---- " in udp


def test_bad_request_line(  # type: ignore[no-untyped-def]
    weir, http_backend, syslog_udp: SyslogListener, syslog_unix: UnixListener
) -> None:
    be = http_backend("s1")
    port = free_port()
    weir(
        config(syslog_udp.port, syslog_unix.path, port, be.address, "    option httplog"),
        wait_ports=[port],
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"GET /bad\x01 HTTP/1.1\r\nHost: t\r\n\r\n")
        assert c.recv(100).startswith(b"HTTP/1.1 400")
    udp = message(syslog_udp.recv(), 134)
    line = Line(f"Nov 23 10:00:00 host weir[1]: {udp}")
    assert line.is_valid, udp
    assert (line.backend_name, line.server_name) == ("fe", "<NOSRV>")
    assert line.time_wait_request == -1  # HAProxy logs such a request without a stream
    assert (line.status_code, line.bytes_read) == ("400", "0")
    assert line.raw_http_request == "<BADREQ>"
    assert " PR-- " in udp


def test_log_format_and_unique_id(  # type: ignore[no-untyped-def]
    weir, http_backend, syslog_udp: SyslogListener, syslog_unix: UnixListener
) -> None:
    be = http_backend("s1")
    port = free_port()
    lines = (
        '    log-format "%{+Q}o %ci %HM %HU %HP %HQ %HV %ST %b/%s %[src] %[method] %ID %{-Q}rt"\n'
        "    unique-id-format %{+X}o\\ %ci:%fp_%rt"
    )
    weir(config(syslog_udp.port, syslog_unix.path, port, be.address, lines), wait_ports=[port])
    assert curl(f"http://127.0.0.1:{port}/p?q=1").status == 200
    assert curl(f"http://127.0.0.1:{port}/r").status == 200
    first = message(syslog_udp.recv(), 134)
    second = message(syslog_udp.recv(), 134)
    m = re.fullmatch(
        r'"127\.0\.0\.1" "GET" "/p\?q=1" "/p" "\?q=1" "HTTP/1\.1" 200 "be"/"s1" "127\.0\.0\.1" '
        r'"GET" "7F000001:([0-9A-F]{4})_([0-9A-F]{4,})" (\d+)',
        first,
    )
    assert m is not None, first
    assert int(m[1], 16) == port
    assert int(m[2], 16) == int(m[3])  # the id holds the request counter, %rt
    m2 = re.search(
        r'"/r" "/r" "" "HTTP/1\.1" .* "7F000001:[0-9A-F]{4}_([0-9A-F]{4,})" (\d+)$', second
    )
    assert m2 is not None, second
    assert int(m2[1]) > int(m[3])


def test_httplog_json_over_unix(  # type: ignore[no-untyped-def]
    weir, http_backend, syslog_udp: SyslogListener, syslog_unix: UnixListener
) -> None:
    be = http_backend("s1")
    port = free_port()
    weir(
        config(syslog_udp.port, syslog_unix.path, port, be.address, "    option httplog json"),
        wait_ports=[port],
    )
    assert curl(f"http://127.0.0.1:{port}/j").status == 200
    obj = json.loads(message(syslog_unix.recv(), 142))
    assert obj["http_request"] == "GET /j HTTP/1.1"
    assert obj["status_code"] == 200
    assert (obj["frontend_name"], obj["backend_name"], obj["server_name"]) == ("fe", "be", "s1")
    assert obj["termination_state"] == "----"
    assert obj["captured_request_headers"] is None


def test_response_captures_and_logasap(  # type: ignore[no-untyped-def]
    weir, http_backend, syslog_udp: SyslogListener, syslog_unix: UnixListener
) -> None:
    be = http_backend("s1", headers=[("Set-Cookie", "SID=abcdef; path=/")])
    port = free_port()
    lines = (
        "    option httplog\n    option logasap\n"
        "    capture response header X-Backend len 8\n    capture cookie SID len 6"
    )
    weir(config(syslog_udp.port, syslog_unix.path, port, be.address, lines), wait_ports=[port])
    assert curl(f"http://127.0.0.1:{port}/").status == 200
    udp = message(syslog_udp.recv(), 134)
    assert re.search(r" \+\d+ - SID=ab ---- .* \{s1\} \"GET / HTTP/1\.1\"$", udp), udp


def test_unique_id_header_reaches_the_server(  # type: ignore[no-untyped-def]
    weir, http_backend, syslog_udp: SyslogListener, syslog_unix: UnixListener
) -> None:
    be = http_backend("s1")
    port = free_port()
    lines = (
        '    log-format "%ID"\n    unique-id-format %{+X}o\\ %ci_%rt\n'
        "    unique-id-header X-Unique-ID"
    )
    weir(config(syslog_udp.port, syslog_unix.path, port, be.address, lines), wait_ports=[port])
    assert curl(f"http://127.0.0.1:{port}/").status == 200
    logged = message(syslog_udp.recv(), 134)
    assert be.wait_requests(1)
    assert be.requests[0].header("x-unique-id") == logged
