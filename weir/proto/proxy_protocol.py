"""The PROXY protocol, versions 1 (text) and 2 (binary), sans-IO: the header a load
balancer puts before a connection's first byte to tell the next hop who the client is.

    parse(data)  -> (ProxyInfo, header length), or None while incomplete; raises
                    ProxyHeaderError for anything that is not a valid header
    v1(src, dst), v2(src, dst) -> the header bytes to send

Version 1 is one line, at most 107 bytes: `PROXY TCP4|TCP6 SRC DST SPORT DPORT\\r\\n` or
`PROXY UNKNOWN ...\\r\\n`. Version 2 starts with a 12-byte signature, then a version and
command byte (0x21: PROXY, 0x20: LOCAL), a family byte (0x11: TCP over IPv4, 0x21: over
IPv6), the length of what follows, the addresses, and optional TLVs (skipped). A LOCAL
or UNKNOWN header carries no addresses: the connection's own are kept.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107

Addr = tuple[str, int]


class ProxyHeaderError(ValueError):
    """Not a PROXY protocol header, or a malformed one."""


@dataclass(frozen=True, slots=True)
class ProxyInfo:
    src: Addr | None  # None: LOCAL / UNKNOWN, keep the connection's addresses
    dst: Addr | None
    version: int


def parse(data: bytes) -> tuple[ProxyInfo, int] | None:
    if data.startswith(b"PROXY"):
        return _parse_v1(data)
    if data[:12] == V2_SIGNATURE[: len(data[:12])]:
        return _parse_v2(data) if len(data) >= 16 else None
    if len(data) < 5 and b"PROXY".startswith(data):
        return None
    raise ProxyHeaderError("the connection does not start with a PROXY protocol header")


def _parse_v1(data: bytes) -> tuple[ProxyInfo, int] | None:
    end = data.find(b"\r\n", 0, V1_MAX + 1)
    if end < 0:
        if len(data) >= V1_MAX:
            raise ProxyHeaderError("PROXY v1 line too long")
        return None
    words = data[:end].split(b" ")
    if len(words) >= 2 and words[1] == b"UNKNOWN":
        return ProxyInfo(None, None, 1), end + 2
    if len(words) != 6 or words[1] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("malformed PROXY v1 line")
    try:
        src = ipaddress.ip_address(words[2].decode())
        dst = ipaddress.ip_address(words[3].decode())
        sport, dport = int(words[4]), int(words[5])
    except (ValueError, UnicodeDecodeError):
        raise ProxyHeaderError("malformed address in a PROXY v1 line") from None
    version = 4 if words[1] == b"TCP4" else 6
    if src.version != version or dst.version != version:
        raise ProxyHeaderError("PROXY v1 addresses do not match their family")
    if not (0 <= sport <= 65535 and 0 <= dport <= 65535) or (words[4].startswith(b"0") and sport):
        raise ProxyHeaderError("malformed port in a PROXY v1 line")
    return ProxyInfo((str(src), sport), (str(dst), dport), 1), end + 2


def _parse_v2(data: bytes) -> tuple[ProxyInfo, int] | None:
    if data[:12] != V2_SIGNATURE:
        raise ProxyHeaderError("bad PROXY v2 signature")
    ver_cmd, fam = data[12], data[13]
    length = int.from_bytes(data[14:16], "big")
    total = 16 + length
    if len(data) < total:
        return None
    if ver_cmd >> 4 != 2:
        raise ProxyHeaderError("unsupported PROXY protocol version")
    cmd = ver_cmd & 0x0F
    if cmd == 0:  # LOCAL: a health check from the proxy itself
        return ProxyInfo(None, None, 2), total
    if cmd != 1:
        raise ProxyHeaderError("unknown PROXY v2 command")
    body = data[16:total]
    if fam == 0x11:
        if len(body) < 12:
            raise ProxyHeaderError("short PROXY v2 IPv4 block")
        src = str(ipaddress.IPv4Address(body[0:4]))
        dst = str(ipaddress.IPv4Address(body[4:8]))
        ports = body[8:12]
    elif fam == 0x21:
        if len(body) < 36:
            raise ProxyHeaderError("short PROXY v2 IPv6 block")
        src = str(ipaddress.IPv6Address(body[0:16]))
        dst = str(ipaddress.IPv6Address(body[16:32]))
        ports = body[32:36]
    else:  # UNSPEC or a family weir does not relay (UNIX, UDP): keep our addresses
        return ProxyInfo(None, None, 2), total
    sport, dport = int.from_bytes(ports[:2], "big"), int.from_bytes(ports[2:], "big")
    return ProxyInfo((src, sport), (dst, dport), 2), total


def v1(src: Addr, dst: Addr) -> bytes:
    s, d = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if s.version != d.version:
        return b"PROXY UNKNOWN\r\n"
    fam = b"TCP4" if s.version == 4 else b"TCP6"
    return b"PROXY %s %s %s %d %d\r\n" % (fam, str(s).encode(), str(d).encode(), src[1], dst[1])


def v2(src: Addr | None, dst: Addr | None) -> bytes:
    if src is None or dst is None:
        return V2_SIGNATURE + b"\x20\x00\x00\x00"  # LOCAL
    s, d = ipaddress.ip_address(src[0]), ipaddress.ip_address(dst[0])
    if s.version != d.version:
        return V2_SIGNATURE + b"\x21\x00\x00\x00"
    fam = b"\x11" if s.version == 4 else b"\x21"
    body = s.packed + d.packed + src[1].to_bytes(2, "big") + dst[1].to_bytes(2, "big")
    return V2_SIGNATURE + b"\x21" + fam + len(body).to_bytes(2, "big") + body
