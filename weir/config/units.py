"""Time and size values as HAProxy writes them: `5000`, `5000ms`, `5s`, `2m`, `16k`, `1g`."""

from __future__ import annotations

import re

_TIME_UNITS_US = {"us": 1, "ms": 1000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
_TIME_UNITS_US["d"] = 24 * _TIME_UNITS_US["h"]
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
_NUMBER = re.compile(r"([0-9]+)([a-zA-Z]*)\Z")


def parse_time(text: str, *, default_unit: str = "ms") -> int:
    """Return a duration in milliseconds; microseconds round up to the next millisecond.

    Raises ValueError naming what is wrong, in the words a user can act on.
    """
    m = _NUMBER.match(text)
    if m is None:
        raise ValueError(
            f"'{text}' is not a time value (a number with an optional unit us, ms, s, m, h or d)"
        )
    unit = m.group(2).lower() or default_unit
    scale = _TIME_UNITS_US.get(unit)
    if scale is None:
        raise ValueError(f"unknown time unit '{m.group(2)}' in '{text}' (use us, ms, s, m, h or d)")
    us = int(m.group(1)) * scale
    ms = -(-us // 1000)
    if ms >= 1 << 31:
        raise ValueError(
            f"time value '{text}' is too large (at most 2147483647 ms, about 24.8 days)"
        )
    return ms


def parse_size(text: str) -> int:
    """Return a size in bytes; `k`, `m`, `g` multiply by 1024, 1024², 1024³."""
    m = _NUMBER.match(text)
    if m is None or m.group(2).lower() not in _SIZE_UNITS:
        raise ValueError(f"'{text}' is not a size (a number with an optional unit k, m or g)")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def parse_int(text: str, *, low: int = 0, high: int = (1 << 31) - 1, what: str = "value") -> int:
    """Return a decimal integer within [low, high], or raise ValueError saying why not."""
    try:
        value = int(text, 10)
    except ValueError:
        raise ValueError(f"{what} '{text}' is not an integer") from None
    if not low <= value <= high:
        raise ValueError(f"{what} {value} is out of range ({low} to {high})")
    return value
