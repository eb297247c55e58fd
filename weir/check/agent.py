"""The agent check: a line read from a server's agent, parsed as HAProxy parses it.

The agent answers one ASCII line, ended by the first CR or LF. Its words, separated by
spaces, tabs or commas, may come in any order; of each kind the last one wins:

* a health word: `up`, `down`, `fail` or `stopped` (the last three take the server down,
  and a description may follow a `#`);
* an administrative word: `ready`, `drain` or `maint`;
* a weight: `75%` (of the configured weight) or `weight:<n>` / `weight:<n>%` (HAProxy
  3.1's absolute form, accepted here as well);
* `maxconn:<n>`.

Any other word is an error the check reports. This module is pure: `parse_reply` reads the
line and `agent_ruleset` is the check (send `agent-send` if set, read the line); what the
reply does to the server is `weir.check.state`'s business.
"""

from __future__ import annotations

from dataclasses import dataclass

from weir.check.engine import Flow, Run, RunEnv
from weir.check.rules import Expect, ExpectKind, Proto, Ruleset, Send, make_ruleset
from weir.check.status import CheckStatus, Verdict

_SEPARATORS = b" \t,"
_HEALTH_WORDS = ("up", "down", "stopped", "fail")
_ADMIN_WORDS = ("ready", "drain", "maint")


@dataclass(frozen=True, slots=True)
class AgentReply:
    """What an agent said; None (or "") for what it did not say."""

    health: str | None = None  # "up" | "down" | "stopped" | "fail", lower case
    admin: str | None = None  # "ready" | "drain" | "maint"
    weight: str | None = None  # "75%", "10", "50%": as written after any "weight:"
    maxconn: str | None = None  # as written after "maxconn:"
    description: str = ""  # after "#"
    error: str | None = None  # the first word that is none of the above

    @property
    def status(self) -> CheckStatus:
        """The check status the reply gives: L7OK for "up", L7STS for the down words,
        CHECKED (no health change) without a health word."""
        if self.health is None:
            return CheckStatus.CHECKED
        return CheckStatus.L7OK if self.health == "up" else CheckStatus.L7STS


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def parse_reply(line: bytes) -> AgentReply:
    """Parse one agent line (without its CR/LF)."""
    health = admin = weight = maxconn = error = None
    description = ""
    pos, n = 0, len(line)
    while pos < n:
        byte = line[pos : pos + 1]
        if byte in (b" ", b"\t", b","):
            pos += 1
            continue
        if byte == b"#":
            description = _text(line[pos + 1 :].lstrip(b" \t").lstrip(b" \n"))
            break
        end = pos + 1
        while end < n and line[end] not in _SEPARATORS:
            end += 1
        word = line[pos:end]
        low = word.lower()
        text = _text(word)
        if low in (b"up", b"down", b"stopped", b"fail"):
            health = low.decode()
        elif low in (b"ready", b"drain", b"maint"):
            admin = low.decode()
        elif word[:1].isdigit() and b"%" in word:
            weight = text
        elif low.startswith(b"weight:"):
            weight = text[len("weight:") :]
        elif low.startswith(b"maxconn:"):
            maxconn = text[len("maxconn:") :]
        elif error is None:
            error = text
        pos = end + 1
    return AgentReply(health, admin, weight, maxconn, description, error)


def _judge(run: Run, rule: Expect, last_read: bool) -> Verdict | Flow:
    data = bytes(run.buf).split(b"\0", 1)[0]
    cr, lf = data.find(b"\r"), data.find(b"\n")
    ends = [i for i in (cr, lf) if i >= 0]
    if not ends:
        if not last_read:
            return Flow.WAIT
        previous = run.env.previous
        status = previous.status if previous is not None else CheckStatus.CHECKED
        if status is CheckStatus.INI:
            status = CheckStatus.CHECKED
        return Verdict(status, None, "Ignoring incomplete line from agent")
    reply = parse_reply(data[: min(ends)])
    return Verdict(reply.status, None, "", reply)


def agent_ruleset() -> Ruleset:
    """Connect, send the `agent-send` string (nothing when unset), read one line."""

    def build(env: RunEnv) -> bytes:
        return env.agent_send

    return make_ruleset(
        Proto.AGENT,
        [(Send(build=build), ""), (Expect(ExpectKind.CUSTOM, custom=_judge), "")],
    )


def weight_of(text: str, iweight: int, dynamic: bool) -> tuple[int | None, str]:
    """A weight from an agent (`75%`, `10`, `50%`) → (new user weight, or None; warning).

    HAProxy's rules: a percentage is of the configured weight (at most 256); an absolute
    weight is 0 to 256; a backend with a static algorithm only takes 0 and the configured
    weight.
    """
    digits = text.lstrip("+-")
    sign = text[: len(text) - len(digits)]
    n = 0
    while n < len(digits) and digits[n].isdigit():
        n += 1
    if n == 0 or len(sign) > 1:
        return None, "Empty weight string empty or preceded by garbage"
    w = int(digits[:n]) * (-1 if sign == "-" else 1)
    rest = digits[n:]
    if rest == "%":
        if w < 0:
            return None, "Relative weight must be positive."
        w = min(iweight * min(w, 25600) // 100, 256)
    elif w < 0 or w > 256:
        return None, "Absolute weight can only be between 0 and 256 inclusive."
    elif rest:
        return None, "Trailing garbage in weight string"
    if w and w != iweight and not dynamic:
        return (
            None,
            "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.",
        )
    return w, ""


def maxconn_of(text: str) -> tuple[int | None, str]:
    """`maxconn:<n>` from an agent → (the limit, or None; warning)."""
    body = text.lstrip(" \t")
    digits = body.lstrip("+-")
    n = 0
    while n < len(digits) and digits[n].isdigit():
        n += 1
    if not text or n == 0:
        return None, "maxconn string empty or preceded by garbage"
    if digits[n:]:
        return None, "Trailing garbage in maxconn string"
    value = int(body[: len(body) - len(digits) + n])
    return max(value, 0), ""


__all__ = ["AgentReply", "agent_ruleset", "maxconn_of", "parse_reply", "weight_of"]
