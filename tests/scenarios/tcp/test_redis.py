"""Redis behind weir in mode tcp, as the seed's layer 4 section has it: two real
redis-server processes (Debian's package), `balance source`, `option redis-check`. A
client speaks RESP through weir; its commands reach one server and stay there; when that
server stops, the check takes it out and the next connections go to the other."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

from tests.helpers.ports import LOOPBACK, free_port
from tests.helpers.procs import spawn_redis

CONFIG = """\
defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend redis_in
    bind {lo}:{port}
    default_backend redis
backend redis
    balance source
    option redis-check
    server r1 {lo}:{p1} check inter 200ms fall 2 rise 1
    server r2 {lo}:{p2} check inter 200ms fall 2 rise 1
"""


def _command(*words: str) -> bytes:
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        b = w.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _ask(port: int, *words: str) -> bytes:
    """One command on a new connection; the whole reply (a line, or a bulk string)."""
    with socket.create_connection((LOOPBACK, port), timeout=5) as s:
        s.sendall(_command(*words))
        got = b""
        while not got.endswith(b"\r\n") or (got.startswith(b"$") and got.count(b"\r\n") < 2):
            if got.startswith(b"$-1\r\n"):
                break
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got


def test_redis_behind_weir_with_balance_source(
    weir: Any, daemons: list[subprocess.Popen[bytes]]
) -> None:
    p1, p2, port = free_port(), free_port(), free_port()
    spawn_redis(daemons, p1)
    spawn_redis(daemons, p2)
    weir(CONFIG.format(lo=LOOPBACK, port=port, p1=p1, p2=p2), wait_ports=[port])

    assert _ask(port, "SET", "greeting", "hello") == b"+OK\r\n"
    # `balance source`: every connection from this address reaches the same server.
    for _ in range(5):
        assert _ask(port, "GET", "greeting") == b"$5\r\nhello\r\n"
    holder = [p for p in (p1, p2) if _ask(p, "GET", "greeting") == b"$5\r\nhello\r\n"]
    assert len(holder) == 1
    other = p2 if holder[0] == p1 else p1

    # The server holding the key stops: redis-check takes it out, and the client's next
    # connections reach the other server, which never saw the key.
    down = daemons[0 if holder[0] == p1 else 1]
    down.terminate()
    down.wait(5)
    deadline = time.monotonic() + 10
    reply = b""
    while time.monotonic() < deadline:
        try:
            reply = _ask(port, "GET", "greeting")
        except OSError:
            reply = b""
        if reply == b"$-1\r\n":
            break
        time.sleep(0.1)
    assert reply == b"$-1\r\n"
    assert _ask(port, "SET", "greeting", "again") == b"+OK\r\n"
    assert _ask(other, "GET", "greeting") == b"$5\r\nagain\r\n"
