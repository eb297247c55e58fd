"""Lines sent through weir's sinks arrive at real syslog sockets on this machine.

A UDP listener on 127.0.0.1 and a UNIX datagram socket stand in for the syslog daemon;
the configuration is loaded with the real loader, the logger is the one `LogHub` builds.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path

import pytest

from tests.scenarios.log.syslog_listener import SyslogListener
from tests.unit.log.fakes_log import Backend, Frontend, Req, Server, stream, utc
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.config.model import Config
from weir.log import LogHub
from weir.stream import Stream

DEFAULTS = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""

MESSAGE = (
    b"10.1.2.3:40000 [23/Nov/2026:08:00:00.005] fe be/s1 1/0/1/3/6 200 77 - - ---- 0/1/0/0/0 "
    b'0/0 "GET /x HTTP/1.1"'
)


def load_cfg(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors(), [d.format(pid=1) for d in diags.items]
    return cfg


def sample_stream() -> Stream:
    return stream(
        Frontend("fe"), client=("10.1.2.3", 40000), accept_date=utc(2026, 11, 23, 8, 0, 0, 5),
        backend=Backend("be"), server=Server("s1"), req=Req(b"GET", b"/x"), request=0,
        head=1, queue=1, connect=2, response=5, close=6,
    )  # fmt: skip


def seed_config(port: int, extra_global: str = "") -> str:
    # The introduction's logging set-up, pointed at the test's listener.
    return (
        f"""\
global
    log 127.0.0.1:{port} local0 info
    log 127.0.0.1:{port} local1 warning
{extra_global}"""
        + DEFAULTS
        + """\
    log global
    option httplog
frontend fe
    bind 127.0.0.1:80
    default_backend be
backend be
    server s1 127.0.0.1:8080
"""
    )


def test_udp_listener_receives_the_httplog_line(tmp_path: Path, syslog_udp: SyslogListener) -> None:
    cfg = load_cfg(tmp_path, seed_config(syslog_udp.port))
    hub = LogHub(cfg)
    lg = hub.logger(cfg.frontends["fe"])
    assert lg is not None
    lg.log(sample_stream())
    data = syslog_udp.recv()
    m = re.fullmatch(rb"<134>([A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d) weir\[(\d+)\]: (.*)\n", data)
    assert m is not None, data
    assert int(m[2]) == os.getpid()
    assert m[3] == MESSAGE
    # The `warning` target (local1) got nothing: a server event reaches both.
    lg.send(1, "Server be/s1 is DOWN")
    got = sorted(syslog_udp.recv_all(2))
    assert [g[:5] for g in got] == [b"<129>", b"<137>"]
    assert all(g.endswith(b": Server be/s1 is DOWN\n") for g in got)
    assert hub.sinks.sent == 3
    hub.close()


def test_rfc5424_with_host_name_over_udp(tmp_path: Path, syslog_udp: SyslogListener) -> None:
    cfg = load_cfg(
        tmp_path,
        DEFAULTS
        + f"""\
frontend fe
    bind 127.0.0.1:80
    log 127.0.0.1:{syslog_udp.port} format rfc5424 local2
    log-tag edge
    option httplog
    default_backend be
backend be
    server s1 127.0.0.1:8080
""",
    )
    cfg.global_.log_send_hostname = "lb1"
    hub = LogHub(cfg)
    lg = hub.logger(cfg.frontends["fe"])
    assert lg is not None
    lg.log(sample_stream())
    data = syslog_udp.recv()
    m = re.fullmatch(
        rb"<150>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00 lb1 edge (\d+) - - (.*)\n", data
    )
    assert m is not None, data
    assert m[2] == MESSAGE
    hub.close()


def test_udp_over_ipv6_loopback(tmp_path: Path) -> None:
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        sock.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with sock:
        port = sock.getsockname()[1]
        cfg = load_cfg(tmp_path, f"global\n    log udp6@[::1]:{port} format raw daemon\n" + DEFAULTS
                       + "backend be\n    server s1 127.0.0.1:8080\n")  # fmt: skip
        hub = LogHub(cfg)
        assert hub.global_logger is not None
        hub.global_logger.send(5, "over v6")
        sock.settimeout(5)
        assert sock.recv(100) == b"over v6\n"
        hub.close()


def test_unix_datagram_socket_receives_lines(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        cfg = load_cfg(tmp_path, f"global\n    log {path} format short daemon\n" + DEFAULTS
                       + "backend be\n    server s1 127.0.0.1:8080\n")  # fmt: skip
        hub = LogHub(cfg)
        assert hub.global_logger is not None
        hub.global_logger.send(4, "Proxy be stopped (cumulated conns: FE: 0, BE: 0).")
        sock.settimeout(5)
        assert sock.recv(200) == b"<4>Proxy be stopped (cumulated conns: FE: 0, BE: 0).\n"
        hub.close()


def test_missing_syslog_socket_is_reported_once_and_never_raises(tmp_path: Path) -> None:
    path = str(tmp_path / "nobody-listens.sock")
    alerts: list[str] = []
    cfg = load_cfg(tmp_path, f"global\n    log unix@{path} local0\n" + DEFAULTS
                   + "backend be\n    server s1 127.0.0.1:8080\n")  # fmt: skip
    hub = LogHub(cfg, alert=alerts.append)
    assert hub.global_logger is not None
    hub.global_logger.send(5, "one")
    hub.global_logger.send(5, "two")
    assert hub.sinks.failed == 2
    assert len(alerts) == 1
    assert path in alerts[0]
    assert "errno=" in alerts[0]
    hub.close()


def test_full_receive_buffer_drops_instead_of_blocking(tmp_path: Path) -> None:
    path = str(tmp_path / "slow.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(path)
        cfg = load_cfg(tmp_path, f"global\n    log {path} len 8000 format raw daemon\n"
                       + DEFAULTS + "backend be\n    server s1 127.0.0.1:8080\n")  # fmt: skip
        hub = LogHub(cfg)
        assert hub.global_logger is not None
        for _ in range(2000):  # nobody reads: the socket fills up
            hub.global_logger.send(6, "x" * 7000)
        assert hub.sinks.dropped > 0
        assert hub.sinks.sent + hub.sinks.dropped == 2000
        hub.close()
