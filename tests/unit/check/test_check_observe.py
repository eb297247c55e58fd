"""Passive health: the observer the data path reports to, and the `on-error` actions."""

from __future__ import annotations

from pathlib import Path

import pytest
from checkdrive import Said, backend, healths, outcome

from weir.backend.server import SrvState
from weir.check.observe import Hana, Observer
from weir.check.state import ServerHealth
from weir.check.status import CheckStatus


class Sink:
    def __init__(self) -> None:
        self.calls: list[tuple[int, Hana]] = []

    def observed_errors(self, count: int, last: Hana) -> None:
        self.calls.append((count, last))


def test_layer4_counts_connection_outcomes_only() -> None:
    sink = Sink()
    obs = Observer(sink, layer7=False, limit=3)
    obs.l4_error()
    obs.l4_error()
    obs.l4_ok()  # a good event clears the count
    obs.l4_error()
    obs.http_status(503)  # layer 7 events do not count in layer4 mode
    obs.broken_pipe()
    obs.l4_error()
    assert sink.calls == []
    obs.l4_error()
    assert sink.calls == [(3, Hana.L4_ERR)]
    assert obs.errors == 0  # and it starts again


@pytest.mark.parametrize("status", [100, 200, 404, 499, 501, 505])
def test_layer7_good_statuses(status: int) -> None:
    sink = Sink()
    obs = Observer(sink, layer7=True, limit=2)
    obs.http_status(500)
    obs.http_status(status)
    obs.http_status(500)
    assert sink.calls == []


def test_layer7_errors() -> None:
    sink = Sink()
    obs = Observer(sink, layer7=True, limit=1)
    obs.http_status(502)
    obs.bad_header()
    obs.bad_response()
    obs.read_error()
    obs.read_timeout()
    obs.broken_pipe()
    obs.l4_error()
    obs.l4_ok()  # not a good event in layer7 mode
    assert [e for _, e in sink.calls] == [
        Hana.HTTP_STS,
        Hana.HTTP_HDRRSP,
        Hana.HTTP_RSP,
        Hana.HTTP_READ_ERROR,
        Hana.HTTP_READ_TIMEOUT,
        Hana.HTTP_BROKEN_PIPE,
        Hana.L4_ERR,
    ]


def setup(tmp_path: Path, options: str) -> tuple[ServerHealth, Said, list[int]]:
    said = Said()
    be = backend(
        tmp_path,
        "backend be\n    mode http\n"
        f"    server s 127.0.0.1:8080 check rise 2 fall 3 observe layer7 {options}\n"
        "    server t 127.0.0.1:8081 check\n",
    )
    h = healths(be, said)["s"]
    h.observer = h.server.observer = Observer(h, layer7=True, limit=h.conf.check.error_limit)
    expedited: list[int] = []
    h.expedite = lambda: expedited.append(1)
    h.check_done(outcome(CheckStatus.L7OK, 200))  # fully up: health 4
    return h, said, expedited


def errors(h: ServerHealth, n: int) -> None:
    assert h.server.observer is not None
    for _ in range(n):
        h.server.observer.http_status(503)


def test_fail_check_is_the_default(tmp_path: Path) -> None:
    h, said, expedited = setup(tmp_path, "error-limit 2")
    s = h.server
    errors(h, 2)
    assert (s.check_health, s.hanafail, s.chkfail) == (3, 1, 1)
    assert (s.check_status, s.check_desc, s.check_duration_ms) == (
        "HANA",
        "Detected 2 consecutive errors, last one was: Wrong http response",
        None,
    )
    assert expedited == []  # no fastinter configured
    errors(h, 4)
    assert s.state is SrvState.DOWN
    assert said.last.startswith(
        'Server be/s is DOWN, reason: Health analyze, info: "Detected 2 consecutive errors, '
        'last one was: Wrong http response". 1 active'
    )


def test_a_passed_check_clears_the_count(tmp_path: Path) -> None:
    h, _, _ = setup(tmp_path, "error-limit 2")
    errors(h, 1)
    h.check_done(outcome(CheckStatus.L7OK, 200))
    errors(h, 1)
    assert h.server.hanafail == 0


def test_sudden_death_leaves_one_failure_to_go(tmp_path: Path) -> None:
    h, _, expedited = setup(tmp_path, "error-limit 1 on-error sudden-death fastinter 500ms")
    s = h.server
    errors(h, 1)
    assert (s.check_health, s.state) == (2, SrvState.UP)
    assert expedited == [1]
    h.check_done(outcome(CheckStatus.L4CON, desc="Connection refused"))
    assert s.state is SrvState.DOWN


def test_mark_down(tmp_path: Path) -> None:
    h, _, _ = setup(tmp_path, "error-limit 3 on-error mark-down")
    errors(h, 3)
    assert h.server.state is SrvState.DOWN
    assert h.server.check_health == 0


def test_fastinter_only_brings_the_check_forward(tmp_path: Path) -> None:
    h, said, expedited = setup(tmp_path, "error-limit 1 on-error fastinter fastinter 200ms")
    errors(h, 5)
    assert h.server.check_health == 4
    assert h.server.state is SrvState.UP
    assert (h.server.hanafail, len(expedited)) == (5, 5)
    assert said == []


def test_observe_keywords(tmp_path: Path) -> None:
    from checkdrive import DEFAULTS, load_text, messages

    from weir.config.diagnostics import Level

    _, diags = load_text(
        tmp_path,
        DEFAULTS + "backend be\n    mode tcp\n    server s 127.0.0.1:1 check observe layer7\n",
    )
    assert any("'layer7' can only be used in http proxies" in m for m in messages(diags))
    _, diags = load_text(
        tmp_path, DEFAULTS + "backend be\n    server s 127.0.0.1:1 observe layer4\n"
    )
    assert any("without 'check'" in m for m in messages(diags, Level.WARNING))
    cfg, diags = load_text(
        tmp_path,
        DEFAULTS + "backend be\n    default-server observe layer4 error-limit 5 "
        "on-error mark-down on-marked-down shutdown-sessions\n"
        "    server s 127.0.0.1:1 check\n",
    )
    assert messages(diags) == []
    c = cfg.backends["be"].servers[0].check
    assert (c.observe, c.error_limit, c.on_error, c.on_marked_down) == (
        "layer4",
        5,
        "mark-down",
        "shutdown-sessions",
    )
    for bad in ("observe layer3", "error-limit 0", "on-error retry", "on-marked-up now"):
        _, diags = load_text(tmp_path, DEFAULTS + f"backend be\n    server s 127.0.0.1:1 {bad}\n")
        assert messages(diags), bad
