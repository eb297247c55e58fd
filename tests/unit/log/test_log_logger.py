"""Loggers built from configurations, writing to pipes: filters, sampling, options, drops.

Every output here is a pipe given as `fd@N`, read back by the test: what a target receives
is exactly what the process would have written to stdout or stderr.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Generator
from pathlib import Path

import pytest

from tests.unit.log.fakes_log import Backend, Frontend, Req, Server, stream, utc
from weir.config.diagnostics import Diagnostics
from weir.config.loader import load
from weir.config.model import Config
from weir.log import formats
from weir.log.logger import Logger, LogHub
from weir.proto.h1 import parse_request_head, parse_response_head
from weir.stream import Stream

DEFAULTS = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""


class Pipe:
    def __init__(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)

    def read(self) -> bytes:
        chunks = []
        while True:
            try:
                data = os.read(self.r, 1 << 20)
            except BlockingIOError:
                break
            if not data:
                break
            chunks.append(data)
        return b"".join(chunks)

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


@pytest.fixture
def pipe() -> Generator[Callable[[], Pipe], None, None]:
    made: list[Pipe] = []

    def make() -> Pipe:
        p = Pipe()
        made.append(p)
        return p

    yield make
    for p in made:
        p.close()


def load_cfg(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not diags.has_errors(), [d.format(pid=1) for d in diags.items]
    return cfg


class Live:
    cur = 5


def hub_and_logger(tmp_path: Path, text: str, name: str = "fe") -> tuple[LogHub, Logger | None]:
    cfg = load_cfg(tmp_path, text)
    hub = LogHub(cfg, actconn=Live())
    px = cfg.frontends.get(name) or cfg.backends[name]
    return hub, hub.logger(px)


def ok_stream(**kw: object) -> Stream:
    s = stream(
        Frontend("fe"), client=("10.0.0.1", 4000), accept_date=utc(2026, 11, 23, 8, 0, 0, 5),
        backend=Backend("be"), server=Server("s1"), req=Req(b"GET", b"/"), request=0,
        head=1, queue=1, connect=2, response=5, close=6,
    )  # fmt: skip
    for k, v in kw.items():
        setattr(s, k, v)
    return s


F_GETPIPE_SZ = 1032  # Linux fcntl command

LINE = (
    "10.0.0.1:4000 [23/Nov/2026:08:00:00.005] fe be/s1 1/0/1/3/6 200 77 - - ---- 5/1/0/0/0 "
    '0/0 "GET / HTTP/1.1"'
)


def frontend(log_lines: str, options: str = "option httplog") -> str:
    return (
        DEFAULTS
        + f"""\
frontend fe
    bind 127.0.0.1:80
{log_lines}
    {options}
    default_backend be
backend be
    server s1 127.0.0.1:8080
"""
    )


def test_no_target_no_logger(tmp_path: Path) -> None:
    cfg = load_cfg(tmp_path, frontend("", "option httplog"))
    hub = LogHub(cfg)
    assert hub.logger(cfg.frontends["fe"]) is None
    assert hub.logger(cfg.backends["be"]) is None
    assert hub.global_logger is None


def test_httplog_line_reaches_the_descriptor(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    hub, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} format raw daemon"))
    assert lg is not None
    assert not lg.wants_accept
    lg.log(ok_stream())
    assert p.read() == LINE.encode() + b"\n"
    assert hub.sinks.sent == 1
    # The test's own descriptor keeps its blocking mode: weir writes through its own.
    assert os.get_blocking(p.w)


def test_header_uses_facility_and_level(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _hub, lg = hub_and_logger(
        tmp_path,
        "global\n    log-tag edge\n" + frontend(f"    log fd@{p.w} format priority local2"),
    )
    assert lg is not None
    lg.log(ok_stream())
    assert p.read() == b"<150>" + LINE.encode() + b"\n"


def test_listen_halves_share_one_logger(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    cfg = load_cfg(
        tmp_path,
        DEFAULTS
        + f"""\
listen li
    bind 127.0.0.1:80
    log fd@{p.w} format raw daemon
    option httplog
    server s1 127.0.0.1:8080
""",
    )
    hub = LogHub(cfg)
    assert hub.logger(cfg.frontends["li"]) is hub.logger(cfg.backends["li"]) is not None


def test_max_level_filters_before_formatting(
    tmp_path: Path, pipe: Callable[[], Pipe], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Stream] = []
    real = formats.http_line

    def counting(s: Stream, actconn: int) -> str:
        calls.append(s)
        return real(s, actconn)

    monkeypatch.setattr(formats, "http_line", counting)
    p = pipe()
    # The seed's second global target: warnings and worse only.
    _, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} format raw local1 warning"))
    assert lg is not None
    lg.log(ok_stream())
    assert p.read() == b""
    assert calls == []  # a line nobody receives is never built
    lg.send(4, "Proxy fe stopped (cumulated conns: FE: 1, BE: 0).")
    assert p.read() == b"Proxy fe stopped (cumulated conns: FE: 1, BE: 0).\n"


def test_min_level_raises_severe_messages(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} format short daemon debug err"))
    assert lg is not None
    lg.send(0, "emergency")
    lg.send(1, "alert")
    lg.send(5, "notice")
    assert p.read() == b"<3>emergency\n<3>alert\n<5>notice\n"


def test_log_separate_errors_raises_errors_to_err(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(
            f"    log fd@{p.w} format short daemon",
            "option httplog\n    option log-separate-errors",
        ),
    )
    assert lg is not None
    lg.log(ok_stream())
    lg.log(ok_stream(res_status=503))
    lg.log(ok_stream(termination="sD--"))
    lines = p.read().split(b"\n")
    assert [ln[:3] for ln in lines] == [b"<6>", b"<3>", b"<3>", b""]


def test_dontlog_normal_keeps_only_errors(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(
            f"    log fd@{p.w} format raw daemon", "option httplog\n    option dontlog-normal"
        ),
    )
    assert lg is not None
    lg.log(ok_stream())
    lg.log(ok_stream(retries=1))
    assert p.read().count(b"\n") == 1


def test_dontlognull_skips_streams_without_client_bytes(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(f"    log fd@{p.w} format raw daemon", "option httplog\n    option dontlognull"),
    )
    assert lg is not None
    lg.log(ok_stream(bytes_in=0))
    assert p.read() == b""
    lg.log(ok_stream(bytes_in=1))
    assert p.read() == LINE.encode() + b"\n"


def test_sampling_sends_the_chosen_positions(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} format raw sample 2,4-5:5 daemon"))
    assert lg is not None
    for i in range(1, 11):
        lg.send(6, f"line {i}")
    assert p.read().decode().split("\n")[:-1] == [
        "line 2",
        "line 4",
        "line 5",
        "line 7",
        "line 9",
        "line 10",
    ]


def test_level_filter_comes_before_the_sampling_slot(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path, frontend(f"    log fd@{p.w} format raw sample 1:2 daemon notice")
    )
    assert lg is not None
    lg.send(6, "info, filtered, takes no slot")
    lg.send(5, "a")
    lg.send(5, "b")
    lg.send(5, "c")
    assert p.read() == b"a\nc\n"


def test_tcp_mode_falls_back_to_tcplog(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(f"    log fd@{p.w} format raw daemon", "mode tcp\n    option httplog").replace(
            "server s1", "mode tcp\n    server s1"
        ),
    )
    assert lg is not None
    s = ok_stream(req=None, t_head=0.0, t_request=0.0, termination="--")
    lg.log(s)
    assert p.read() == (
        b"10.0.0.1:4000 [23/Nov/2026:08:00:00.005] fe be/s1 2/1/6 77 -- 5/1/0/0/0 0/0\n"
    )


def test_without_a_format_each_stream_logs_at_accept(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    _, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} format raw daemon", ""))
    assert lg is not None
    assert lg.wants_accept
    lg.log(ok_stream())  # nothing at the end in this mode
    lg.accept("10.0.0.1", 4000, "127.0.0.1", 80)
    assert p.read() == b"Connect from 10.0.0.1:4000 to 127.0.0.1:80 (fe/HTTP)\n"


def test_backend_logger_has_no_traffic_line(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    cfg = load_cfg(
        tmp_path,
        DEFAULTS
        + f"""\
backend be
    log fd@{p.w} format raw daemon
    server s1 127.0.0.1:8080
""",
    )
    lg = LogHub(cfg).logger(cfg.backends["be"])
    assert lg is not None
    assert not lg.wants_accept
    lg.log(ok_stream())
    lg.send(1, "Server be/s1 is DOWN")
    assert p.read() == b"Server be/s1 is DOWN\n"


def test_global_logger_and_global_tag(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    cfg = load_cfg(tmp_path, f"global\n    log fd@{p.w} local0\n    log-tag edge\n" + frontend(""))
    hub = LogHub(cfg)
    assert hub.global_logger is not None
    hub.global_logger.send(5, "hello\n")
    assert re.fullmatch(
        rb"<133>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d edge\[7583\]: hello\n", p.read()
    )


def test_lines_are_cut_to_the_largest_len(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    small, big = pipe(), pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(
            f"    log fd@{small.w} format raw daemon\n    log fd@{big.w} len 4096 format raw daemon"
        ),
    )
    assert lg is not None
    lg.send(6, "x" * 5000)
    # The message buffer holds 4095 bytes (largest len - 1); each descriptor target keeps
    # len - 1 bytes before its LF.
    assert big.read() == b"x" * 4095 + b"\n"
    assert small.read() == b"x" * 1023 + b"\n"


def test_full_pipe_drops_and_counts_without_blocking(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    hub, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} len 65535 format raw daemon"))
    assert lg is not None
    size = fcntl.fcntl(p.w, F_GETPIPE_SZ)
    line = "y" * 60000
    for _ in range(size // 60000 + 3):
        lg.send(6, line)  # would block forever on a blocking descriptor
    assert hub.sinks.dropped >= 1
    data = p.read()
    hub.sinks.flush()  # the tail of a line the kernel took only in part
    data += p.read()
    # What got through is whole lines, never a torn one followed by another.
    assert data.split(b"\n")[-1] == b""
    assert all(chunk == line.encode() for chunk in data.split(b"\n")[:-1])
    assert hub.sinks.sent + hub.sinks.dropped == size // 60000 + 3
    hub.close()
    assert os.get_blocking(p.w)


def test_a_partial_write_is_completed_before_the_next_line(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    hub, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} len 65535 format raw daemon"))
    assert lg is not None
    size = fcntl.fcntl(p.w, F_GETPIPE_SZ)
    os.write(p.w, b"#" * (size - 8192))  # two free pages left
    lg.send(6, "z" * 9999)  # the kernel takes two pages; the rest waits in the sink
    assert hub.sinks.dropped == 0
    first = p.read()
    assert 0 < len(first) - (size - 8192) < 10000
    lg.send(6, "next")
    rest = p.read()
    assert (first + rest).lstrip(b"#") == b"z" * 9999 + b"\n" + b"next\n"
    assert hub.sinks.sent == 2


# ---- log formats, captures, structured data, logasap, counters ---------------------------


def test_log_format_line_reaches_the_descriptor(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path, frontend(f"    log fd@{p.w} format raw daemon", 'log-format "%ci %{+Q}r %lc"')
    )
    assert lg is not None
    lg.log(ok_stream())
    lg.log(ok_stream())
    assert p.read() == b'10.0.0.1 "GET / HTTP/1.1" 0\n10.0.0.1 "GET / HTTP/1.1" 1\n'


def test_httplog_json_line(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path, frontend(f"    log fd@{p.w} format raw daemon", "option httplog json")
    )
    assert lg is not None
    lg.log(ok_stream())
    obj = json.loads(p.read())
    assert obj["client_ip"] == "10.0.0.1"
    assert obj["status_code"] == 200
    assert obj["http_request"] == "GET / HTTP/1.1"


def test_request_captures_are_taken_when_the_line_is_logged(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    hub, lg = hub_and_logger(
        tmp_path,
        frontend(
            f"    log fd@{p.w} format raw daemon\n    capture request header Host len 3\n"
            "    capture cookie S len 9",
            "option httplog",
        ),
    )
    assert lg is not None
    assert lg.captures is hub.captures(hub._cfg.frontends["fe"])
    found = parse_request_head(b"GET / HTTP/1.1\r\nHost: example\r\nCookie: SID=42\r\n\r\n")
    assert found is not None
    lg.log(ok_stream(req=found[0]))
    assert p.read() == (
        b"10.0.0.1:4000 [23/Nov/2026:08:00:00.005] fe be/s1 1/0/1/3/6 200 77 SID=42 - ---- "
        b'5/1/0/0/0 0/0 {exa} "GET / HTTP/1.1"\n'
    )


def test_structured_data_goes_to_rfc5424_targets_only(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p, q = pipe(), pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(
            f"    log fd@{p.w} format rfc5424 local0\n    log fd@{q.w} format raw local0\n"
            '    log-format-sd "[ex@1 m=\\"%[method]\\"]   "',
            'log-format "%ci %[method]"',
        ),
    )
    assert lg is not None
    lg.log(ok_stream())
    # HAProxy: `<134>1 2026-…+00:00 - haproxy 3189 - [ex@1 m="GET"] 127.0.0.1 GET`
    assert re.fullmatch(rb'<134>1 \S+ - weir 7583 - \[ex@1 m="GET"\] 10\.0\.0\.1 GET\n', p.read())
    assert q.read() == b"10.0.0.1 GET\n"


def test_empty_structured_data_prints_a_dash(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(
            f'    log fd@{p.w} format rfc5424 local0\n    log-format-sd "   "', 'log-format "x"'
        ),
    )
    assert lg is not None
    lg.log(ok_stream())
    assert re.fullmatch(rb"<134>1 \S+ - weir 7583 - - x\n", p.read())


def test_an_empty_line_is_not_sent_and_takes_no_sampling_slot(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(
            f"    log fd@{p.w} format raw sample 2:2 daemon\n    capture request header H len 3",
            'log-format "%hr"',
        ),
    )
    assert lg is not None
    found = parse_request_head(b"GET / HTTP/1.1\r\nHost: h\r\nH: v\r\n\r\n")
    assert found is not None
    lg.log(ok_stream(req=None))  # no request: nothing printed, nothing sent, no slot
    lg.log(ok_stream(req=found[0]))  # slot 1 of 2: not sampled
    lg.log(ok_stream(req=found[0]))  # slot 2 of 2: sent
    assert p.read() == b"{v}\n"


def test_logasap_logs_at_the_response_and_only_once(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    hub, lg = hub_and_logger(
        tmp_path,
        frontend(f"    log fd@{p.w} format raw daemon", "option httplog\n    option logasap"),
    )
    assert lg is not None
    caps = hub.captures(hub._cfg.frontends["fe"])
    assert caps is not None
    s = ok_stream(bytes_out=0)
    found = parse_response_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
    assert found is not None
    caps.response(s, found[0])
    assert s.logged
    assert p.read() == (
        b"10.0.0.1:4000 [23/Nov/2026:08:00:00.005] fe be/s1 1/0/1/3/+6 200 +38 - - ---- "
        b'5/1/0/0/0 0/0 "GET / HTTP/1.1"\n'
    )
    lg.log(s)
    assert p.read() == b""


def test_logasap_without_the_session_hook_logs_at_the_end(
    tmp_path: Path, pipe: Callable[[], Pipe]
) -> None:
    p = pipe()
    _, lg = hub_and_logger(
        tmp_path,
        frontend(f"    log fd@{p.w} format raw daemon", "option httplog\n    option logasap"),
    )
    assert lg is not None
    lg.log(ok_stream())
    assert b" 1/0/1/3/+6 200 +77 " in p.read()


def test_no_captures_without_anything_to_capture(tmp_path: Path) -> None:
    cfg = load_cfg(tmp_path, frontend("    log 127.0.0.1 local0"))
    assert LogHub(cfg).captures(cfg.frontends["fe"]) is None


def test_unique_id_without_log_targets_still_has_captures(tmp_path: Path) -> None:
    cfg = load_cfg(tmp_path, frontend("    unique-id-format %rt\n    unique-id-header X-ID", ""))
    hub = LogHub(cfg)
    assert hub.logger(cfg.frontends["fe"]) is None
    caps = hub.captures(cfg.frontends["fe"])
    assert caps is not None
    s = ok_stream(uniq_id=7)
    assert caps.id_line(s) == b"X-ID: 7\r\n"


def test_info_reports_the_counters(tmp_path: Path, pipe: Callable[[], Pipe]) -> None:
    p = pipe()
    hub, lg = hub_and_logger(tmp_path, frontend(f"    log fd@{p.w} format raw daemon"))
    assert lg is not None
    lg.send(6, "x")
    assert hub.info() == [("DroppedLogs", 0), ("FailedLogs", 0), ("SentLogs", 1)]
