"""The protocol checks as rulesets: the bytes they send and how they judge answers.

Answers are scripted bytes shaped as each protocol's servers send them; the scenario
tests run the same checks against real servers (or faithful peers).
"""

from __future__ import annotations

import struct
from pathlib import Path

from checkdrive import CLOSE, drive, ruleset

from weir.check.engine import RunEnv
from weir.check.rules import Ruleset
from weir.check.status import CheckStatus, Verdict


def option(tmp_path: Path, line: str) -> Ruleset:
    return ruleset(tmp_path, f"backend be\n    {line}\n    server s 127.0.0.1:1 check\n")


# -- redis ----------------------------------------------------------------------------------


def test_redis(tmp_path: Path) -> None:
    rules = option(tmp_path, "option redis-check")
    out = drive(rules, [b"+PONG\r\n"])
    assert out.sent == [b"*1\r\n$4\r\nPING\r\n"]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "Redis server is ok")
    failed = drive(rules, [b"-NOAUTH Authentication required.\r\n", CLOSE]).verdict
    assert failed == Verdict(CheckStatus.L7STS, None, "-NOAUTH Authentication required.")
    assert failed.shown_code == 0  # HAProxy prints "code: 0"


# -- MySQL ----------------------------------------------------------------------------------


def mysql_packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


GREETING = mysql_packet(
    0, b"\x0a8.0.99-test\x00" + b"\x01\x00\x00\x00" + b"12345678\x00" + bytes(20)
)
OK_PACKET = mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00")
DENIED = mysql_packet(2, b"\xff\x15\x04#28000Access denied for user 'hc'@'localhost'")


def test_mysql_without_user_reads_the_greeting(tmp_path: Path) -> None:
    rules = option(tmp_path, "option mysql-check")
    out = drive(rules, [GREETING])
    assert out.sent == []
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "")
    refused = mysql_packet(0, b"\xff\x6a\x04Host '10.0.0.1' is blocked")
    v = drive(rules, [refused]).verdict
    assert v == Verdict(CheckStatus.L7STS, 1130, "Host '10.0.0.1' is blocked")


def test_mysql_with_user_logs_in_and_quits(tmp_path: Path) -> None:
    rules = option(tmp_path, "option mysql-check user hc")
    out = drive(rules, [GREETING, OK_PACKET])
    body = b"\x00\x82\x00\x00\x00\x80\x00\x01\x21" + bytes(23) + b"hc\x00\x00"
    assert out.sent == [mysql_packet(1, body) + b"\x01\x00\x00\x00\x01"]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "")
    v = drive(rules, [GREETING + DENIED]).verdict
    assert v == Verdict(CheckStatus.L7STS, 1045, "#28000Access denied for user 'hc'@'localhost'")
    old = drive(option(tmp_path, "option mysql-check user hc pre-41"), [GREETING, OK_PACKET])
    assert old.sent == [
        mysql_packet(1, b"\x00\x80\x00\x00\x01hc\x00\x00") + b"\x01\x00\x00\x00\x01"
    ]


def test_mysql_truncated_answer(tmp_path: Path) -> None:
    rules = option(tmp_path, "option mysql-check")
    assert drive(rules, [GREETING[:10]]).verdict is None  # waits for the rest
    assert drive(rules, [GREETING[:10], CLOSE]).verdict == Verdict(CheckStatus.L7RSP)


# -- PostgreSQL -----------------------------------------------------------------------------


def test_pgsql(tmp_path: Path) -> None:
    rules = option(tmp_path, "option pgsql-check user hc")
    ok = b"R" + struct.pack("!II", 8, 0)
    out = drive(rules, [ok])
    startup = b"\x00\x03\x00\x00user\x00hc\x00\x00"
    assert out.sent == [struct.pack("!I", len(startup) + 4) + startup]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "PostgreSQL server is ok")
    md5 = b"R" + struct.pack("!II", 12, 5) + b"salt"
    assert drive(rules, [md5]).verdict == Verdict(CheckStatus.L7OK, None, "PostgreSQL server is ok")
    error = b"E" + struct.pack("!I", 40) + b"SFATAL\x00C28000\x00Mno such role\x00\x00"
    assert drive(rules, [error]).verdict == Verdict(CheckStatus.L7RSP, None, "FATAL")
    sasl = b"R" + struct.pack("!II", 23, 10) + b"SCRAM-SHA-256\x00\x00"
    assert drive(rules, [sasl]).verdict == Verdict(
        CheckStatus.L7STS, None, "PostgreSQL unknown error"
    )


# -- SMTP -----------------------------------------------------------------------------------


def test_smtp(tmp_path: Path) -> None:
    rules = option(tmp_path, "option smtpchk")
    out = drive(rules, [b"220 mx.example.org ESMTP ready\r\n", b"250 mx.example.org\r\n"])
    assert out.sent == [b"HELO localhost\r\n"]
    assert out.verdict == Verdict(CheckStatus.L7OK, 250, "mx.example.org")
    ehlo = option(tmp_path, "option smtpchk EHLO checker.example.org")
    out = drive(ehlo, [b"220 hi\r\n", b"250-mx.example.org\r\n250-PIPELINING\r\n250 HELP\r\n"])
    assert out.sent == [b"EHLO checker.example.org\r\n"]
    assert out.verdict == Verdict(CheckStatus.L7OK, 250, "mx.example.org")
    busy = drive(rules, [b"554 5.3.2 too busy\r\n"]).verdict
    assert busy == Verdict(CheckStatus.L7STS, 554, "5.3.2 too busy")
    assert drive(rules, [b"hello there\r\n"]).verdict == Verdict(
        CheckStatus.L7RSP, None, "hello there"
    )
    refused = drive(rules, [b"220 hi\r\n", b"501 bad domain\r\n"]).verdict
    assert refused == Verdict(CheckStatus.L7STS, 501, "bad domain")


# -- LDAP -----------------------------------------------------------------------------------


def test_ldap(tmp_path: Path) -> None:
    rules = option(tmp_path, "option ldap-check")
    success = bytes.fromhex("300c02010161070a010004000400")
    out = drive(rules, [success])
    assert out.sent == [bytes.fromhex("300C020101600702010304008000")]
    assert out.verdict == Verdict(CheckStatus.L7OK, None, "")
    bad_credentials = bytes.fromhex("300c02010161070a013104000400")
    assert drive(rules, [bad_credentials]).verdict == Verdict(
        CheckStatus.L7STS, 49, "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9"
    )
    long_form = bytes.fromhex("30840000000c02010161070a010004000400")
    assert drive(rules, [long_form]).verdict == Verdict(CheckStatus.L7OK, None, "")
    not_ldap = b"HTTP/1.1 400 Bad Request\r\n\r\n"
    assert drive(rules, [not_ldap]).verdict == Verdict(
        CheckStatus.L7RSP, None, "Not LDAPv3 protocol"
    )


# -- SSL hello ------------------------------------------------------------------------------


def test_ssl_hello(tmp_path: Path) -> None:
    rules = option(tmp_path, "option ssl-hello-chk")
    env = RunEnv(now=0x01020304)
    out = drive(rules, [bytes.fromhex("160303003a02")], env=env)
    hello = out.request
    assert len(hello) == 126
    assert hello[:11] == bytes.fromhex("1603000079010000750300")
    assert hello[11:15] == bytes.fromhex("01020304")
    assert hello[15:43] == b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n"
    assert out.verdict == Verdict(CheckStatus.L6OK, None, "")
    alert = bytes.fromhex("1503000002022f")  # handshake failure: still SSL
    assert drive(rules, [alert], env=env).verdict == Verdict(CheckStatus.L6OK, None, "")
    http = b"HTTP/1.1 400 Bad Request\r\n"
    assert drive(rules, [http], env=env).verdict == Verdict(CheckStatus.L6RSP, None, "")
    assert drive(rules, [b"\x16\x03"], env=env).verdict is None  # min-recv 5: wait
