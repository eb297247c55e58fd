"""Log tests run in a known time zone (UTC unless a test says otherwise) and with a known
process id in syslog headers, so that expected lines can be written out in full."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Generator

import pytest

import weir.log.keywords  # noqa: F401  (registers the logging keywords)
from weir.log import formats, syslog

PID = "7583"  # the pid of the HAProxy 2.6 run whose datagrams the tests quote


def _reset_date_caches() -> None:
    formats._local_sec = -1
    formats._gmt_sec = -1
    formats._tz_sec = -1


@pytest.fixture
def set_tz() -> Generator[Callable[[str], None], None, None]:
    """Switch the process's time zone (a POSIX TZ string) for one test."""
    saved = os.environ.get("TZ")

    def switch(tz: str) -> None:
        os.environ["TZ"] = tz
        time.tzset()
        _reset_date_caches()

    yield switch
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()
    _reset_date_caches()


@pytest.fixture(autouse=True)
def _utc_and_pid(set_tz: Callable[[str], None], monkeypatch: pytest.MonkeyPatch) -> None:
    set_tz("UTC0")
    monkeypatch.setattr(syslog, "_pid", PID)
