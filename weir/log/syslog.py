"""Syslog framing: facilities, levels, and the header each `format` puts before a message.

Pure: values and bytes in, bytes out; the caller passes the wall-clock time. The headers
are HAProxy 2.6's, byte for byte (checked against its binary, see tests/unit/log):

    local     <PRI>Mmm dd hh:mm:ss TAG[PID]: MSG          (default without a host name)
    rfc3164   <PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG     (default with log-send-hostname;
                                                          HOST is "localhost" when unset)
    rfc5424   <PRI>1 ISOTIME HOST TAG PID - SD MSG        (HOST "-" when unset; SD is
                                                          log-format-sd's, or "-")
    priority  <PRI>MSG
    short     <LEVEL>MSG
    timed     <LEVEL>ISOTIME MSG
    iso       ISOTIME MSG
    raw       MSG

PRI is facility * 8 + level. The legacy timestamp is local time with a space-padded day;
ISOTIME is local time with microseconds and the UTC offset, `2026-11-23T21:58:40.123456+01:00`.
Every message ends with one LF. A datagram keeps at most `len` bytes before that LF; a file
descriptor line keeps at most `len - 1` (HAProxy reserves the LF inside the limit there).
"""

from __future__ import annotations

import os
import time
from enum import IntEnum, StrEnum

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
    "uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip


class Level(IntEnum):
    """Syslog severities; a lower number is more severe."""

    EMERG = 0
    ALERT = 1
    CRIT = 2
    ERR = 3
    WARNING = 4
    NOTICE = 5
    INFO = 6
    DEBUG = 7


LEVELS = tuple(lv.name.lower() for lv in Level)


class Format(StrEnum):
    """A target's `format` keyword. UNSPECIFIED is what a `log` line without `format` gets."""

    UNSPECIFIED = ""
    LOCAL = "local"
    RFC3164 = "rfc3164"
    RFC5424 = "rfc5424"
    PRIORITY = "priority"
    SHORT = "short"
    TIMED = "timed"
    ISO = "iso"
    RAW = "raw"


FORMAT_NAMES = tuple(f.value for f in Format if f is not Format.UNSPECIFIED)


def facility_code(name: str) -> int | None:
    try:
        return FACILITIES.index(name)
    except ValueError:
        return None


def level_code(name: str) -> int | None:
    try:
        return LEVELS.index(name)
    except ValueError:
        return None


def resolve_format(fmt: str, hostname: str | None) -> Format:
    """The format a target really uses: an unspecified one is `local`, or `rfc3164` when
    the process sends a host name (`log-send-hostname`), as HAProxy decides."""
    f = Format(fmt)
    if f is Format.UNSPECIFIED:
        return Format.RFC3164 if hostname else Format.LOCAL
    return f


# ---- the process id, kept current across fork() without a system call per line ---------

_pid = str(os.getpid())


def _refresh_pid() -> None:
    global _pid
    _pid = str(os.getpid())


os.register_at_fork(after_in_child=_refresh_pid)


# ---- time stamps ---------------------------------------------------------------------------

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def legacy_time(sec: int) -> str:
    """`Nov  3 21:58:40`: RFC 3164's timestamp in local time (day padded with a space)."""
    tm = time.localtime(sec)
    return (
        f"{_MONTHS[tm.tm_mon - 1]} {tm.tm_mday:2d} {tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}"
    )


def _iso_parts(sec: int) -> tuple[str, str]:
    """(`2026-11-23T21:58:40`, `+01:00`) for a second, in local time."""
    tm = time.localtime(sec)
    off = tm.tm_gmtoff or 0
    sign = "-" if off < 0 else "+"
    minutes = (abs(off) % 86400) // 60
    return (
        f"{tm.tm_year:04d}-{tm.tm_mon:02d}-{tm.tm_mday:02d}T"
        f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}",
        f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
    )


def iso_time(now: float) -> str:
    """`2026-11-23T21:58:40.123456+01:00`: local time, microseconds, UTC offset."""
    sec = int(now)
    # Rounded, not truncated: a float time stamp sits a fraction of a microsecond off.
    usec = min(999_999, round((now - sec) * 1_000_000))
    date, offset = _iso_parts(sec)
    return f"{date}.{usec:06d}{offset}"


class Framer:
    """Frames messages for one log target: its format, facility, tag and host name.

    The part of a header that changes once a second (everything but rfc5424's, timed's and
    iso's microseconds) is cached per (second, level), so a busy target pays for the
    local-time conversion once a second, not once a line.
    """

    __slots__ = ("_c_hdr", "_c_level", "_c_pid", "_c_sec", "facility", "fmt", "host", "tag")

    def __init__(self, fmt: Format, facility: int, tag: str, host: str | None) -> None:
        self.fmt = fmt
        self.facility = facility
        self.tag = tag
        self.host = host
        # The last legacy header (local, rfc3164) and what it was made for; only those two
        # formats ever fill it, so the others never match it.
        self._c_sec = -1
        self._c_level = -1
        self._c_pid = ""
        self._c_hdr = b""

    def header(self, level: int, now: float, sd: bytes = b"") -> bytes:
        """The header for a message of severity `level` sent at wall-clock time `now`.
        `sd` is the structured data of an RFC 5424 header (`log-format-sd`; "-" when
        empty); the other formats have none."""
        sec = int(now)
        # Hot path, checked first: the same second, level and process as the last line.
        if sec == self._c_sec and level == self._c_level and _pid is self._c_pid:
            return self._c_hdr
        fmt = self.fmt
        if fmt is Format.RAW:
            return b""
        if fmt is Format.SHORT:
            return b"<%d>" % level
        if fmt is Format.PRIORITY:
            return b"<%d>" % (self.facility * 8 + level)
        if fmt is Format.RFC5424 or fmt is Format.TIMED or fmt is Format.ISO:
            stamp = iso_time(now)
            if fmt is Format.ISO:
                return f"{stamp} ".encode()
            if fmt is Format.TIMED:
                return f"<{level}>{stamp} ".encode()
            host = self.host or "-"
            tag = self.tag or "-"
            pre = f"<{self.facility * 8 + level}>1 {stamp} {host} {tag} {_pid} - ".encode()
            return pre + (sd or b"-") + b" "
        pri = self.facility * 8 + level
        head = f"<{pri}>{legacy_time(sec)} "
        if fmt is Format.RFC3164:
            head += f"{self.host or 'localhost'} "
        if self.tag:
            head += f"{self.tag}[{_pid}]: "
        hdr = head.encode()
        self._c_sec, self._c_level, self._c_pid, self._c_hdr = sec, level, _pid, hdr
        return hdr

    def frame(self, level: int, message: bytes, now: float, limit: int, sd: bytes = b"") -> bytes:
        """Header + message cut to `limit` bytes, then LF."""
        hdr = self.header(level, now, sd)
        if len(hdr) + len(message) <= limit:
            return b"".join((hdr, message, b"\n"))
        return (hdr + message)[:limit] + b"\n"
