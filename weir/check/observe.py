"""Passive health: what traffic shows of a server feeds its health check (`observe`).

Theory of operation
-------------------
With `observe layer4|layer7` on a checked server, the data path reports each outcome it
sees to `Server.observer`, an `Observer` (None otherwise, so that reporting costs one
attribute test when the option is off). Each report is one of HAProxy's analysis events;
the mode decides which count, as in HAProxy's table:

    event                            layer4   layer7
    l4_ok        connection made      good     -
    l4_error     connect failed       error    error
    http_status  100-499, 501, 505    -        good
    http_status  any other            -        error
    bad_header / bad_response / read_error / read_timeout / broken_pipe
                                      -        error

A good event clears the count of consecutive errors, an error adds one; so does every
check that passes. When the count reaches `error-limit` (default 10) the server's
`on-error` action runs (see `weir.check.state.ServerHealth.observed_errors`) and the
count starts again: `fastinter` only brings the next check forward, `fail-check` (the
default) counts as one failed check, `sudden-death` leaves the server one failure from
down, `mark-down` takes it down at once. Every action also brings the next check
forward to `fastinter`, when one is set.

Observers are plain objects driven from the event loop's thread; nothing here blocks.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol


class Hana(Enum):
    """HAProxy's health-analysis events, with the words its messages use."""

    L4_OK = "L4 successful connection"
    L4_ERR = "L4 unsuccessful connection"
    HTTP_OK = "Correct http response"
    HTTP_STS = "Wrong http response"
    HTTP_HDRRSP = "Invalid http response (headers)"
    HTTP_RSP = "Invalid http response"
    HTTP_READ_ERROR = "Read error (http)"
    HTTP_READ_TIMEOUT = "Read timeout (http)"
    HTTP_BROKEN_PIPE = "Close from server (http)"


class ErrorSink(Protocol):
    """Who acts when errors pile up: the server's health (weir.check.state)."""

    def observed_errors(self, count: int, last: Hana) -> None: ...


class Observer:
    """The `Server.observer` of one server; see the module docstring."""

    __slots__ = ("errors", "layer7", "limit", "sink")

    def __init__(self, sink: ErrorSink, *, layer7: bool, limit: int) -> None:
        self.sink = sink
        self.layer7 = layer7
        self.limit = max(1, limit)
        self.errors = 0  # consecutive errors so far

    def _error(self, event: Hana) -> None:
        self.errors += 1
        if self.errors >= self.limit:
            count, self.errors = self.errors, 0
            self.sink.observed_errors(count, event)

    def l4_ok(self) -> None:
        if not self.layer7:
            self.errors = 0

    def l4_error(self) -> None:
        self._error(Hana.L4_ERR)

    def http_status(self, status: int) -> None:
        if not self.layer7:
            return
        if 100 <= status < 500 or status in (501, 505):
            self.errors = 0
        else:
            self._error(Hana.HTTP_STS)

    def bad_header(self) -> None:
        if self.layer7:
            self._error(Hana.HTTP_HDRRSP)

    def bad_response(self) -> None:
        if self.layer7:
            self._error(Hana.HTTP_RSP)

    def read_error(self) -> None:
        if self.layer7:
            self._error(Hana.HTTP_READ_ERROR)

    def read_timeout(self) -> None:
        if self.layer7:
            self._error(Hana.HTTP_READ_TIMEOUT)

    def broken_pipe(self) -> None:
        if self.layer7:
            self._error(Hana.HTTP_BROKEN_PIPE)


__all__ = ["ErrorSink", "Hana", "Observer"]
