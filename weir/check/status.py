"""Health-check statuses and the outcome of one check, named as HAProxy names them.

The short names (`L4OK`, `L7STS` …) are what stats pages, the CSV `check_status` field and
operators' scripts show; the long descriptions are what state-change log lines say after
"reason:". Only the statuses weir's checks can produce are listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum


class Result(Enum):
    """What a check status means for the server's health counter."""

    PASSED = "passed"
    FAILED = "failed"


class CheckStatus(StrEnum):
    INI = "INI"  # checks configured, none completed yet
    SOCKERR = "SOCKERR"  # the socket could not be used (creation, or an I/O error)
    L4OK = "L4OK"  # a TCP check connected
    L4TOUT = "L4TOUT"  # no connection within the connect timeout
    L4CON = "L4CON"  # the connection was refused or failed
    L7TOUT = "L7TOUT"  # connected, but no complete answer in time
    L7RSP = "L7RSP"  # the answer is not a valid HTTP response
    L7OK = "L7OK"  # HTTP check passed
    L7STS = "L7STS"  # HTTP check got a status it does not accept

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def result(self) -> Result | None:
        """PASSED or FAILED; None for INI, which is not a result."""
        return _RESULTS.get(self)

    @property
    def has_code(self) -> bool:
        """Whether HAProxy reports a response code with this status (layer 7 verdicts on
        a parsed response: L7OK, L7STS)."""
        return self in (CheckStatus.L7OK, CheckStatus.L7STS)


_DESCRIPTIONS = {
    CheckStatus.INI: "Initializing",
    CheckStatus.SOCKERR: "Socket error",
    CheckStatus.L4OK: "Layer4 check passed",
    CheckStatus.L4TOUT: "Layer4 timeout",
    CheckStatus.L4CON: "Layer4 connection problem",
    CheckStatus.L7TOUT: "Layer7 timeout",
    CheckStatus.L7RSP: "Layer7 invalid response",
    CheckStatus.L7OK: "Layer7 check passed",
    CheckStatus.L7STS: "Layer7 wrong status",
}

_RESULTS = {
    CheckStatus.SOCKERR: Result.FAILED,
    CheckStatus.L4OK: Result.PASSED,
    CheckStatus.L4TOUT: Result.FAILED,
    CheckStatus.L4CON: Result.FAILED,
    CheckStatus.L7TOUT: Result.FAILED,
    CheckStatus.L7RSP: Result.FAILED,
    CheckStatus.L7OK: Result.PASSED,
    CheckStatus.L7STS: Result.FAILED,
}

# HAProxy keeps at most 127 bytes of a check's detail text.
DESC_MAX = 127


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check concluded: its status, the HTTP code when one was read, and a detail
    ("" when there is none)."""

    status: CheckStatus
    code: int | None = None
    desc: str = ""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One completed check: its verdict and how long it took, in milliseconds."""

    verdict: Verdict
    duration_ms: int
