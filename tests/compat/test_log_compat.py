"""The same configuration and traffic through HAProxy 2.6 and weir: the log lines compared.

Both proxies log to a UDP socket the test holds; each datagram is cut into its fields
(the syslog header, then the format's own fields, also read by the third-party
`haproxy-log-analysis` parser for httplog) and the fields are compared one by one. Masked,
because they differ between any two runs or processes: dates and times, timers, client
ports, process ids. Also masked: the byte counts (%B, %U), because HAProxy 2.6 counts its
internal HTX representation rather than the bytes on the wire (it logs 82 for an 78-byte
response head with an empty body; weir logs the bytes the client received), which
tests/scenarios/log checks against what curl received.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Generator

import pytest
from haproxy.line import Line

from tests.compat.helpers import curl, run_both
from tests.helpers.ports import free_port
from tests.scenarios.log.syslog_listener import SyslogListener

HEADER = re.compile(
    r"<(?P<pri>\d+)>(?P<date>[A-Z][a-z]{2} [ 1-3]\d [\d:]{8}) (?P<tag>[^\[]+)\[\d+\]: "
)
HTTPLOG = re.compile(
    r"(?P<ci>\S+):\d+ \[[^\]]+\] (?P<ft>\S+) (?P<b>\S+)/(?P<s>\S+) "
    r"-?\d+/-?\d+/-?\d+/-?\d+/\+?\d+ (?P<ST>-?\d+) \+?\d+ (?P<CC>\S+) (?P<CS>\S+) "
    r"(?P<tsc>\S{4}) (?P<conns>\d+/\d+/\d+/\d+/\+?\d+) (?P<queues>\d+/\d+) "
    r"(?P<caps>(?:\{[^}]*\} )*)\"(?P<r>[^\"]*)\""
)
TCPLOG = re.compile(
    r"(?P<ci>\S+):\d+ \[[^\]]+\] (?P<ft>\S+) (?P<b>\S+)/(?P<s>\S+) -?\d+/-?\d+/\+?\d+ "
    r"\+?\d+ (?P<ts>\S\S) (?P<conns>\d+/\d+/\d+/\d+/\+?\d+) (?P<queues>\d+/\d+)"
)

GLOBAL = """\
global
    log 127.0.0.1:{syslog} local0
    log-tag compat

defaults
    mode {mode}
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""


@pytest.fixture
def udp() -> Generator[SyslogListener, None, None]:
    listener = SyslogListener()
    yield listener
    listener.close()


def drain(udp: SyslogListener) -> None:
    udp.sock.setblocking(False)
    try:
        while True:
            udp.sock.recv(70000)
    except BlockingIOError:
        pass


def both(
    cfg: str, udp: SyslogListener, traffic: Callable[[], int], ports: list[int]
) -> tuple[list[str], list[str]]:
    """(HAProxy's lines, weir's lines) for `traffic`, which returns how many lines to read."""

    def run(_proc: object) -> list[str]:
        drain(udp)
        count = traffic()
        return [d.decode() for d in udp.recv_all(count)]

    return run_both(cfg, run, ports)


def split(line: str) -> tuple[dict[str, str], str]:
    m = HEADER.match(line)
    assert m is not None, line
    return {"pri": m["pri"], "tag": m["tag"]}, line[m.end() :].rstrip("\n")


def fields(regex: re.Pattern[str], line: str) -> dict[str, str]:
    head, msg = split(line)
    m = regex.fullmatch(msg)
    assert m is not None, msg
    return head | m.groupdict()


def raw(port: int, request: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(request)
        while c.recv(65536):
            pass


def test_httplog_matches_haproxy(http_backend, udp: SyslogListener) -> None:  # type: ignore[no-untyped-def]
    be = http_backend("s1")
    port, nosrv = free_port(), free_port()
    cfg = (
        GLOBAL.format(syslog=udp.port, mode="http")
        + f"""\
frontend fe
    bind 127.0.0.1:{port}
    log global
    option httplog
    capture request header Host len 8
    capture request header X-Missing len 8
    capture cookie SID len 10
    default_backend be

frontend fe_nosrv
    bind 127.0.0.1:{nosrv}
    log global
    option httplog
    default_backend be_empty

backend be
    server s1 {be.address}

backend be_empty
"""
    )

    def traffic() -> int:
        url = f"http://127.0.0.1:{port}"
        assert curl(url + "/a?b=1&c", "-H", "Host: h.example.com").status == 200
        assert curl(url + "/q%22uote#frag", "-b", "x=1; SIDE=abcdefghijklm").status == 200
        assert curl(url + "/post", "-d", "body=1").status == 200
        assert curl(f"http://127.0.0.1:{nosrv}/none").status == 503
        raw(port, b"GET /bad\x01 HTTP/1.1\r\nHost: t\r\n\r\n")
        return 5

    haproxy, weir = both(cfg, udp, traffic, [port, nosrv])
    for ours, theirs in zip(weir, haproxy, strict=True):
        assert fields(HTTPLOG, ours) == fields(HTTPLOG, theirs)
        a, b = Line(ours.rstrip("\n")), Line(theirs.rstrip("\n"))
        assert a.is_valid
        assert b.is_valid
        for name in (
            "client_ip", "frontend_name", "backend_name", "server_name", "status_code",
            "connections_active", "connections_frontend", "connections_backend",
            "connections_server", "retries", "queue_server", "queue_backend",
            "captured_request_headers", "captured_response_headers", "raw_http_request",
            "http_request_method", "http_request_path", "http_request_protocol",
        ):  # fmt: skip
            assert getattr(a, name) == getattr(b, name), (name, ours, theirs)
    # The lines themselves, for the reader of a failure: cookies, captures, bad request.
    assert fields(HTTPLOG, weir[1])["CC"] == "SIDE=abcde"
    assert fields(HTTPLOG, weir[0])["caps"] == "{h.exampl|} "
    assert fields(HTTPLOG, weir[4])["r"] == "<BADREQ>"


def test_httplog_clf_matches_haproxy(http_backend, udp: SyslogListener) -> None:  # type: ignore[no-untyped-def]
    be = http_backend("s1")
    port = free_port()
    cfg = (
        GLOBAL.format(syslog=udp.port, mode="http")
        + f"""\
frontend fe
    bind 127.0.0.1:{port}
    log global
    option httplog clf
    capture request header User-Agent len 12
    default_backend be

backend be
    server s1 {be.address}
"""
    )

    def traffic() -> int:
        assert curl(f"http://127.0.0.1:{port}/clf", "-A", "a b|c{d}").status == 200
        return 1

    haproxy, weir = both(cfg, udp, traffic, [port])
    masks = (
        r"\[\d\d/[A-Z][a-z]{2}/\d{4}:[\d:]{8} \+0000\]",  # the request date
        r'(?<=" 200 )\d+',  # bytes
        r'(?<="" "" )\d+ \d{3}',  # client port, accept milliseconds
        r'(?<="s1" )-?\d+ -?\d+ -?\d+ -?\d+ \d+',  # timers
    )
    theirs, ours = split(haproxy[0])[1], split(weir[0])[1]
    for mask in masks:
        theirs, ours = re.sub(mask, "X", theirs), re.sub(mask, "X", ours)
    assert ours == theirs
    assert ours == (
        '127.0.0.1 - - X "GET /clf HTTP/1.1" 200 X "" "" X "fe" "be" "s1" X ---- '
        '1 1 0 0 0 0 0 "" "" "a b#7Cc#7Bd#7D" '  # the separator before an empty %hsl
    )


def test_log_format_matches_haproxy(http_backend, udp: SyslogListener) -> None:  # type: ignore[no-untyped-def]
    be = http_backend("s1")
    port = free_port()
    fmt = (
        "%{+Q}o %ci %HM %HU %HP %HPO %HQ %HV %ST %b %s %ft %f %tsc %ts %[src] %[method] "
        "%[capture.req.hdr(0)] %{-Q}sq %bq %rc %ac %fc %bc %sc %CC %CS %hr %hrl %{+X}ci "
        "%{+E}[capture.req.hdr(1)] %si %H %lc %rt %ID %sslv %Th %% x  y"
    )
    cfg = (
        GLOBAL.format(syslog=udp.port, mode="http")
        + f"""\
frontend fe
    bind 127.0.0.1:{port}
    log global
    log-format "{fmt}"
    unique-id-format %{{+X}}o\\ %ci_%rt
    capture request header Host len 20
    capture request header X-Esc len 20
    capture cookie SID len 20
    default_backend be

backend be
    server s1 {be.address}
"""
    )

    def traffic() -> int:
        url = f"http://127.0.0.1:{port}"
        assert curl(url + "/p/q?r=1", "-H", 'X-Esc: a"b]c', "-b", "SID=1").status == 200
        assert curl(url + "/", "-H", "Host: other").status == 200
        assert curl(url + "/missing?", "-X", "DELETE").status == 200
        raw(port, b"GET /bad\x01 HTTP/1.1\r\nHost: t\r\n\r\n")
        return 4

    haproxy, weir = both(cfg, udp, traffic, [port])
    for ours, theirs in zip(weir, haproxy, strict=True):
        ours_head, ours_msg = split(ours)
        theirs_head, theirs_msg = split(theirs)
        assert ours_head == theirs_head
        # Ports are masked: %si names the backend's address, whose port is the same.
        assert ours_msg.split(" ") == theirs_msg.split(" "), (ours_msg, theirs_msg)


def test_tcplog_matches_haproxy(tcp_backend, udp: SyslogListener) -> None:  # type: ignore[no-untyped-def]
    be = tcp_backend("echo")
    port = free_port()
    cfg = (
        GLOBAL.format(syslog=udp.port, mode="tcp")
        + f"""\
frontend fe
    bind 127.0.0.1:{port}
    log global
    option tcplog
    default_backend be

backend be
    server s1 {be.address}
"""
    )

    def traffic() -> int:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.sendall(b"hello")
            assert c.recv(5) == b"hello"
        return 1

    haproxy, weir = both(cfg, udp, traffic, [port])
    assert fields(TCPLOG, weir[0]) == fields(TCPLOG, haproxy[0])
