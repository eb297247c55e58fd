"""The demo's web servers: each answers `Hello! This is NAME!` and serves /healthCheck.html.

They stand in for the six nginx servers of the introduction's L7 walk-through. Each has a
document root holding a real `healthCheck.html` file: rename it, as the walk-through does
(`mv healthCheck.html healthCheck.html.bak`), and the server answers 404 to the health
check until it is back. Minimal HTTP/1.1 on purpose (keep-alive, Content-Length bodies);
they are demo equipment, not part of the proxy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast


class DemoServer(asyncio.Protocol):
    def __init__(self, name: str, docroot: Path) -> None:
        self.name = name
        self.health_page = docroot / "healthCheck.html"
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buf) > 65536:
                    self.transport.close()
                return
            head = self.buf[:end].decode("latin-1")
            lines = head.split("\r\n")
            parts = lines[0].split(" ")
            length = 0
            close = parts[-1] == "HTTP/1.0"
            for line in lines[1:]:
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length" and value.isdigit():
                    length = int(value)
                elif name == "connection":
                    close = "close" in value if not close else "keep-alive" not in value
            if len(self.buf) < end + 4 + length:
                return
            self.buf = self.buf[end + 4 + length :]
            path = parts[1] if len(parts) > 1 else "/"
            self._answer(path, close)

    def _answer(self, path: str, close: bool) -> None:
        assert self.transport is not None
        status = "200 OK"
        if path.split("?", maxsplit=1)[0].endswith("/healthCheck.html"):
            try:
                body = self.health_page.read_bytes()
            except OSError:
                status, body = "404 Not Found", b"Not Found\n"
        else:
            body = f"Hello! This is {self.name}!\n".encode()
        head = (
            f"HTTP/1.1 {status}\r\n"
            "Content-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\n"
            f"X-Served-By: {self.name}\r\n" + ("Connection: close\r\n" if close else "") + "\r\n"
        )
        self.transport.write(head.encode() + body)
        if close:
            self.transport.close()


async def start_demo_servers(
    servers: list[tuple[str, str, int]], root: Path
) -> list[asyncio.Server]:
    """Start one server per (name, host, port), each with `root/NAME/healthCheck.html`."""
    loop = asyncio.get_running_loop()
    out = []
    for name, host, port in servers:
        docroot = root / name
        docroot.mkdir(parents=True, exist_ok=True)
        (docroot / "healthCheck.html").write_text("OK\n")

        def factory(name: str = name, docroot: Path = docroot) -> asyncio.Protocol:
            return DemoServer(name, docroot)

        out.append(await loop.create_server(factory, host, port, reuse_address=True))
    return out
