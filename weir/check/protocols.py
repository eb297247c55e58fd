"""The protocol checks, written as rulesets: what `option redis-check`, `mysql-check`,
`pgsql-check`, `smtpchk`, `ldap-check` and `ssl-hello-chk` send and expect.

Each is the ruleset HAProxy 2.6 builds for the option (same bytes, same patterns, same
statuses and details), so a server answers weir's check exactly as it answers
HAProxy's. Pure: the rules are data and small judges over the bytes received.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from weir.check.engine import Flow, Run, RunEnv
from weir.check.rules import (
    Connect,
    Expect,
    ExpectKind,
    Line,
    Proto,
    Ruleset,
    Send,
    compile_regex,
    make_ruleset,
    raw,
)
from weir.check.status import CheckStatus, Verdict


def text_of(data: bytes) -> str:
    """Bytes as a check detail: up to the first NUL (HAProxy keeps C strings)."""
    return data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def cut_crlf(data: bytes) -> bytes:
    """Up to the first CR or LF (HAProxy's `cut_crlf` converter)."""
    ends = [i for i in (data.find(b"\r"), data.find(b"\n")) if i >= 0]
    return data[: min(ends)] if ends else data


def _payload_line(data: bytes) -> str:
    return text_of(cut_crlf(data))


def _reply_text(data: bytes) -> str:
    """An SMTP reply's text: after the code, leading blanks dropped, up to the line end."""
    return text_of(cut_crlf(data[4:].lstrip(b" ")))


def _reply_code(data: bytes) -> int | None:
    digits = data[:3]
    return int(digits) if digits.isdigit() else None


def default_ruleset() -> Ruleset:
    """No check option: connecting is the whole check."""
    return make_ruleset(Proto.DEFAULT, [])


# -- redis ----------------------------------------------------------------------------------


def redis_ruleset() -> Ruleset:
    """`PING` in RESP, `+PONG` expected; an error reply is the detail of an L7STS."""
    return make_ruleset(
        Proto.REDIS,
        [
            (Send(data=b"*1\r\n$4\r\nPING\r\n"), ""),
            (
                Expect(
                    ExpectKind.STRING,
                    pattern="+PONG\r\n",
                    text=b"+PONG\r\n",
                    err_status=CheckStatus.L7STS,
                    on_error=_payload_line,
                    on_success=lambda _: "Redis server is ok",
                ),
                "",
            ),
        ],
    )


# -- SSL hello ------------------------------------------------------------------------------

# An SSLv3 CLIENT HELLO offering the 39 most common ciphers (0x01-0x1B, 0x2F-0x3A): the
# head, then 4 bytes of time and 28 "random" bytes, then the rest (RFC 2246, A.3, A.4).
_CIPHERS = b"".join(struct.pack("!H", c) for c in (*range(0x01, 0x1C), *range(0x2F, 0x3B)))
_SSL_HEAD = bytes.fromhex("1603000079010000750300")
_SSL_TAIL = b"HAPROXYSSLCHK\nHAPROXYSSLCHK\n" + b"\x00\x00\x4e" + _CIPHERS + b"\x01\x00"


def ssl_hello(now: float) -> bytes:
    return _SSL_HEAD + struct.pack("!I", int(now) & 0xFFFFFFFF) + _SSL_TAIL


def ssl_hello_ruleset() -> Ruleset:
    """An SSLv3 hello; any SSL record back (handshake or alert) passes with L6OK."""

    def build(env: RunEnv) -> bytes:
        return ssl_hello(env.now)

    return make_ruleset(
        Proto.SSL3,
        [
            (Send(build=build), ""),
            (
                Expect(
                    ExpectKind.RBINARY,
                    pattern="^1[56]",
                    regex=compile_regex("^1[56]"),
                    min_recv=5,
                    ok_status=CheckStatus.L6OK,
                    err_status=CheckStatus.L6RSP,
                    tout_status=CheckStatus.L6TOUT,
                ),
                "",
            ),
        ],
    )


# -- SMTP -----------------------------------------------------------------------------------


def smtp_ruleset(args: list[str]) -> Ruleset:
    """`option smtpchk [EHLO|HELO <domain>]`: the greeting must be 2xx, then the HELO or
    EHLO reply must be 2xx (its text is the detail, its code the check's code)."""
    if len(args) >= 2 and args[0] in ("EHLO", "HELO"):
        command = f"{args[0]} {args[1]}"
    else:
        command = "HELO localhost"
    status_line = (
        Expect(
            ExpectKind.RSTRING,
            pattern="^2[0-9]{2}[ \r]",
            regex=compile_regex("^2[0-9]{2}[ \r]"),
            min_recv=4,
            err_status=CheckStatus.L7STS,
            on_error=_reply_text,
            status_code=_reply_code,
        ),
        "",
    )
    return make_ruleset(
        Proto.SMTP,
        [
            (Connect(default=True, linger=True), ""),
            (
                Expect(
                    ExpectKind.RSTRING,
                    pattern="^[0-9]{3}[ \r]",
                    regex=compile_regex("^[0-9]{3}[ \r]"),
                    min_recv=4,
                    err_status=CheckStatus.L7RSP,
                    on_error=_payload_line,
                ),
                "",
            ),
            status_line,
            (Send(data=raw(command) + b"\r\n"), ""),
            (
                Expect(
                    ExpectKind.RSTRING,
                    pattern="^2[0-9]{2}[- \r]",
                    regex=compile_regex("^2[0-9]{2}[- \r]"),
                    min_recv=4,
                    err_status=CheckStatus.L7STS,
                    on_error=_reply_text,
                    on_success=_reply_text,
                    status_code=_reply_code,
                ),
                "",
            ),
        ],
    )


# -- PostgreSQL -----------------------------------------------------------------------------


def pgsql_ruleset(user: str) -> Ruleset:
    """A StartupMessage for `user`; an ErrorResponse fails with its severity as detail,
    an AuthenticationOk or a password request passes."""
    name = raw(user)
    startup = b"\x00\x03\x00\x00user\x00" + name + b"\x00\x00"
    packet = struct.pack("!I", 4 + len(startup)) + startup
    return make_ruleset(
        Proto.PGSQL,
        [
            (Connect(default=True, linger=True), ""),
            (Send(data=packet), ""),
            (
                Expect(
                    ExpectKind.RSTRING,
                    negated=True,
                    pattern="^E",
                    regex=compile_regex("^E"),
                    min_recv=5,
                    err_status=CheckStatus.L7RSP,
                    on_error=lambda data: text_of(data[6:]),
                ),
                "",
            ),
            (
                Expect(
                    ExpectKind.RBINARY,
                    pattern="^52000000(08|0A|0C)000000(00|02|03|04|05|06)",
                    regex=compile_regex("^52000000(08|0A|0C)000000(00|02|03|04|05|06)"),
                    min_recv=9,
                    err_status=CheckStatus.L7STS,
                    on_success=lambda _: "PostgreSQL server is ok",
                    on_error=lambda _: "PostgreSQL unknown error",
                ),
                "",
            ),
        ],
    )


# -- MySQL ----------------------------------------------------------------------------------


def mysql_ruleset(args: list[str]) -> Ruleset:
    """`option mysql-check [user <name> [post-41|pre-41]]`.

    Without a user, the server's greeting must be a handshake, not an error packet.
    With one, weir logs in without a password and quits at once (the server must accept
    that user from this address without a password); the answer must not be an error.
    """
    lines: list[Line] = [(Connect(default=True, linger=True), "")]
    if args:
        user = raw(args[1])
        if len(args) > 2 and args[2] == "pre-41":
            body = b"\x00\x80\x00\x00\x01" + user + b"\x00\x00"
        else:
            body = b"\x00\x82\x00\x00\x00\x80\x00\x01\x21" + bytes(23) + user + b"\x00\x00"
        header = struct.pack("<I", len(body))[:3] + b"\x01"
        quit_packet = b"\x01\x00\x00\x00\x01"
        lines.append((Send(data=header + body + quit_packet), ""))
    lines.append((Expect(ExpectKind.CUSTOM, custom=_mysql_greeting), ""))
    if args:
        lines.append((Expect(ExpectKind.CUSTOM, custom=_mysql_ok), ""))
    return make_ruleset(Proto.MYSQL, lines)


def _mysql_greeting(run: Run, rule: Expect, last_read: bool) -> Verdict | Flow:
    return _mysql_packet(run, rule, 0, last_read)


def _mysql_ok(run: Run, rule: Expect, last_read: bool) -> Verdict | Flow:
    buf = run.buf
    greeting = 4 + int.from_bytes(buf[0:3], "little")
    return _mysql_packet(run, rule, greeting, last_read)


def _mysql_packet(run: Run, rule: Expect, offset: int, last_read: bool) -> Verdict | Flow:
    buf = run.buf
    if len(buf) < offset + 4:
        return Flow.WAIT if not last_read else run.expect_failed(rule, CheckStatus.L7RSP, False, "")
    length = int.from_bytes(buf[offset : offset + 3], "little")
    if len(buf) < offset + length + 4:
        return Flow.WAIT if not last_read else run.expect_failed(rule, CheckStatus.L7RSP, False, "")
    if buf[offset + 4 : offset + 5] == b"\xff":  # an error packet: its number is the code
        run.code = int.from_bytes(buf[offset + 5 : offset + 7], "little")
        desc = text_of(bytes(buf[offset + 7 :]))
        return run.expect_failed(rule, CheckStatus.L7STS, False, desc)
    return Flow.CONTINUE


# -- LDAP -----------------------------------------------------------------------------------

_LDAP_BIND = bytes.fromhex("300C020101600702010304008000")  # anonymous simple bind, LDAPv3
_NOT_LDAP = "Not LDAPv3 protocol"


def ldap_ruleset() -> Ruleset:
    """An anonymous bind; the bind response's result code must be 0 (success)."""
    return make_ruleset(
        Proto.LDAP,
        [
            (Send(data=_LDAP_BIND), ""),
            (
                Expect(
                    ExpectKind.RBINARY,
                    pattern="^30",
                    regex=compile_regex("^30"),
                    min_recv=14,
                    on_error=lambda _: _NOT_LDAP,
                ),
                "",
            ),
            (Expect(ExpectKind.CUSTOM, custom=_ldap_bind_response), ""),
        ],
    )


def _ldap_bind_response(run: Run, rule: Expect, last_read: bool) -> Verdict | Flow:
    buf = bytes(run.buf)
    try:
        first = buf[1]
        nbytes = 0
        if first & 0x80:
            nbytes = first & 0x7F
            if len(buf) < 1 + nbytes:
                raise IndexError
            if nbytes not in (2, 4):
                return run.expect_failed(rule, CheckStatus.L7RSP, False, _NOT_LDAP)
            length = int.from_bytes(buf[2 : 2 + nbytes], "big")
        else:
            length = first
        at = 2 + nbytes
        if len(buf) < at + length:
            raise IndexError
        if buf[at : at + 4] != b"\x02\x01\x01\x61":  # messageID 1, bindResponse
            return run.expect_failed(rule, CheckStatus.L7RSP, False, _NOT_LDAP)
        at += 4
        at += 1 + (buf[at] & 0x7F if buf[at] & 0x80 else 0)
        if buf[at : at + 2] != b"\x0a\x01":  # resultCode: ENUMERATED
            return run.expect_failed(rule, CheckStatus.L7RSP, False, _NOT_LDAP)
        code = buf[at + 2]
    except IndexError:
        if not last_read:
            return Flow.WAIT
        return run.expect_failed(rule, CheckStatus.L7RSP, False, "")
    if code:
        run.code = code
        return run.expect_failed(
            rule,
            CheckStatus.L7STS,
            False,
            "See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9",
        )
    return Flow.CONTINUE


PROTOCOLS: dict[str, Callable[[list[str]], Ruleset]] = {
    "redis-check": lambda args: redis_ruleset(),
    "ssl-hello-chk": lambda args: ssl_hello_ruleset(),
    "smtpchk": smtp_ruleset,
    "pgsql-check": lambda args: pgsql_ruleset(args[1]),
    "mysql-check": mysql_ruleset,
    "ldap-check": lambda args: ldap_ruleset(),
}
"""Ruleset builders of the protocol options, by option name, from the option's arguments
(already validated by the keyword)."""
