"""Outcomes applied to a real runtime backend: state, balancer, counters, log lines.

No sockets: a `ServerHealth` is fed made-up outcomes, as the scheduler would feed it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import weir.check.keywords  # noqa: F401
from weir.backend.server import SrvState
from weir.check.state import ServerHealth
from weir.check.status import CheckStatus, Outcome, Verdict
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.proxy.runtime import Backend, build

CFG = """\
defaults
    mode http
    timeout connect 5s
    timeout client 10s
    timeout server 10s
    option httpchk GET /healthCheck.html

backend be
    server s1 127.0.0.1:8080 check rise 2 fall 3
    server s2 127.0.0.1:8081 check
    server b1 127.0.0.1:8082 check backup rise 1 fall 1
"""

OK = Outcome(Verdict(CheckStatus.L7OK, 200), 1)
NOT_FOUND = Outcome(Verdict(CheckStatus.L7STS, 404, "Not Found"), 2)
REFUSED = Outcome(Verdict(CheckStatus.L4CON, None, "Connection refused"), 0)

Said = list[tuple[str, str]]


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Backend, dict[str, ServerHealth], Said]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(CFG)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    assert not [d for d in diags.items if d.level is Level.ALERT and "check" in d.message]
    be = build(cfg).backends["be"]
    said: Said = []

    def say(level: str, message: str) -> None:
        said.append((level, message))

    checks = {}
    for srv, conf in zip(be.servers, be.conf.servers, strict=True):
        checks[srv.name] = ServerHealth(be, srv, conf, say)
    return be, checks, said


def picks(be: Backend, n: int = 12) -> set[str]:
    out = set()
    for _ in range(n):
        srv = be.pick()
        if srv is not None:
            out.add(srv.name)
    return out


def feed(check: ServerHealth, outcome: Outcome, times: int = 1) -> None:
    for _ in range(times):
        check.check_done(outcome)


Setup = tuple[Backend, dict[str, ServerHealth], Said]


def test_start_state(setup: Setup) -> None:
    _, checks, said = setup
    s1 = checks["s1"].server
    assert s1.state is SrvState.UP
    assert s1.check_status == "INI"
    assert s1.check_health == 2  # rise: up, but one failure takes it down
    assert said == []


def test_first_failure_at_start_takes_the_server_down(setup: Setup) -> None:
    be, checks, said = setup
    feed(checks["s1"], REFUSED)
    s1 = checks["s1"].server
    assert s1.state is SrvState.DOWN
    assert (s1.check_status, s1.check_code, s1.check_desc) == ("L4CON", None, "Connection refused")
    assert s1.chkdown == 1
    assert s1.chkfail == 1
    assert "s1" not in picks(be)
    assert said == [
        (
            "WARNING",
            'Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection refused", '
            "check duration: 0ms. 1 active and 1 backup servers left. 0 sessions active, "
            "0 requeued, 0 remaining in queue.",
        )
    ]


def test_fully_up_server_needs_fall_failures(setup: Setup) -> None:
    _, checks, said = setup
    c = checks["s1"]
    feed(c, OK)
    assert c.server.check_health == 4
    assert (c.server.check_status, c.server.check_code, c.server.check_duration_ms) == (
        "L7OK",
        200,
        1,
    )
    feed(c, NOT_FOUND, 2)
    assert c.server.state is SrvState.UP
    assert c.server.check_health == 2
    assert said == []
    feed(c, NOT_FOUND)
    assert c.server.state is SrvState.DOWN
    assert (c.server.check_status, c.server.check_code, c.server.check_desc) == (
        "L7STS",
        404,
        "Not Found",
    )
    assert c.server.chkfail == 3
    assert len(said) == 1
    assert said[0][1].startswith(
        'Server be/s1 is DOWN, reason: Layer7 wrong status, code: 404, info: "Not Found"'
    )
    # Failures while down are not counted again.
    feed(c, NOT_FOUND)
    assert c.server.chkfail == 3
    assert len(said) == 1


def test_down_server_needs_rise_successes(setup: Setup) -> None:
    be, checks, said = setup
    c = checks["s1"]
    feed(c, REFUSED)
    said.clear()
    feed(c, OK)
    assert c.server.state is SrvState.DOWN
    assert "s1" not in picks(be)
    feed(c, OK)
    assert c.server.state is SrvState.UP
    assert "s1" in picks(be)
    assert said == [
        (
            "WARNING",
            "Server be/s1 is UP, reason: Layer7 check passed, code: 200, check duration: 1ms. "
            "2 active and 1 backup servers online. 0 sessions requeued, 0 total in queue.",
        )
    ]


def test_losing_every_server_is_an_alert(setup: Setup) -> None:
    be, checks, said = setup
    feed(checks["s1"], REFUSED)
    feed(checks["s2"], REFUSED)
    assert picks(be) == {"b1"}  # the backup takes over
    assert "Running on backup." in said[-1][1]
    feed(checks["b1"], REFUSED)
    assert said[-2][1].startswith("Backup Server be/b1 is DOWN")
    assert said[-1] == ("ALERT", "backend 'be' has no server available!")
    assert picks(be) == set()
    assert not be.has_usable()


def test_maintenance_is_left_alone(setup: Setup) -> None:
    _, checks, said = setup
    c = checks["s2"]
    c.server.state = SrvState.MAINT
    feed(c, REFUSED)
    assert c.server.state is SrvState.MAINT
    assert said == []


def test_interval_follows_state(setup: Setup) -> None:
    _, checks, _ = setup
    c = checks["s1"]
    assert c.check_interval_ms() == 2000  # no fastinter: inter
    feed(c, REFUSED)
    assert c.check_interval_ms() == 2000


def test_waiting_requests_get_a_server_that_comes_up(setup: Setup) -> None:
    be, checks, said = setup
    for name in ("s1", "s2", "b1"):
        feed(checks[name], REFUSED)
    got: list[str] = []

    def waiter(accept: bool) -> Callable[[object], bool]:
        def take(srv: object) -> bool:
            if accept:
                got.append(getattr(srv, "name", "?"))
            return accept

        return take

    be.queue.extend([waiter(False), waiter(True), waiter(True)])
    feed(checks["s2"], OK, 2)
    assert got == ["s2", "s2"]
    assert not be.queue
    assert said[-1][1].endswith("2 sessions requeued, 0 total in queue.")


# -- intervals, stopping, sessions ----------------------------------------------------------

CFG_INTERVALS = """\
defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s

backend be
    server s 127.0.0.1:8080 check inter 3s fastinter 1s downinter 10s rise 2 fall 2
    server a 127.0.0.1:8081 check agent-check agent-port 9000 agent-inter 7s
"""


def test_intervals_follow_the_health_counter(tmp_path: Path) -> None:
    from checkdrive import Said, backend, healths

    be = backend(tmp_path, CFG_INTERVALS.split("\n\n", 1)[1])
    h = healths(be, Said())["s"]
    assert h.check_interval_ms() == 1000  # at start: health = rise, not yet fully up
    feed(h, OK)
    assert h.check_interval_ms() == 3000  # fully up: inter
    feed(h, REFUSED)
    assert h.check_interval_ms() == 1000  # going down: fastinter
    feed(h, REFUSED)
    assert h.server.state is SrvState.DOWN
    assert h.check_interval_ms() == 10000  # fully down: downinter
    feed(h, OK)
    assert h.check_interval_ms() == 1000  # going up: fastinter
    a = healths(be, Said())["a"]
    assert a.agent_interval_ms() == 7000


class FakeSession:
    def __init__(self, srv: object) -> None:
        self.srv = srv
        self.causes: list[str] = []

    def shutdown(self, cause: str) -> None:
        self.causes.append(cause)
        sessions = getattr(self.srv, "sessions", None)
        if sessions is not None:
            sessions.discard(self)


def test_on_marked_down_and_up_shut_sessions_down(tmp_path: Path) -> None:
    from checkdrive import Said, backend, healths

    be = backend(
        tmp_path,
        "backend be\n"
        "    server s 127.0.0.1:8080 check on-marked-down shutdown-sessions "
        "on-marked-up shutdown-backup-sessions rise 1 fall 1\n"
        "    server b 127.0.0.1:8081 backup\n",
    )
    hs = healths(be, Said())
    s, b = be.servers
    s.sessions, b.sessions = set(), set()
    mine, theirs = FakeSession(s), FakeSession(b)
    s.sessions.add(mine)
    b.sessions.add(theirs)
    hs["s"].check_done(REFUSED)
    assert mine.causes == ["D"]
    assert not s.sessions
    assert theirs.causes == []
    hs["s"].check_done(OK)
    assert s.state is SrvState.UP
    assert theirs.causes == ["U"]


def test_disable_on_404_stops_then_resumes(tmp_path: Path) -> None:
    from checkdrive import Said, backend, healths

    said = Said()
    be = backend(
        tmp_path,
        "backend be\n    option httpchk\n    http-check disable-on-404\n"
        "    server s 127.0.0.1:8080 check\n    server t 127.0.0.1:8081 check\n",
    )
    h = healths(be, said)["s"]
    s = h.server
    stopping = Outcome(Verdict(CheckStatus.L7OKC, 404), 2)
    h.check_done(stopping)
    assert s.state is SrvState.DRAIN
    assert "s" not in picks(be)
    assert said.last == (
        "Server be/s is stopping, reason: Layer7 check conditionally passed, code: 404, "
        "check duration: 2ms. 1 active and 0 backup servers online. 0 sessions requeued, "
        "0 total in queue."
    )
    h.check_done(stopping)
    assert len(said) == 1
    h.check_done(OK)
    assert s.state is SrvState.UP
    assert said.last.startswith("Server be/s is UP, reason: Layer7 check passed, code: 200")
    h.check_done(stopping)
    feed(h, NOT_FOUND, 3)  # fall 3: a stopping server still needs `fall` failures
    assert s.state is SrvState.DOWN


def test_a_state_set_elsewhere_is_respected(tmp_path: Path) -> None:
    """The runtime API may force a server DOWN: checks then bring it back like any
    down server (no stale idea of it being up)."""
    from checkdrive import Said, backend, healths

    said = Said()
    be = backend(tmp_path, "backend be\n    server s 127.0.0.1:8080 check\n")
    h = healths(be, said)["s"]
    feed(h, OK)
    h.server.state = SrvState.DOWN
    h.server.check_health = 0
    be.balancer.server_down(h.server)
    feed(h, OK, 2)
    assert h.server.state is SrvState.UP
    assert said.last.startswith("Server be/s is UP")
