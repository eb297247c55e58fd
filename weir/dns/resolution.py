"""One name being resolved for the servers that use it: HAProxy's resolution, sans I/O.

Theory of operation. A `Resolution` is shared by every server of a resolvers section that
has the same host name and the same preferred family (`resolve-prefer`: A queries for
ipv4, AAAA for ipv6). It runs every `timeout resolve`:

1. a query of the preferred type goes to every nameserver (`start`);
2. the first valid answer ends the resolution (`answer` -> SUCCESS). An error answer
   waits for the other nameservers; when all answered with errors, the query is sent
   again at once with the other type (A <-> AAAA), without counting a try (RESEND);
3. with no valid answer after `timeout retry`, the preferred query is sent again
   (`retry_due` -> RESEND), counting a try; when `resolve_retries` tries are spent the
   resolution fails (ERROR) with the last error's status (TIMEOUT when nobody answered).

A valid answer's addresses are merged into the resolution's items, which outlive one
answer: an item not seen again for `hold obsolete` is dropped. Each server is attached to
the item whose address it uses and keeps it while the item lives; a server without one
takes the best item by HAProxy's score: +8 for the preferred family, +4 for an address in
one of its `resolve-net` networks, +2 for an address no other server of the same backend
uses (an address already used is skipped unless `allow-dup-ip`), +1 for its current
address. That is what fills a `server-template` one address per server.

Nothing here reads a clock or a socket: times are passed in (seconds, the loop's clock).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import TYPE_CHECKING, Any

from weir.config.address import Family
from weir.dns.message import Outcome, QType, Record

if TYPE_CHECKING:
    from weir.dns.conf import ServerDns


class Status(StrEnum):
    """The last outcome of a resolution (HAProxy's RSLV_STATUS_*), named like `hold`'s."""

    NONE = "none"
    VALID = "valid"
    NX = "nx"
    REFUSED = "refused"
    TIMEOUT = "timeout"
    OTHER = "other"
    INVALID = "invalid"

    @property
    def hold_key(self) -> str:
        """The `hold` period that applies to this status."""
        return self.value if self.value in ("nx", "refused", "timeout", "valid") else "other"


_STATUS_OF = {
    Outcome.NX: Status.NX,
    Outcome.REFUSED: Status.REFUSED,
    Outcome.INVALID: Status.INVALID,
}


class Step(Enum):
    WAIT = 0  # nothing to do until another answer or the retry time
    RESEND = 1  # send the query again now (`query_type` says which)
    SUCCESS = 2  # a valid answer: apply it
    ERROR = 3  # the resolution failed with `status`


@dataclass(slots=True)
class Requester:
    """A server using a resolution. `backend`/`server`/`conf` are the runtime Backend,
    its Server and the server's ServerConf; `item` the address it is attached to."""

    backend: Any
    server: Any
    conf: Any
    dns: ServerDns
    item: Item | None = None
    forced_maint: bool = False  # in maintenance by an operator when DNS took it out too


@dataclass(slots=True, eq=False)
class Item:
    """An address the name resolved to, kept across answers."""

    rtype: int
    ip: str
    last_seen: float
    attached: list[Requester] = field(default_factory=list)


def qtype_for(prefer: Family) -> int:
    return QType.A if prefer is Family.IPV4 else QType.AAAA


class Resolution:
    __slots__ = (
        "hostname",
        "items",
        "last_query",
        "last_resolution",
        "last_valid",
        "nb_queries",
        "nb_responses",
        "prefer",
        "qid",
        "query_type",
        "requesters",
        "running",
        "status",
        "tries",
    )

    def __init__(self, hostname: str, prefer: int, now: float) -> None:
        self.hostname = hostname
        self.prefer = prefer  # the preferred query type (QType.A or QType.AAAA)
        self.query_type = prefer
        self.requesters: list[Requester] = []
        self.items: list[Item] = []  # in the order first seen; rotated as HAProxy does
        self.status = Status.NONE
        self.last_valid = now
        self.last_resolution: float | None = None  # None: never run, due now
        self.last_query = 0.0
        self.running = False
        self.qid = -1
        self.tries = 0
        self.nb_queries = 0
        self.nb_responses = 0

    # -- the query cycle -------------------------------------------------------------------

    def due(self, timeout_resolve: float, timeout_retry: float) -> float:
        """When this resolution needs attention next (loop time)."""
        if self.running:
            return self.last_query + timeout_retry
        if self.last_resolution is None:
            return 0.0
        return self.last_resolution + timeout_resolve

    def start(self, qid: int, retries: int) -> None:
        """Begin a resolution with query id `qid`: the caller sends the preferred query."""
        self.running = True
        self.qid = qid
        self.query_type = self.prefer
        self.tries = max(1, retries) - 1

    def sent(self, now: float, queries: int) -> None:
        """The query went to `queries` nameservers."""
        self.last_query = now
        self.nb_queries = queries
        self.nb_responses = 0

    def answer(self, outcome: Outcome) -> Step:
        """An answer to the current query arrived, judged as `outcome`."""
        self.nb_responses += 1
        if outcome is Outcome.VALID:
            self.status = Status.VALID
            return Step.SUCCESS
        self.status = _STATUS_OF.get(outcome, Status.OTHER)
        if self.nb_responses < self.nb_queries:
            return Step.WAIT  # another nameserver may still answer well
        if self.query_type != self.prefer:
            return Step.ERROR if self.tries <= 0 else Step.WAIT
        self.query_type = _other(self.prefer)
        return Step.RESEND

    def retry_due(self) -> Step:
        """`timeout retry` passed without a valid answer."""
        if self.tries <= 0:
            if not self.nb_responses:
                self.status = Status.TIMEOUT
            return Step.ERROR
        if not self.nb_responses or self.query_type != self.prefer:
            self.query_type = self.prefer
            self.tries -= 1
        else:
            self.query_type = _other(self.prefer)
        return Step.RESEND

    def finish(self, now: float) -> None:
        """The resolution ended (success or error): the next one runs `timeout resolve`
        from now."""
        self.running = False
        self.qid = -1
        self.last_resolution = now
        self.query_type = self.prefer
        self.nb_queries = self.nb_responses = 0

    # -- addresses -------------------------------------------------------------------------

    def merge(self, records: list[Record], now: float, hold_obsolete: float) -> None:
        """Take in a valid answer's A/AAAA records; drop items not seen for longer than
        `hold_obsolete`, detaching their servers."""
        known = {(it.rtype, it.ip): it for it in self.items}
        for r in records:
            if r.rtype not in (QType.A, QType.AAAA) or not isinstance(r.data, str):
                continue
            it = known.get((r.rtype, r.data))
            if it is None:
                it = known[(r.rtype, r.data)] = Item(r.rtype, r.data, now)
                self.items.append(it)
            else:
                it.last_seen = now
        kept = []
        for it in self.items:
            if it.last_seen + hold_obsolete < now:
                for req in it.attached:
                    req.item = None
                it.attached.clear()
            else:
                kept.append(it)
        self.items = kept

    def forget(self) -> None:
        """Drop every item (a failed resolution whose servers went to maintenance)."""
        for it in self.items:
            for req in it.attached:
                req.item = None
        self.items = []

    def choose(self, req: Requester, current: str) -> Item | None:
        """The item `req` should use (attaching it), or None when no address suits it.
        A server already attached to a living item keeps it."""
        if req.item is not None:
            return req.item
        dns = req.dns
        want = QType.A if dns.prefer is Family.IPV4 else QType.AAAA
        best: Item | None = None
        best_score = -1
        for it in self.items:
            score = 8 if it.rtype == want else 0
            if dns.nets:
                ip = ipaddress.ip_address(it.ip)
                if any(ip.version == n.version and ip in n for n in dns.nets):
                    score += 4
            used = any(o is not req and o.backend is req.backend for o in it.attached)
            if used:
                if not dns.allow_dup_ip:
                    continue
            else:
                score += 2
            if it.ip == current:
                score += 1
            if score > best_score:
                best, best_score = it, score
        if best is None:
            return None
        best.attached.append(req)
        req.item = best
        if len(self.items) > 1:  # HAProxy's internal round robin over the records
            self.items.append(self.items.pop(0))
        return best

    def detach(self, req: Requester) -> None:
        it = req.item
        if it is not None:
            it.attached = [o for o in it.attached if o is not req]
            req.item = None


def _other(qtype: int) -> int:
    return QType.AAAA if qtype == QType.A else QType.A
