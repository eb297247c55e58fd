"""Kernel splicing in mode tcp: with `option splice-request` (from the start) or
`splice-auto` (once a burst of reads is large), a multi-MiB transfer arrives byte-exact both ways,
a client's half-close still gets the whole answer, a server's end reaches the client, the
byte counters and the log line's are exact, and timeouts still end idle sessions; with no
pipes to spare (`maxpipes 1`: a session takes two; a pool in use) or `nosplice`, the
ordinary relay does the same work."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.ports import free_port

CFG = """\
global
    stats socket {sock} level admin
{glob}defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    {option}
    default_backend be
backend be
    server s1 {backend}
"""


def _echo_through(port: int, data: bytes) -> bytes:
    """Send `data`, half-close, and read everything back (the echo server answers it)."""
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:

        def send() -> None:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        while chunk := s.recv(1 << 16):
            got += chunk
        t.join(10)
    return bytes(got)


def _cli(sock: Path, line: str) -> str:
    return subprocess.run(
        ["socat", "-t", "5", "-", f"UNIX-CONNECT:{sock}"],
        input=(line + "\n").encode(),
        capture_output=True,
        timeout=10,
        check=True,
    ).stdout.decode()


def _stat(sock: Path, field: str) -> int:
    out = _cli(sock, "show stat")
    header, *rows = out.splitlines()
    names = header.lstrip("# ").split(",")
    row = next(r.split(",") for r in rows if r.startswith("fe,FRONTEND,"))
    return int(row[names.index(field)])


@pytest.mark.parametrize(
    ("option", "glob", "spliced"),
    [
        ("option splice-request", "", True),
        ("option splice-auto", "", True),
        ("option splice-response", "    maxpipes 1\n", False),  # 1 < 2 pipes: ordinary
        ("option splice-response", "    maxpipes 0\n", True),  # 0: automatic, as HAProxy
        ("option splice-auto", "    nosplice\n", False),
    ],
)
def test_large_transfers_are_exact_both_ways(
    option: str, glob: str, spliced: bool, weir: Any, tcp_backend: Any, tmp_path: Path
) -> None:
    echo = tcp_backend("echo")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        CFG.format(sock=sock, glob=glob, port=port, option=option, backend=echo.address),
        wait_ports=[port],
    )
    data = os.urandom(6 * 1024 * 1024)
    for _ in range(2):  # two sessions: pipes go back to the pool and are used again
        back = _echo_through(port, data)
        assert len(back) == len(data)
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
    assert _stat(sock, "bin") == 2 * len(data)
    assert _stat(sock, "bout") == 2 * len(data)
    # The two pipes of a spliced session are back in the pool, free for the next one.
    info = _cli(sock, "show info")
    assert ("PipesFree: 2" in info) is spliced, info
    assert "PipesUsed: 0" in info
    out = f"TotalSplicdedBytesOut: {2 * len(data)}\n"  # (sic: HAProxy's spelling)
    assert (out in info) is spliced, info


def test_splice_keywords_are_checked() -> None:
    from tests.helpers.procs import run_check

    r = run_check("global\n    maxpipes lots\nfrontend f\n    bind :8080\n")
    assert r.returncode != 0
    assert "maxpipes" in r.stdout
    # HAProxy's corpus has `maxpipes 99999`; a listen section and defaults take the options.
    ok = run_check(
        "global\n    maxpipes 99999\n    nosplice\n    tune.pipesize 65536\n"
        "defaults\n    mode tcp\n    option splice-request\n    no option splice-request\n"
        "listen l\n    bind :8081\n    option splice-auto\n    server s 127.0.0.1:9\n"
    )
    assert "Configuration file is valid" in ok.stdout, ok.stdout
    ok = run_check(
        "global\n    maxpipes 100\n    tune.pipesize 65536\ndefaults\n    mode tcp\n"
        "    option splice-auto\n    no option splice-auto\nfrontend f\n    bind :8080\n"
        "    option splice-response\n    default_backend b\nbackend b\n"
        "    server s 127.0.0.1:9\n"
    )
    assert "Configuration file is valid" in ok.stdout, ok.stdout


def test_sessions_beyond_the_pipe_pool_take_the_ordinary_path(
    weir: Any, tcp_backend: Any, tmp_path: Path
) -> None:
    """`maxpipes 2`: the first session splices, the second, at the same time, finds no free
    pipe and relays as usual; both are exact."""
    echo = tcp_backend("echo")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        CFG.format(
            sock=sock,
            glob="    maxpipes 2\n",
            port=port,
            option="option splice-request",
            backend=echo.address,
        ),
        wait_ports=[port],
    )
    data = os.urandom(3 * 1024 * 1024)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as first:
        # The first session holds both pipes: a byte through it shows it is relaying.
        first.sendall(b"x")
        assert first.recv(1) == b"x"
        assert "PipesUsed: 2" in _cli(sock, "show info")
        back = _echo_through(port, data)  # the second session, while the first is open
        assert hashlib.sha256(back).digest() == hashlib.sha256(data).digest()
        assert "PipesUsed: 2" in _cli(sock, "show info")
        first.shutdown(socket.SHUT_WR)
        assert first.recv(16) == b""
    assert _stat(sock, "bin") == len(data) + 1
    assert _stat(sock, "bout") == len(data) + 1


def _exchange(s: socket.socket, msg: bytes) -> None:
    s.sendall(msg)
    got = b""
    while len(got) < len(msg):
        chunk = s.recv(len(msg) - len(got))
        assert chunk, "the session ended early"
        got += chunk
    assert got == msg


@pytest.mark.parametrize(("size", "spliced"), [(4096, True), (64, False)])
def test_splice_auto_counts_bursts_not_single_reads(
    size: int, spliced: bool, weir: Any, tcp_backend: Any, tmp_path: Path
) -> None:
    """`splice-auto`: exchanges of 4 KiB (each one read, none of them 16 KiB) add up to a
    burst that splices the session; 64-byte request/response chatter never does."""
    echo = tcp_backend("echo")
    port = free_port()
    sock = tmp_path / "api.sock"
    weir(
        CFG.format(
            sock=sock, glob="", port=port, option="option splice-auto", backend=echo.address
        ),
        wait_ports=[port],
    )
    msg = os.urandom(size)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        for _ in range(40):  # 40 x 4 KiB: 160 KiB each way
            _exchange(s, msg)
        assert ("PipesUsed: 2" in _cli(sock, "show info")) is spliced
        _exchange(s, msg)  # and the session goes on, spliced or not
    assert _stat(sock, "bin") == 41 * size


LOG_CFG = """\
global
    log 127.0.0.1:{log_port} local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    option splice-auto
    {fmt}
    default_backend be
backend be
    {tunnel}
    server s1 {backend}
"""


@pytest.mark.parametrize(
    ("fmt", "field"),
    [("option tcplog", 5), ('log-format "%U %B %ts"', 0)],
)
def test_log_line_counts_spliced_bytes_exactly(
    fmt: str, field: int, weir: Any, tcp_backend: Any
) -> None:
    """What the log says went each way is what went, to the byte, with splicing."""
    from tests.scenarios.log.syslog_listener import SyslogListener

    udp = SyslogListener()
    try:
        echo = tcp_backend("echo")
        port = free_port()
        weir(
            LOG_CFG.format(log_port=udp.port, port=port, fmt=fmt, tunnel="", backend=echo.address),
            wait_ports=[port],
        )
        data = os.urandom(5 * 1024 * 1024 + 7)
        back = _echo_through(port, data)
        assert len(back) == len(data)
        [line] = udp.recv_all(1)
        words = line.decode().rsplit(": ", 1)[1].split()
        if field:  # tcplog: ... Tw/Tc/Tt B ts ...
            assert int(words[field]) == len(data), words
            assert words[field + 1] == "--", words
        else:
            assert words == [str(len(data)), str(len(data)), "--"]
    finally:
        udp.close()


def test_idle_spliced_session_ends_at_its_timeout(weir: Any, tcp_backend: Any) -> None:
    """`timeout tunnel` still ends a spliced session once it is idle (logged `cD`)."""
    from tests.scenarios.log.syslog_listener import SyslogListener

    udp = SyslogListener()
    try:
        echo = tcp_backend("echo")
        port = free_port()
        weir(
            LOG_CFG.format(
                log_port=udp.port,
                port=port,
                fmt='log-format "%U %B %ts"',
                tunnel="timeout tunnel 1s",
                backend=echo.address,
            ).replace("option splice-auto", "option splice-request"),
            wait_ports=[port],
        )
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"hello")
            got = b""
            while len(got) < 5:  # bounded by the socket timeout
                chunk = s.recv(16)
                assert chunk, got
                got += chunk
            assert s.recv(16) == b""  # then nothing more: the proxy closes the idle session
        [line] = udp.recv_all(1)
        assert line.decode().rsplit(": ", 1)[1].split() == ["5", "5", "cD"]
    finally:
        udp.close()


def test_server_end_of_stream_reaches_the_client(weir: Any, tcp_backend: Any) -> None:
    """A server that says its piece and closes: the client gets all of it, then the end."""
    blob = os.urandom(2 * 1024 * 1024)
    talker = tcp_backend("talker", greeting=blob, mode="close")
    port = free_port()
    weir(
        CFG.format(
            sock="/dev/null/none",
            glob="",
            port=port,
            option="option splice-request",
            backend=talker.address,
        ).replace("    stats socket /dev/null/none level admin\n", ""),
        wait_ports=[port],
    )
    got = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        while chunk := s.recv(1 << 16):
            got += chunk
    assert hashlib.sha256(got).digest() == hashlib.sha256(blob).digest()
