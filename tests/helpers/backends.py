"""Tiny real servers for tests: an HTTP/1.1 backend and a TCP echo backend on loopback.

Theory of operation
-------------------
Each server owns one asyncio event loop (the standard one, not uvloop) running in a daemon
thread. `start()` binds the listening socket in the caller's thread (so a bind error raises
there), hands it to the loop and returns once the loop serves it; `stop()` closes the
listener, cancels every connection, ends the loop and joins the thread, each step bounded.
Both servers are context managers.

The HTTP backend is test equipment, deliberately independent of weir's own parser so that a
weir parsing bug cannot be hidden by sharing it. It reads request heads up to the blank line,
validates them strictly (request line, header syntax, no obsolete folding, no bare LF),
frames bodies by Content-Length or chunked transfer coding (both at once, or conflicting
lengths, is refused with 400 and recorded as a bad request), honours keep-alive and serves
pipelined requests in order. Each request is recorded with its raw head, parsed headers,
body and the peer's port; connections are counted (accepted, concurrent, highest
concurrency seen) so tests can prove connection reuse and maxconn limits.

Misbehaviours (`mode`, changeable while running; applied after the request is read and
recorded): "ok" answers; "close" closes without answering; "reset" aborts with an RST
(SO_LINGER 0); "malformed" answers bytes that are not HTTP and closes; "slow-headers" sends
the status line, then the rest of the head after `delay` seconds; "no-response" keeps
reading requests and never answers. With mode "ok", `delay` postpones each answer.

Requests for `health_path` (GET /healthCheck.html by default) are health checks: recorded
in `checks`, not `requests`, and answered by `health_status` with body "OK" (or misbehave
according to `health_mode`), so checks never disturb counts of traffic requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import Final, Literal, Self, get_args

from tests.helpers.ports import LOOPBACK, bind_listener

HttpMode = Literal["ok", "close", "reset", "malformed", "slow-headers", "no-response"]
TcpMode = Literal["echo", "close", "reset", "silent"]
HTTP_MODES: Final = frozenset(get_args(HttpMode))
TCP_MODES: Final = frozenset(get_args(TcpMode))

MAX_HEAD: Final = 64 * 1024  # bytes of request head before 400
MAX_BODY: Final = 64 * 1024 * 1024  # bytes of request body before 400
MAX_TRAILERS: Final = 100
STOP_TIMEOUT: Final = 5.0
DEFAULT_SLOW_DELAY: Final = 1.0  # seconds between the two halves of a slow head
MALFORMED_RESPONSE: Final = b"THIS IS NOT HTTP\x00\x01\r\nreally not\r\n\r\n"

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_REQUEST_LINE = re.compile(
    rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\x00-\x20\x7f]+) (HTTP/[0-9]\.[0-9])"
)
_FIELD_VALUE = re.compile(rb"[^\x00-\x08\x0a-\x1f\x7f]*")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,15}")


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll `predicate` until it is true (True) or `timeout` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


@dataclass(slots=True)
class RecordedRequest:
    """One request as the backend received it. Header names keep their case; values have
    surrounding whitespace removed. `conn` is the serial number (from 1) of the connection
    it came on: two requests with the same `conn` shared one connection."""

    method: str
    target: str
    version: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    raw_head: bytes
    peer_port: int
    conn: int
    chunked: bool = False
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.target.partition("?")[0]

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` (case-insensitive), in order, decoded as latin-1."""
        key = name.lower().encode("latin-1")
        return [v.decode("latin-1") for n, v in self.headers if n.lower() == key]

    def header(self, name: str) -> str | None:
        """The first value of header `name`, or None."""
        values = self.header_values(name)
        return values[0] if values else None


class BadRequestError(Exception):
    """The request cannot be framed or parsed; answered with 400, then the connection closes."""


@dataclass(slots=True)
class _Head:
    method: str
    target: str
    version: str
    headers: list[tuple[bytes, bytes]]
    length: int  # body bytes to read when not chunked
    chunked: bool
    keep_alive: bool
    expect_continue: bool


def _tokens(headers: list[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    return [
        t.strip().lower()
        for n, v in headers
        if n.lower() == name
        for t in v.split(b",")
        if t.strip()
    ]


def parse_request_head(raw: bytes) -> _Head:
    """Parse one request head (request line, header lines, the blank line) strictly.
    Raises BadRequestError on anything a correct client or proxy would not send."""
    text = raw.lstrip(b"\r\n")  # empty lines before a request line are allowed (RFC 9112 2.2)
    if not text.endswith(b"\r\n\r\n"):
        raise BadRequestError("head does not end with an empty line")
    lines = text[:-4].split(b"\r\n")
    m = _REQUEST_LINE.fullmatch(lines[0])
    if m is None:
        raise BadRequestError(f"bad request line {lines[0]!r}")
    method, target, version = (g.decode("latin-1") for g in m.groups())
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t"):
            raise BadRequestError("obsolete line folding")
        name, sep, value = line.partition(b":")
        value = value.strip(b" \t")
        if not sep or _TOKEN.fullmatch(name) is None or _FIELD_VALUE.fullmatch(value) is None:
            raise BadRequestError(f"bad header line {line!r}")
        headers.append((name, value))
    te = _tokens(headers, b"transfer-encoding")
    cls = [v for n, v in headers if n.lower() == b"content-length"]
    chunked = False
    length = 0
    if te:
        if cls:
            raise BadRequestError("both Transfer-Encoding and Content-Length")
        if version == "HTTP/1.0" or te[-1] != b"chunked" or te.count(b"chunked") != 1:
            raise BadRequestError(f"unsupported transfer coding {te!r}")
        chunked = True
    elif cls:
        values = {p.strip() for v in cls for p in v.split(b",")}
        if len(values) != 1:
            raise BadRequestError("conflicting Content-Length values")
        value = values.pop()
        if not value.isdigit() or len(value) > 15:
            raise BadRequestError(f"bad Content-Length {value!r}")
        length = int(value)
        if length > MAX_BODY:
            raise BadRequestError("body too large")
    conn = _tokens(headers, b"connection")
    keep_alive = b"keep-alive" in conn if version == "HTTP/1.0" else b"close" not in conn
    expect = _tokens(headers, b"expect") == [b"100-continue"]
    return _Head(method, target, version, headers, length, chunked, keep_alive, expect)


async def _read_chunked(
    reader: asyncio.StreamReader,
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    parts: list[bytes] = []
    total = 0
    while True:  # bounded: every pass consumes at least one byte of body, up to MAX_BODY
        line = await reader.readuntil(b"\r\n")
        size_text = line[:-2].partition(b";")[0]
        if _CHUNK_SIZE.fullmatch(size_text) is None:
            raise BadRequestError(f"bad chunk size line {line!r}")
        size = int(size_text, 16)
        if size == 0:
            break
        total += size
        if total > MAX_BODY:
            raise BadRequestError("body too large")
        data = await reader.readexactly(size + 2)
        if data[-2:] != b"\r\n":
            raise BadRequestError("chunk data not followed by CRLF")
        parts.append(data[:-2])
    trailers: list[tuple[bytes, bytes]] = []
    for _ in range(MAX_TRAILERS + 1):
        line = await reader.readuntil(b"\r\n")
        if line == b"\r\n":
            return b"".join(parts), trailers
        name, sep, value = line[:-2].partition(b":")
        if not sep or _TOKEN.fullmatch(name) is None:
            raise BadRequestError(f"bad trailer line {line!r}")
        trailers.append((name, value.strip(b" \t")))
    raise BadRequestError("too many trailer lines")


def _reset(writer: asyncio.StreamWriter) -> None:
    """Abort the connection so that the kernel sends RST instead of FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _close(writer: asyncio.StreamWriter) -> None:
    """Close after flushing what was written (FIN), waiting a bounded time."""
    writer.close()
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        await asyncio.wait_for(writer.wait_closed(), 2.0)


class _LoopServer:
    """A listening socket served by an asyncio loop in its own daemon thread."""

    kind = "server"

    def __init__(self, name: str, *, host: str = LOOPBACK, port: int | None = None) -> None:
        self.name = name
        self.host = host
        self._wanted_port = port
        self._port = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._accepted = 0
        self._concurrent = 0
        self._max_concurrent = 0
        self._peer_ports: list[int] = []
        self._errors: list[str] = []
        self._start_error: BaseException | None = None

    # -- addresses ---------------------------------------------------------------------
    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError(f"{self.kind} {self.name} is not started")
        return self._port

    @property
    def address(self) -> str:
        """host:port, as written on a `server` line."""
        return f"{self.host}:{self.port}"

    # -- counters ----------------------------------------------------------------------
    @property
    def accepted(self) -> int:
        """Connections accepted since start (or the last clear())."""
        with self._lock:
            return self._accepted

    @property
    def concurrent(self) -> int:
        """Connections open right now."""
        with self._lock:
            return self._concurrent

    @property
    def max_concurrent(self) -> int:
        """Highest number of connections open at once since start (or the last clear())."""
        with self._lock:
            return self._max_concurrent

    @property
    def peer_ports(self) -> list[int]:
        """Client-side port of every accepted connection, in order."""
        with self._lock:
            return list(self._peer_ports)

    @property
    def errors(self) -> list[str]:
        """Unexpected exceptions raised while serving (a bug in this helper if not empty)."""
        with self._lock:
            return list(self._errors)

    def clear(self) -> None:
        """Forget recorded traffic and restart the counters (open connections still count)."""
        with self._lock:
            self._accepted = 0
            self._max_concurrent = self._concurrent
            self._peer_ports.clear()
            self._clear_records()

    def _clear_records(self) -> None:
        """Subclasses drop their records here; called with the lock held."""

    # -- life cycle --------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = STOP_TIMEOUT) -> Self:
        """Listen and serve; returns once the loop serves the socket."""
        if self.running:
            return self
        sock = bind_listener(self.host, self._wanted_port)
        self._port = sock.getsockname()[1]
        ready = threading.Event()
        self._start_error = None
        self._thread = threading.Thread(
            target=self._run, args=(sock, ready), name=f"{self.kind}-{self.name}", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError(f"{self.kind} {self.name} did not start within {timeout}s")
        if self._start_error is not None:
            self._thread.join(timeout)
            raise RuntimeError(f"{self.kind} {self.name} failed to start") from self._start_error
        return self

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Close the listener and every connection, end the loop and join the thread."""
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None and thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(event.set)
        thread.join(timeout)
        if thread.is_alive():
            raise RuntimeError(f"{self.kind} {self.name} did not stop within {timeout}s")
        self._thread = None
        self._loop = None
        self._stop_event = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.address if self._port else "not started"
        return f"<{type(self).__name__} {self.name} {where}>"

    def _run(self, sock: socket.socket, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(sock, ready))
        except BaseException as e:  # reported to start(); the thread must end quietly
            self._start_error = e
            ready.set()
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            sock.close()

    async def _main(self, sock: socket.socket, ready: threading.Event) -> None:
        self._stop_event = asyncio.Event()
        server = await asyncio.start_server(self._client, sock=sock, limit=MAX_HEAD)
        ready.set()
        try:
            await self._stop_event.wait()
        finally:
            server.close()
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=STOP_TIMEOUT / 2)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(server.wait_closed(), STOP_TIMEOUT / 2)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        peer = writer.get_extra_info("peername")
        with self._lock:
            self._accepted += 1
            self._concurrent += 1
            self._max_concurrent = max(self._max_concurrent, self._concurrent)
            self._peer_ports.append(peer[1] if peer else 0)
            conn = self._accepted
        graceful = False
        try:
            await self._serve(reader, writer, conn, peer[1] if peer else 0)
            graceful = True
        except (OSError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the peer went away, or stop() cancelled us
        except Exception as e:  # a bug in this helper: keep it visible to the test
            with self._lock:
                self._errors.append(f"{type(e).__name__}: {e}")
        try:
            # drain() only waits down to the high-water mark: close gracefully so that the
            # end of a large response still buffered here is sent before the FIN.
            if graceful and not writer.transport.is_closing():
                await _close(writer)
        except asyncio.CancelledError:
            pass
        finally:
            if not writer.transport.is_closing():
                writer.transport.abort()
            with self._lock:
                self._concurrent -= 1
            self._tasks.discard(task)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int, peer_port: int
    ) -> None:
        raise NotImplementedError


ResponseSpec = tuple[int, Sequence[tuple[str, str]], bytes]
"""(status, extra headers, body), as returned by an HttpBackend `respond` hook."""


class HttpBackend(_LoopServer):
    """An HTTP/1.1 server answering `Hello! This is NAME!` with `X-Backend: NAME`.

    mode, status, delay, body, keep_alive, headers, health_status and health_mode may be
    changed while the server runs; the next request uses the new values. `respond`, if
    given, is called (in the server's thread) with each recorded traffic request and may
    return (status, headers, body) to answer instead of the defaults, or None.
    `chunked=True` sends response bodies with chunked transfer coding.
    """

    kind = "http-backend"

    def __init__(
        self,
        name: str,
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        body: bytes | str | None = None,
        status: int = 200,
        delay: float = 0.0,
        mode: HttpMode = "ok",
        keep_alive: bool = True,
        headers: Sequence[tuple[str, str]] = (),
        chunked: bool = False,
        health_path: str = "/healthCheck.html",
        health_status: int = 200,
        health_mode: HttpMode = "ok",
        respond: Callable[[RecordedRequest], ResponseSpec | None] | None = None,
    ) -> None:
        super().__init__(name, host=host, port=port)
        if body is None:
            body = f"Hello! This is {name}!"
        self.body: bytes = body.encode() if isinstance(body, str) else body
        self.status = status
        self.delay = delay
        self.mode = mode
        self.keep_alive = keep_alive
        self.headers: list[tuple[str, str]] = list(headers)
        self.chunked = chunked
        self.health_path = health_path
        self.health_status = health_status
        self.health_mode = health_mode
        self.respond = respond
        self._requests: list[RecordedRequest] = []
        self._checks: list[RecordedRequest] = []
        self._bad: list[tuple[bytes, str]] = []

    @property
    def mode(self) -> HttpMode:
        return self._mode

    @mode.setter
    def mode(self, value: HttpMode) -> None:
        if value not in HTTP_MODES:
            raise ValueError(f"unknown mode {value!r}; expected one of {sorted(HTTP_MODES)}")
        self._mode: HttpMode = value

    @property
    def health_mode(self) -> HttpMode:
        return self._health_mode

    @health_mode.setter
    def health_mode(self, value: HttpMode) -> None:
        if value not in HTTP_MODES:
            raise ValueError(f"unknown mode {value!r}; expected one of {sorted(HTTP_MODES)}")
        self._health_mode: HttpMode = value

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Traffic requests received so far (health checks excluded), in arrival order."""
        with self._lock:
            return list(self._requests)

    @property
    def checks(self) -> list[RecordedRequest]:
        """Health-check requests (for `health_path`) received so far."""
        with self._lock:
            return list(self._checks)

    @property
    def bad_requests(self) -> list[tuple[bytes, str]]:
        """(raw bytes, reason) of every request refused with 400."""
        with self._lock:
            return list(self._bad)

    def wait_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until at least `count` traffic requests were recorded."""
        return wait_until(lambda: len(self._requests) >= count, timeout)

    def _clear_records(self) -> None:
        self._requests.clear()
        self._checks.clear()
        self._bad.clear()

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int, peer_port: int
    ) -> None:
        while True:  # one pass per request; ends when the peer closes or we close
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                return  # closed between requests, or in the middle of a head
            except asyncio.LimitOverrunError:
                await self._refuse(writer, b"", "request head too large")
                return
            try:
                head = parse_request_head(raw)
                if head.expect_continue and (head.chunked or head.length):
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                if head.chunked:
                    body, trailers = await _read_chunked(reader)
                else:
                    body, trailers = await reader.readexactly(head.length), []
            except BadRequestError as e:
                await self._refuse(writer, raw, str(e))
                return
            except asyncio.LimitOverrunError:
                await self._refuse(writer, raw, "chunk size line too long")
                return
            req = RecordedRequest(
                head.method,
                head.target,
                head.version,
                head.headers,
                body,
                raw,
                peer_port,
                conn,
                head.chunked,
                trailers,
            )
            is_check = req.path == self.health_path
            with self._lock:
                (self._checks if is_check else self._requests).append(req)
            mode = self.health_mode if is_check else self.mode
            if mode == "no-response":
                continue
            if mode == "close":
                await _close(writer)
                return
            if mode == "reset":
                _reset(writer)
                return
            if mode == "malformed":
                writer.write(MALFORMED_RESPONSE)
                await _close(writer)
                return
            keep = head.keep_alive and self.keep_alive
            response = self._response(req, is_check, keep)
            if mode == "slow-headers":
                first = response.index(b"\r\n") + 2
                writer.write(response[:first])
                await writer.drain()
                await asyncio.sleep(self.delay or DEFAULT_SLOW_DELAY)
                writer.write(response[first:])
            else:
                if self.delay and not is_check:
                    await asyncio.sleep(self.delay)
                writer.write(response)
            await writer.drain()
            if not keep:
                await _close(writer)
                return

    def _response(self, req: RecordedRequest, is_check: bool, keep: bool) -> bytes:
        spec = None if is_check or self.respond is None else self.respond(req)
        if spec is not None:
            status, extra, body = spec[0], list(spec[1]), spec[2]
        elif is_check:
            status, extra, body = self.health_status, [], b"OK"
        else:
            status, extra, body = self.status, self.headers, self.body
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = [f"HTTP/1.1 {status} {reason}", f"X-Backend: {self.name}"]
        bodyless = status < 200 or status in (204, 304)
        if not bodyless:
            lines.append("Content-Type: text/plain")
            lines.append(
                "Transfer-Encoding: chunked" if self.chunked else f"Content-Length: {len(body)}"
            )
        lines.extend(f"{n}: {v}" for n, v in extra)
        if not keep:
            lines.append("Connection: close")
        elif req.version == "HTTP/1.0":
            lines.append("Connection: keep-alive")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if bodyless or req.method == "HEAD":
            return head
        if not self.chunked:
            return head + body
        half = len(body) // 2
        chunks = [c for c in (body[:half], body[half:]) if c]
        return head + b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks) + b"0\r\n\r\n"

    async def _refuse(self, writer: asyncio.StreamWriter, raw: bytes, reason: str) -> None:
        with self._lock:
            self._bad.append((raw, reason))
        body = f"bad request: {reason}\n".encode("latin-1", "replace")
        writer.write(
            b"HTTP/1.1 400 Bad Request\r\nX-Backend: %s\r\nContent-Length: %d\r\n"
            b"Connection: close\r\n\r\n%s" % (self.name.encode(), len(body), body)
        )
        await _close(writer)


class TcpEchoBackend(_LoopServer):
    """A TCP server that echoes what it receives.

    greeting: True sends `Hello! This is NAME!\\n` as soon as a connection is accepted
    (bytes send those bytes), so a client learns which server it reached before sending.
    mode (changeable while running): "echo"; "close" closes right after the greeting;
    "reset" aborts with an RST after the greeting; "silent" reads and never writes.
    """

    kind = "tcp-backend"

    def __init__(
        self,
        name: str,
        *,
        port: int | None = None,
        host: str = LOOPBACK,
        greeting: bool | bytes = False,
        mode: TcpMode = "echo",
    ) -> None:
        super().__init__(name, host=host, port=port)
        if greeting is True:
            self.greeting = f"Hello! This is {name}!\n".encode()
        elif greeting is False:
            self.greeting = b""
        else:
            self.greeting = greeting
        self.mode = mode
        self._received = 0

    @property
    def mode(self) -> TcpMode:
        return self._mode

    @mode.setter
    def mode(self, value: TcpMode) -> None:
        if value not in TCP_MODES:
            raise ValueError(f"unknown mode {value!r}; expected one of {sorted(TCP_MODES)}")
        self._mode: TcpMode = value

    @property
    def received(self) -> int:
        """Bytes received over all connections since start (or the last clear())."""
        with self._lock:
            return self._received

    def _clear_records(self) -> None:
        self._received = 0

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, conn: int, peer_port: int
    ) -> None:
        if self.greeting:
            writer.write(self.greeting)
            await writer.drain()
        if self.mode == "close":
            await _close(writer)
            return
        if self.mode == "reset":
            _reset(writer)
            return
        while True:  # ends when the peer closes (EOF) or stop() cancels
            data = await reader.read(65536)
            if not data:
                await _close(writer)
                return
            with self._lock:
                self._received += len(data)
            if self.mode == "echo":
                writer.write(data)
                await writer.drain()


__all__ = [
    "HTTP_MODES",
    "MALFORMED_RESPONSE",
    "TCP_MODES",
    "BadRequestError",
    "HttpBackend",
    "HttpMode",
    "RecordedRequest",
    "ResponseSpec",
    "TcpEchoBackend",
    "TcpMode",
    "parse_request_head",
    "wait_until",
]
