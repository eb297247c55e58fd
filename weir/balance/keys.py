"""Key extraction for the hash-based algorithms: pure functions on bytes.

The HTTP/TCP layers hand over the raw pieces (request target, query string, a header
value, the client address, the first bytes of an RDP connection) and pass the result to
`Balancer.pick(key)`. None means "no key": the balancer then falls back to round robin,
as HAProxy does when the parameter, header or cookie is missing.

The rules are HAProxy 2.6's (backend.c, payload.c), including a few of its corner cases
that are noted where they occur; all scanning uses bytes.find/rfind, never a Python loop
over bytes.
"""

from __future__ import annotations

import ipaddress
import re

# RFC 7230 tchar: what a POSTed parameter value must start with to be considered
_TOKEN_START = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]")
_LWS = frozenset(b" \t\r\n")
_SCHEME = re.compile(rb"[A-Za-z][A-Za-z0-9+\-.]*://")


def uri_path(target: bytes) -> bytes:
    """The part of a request target that `balance uri path-only` hashes.

    An origin-form target ("/p?q") is kept whole; an absolute one ("http://h/p?q") loses
    its scheme and authority ("/p?q"); "*", an authority-form target ("host:port") and an
    absolute URI without a path give an empty key.
    """
    if not target or target[:1] == b"*":
        return b""
    if target[:1] == b"/":
        return target
    m = _SCHEME.match(target)
    if m is None:
        return b""
    slash = target.find(b"/", m.end())
    return b"" if slash < 0 else target[slash:]


def uri_key(
    target: bytes,
    *,
    whole: bool = False,
    length: int = 0,
    depth: int = 0,
    path_only: bool = False,
) -> bytes:
    """What `balance uri [whole] [len N] [depth N] [path-only]` hashes from a request target.

    The key is the target (its path part with `path_only`), cut at the first of: `length`
    bytes (when > 0), the '?' (unless `whole`), and the slash that would open directory
    level `depth` + 1 (when `depth` > 0; "/a/b/c" at depth 2 is "/a/b").
    """
    if path_only:
        target = uri_path(target)
    if length > 0:
        target = target[:length]
    if not whole:
        q = target.find(b"?")
        if q >= 0:
            target = target[:q]
    if depth > 0:
        pos = -1
        for _ in range(depth + 1):
            pos = target.find(b"/", pos + 1)
            if pos < 0:
                break
        else:
            target = target[:pos]
    return target


def url_param_key(query: bytes, name: bytes) -> bytes | None:
    """The value of parameter `name` in a query string (what follows the '?'), or None.

    Parameters are separated by '&'; the name is matched case-sensitively and must be
    followed by '='. The first match wins; its value may be empty (HAProxy hashes an
    empty value rather than falling back to round robin). A name without '=' is absent.
    """
    tag = name + b"="
    if query.startswith(tag):
        start = len(tag)
    else:
        i = query.find(b"&" + tag)
        if i < 0:
            return None
        start = i + 1 + len(tag)
    end = query.find(b"&", start)
    return query[start:] if end < 0 else query[start:end]


def url_param_post_key(body: bytes, name: bytes) -> bytes | None:
    """`url_param NAME check_post`: the parameter looked up in a form-encoded body.

    The caller passes the first chunk of body data it has (HAProxy scans only that). As
    in HAProxy, the value must look URL-encoded: when its first byte is not an HTTP token
    character the body is not considered a parameter list (None), except linear white
    space there, which ends the value at once (an empty value).
    """
    value = url_param_key(body, name)
    if not value or _TOKEN_START.match(value):
        return value
    return b"" if value[0] in _LWS else None


def hdr_key(value: bytes | None, *, use_domain_only: bool = False) -> bytes | None:
    """What `balance hdr(NAME) [use_domain_only]` hashes from the header's value.

    `value` is the header's first value as the HTTP layer found it; an absent or empty
    header gives None (round robin). With `use_domain_only` the key is the label before
    the last dot: "www.example.com" -> "example", "example.com" -> "example"; a value
    without a dot (other than at its very start) is kept whole.
    """
    if not value:
        return None
    if not use_domain_only:
        return value
    # HAProxy walks back from the end: the last dot at index >= 1 ends the key, and the
    # key starts after the previous dot found at an index <= last - 2 (so "a..b" keys on
    # "a."), or at the start of the value.
    last = value.rfind(b".", 1)
    if last < 0:
        return value
    prev = value.rfind(b".", 0, last - 1) if last >= 2 else -1
    return value[prev + 1 : last]


def source_key(addr: str) -> bytes:
    """The client address as `balance source` hashes it: 4 bytes for IPv4, 16 for IPv6.

    Raises ValueError for a string that is not an IP address. An IPv4-mapped IPv6
    address stays 16 bytes: HAProxy hashes what the socket family says.
    """
    return ipaddress.ip_address(addr).packed


_RDP_HEADER = 11  # TPKT (4 bytes) + X.224 connection request header (7 bytes)
_COOKIE_TAG = b"cookie:"


def rdp_cookie_key(payload: bytes, name: bytes = b"mstshash") -> bytes | None:
    """The value of the RDP cookie `name` in the first bytes of an RDP connection.

    The cookie line sits right after the 11-byte TPKT/X.224 header and reads
    "Cookie: NAME=VALUE\\r\\n"; "Cookie:" and the name are matched case-insensitively and
    spaces after the colon are skipped. An empty `name` accepts any cookie name. None
    when the payload is too short, is not a cookie line, or the value is empty.
    """
    if len(payload) <= _RDP_HEADER + len(_COOKIE_TAG):
        return None
    pos = _RDP_HEADER
    if payload[pos : pos + len(_COOKIE_TAG)].lower() != _COOKIE_TAG:
        return None
    pos += len(_COOKIE_TAG)
    n = len(payload)
    pos = n - len(payload[pos:].lstrip(b" "))
    if name:
        end = pos + len(name)
        if end >= n or payload[end] != 0x3D or payload[pos:end].lower() != name.lower():
            return None
        pos = end + 1
    else:
        eq = payload.find(b"=", pos)
        line_end = payload.find(b"\r", pos)
        nl = payload.find(b"\n", pos)
        if nl >= 0 and (line_end < 0 or nl < line_end):
            line_end = nl
        if eq < 0 or (0 <= line_end < eq):
            return None
        pos = eq + 1
    cr = payload.find(b"\r", pos)
    if cr < 0 or cr + 1 >= n or payload[cr + 1] != 0x0A:
        return None
    return payload[pos:cr] or None
