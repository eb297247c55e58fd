"""Stick-table replication: the sessions of the peers protocol between this node and the
others of each `peers` section (HAProxy 2.6's protocol; the bytes are in `codec`).

What a node does, in short:

* It listens on the local peer's address and connects to every other peer it has no
  session with (again after a failure, a little later). A session is one TCP connection;
  a new incoming one from a peer replaces the session it had with it, as in HAProxy.
* Each replicated table keeps an update log: every local change to an entry gives the
  entry the next update id. A session pushes, per table, the updates after the last one
  it pushed, and the other side acknowledges what it got; a new session with the same
  peer starts again from the last acknowledged update, so nothing is lost in between.
  Entries learnt from a peer are applied without entering the log: they are not pushed
  on to the other peers (every node talks to every other one).
* A node that starts asks for the whole tables (a resync request), first from the old
  process of the same node when it is a reload (the "local peer": it connects to the new
  one while it stops, and teaches it), else from one of the other peers. The teacher
  sends every entry, then "finished" — or "partial" when it has not learnt everything
  itself, and the learner asks another peer.
* Heartbeats keep idle sessions alive; a session that hears nothing for a while ends.

Replication runs in the first worker (with `nbthread` > 1, the others' tables are their
own; see docs/peers.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import random
import socket
import struct
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from weir.peers import codec
from weir.peers.conf import PeerConf, PeersConf
from weir.persist.table import TABLES, Entry, FreqCounter, Table

HEARTBEAT = 3.0  # seconds: a session that sent nothing for this long sends a heartbeat
IDLE_LIMIT = 8.0  # seconds without a byte from the other side: the session ends
RETRY = (0.5, 2.5)  # seconds before a new connection after a failed or ended one
RESYNC_TIMEOUT = 5.0  # seconds to wait for a teacher (the old process, then a peer)
CHUNK = 1 << 16  # bytes written before waiting for the socket to drain

Reporter = Callable[[str, str], None]

_STATUS = {b"300": "TRYAGAIN", b"501": "PROTOERR", b"502": "BADVER", b"503": "BADHOST"}
_STATUS[b"504"] = "BADPEER"
_WIRE_KEY = {
    "ip": (codec.KEY_IPV4, 4),
    "ipv6": (codec.KEY_IPV6, 16),
    "integer": (codec.KEY_SINT, 4),
}


def _now_ms() -> int:
    return int(time.monotonic() * 1000)


# Where an update came from: this process's own traffic, a sibling worker (`nbthread` >
# 1), or another node of a peers section. Each kind of session passes on what its peer
# cannot have seen: a node is not sent back what nodes taught, a worker what workers did.
LOCAL, WORKER, REMOTE = 0, 1, 2

# A message class of weir's own, between the workers of one node only (never sent to
# HAProxy): a health or agent check's outcome, from the worker that probes to the others.
CLS_WEIR, T_OUTCOME, T_COUNTERS, T_COMMAND = 200, 0x80, 0x81, 0x82
COUNTERS_EVERY = 1.0  # seconds between two reports of a worker's counters to the others


class TableSync:
    """A replicated table's update log and its wire form, shared by every kind of
    replication the table takes part in (a peers section, sibling workers, the next
    process on reload): each wakes its sessions when the log grows."""

    __slots__ = ("defn", "log", "name", "seq", "table", "users", "wakers")

    def __init__(self, table: Table, table_id: int) -> None:
        c = table.conf
        # HAProxy counts a string key's size with its terminating NUL.
        if c.key_type == "string":
            key_type, key_len = codec.KEY_STR, c.key_len + 1
        else:
            key_type, key_len = _WIRE_KEY.get(c.key_type, (codec.KEY_BIN, c.key_len))
        data = sorted(codec.DATA_ID[n] for n in c.store if n in codec.DATA_ID)
        params: dict[int, tuple[int, ...]] = {
            codec.DATA_ID[n]: (p,) for n, p in c.store.items() if p and n in codec.DATA_ID
        }
        self.defn = codec.TableDef(table_id, c.name, key_type, key_len, data, c.expire_ms, params)
        self.table = table
        self.name = c.name
        self.seq = 0  # the last update id given
        # key -> (its last update id, where that update came from), oldest id first
        self.log: OrderedDict[Any, tuple[int, int]] = OrderedDict()
        self.wakers: list[Callable[[], None]] = []
        self.users = 0  # replications that need the log now (the table logs while > 0)

    def use(self, on: bool) -> None:
        self.users += 1 if on else -1
        self.table.sync = self if self.users > 0 else None

    # -- changes ---------------------------------------------------------------------------

    def mark(self, e: Entry, origin: int = LOCAL) -> None:
        """Called by the table on every local change to `e` (and by the sessions for
        what they learn, with its origin)."""
        self.seq = self.seq % 0xFFFFFFFF + 1
        log = self.log
        log[e.key] = (self.seq, origin)
        log.move_to_end(e.key)
        if len(log) > 2 * self.table.conf.size + 64:
            entries = self.table.entries
            for key in [k for k in log if k not in entries]:
                del log[key]
        for wake in self.wakers:
            wake()

    def pending(self, after: int, skip: int = -1) -> tuple[list[tuple[Any, int]], int]:
        """(key, update id) of the updates after `after` not from origin `skip`, oldest
        first; and the last update id looked at."""
        out = []
        log = self.log
        last = after
        for key in reversed(log):
            uid, origin = log[key]
            if uid <= after:
                break
            if last == after:
                last = uid
            if origin != skip:
                out.append((key, uid))
        out.reverse()
        return out, last

    def update_id(self, key: Any, default: int) -> int:
        found = self.log.get(key)
        return found[0] if found is not None else default

    # -- wire form -------------------------------------------------------------------------

    def key_bytes(self, key: Any) -> bytes:
        if isinstance(key, bytes):
            return key
        if isinstance(key, int):
            return (key & 0xFFFFFFFF).to_bytes(4, "big")
        return bytes(key.packed)

    def key_of_wire(self, raw: bytes) -> Any:
        kt = self.table.conf.key_type
        if kt == "ip":
            return raw[:4] if len(raw) >= 4 else None
        if kt == "ipv6":
            return raw[:16] if len(raw) >= 16 else None
        if kt == "integer":
            return int.from_bytes(raw[:4], "big", signed=True)
        return self.table.key_of(raw)

    def encode(self, e: Entry, uid: int, now: int, dict_tx: codec.DictTx) -> bytes:
        values: dict[int, Any] = {}
        for name, v in e.data.items():
            dt = codec.DATA_ID.get(name)
            if dt is not None:
                values[dt] = v.state(now) if isinstance(v, FreqCounter) else v
        expire = max(0, e.expire - now) if self.table.conf.expire_ms else None
        upd = codec.Update(uid, expire, self.key_bytes(e.key), values)
        return codec.update(self.defn, upd, dict_tx)

    def apply(self, u: codec.Update, now: int, origin: int | None) -> None:
        """An update a peer sent: stored, and logged with its origin (None: not logged, so
        not passed on)."""
        try:
            key = self.key_of_wire(u.key)
        except ValueError:
            return
        if key is None:
            return
        e = self.table.learn(key, now)
        if e is None:
            return
        data = e.data
        for dt, v in u.values.items():
            name = codec.DATA_TYPES[dt][0]
            cur = data.get(name)
            if cur is None and name not in data:
                continue
            if isinstance(cur, FreqCounter):
                if isinstance(v, tuple):
                    cur.restore(now, *v)
            elif isinstance(v, int | str):  # counters, tags, server_id; server_key
                data[name] = v
        if u.expire_ms is not None and self.table.conf.expire_ms:
            e.expire = now + u.expire_ms
        if origin is not None and self.table.sync is self:
            self.mark(e, origin)


class Link:
    """What this node keeps of another peer across its sessions."""

    __slots__ = (
        "acked", "collisions", "conf", "connecting", "is_local", "last_hello", "new_conn",
        "next_try", "session", "status",
    )  # fmt: skip

    def __init__(self, conf: PeerConf, *, is_local: bool = False) -> None:
        self.conf = conf
        self.is_local = is_local  # this node's own name: the old or new process on reload
        self.session: Session | None = None
        self.connecting = False
        self.next_try = 0.0
        self.acked: dict[str, int] = {}  # table -> the last update id it acknowledged
        # For `show peers`: the last connection's outcome (HAProxy's words), when the last
        # session began, connections attempted, sessions replaced by a newer one.
        self.status = "NONE"
        self.last_hello = 0.0
        self.new_conn = 0
        self.collisions = 0


class Session:
    """One established connection with a peer, in either direction."""

    def __init__(
        self,
        rt: PeersRuntime,
        link: Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        buffered: bytes = b"",
    ) -> None:
        self.rt = rt
        self.link = link
        self.reader = reader
        self.writer = writer
        self.buffered = bytearray(buffered)
        self.wake = asyncio.Event()
        self.wake.set()
        self.closed = False
        self.pushed = {ts.name: link.acked.get(ts.name, 0) for ts in rt.tables}
        self.rx: dict[int, tuple[codec.TableDef, TableSync | None]] = {}
        self.rx_cur: int | None = None
        self.got: dict[int, int] = {}  # their table id -> the last update id received
        self.acked_got: dict[int, int] = {}
        self.dict_tx = codec.DictTx()
        self.dict_rx = codec.DictRx()
        self.teach_asked = False
        self.confirm = False
        self.private: list[bytes] = []  # weir-only messages to send (see WorkerMesh)
        self.taught = False  # a whole teach was sent (the old process's hand-over)
        self.last_tx = time.monotonic()

    # -- the session's life ----------------------------------------------------------------

    async def run(self) -> None:
        """Read and write until either side ends; a fault in either half ends the session
        (and is reported), so a peer never keeps a session whose reading has stopped."""
        reading = asyncio.get_running_loop().create_task(self._read())
        fault: BaseException | None = None
        try:
            await self._write()
        except (TimeoutError, OSError, codec.MalformedError):
            pass
        except Exception as e:
            fault = e
        finally:
            self.closed = True
            reading.cancel()
            try:
                await reading
            except asyncio.CancelledError:
                pass
            except Exception as e:
                fault = fault or e
            self.writer.close()
            self.rt.ended(self)
        if fault is not None:
            self.rt.say(
                "WARNING",
                f"peers section '{self.rt.conf.name}': session with "
                f"'{self.link.conf.name}' ended on an internal error: {fault!r}",
            )

    def close(self) -> None:
        self.closed = True
        self.wake.set()

    async def _read(self) -> None:
        buf = self.buffered
        try:
            while not self.closed:
                if buf:
                    msgs, used = codec.split_messages(buf)
                    del buf[:used]
                    for m in msgs:
                        self._handle(m)
                    if msgs:
                        self.wake.set()
                data = await asyncio.wait_for(self.reader.read(CHUNK), IDLE_LIMIT)
                if not data:
                    break
                buf += data
        except (TimeoutError, OSError, codec.MalformedError, ValueError):
            pass
        finally:
            self.close()  # also on any other fault: the writing half ends with it

    async def _write(self) -> None:
        rt = self.rt
        while not self.closed:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.wake.wait(), HEARTBEAT)
            self.wake.clear()
            if self.closed:
                break
            out = bytearray()
            if rt.assign_learning(self):
                out += codec.control(codec.CTRL_RESYNC_REQ)
            if self.confirm:
                self.confirm = False
                out += codec.control(codec.CTRL_RESYNC_CONFIRM)
            if self.private:
                out += b"".join(self.private)
                self.private.clear()
            for tid, uid in self.got.items():
                if self.acked_got.get(tid) != uid:
                    self.acked_got[tid] = uid
                    out += codec.ack(tid, uid)
            if self.teach_asked:
                self.teach_asked = False
                await self._send(out)
                out = bytearray()
                await self._teach()
            now = _now_ms()
            for ts in rt.tables:
                todo, last = ts.pending(self.pushed[ts.name], rt.skip)
                self.pushed[ts.name] = last
                if not todo:
                    continue
                out += codec.define(ts.defn)
                entries = ts.table.entries
                for key, uid in todo:
                    e = entries.get(key)
                    if e is not None:
                        out += ts.encode(e, uid, now, self.dict_tx)
                    if len(out) >= CHUNK:
                        await self._send(out)
                        out = bytearray()
            if not out and time.monotonic() - self.last_tx >= HEARTBEAT - 0.05:
                out += codec.control(codec.CTRL_HEARTBEAT)
            await self._send(out)

    async def _send(self, out: bytes | bytearray) -> None:
        if out:
            self.writer.write(out)
            self.last_tx = time.monotonic()
            await self.writer.drain()

    async def _teach(self) -> None:
        """Every entry of every table, then whether that was all this node knows."""
        rt = self.rt
        now = _now_ms()
        for ts in rt.tables:
            upto = ts.seq
            out = bytearray(codec.define(ts.defn))
            for key, e in list(ts.table.entries.items()):
                if e.ref == 0 and ts.table.conf.expire_ms and e.expire <= now:
                    continue
                out += ts.encode(e, ts.update_id(key, upto), now, self.dict_tx)
                if len(out) >= CHUNK:
                    await self._send(out)
                    out = bytearray()
            await self._send(out)
            self.pushed[ts.name] = max(self.pushed[ts.name], upto)
        done = codec.CTRL_RESYNC_FINISHED if rt.complete else codec.CTRL_RESYNC_PARTIAL
        await self._send(codec.control(done))
        self.taught = True

    # -- what comes in ---------------------------------------------------------------------

    def _handle(self, m: codec.Message) -> None:
        if m.cls == codec.CLS_CONTROL:
            if m.typ == codec.CTRL_RESYNC_REQ:
                self.teach_asked = True
            elif m.typ in (codec.CTRL_RESYNC_FINISHED, codec.CTRL_RESYNC_PARTIAL):
                # Confirmed either way: the teacher pushes nothing new until then.
                self.rt.learnt(self, full=m.typ == codec.CTRL_RESYNC_FINISHED)
                self.confirm = True
            return
        if m.cls == CLS_WEIR:
            self.rt.on_private(m.typ, m.payload)
            return
        if m.cls == codec.CLS_ERROR:
            raise codec.MalformedError("the peer reported an error")
        if m.cls != codec.CLS_TABLE:
            return
        if m.typ == codec.T_DEFINE:
            d = codec.parse_define(m.payload)
            ts = self.rt.by_name.get(d.name)
            if ts is not None and (ts.defn.key_type, ts.defn.key_len) != (d.key_type, d.key_len):
                ts = None  # same name, other key: not the same table
            self.rx[d.table_id] = (d, ts)
            self.rx_cur = d.table_id
        elif m.typ == codec.T_SWITCH:
            tid, _ = codec.dec_int(m.payload, 0, len(m.payload))
            self.rx_cur = tid if tid in self.rx else None
        elif m.typ == codec.T_ACK:
            tid, uid = codec.parse_ack(m.payload)
            mine = self.rt.by_id.get(tid)
            if mine is not None:
                self.link.acked[mine.name] = uid
        elif m.typ in (
            codec.T_UPDATE,
            codec.T_INCUPDATE,
            codec.T_UPDATE_TIMED,
            codec.T_INCUPDATE_TIMED,
        ):
            if self.rx_cur is None:
                return
            d, ts = self.rx[self.rx_cur]
            u = codec.parse_update(d, m.typ, m.payload, self.dict_rx)
            if u.update_id is None:
                self.got[d.table_id] = self.got.get(d.table_id, 0) % 0xFFFFFFFF + 1
            else:
                self.got[d.table_id] = u.update_id
            if ts is not None:
                ts.apply(u, _now_ms(), self.rt.learnt_origin)


class PeersRuntime:
    """One `peers` section at run time."""

    retry = RETRY  # seconds before a new connection, drawn between the two

    def __init__(
        self, conf: PeersConf, loop: asyncio.AbstractEventLoop, say: Reporter, *, reloaded: bool
    ) -> None:
        self.conf = conf
        self.loop = loop
        self.say = say
        self.tables: list[TableSync] = []
        for name in conf.tables:
            table = TABLES.get(name)
            if table is not None:
                ts = sync_of(table)
                ts.wakers.append(self.wake)
                ts.use(True)
                self.tables.append(ts)
        self.by_name = {ts.name: ts for ts in self.tables}
        self.by_id = {ts.defn.table_id: ts for ts in self.tables}
        # What these sessions do not pass on (see LOCAL/WORKER/REMOTE), and the origin of
        # what they learn (None: not logged at all).
        self.skip = REMOTE
        self.learnt_origin: int | None = REMOTE
        self.links = {p.name: Link(p) for p in conf.remotes}
        me = conf.peers[conf.local]
        self.local_link = Link(me, is_local=True)
        self.sessions: set[Session] = set()
        self.server: asyncio.AbstractServer | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self.handover_until = 0.0
        # Learning the tables at start: from the old process after a reload, else from a
        # peer; "done" once a teacher said "finished" or nobody could teach.
        self.learning = "local" if reloaded else ("remote" if self.links else "done")
        self.learn_deadline = time.monotonic() + RESYNC_TIMEOUT
        self.learner: Session | None = None
        self.learner_deadline = 0.0
        self.tried: set[str] = set()

    # -- start and stop --------------------------------------------------------------------

    async def start(self) -> None:
        addr = self.conf.local_addr
        if addr is not None:
            try:
                self.server = await asyncio.start_server(
                    self._accepted, addr[0], addr[1], reuse_address=True, reuse_port=True
                )
            except OSError as e:
                self.say(
                    "ALERT",
                    f"peers section '{self.conf.name}': cannot listen on "
                    f"{addr[0]}:{addr[1]}: {e.strerror}",
                )
        self._spawn(self._maintain())

    def _spawn(self, coro: Any) -> None:
        task = self.loop.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def soft_stop(self) -> None:
        """Stop listening, and teach the new process of this node if there is one."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
            self.server = None
        addr = self.conf.local_addr
        if addr is not None and self.tables:
            self.handover_until = time.monotonic() + RESYNC_TIMEOUT
            self._spawn(self._connect(self.local_link))

    def busy(self) -> bool:
        """Whether the hand-over to the new process is still under way."""
        if time.monotonic() >= self.handover_until:
            return False
        s = self.local_link.session
        return self.local_link.connecting or (s is not None and not s.taught)

    def close(self) -> None:
        self.stopping = True
        if self.server is not None:
            self.server.close()
        for s in list(self.sessions):
            s.close()
        for t in list(self.tasks):
            t.cancel()
        for ts in self.tables:
            if self.wake in ts.wakers:
                ts.wakers.remove(self.wake)
                ts.use(False)

    # -- connections -----------------------------------------------------------------------

    async def _maintain(self) -> None:
        """Connect to the peers without a session; move the learning on."""
        while True:
            now = time.monotonic()
            if not self.stopping:
                for link in self.links.values():
                    if (
                        link.session is None
                        and not link.connecting
                        and now >= link.next_try
                        and self._dials(link)
                    ):
                        self._spawn(self._connect(link, self._path_of(link)))
            self._learning_tick(now)
            await asyncio.sleep(0.1)

    async def _connect(self, link: Link, path: str | None = None) -> None:
        """A session with `link`'s peer (at `path`, a unix socket, when given), run to its
        end; a failure schedules the next attempt."""
        opened = await self._open(link, path)
        if opened is not None:
            await self._established(link, *opened, b"")

    async def _open(
        self, link: Link, path: str | None = None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """A connection to `link`'s peer that passed the handshake, or None."""
        link.connecting = True
        link.new_conn += 1
        writer = None
        try:
            if path is not None:
                opening = _open_unix(path)
            else:
                host, port = (
                    (link.conf.host, link.conf.port)
                    if link.conf.host
                    else self.conf.local_addr or ("", 0)
                )
                opening = asyncio.open_connection(host, port)
            reader, writer = await asyncio.wait_for(opening, RESYNC_TIMEOUT)
            writer.write(codec.hello(link.conf.name, self.conf.local, os.getpid()))
            line = await asyncio.wait_for(reader.readline(), RESYNC_TIMEOUT)
            code = line.strip()
            if code != b"%d" % codec.ST_OK:
                link.status = _STATUS.get(code, "PROTOERR")
                raise OSError(f"refused with status {code.decode('latin-1')}")
        except (TimeoutError, OSError):
            if writer is None:
                link.status = "CONN"  # could not connect
            link.connecting = False
            link.next_try = time.monotonic() + random.uniform(*self.retry)
            if writer is not None:
                writer.close()
            return None
        link.connecting = False
        if link.session is not None:  # the peer connected first: keep its session
            writer.close()
            return None
        return reader, writer

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = b""
        try:
            while True:
                try:
                    hello, used = codec.parse_hello(buf)
                    break
                except codec.IncompleteError:
                    data = await asyncio.wait_for(reader.read(4096), RESYNC_TIMEOUT)
                    if not data:
                        raise OSError("closed") from None
                    buf += data
        except codec.MalformedError as e:
            writer.write(codec.status(int(e.args[0]) if e.args else codec.ST_ERR_PROTO))
            writer.close()
            return
        except (TimeoutError, OSError):
            writer.close()
            return
        if not self._trusted(writer):
            code = codec.ST_ERR_PEER
        elif hello.remote != self.conf.local:
            code = codec.ST_ERR_HOST
        elif self.stopping:
            code = codec.ST_TRY_AGAIN
        else:
            code = codec.ST_OK
        link = self.local_link if hello.local == self.conf.local else self.links.get(hello.local)
        if link is None and code == codec.ST_OK:
            code = codec.ST_ERR_PEER
        if code != codec.ST_OK or link is None or writer.is_closing():
            with contextlib.suppress(RuntimeError, OSError):
                writer.write(codec.status(code))
            writer.close()
            return
        writer.write(codec.status(code))
        if link.session is not None:
            link.session.close()  # a new session replaces the one it had
            link.collisions += 1
        await self._established(link, reader, writer, buf[used:])

    def _trusted(self, writer: asyncio.StreamWriter) -> bool:
        return True  # TCP peers are whoever the section names

    def _dials(self, link: Link) -> bool:
        """Whether this side connects to `link`'s peer (else it waits to be connected)."""
        return True

    def _path_of(self, link: Link) -> str | None:
        """The unix socket of `link`'s peer; None: its TCP address."""
        return None

    async def _established(
        self,
        link: Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        buffered: bytes,
    ) -> None:
        with contextlib.suppress(OSError):
            sock = writer.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s = Session(self, link, reader, writer, buffered)
        link.session = s
        link.status = "ESTA"
        link.last_hello = time.monotonic()
        self.sessions.add(s)
        await s.run()

    def ended(self, s: Session) -> None:
        self.sessions.discard(s)
        if s.link.session is s:
            s.link.session = None
            s.link.next_try = time.monotonic() + random.uniform(*self.retry)
        if self.learner is s:  # ask again, on the next session
            self.learner = None
            self.wake()

    def wake(self) -> None:
        for s in self.sessions:
            s.wake.set()

    def on_private(self, typ: int, payload: bytes) -> None:
        """A weir-only message (see CLS_WEIR); ignored by default."""

    # -- learning the tables at start ------------------------------------------------------

    @property
    def complete(self) -> bool:
        return self.learning == "done"

    def assign_learning(self, s: Session) -> bool:
        """Whether `s` is the session to ask for the tables now (and it is asked)."""
        if self.learner is not None or self.learning == "done" or self.stopping:
            return False
        if self.learning == "local":
            if not s.link.is_local:
                return False
        elif s.link.is_local or s.link.conf.name in self.tried:
            return False
        self.learner = s
        self.learner_deadline = time.monotonic() + RESYNC_TIMEOUT
        return True

    def learnt(self, s: Session, *, full: bool) -> bool:
        """A teacher said it is done; True when it was the one asked."""
        if s is not self.learner:
            return False
        self.learner = None
        if full:
            self.learning = "done"
        else:
            self._learner_gone(s)
        self.wake()
        return True

    def _learner_gone(self, s: Session) -> None:
        self.learner = None
        if s.link.is_local:
            self._to_remote()
        else:
            self.tried.add(s.link.conf.name)

    def _to_remote(self) -> None:
        self.learning = "remote" if self.links else "done"
        self.learn_deadline = time.monotonic() + RESYNC_TIMEOUT
        self.wake()

    def _learning_tick(self, now: float) -> None:
        if self.learning == "done":
            return
        if self.learner is not None:
            if now >= self.learner_deadline:
                self._learner_gone(self.learner)
                self.wake()
            return
        if self.learning == "local":
            if now >= self.learn_deadline:
                self._to_remote()
            return
        candidates = [
            link
            for link in self.links.values()
            if link.session is not None and link.conf.name not in self.tried
        ]
        if not candidates and (
            now >= self.learn_deadline or all(n in self.tried for n in self.links)
        ):
            self.learning = "done"

    # -- the runtime API -------------------------------------------------------------------

    def describe(self) -> str:
        """`show peers`: the section, then each peer and what it was sent, in the shape of
        HAProxy's report (without its memory addresses and task internals)."""
        now = time.monotonic()
        resync = "finished" if self.complete else f"from {self.learning}"
        out = [
            f"id={self.conf.name} disabled=0 local={self.conf.local} resync={resync} "
            f"tables={len(self.tables)}"
        ]
        for link in [*self.links.values(), self.local_link]:
            c = link.conf
            s = link.session
            host, port = (c.host, c.port) if c.host else (self.conf.local_addr or ("", 0))
            kind = "local" if link.is_local else "remote"
            active = "active" if s is not None else "inactive"
            since = f"{int(now - link.last_hello)}s" if link.last_hello else "<NEVER>"
            out.append(
                f"  id={c.name}({kind},{active}) addr={host}:{port} "
                f"last_status={link.status} last_hdshk={since}"
            )
            out.append(f"        new_conn={link.new_conn} coll={link.collisions}")
            if s is None:
                continue
            peer = s.writer.get_extra_info("peername") or ("", 0)
            out.append(f"        state=EST addr={peer[0]}:{peer[1]}")
            out.append("        shared tables:")
            for ts in self.tables:
                got = [g for tid, g in s.got.items() if s.rx[tid][1] is ts]
                out.append(
                    f"          id={ts.name} local_id={ts.defn.table_id} "
                    f"last_acked={link.acked.get(ts.name, 0)} last_pushed={s.pushed[ts.name]} "
                    f"last_get={got[0] if got else 0} update={ts.seq}"
                )
        return "\n".join(out) + "\n\n"


class TableHandover(PeersRuntime):
    """The stick tables no peers section replicates, handed from a process to the next on
    reload (HAProxy loses them): every serving process listens on an abstract unix socket
    named after its pid; a new process connects to its predecessor's, asks for the whole
    tables, and goes on receiving the updates the old process makes until that one exits.
    Only processes of the same user (or root) may connect."""

    def __init__(
        self,
        tables: list[str],
        loop: asyncio.AbstractEventLoop,
        say: Reporter,
        *,
        old_pids: list[int],
    ) -> None:
        from weir.config.diagnostics import Where

        here = Where("", 0)
        me = PeerConf(_HANDOVER, "", 0, here)
        conf = PeersConf(_HANDOVER, here, {_HANDOVER: me}, local=_HANDOVER, tables=tables)
        super().__init__(conf, loop, say, reloaded=bool(old_pids))
        self.old_pids = old_pids
        self.skip, self.learnt_origin = -1, None  # everything goes to the next process
        self.logging = True
        self._log_changes(False)  # nothing to log until another process is connected

    def _log_changes(self, on: bool) -> None:
        if on != self.logging:
            self.logging = on
            for ts in self.tables:
                ts.use(on)

    async def _established(
        self,
        link: Link,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        buffered: bytes,
    ) -> None:
        self._log_changes(True)
        await super()._established(link, reader, writer, buffered)

    def ended(self, s: Session) -> None:
        super().ended(s)
        if not self.sessions:
            self._log_changes(False)

    def close(self) -> None:
        self._log_changes(True)  # (balanced: PeersRuntime.close gives every use back)
        super().close()

    async def start(self) -> None:
        try:
            self.server = await _listen_unix(handover_socket(os.getpid()), self._accepted)
        except OSError as e:
            self.say("WARNING", f"stick tables will not pass to the next process: {e.strerror}")
        # Connected before this process is ready, so before the old one is told to stop.
        for pid in self.old_pids:
            opened = await self._open(self.local_link, handover_socket(pid))
            if opened is not None:
                self._spawn(self._established(self.local_link, *opened, b""))
                break
        self._spawn(self._maintain())

    def _trusted(self, writer: asyncio.StreamWriter) -> bool:
        return _same_user(writer)

    def soft_stop(self) -> None:
        """The next process connected at its start: the lesson may still be under way."""
        self.stopping = True
        if self.server is not None:
            self.server.close()
            self.server = None
        self.handover_until = time.monotonic() + RESYNC_TIMEOUT

    def busy(self) -> bool:
        if time.monotonic() >= self.handover_until:
            return False
        s = self.local_link.session
        return s is not None and not s.taught


class WorkerMesh(PeersRuntime):
    """With `nbthread` > 1, the stick tables of the workers of one generation kept in step
    over the peers protocol, as HAProxy's peers keep nodes in step: each worker listens on
    an abstract unix socket named after the master, the generation and its slot, and the
    higher slot of each pair connects. A worker's own changes go to every sibling; what a
    worker learns from a sibling is not passed on (every pair talks directly), what it
    learns from another node is. An entry's last writer wins; see docs/peers.md."""

    def __init__(
        self,
        tables: list[str],
        loop: asyncio.AbstractEventLoop,
        say: Reporter,
        *,
        mesh: str,
        slot: int,
        workers: int,
    ) -> None:
        from weir.config.diagnostics import Where

        here = Where("", 0)
        names = {n: f"worker{n}" for n in range(1, workers + 1)}
        peers = {name: PeerConf(name, "", 0, here) for name in names.values()}
        conf = PeersConf("(workers)", here, peers, local=names[slot], tables=tables)
        super().__init__(conf, loop, say, reloaded=False)
        self.skip, self.learnt_origin = WORKER, WORKER
        self.mesh, self.slot = mesh, slot
        self.retry = (0.05, 0.3)  # siblings start together: the first dial may come early
        self.slots = {name: n for n, name in names.items()}
        self.healths: dict[tuple[str, str], Any] = {}
        # This worker's own counters for the statistics (set by the process; see
        # weir.stats.fields.SIBLINGS), sent to the others every COUNTERS_EVERY seconds.
        self.counters: Callable[[], list[Any]] | None = None
        # Runs a runtime API command another worker received (set by the process).
        self.run_command: Callable[[str, str | None], None] | None = None

    async def start(self) -> None:
        try:
            self.server = await _listen_unix(self._socket(self.slot), self._accepted)
        except OSError as e:
            self.say("WARNING", f"stick tables will not be shared between workers: {e.strerror}")
        self._spawn(self._maintain())
        self._spawn(self._report_counters())

    async def _report_counters(self) -> None:
        while True:
            await asyncio.sleep(COUNTERS_EVERY)
            if self.counters is None or not self.sessions:
                continue
            msg = json.dumps([self.conf.local, self.counters()]).encode()
            raw = codec.frame(CLS_WEIR, T_COUNTERS, msg)
            for s in self.sessions:
                s.private.append(raw)
                s.wake.set()

    def _socket(self, slot: int) -> str:
        return f"\0weir-workers-{self.mesh}-{slot}"

    def _dials(self, link: Link) -> bool:
        return self.slots[link.conf.name] < self.slot

    def _path_of(self, link: Link) -> str | None:
        return self._socket(self.slots[link.conf.name])

    def _trusted(self, writer: asyncio.StreamWriter) -> bool:
        return _same_user(writer)

    def soft_stop(self) -> None:
        self.stopping = True

    def busy(self) -> bool:
        return False

    # -- health checks probed once (by the first worker) --------------------------------------

    def share_checks(self, healths: list[Any], *, probing: bool) -> None:
        """The first worker probes and publishes each outcome; the others apply them to
        their own ServerHealth (same rise/fall counting, so the same states), silently."""
        self.healths = {(h.backend.name, h.server.name): h for h in healths}
        if probing:
            for h in healths:
                h.on_outcome = lambda kind, outcome, h=h: self.publish(h, kind, outcome)

    def publish(self, h: Any, kind: str, outcome: Any) -> None:
        v = outcome.verdict
        agent = dataclasses.asdict(v.agent) if v.agent is not None else None
        msg = json.dumps(
            [kind, h.backend.name, h.server.name, str(v.status), v.code, v.desc,
             outcome.duration_ms, agent]
        ).encode()  # fmt: skip
        raw = codec.frame(CLS_WEIR, T_OUTCOME, msg)
        for s in self.sessions:
            s.private.append(raw)
            s.wake.set()

    def on_private(self, typ: int, payload: bytes) -> None:
        from weir.check.agent import AgentReply
        from weir.check.status import CheckStatus, Outcome, Verdict

        if typ == T_COUNTERS:
            self._sibling_counters(payload)
            return
        if typ == T_COMMAND:
            if self.run_command is not None:
                with contextlib.suppress(ValueError, TypeError):
                    line, data = json.loads(payload)
                    self.run_command(str(line), data if isinstance(data, str) else None)
            return
        if typ != T_OUTCOME:
            return
        try:
            kind, be, srv, status, code, desc, ms, agent = json.loads(payload)
            h = self.healths.get((be, srv))
            if h is None:
                return
            reply = AgentReply(**agent) if agent is not None else None
            outcome = Outcome(Verdict(CheckStatus(status), code, desc, reply), ms)
        except (ValueError, TypeError):
            return
        if kind == "agent":
            h.agent_done(outcome)
        else:
            h.check_done(outcome)

    def forward_command(self, line: str, payload: str | None) -> None:
        """A runtime API command this worker ran, for the others to run too."""
        raw = codec.frame(CLS_WEIR, T_COMMAND, json.dumps([line, payload]).encode())
        for s in self.sessions:
            s.private.append(raw)
            s.wake.set()

    def _sibling_counters(self, payload: bytes) -> None:
        from weir.stats.fields import SIBLINGS

        try:
            name, rows = json.loads(payload)
            SIBLINGS[str(name)] = (
                time.monotonic(),
                {(str(p), str(s)): dict(d) for p, s, d in rows},
            )
        except (ValueError, TypeError):
            return


_HANDOVER = "local"
_CREDS = struct.Struct("3i")


def _same_user(writer: asyncio.StreamWriter) -> bool:
    """Whether the process at the other end of a unix socket is this user's (or root's)."""
    sock = writer.get_extra_info("socket")
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CREDS.size)
    except (OSError, AttributeError):
        return False
    _, uid, _ = _CREDS.unpack(creds)
    return uid in (os.getuid(), 0)


async def _listen_unix(name: str, accepted: Any) -> asyncio.AbstractServer:
    """A server on an abstract unix socket (made here: uvloop does not take the names)."""
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        ls.bind(name)
        ls.listen(16)
        ls.setblocking(False)
    except OSError:
        ls.close()
        raise
    return await asyncio.start_unix_server(accepted, sock=ls)


async def start_mesh(
    loop: asyncio.AbstractEventLoop, say: Reporter, *, mesh: str, slot: int, workers: int
) -> WorkerMesh | None:
    """The workers' shared tables and health checks (after start_peers and
    start_handover), or None with a single worker."""
    if workers < 2:
        return None
    m = WorkerMesh(list(TABLES), loop, say, mesh=mesh, slot=slot, workers=workers)
    await m.start()
    RUNNING.append(m)  # shown by `show peers` as the section "(workers)"
    return m


async def _open_unix(path: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, path)
    except OSError:
        sock.close()
        raise
    return await asyncio.open_unix_connection(sock=sock)


def handover_socket(pid: int) -> str:
    """The abstract unix socket where process `pid` offers its stick tables."""
    return f"\0weir-stick-tables-{pid}"


async def start_handover(
    loop: asyncio.AbstractEventLoop, say: Reporter, *, old_pids: list[int]
) -> TableHandover | None:
    """The reload hand-over of the tables no peers section replicates (started after
    start_peers), or None when there are none."""
    # The tables a peers section replicates pass by that section (after start_peers).
    names = [name for name, t in TABLES.items() if t.sync is None]
    if not names:
        return None
    h = TableHandover(names, loop, say, old_pids=old_pids)
    await h.start()
    return h


RUNNING: list[PeersRuntime] = []
SYNCS: dict[str, TableSync] = {}


def sync_of(table: Table) -> TableSync:
    """The table's one update log, made at its first use."""
    ts = SYNCS.get(table.name)
    if ts is None or ts.table is not table:
        ts = SYNCS[table.name] = TableSync(table, len(SYNCS) + 1)
    return ts


async def start_peers(
    loop: asyncio.AbstractEventLoop,
    sections: dict[str, PeersConf],
    say: Reporter,
    *,
    reloaded: bool,
) -> list[PeersRuntime]:
    out = []
    for conf in sections.values():
        if conf.disabled or not conf.tables:
            continue
        rt = PeersRuntime(conf, loop, say, reloaded=reloaded)
        await rt.start()
        out.append(rt)
    RUNNING[:] = out
    return out
