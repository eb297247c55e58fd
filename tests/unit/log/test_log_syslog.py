"""Syslog framing per format, byte for byte.

The expected headers are the datagrams HAProxy 2.6.12 sent in a run with the same settings
(process id 7583 or 16454, TZ=UTC), captured with a UDP socket; only the time stamps'
values come from the test.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from tests.unit.log.fakes_log import utc
from weir.log import syslog
from weir.log.syslog import (
    FACILITIES,
    LEVELS,
    Format,
    Framer,
    Level,
    facility_code,
    iso_time,
    legacy_time,
    level_code,
    resolve_format,
)

MSG = (
    b"127.0.0.1:34334 [23/Nov/2026:22:22:08.862] fe_fmt be_http/s1 0/0/0/0/0 200 77 - - ---- "
    b'1/1/0/0/0 0/0 "GET /fmt HTTP/1.1"'
)
LOCAL0, LOCAL1, LOCAL2, LOCAL3, LOCAL4 = 16, 17, 18, 19, 20
INFO = int(Level.INFO)


def now_at(usec: int) -> float:
    return utc(2026, 11, 23, 22, 22, 8) - 0.0005 + usec / 1_000_000


def test_names_and_codes_match_syslog() -> None:
    assert len(FACILITIES) == 24
    assert facility_code("kern") == 0
    assert facility_code("local0") == 16
    assert facility_code("local7") == 23
    assert facility_code("auth2") == 10
    assert facility_code("nope") is None
    assert LEVELS == ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
    assert level_code("info") == 6
    assert level_code("err") == 3
    assert level_code("error") is None


def test_unspecified_format_is_local_unless_a_host_name_is_sent() -> None:
    assert resolve_format("", None) is Format.LOCAL
    assert resolve_format("", "myhost") is Format.RFC3164
    assert resolve_format("rfc3164", None) is Format.RFC3164
    assert resolve_format("raw", "myhost") is Format.RAW


@pytest.mark.parametrize(
    ("fmt", "facility", "usec", "expected"),
    [
        # HAProxy's default (no `format`): no host name field.
        (Format.LOCAL, LOCAL0, 862688, b"<134>Nov 23 22:22:08 haproxy[7583]: "),
        # rfc3164 asked for explicitly, without log-send-hostname: "localhost".
        (Format.RFC3164, LOCAL1, 862688, b"<142>Nov 23 22:22:08 localhost haproxy[7583]: "),
        (
            Format.RFC5424,
            LOCAL2,
            862688,
            b"<150>1 2026-11-23T22:22:08.862688+00:00 - haproxy 7583 - - ",
        ),
        (Format.SHORT, LOCAL3, 862688, b"<6>"),
        (Format.PRIORITY, LOCAL4, 862688, b"<166>"),
        (Format.TIMED, 21, 866865, b"<6>2026-11-23T22:22:08.866865+00:00 "),
        (Format.ISO, 22, 866873, b"2026-11-23T22:22:08.866873+00:00 "),
        (Format.RAW, 23, 0, b""),
    ],
)
def test_headers_per_format_as_haproxy_sends_them(
    fmt: Format, facility: int, usec: int, expected: bytes
) -> None:
    framer = Framer(fmt, facility, "haproxy", None)
    assert framer.header(INFO, now_at(usec)) == expected
    assert framer.frame(INFO, MSG, now_at(usec), 1024) == expected + MSG + b"\n"


def test_host_name_and_tag_from_log_send_hostname(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog, "_pid", "16454")
    now = utc(2026, 11, 23, 22, 22, 43) - 0.0005 + 0.475519
    host = Framer(resolve_format("", "myhost"), LOCAL0, "hap2", "myhost")
    assert host.header(INFO, now) == b"<134>Nov 23 22:22:43 myhost hap2[16454]: "
    rfc5424 = Framer(Format.RFC5424, LOCAL0, "hap2", "myhost")
    assert rfc5424.header(INFO, now) == (
        b"<134>1 2026-11-23T22:22:43.475519+00:00 myhost hap2 16454 - - "
    )


def test_priority_combines_facility_and_level() -> None:
    framer = Framer(Format.PRIORITY, LOCAL0, "t", None)
    assert framer.header(int(Level.ALERT), 0.0) == b"<129>"
    assert framer.header(int(Level.WARNING), 0.0) == b"<132>"
    # `short` and `timed` carry the level alone.
    assert Framer(Format.SHORT, 23, "t", None).header(3, 0.0) == b"<3>"
    assert Framer(Format.TIMED, 23, "t", None).header(3, 0.0).startswith(b"<3>1970-01-01T")


def test_datagram_keeps_len_bytes_then_lf() -> None:
    # HAProxy 2.6, `log 127.0.0.1:27522 len 80 local0 debug emerg`: 80 bytes, then LF.
    framer = Framer(Format.LOCAL, LOCAL0, "haproxy", None)
    data = framer.frame(INFO, MSG, now_at(0), 80)
    assert (
        data
        == b"<134>Nov 23 22:22:08 haproxy[7583]: 127.0.0.1:34334 [23/Nov/2026:22:22:08.862] f\n"
    )
    assert len(data) == 81


def test_descriptor_line_keeps_len_minus_one_bytes_then_lf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # HAProxy 2.6, `log stderr len 80 local0` with log-send-hostname myhost, log-tag hap2.
    monkeypatch.setattr(syslog, "_pid", "15453")
    framer = Framer(Format.RFC3164, LOCAL0, "hap2", "myhost")
    msg = b"127.0.0.1:49492 [23/Nov/2026:22:22:33.278] fe_stdout be_http/s1 0/0/0/0/0 200 77"
    data = framer.frame(INFO, msg, utc(2026, 11, 23, 22, 22, 33), 79)
    assert (
        data == b"<134>Nov 23 22:22:33 myhost hap2[15453]: 127.0.0.1:49492 [23/Nov/2026:22:22:33.\n"
    )
    assert len(data) == 80


def test_legacy_time_pads_the_day_with_a_space() -> None:
    assert legacy_time(int(utc(2026, 3, 5, 7, 8, 9))) == "Mar  5 07:08:09"
    assert legacy_time(int(utc(2026, 12, 31, 23, 59, 59))) == "Dec 31 23:59:59"


def test_iso_time_carries_the_local_offset(set_tz: Callable[[str], None]) -> None:
    t = utc(2026, 11, 23, 22, 22, 8) - 0.0005 + 0.000042
    set_tz("XYZ-1")  # one hour east of UTC
    assert iso_time(t) == "2026-11-23T23:22:08.000042+01:00"
    set_tz("ABC+5:30")  # five and a half hours west
    assert iso_time(t) == "2026-11-23T16:52:08.000042-05:30"
    assert legacy_time(int(t)) == "Nov 23 16:52:08"


def test_header_cache_follows_the_second_and_the_level() -> None:
    framer = Framer(Format.LOCAL, LOCAL0, "weir", None)
    a = framer.header(INFO, now_at(1))
    assert framer.header(INFO, now_at(999_000)) is a  # same second, same level: cached
    assert framer.header(3, now_at(2)) == b"<131>Nov 23 22:22:08 weir[7583]: "
    assert framer.header(INFO, now_at(1) + 1.0) == b"<134>Nov 23 22:22:09 weir[7583]: "


def test_pid_is_refreshed_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog, "_pid", "1")
    syslog._refresh_pid()  # what the at-fork hook runs in the child
    assert syslog._pid == str(os.getpid())
