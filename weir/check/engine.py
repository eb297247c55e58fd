"""Evaluating a ruleset: the sans-IO core of every health check.

Theory of operation
-------------------
A `Run` walks one `Ruleset` once. It never touches a socket: it tells its driver what to
do next with a step, and the driver reports what happened:

    run = Run(ruleset, env, bufsize)
    step = run.begin()
    DoConnect(rule) -> connect as the rule says, then run.connected()
                       (or run.connect_failed(text), run.timed_out())
    DoSend(data)    -> write all of it, then run.sent() (or run.send_failed(text))
    DoRecv(size)    -> read at most `size` bytes, waiting for at least one, then
                       run.received(data), b"" for the end of the stream
                       (or run.recv_failed(text))
    Done(verdict)   -> the check is over

Reading follows HAProxy: the first expect after a connect or a send reads; following
expects judge the same bytes; an expect that needs more bytes reads again and the
evaluation restarts at the head of its chain. Everything received is kept, up to the
check buffer (`tune.bufsize`); a full buffer, the end of the stream or a read error
after some bytes are final, and the rules then conclude on what they have.

Verdicts and their details are HAProxy's: when every rule passed, the last rule decides
(a connect: L4OK; an expect: its `ok-status`, L7OK by default; a send: L7OK). Failures
carry the rule's `error-status` (L7RSP by default) and a detail: the protocol's own text,
the rule's `on-error` text, or for `option tcp-check` the generic "TCPCHK did not match
content ... at step N"; connection errors and timeouts of `option tcp-check` name the
step they happened at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from weir.check import httpchk
from weir.check.rules import Connect, Expect, ExpectKind, Proto, Rule, Ruleset, Send, step_id
from weir.check.status import CheckStatus, Verdict


class Flow(Enum):
    """What an expect rule wants when it does not conclude the check."""

    CONTINUE = "continue"  # passed: go on with the next rule
    WAIT = "wait"  # needs more bytes


@dataclass(frozen=True, slots=True)
class DoConnect:
    rule: Connect


@dataclass(frozen=True, slots=True)
class DoSend:
    data: bytes


@dataclass(frozen=True, slots=True)
class DoRecv:
    size: int


@dataclass(frozen=True, slots=True)
class Done:
    verdict: Verdict


Step = DoConnect | DoSend | DoRecv | Done


@dataclass(slots=True)
class RunEnv:
    """What one check run may need to know of its server, read at run time.

    `running`: the server is not DOWN (`disable-on-404` only applies then);
    `state_header`: the `X-Haproxy-Server-State` value (`http-check send-state`);
    `agent_send`: what `agent-send` sends; `previous`: this check's previous verdict
    (an agent's incomplete line keeps it); `now`: wall-clock seconds (SSL hello).
    """

    running: bool = True
    state_header: Callable[[], str] | None = None
    agent_send: bytes = b""
    previous: Verdict | None = None
    now: float = 0.0


class Run:
    """One evaluation of a ruleset; see the module docstring for the protocol."""

    __slots__ = (
        "buf",
        "bufsize",
        "code",
        "env",
        "eos",
        "is_connected",
        "method",
        "must_read",
        "pos",
        "ruleset",
    )

    def __init__(self, ruleset: Ruleset, env: RunEnv, bufsize: int) -> None:
        self.ruleset = ruleset
        self.env = env
        self.bufsize = bufsize
        self.buf = bytearray()
        self.pos = 0
        self.code: int | None = None  # the code read by the rule being evaluated
        self.is_connected = False
        self.eos = False  # the server closed, or a read failed after some bytes
        self.must_read = False
        self.method = b""  # the method of the last HTTP request sent

    @property
    def current(self) -> Rule:
        rules = self.ruleset.rules
        return rules[min(self.pos, len(rules) - 1)]

    # -- driver events ---------------------------------------------------------------------

    def begin(self) -> Step:
        return self._advance()

    def connected(self) -> Step:
        self.is_connected = True
        self.must_read = True
        self.pos += 1
        return self._advance()

    def connect_failed(self, error: str) -> Done:
        return Done(Verdict(CheckStatus.L4CON, None, error + self._where()))

    def sent(self) -> Step:
        self.must_read = True
        self.pos += 1
        return self._advance()

    def send_failed(self, error: str) -> Done:
        return Done(Verdict(CheckStatus.SOCKERR, None, error + self._where()))

    def received(self, data: bytes) -> Step:
        if data:
            self.buf += data
        else:
            self.eos = True
        self.must_read = False
        if not self.buf and self.eos:
            return Done(self._empty_response())
        return self._advance()

    def recv_failed(self, error: str) -> Step:
        # An error after some bytes (often a reset right after the answer) leaves the
        # bytes to be judged, as HAProxy does; with none, the error is the verdict.
        if not self.buf:
            return Done(Verdict(CheckStatus.SOCKERR, None, error + self._where()))
        self.eos = True
        self.must_read = False
        return self._advance()

    def timed_out(self) -> Done:
        if not self.is_connected:
            return Done(Verdict(CheckStatus.L4TOUT, None, self._where()))
        rule = self.current
        status = CheckStatus.L7TOUT
        if isinstance(rule, Expect) and rule.tout_status is not None:
            status = rule.tout_status
        return Done(Verdict(status, None, self._where()))

    # -- evaluation ------------------------------------------------------------------------

    def _advance(self) -> Step:
        rules = self.ruleset.rules
        while self.pos < len(rules):
            rule = rules[self.pos]
            self.code = None
            if isinstance(rule, Connect):
                self.buf.clear()
                self.eos = False
                self.is_connected = False
                return DoConnect(rule)
            if isinstance(rule, Send):
                step = self._send(rule)
                if step is not None:
                    return step
                continue
            if self.must_read and not self.eos and len(self.buf) < self.bufsize:
                return DoRecv(self.bufsize - len(self.buf))
            last_read = self.eos or len(self.buf) >= self.bufsize
            result = self._expect(rule, last_read)
            if isinstance(result, Verdict):
                return Done(result)
            if result is Flow.WAIT:
                if last_read:  # a judge must conclude on final bytes; keep a bound anyway
                    return Done(self.expect_failed(rule, CheckStatus.L7RSP, False, ""))
                self.pos = rule.head
                self.must_read = True
                return DoRecv(self.bufsize - len(self.buf))
            self.pos += 1
        return Done(self._success())

    def _send(self, rule: Send) -> Step | None:
        data = rule.build(self.env) if rule.build is not None else rule.data
        self.buf.clear()
        if rule.method:
            self.method = rule.method
        if len(data) >= self.bufsize:
            desc = (
                f"tcp-check send : string too large ({len(data)}) for buffer size "
                f"({self.bufsize}) at step {step_id(rule)}"
            )
            return Done(Verdict(CheckStatus.L7RSP, None, desc))
        if not data:  # an empty agent string sends nothing
            self.must_read = True
            self.pos += 1
            return None
        return DoSend(data)

    def _expect(self, rule: Expect, last_read: bool) -> Verdict | Flow:
        if rule.custom is not None:
            return rule.custom(self, rule, last_read)
        if self.ruleset.proto is Proto.HTTP:
            return httpchk.eval_expect(self, rule, last_read)
        buf = self.buf
        n = len(buf)
        if not last_read:
            if rule.kind in (ExpectKind.STRING, ExpectKind.BINARY) and n < len(rule.text):
                return Flow.WAIT
            if rule.min_recv > 0 and n < rule.min_recv:
                return Flow.WAIT
        if rule.kind in (ExpectKind.STRING, ExpectKind.BINARY):
            hit = rule.text in buf
        elif rule.kind is ExpectKind.RBINARY:
            assert rule.regex is not None
            # HAProxy matches the regex on the hexadecimal dump, bounded by a buffer.
            dump = bytes(buf[: (self.bufsize - 1) // 2]).hex().upper().encode()
            hit = rule.regex.search(dump) is not None
        else:
            assert rule.regex is not None
            hit = rule.regex.search(bytes(buf[: self.bufsize - 1])) is not None
        if not hit and not last_read and rule.min_recv == -1:
            return Flow.WAIT
        if hit != rule.negated:
            return Flow.CONTINUE
        return self.expect_failed(rule, rule.err_status or CheckStatus.L7RSP, hit, "")

    # -- verdicts ----------------------------------------------------------------------------

    def expect_failed(self, rule: Expect, status: CheckStatus, matched: bool, info: str) -> Verdict:
        """The verdict of a failed expect rule, with HAProxy's detail: `info` (the
        protocol's own text) if any, else the rule's `on-error` text, else for `option
        tcp-check` the generic text; then the rule's comment."""
        if info:
            desc = info
        elif rule.on_error is not None:
            desc = rule.on_error(bytes(self.buf))
        elif self.ruleset.proto is Proto.TCP:
            desc = _generic_failure(rule, matched)
        else:
            desc = ""
        if rule.comment:
            desc += f" comment: {rule.comment}"
        return Verdict(status, self._code(rule), desc)

    def _code(self, rule: Expect) -> int | None:
        if rule.status_code is not None:
            code = rule.status_code(bytes(self.buf))
            if code is not None:
                return code
        return self.code

    def _success(self) -> Verdict:
        rule = self.ruleset.rules[-1]
        proto = self.ruleset.proto
        if isinstance(rule, Connect):
            return Verdict(CheckStatus.L4OK, None, "" if rule.implicit else "(tcp-check)")
        if isinstance(rule, Send):
            return Verdict(CheckStatus.L7OK, None, "(tcp-check)")
        if (
            proto is Proto.HTTP
            and self.ruleset.disable_404
            and self.env.running
            and self.code == 404
        ):
            return Verdict(CheckStatus.L7OKC, 404, "")
        if rule.on_success is not None:
            desc = rule.on_success(bytes(self.buf))
        else:
            desc = "(tcp-check)" if proto is Proto.TCP else ""
        return Verdict(rule.ok_status or CheckStatus.L7OK, self._code(rule), desc)

    def _empty_response(self) -> Verdict:
        rule = self.current
        desc = f"TCPCHK got an empty response at step {step_id(rule)}"
        status = CheckStatus.L7RSP
        if isinstance(rule, Expect):
            status = rule.err_status or status
        if rule.comment:
            desc += f" comment: '{rule.comment}'"
        return Verdict(status, None, desc)

    def _where(self) -> str:
        """Where an `option tcp-check` failed, for connection errors and timeouts."""
        if self.ruleset.proto is not Proto.TCP:
            return ""
        rule = self.current
        step = step_id(rule)
        if step == 0:
            return " at initial connection step of tcp-check"
        text = f" at step {step} of tcp-check"
        if isinstance(rule, Connect):
            text += f" (connect port {rule.port})" if rule.port else " (connect)"
        elif isinstance(rule, Expect):
            text += _expect_words(rule)
        else:
            text += " (send)"
        if rule.comment:
            text += f" comment: '{rule.comment}'"
        return text


def _expect_words(rule: Expect) -> str:
    kind = rule.kind
    if kind is ExpectKind.STRING:
        return f" (expect string '{rule.pattern}')"
    if kind is ExpectKind.BINARY:
        return f" (expect binary '{rule.text.decode('latin-1')}')"
    if kind is ExpectKind.RSTRING:
        return " (expect regex)"
    if kind is ExpectKind.RBINARY:
        return " (expect binary regex)"
    return " (expect custom function)"


def _generic_failure(rule: Expect, matched: bool) -> str:
    text = "TCPCHK matched unwanted content" if matched else "TCPCHK did not match content"
    step = step_id(rule)
    kind = rule.kind
    if kind in (ExpectKind.STRING, ExpectKind.HTTP_BODY):
        return f"{text} '{rule.pattern}' at step {step}"
    if kind is ExpectKind.BINARY:
        return f"{text} (binary) at step {step}"
    if kind is ExpectKind.RBINARY:
        return f"{text} (binary regex) at step {step}"
    if kind is ExpectKind.CUSTOM:
        return f"{text} (custom function) at step {step}"
    return f"{text} (regex) at step {step}"


__all__ = ["DoConnect", "DoRecv", "DoSend", "Done", "Flow", "Run", "RunEnv", "Step"]
