"""The resolvers at run time: one `Resolvers` per `resolvers` section, in each worker.

Each section owns one UDP socket per nameserver (an asyncio datagram endpoint connected
to it) and one timer: the timer fires when the earliest resolution is due (its next run,
or its retry time), the resolutions due are advanced (`weir.dns.resolution`), and the
timer is set again. Answers are matched to resolutions by query id. Nothing here runs
per request: the data path only reads `Server.host`/`Server.port`, which this module
changes, so new connections go to the new address while open ones stay where they are.

What an outcome does to the servers, as HAProxy does it:
- a valid answer gives each server its address (`weir.dns.resolution` chooses it); a
  changed address is reported as "<be>/<srv> changed its IP from A to B by R/NS"; a
  server in resolution maintenance (RMAINT: no address yet, or taken out by DNS) comes
  back ("Server <be>/<srv> ('<fqdn>') is UP/READY (resolves again)"); a server for which
  no address is left goes to maintenance ("No IP for server");
- a failed resolution (NX, refused, timeout, other) changes nothing until its `hold`
  period has passed since the last valid answer; then its servers go to maintenance
  ("DNS NX status", "DNS timeout status", "DNS refused status", "unspecified DNS error").

Messages go to stderr and, at level notice, to the backend's logs.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import partial
from typing import TYPE_CHECKING, Any

from weir.backend.server import SrvState
from weir.dns.message import DnsError, Outcome, classify, decode, encode_query, normalize
from weir.dns.resolution import Requester, Resolution, Status, Step, qtype_for

if TYPE_CHECKING:
    from weir.api.actions import Control
    from weir.dns.conf import NameserverConf, ResolversConf
    from weir.proxy.runtime import Runtime

Say = Callable[[str, str], None]
LOG_NOTICE = 5

_CAUSES = {
    Status.NX: "DNS NX status",
    Status.TIMEOUT: "DNS timeout status",
    Status.REFUSED: "DNS refused status",
}


@dataclass(slots=True)
class NsCounters:
    """A nameserver's counters, in the order `show resolvers` prints them."""

    sent: int = 0
    snd_error: int = 0
    valid: int = 0
    update: int = 0
    cname: int = 0
    cname_error: int = 0
    any_err: int = 0
    nx: int = 0
    timeout: int = 0
    refused: int = 0
    other: int = 0
    invalid: int = 0
    too_big: int = 0
    truncated: int = 0
    outdated: int = 0

    def items(self) -> list[tuple[str, int]]:
        return [(f.name, getattr(self, f.name)) for f in fields(self)]


class _Endpoint(asyncio.DatagramProtocol):
    __slots__ = ("ns",)

    def __init__(self, ns: Nameserver) -> None:
        self.ns = ns

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.ns.owner.received(self.ns, data)

    def error_received(self, exc: Exception) -> None:
        # ICMP port unreachable and the like: the query counts as not answered.
        pass


class Nameserver:
    __slots__ = ("conf", "counters", "owner", "transport")

    def __init__(self, conf: NameserverConf, owner: Resolvers) -> None:
        self.conf = conf
        self.owner = owner
        self.counters = NsCounters()
        self.transport: asyncio.DatagramTransport | None = None

    @property
    def name(self) -> str:
        return self.conf.name

    def send(self, data: bytes) -> bool:
        t = self.transport
        if t is None or t.is_closing():
            self.counters.snd_error += 1
            return False
        try:
            t.sendto(data)
        except OSError:
            self.counters.snd_error += 1
            return False
        self.counters.sent += 1
        return True


class Resolvers:
    """One `resolvers` section at run time, with the servers that use it."""

    def __init__(
        self, conf: ResolversConf, loop: asyncio.AbstractEventLoop, control: Control, say: Say
    ) -> None:
        self.conf = conf
        self.loop = loop
        self.control = control
        self.say = say
        self.nameservers = [Nameserver(c, self) for c in conf.nameservers.values()]
        self.resolutions: dict[tuple[str, int], Resolution] = {}
        self.by_qid: dict[int, Resolution] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False
        self._rng = random.Random()
        self.t_resolve = conf.timeout_resolve / 1000
        self.t_retry = conf.timeout_retry / 1000

    @property
    def name(self) -> str:
        return self.conf.name

    def add(self, be: Any, srv: Any, conf: Any) -> None:
        """Resolve server `srv` of backend `be` (its ServerConf `conf`) from now on."""
        dns = conf.dns
        name = normalize(conf.address.fqdn)
        key = (name, qtype_for(dns.prefer))
        res = self.resolutions.get(key)
        if res is None:
            res = self.resolutions[key] = Resolution(name, key[1], self.loop.time())
        res.requesters.append(Requester(be, srv, conf, dns))

    async def start(self) -> None:
        if not self.resolutions:
            return  # no server uses this section: no socket, counters stay at 0
        for ns in self.nameservers:
            c = ns.conf
            try:
                transport, _ = await self.loop.create_datagram_endpoint(
                    partial(_Endpoint, ns), remote_addr=(c.host, c.port)
                )
            except OSError as e:
                self.say(
                    "WARNING",
                    f"resolvers '{self.name}': nameserver '{c.name}' ({c.host}:{c.port}) "
                    f"cannot be used: {e.strerror or e}",
                )
                continue
            ns.transport = transport
        self._arm()

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for ns in self.nameservers:
            if ns.transport is not None:
                ns.transport.close()
                ns.transport = None

    # -- the timer ---------------------------------------------------------------------

    def _arm(self) -> None:
        if self._closed or not self.resolutions:
            return
        due = min(r.due(self.t_resolve, self.t_retry) for r in self.resolutions.values())
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.loop.call_at(max(due, self.loop.time()), self._wake)

    def _wake(self) -> None:
        self._timer = None
        try:
            self._advance(self.loop.time())
        except Exception as e:  # a bug: say it, and keep resolving
            self.say("ALERT", f"resolvers '{self.name}': {type(e).__name__}: {e}")
        finally:
            self._arm()

    def _advance(self, now: float) -> None:
        for res in list(self.resolutions.values()):
            if res.due(self.t_resolve, self.t_retry) > now:
                continue
            if res.running:
                self._timeouts(res)
                step = res.retry_due()
                if step is Step.ERROR:
                    self._failed(res, now)
                else:
                    self._send(res, now)
            else:
                res.start(self._new_qid(), self.conf.resolve_retries)
                self.by_qid[res.qid] = res
                self._send(res, now)

    def _new_qid(self) -> int:
        for _ in range(100):
            qid = self._rng.randrange(1, 0x10000)
            if qid not in self.by_qid:
                return qid
        return self._rng.randrange(1, 0x10000)

    def _send(self, res: Resolution, now: float) -> None:
        query = encode_query(res.qid, res.hostname, res.query_type, self.conf.accepted_payload_size)
        sent = sum(1 for ns in self.nameservers if ns.send(query))
        res.sent(now, sent)

    def _timeouts(self, res: Resolution) -> None:
        # A try that no nameserver answered counts a timeout for each of them.
        if not res.nb_responses:
            for ns in self.nameservers:
                if ns.transport is not None:
                    ns.counters.timeout += 1

    # -- answers -----------------------------------------------------------------------

    def received(self, ns: Nameserver, data: bytes) -> None:
        try:
            self._received(ns, data)
        except Exception as e:  # a bug: say it, and keep resolving
            self.say("ALERT", f"resolvers '{self.name}': {type(e).__name__}: {e}")
            self._arm()

    def _received(self, ns: Nameserver, data: bytes) -> None:
        c = ns.counters
        if len(data) > self.conf.accepted_payload_size:
            c.too_big += 1
            return
        try:
            msg = decode(data)
        except DnsError:
            c.invalid += 1
            return
        res = self.by_qid.get(msg.qid)
        if res is None or not res.running:
            c.outdated += 1
            return
        outcome, records = classify(msg, res.hostname, res.query_type)
        if any(r.rtype == 5 for r in msg.answers):
            c.cname += 1
        if outcome is Outcome.VALID:
            c.valid += 1
        else:
            setattr(c, outcome.value, getattr(c, outcome.value) + 1)
        now = self.loop.time()
        step = res.answer(outcome)
        if step is Step.SUCCESS:
            self._succeeded(res, records, ns, now)
        elif step is Step.ERROR:
            self._failed(res, now)
        elif step is Step.RESEND:
            self._send(res, now)
        else:
            return
        self._arm()

    def _end(self, res: Resolution, now: float) -> None:
        self.by_qid.pop(res.qid, None)
        res.finish(now)

    def _succeeded(self, res: Resolution, records: list[Any], ns: Nameserver, now: float) -> None:
        self._end(res, now)
        res.last_valid = now
        res.merge(records, now, self.conf.hold["obsolete"] / 1000)
        updater: Nameserver | None = ns  # the first server is credited to the nameserver
        for req in res.requesters:
            self._apply(res, req, updater)
            updater = None

    def _failed(self, res: Resolution, now: float) -> None:
        self._end(res, now)
        hold = self.conf.hold[res.status.hold_key] / 1000
        if now < res.last_valid + hold:
            return
        cause = _CAUSES.get(res.status, "unspecified DNS error")
        for req in res.requesters:
            self._to_maint(req, cause)
        res.forget()

    # -- servers -----------------------------------------------------------------------

    def _apply(self, res: Resolution, req: Requester, ns: Nameserver | None) -> None:
        srv = req.server
        item = res.choose(req, srv.host)
        if item is None:
            self._to_maint(req, "No IP for server ")
            return
        if item.ip != srv.host:
            self._move(req, item.ip, ns)
        if srv.rmaint:
            self._resolves_again(req)

    def _move(self, req: Requester, ip: str, ns: Nameserver | None) -> None:
        be, srv = req.backend, req.server
        old = srv.host or "(none)"
        self.control.set_addr(be, srv, ip, None)
        by = f"{self.name}/{ns.name}" if ns is not None else "DNS cache"
        if ns is not None:
            ns.counters.update += 1
        self._notice(be, f"{be.name}/{srv.name} changed its IP from {old} to {ip} by {by}.")

    def _resolves_again(self, req: Requester) -> None:
        be, srv = req.backend, req.server
        srv.rmaint = False
        if req.forced_maint:
            req.forced_maint = False
            return  # an operator's maintenance goes on
        fqdn = req.conf.address.fqdn
        self.control.set_ready(be, srv, message=f"('{fqdn}') is UP/READY (resolves again).")
        self._notice(
            be,
            f"Server {be.name}/{srv.name} administratively READY thanks to valid DNS answer.",
        )

    def _to_maint(self, req: Requester, cause: str) -> None:
        srv = req.server
        if srv.rmaint:
            return
        srv.rmaint = True
        if srv.state is SrvState.MAINT:
            req.forced_maint = True
            return
        self.control.set_maint(req.backend, srv, cause=cause)

    def _notice(self, be: Any, text: str) -> None:
        self.say("WARNING", text)
        logger = be.logger
        if logger is not None:
            logger.send(LOG_NOTICE, text)


async def start_resolvers(
    loop: asyncio.AbstractEventLoop, rt: Runtime, say: Say
) -> list[Resolvers]:
    """Start a `Resolvers` for every section that some server uses (and the others, for
    `show resolvers`); the caller closes them at shutdown."""
    from weir.api import control_for
    from weir.dns.conf import ResolversConf

    control = control_for(rt)
    sections: dict[str, Resolvers] = {}
    for conf in rt.config.resolvers.values():
        assert isinstance(conf, ResolversConf)
        sections[conf.name] = Resolvers(conf, loop, control, say)
    for be in rt.backends.values():
        for srv, sconf in zip(be.servers, be.conf.servers, strict=True):
            dns = sconf.dns
            if dns is None or not dns.resolvers or sconf.address is None:
                continue
            if not sconf.address.fqdn:
                continue
            r = sections.get(dns.resolvers)
            if r is not None:
                r.add(be, srv, sconf)
    for r in sections.values():
        await r.start()
    RUNNING[id(rt)] = (rt, list(sections.values()))
    return list(sections.values())


# The sections running for a runtime, for `show resolvers`: id(runtime) -> (runtime, list).
RUNNING: dict[int, tuple[Any, list[Resolvers]]] = {}


def running_for(rt: Runtime) -> list[Resolvers] | None:
    found = RUNNING.get(id(rt))
    if found is None or found[0] is not rt:
        return None
    return found[1]


def stop_resolvers(rt: Runtime, sections: list[Resolvers]) -> None:
    for r in sections:
        r.close()
    found = RUNNING.get(id(rt))
    if found is not None and found[0] is rt:
        del RUNNING[id(rt)]
