"""DNS messages (RFC 1035, EDNS0 from RFC 6891, SRV from RFC 2782): bytes in, values out.

Pure code, no sockets: the resolver (`weir.dns.resolver`) sends what `encode_query`
builds and hands what it receives to `decode` and then `classify`, which judges an answer
the way HAProxy's resolver does (the outcome names are HAProxy's counters: `nx`,
`refused`, `any_err`, `cname_error`, `truncated`, `invalid`, `other`).

`encode` serialises any `Message` (no name compression), so tests can build answers
with the same types they read.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum

HEADER = struct.Struct("!HHHHHH")
_RR_FIXED = struct.Struct("!HHIH")  # type, class, ttl, rdlength
_QFIXED = struct.Struct("!HH")
_SRV = struct.Struct("!HHH")

CLASS_IN = 1
MAX_NAME = 255
MAX_LABEL = 63
_MAX_POINTERS = 32  # compression pointers followed for one name before calling it a loop

# Header flag bits.
QR = 0x8000
AA = 0x0400
TC = 0x0200
RD = 0x0100
RA = 0x0080


class QType(IntEnum):
    A = 1
    CNAME = 5
    AAAA = 28
    SRV = 33
    OPT = 41


class RCode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


class DnsError(ValueError):
    """A message that cannot be decoded (short, looping, out of bounds)."""


@dataclass(frozen=True, slots=True)
class Question:
    name: str  # lower case, no final dot
    qtype: int
    qclass: int = CLASS_IN


@dataclass(frozen=True, slots=True)
class Srv:
    priority: int
    weight: int
    port: int
    target: str


@dataclass(frozen=True, slots=True)
class Record:
    """One resource record. `data` is an IP address text for A/AAAA, a name for CNAME,
    an `Srv` for SRV, and the raw rdata bytes for anything else."""

    name: str
    rtype: int
    ttl: int
    data: str | Srv | bytes
    rclass: int = CLASS_IN


@dataclass(slots=True)
class Message:
    qid: int
    flags: int = 0
    questions: list[Question] = field(default_factory=list)
    answers: list[Record] = field(default_factory=list)
    authority: list[Record] = field(default_factory=list)
    additional: list[Record] = field(default_factory=list)

    @property
    def rcode(self) -> int:
        return self.flags & 0x000F

    @property
    def is_response(self) -> bool:
        return bool(self.flags & QR)


# ---- names -------------------------------------------------------------------------------


def normalize(name: str) -> str:
    """A host name as compared: lower case, without the final dot."""
    return name.rstrip(".").lower()


def check_name(name: str) -> str | None:
    """Why `name` cannot be queried, or None when it can."""
    n = name.rstrip(".")
    if not n:
        return "empty name"
    if len(n) + 2 > MAX_NAME:
        return "name too long"
    for label in n.split("."):
        if not label:
            return "empty label (two dots in a row)"
        if len(label) > MAX_LABEL:
            return f"label '{label}' longer than {MAX_LABEL} characters"
    return None


def _encode_name(name: str) -> bytes:
    n = name.rstrip(".")
    if not n:
        return b"\x00"
    out = bytearray()
    for label in n.split("."):
        raw = label.encode("idna") if not label.isascii() else label.encode("ascii")
        if not raw or len(raw) > MAX_LABEL:
            raise DnsError(f"invalid label in '{name}'")
        out.append(len(raw))
        out += raw
    out.append(0)
    if len(out) > MAX_NAME:
        raise DnsError(f"name too long: '{name}'")
    return bytes(out)


def _decode_name(data: bytes, pos: int) -> tuple[str, int]:
    """The name at `pos` and the offset right after it (after the first pointer when the
    name is compressed)."""
    labels: list[str] = []
    end = -1
    jumps = 0
    total = 0
    size = len(data)
    while True:
        if pos >= size:
            raise DnsError("name runs past the end of the message")
        length = data[pos]
        if length == 0:
            pos += 1
            break
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= size:
                raise DnsError("truncated compression pointer")
            target = ((length & 0x3F) << 8) | data[pos + 1]
            if end < 0:
                end = pos + 2
            jumps += 1
            if jumps > _MAX_POINTERS or target >= size:
                raise DnsError("compression pointer loop or out of bounds")
            pos = target
            continue
        if kind:
            raise DnsError("unknown label type")
        pos += 1
        if pos + length > size:
            raise DnsError("label runs past the end of the message")
        total += length + 1
        if total > MAX_NAME:
            raise DnsError("name too long")
        labels.append(data[pos : pos + length].decode("ascii", "replace").lower())
        pos += length
    return ".".join(labels), (end if end >= 0 else pos)


# ---- encoding ----------------------------------------------------------------------------


def encode_query(qid: int, name: str, qtype: int, payload_size: int = 512) -> bytes:
    """A recursive query for `name`, with an EDNS0 OPT record announcing `payload_size`
    (as HAProxy's resolver sends it)."""
    head = HEADER.pack(qid & 0xFFFF, RD, 1, 0, 0, 1)
    question = _encode_name(name) + _QFIXED.pack(qtype, CLASS_IN)
    opt = b"\x00" + _RR_FIXED.pack(QType.OPT, payload_size & 0xFFFF, 0, 0)
    return head + question + opt


def _encode_rdata(r: Record) -> bytes:
    d = r.data
    if r.rtype in (QType.A, QType.AAAA) and isinstance(d, str):
        return ipaddress.ip_address(d).packed
    if r.rtype == QType.CNAME and isinstance(d, str):
        return _encode_name(d)
    if r.rtype == QType.SRV and isinstance(d, Srv):
        return _SRV.pack(d.priority, d.weight, d.port) + _encode_name(d.target)
    if isinstance(d, bytes):
        return d
    raise DnsError(f"cannot encode the data of a type {r.rtype} record: {d!r}")


def _encode_record(r: Record) -> bytes:
    rdata = _encode_rdata(r)
    return _encode_name(r.name) + _RR_FIXED.pack(r.rtype, r.rclass, r.ttl, len(rdata)) + rdata


def encode(msg: Message) -> bytes:
    """The whole message, names uncompressed."""
    out = [
        HEADER.pack(
            msg.qid & 0xFFFF,
            msg.flags & 0xFFFF,
            len(msg.questions),
            len(msg.answers),
            len(msg.authority),
            len(msg.additional),
        )
    ]
    out += [_encode_name(q.name) + _QFIXED.pack(q.qtype, q.qclass) for q in msg.questions]
    out += [_encode_record(r) for r in (*msg.answers, *msg.authority, *msg.additional)]
    return b"".join(out)


# ---- decoding ----------------------------------------------------------------------------


def _decode_record(data: bytes, pos: int) -> tuple[Record, int]:
    name, pos = _decode_name(data, pos)
    if pos + _RR_FIXED.size > len(data):
        raise DnsError("truncated record")
    rtype, rclass, ttl, rdlen = _RR_FIXED.unpack_from(data, pos)
    pos += _RR_FIXED.size
    end = pos + rdlen
    if end > len(data):
        raise DnsError("record data runs past the end of the message")
    value: str | Srv | bytes
    if rtype == QType.A:
        if rdlen != 4:
            raise DnsError("A record of the wrong size")
        value = str(ipaddress.IPv4Address(data[pos:end]))
    elif rtype == QType.AAAA:
        if rdlen != 16:
            raise DnsError("AAAA record of the wrong size")
        value = str(ipaddress.IPv6Address(data[pos:end]))
    elif rtype == QType.CNAME:
        value, after = _decode_name(data, pos)
        if after > end:
            raise DnsError("CNAME runs past its record")
    elif rtype == QType.SRV:
        if rdlen < _SRV.size + 1:
            raise DnsError("SRV record too short")
        prio, weight, port = _SRV.unpack_from(data, pos)
        target, after = _decode_name(data, pos + _SRV.size)
        if after > end:
            raise DnsError("SRV target runs past its record")
        value = Srv(prio, weight, port, target)
    else:
        value = data[pos:end]
    return Record(name, rtype, ttl, value, rclass), end


def decode(data: bytes) -> Message:
    """Parse a whole message; DnsError when it is malformed."""
    if len(data) < HEADER.size:
        raise DnsError("message shorter than its header")
    qid, flags, qd, an, ns, ar = HEADER.unpack_from(data, 0)
    msg = Message(qid, flags)
    pos = HEADER.size
    for _ in range(qd):
        name, pos = _decode_name(data, pos)
        if pos + _QFIXED.size > len(data):
            raise DnsError("truncated question")
        qtype, qclass = _QFIXED.unpack_from(data, pos)
        pos += _QFIXED.size
        msg.questions.append(Question(name, qtype, qclass))
    for count, into in ((an, msg.answers), (ns, msg.authority), (ar, msg.additional)):
        for _ in range(count):
            rec, pos = _decode_record(data, pos)
            into.append(rec)
    return msg


# ---- judging an answer -------------------------------------------------------------------


class Outcome(StrEnum):
    """What an answer means for a resolution; values are HAProxy's counter names."""

    VALID = "valid"
    NX = "nx"
    REFUSED = "refused"
    ANCOUNT_ZERO = "any_err"  # no record of the asked type
    CNAME_ERROR = "cname_error"
    TRUNCATED = "truncated"
    INVALID = "invalid"  # malformed, or not an answer to the question asked
    OTHER = "other"  # any other error code


def classify(msg: Message, name: str, qtype: int) -> tuple[Outcome, list[Record]]:
    """Judge response `msg` to a query of `name` (normalized) and `qtype`.

    Returns the outcome and, when valid, the records of type `qtype` that belong to the
    name, following CNAME records (answers for a CNAME target count as the name's own).
    A truncated answer is an error: weir's resolver speaks UDP only.
    """
    if not msg.is_response or len(msg.questions) != 1:
        return Outcome.INVALID, []
    q = msg.questions[0]
    if q.name != name or q.qtype != qtype:
        return Outcome.INVALID, []
    rcode = msg.rcode
    if rcode == RCode.NXDOMAIN:
        return Outcome.NX, []
    if rcode == RCode.REFUSED:
        return Outcome.REFUSED, []
    if rcode != RCode.NOERROR:
        return Outcome.OTHER, []
    if msg.flags & TC:
        return Outcome.TRUNCATED, []
    if not msg.answers:
        return Outcome.ANCOUNT_ZERO, []
    owners = {name}
    # A CNAME chain may come in any order; follow it until nothing new is learnt.
    cnames = {r.name: r.data for r in msg.answers if r.rtype == QType.CNAME}
    progress = True
    while progress:
        progress = False
        for owner, target in cnames.items():
            if owner in owners and isinstance(target, str) and target not in owners:
                owners.add(target)
                progress = True
    found = [r for r in msg.answers if r.rtype == qtype and r.name in owners]
    if found:
        return Outcome.VALID, found
    if cnames:
        return Outcome.CNAME_ERROR, []
    return Outcome.ANCOUNT_ZERO, []
