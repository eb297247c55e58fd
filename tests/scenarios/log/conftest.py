"""Log scenarios run in UTC (HAProxy, started from here, inherits it too) and give each
test a UDP syslog listener on 127.0.0.1."""

from __future__ import annotations

import os
import time
from collections.abc import Generator

import pytest

import weir.log.keywords  # noqa: F401  (registers the logging keywords)
from tests.scenarios.log.syslog_listener import SyslogListener
from weir.log import formats


@pytest.fixture
def syslog_udp() -> Generator[SyslogListener, None, None]:
    listener = SyslogListener()
    yield listener
    listener.close()


@pytest.fixture(autouse=True)
def _utc() -> Generator[None, None, None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = "UTC0"
    time.tzset()
    formats._local_sec = formats._gmt_sec = formats._tz_sec = -1
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()
    formats._local_sec = formats._gmt_sec = formats._tz_sec = -1
