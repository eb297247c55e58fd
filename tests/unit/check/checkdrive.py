"""Helpers of the check unit tests: configurations in, rulesets and verdicts out.

`drive` plays the server's side of a check against the sans-IO engine, from a script of
what the server sends; nothing touches a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import weir.check.keywords  # noqa: F401  (registers the keywords)
from weir.check import check_config
from weir.check.agent import agent_ruleset
from weir.check.assemble import ruleset_of
from weir.check.engine import DoConnect, Done, DoRecv, DoSend, Run, RunEnv, Step
from weir.check.rules import Connect, Ruleset
from weir.check.state import ServerHealth
from weir.check.status import CheckStatus, Outcome, Verdict
from weir.config.diagnostics import Diagnostics, Level
from weir.config.loader import load
from weir.config.model import Config
from weir.proxy.runtime import Backend, build

DEFAULTS = """\
defaults
    timeout connect 5s
    timeout client 10s
    timeout server 10s
"""

CLOSE = b""  # in a script: the server closes the connection
TIMEOUT = object()  # in a script: the check's deadline strikes
RESET = object()  # in a script: reading fails with "Connection reset by peer"


def load_text(tmp_path: Path, text: str) -> tuple[Config, Diagnostics]:
    path = tmp_path / "haproxy.cfg"
    path.write_text(text)
    diags = Diagnostics()
    cfg = load([str(path)], diags, env={})
    check_config(cfg, diags)
    return cfg, diags


def messages(diags: Diagnostics, level: Level = Level.ALERT) -> list[str]:
    return [d.message for d in diags.items if d.level is level]


def ruleset(tmp_path: Path, body: str, backend: str = "be") -> Ruleset:
    """The ruleset of `backend` in DEFAULTS + `body`, which must load without alerts."""
    cfg, diags = load_text(tmp_path, DEFAULTS + body)
    assert messages(diags) == []
    return ruleset_of(cfg.backends[backend])


@dataclass
class Driven:
    verdict: Verdict | None  # None: the check still waits (the script ended without a close)
    sent: list[bytes] = field(default_factory=list)
    connects: list[Connect] = field(default_factory=list)

    @property
    def request(self) -> bytes:
        return b"".join(self.sent)


def drive(
    rules: Ruleset,
    script: list[object] | None = None,
    *,
    env: RunEnv | None = None,
    bufsize: int = 16384,
    refuse: dict[int, str] | None = None,
) -> Driven:
    """Run `rules` once against a scripted server.

    `script` holds what the server sends, read in order: bytes (one read each; b"" is the
    close), TIMEOUT or RESET. `refuse` maps the n-th connect (from 1) to the error text of
    a refused connection. When the script runs out while the check reads, the check is
    left waiting (verdict None).
    """
    feed = list(script or [])
    run = Run(rules, env or RunEnv(), bufsize)
    out = Driven(None)
    step: Step = run.begin()
    while not isinstance(step, Done):
        if isinstance(step, DoConnect):
            out.connects.append(step.rule)
            error = (refuse or {}).get(len(out.connects))
            step = run.connect_failed(error) if error else run.connected()
            continue
        if isinstance(step, DoSend):
            out.sent.append(step.data)
            step = run.sent()
            continue
        assert isinstance(step, DoRecv)
        if not feed:
            return out
        item = feed.pop(0)
        if item is TIMEOUT:
            step = run.timed_out()
        elif item is RESET:
            step = run.recv_failed("Connection reset by peer")
        else:
            assert isinstance(item, bytes)
            data = item[: step.size]
            if len(item) > step.size:
                feed.insert(0, item[step.size :])
            step = run.received(data)
    out.verdict = step.verdict
    return out


def backend(tmp_path: Path, body: str, name: str = "be") -> Backend:
    """The runtime backend `name` of DEFAULTS + `body` (which must load without alerts)."""
    cfg, diags = load_text(tmp_path, DEFAULTS + body)
    assert messages(diags) == []
    return build(cfg).backends[name]


class Said(list[tuple[str, str]]):
    """Collects the state-change lines told by a ServerHealth."""

    def __call__(self, level: str, message: str) -> None:
        self.append((level, message))

    @property
    def last(self) -> str:
        return self[-1][1]


def healths(be: Backend, said: Said) -> dict[str, ServerHealth]:
    """A ServerHealth per server of `be`, as the scheduler would build them."""
    out = {}
    for srv, conf in zip(be.servers, be.conf.servers, strict=True):
        c = conf.check
        out[srv.name] = ServerHealth(be, srv, conf, said, check=c.enabled, agent=c.agent)
    return out


def outcome(status: CheckStatus, code: int | None = None, desc: str = "", ms: int = 1) -> Outcome:
    return Outcome(Verdict(status, code, desc), ms)


def agent_says(line: bytes, ms: int = 1) -> Outcome:
    """The outcome of an agent check whose agent answered `line`."""
    out = drive(agent_ruleset(), [line])
    assert out.verdict is not None
    return Outcome(out.verdict, ms)
