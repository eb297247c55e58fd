"""HAProxy's peers protocol on the wire, as HAProxy 2.6 speaks it (protocol 2.1).

Sans-IO: functions from values to bytes and back; the sessions that use them live beside
this module. What is on the wire, in short:

* The handshake is text. The side that connects sends three lines::

      HAProxyS 2.1
      <the name it expects the other side to have>
      <its own name> <pid> <relative pid>

  and the other side answers one line, a status code: 200 (accepted), 300 (try again
  later), 501 (protocol error), 502 (bad version), 503 (the name we expected is not
  ours), 504 (unknown peer).

* Then binary messages: a class byte and a type byte; types of 128 and above carry a
  length (encoded as below) and that many bytes of payload. Classes: 0 control (resync
  request, finished, partial, confirm, heartbeat), 1 error (protocol, size limit), 10
  stick table (update, incremental update, define, switch, ack, and the two "timed"
  updates that carry the entry's remaining lifetime).

* Integers are a variable-length encoding: below 240 one byte; otherwise the first byte
  carries the low 4 bits of the value with its top 4 bits set, and each next byte 7 more
  bits with the top bit set on every byte but the last (see `enc_int`).

* A table is defined once per connection (its sender id, name, key type and size, the
  bitfield of the data types each update carries, with the period of each rate, and the
  entries' lifetime); updates then carry an update id (or "previous + 1"), optionally the
  remaining lifetime in milliseconds, the key (integers as 4 bytes in network order,
  IPv4/IPv6 and binary keys as their fixed-size bytes, strings with their length first),
  and one value per data type in the bitfield, in type order: counters as integers, rates
  as (milliseconds since the current period began, current count, previous count), and
  the server key as an entry of a per-connection dictionary (id, and the value the first
  time an id is used).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROTOCOL = "HAProxyS"
VERSION = "2.1"

# Status codes of the handshake.
ST_OK, ST_TRY_AGAIN = 200, 300
ST_ERR_PROTO, ST_ERR_VERSION, ST_ERR_HOST, ST_ERR_PEER = 501, 502, 503, 504

# Message classes and types.
CLS_CONTROL, CLS_ERROR, CLS_TABLE = 0, 1, 10
CTRL_RESYNC_REQ, CTRL_RESYNC_FINISHED, CTRL_RESYNC_PARTIAL = 0, 1, 2
CTRL_RESYNC_CONFIRM, CTRL_HEARTBEAT = 3, 4
ERR_PROTOCOL, ERR_SIZE_LIMIT = 0, 1
T_UPDATE, T_INCUPDATE, T_DEFINE, T_SWITCH, T_ACK = 0x80, 0x81, 0x82, 0x83, 0x84
T_UPDATE_TIMED, T_INCUPDATE_TIMED = 0x85, 0x86

# Key types on the wire.
KEY_SINT, KEY_IPV4, KEY_IPV6, KEY_STR, KEY_BIN = 2, 4, 5, 6, 7

# Storage of each data type: signed/unsigned 32-bit, unsigned 64-bit, rate, dictionary.
SINT, UINT, ULL, FRQP, DICT = "sint", "uint", "ull", "frqp", "dict"

# HAProxy's stick-table data types, by wire id: (name, storage, is an array).
DATA_TYPES: tuple[tuple[str, str, bool], ...] = (
    ("server_id", SINT, False),
    ("gpt0", UINT, False),
    ("gpc0", UINT, False),
    ("gpc0_rate", FRQP, False),
    ("conn_cnt", UINT, False),
    ("conn_rate", FRQP, False),
    ("conn_cur", UINT, False),
    ("sess_cnt", UINT, False),
    ("sess_rate", FRQP, False),
    ("http_req_cnt", UINT, False),
    ("http_req_rate", FRQP, False),
    ("http_err_cnt", UINT, False),
    ("http_err_rate", FRQP, False),
    ("bytes_in_cnt", ULL, False),
    ("bytes_in_rate", FRQP, False),
    ("bytes_out_cnt", ULL, False),
    ("bytes_out_rate", FRQP, False),
    ("gpc1", UINT, False),
    ("gpc1_rate", FRQP, False),
    ("server_key", DICT, False),
    ("http_fail_cnt", UINT, False),
    ("http_fail_rate", FRQP, False),
    ("gpt", UINT, True),
    ("gpc", UINT, True),
    ("gpc_rate", FRQP, True),
)
DATA_ID = {name: i for i, (name, _, _) in enumerate(DATA_TYPES)}

_MIN2 = 0xF0  # values from here take two bytes or more
_STOP = 0x80


class IncompleteError(Exception):
    """More bytes are needed to decode what the buffer starts."""


class MalformedError(ValueError):
    """The bytes do not follow the protocol; the connection must end."""


# ---- integers ----------------------------------------------------------------------------


def enc_int(i: int) -> bytes:
    """The variable-length encoding of a non-negative integer below 2**64."""
    if i < _MIN2:
        return bytes((i,))
    out = bytearray(((i & 0xFF) | _MIN2,))
    i = (i - _MIN2) >> 4
    while i >= _STOP:
        out.append((i & 0xFF) | _STOP)
        i = (i - _STOP) >> 7
    out.append(i)
    return bytes(out)


def dec_int(buf: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it). Raises IncompleteError when the buffer ends inside it."""
    if pos >= end:
        raise IncompleteError
    i = buf[pos]
    pos += 1
    if i >= _MIN2:
        shift = 4
        while True:
            if pos >= end:
                raise IncompleteError
            b = buf[pos]
            pos += 1
            i += b << shift
            shift += 7
            if b < _STOP:
                break
            if shift > 70:
                raise MalformedError("integer too long")
    return i, pos


# ---- handshake ---------------------------------------------------------------------------


def hello(remote: str, local: str, pid: int) -> bytes:
    return f"{PROTOCOL} {VERSION}\n{remote}\n{local} {pid} 1\n".encode()


@dataclass(frozen=True, slots=True)
class Hello:
    version: str
    remote: str  # the name the sender expects us to have
    local: str  # the sender's own name


def parse_hello(data: bytes) -> tuple[Hello, int]:
    """The three hello lines at the start of `data` and their length. Raises IncompleteError,
    or MalformedError with the status code to answer as its first argument."""
    lines: list[bytes] = []
    pos = 0
    for _ in range(3):
        nl = data.find(b"\n", pos)
        if nl < 0:
            if len(data) - pos > 1024:
                raise MalformedError(ST_ERR_PROTO)
            raise IncompleteError
        lines.append(data[pos:nl])
        pos = nl + 1
    proto, _, version = lines[0].decode("latin-1").partition(" ")
    if proto != PROTOCOL:
        raise MalformedError(ST_ERR_PROTO)
    major, _, minor = version.partition(".")
    if major != VERSION.partition(".")[0] or not minor.isdigit():
        raise MalformedError(ST_ERR_VERSION)
    words = lines[2].decode("latin-1").split()
    if not words:
        raise MalformedError(ST_ERR_PROTO)
    return Hello(version, lines[1].decode("latin-1"), words[0]), pos


def status(code: int) -> bytes:
    return b"%d\n" % code


# ---- messages ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    cls: int
    typ: int
    payload: bytes = b""


def frame(cls: int, typ: int, payload: bytes = b"") -> bytes:
    if typ < 128:
        return bytes((cls, typ))
    return bytes((cls, typ)) + enc_int(len(payload)) + payload


def split_messages(buf: bytes | bytearray, limit: int = 1 << 20) -> tuple[list[Message], int]:
    """Every whole message at the start of `buf` and how many bytes they took."""
    out: list[Message] = []
    pos, end = 0, len(buf)
    while pos + 2 <= end:
        cls, typ = buf[pos], buf[pos + 1]
        if typ < 128:
            out.append(Message(cls, typ))
            pos += 2
            continue
        try:
            length, start = dec_int(buf, pos + 2, end)
        except IncompleteError:
            break
        if length > limit:
            raise MalformedError("message too large")
        if start + length > end:
            break
        out.append(Message(cls, typ, bytes(buf[start : start + length])))
        pos = start + length
    return out, pos


def control(typ: int) -> bytes:
    return frame(CLS_CONTROL, typ)


# ---- tables ------------------------------------------------------------------------------


@dataclass(slots=True)
class TableDef:
    """What a table-definition message says."""

    table_id: int
    name: str
    key_type: int
    key_len: int
    data: list[int]  # data type ids carried by each update, ascending
    expire_ms: int
    # Per data type: the parameters (a rate's period in ms; an array's size, and the
    # period for an array of rates).
    params: dict[int, tuple[int, ...]] = field(default_factory=dict)


def define(t: TableDef) -> bytes:
    bits = 0
    extra = bytearray()
    for dt in t.data:
        bits |= 1 << dt
        _, storage, is_array = DATA_TYPES[dt]
        if is_array or storage == FRQP:
            extra += enc_int(dt)
            for p in t.params.get(dt, ()):
                extra += enc_int(p)
    name = t.name.encode()
    payload = (
        enc_int(t.table_id)
        + enc_int(len(name))
        + name
        + enc_int(t.key_type)
        + enc_int(t.key_len)
        + enc_int(bits)
        + enc_int(t.expire_ms)
        + bytes(extra)
    )
    return frame(CLS_TABLE, T_DEFINE, payload)


def parse_define(p: bytes) -> TableDef:
    end = len(p)
    try:
        table_id, pos = dec_int(p, 0, end)
        n, pos = dec_int(p, pos, end)
        if n == 0 or pos + n > end:
            raise MalformedError("bad table name")
        name = p[pos : pos + n].decode("latin-1")
        pos += n
        key_type, pos = dec_int(p, pos, end)
        key_len, pos = dec_int(p, pos, end)
        bits, pos = dec_int(p, pos, end)
        expire = 0
        if pos < end:
            expire, pos = dec_int(p, pos, end)
        data = [dt for dt in range(64) if bits >> dt & 1]
        params: dict[int, tuple[int, ...]] = {}
        while pos < end:
            dt, pos = dec_int(p, pos, end)
            if dt >= len(DATA_TYPES):
                raise MalformedError(f"unknown data type {dt}")
            _, storage, is_array = DATA_TYPES[dt]
            # An array: its size, then the period for an array of rates; a rate: its period.
            count = 2 if is_array and storage == FRQP else 1
            vals = []
            for _ in range(count):
                v, pos = dec_int(p, pos, end)
                vals.append(v)
            params[dt] = tuple(vals)
    except IncompleteError:
        raise MalformedError("truncated table definition") from None
    return TableDef(table_id, name, key_type, key_len, data, expire, params)


def switch(table_id: int) -> bytes:
    return frame(CLS_TABLE, T_SWITCH, enc_int(table_id))


def ack(remote_table_id: int, update_id: int) -> bytes:
    return frame(CLS_TABLE, T_ACK, enc_int(remote_table_id) + update_id.to_bytes(4, "big"))


def parse_ack(p: bytes) -> tuple[int, int]:
    try:
        table_id, pos = dec_int(p, 0, len(p))
    except IncompleteError:
        raise MalformedError("truncated ack") from None
    if pos + 4 > len(p):
        raise MalformedError("truncated ack")
    return table_id, int.from_bytes(p[pos : pos + 4], "big")


# ---- updates -----------------------------------------------------------------------------

Rate = tuple[int, int, int]  # (ms since the current period began, current, previous)


@dataclass(slots=True)
class Update:
    update_id: int | None  # None: previous + 1
    expire_ms: int | None  # remaining lifetime, with the timed forms
    key: bytes  # as stored: 4-byte big-endian integer, raw address or binary, string
    values: dict[int, Any]  # data type id -> int | Rate | list of those | str | None


def encode_key(key_type: int, key_len: int, key: bytes) -> bytes:
    if key_type == KEY_STR:
        return enc_int(len(key)) + key
    if key_type == KEY_SINT:
        return key[-4:].rjust(4, b"\0")
    return key[:key_len].ljust(key_len, b"\0")


def update(t: TableDef, u: Update, dict_tx: DictTx | None = None) -> bytes:
    """An update message for table `t` (the definition this side sent)."""
    out = bytearray()
    if u.update_id is not None:
        out += u.update_id.to_bytes(4, "big")
    if u.expire_ms is not None:
        out += max(0, u.expire_ms).to_bytes(4, "big")
    out += encode_key(t.key_type, t.key_len, u.key)
    for dt in t.data:
        v = u.values.get(dt)
        _, storage, is_array = DATA_TYPES[dt]
        if is_array:
            items = v if isinstance(v, list) else []
            size = t.params.get(dt, (len(items),))[0]
            for i in range(size):
                out += _enc_value(storage, items[i] if i < len(items) else None, dict_tx)
        else:
            out += _enc_value(storage, v, dict_tx)
    if u.expire_ms is not None:
        typ = T_UPDATE_TIMED if u.update_id is not None else T_INCUPDATE_TIMED
    else:
        typ = T_UPDATE if u.update_id is not None else T_INCUPDATE
    return frame(CLS_TABLE, typ, bytes(out))


def _enc_value(storage: str, v: Any, dict_tx: DictTx | None) -> bytes:
    if storage == FRQP:
        elapsed, curr, prev = v if isinstance(v, tuple) else (0, 0, 0)
        return enc_int(elapsed & 0xFFFFFFFF) + enc_int(curr) + enc_int(prev)
    if storage == DICT:
        if not isinstance(v, str) or dict_tx is None:
            return enc_int(0)
        return dict_tx.encode(v)
    n = int(v or 0)
    if storage == SINT:
        n &= 0xFFFFFFFF  # a negative signed 32-bit value travels as its unsigned form
    return enc_int(n)


def parse_update(t: TableDef, typ: int, p: bytes, dict_rx: DictRx | None = None) -> Update:
    """An update message for table `t` (the definition the other side sent)."""
    end = len(p)
    pos = 0
    update_id = expire = None
    try:
        if typ in (T_UPDATE, T_UPDATE_TIMED):
            if pos + 4 > end:
                raise IncompleteError
            update_id = int.from_bytes(p[pos : pos + 4], "big")
            pos += 4
        if typ in (T_UPDATE_TIMED, T_INCUPDATE_TIMED):
            if pos + 4 > end:
                raise IncompleteError
            expire = int.from_bytes(p[pos : pos + 4], "big")
            pos += 4
        if t.key_type == KEY_STR:
            n, pos = dec_int(p, pos, end)
            size = n
        else:
            size = 4 if t.key_type == KEY_SINT else t.key_len
        if pos + size > end:
            raise IncompleteError
        key = bytes(p[pos : pos + size])
        pos += size
        values: dict[int, Any] = {}
        for dt in t.data:
            if dt >= len(DATA_TYPES):
                raise MalformedError(f"unknown data type {dt}")
            _, storage, is_array = DATA_TYPES[dt]
            if is_array:
                items = []
                for _ in range(t.params.get(dt, (1,))[0]):
                    val, pos = _dec_value(storage, p, pos, end, dict_rx)
                    items.append(val)
                values[dt] = items
            else:
                values[dt], pos = _dec_value(storage, p, pos, end, dict_rx)
    except IncompleteError:
        raise MalformedError("truncated update") from None
    return Update(update_id, expire, key, values)


def _dec_value(
    storage: str, p: bytes, pos: int, end: int, dict_rx: DictRx | None
) -> tuple[Any, int]:
    if storage == FRQP:
        elapsed, pos = dec_int(p, pos, end)
        curr, pos = dec_int(p, pos, end)
        prev, pos = dec_int(p, pos, end)
        return (elapsed, curr, prev), pos
    if storage == DICT:
        n, pos = dec_int(p, pos, end)
        if n == 0:
            return None, pos
        if pos + n > end:
            raise IncompleteError
        chunk = p[pos : pos + n]
        pos += n
        return (dict_rx.decode(chunk) if dict_rx is not None else None), pos
    v, pos = dec_int(p, pos, end)
    if storage == SINT and v >= 1 << 31:
        v -= 1 << 32
    return v, pos


class DictTx:
    """The sending side of a connection's dictionary (server keys): the first time a
    value goes out it travels with its id; afterwards the id alone."""

    __slots__ = ("ids", "size")

    def __init__(self, size: int = 128) -> None:
        self.ids: dict[str, int] = {}
        self.size = size

    def encode(self, value: str) -> bytes:
        known = self.ids.get(value)
        if known is not None:
            body = enc_int(known + 1)
            return enc_int(len(body)) + body
        if len(self.ids) >= self.size:
            self.ids.clear()
        new = len(self.ids)
        self.ids[value] = new
        raw = value.encode()
        body = enc_int(new + 1) + enc_int(len(raw)) + raw
        return enc_int(len(body)) + body


class DictRx:
    """The receiving side: ids learnt from the other side's messages."""

    __slots__ = ("values",)

    def __init__(self) -> None:
        self.values: dict[int, str] = {}

    def decode(self, chunk: bytes) -> str | None:
        end = len(chunk)
        try:
            ident, pos = dec_int(chunk, 0, end)
            if pos == end:
                return self.values.get(ident)
            n, pos = dec_int(chunk, pos, end)
        except IncompleteError:
            raise MalformedError("truncated dictionary entry") from None
        value = chunk[pos : pos + n].decode("latin-1")
        self.values[ident] = value
        return value
