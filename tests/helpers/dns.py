"""A tiny authoritative DNS server on loopback UDP, for tests of `resolvers`.

`records` maps a name (lower case, no final dot) to its addresses; it may be changed
while the server runs (assign a new dict or mutate it: each query reads it under the
server's lock). A query for a known name gets the addresses of the asked type (A or
AAAA) in its answer section, NOERROR with an empty answer when the name has none of that
type; an unknown name gets NXDOMAIN. Every query is recorded (`queries`).

The server is a plain blocking socket in a daemon thread with a short receive timeout,
so `stop()` ends it within a bounded time. Answers are built with `weir.dns.message`'s
encoder; the decoder's unit tests cover that code on its own.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from types import TracebackType
from typing import Self

from tests.helpers.ports import LOOPBACK
from weir.dns.message import (
    AA,
    QR,
    RA,
    RD,
    DnsError,
    Message,
    QType,
    RCode,
    Record,
    decode,
    encode,
)

_POLL = 0.05  # seconds between checks of the stop flag
STOP_TIMEOUT = 5.0


class DnsServer:
    def __init__(self, records: dict[str, list[str]] | None = None, *, host: str = LOOPBACK):
        self._lock = threading.Lock()
        self._records: dict[str, list[str]] = dict(records or {})
        self._queries: list[tuple[str, int]] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, 0))
        self._sock.settimeout(_POLL)
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dns-server", daemon=True)
        self.errors: list[str] = []
        self.ttl = 1

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def records(self) -> dict[str, list[str]]:
        with self._lock:
            return {k: list(v) for k, v in self._records.items()}

    @records.setter
    def records(self, value: dict[str, list[str]]) -> None:
        with self._lock:
            self._records = {k: list(v) for k, v in value.items()}

    def set(self, name: str, addresses: list[str] | None) -> None:
        """Give `name` these addresses; None removes it (NXDOMAIN from now on)."""
        with self._lock:
            if addresses is None:
                self._records.pop(name, None)
            else:
                self._records[name] = list(addresses)

    @property
    def queries(self) -> list[tuple[str, int]]:
        with self._lock:
            return list(self._queries)

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(STOP_TIMEOUT)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                reply = self.answer(data)
            except DnsError as e:
                self.errors.append(f"bad query from {peer}: {e}")
                continue
            try:
                self._sock.sendto(reply, peer)
            except OSError as e:
                self.errors.append(f"cannot answer {peer}: {e}")

    def answer(self, data: bytes) -> bytes:
        query = decode(data)
        if len(query.questions) != 1:
            return encode(Message(query.qid, QR | RCode.FORMERR))
        q = query.questions[0]
        with self._lock:
            self._queries.append((q.name, q.qtype))
            addresses = self._records.get(q.name)
        flags = QR | AA | RA | (query.flags & RD)
        if addresses is None:
            return encode(Message(query.qid, flags | RCode.NXDOMAIN, [q]))
        version = {QType.A: 4, QType.AAAA: 6}.get(QType(q.qtype)) if q.qtype in (1, 28) else None
        answers = [
            Record(q.name, q.qtype, self.ttl, a)
            for a in addresses
            if version is not None and ipaddress.ip_address(a).version == version
        ]
        return encode(Message(query.qid, flags, [q], answers))
