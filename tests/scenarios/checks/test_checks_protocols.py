"""Protocol checks against real servers where Debian's packages provide them quickly:
redis-server (`option redis-check`), PostgreSQL 15 (`option pgsql-check`) and OpenSSL's
`s_server` (`option ssl-hello-chk`); each test is skipped when its server is absent.

SMTP, MySQL and LDAP servers take too long to install and set up for a test, so their
checks run against in-test peers written here, each a faithful (if tiny) speaker of its
protocol's side of the exchange: an SMTP greeting and HELO/EHLO replies as RFC 5321 has
them, a MySQL protocol-10 handshake with OK and ERR packets, an LDAPv3 bind response in
BER. The bytes of each are those the real servers send for these exchanges.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers.ports import LOOPBACK, free_port
from tests.helpers.procs import spawn_daemon, spawn_redis
from tests.scenarios.checks.checkpeers import (
    Peer,
    Said,
    answer,
    checks_running,
    run,
    runtime,
    server,
    stopped,
    until,
)
from weir.backend.server import SrvState

Start = Callable[..., int]


# -- redis (real) ---------------------------------------------------------------------------


def test_redis_check_against_redis_server(
    tmp_path: Path, daemons: list[subprocess.Popen[bytes]]
) -> None:
    open_port, locked_port = free_port(), free_port()
    spawn_redis(daemons, open_port)
    spawn_redis(daemons, locked_port, "--requirepass", "s3cret")

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option redis-check
    server open {LOOPBACK}:{open_port} check inter 100ms
    server locked {LOOPBACK}:{locked_port} check inter 100ms
""",
        )
        said = Said()
        sched = await checks_running(rt, said)
        ok, locked = server(rt, "be", "open"), server(rt, "be", "locked")
        try:
            assert await until(lambda: ok.check_status == "L7OK" and locked.state is SrvState.DOWN)
            assert (ok.check_desc, ok.check_code) == ("Redis server is ok", 0)
            # "-NOAUTH ..." does not match, and redis keeps the connection open: the check
            # waits for more until its deadline, as HAProxy 2.6's does (L7TOUT there too).
            assert (locked.check_status, locked.check_desc) == ("L7TOUT", "")
            assert said.matching("Server be/locked is DOWN, reason: Layer7 timeout, check duration")
        finally:
            await stopped(sched)

    run(scenario())


# -- PostgreSQL (real) ----------------------------------------------------------------------

PG_BIN = Path("/usr/lib/postgresql/15/bin")


@pytest.fixture
def cleanup() -> Iterator[list[Path]]:
    dirs: list[Path] = []
    yield dirs
    for d in dirs:
        shutil.rmtree(d, ignore_errors=True)


def test_pgsql_check_against_postgresql(
    tmp_path: Path, cleanup: list[Path], daemons: list[subprocess.Popen[bytes]]
) -> None:
    # `cleanup` before `daemons`: the server stops before its directory goes.
    initdb = shutil.which("initdb") or str(PG_BIN / "initdb")
    postgres = shutil.which("postgres") or str(PG_BIN / "postgres")
    if not (os.access(initdb, os.X_OK) and os.access(postgres, os.X_OK)):
        pytest.skip("PostgreSQL is not installed")
    as_user: dict[str, object] = {}
    # Not under tmp_path: its parents are private to this user, and PostgreSQL runs as
    # another one when the tests run as root.
    base = Path(tempfile.mkdtemp(prefix="weir-pg-"))
    cleanup.append(base)
    base.chmod(0o755)
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            shutil.chown(base, user="postgres")
        except (LookupError, PermissionError):
            pytest.skip("no 'postgres' user to run PostgreSQL as")
        as_user = {"user": "postgres"}
    data = base / "data"
    done = subprocess.run(
        [initdb, "-D", str(data), "-U", "postgres", "--auth=trust"],
        capture_output=True,
        check=False,
        timeout=60,
        **as_user,  # type: ignore[call-overload]
    )
    if done.returncode != 0:
        pytest.skip(f"initdb failed: {done.stderr.decode(errors='replace')[-200:]}")
    (data / "pg_hba.conf").write_text(
        "host all postgres 127.0.0.1/32 trust\n"
        "host all blocked 127.0.0.1/32 reject\n"
        "host all all 127.0.0.1/32 scram-sha-256\n"
    )
    port = free_port()
    spawn_daemon(
        daemons,
        [
            postgres,
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(base),
            "-c",
            f"listen_addresses={LOOPBACK}",
            "-c",
            "fsync=off",
        ],
        port,
        **as_user,
    )

    async def scenario() -> None:
        rt = runtime(
            tmp_path,
            f"""\
backend ok
    option pgsql-check user postgres
    server s {LOOPBACK}:{port} check inter 200ms

backend rejected
    option pgsql-check user blocked
    server s {LOOPBACK}:{port} check inter 200ms

backend scram
    option pgsql-check user someone
    server s {LOOPBACK}:{port} check inter 200ms
""",
        )
        sched = await checks_running(rt, Said())
        ok, rejected, scram = (server(rt, b, "s") for b in ("ok", "rejected", "scram"))
        try:
            assert await until(
                lambda: (
                    ok.check_status == "L7OK"
                    and rejected.state is SrvState.DOWN
                    and scram.state is SrvState.DOWN
                ),
                timeout=20,
            )
            assert ok.check_desc == "PostgreSQL server is ok"
            assert (rejected.check_status, rejected.check_desc) == ("L7RSP", "FATAL")
            # A SASL (SCRAM) request is not among the answers HAProxy 2.6 accepts.
            assert (scram.check_status, scram.check_desc) == ("L7STS", "PostgreSQL unknown error")
        finally:
            await stopped(sched)

    run(scenario())


# -- SSL hello (real OpenSSL) ---------------------------------------------------------------


def test_ssl_hello_check_against_openssl(
    tmp_path: Path, daemons: list[subprocess.Popen[bytes]]
) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=weir-test",
            "-days",
            "1",
        ],
        capture_output=True,
        check=True,
        timeout=30,
    )
    port = free_port()
    spawn_daemon(
        daemons,
        [
            openssl,
            "s_server",
            "-accept",
            f"{LOOPBACK}:{port}",
            "-cert",
            str(cert),
            "-key",
            str(key),
            "-quiet",
        ],
        port,
    )

    async def scenario() -> None:
        async def not_ssl(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1024)
            await answer(writer, b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")

        plain = await Peer(not_ssl).start()
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option ssl-hello-chk
    server tls {LOOPBACK}:{port} check inter 100ms
    server plain {plain.address} check inter 100ms
""",
        )
        sched = await checks_running(rt, Said())
        tls, http = server(rt, "be", "tls"), server(rt, "be", "plain")
        try:
            assert await until(lambda: tls.check_status == "L6OK" and http.state is SrvState.DOWN)
            assert http.check_status == "L6RSP"
            assert tls.state is SrvState.UP
        finally:
            await stopped(sched)
            await plain.close()

    run(scenario())


# -- SMTP (in-test peer) --------------------------------------------------------------------


class Smtp:
    """An SMTP server's side of the check: greeting, then the HELO/EHLO reply."""

    def __init__(self, greeting: bytes = b"220 mx.test ESMTP ready\r\n") -> None:
        self.greeting = greeting
        self.commands: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answer(writer, self.greeting)
        if not self.greeting.startswith(b"2"):
            return
        line = await reader.readline()
        self.commands.append(line)
        verb = line[:4].upper()
        if verb == b"EHLO":
            reply = b"250-mx.test Hello checker\r\n250-PIPELINING\r\n250 HELP\r\n"
        elif verb == b"HELO":
            reply = b"250 mx.test Hello " + line[5:].strip() + b"\r\n"
        else:
            reply = b"500 5.5.2 Syntax error, command unrecognized\r\n"
        await answer(writer, reply)
        await reader.read(1024)  # until the check closes


def test_smtpchk_against_an_smtp_peer(tmp_path: Path) -> None:
    async def scenario() -> None:
        good = Smtp()
        busy = Smtp(b"421 4.3.2 Service not available, closing channel\r\n")
        peers = [await Peer(good).start(), await Peer(busy).start()]
        rt = runtime(
            tmp_path,
            f"""\
backend helo
    option smtpchk
    server s {peers[0].address} check inter 100ms

backend ehlo
    option smtpchk EHLO checker.test
    server s {peers[0].address} check inter 100ms

backend busy
    option smtpchk
    server s {peers[1].address} check inter 100ms
""",
        )
        sched = await checks_running(rt, Said())
        helo, ehlo, down = (server(rt, b, "s") for b in ("helo", "ehlo", "busy"))
        try:
            assert await until(
                lambda: (
                    helo.check_status == ehlo.check_status == "L7OK" and down.state is SrvState.DOWN
                )
            )
            assert (helo.check_code, helo.check_desc) == (250, "mx.test Hello localhost")
            assert (ehlo.check_code, ehlo.check_desc) == (250, "mx.test Hello checker")
            assert b"HELO localhost\r\n" in good.commands
            assert b"EHLO checker.test\r\n" in good.commands
            assert (down.check_status, down.check_code, down.check_desc) == (
                "L7STS",
                421,
                "4.3.2 Service not available, closing channel",
            )
        finally:
            await stopped(sched)
            for p in peers:
                await p.close()

    run(scenario())


# -- MySQL (in-test peer) -------------------------------------------------------------------


def mysql_packet(seq: int, payload: bytes) -> bytes:
    return struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload


class Mysql:
    """A MySQL server's side: the protocol-10 handshake, then OK for `allowed` users and
    ERR 1045 for others, as a server with passwordless `allowed` accounts answers."""

    def __init__(self, allowed: tuple[bytes, ...] = (b"hc",)) -> None:
        self.allowed = allowed
        self.users: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        greeting = (
            b"\x0a8.0.36-test\x00"
            + struct.pack("<I", 42)
            + b"abcdefgh\x00"
            + struct.pack("<H", 0xF7FF)
            + b"\xff"
            + struct.pack("<H", 2)
            + struct.pack("<H", 0x81FF)
            + b"\x15"
            + bytes(10)
            + b"ijklmnopqrst\x00"
            + b"mysql_native_password\x00"
        )
        await answer(writer, mysql_packet(0, greeting))
        head = await reader.readexactly(4)
        body = await reader.readexactly(int.from_bytes(head[:3], "little"))
        caps = int.from_bytes(body[:2], "little")
        user = body[32:] if caps & 0x0200 else body[5:]  # protocol 4.1 or 4.0 layout
        user = user.split(b"\x00", 1)[0]
        self.users.append(user)
        if user in self.allowed:
            await answer(writer, mysql_packet(2, b"\x00\x00\x00\x02\x00\x00\x00"))
        else:
            message = (
                b"#28000Access denied for user '" + user + b"'@'localhost' (using password: NO)"
            )
            await answer(writer, mysql_packet(2, b"\xff" + struct.pack("<H", 1045) + message))
        await reader.read(1024)  # COM_QUIT, then the close


def test_mysql_check_against_a_mysql_peer(tmp_path: Path) -> None:
    async def scenario() -> None:
        peer_side = Mysql()
        peer = await Peer(peer_side).start()
        rt = runtime(
            tmp_path,
            f"""\
backend greeting
    option mysql-check
    server s {peer.address} check inter 100ms

backend login
    option mysql-check user hc
    server s {peer.address} check inter 100ms

backend denied
    option mysql-check user intruder pre-41
    server s {peer.address} check inter 100ms
""",
        )
        sched = await checks_running(rt, Said())
        greeting, login, denied = (server(rt, b, "s") for b in ("greeting", "login", "denied"))
        try:
            assert await until(
                lambda: (
                    greeting.check_status == login.check_status == "L7OK"
                    and denied.state is SrvState.DOWN
                )
            )
            assert (denied.check_status, denied.check_code) == ("L7STS", 1045)
            assert denied.check_desc == (
                "#28000Access denied for user 'intruder'@'localhost' (using password: NO)"
            )
            assert {b"hc", b"intruder"} <= set(peer_side.users)
        finally:
            await stopped(sched)
            await peer.close()

    run(scenario())


# -- LDAP (in-test peer) --------------------------------------------------------------------


class Ldap:
    """An LDAPv3 server's side: it reads the anonymous bind request and answers a
    BindResponse with `result` (0 success, 49 invalidCredentials, ...)."""

    def __init__(self, result: int) -> None:
        self.result = result
        self.requests: list[bytes] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readexactly(2)  # SEQUENCE, short length
        body = await reader.readexactly(head[1])
        self.requests.append(head + body)
        result = bytes([0x0A, 0x01, self.result, 0x04, 0x00, 0x04, 0x00])
        op = bytes([0x61, len(result)]) + result
        message = bytes([0x02, 0x01, 0x01]) + op
        await answer(writer, bytes([0x30, len(message)]) + message)


def test_ldap_check_against_an_ldap_peer(tmp_path: Path) -> None:
    async def scenario() -> None:
        ok, refusing = Ldap(0), Ldap(49)
        peers = [await Peer(ok).start(), await Peer(refusing).start()]
        rt = runtime(
            tmp_path,
            f"""\
backend be
    option ldap-check
    server ok {peers[0].address} check inter 100ms
    server refusing {peers[1].address} check inter 100ms
""",
        )
        sched = await checks_running(rt, Said())
        good, bad = server(rt, "be", "ok"), server(rt, "be", "refusing")
        try:
            assert await until(lambda: good.check_status == "L7OK" and bad.state is SrvState.DOWN)
            assert ok.requests[0] == bytes.fromhex("300C020101600702010304008000")
            assert (bad.check_status, bad.check_code) == ("L7STS", 49)
        finally:
            await stopped(sched)
            for p in peers:
                await p.close()

    run(scenario())
