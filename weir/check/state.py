"""A server's health: what its check, its agent and its observed traffic do to its state.

Theory of operation
-------------------
`ServerHealth` is HAProxy's server state machine restricted to what checks drive. It
keeps, for one server:

* the health counters of its check (`Server.check_health`, rise/fall as configured) and
  of its agent (`Server.agent_health`, rise = fall = 1), moved by `weir.check.health`;
* whether a server that is up asks for no new traffic (`stopping`, HAProxy's NOLB: a 404
  under `disable-on-404`);
* the administrative state its agent forced (`drain`, `maint`).

`Server.state` stays the one truth about the server, which others may change too (the
runtime API): the server is operationally up ("running") when its state is UP or DRAIN.
Transitions write it: MAINT (the agent's), else DOWN, else DRAIN (drain or stopping),
else UP. A server set in maintenance by someone else (the configuration's `disabled`,
the runtime API) is left alone: its check pauses and resumes, at health `rise`, when it
leaves.

Transitions follow HAProxy: a failed check at health 0 takes the server DOWN; a passed
check with both the check and the agent at or above their `rise` brings it UP; an agent
can only take a server down by saying so (`down`, `fail`, `stopped`), never by being
unreachable. Each transition tells the balancer, prints HAProxy's line (through `say`),
shuts sessions down when `on-marked-down` / `on-marked-up` ask for it, and hands waiting
requests to a server that comes up. All of it runs on the event loop's thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from weir.backend import slowstart
from weir.backend.server import Server, SrvState
from weir.check import health
from weir.check.agent import AgentReply, maxconn_of, weight_of
from weir.check.observe import Hana, Observer
from weir.check.report import (
    check_reason,
    down_message,
    drain_message,
    leave_drain_message,
    leave_maint_message,
    maint_message,
    no_server_message,
    stopping_message,
    up_message,
)
from weir.check.status import DESC_MAX, CheckStatus, Outcome, Result, Verdict
from weir.config.model import Cap, ServerConf
from weir.proxy.runtime import Backend

Say = Callable[[str, str], None]
"""Where state changes are told: (level "WARNING" | "ALERT", message without final newline)."""

AGENT_RISE = AGENT_FALL = 1  # HAProxy's fixed agent counters


class ServerHealth:
    """Health state of one server; see the module docstring."""

    __slots__ = (
        "agent",
        "backend",
        "check",
        "conf",
        "drain",
        "expedite",
        "maint",
        "observer",
        "on_outcome",
        "paused",
        "say",
        "server",
        "stopping",
    )

    def __init__(
        self,
        backend: Backend,
        server: Server,
        conf: ServerConf,
        say: Say,
        *,
        check: bool | None = None,
        agent: bool = False,
    ) -> None:
        self.backend = backend
        self.server = server
        self.conf = conf
        self.say = say
        self.check = conf.check.enabled if check is None else check
        self.agent = agent
        self.drain = False  # set by the agent
        self.maint = False  # set by the agent
        self.stopping = False
        self.paused = server.state is SrvState.MAINT
        self.observer: Observer | None = None
        # Brings the check's next run forward to `fastinter` (set by the scheduler).
        self.expedite: Callable[[], None] | None = None
        # Told of every check and agent outcome ("check" or "agent", the outcome): with
        # several workers, the one that probes passes its outcomes to the others.
        self.on_outcome: Callable[[str, Outcome], None] | None = None
        c = conf.check
        if self.check:
            server.check_status = CheckStatus.INI.value
            server.check_health = health.initial_health(c.rise, c.fall, self.paused)
        if agent:
            server.agent_status = CheckStatus.INI.value
            server.agent_health = AGENT_RISE

    @property
    def name(self) -> str:
        return f"{self.backend.name}/{self.server.name}"

    @property
    def running(self) -> bool:
        """Operationally up: UP, or DRAIN (up but taking no new traffic)."""
        return self.server.state in (SrvState.UP, SrvState.DRAIN)

    # -- what the scheduler asks -------------------------------------------------------------

    def check_paused(self) -> bool:
        """Whether the check must not run now (maintenance). Leaving a maintenance set
        elsewhere resumes the check at health `rise`: up, confirmed at the next check."""
        srv = self.server
        if srv.state is SrvState.MAINT:
            if not self.paused:
                self.paused = True
                srv.check_health = 0
            return True
        self._resume()
        return False

    def _resume(self) -> None:
        """Notice that a maintenance set elsewhere has ended."""
        srv = self.server
        if self.paused and srv.state is not SrvState.MAINT and not self.maint:
            self.paused = False
            if self.check:
                srv.check_health = self.conf.check.rise

    def check_interval_ms(self) -> int:
        c = self.conf.check
        down = self.server.state in (SrvState.DOWN, SrvState.MAINT)
        return health.interval_ms(
            self.server.check_health, c.rise, c.fall, down, c.inter, c.fastinter, c.downinter
        )

    def agent_interval_ms(self) -> int:
        c = self.conf.check
        inter = c.agent_inter or c.inter
        down = self.server.state in (SrvState.DOWN, SrvState.MAINT)
        return health.interval_ms(
            self.server.agent_health, AGENT_RISE, AGENT_FALL, down, inter, 0, 0
        )

    # -- outcomes ----------------------------------------------------------------------------

    def check_done(self, outcome: Outcome) -> None:
        """Apply one outcome of the server's health check (or of observed traffic)."""
        if self.on_outcome is not None and outcome.duration_ms >= 0:
            self.on_outcome("check", outcome)
        srv = self.server
        c = self.conf.check
        v = outcome.verdict
        srv.check_status = v.status.value
        srv.check_code = v.shown_code
        srv.check_desc = v.desc[:DESC_MAX]
        srv.check_duration_ms = outcome.duration_ms if outcome.duration_ms >= 0 else None
        result = v.status.result
        before = srv.check_health
        if result is Result.FAILED:
            if health.counts_as_failure(before):
                srv.chkfail += 1
            srv.check_health = health.after_check(before, c.rise, c.fall, passed=False)
        elif result in (Result.PASSED, Result.CONDPASS):
            srv.check_health = health.after_check(before, c.rise, c.fall, passed=True)
            if self.observer is not None:
                self.observer.errors = 0
        if self.backend.conf.checks.log_health_checks and outcome.duration_ms >= 0:
            self._log_check(outcome, before, result)
        if self._in_maint():
            return
        if result is Result.FAILED:
            if srv.check_health == 0:
                self.set_stopped(outcome)
        elif result is Result.PASSED:
            if self._checks_allow_up():
                self.set_running(outcome)
        elif result is Result.CONDPASS and self._checks_allow_up():
            self.set_stopping(outcome)

    def _reason(self, outcome: Outcome) -> Outcome | None:
        """The outcome a state-change line explains itself with; None when `option
        log-health-checks` already logged the check (HAProxy then omits the reason)."""
        return None if self.backend.conf.checks.log_health_checks else outcome

    def _log_check(self, outcome: Outcome, before: int, result: Result | None) -> None:
        """`option log-health-checks`: a check whose result moves the health counter (a
        failure while not already at 0, a success while not already at the top) is
        logged, with the counter as HAProxy prints it (`status: 2/3 UP`)."""
        c = self.conf.check
        top = health.top(c.rise, c.fall)
        if result is Result.FAILED:
            if before == 0:
                return
            word = "failed"
        elif result in (Result.PASSED, Result.CONDPASS):
            if before == top:
                return
            word = "succeeded" if result is Result.PASSED else "conditionally succeeded"
        else:
            return
        h = self.server.check_health
        state = f"{h - c.rise + 1}/{c.fall} UP" if h >= c.rise else f"{h}/{c.rise} DOWN"
        kind = "backup server" if self.server.backup else "server"
        self.say(
            "WARNING",
            f"Health check for {kind} {self.name} {word}{check_reason(outcome)}, status: {state}.",
        )

    def agent_done(self, outcome: Outcome) -> None:
        """Apply one outcome of the server's agent check."""
        if self.on_outcome is not None:
            self.on_outcome("agent", outcome)
        srv = self.server
        self._resume()
        v = outcome.verdict
        if v.agent is not None:
            v = self._apply_reply(v, v.agent)
            outcome = Outcome(v, outcome.duration_ms)
        srv.agent_status = v.status.value
        srv.agent_code = v.shown_code
        srv.agent_desc = v.desc[:DESC_MAX]
        srv.agent_duration_ms = outcome.duration_ms
        result = v.status.result
        top = health.top(AGENT_RISE, AGENT_FALL)
        if result is Result.FAILED:
            # Only what the agent said counts; failing to reach it is no failure.
            if v.status.has_code and srv.agent_health > 0:
                srv.chkfail += 1
                srv.agent_health = health.after_check(
                    srv.agent_health, AGENT_RISE, AGENT_FALL, passed=False
                )
            if v.status is CheckStatus.L7STS and srv.agent_health == 0 and not self._in_maint():
                self.set_stopped(outcome)
        elif result is Result.PASSED:
            srv.agent_health = top
            if self.observer is not None:
                self.observer.errors = 0
            if not self._in_maint() and self._checks_allow_up() and not self._is_stopping():
                self.set_running(outcome)

    def observed_errors(self, count: int, last: Hana) -> None:
        """`error-limit` consecutive errors were observed: run the `on-error` action."""
        srv = self.server
        c = self.conf.check
        srv.hanafail += 1
        mode = c.on_error
        if mode != "fastinter" and self.check:
            if mode == "sudden-death" and srv.check_health > c.rise:
                srv.check_health = c.rise + 1
            elif mode == "mark-down":
                srv.check_health = c.rise
            desc = f"Detected {count} consecutive errors, last one was: {last.value}"
            self.check_done(Outcome(Verdict(CheckStatus.HANA, None, desc), -1))
        if c.fastinter and self.expedite is not None:
            self.expedite()

    # -- the agent's words -------------------------------------------------------------------

    def _apply_reply(self, v: Verdict, reply: AgentReply) -> Verdict:
        """Administrative word first, then weight and maxconn, then health, as HAProxy
        does; returns the verdict with HAProxy's detail text."""
        srv = self.server
        if reply.admin == "drain":
            self.set_drain()
        elif reply.admin == "maint":
            self.set_maint()
        elif reply.admin == "ready":
            self.set_ready()
        warning = ""
        if reply.weight is not None:
            weight, warning = weight_of(
                reply.weight, srv.iweight, self.backend.balancer.params.dynamic
            )
            if weight is not None:
                self.set_weight(weight)
        if reply.maxconn is not None:
            maxconn, message = maxconn_of(reply.maxconn)
            if maxconn is not None:
                srv.maxconn = maxconn
                _serve_queue(self.backend)
            warning = warning or message
        top = health.top(AGENT_RISE, AGENT_FALL)
        if reply.health is not None:
            srv.agent_health = top if reply.health == "up" else 0
            msg = reply.description
            if not msg or reply.health == "up":
                msg = reply.error or warning or msg
            desc = f"via agent : {reply.health}" + (f" ({msg})" if msg else "")
        elif reply.error:
            desc = f"agent reports an error : {reply.error}"
        elif warning:
            desc = f"agent warns : {warning}"
        else:
            desc = ""
        return Verdict(v.status, v.code, desc, reply)

    def set_weight(self, weight: int) -> None:
        """A new user weight (from the agent); a warming server picks it up by itself."""
        srv = self.server
        srv.uweight = weight
        if slowstart.warming(srv) is None:
            self.backend.balancer.set_weight(srv, weight)

    def set_drain(self) -> None:
        if self.drain:
            return
        self.drain = True
        if self._in_maint():
            return
        srv = self.server
        had_any = self._any_usable()
        self._apply_state(running=self.running)
        srv.last_change = time.time()
        self.backend.balancer.server_down(srv)
        active, backups = self._usable()
        self.say(
            "WARNING",
            drain_message(
                self.backend.name,
                srv.name,
                srv.backup,
                self.running,
                active,
                backups,
                srv.cur_sess,
            ),
        )
        self._alert_if_none(had_any)

    def set_maint(self) -> None:
        if self.maint:
            return
        srv = self.server
        if srv.state is SrvState.MAINT:
            return  # a maintenance set elsewhere is not the agent's to end
        self.maint = True
        if self.check:
            srv.check_health = 0
        self.paused = True
        was_up = self.running
        had_any = self._any_usable()
        self.stopping = False
        srv.state = SrvState.MAINT
        srv.last_change = time.time()
        self.backend.balancer.server_down(srv)
        if was_up:
            srv.chkdown += 1
            self._shutdown_own()
        active, backups = self._usable()
        self.say(
            "WARNING",
            maint_message(
                self.backend.name, srv.name, srv.backup, was_up, active, backups, srv.cur_sess
            ),
        )
        self._alert_if_none(had_any)

    def set_ready(self) -> None:
        srv = self.server
        if self.maint:
            self.maint = False
            if srv.state is SrvState.MAINT:
                self.paused = False
                if self.check:
                    srv.check_health = self.conf.check.rise
                up = self._checks_allow_up()
                self._apply_state(running=up)
                srv.last_change = time.time()
                if up and not self.drain:
                    slowstart.begin(self.backend.balancer, srv, self.conf.slowstart)
                self.backend.balancer.server_up(srv)
                self.say(
                    "WARNING",
                    leave_maint_message(self.backend.name, srv.name, srv.backup, up, self.drain),
                )
                self._after_up()
        if self.drain:
            self.drain = False
            if self._in_maint():
                return
            self._apply_state(running=self.running)
            srv.last_change = time.time()
            self.backend.balancer.server_up(srv)
            message = leave_drain_message(self.backend.name, srv.name, srv.backup, self.running)
            self.say("WARNING", message)
            self._after_up()

    # -- operational transitions -------------------------------------------------------------

    def set_stopped(self, outcome: Outcome) -> None:
        srv = self.server
        if self._in_maint() or not self.running:
            return
        had_any = self._any_usable()
        self.stopping = False
        srv.state = SrvState.DOWN
        srv.last_change = time.time()
        srv.chkdown += 1
        self.backend.balancer.server_down(srv)
        self._shutdown_own()
        active, backups = self._usable()
        self.say(
            "WARNING",
            down_message(
                self.backend.name,
                srv.name,
                srv.backup,
                self._reason(outcome),
                active,
                backups,
                srv.cur_sess,
            ),
        )
        self._alert_if_none(had_any)

    def set_running(self, outcome: Outcome) -> None:
        srv = self.server
        if self._in_maint() or (self.running and not self._is_stopping()):
            return
        was_down = not self.running
        self.stopping = False
        now = time.time()
        if was_down:
            srv.add_downtime(now - srv.last_change)
        self._apply_state(running=True)
        srv.last_change = now
        if was_down and srv.state is SrvState.UP:
            slowstart.begin(self.backend.balancer, srv, self.conf.slowstart)  # before server_up
        self.backend.balancer.server_up(srv)
        requeued = self._after_up()
        active, backups = self._usable()
        self.say(
            "WARNING",
            up_message(
                self.backend.name,
                srv.name,
                srv.backup,
                self._reason(outcome),
                active,
                backups,
                requeued,
            ),
        )

    def set_stopping(self, outcome: Outcome) -> None:
        srv = self.server
        if self._in_maint() or self._is_stopping():
            return
        had_any = self._any_usable()
        if not self.running:
            srv.add_downtime(time.time() - srv.last_change)
        self.stopping = True
        self._apply_state(running=True)
        srv.last_change = time.time()
        self.backend.balancer.server_down(srv)
        active, backups = self._usable()
        self.say(
            "WARNING",
            stopping_message(self.backend.name, srv.name, srv.backup, outcome, active, backups),
        )
        self._alert_if_none(had_any)

    # -- helpers -------------------------------------------------------------------------------

    def _is_stopping(self) -> bool:
        """Up but refusing new traffic because of its check (not of an administrator)."""
        return self.stopping and self.server.state is SrvState.DRAIN

    def _in_maint(self) -> bool:
        return self.maint or self.server.state is SrvState.MAINT

    def _checks_allow_up(self) -> bool:
        srv = self.server
        if self.check and srv.check_health < self.conf.check.rise:
            return False
        return not (self.agent and srv.agent_health < AGENT_RISE)

    def _apply_state(self, *, running: bool) -> None:
        srv = self.server
        if self.maint:
            srv.state = SrvState.MAINT
        elif not running:
            srv.state = SrvState.DOWN
        elif self.drain or self.stopping:
            srv.state = SrvState.DRAIN
        else:
            srv.state = SrvState.UP

    def _after_up(self) -> int:
        """What follows a server becoming usable: `on-marked-up shutdown-backup-sessions`,
        then waiting requests are handed over; returns how many were."""
        srv = self.server
        if (
            self.conf.check.on_marked_up == "shutdown-backup-sessions"
            and not srv.backup
            and srv.usable
        ):
            for other in self.backend.servers:
                if other.backup:
                    shutdown_sessions(other, "U")
        return _serve_queue(self.backend)

    def _shutdown_own(self) -> None:
        if self.conf.check.on_marked_down == "shutdown-sessions":
            shutdown_sessions(self.server, "D")

    def _usable(self) -> tuple[int, int]:
        servers = self.backend.servers
        return (
            sum(1 for s in servers if s.usable and not s.backup),
            sum(1 for s in servers if s.usable and s.backup),
        )

    def _any_usable(self) -> bool:
        return any(s.usable for s in self.backend.servers)

    def _alert_if_none(self, had_any: bool) -> None:
        if had_any and not self._any_usable():
            be = self.backend
            kind = "proxy" if be.conf.cap is Cap.LISTEN else "backend"
            self.say("ALERT", no_server_message(kind, be.name))


def shutdown_sessions(srv: Server, cause: str) -> int:
    """End every live session of `srv` (`Server.sessions`) with termination cause
    `cause`; returns how many. Sessions remove themselves as they end."""
    live = srv.sessions
    if not live:
        return 0
    sessions = list(live)
    for session in sessions:
        session.shutdown(cause)
    return len(sessions)


def _serve_queue(be: Backend) -> int:
    """Hand waiting requests to servers with free slots (a server just came up, or got a
    higher maxconn). Returns how many were taken; bounded by the queue's length."""
    taken = 0
    for _ in range(len(be.queue)):
        if not be.queue:
            break
        srv = be.pick()
        if srv is None:
            break
        if be.queue.popleft()(srv):
            taken += 1
    return taken


__all__ = ["AGENT_FALL", "AGENT_RISE", "Say", "ServerHealth", "shutdown_sessions"]
