"""Socket addresses in HAProxy's notation, for `bind` and `server` lines.

Forms understood (as HAProxy 2.6 writes them):
    `*:80`, `:80`, `0.0.0.0:80`, `127.0.0.1:8000-8010` (port range, bind only),
    `[::1]:80`, `::1:80` and `:::80` (IPv6: the last colon separates the port),
    `ipv4@ADDR:PORT`, `ipv6@ADDR:PORT`, `tcp@`, `tcp4@`, `tcp6@` (the same, stream sockets),
    `unix@/path` or a bare `/path` (UNIX stream socket), `abns@name` (a UNIX socket in
    Linux's abstract namespace: held as a path starting with a NUL byte), `fd@N` (an
    already-open listening socket inherited from the parent process, HAProxy's systemd /
    hand-over form), `host.example:80` for servers (resolved once at load time, like
    HAProxy's libc lookup).
Datagram (`udp@`), `sockpair@` and QUIC forms are HAProxy's but not weir's yet: they raise
AddressError saying so.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from enum import StrEnum


class AddressError(ValueError):
    """A malformed or unsupported address; the message is meant for the user."""


class Family(StrEnum):
    IPV4 = "ipv4"
    IPV6 = "ipv6"
    UNIX = "unix"
    FD = "fd"


@dataclass(frozen=True, slots=True)
class Address:
    """One address. `host` is an IP literal ("" = any address), or a path for UNIX.

    `port_low..port_high` is a range for binds (equal for one port). A server address with
    no port has both at 0 (HAProxy then uses the port the client connected to).
    `fqdn` is the host name a server address was written with (weir.dns resolves it);
    `host` is then its address, or "" while it has none.
    """

    family: Family
    host: str
    port_low: int = 0
    port_high: int = 0
    fd: int = -1
    fqdn: str = ""

    @property
    def ports(self) -> range:
        return range(self.port_low, self.port_high + 1)

    @property
    def socket_family(self) -> socket.AddressFamily:
        return {
            Family.IPV4: socket.AF_INET,
            Family.IPV6: socket.AF_INET6,
            Family.UNIX: socket.AF_UNIX,
        }.get(self.family, socket.AF_UNSPEC)

    def __str__(self) -> str:
        if self.family is Family.FD:
            return f"fd@{self.fd}"
        if self.family is Family.UNIX:
            if self.host.startswith("\0"):
                return f"abns@{self.host[1:]}"
            return f"unix@{self.host}"
        host = f"[{self.host}]" if self.family is Family.IPV6 else (self.host or "*")
        if self.port_high != self.port_low:
            return f"{host}:{self.port_low}-{self.port_high}"
        return f"{host}:{self.port_low}"


_STREAM_PREFIXES = {
    "ipv4": Family.IPV4,
    "tcp4": Family.IPV4,
    "ipv6": Family.IPV6,
    "tcp6": Family.IPV6,
    "tcp": None,
    "unix": Family.UNIX,
    "uxst": Family.UNIX,
    "fd": Family.FD,
    "abns": Family.UNIX,
}
_UNSUPPORTED_PREFIXES = ("udp", "udp4", "udp6", "uxdg", "sockpair", "quic4", "quic6")


def _parse_port_range(text: str, whole: str, *, allow_range: bool) -> tuple[int, int]:
    if text == "":
        raise AddressError(f"missing port in '{whole}'")
    low_s, sep, high_s = text.partition("-")
    if sep and not allow_range:
        raise AddressError(f"port ranges are only allowed on 'bind' lines: '{whole}'")
    try:
        low = int(low_s, 10)
        high = int(high_s, 10) if sep else low
    except ValueError:
        raise AddressError(f"invalid port '{text}' in '{whole}'") from None
    if not (1 <= low <= 65535 and 1 <= high <= 65535):
        raise AddressError(f"port {text} out of range (1-65535) in '{whole}'")
    if high < low:
        raise AddressError(f"inverted port range '{text}' in '{whole}'")
    return low, high


def _split_host_port(rest: str, whole: str) -> tuple[str, str | None]:
    """Split `host:port` where host may be a bracketed or bare IPv6 literal."""
    if rest.startswith("["):
        host, sep, tail = rest[1:].partition("]")
        if not sep:
            raise AddressError(f"missing ']' in '{whole}'")
        if tail == "":
            return host, None
        if not tail.startswith(":"):
            raise AddressError(f"unexpected '{tail}' after ']' in '{whole}'")
        return host, tail[1:]
    host, sep, port = rest.rpartition(":")
    if not sep:
        return rest, None
    return host, port


def parse_address(
    text: str,
    *,
    for_bind: bool,
    resolve: bool = True,
    port_optional: bool = False,
    keep_name: bool = False,
) -> Address:
    """Parse one address. `for_bind` allows `*`, empty hosts and port ranges;
    `resolve` looks up host names (servers); `port_optional` allows a missing port;
    `keep_name` returns a host name unresolved, in `fqdn` (with host "").
    """
    whole = text
    family: Family | None = None
    prefix, at, rest = text.partition("@")
    if at and "/" not in prefix and "[" not in prefix:
        if prefix in _UNSUPPORTED_PREFIXES:
            raise AddressError(
                f"'{prefix}@' addresses are HAProxy's but weir does not support them yet: '{whole}'"
            )
        if prefix not in _STREAM_PREFIXES:
            raise AddressError(f"unknown address family '{prefix}@' in '{whole}'")
        family = _STREAM_PREFIXES[prefix]
        text = rest
    if family is Family.FD:
        try:
            fd = int(text, 10)
        except ValueError:
            raise AddressError(f"'fd@' expects a file descriptor number, got '{text}'") from None
        if fd < 0:
            raise AddressError(f"invalid file descriptor '{text}' in '{whole}'")
        return Address(Family.FD, "", fd=fd)
    if family is Family.UNIX or (family is None and text.startswith("/")):
        if not text:
            raise AddressError(f"missing {'name' if prefix == 'abns' else 'path'} in '{whole}'")
        return Address(Family.UNIX, "\0" + text if prefix == "abns" else text)

    host, port_text = _split_host_port(text, whole)
    if port_text is None:
        if not port_optional:
            raise AddressError(f"missing port in '{whole}'")
        low = high = 0
    elif port_text == "" and port_optional:
        low = high = 0
    else:
        low, high = _parse_port_range(port_text, whole, allow_range=for_bind)
    if host in ("", "*"):
        if not for_bind:
            # A server at `*` (0.0.0.0) gets each connection's own destination address:
            # the address the client connected to (transparent proxying), as in HAProxy.
            return Address(Family.IPV4, "0.0.0.0", low, high)
        fam = family or Family.IPV4
        return Address(fam, "" if fam is Family.IPV4 else "::", low, high)
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if keep_name:
            return Address(family or Family.IPV4, "", low, high, fqdn=host)
        if not resolve:
            raise AddressError(f"invalid address '{host}' in '{whole}'") from None
        ip = _resolve(host, family, whole)
    found = Family.IPV4 if ip.version == 4 else Family.IPV6
    if family is not None and family is not found:
        raise AddressError(f"address '{host}' is not {family} in '{whole}'")
    return Address(found, str(ip), low, high)


def _resolve(
    host: str, family: Family | None, whole: str
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    af = {Family.IPV4: socket.AF_INET, Family.IPV6: socket.AF_INET6}.get(
        family or Family.IPV4, socket.AF_UNSPEC
    )
    if family is None:
        af = socket.AF_UNSPEC
    try:
        infos = socket.getaddrinfo(host, None, af, socket.SOCK_STREAM)
    except OSError:
        raise AddressError(f"could not resolve address '{host}' in '{whole}'") from None
    # Prefer IPv4 when the name has both, as HAProxy's default resolution order does.
    infos.sort(key=lambda i: i[0] != socket.AF_INET)
    return ipaddress.ip_address(infos[0][4][0])


def libc_lookup(host: str, family: Family | None = None) -> str | None:
    """The address the system's resolver gives `host` (IPv4 first), or None."""
    try:
        return str(_resolve(host, family, host))
    except AddressError:
        return None


def parse_bind_addresses(text: str) -> list[Address]:
    """A bind line's first argument: one or more comma-separated addresses."""
    return [parse_address(part, for_bind=True, resolve=True) for part in text.split(",")]
