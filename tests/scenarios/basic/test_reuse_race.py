"""A kept-alive server connection that the server closes as the next request arrives (its
idle timeout, racing weir's reuse): an idempotent request without a body goes out again
on a new connection and the client never sees the race; a POST is not replayed and gets
a 502."""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Any

from tests.helpers.ports import free_port


class RacingServer:
    """Answers the first request of each connection (keep-alive, as far as the client can
    tell), then closes the connection when the second one arrives, unanswered."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stopping = threading.Event()
        self.served: list[tuple[int, str]] = []  # (connection number, request line)
        self.dropped = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            n += 1
            threading.Thread(target=self._serve, args=(conn, n), daemon=True).start()

    def _serve(self, conn: socket.socket, n: int) -> None:
        conn.settimeout(5)
        with conn:
            buf = b""
            answered = False
            while not self.stopping.is_set():
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                if b"\r\n\r\n" not in buf:
                    continue
                head, _, buf = buf.partition(b"\r\n\r\n")
                line = head.split(b"\r\n", 1)[0].decode()
                if answered:
                    self.dropped += 1
                    return  # closed under the request, without a word
                length = 0
                for h in head.split(b"\r\n")[1:]:
                    if h.lower().startswith(b"content-length:"):
                        length = int(h.split(b":", 1)[1])
                while len(buf) < length:
                    buf += conn.recv(65536)
                buf = buf[length:]
                self.served.append((n, line))
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                answered = True

    def stop(self) -> None:
        self.stopping.set()
        self.sock.close()
        self.thread.join(5)


def test_idempotent_request_is_replayed_on_a_new_connection(weir: Any) -> None:
    srv = RacingServer()
    port = free_port()
    try:
        weir(
            "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n"
            f"    timeout server 5s\nlisten l\n    bind 127.0.0.1:{port}\n"
            f"    server s1 127.0.0.1:{srv.port}\n",
            wait_ports=[port],
        )
        client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        statuses = []
        for method, body in (("GET", None), ("GET", None), ("POST", b"data")):
            client.request(method, "/x", body=body, headers={"Host": "x"})
            r = client.getresponse()
            r.read()
            statuses.append(r.status)
            if r.getheader("connection") == "close":
                client.close()
                client = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        client.close()
        # The second GET met the race and was replayed: connection 2 served it. The POST
        # met it too (on connection 2, reused) and could not be replayed.
        assert statuses == [200, 200, 502]
        assert srv.served == [(1, "GET /x HTTP/1.1"), (2, "GET /x HTTP/1.1")]
        assert srv.dropped == 2
    finally:
        srv.stop()
