"""WebSocket-style upgrades: after the server's 101, weir relays bytes both ways."""

from __future__ import annotations

import asyncio
import socket
import threading

from tests.helpers.ports import free_port

DEFAULTS = """\
defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    timeout tunnel 2s
"""


class UpgradeEchoServer:
    """Answers an Upgrade request with 101, then echoes every byte it receives,
    upper-cased so that the test knows the bytes went through the server."""

    def __init__(self) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.heads: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            head = await reader.readuntil(b"\r\n\r\n")
            self.heads.append(head)
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
            )
            while data := await reader.read(65536):
                writer.write(data.upper())
                await writer.drain()
            writer.close()

        async def main() -> None:
            self.server = await asyncio.start_server(handle, "127.0.0.1", self.port)
            self.ready.set()

        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def __enter__(self) -> UpgradeEchoServer:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        def stop() -> None:
            self.server.close()
            self.loop.stop()

        self.loop.call_soon_threadsafe(stop)
        self.thread.join(5)


def test_websocket_upgrade_relays_both_ways(weir) -> None:
    port = free_port()
    with UpgradeEchoServer() as ws:
        weir(
            DEFAULTS
            + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server ws 127.0.0.1:{ws.port}
""",
            wait_ports=[port],
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(
                b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(4096)
                assert chunk, "connection closed before the 101"
                head += chunk
            assert head.startswith(b"HTTP/1.1 101 ")
            for word in (b"hello", b"tunnel", b"x" * 100_000):
                s.sendall(word)
                got = b""
                for _ in range(1000):
                    if len(got) >= len(word):
                        break
                    got += s.recv(65536)
                assert got == word.upper()
        assert ws.heads
        assert b"upgrade: websocket" in ws.heads[0].lower()


def test_tunnel_timeout_closes_an_idle_tunnel(weir) -> None:
    port = free_port()
    with UpgradeEchoServer() as ws:
        weir(
            DEFAULTS.replace("timeout tunnel 2s", "timeout tunnel 300ms")
            + f"""
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server ws 127.0.0.1:{ws.port}
""",
            wait_ports=[port],
        )
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(
                b"GET /chat HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            data = b""
            for _ in range(100):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
            # The 101 arrived, then the idle tunnel was closed by weir (recv returned b"").
            assert data.startswith(b"HTTP/1.1 101 ")
