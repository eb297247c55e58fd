"""weir's log lines against HAProxy 2.6's own, for the same values.

HAProxy runs on 127.0.0.1 with `option httplog`, `option httplog clf`, `option tcplog`
and no format at all, logging to a UDP listener. Each datagram it sends is parsed into
the values it carries (addresses, dates, timers, counts, names, process id, send time);
a Stream holding those values goes through weir's formatter and framer, and the bytes must
be the same. Timings are read back from HAProxy's line, so nothing here depends on how
fast the machine is. Skipped when HAProxy is not installed.
"""

from __future__ import annotations

import calendar
import re
import socket
import time

import pytest

from tests.helpers.ports import free_port
from tests.scenarios.log.syslog_listener import SyslogListener
from tests.unit.log.fakes_log import T0, Backend, Counters, Frontend, Req, Server, at
from weir.log import formats, syslog
from weir.log.syslog import Format, Framer
from weir.stream import Stream

HEADER = re.compile(
    rb"<134>(?P<when>[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d) (?P<tag>[^ \[]+)\[(?P<pid>\d+)\]: "
    rb"(?P<msg>.*)\n"
)
HTTP = re.compile(
    r"(?P<ip>\S+):(?P<port>\d+) \[(?P<date>[^\]]+)\] (?P<fe>\S+) (?P<be>\S+)/(?P<srv>\S+) "
    r"(?P<TR>-?\d+)/(?P<Tw>-?\d+)/(?P<Tc>-?\d+)/(?P<Tr>-?\d+)/(?P<Ta>\d+) (?P<st>-?\d+) "
    r"(?P<B>\d+) (?P<CC>\S+) (?P<CS>\S+) (?P<ts>\S{4}) "
    r"(?P<ac>\d+)/(?P<fc>\d+)/(?P<bc>\d+)/(?P<sc>\d+)/(?P<rc>\d+) (?P<sq>\d+)/(?P<bq>\d+) "
    r'"(?P<r>[^"]*)"'
)
CLF = re.compile(
    r'(?P<ip>\S+) - - \[(?P<date>[^ ]+) \+0000\] "(?P<r>[^"]*)" (?P<st>-?\d+) (?P<B>\d+) "" "" '
    r'(?P<port>\d+) (?P<ms>\d{3}) "(?P<fe>[^"]+)" "(?P<be>[^"]+)" "(?P<srv>[^"]+)" '
    r"(?P<TR>-?\d+) (?P<Tw>-?\d+) (?P<Tc>-?\d+) (?P<Tr>-?\d+) (?P<Ta>\d+) (?P<ts>\S{4}) "
    r"(?P<ac>\d+) (?P<fc>\d+) (?P<bc>\d+) (?P<sc>\d+) (?P<rc>\d+) (?P<sq>\d+) (?P<bq>\d+) "
    r'"" "" '
)
TCP = re.compile(
    r"(?P<ip>\S+):(?P<port>\d+) \[(?P<date>[^\]]+)\] (?P<fe>\S+) (?P<be>\S+)/(?P<srv>\S+) "
    r"(?P<Tw>-?\d+)/(?P<Tc>-?\d+)/(?P<Tt>\d+) (?P<B>\d+) (?P<ts>\S\S) "
    r"(?P<ac>\d+)/(?P<fc>\d+)/(?P<bc>\d+)/(?P<sc>\d+)/(?P<rc>\d+) (?P<sq>\d+)/(?P<bq>\d+)"
)
MONTHS = {m: i + 1 for i, m in enumerate(formats._MONTHS)}


def epoch(date: str, ms: int | None = None) -> float:
    """`23/Nov/2026:22:22:06.345` (UTC) → seconds since the epoch, half a ms inside."""
    day, mon, rest = date.split("/")
    year, hh, mm, ss = rest.split(":")
    sec, _, frac = ss.partition(".")
    if ms is None:
        ms = int(frac) if frac else 0
    return (
        calendar.timegm((int(year), MONTHS[mon], int(day), int(hh), int(mm), int(sec)))
        + (ms + 0.5) / 1000.0
    )


def header_time(when: bytes, year: int) -> float:
    mon, day, hms = when.decode().split()
    hh, mm, ss = hms.split(":")
    return float(calendar.timegm((year, MONTHS[mon], int(day), int(hh), int(mm), int(ss))))


def parts(m: re.Match[str]) -> tuple[Frontend, Backend | None, Server | None, Req | None]:
    fe = Frontend(m["fe"], Counters(int(m["fc"])))
    be = Backend(m["be"], Counters(int(m["bc"]))) if m["be"] != m["fe"] else None
    srv = Server(m["srv"], int(m["sc"])) if m["srv"] != "<NOSRV>" else None
    req = None
    if m["r"] != "<BADREQ>":
        method, target, version = m["r"].encode().split(b" ")
        req = Req(method, target, version)
    return fe, be, srv, req


def http_stream(m: re.Match[str], accept_date: float) -> Stream:
    """A Stream whose timers print as the ones in `m` (the request's first byte at 0)."""
    fe, be, srv, req = parts(m)
    s = Stream(m["ip"], int(m["port"]), fe)
    s.backend, s.server, s.req = be, srv, req
    s.accept_date = accept_date
    s.t_accept = T0
    s.t_request = at(0)
    tr, tw, tc, t_r = int(m["TR"]), int(m["Tw"]), int(m["Tc"]), int(m["Tr"])
    if tr >= 0:
        s.t_head = at(tr)
    if tw >= 0:
        s.t_queue = at(tr + tw)
    if tc >= 0:
        s.t_connect = at(tr + tw + tc)
    if t_r >= 0:
        s.t_response = at(tr + tw + tc + t_r)
    s.t_close = at(int(m["Ta"]))
    s.res_status, s.bytes_out, s.termination = int(m["st"]), int(m["B"]), m["ts"]
    s.retries, s.queue_srv, s.queue_be = int(m["rc"]), int(m["sq"]), int(m["bq"])
    return s


def exchange(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(request)
        out = b""
        while chunk := c.recv(65536):
            out += chunk
        return out


def get(port: int, path: str) -> bytes:
    return exchange(port, f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())


@pytest.fixture
def haproxy_logs(haproxy, http_backend, syslog_udp: SyslogListener):  # type: ignore[no-untyped-def]
    be = http_backend("s1")
    ports = {name: free_port() for name in ("http", "clf", "tcp", "nosrv", "plain")}
    haproxy(
        f"""\
global
    log 127.0.0.1:{syslog_udp.port} local0

defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s

frontend fe_http
    bind 127.0.0.1:{ports["http"]}
    log global
    option httplog
    default_backend be_http

frontend fe_clf
    bind 127.0.0.1:{ports["clf"]}
    log global
    option httplog clf
    default_backend be_http

frontend fe_tcp
    mode tcp
    bind 127.0.0.1:{ports["tcp"]}
    log global
    option tcplog
    default_backend be_tcp

frontend fe_nosrv
    bind 127.0.0.1:{ports["nosrv"]}
    log global
    option httplog
    default_backend be_empty

frontend fe_plain
    bind 127.0.0.1:{ports["plain"]}
    log global
    default_backend be_http

backend be_http
    server s1 {be.address}

backend be_tcp
    mode tcp
    server s1 {be.address}

backend be_empty
""",
        wait_ports=list(ports.values()),
    )
    return ports, syslog_udp


def split(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[float, str]:
    """Check the header against weir's framer; return (send time, message)."""
    m = HEADER.fullmatch(data)
    assert m is not None, data
    monkeypatch.setattr(syslog, "_pid", m["pid"].decode())
    when = header_time(m["when"], time.gmtime().tm_year)
    framer = Framer(Format.LOCAL, 16, m["tag"].decode(), None)
    assert framer.frame(6, m["msg"], when, 1024) == data
    return when, m["msg"].decode()


def test_httplog_lines_match(haproxy_logs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ports, udp = haproxy_logs
    get(ports["http"], "/a?b=c")
    get(ports["nosrv"], "/nosrv")
    exchange(ports["http"], b"GET /bad\x01 HTTP/1.1\r\nHost: t\r\n\r\n")
    for data in udp.recv_all(3):
        _, msg = split(data, monkeypatch)
        m = HTTP.fullmatch(msg)
        assert m is not None, msg
        s = http_stream(m, epoch(m["date"]))
        assert formats.http_line(s, int(m["ac"])) == msg


def test_clf_line_matches(haproxy_logs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ports, udp = haproxy_logs
    get(ports["clf"], "/clf")
    [data] = udp.recv_all(1)
    _, msg = split(data, monkeypatch)
    m = CLF.fullmatch(msg)
    assert m is not None, msg
    s = http_stream(m, epoch(m["date"], int(m["ms"])))
    assert formats.clf_line(s, int(m["ac"])) == msg


def test_tcplog_line_matches(haproxy_logs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ports, udp = haproxy_logs
    get(ports["tcp"], "/tcp")
    [data] = udp.recv_all(1)
    _, msg = split(data, monkeypatch)
    m = TCP.fullmatch(msg)
    assert m is not None, msg
    fe = Frontend(m["fe"], Counters(int(m["fc"])))
    s = Stream(m["ip"], int(m["port"]), fe)
    s.backend = Backend(m["be"], Counters(int(m["bc"])))
    s.server = Server(m["srv"], int(m["sc"]))
    s.accept_date = epoch(m["date"])
    s.t_accept = T0
    # HAProxy prints Tw as t_queue + 1 in TCP mode (no request head): undo that here.
    tw, tc = int(m["Tw"]), int(m["Tc"])
    queue = tw - 1
    s.t_queue = at(queue)
    s.t_connect = at(queue + tc)
    s.t_close = at(int(m["Tt"]))
    s.bytes_out, s.termination = int(m["B"]), m["ts"]
    s.retries, s.queue_srv, s.queue_be = int(m["rc"]), int(m["sq"]), int(m["bq"])
    assert formats.tcp_line(s, int(m["ac"])) == msg


def test_connect_line_matches(haproxy_logs, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    ports, udp = haproxy_logs
    with socket.create_connection(("127.0.0.1", ports["plain"]), timeout=5) as c:
        client_port = c.getsockname()[1]
        c.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        while c.recv(65536):
            pass
    [data] = udp.recv_all(1)
    _, msg = split(data, monkeypatch)
    assert msg == formats.connect_line(
        "127.0.0.1", client_port, "127.0.0.1", ports["plain"], frontend="fe_plain", http=True
    )
