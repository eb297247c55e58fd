"""State-change lines in HAProxy's wording."""

from __future__ import annotations

from weir.check.report import (
    down_message,
    drain_message,
    encode_info,
    leave_drain_message,
    leave_maint_message,
    maint_message,
    no_server_message,
    stopping_message,
    up_message,
)
from weir.check.status import CheckStatus, Outcome, Verdict


def test_down_line_for_a_wrong_status() -> None:
    out = Outcome(Verdict(CheckStatus.L7STS, 404, "Not Found"), 2)
    assert down_message("ms1", "ms1.srv1", False, out, 1, 0, 0) == (
        'Server ms1/ms1.srv1 is DOWN, reason: Layer7 wrong status, code: 404, info: "Not Found", '
        "check duration: 2ms. 1 active and 0 backup servers left. 0 sessions active, "
        "0 requeued, 0 remaining in queue."
    )


def test_down_line_for_a_refused_connection_has_no_code() -> None:
    out = Outcome(Verdict(CheckStatus.L4CON, None, "Connection refused"), 0)
    assert down_message("be", "s1", True, out, 0, 1, 3) == (
        'Backup Server be/s1 is DOWN, reason: Layer4 connection problem, info: "Connection '
        'refused", check duration: 0ms. 0 active and 1 backup servers left. Running on '
        "backup. 3 sessions active, 0 requeued, 0 remaining in queue."
    )


def test_down_line_without_detail_has_no_info() -> None:
    out = Outcome(Verdict(CheckStatus.L7TOUT), 2001)
    assert down_message("be", "s1", False, out, 0, 0, 0) == (
        "Server be/s1 is DOWN, reason: Layer7 timeout, check duration: 2001ms. 0 active and "
        "0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
    )


def test_up_line() -> None:
    out = Outcome(Verdict(CheckStatus.L7OK, 200), 1)
    assert up_message("ms1", "ms1.srv1", False, out, 2, 0) == (
        "Server ms1/ms1.srv1 is UP, reason: Layer7 check passed, code: 200, check duration: "
        "1ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
    )


def test_up_line_for_a_tcp_check() -> None:
    out = Outcome(Verdict(CheckStatus.L4OK), 0)
    assert up_message("be", "s2", False, out, 1, 0, requeued=4) == (
        "Server be/s2 is UP, reason: Layer4 check passed, check duration: 0ms. 1 active and 0 "
        "backup servers online. 4 sessions requeued, 0 total in queue."
    )


def test_no_server_line() -> None:
    assert no_server_message("backend", "ms1") == "backend 'ms1' has no server available!"
    assert no_server_message("proxy", "stats") == "proxy 'stats' has no server available!"


def test_info_escapes_like_haproxy() -> None:
    assert encode_info('say "hi" <b>\t\xe9') == "say <22>hi<22> <3C>b<3E><09><C3><A9>"
    assert encode_info("plain text: 1/2") == "plain text: 1/2"


def test_layer7_statuses_always_show_a_code() -> None:
    outcome = Outcome(Verdict(CheckStatus.L7STS, None, "-ERR unknown command"), 0)
    assert down_message("rd", "s", False, outcome, 0, 0, 0) == (
        "Server rd/s is DOWN, reason: Layer7 wrong status, code: 0, info: "
        '"-ERR unknown command", check duration: 0ms. 0 active and 0 backup servers left. '
        "0 sessions active, 0 requeued, 0 remaining in queue."
    )


def test_observed_traffic_has_no_duration() -> None:
    outcome = Outcome(Verdict(CheckStatus.HANA, None, "Detected 10 consecutive errors"), -1)
    assert down_message("be", "s", False, outcome, 1, 0, 2).startswith(
        'Server be/s is DOWN, reason: Health analyze, info: "Detected 10 consecutive errors". '
    )


def test_administrative_lines() -> None:
    ok = Outcome(Verdict(CheckStatus.L7OKC, 404), 3)
    assert stopping_message("be", "s", False, ok, 1, 0) == (
        "Server be/s is stopping, reason: Layer7 check conditionally passed, code: 404, "
        "check duration: 3ms. 1 active and 0 backup servers online. 0 sessions requeued, "
        "0 total in queue."
    )
    assert drain_message("be", "s", True, True, 1, 0, 0) == (
        "Backup Server be/s enters drain state. 1 active and 0 backup servers online. "
        "0 sessions requeued, 0 total in queue."
    )
    assert maint_message("be", "s", False, False, 1, 0, 0) == (
        "Server be/s was DOWN and now enters maintenance."
    )
    assert leave_maint_message("be", "s", False, True, True) == (
        "Server be/s is UP/DRAIN (leaving forced maintenance)."
    )
    assert leave_drain_message("be", "s", False, False) == (
        "Server be/s is DOWN (leaving forced drain)."
    )
