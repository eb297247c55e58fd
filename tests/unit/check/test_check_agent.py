"""Agent checks: the reply line, and what each reply does to a real runtime backend."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkdrive import CLOSE, Said, agent_says, backend, drive, healths, outcome

from weir.backend.server import SrvState
from weir.check.agent import AgentReply, agent_ruleset, maxconn_of, parse_reply, weight_of
from weir.check.engine import RunEnv
from weir.check.state import ServerHealth
from weir.check.status import CheckStatus, Verdict
from weir.proxy.runtime import Backend

# -- the reply line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reply"),
    [
        (b"75%", AgentReply(weight="75%")),
        (b"up", AgentReply(health="up")),
        (b"DOWN #disk full", AgentReply(health="down", description="disk full")),
        (b"fail", AgentReply(health="fail")),
        (b"stopped", AgentReply(health="stopped")),
        (b"drain", AgentReply(admin="drain")),
        (b"maint", AgentReply(admin="maint")),
        (b"ready", AgentReply(admin="ready")),
        (b"maxconn:30", AgentReply(maxconn="30")),
        (b"weight:10", AgentReply(weight="10")),
        (b"weight:50%", AgentReply(weight="50%")),
        (
            b"up,50%\tmaxconn:10 ready",
            AgentReply(health="up", admin="ready", weight="50%", maxconn="10"),
        ),
        (b"up down", AgentReply(health="down")),  # of each kind, the last word wins
        (b"hello up world", AgentReply(health="up", error="hello")),
    ],
)
def test_reply_words(line: bytes, reply: AgentReply) -> None:
    assert parse_reply(line) == reply


def test_weights() -> None:
    assert weight_of("75%", 100, True) == (75, "")
    assert weight_of("50%", 3, True) == (1, "")
    assert weight_of("1000%", 100, True) == (256, "")
    assert weight_of("0%", 100, False) == (0, "")
    assert weight_of("100%", 10, False) == (10, "")
    assert weight_of("12", 10, True) == (12, "")
    assert weight_of("257", 10, True) == (
        None,
        "Absolute weight can only be between 0 and 256 inclusive.",
    )
    assert weight_of("50%", 10, False) == (
        None,
        "Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.",
    )
    assert weight_of("x", 10, True)[0] is None
    assert weight_of("12x", 10, True) == (None, "Trailing garbage in weight string")


def test_maxconn() -> None:
    assert maxconn_of("30") == (30, "")
    assert maxconn_of("") == (None, "maxconn string empty or preceded by garbage")
    assert maxconn_of("3x") == (None, "Trailing garbage in maxconn string")


def test_agent_ruleset_sends_the_agent_string_and_reads_one_line() -> None:
    rules = agent_ruleset()
    out = drive(rules, [b"up", b" 50%\r\nrest"], env=RunEnv(agent_send=b"hello\n"))
    assert out.sent == [b"hello\n"]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "", AgentReply(health="up", weight="50%"))
    silent = drive(rules, [b"drain\n"])
    assert silent.sent == []  # nothing to send without agent-send
    assert silent.verdict is not None
    assert silent.verdict.status is CheckStatus.CHECKED


def test_an_incomplete_line_keeps_the_previous_status() -> None:
    previous = Verdict(CheckStatus.L7OK)
    out = drive(agent_ruleset(), [b"up", CLOSE], env=RunEnv(previous=previous))
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "Ignoring incomplete line from agent")


# -- what replies do ------------------------------------------------------------------------

CFG = """\
backend be
    mode http
    balance roundrobin
    server s1 127.0.0.1:8001 check agent-check agent-port 9001 weight 100
    server s2 127.0.0.1:8002 check weight 100
"""


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Backend, ServerHealth, Said]:
    said = Said()
    be = backend(tmp_path, CFG)
    return be, healths(be, said)["s1"], said


Setup = tuple[Backend, ServerHealth, Said]


def picks(be: Backend, n: int = 40) -> list[str]:
    return [s.name for s in (be.pick() for _ in range(n)) if s is not None]


def test_weight_reply_drives_the_balancer(setup: Setup) -> None:
    be, h, said = setup
    s1 = h.server
    h.agent_done(agent_says(b"25%\n"))
    assert (s1.uweight, s1.eweight) == (25, 25)
    assert (s1.agent_status, s1.agent_desc) == ("CHECKED", "")
    got = picks(be, 125)
    assert got.count("s1") == 25
    h.agent_done(agent_says(b"0%\n"))
    assert "s1" not in picks(be)
    assert s1.state is SrvState.UP  # weight 0 is not a state
    assert said == []


def test_down_and_up(setup: Setup) -> None:
    be, h, said = setup
    s1 = h.server
    h.agent_done(agent_says(b"down #maintenance window\n", ms=3))
    assert s1.state is SrvState.DOWN
    assert (s1.agent_status, s1.agent_code, s1.agent_desc) == (
        "L7STS",
        0,
        "via agent : down (maintenance window)",
    )
    assert said.last == (
        "Server be/s1 is DOWN, reason: Layer7 wrong status, code: 0, info: "
        '"via agent : down (maintenance window)", check duration: 3ms. 1 active and 0 '
        "backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    )
    assert "s1" not in picks(be)
    h.agent_done(agent_says(b"up\n"))
    assert s1.state is SrvState.UP
    assert said.last.startswith(
        'Server be/s1 is UP, reason: Layer7 check passed, code: 0, info: "via agent : up"'
    )


def test_agent_up_does_not_override_a_failing_check(setup: Setup) -> None:
    _, h, said = setup
    s1 = h.server
    h.check_done(outcome(CheckStatus.L4CON, desc="Connection refused"))
    assert s1.state is SrvState.DOWN
    h.agent_done(agent_says(b"up\n"))
    assert s1.state is SrvState.DOWN
    assert len(said) == 1


def test_unreachable_agent_changes_nothing(setup: Setup) -> None:
    _, h, said = setup
    s1 = h.server
    for _ in range(3):
        h.agent_done(outcome(CheckStatus.L4CON, desc="Connection refused"))
    assert s1.state is SrvState.UP
    assert s1.agent_status == "L4CON"
    assert said == []


def test_drain_maint_ready(setup: Setup) -> None:
    be, h, said = setup
    s1 = h.server
    h.agent_done(agent_says(b"drain\n"))
    assert s1.state is SrvState.DRAIN
    assert said.last == (
        "Server be/s1 enters drain state. 1 active and 0 backup servers online. "
        "0 sessions requeued, 0 total in queue."
    )
    assert "s1" not in picks(be)
    h.agent_done(agent_says(b"ready\n"))
    assert s1.state is SrvState.UP
    assert said.last == "Server be/s1 is UP (leaving forced drain)."
    h.agent_done(agent_says(b"maint\n"))
    assert s1.state is SrvState.MAINT
    assert said.last == (
        "Server be/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. "
        "0 sessions active, 0 requeued, 0 remaining in queue."
    )
    assert h.check_paused()
    h.agent_done(agent_says(b"ready up\n"))
    assert s1.state is SrvState.UP
    assert said.last == "Server be/s1 is UP/READY (leaving forced maintenance)."
    assert s1.check_health == 2  # back at `rise`: confirmed by the next check
    assert "s1" in picks(be)


def test_drain_while_down_stays_down_then_comes_up_draining(setup: Setup) -> None:
    _, h, said = setup
    s1 = h.server
    h.check_done(outcome(CheckStatus.L4CON))
    h.agent_done(agent_says(b"drain\n"))
    assert s1.state is SrvState.DOWN
    assert said.last.startswith(
        "Server be/s1 enters drain state. 1 active and 0 backup servers left."
    )
    h.check_done(outcome(CheckStatus.L7OK, 200))
    h.check_done(outcome(CheckStatus.L7OK, 200))
    assert s1.state is SrvState.DRAIN


def test_maxconn_reply(setup: Setup) -> None:
    _, h, _ = setup
    s1 = h.server
    h.agent_done(agent_says(b"maxconn:2\n"))
    assert s1.maxconn == 2
    h.agent_done(agent_says(b"maxconn:x\n"))
    assert s1.maxconn == 2
    assert s1.agent_desc == "agent warns : maxconn string empty or preceded by garbage"


def test_errors_and_warnings_in_the_detail(setup: Setup) -> None:
    _, h, _ = setup
    s1 = h.server
    h.agent_done(agent_says(b"bogus\n"))
    assert s1.agent_desc == "agent reports an error : bogus"
    h.agent_done(agent_says(b"up bogus\n"))
    assert s1.agent_desc == "via agent : up (bogus)"


def test_static_algorithm_only_takes_zero_and_full(tmp_path: Path) -> None:
    said = Said()
    be = backend(
        tmp_path,
        "backend be\n    balance static-rr\n"
        "    server s1 127.0.0.1:8001 agent-check agent-port 9001 weight 10\n",
    )
    h = healths(be, said)["s1"]
    h.agent_done(agent_says(b"50%\n"))
    assert h.server.uweight == 10
    assert h.server.agent_desc == (
        "agent warns : Backend is using a static LB algorithm and only accepts weights "
        "'0%' and '100%'."
    )
    h.agent_done(agent_says(b"0%\n"))
    assert h.server.eweight == 0
