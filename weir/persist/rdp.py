"""`persist rdp-cookie[(<name>)]` (mode tcp): an RDP client that a Session Broker sent
back with a routing cookie reaches the server the cookie names.

The cookie (`Cookie: msts=3640205228.15629.0000`, `msts` by default) carries the
server's IPv4 address as the decimal value of its four bytes read little-endian, and its
port as the decimal value of its two bytes read little-endian, then a dot and anything.
The server with that address and port is chosen while it is up or draining, and even
when it is down or in maintenance with `option persist`; otherwise (no cookie, no such
server) the backend balances the connection as usual.
"""

from __future__ import annotations

from collections.abc import Sequence

from weir.backend.server import Server, SrvState
from weir.balance.keys import rdp_cookie_key

_USABLE = (SrvState.UP, SrvState.DRAIN)


def decode(value: bytes) -> tuple[str, int] | None:
    """The (address, port) an RDP routing cookie's value encodes, or None."""
    addr, sep, rest = value.partition(b".")
    port, sep2, _ = rest.partition(b".")
    if not (sep and sep2 and addr.isdigit() and port.isdigit()):
        return None
    a = int(addr) & 0xFFFFFFFF
    p = int(port) & 0xFFFF
    host = ".".join(str(b) for b in a.to_bytes(4, "little"))
    return host, int.from_bytes(p.to_bytes(2, "little"), "big")


def encode(host: str, port: int) -> bytes:
    """The cookie value for a server (what a Session Broker hands out; for tests)."""
    a = int.from_bytes(bytes(int(b) for b in host.split(".")), "little")
    p = int.from_bytes(port.to_bytes(2, "big"), "little")
    return b"%d.%d.0000" % (a, p)


def rdp_server(
    payload: bytes, name: bytes, servers: Sequence[Server], persist: bool
) -> Server | None:
    """The server an RDP connection's routing cookie names, if it may take it."""
    value = rdp_cookie_key(payload, name)
    target = decode(value) if value else None
    if target is None:
        return None
    host, port = target
    for srv in servers:
        if srv.host == host and srv.port == port:
            return srv if persist or srv.state in _USABLE else None
    return None
