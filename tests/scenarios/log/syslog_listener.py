"""A UDP syslog listener on 127.0.0.1 for log scenarios."""

from __future__ import annotations

import socket
import time

import pytest


class SyslogListener:
    """A UDP socket on 127.0.0.1 that collects datagrams, with a bounded wait."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]

    def recv(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        data, _ = self.sock.recvfrom(70000)
        return data

    def recv_all(self, count: int, timeout: float = 5.0) -> list[bytes]:
        """`count` datagrams, or fail after `timeout` seconds in all."""
        deadline = time.monotonic() + timeout
        out = []
        while len(out) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"only {len(out)} of {count} syslog datagrams arrived: {out!r}")
            try:
                out.append(self.recv(left))
            except TimeoutError:
                continue
        return out

    def close(self) -> None:
        self.sock.close()
