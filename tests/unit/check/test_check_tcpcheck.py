"""`tcp-check` scripts on the rule engine: parsing, evaluation, HAProxy's details.

The detail texts asserted here were read from HAProxy 2.6.12 running the same rules
(`show stat` and its state-change lines), not only from its source.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from checkdrive import CLOSE, RESET, TIMEOUT, drive, load_text, messages, ruleset

from weir.check.engine import Run, RunEnv
from weir.check.rules import Connect, Expect, Proto, Ruleset, Send, make_ruleset
from weir.check.status import CheckStatus, Verdict
from weir.config.diagnostics import Level


def tcp(tmp_path: Path, *lines: str) -> Ruleset:
    body = "\n".join(f"    {line}" for line in ("option tcp-check", *lines))
    return ruleset(tmp_path, f"backend be\n{body}\n    server s 127.0.0.1:6379 check\n")


def test_no_rules_is_a_connection_check(tmp_path: Path) -> None:
    rules = tcp(tmp_path)
    out = drive(rules)
    assert out.verdict == Verdict(CheckStatus.L4OK, None, "")
    assert [c.implicit for c in out.connects] == [True]


def test_send_and_expect_a_line(tmp_path: Path) -> None:
    rules = tcp(tmp_path, "tcp-check send PING\\r\\n", "tcp-check expect string +PONG")
    out = drive(rules, [b"+PO", b"NG\r\n"])
    assert out.sent == [b"PING\r\n"]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "(tcp-check)")
    assert out.verdict.shown_code == 0


def test_a_mismatch_waits_for_more_then_fails_at_the_close(tmp_path: Path) -> None:
    rules = tcp(
        tmp_path,
        "tcp-check comment hello",
        "tcp-check send PING\\r\\n",
        "tcp-check expect string NOPE",
    )
    assert drive(rules, [b"+OK hello\r\n"]).verdict is None
    out = drive(rules, [b"+OK hello\r\n", CLOSE])
    # A comment names the rules of the same action that follow it: here, the send.
    assert out.verdict == Verdict(
        CheckStatus.L7RSP, None, "TCPCHK did not match content 'NOPE' at step 3"
    )


def test_generic_failure_texts(tmp_path: Path) -> None:
    def fail(line: str, data: bytes) -> str:
        out = drive(tcp(tmp_path, "tcp-check send x", line), [data, CLOSE])
        assert out.verdict is not None
        return out.verdict.desc

    assert (
        fail("tcp-check expect rstring ^OK", b"NO")
        == "TCPCHK did not match content (regex) at step 2"
    )
    assert (
        fail("tcp-check expect binary 4f4b", b"NO")
        == "TCPCHK did not match content (binary) at step 2"
    )
    assert fail("tcp-check expect rbinary ^4F", b"NO") == (
        "TCPCHK did not match content (binary regex) at step 2"
    )
    assert fail("tcp-check expect ! string NO", b"NO") == (
        "TCPCHK matched unwanted content 'NO' at step 2"
    )
    assert fail('tcp-check expect string OK comment "the greeting"', b"NO") == (
        "TCPCHK did not match content 'OK' at step 2 comment: the greeting"
    )


def test_connection_failures_name_the_step(tmp_path: Path) -> None:
    implicit = drive(tcp(tmp_path, "tcp-check send x"), refuse={1: "Connection refused"})
    assert implicit.verdict == Verdict(
        CheckStatus.L4CON, None, "Connection refused at initial connection step of tcp-check"
    )
    rules = tcp(tmp_path, 'tcp-check connect port 54469 comment "first"', "tcp-check send x")
    out = drive(rules, refuse={1: "Connection refused"})
    assert out.verdict is not None
    assert out.verdict.desc == (
        "Connection refused at step 1 of tcp-check (connect port 54469) comment: 'first'"
    )
    plain = ruleset(tmp_path, "backend be\n    server s 127.0.0.1:80 check\n")
    refused = drive(plain, refuse={1: "Connection refused"}).verdict
    assert refused == Verdict(CheckStatus.L4CON, None, "Connection refused")


def test_timeouts_name_the_step_they_waited_at(tmp_path: Path) -> None:
    rules = tcp(tmp_path, "tcp-check send PING\\r\\n", "tcp-check expect string +PONG")
    out = drive(rules, [TIMEOUT])
    assert out.verdict == Verdict(
        CheckStatus.L7TOUT, None, " at step 2 of tcp-check (expect string '+PONG')"
    )
    run = Run(rules, RunEnv(), 16384)
    run.begin()
    assert run.timed_out().verdict == Verdict(
        CheckStatus.L4TOUT, None, " at initial connection step of tcp-check"
    )


def test_a_reset_after_the_answer_still_judges_the_answer(tmp_path: Path) -> None:
    rules = tcp(tmp_path, "tcp-check send x", "tcp-check expect string OK")
    assert drive(rules, [b"OK", RESET]).verdict == Verdict(CheckStatus.L7OK, None, "(tcp-check)")
    out = drive(rules, [RESET])
    assert out.verdict == Verdict(
        CheckStatus.SOCKERR,
        None,
        "Connection reset by peer at step 2 of tcp-check (expect string 'OK')",
    )


def test_empty_response(tmp_path: Path) -> None:
    rules = tcp(tmp_path, "tcp-check send x", "tcp-check expect string OK")
    assert drive(rules, [CLOSE]).verdict == Verdict(
        CheckStatus.L7RSP, None, "TCPCHK got an empty response at step 2"
    )


def test_a_script_of_several_exchanges_and_connections(tmp_path: Path) -> None:
    rules = tcp(
        tmp_path,
        "tcp-check connect",
        "tcp-check send AUTH\\ secret\\r\\n",
        "tcp-check expect string +OK",
        "tcp-check send-binary 50494e470d0a",
        "tcp-check expect rbinary ^2B504F4E47",
        "tcp-check connect port 9000 send-proxy",
        "tcp-check send QUIT\\r\\n",
    )
    out = drive(rules, [b"+OK\r\n", b"+PONG\r\n"])
    assert out.sent == [b"AUTH secret\r\n", b"PING\r\n", b"QUIT\r\n"]
    assert [(c.port, c.send_proxy) for c in out.connects] == [(0, False), (9000, True)]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "(tcp-check)")


def test_expects_after_a_send_see_only_its_answer(tmp_path: Path) -> None:
    rules = tcp(
        tmp_path,
        "tcp-check expect string hello",
        "tcp-check send next",
        "tcp-check expect string hello",
    )
    out = drive(rules, [b"hello", b"bye", CLOSE])
    assert out.verdict is not None
    assert out.verdict.desc == "TCPCHK did not match content 'hello' at step 3"


def test_min_recv_and_statuses(tmp_path: Path) -> None:
    rules = tcp(
        tmp_path,
        "tcp-check send x",
        "tcp-check expect string OK min-recv 6 ok-status L6OK error-status L7STS",
    )
    assert drive(rules, [b"OK"]).verdict is None  # fewer than 6 bytes: wait
    assert drive(rules, [b"OK", b"...."]).verdict == Verdict(CheckStatus.L6OK, None, "(tcp-check)")
    failed = drive(rules, [b"NOTYET"]).verdict  # 6 bytes and no match: min-recv concludes
    assert failed is not None
    assert failed.status is CheckStatus.L7STS
    texts = tcp(
        tmp_path,
        "tcp-check send x",
        'tcp-check expect string OK on-success "all good" on-error "not good"',
    )
    assert drive(texts, [b"OK"]).verdict == Verdict(CheckStatus.L7OK, None, "all good")
    assert drive(texts, [b"KO", CLOSE]).verdict == Verdict(CheckStatus.L7RSP, None, "not good")


def test_a_negated_expect_is_judged_again_with_more_bytes() -> None:
    # The chain "!string ERR" then "string OK": "OK" arrives first (the negated rule
    # passes, the second waits), then "ERR": evaluation restarts at the negated rule.
    lines: list[tuple[Connect | Send | Expect | None, str]] = []
    from weir.check.rules import parse_expect

    lines.append(parse_expect(["expect", "!", "string", "ERR"], http=False))
    lines.append(parse_expect(["expect", "string", "OK\n"], http=False))
    rules = make_ruleset(Proto.TCP, lines)
    expects = [r for r in rules.rules if isinstance(r, Expect)]
    assert [e.head for e in expects] == [1, 1]
    out = drive(rules, [b"OK", b"ERR", CLOSE])
    assert out.verdict is not None
    assert out.verdict.desc == "TCPCHK matched unwanted content 'ERR' at step 1"


def test_too_large_a_send_fails() -> None:
    rules = make_ruleset(Proto.TCP, [(Send(data=b"x" * 64), "")])
    out = drive(rules, bufsize=32)
    assert out.verdict == Verdict(
        CheckStatus.L7RSP,
        None,
        "tcp-check send : string too large (64) for buffer size (32) at step 1",
    )


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("tcp-check send-binary 0g", "invalid binary string"),
        ("tcp-check send-binary 012", "invalid binary string"),
        ("tcp-check expect status 200", "only supports"),
        ("tcp-check expect string", "expects a <pattern>"),
        ("tcp-check expect rstring (", "invalid regular expression"),
        ("tcp-check expect string a min-recv x", "min-recv"),
        ("tcp-check expect string a ok-status L7STS", "only supports"),
        ("tcp-check connect ssl", "TLS"),
        ("tcp-check connect port 70000", "valid TCP port"),
        ("tcp-check connect bogus", "expects 'comment'"),
        ("tcp-check send", "expects a string"),
        ("tcp-check send a b", "expects 'comment'"),
        ("tcp-check comment", "expects a string"),
    ],
)
def test_bad_tcp_check_lines_are_refused(tmp_path: Path, line: str, fragment: str) -> None:
    _, diags = load_text(tmp_path, f"backend be\n    option tcp-check\n    {line}\n")
    assert any(fragment in m for m in messages(diags)), messages(diags)


def test_unsupported_haproxy_tcp_check_actions_are_named(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path, "backend be\n    option tcp-check\n    tcp-check send-lf %[src]\n"
    )
    assert any("does not support yet" in m for m in messages(diags)), messages(diags)


def test_a_connect_must_come_first_when_there_is_one(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        "backend be\n    option tcp-check\n    tcp-check send x\n    tcp-check connect\n",
    )
    assert any("first step MUST also be a 'connect'" in m for m in messages(diags))


def test_rules_of_a_section_replace_those_of_its_defaults(tmp_path: Path) -> None:
    text = (
        "defaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
        "    option tcp-check\n    tcp-check send default\\r\\n\n"
        "backend inherits\n    server s 127.0.0.1:80 check\n"
        "backend own\n    tcp-check send mine\\r\\n\n    server s 127.0.0.1:80 check\n"
        "backend again\n    option tcp-check\n    server s 127.0.0.1:80 check\n"
    )
    cfg, diags = load_text(tmp_path, text)
    assert messages(diags) == []
    from weir.check.assemble import ruleset_of

    def sent(name: str) -> list[bytes]:
        return drive(ruleset_of(cfg.backends[name])).sent

    assert sent("inherits") == [b"default\r\n"]
    assert sent("own") == [b"mine\r\n"]
    assert sent("again") == [b"default\r\n"]


def test_rules_without_option_tcp_check_are_ignored_with_a_warning(tmp_path: Path) -> None:
    _, diags = load_text(tmp_path, "backend be\n    tcp-check send x\n")
    assert any("without 'option tcp-check'" in m for m in messages(diags, Level.WARNING))


def test_server_without_port_needs_connect_rules_with_ports(tmp_path: Path) -> None:
    _, diags = load_text(
        tmp_path,
        "backend be\n    option tcp-check\n    tcp-check connect port 80\n"
        "    tcp-check connect\n    server s 127.0.0.1 check\n",
    )
    assert any("connect rule at step 2 names no port" in m for m in messages(diags))
    _, diags = load_text(
        tmp_path,
        "backend be\n    option tcp-check\n    tcp-check connect port 80\n"
        "    server s 127.0.0.1 check\n",
    )
    assert messages(diags) == []
