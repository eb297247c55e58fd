"""Health-check statuses and the outcome of one check, named as HAProxy names them.

The short names (`L4OK`, `L7STS` …) are what stats pages, the CSV `check_status` field and
operators' scripts show; the long descriptions are what state-change log lines say after
"reason:". Statuses from `L7OK` on carry a code (an HTTP status, a MySQL error number, an
SMTP reply code; 0 when the protocol has none), as HAProxy's "layer 5-7 data" statuses do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weir.check.agent import AgentReply


class Result(Enum):
    """What a check status means for the server's health counter."""

    PASSED = "passed"
    CONDPASS = "conditionally passed"  # up, but asks for no new traffic (disable-on-404)
    FAILED = "failed"
    NEUTRAL = "neutral"  # a valid check that reports no health (an agent's weight only)


class CheckStatus(StrEnum):
    INI = "INI"  # checks configured, none completed yet
    CHECKED = "CHECKED"  # an agent answered without a health word
    HANA = "HANA"  # observed traffic made enough consecutive errors
    SOCKERR = "SOCKERR"  # the socket could not be used (creation, or an I/O error)
    L4OK = "L4OK"  # connected
    L4TOUT = "L4TOUT"  # no connection within the connect timeout
    L4CON = "L4CON"  # the connection was refused or failed
    L6OK = "L6OK"  # the server answered an SSL hello with SSL
    L6TOUT = "L6TOUT"  # no SSL answer in time
    L6RSP = "L6RSP"  # the answer to an SSL hello is not SSL
    L7TOUT = "L7TOUT"  # connected, but no complete answer in time
    L7RSP = "L7RSP"  # the answer is not what the protocol allows
    L7OK = "L7OK"  # the check passed
    L7OKC = "L7OKC"  # passed, but the server asks for no new traffic (404 + disable-on-404)
    L7STS = "L7STS"  # the answer reports a failure (a status, an error packet, "down")

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]

    @property
    def result(self) -> Result | None:
        """What the status does to the health counter; None for INI, not a result."""
        return _RESULTS.get(self)

    @property
    def has_code(self) -> bool:
        """Whether HAProxy reports a code with this status (L7OK, L7OKC, L7STS)."""
        return self in _WITH_CODE


_DESCRIPTIONS = {
    CheckStatus.INI: "Initializing",
    CheckStatus.CHECKED: "No status change",
    CheckStatus.HANA: "Health analyze",
    CheckStatus.SOCKERR: "Socket error",
    CheckStatus.L4OK: "Layer4 check passed",
    CheckStatus.L4TOUT: "Layer4 timeout",
    CheckStatus.L4CON: "Layer4 connection problem",
    CheckStatus.L6OK: "Layer6 check passed",
    CheckStatus.L6TOUT: "Layer6 timeout",
    CheckStatus.L6RSP: "Layer6 invalid response",
    CheckStatus.L7TOUT: "Layer7 timeout",
    CheckStatus.L7RSP: "Layer7 invalid response",
    CheckStatus.L7OK: "Layer7 check passed",
    CheckStatus.L7OKC: "Layer7 check conditionally passed",
    CheckStatus.L7STS: "Layer7 wrong status",
}

_RESULTS = {
    CheckStatus.CHECKED: Result.NEUTRAL,
    CheckStatus.HANA: Result.FAILED,
    CheckStatus.SOCKERR: Result.FAILED,
    CheckStatus.L4OK: Result.PASSED,
    CheckStatus.L4TOUT: Result.FAILED,
    CheckStatus.L4CON: Result.FAILED,
    CheckStatus.L6OK: Result.PASSED,
    CheckStatus.L6TOUT: Result.FAILED,
    CheckStatus.L6RSP: Result.FAILED,
    CheckStatus.L7TOUT: Result.FAILED,
    CheckStatus.L7RSP: Result.FAILED,
    CheckStatus.L7OK: Result.PASSED,
    CheckStatus.L7OKC: Result.CONDPASS,
    CheckStatus.L7STS: Result.FAILED,
}

_WITH_CODE = frozenset({CheckStatus.L7OK, CheckStatus.L7OKC, CheckStatus.L7STS})

# HAProxy keeps at most 127 bytes of a check's detail text.
DESC_MAX = 127


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a check concluded: its status, the code read from the answer (None: none was
    read; reported as 0 for the statuses that carry one), a detail ("" when there is
    none) and, for an agent check, the agent's parsed reply."""

    status: CheckStatus
    code: int | None = None
    desc: str = ""
    agent: AgentReply | None = None

    @property
    def shown_code(self) -> int | None:
        """The code as stats and log lines show it: for L7OK/L7OKC/L7STS only."""
        if not self.status.has_code:
            return None
        return self.code or 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """One completed check: its verdict and how long it took, in milliseconds (-1: not a
    check that ran, such as a verdict of observed traffic)."""

    verdict: Verdict
    duration_ms: int
