"""A resolution's query cycle (retries, A/AAAA fallback) and how it gives servers their
addresses (HAProxy's scores, one address per server, obsolete records)."""

from __future__ import annotations

import ipaddress

from weir.config.address import Family
from weir.dns.conf import ServerDns
from weir.dns.message import Outcome, QType, Record
from weir.dns.resolution import Requester, Resolution, Status, Step


def _run(res: Resolution, retries: int = 3, nameservers: int = 1) -> None:
    res.start(qid=42, retries=retries)
    res.sent(0.0, nameservers)


def test_valid_answer_ends_the_resolution() -> None:
    res = Resolution("a.example", QType.A, 0.0)
    assert res.due(1.0, 0.5) == 0.0  # never run: due now
    _run(res)
    assert res.due(1.0, 0.5) == 0.5  # the retry time
    assert res.answer(Outcome.VALID) is Step.SUCCESS
    assert res.status is Status.VALID
    res.finish(10.0)
    assert res.due(1.0, 0.5) == 11.0  # `timeout resolve` later
    assert not res.running


def test_errors_wait_for_every_nameserver_then_switch_the_query_type() -> None:
    res = Resolution("a.example", QType.AAAA, 0.0)
    _run(res, nameservers=2)
    assert res.answer(Outcome.ANCOUNT_ZERO) is Step.WAIT
    assert res.answer(Outcome.NX) is Step.RESEND
    assert res.query_type == QType.A
    res.sent(0.1, 2)
    assert res.answer(Outcome.VALID) is Step.SUCCESS


def test_retries_are_counted_and_a_silent_resolution_times_out() -> None:
    res = Resolution("a.example", QType.A, 0.0)
    _run(res, retries=3)
    assert res.retry_due() is Step.RESEND  # second try
    res.sent(1.0, 1)
    assert res.retry_due() is Step.RESEND  # third try
    res.sent(2.0, 1)
    assert res.retry_due() is Step.ERROR
    assert res.status is Status.TIMEOUT


def test_nx_after_the_fallback_fails_once_tries_are_spent() -> None:
    res = Resolution("a.example", QType.A, 0.0)
    _run(res, retries=1)
    assert res.answer(Outcome.NX) is Step.RESEND  # A -> AAAA, no try counted
    res.sent(0.1, 1)
    assert res.answer(Outcome.NX) is Step.ERROR
    assert res.status is Status.NX
    assert res.status.hold_key == "nx"
    assert Status.INVALID.hold_key == "other"


def _req(backend: object, **opts: object) -> Requester:
    return Requester(backend, object(), None, ServerDns(**opts))  # type: ignore[arg-type]


def _a(*ips: str) -> list[Record]:
    return [Record("a.example", QType.A if ":" not in ip else QType.AAAA, 5, ip) for ip in ips]


def test_servers_sharing_a_name_take_distinct_addresses() -> None:
    be = object()
    res = Resolution("a.example", QType.A, 0.0)
    reqs = [_req(be, prefer=Family.IPV4) for _ in range(3)]
    res.merge(_a("10.0.0.1", "10.0.0.2"), 1.0, 0.0)
    got = [res.choose(r, "") for r in reqs]
    assert [it.ip if it else None for it in got] == ["10.0.0.1", "10.0.0.2", None]
    # an attached server keeps its address while the record lives
    res.merge(_a("10.0.0.2", "10.0.0.1", "10.0.0.3"), 2.0, 0.0)
    assert res.choose(reqs[0], "10.0.0.1") is got[0]
    third = res.choose(reqs[2], "")
    assert third is not None
    assert third.ip == "10.0.0.3"
    # a record that goes away frees its server, which then finds nothing left
    res.merge(_a("10.0.0.1", "10.0.0.3"), 3.0, 0.0)
    assert reqs[1].item is None
    assert res.choose(reqs[1], "10.0.0.2") is None


def test_duplicates_allowed_and_other_backends_do_not_count() -> None:
    res = Resolution("a.example", QType.A, 0.0)
    res.merge(_a("10.0.0.1"), 1.0, 0.0)
    one, two = _req("be1", prefer=Family.IPV4), _req("be1", prefer=Family.IPV4, allow_dup_ip=True)
    other = _req("be2", prefer=Family.IPV4)
    assert res.choose(one, "") is not None
    assert res.choose(two, "") is not None
    assert res.choose(other, "") is not None


def test_scores_prefer_family_then_network_then_current_address() -> None:
    res = Resolution("a.example", QType.A, 0.0)
    res.merge(_a("10.0.0.1", "192.168.1.5", "2001:db8::1"), 1.0, 0.0)
    v6 = res.choose(_req("be"), "")  # default preference: ipv6
    assert v6 is not None
    assert v6.ip == "2001:db8::1"
    net = ipaddress.ip_network("192.168.0.0/16")
    local = res.choose(_req("be2", prefer=Family.IPV4, nets=(net,)), "")
    assert local is not None
    assert local.ip == "192.168.1.5"
    current = res.choose(_req("be3", prefer=Family.IPV4), "10.0.0.1")
    assert current is not None
    assert current.ip == "10.0.0.1"


def test_obsolete_records_are_kept_for_hold_obsolete() -> None:
    res = Resolution("a.example", QType.A, 0.0)
    res.merge(_a("10.0.0.1", "10.0.0.2"), 1.0, 5.0)
    res.merge(_a("10.0.0.1"), 3.0, 5.0)
    assert [it.ip for it in res.items] == ["10.0.0.1", "10.0.0.2"]
    res.merge(_a("10.0.0.1"), 7.0, 5.0)
    assert [it.ip for it in res.items] == ["10.0.0.1"]
