"""`balance` and `hash-type` arguments, and the parameter checks."""

from __future__ import annotations

import pytest

from weir.balance import BalanceParams, check_server_count, parse_balance, parse_hash_type


def test_defaults_to_roundrobin() -> None:
    assert parse_balance([]) == BalanceParams()
    assert parse_balance(["roundrobin"]).algo == "roundrobin"


@pytest.mark.parametrize("algo", ["static-rr", "leastconn", "first", "source"])
def test_simple_algorithms(algo: str) -> None:
    assert parse_balance([algo]).algo == algo


def test_uri_options() -> None:
    p = parse_balance(["uri", "whole", "depth", "3", "len", "10", "path-only"])
    assert (p.algo, p.uri_whole, p.uri_depth, p.uri_len, p.uri_path_only) == (
        "uri",
        True,
        3,
        10,
        True,
    )
    assert p.needs_http
    assert p.is_hash
    assert not p.dynamic


def test_url_param() -> None:
    p = parse_balance(["url_param", "userid"])
    assert (p.url_param, p.check_post) == ("userid", False)
    p = parse_balance(["url_param", "session_id", "check_post", "64"])  # old max_wait
    assert (p.url_param, p.check_post) == ("session_id", True)


def test_hdr_random_rdp_hash() -> None:
    p = parse_balance(["hdr(Host)", "use_domain_only"])
    assert (p.algo, p.hdr_name, p.use_domain_only) == ("hdr", "Host", True)
    assert parse_balance(["random"]).draws == 2
    assert parse_balance(["random()"]).draws == 2
    assert parse_balance(["random(3)"]).draws == 3
    assert parse_balance(["rdp-cookie"]).rdp_cookie == "mstshash"
    assert parse_balance(["rdp-cookie(user)"]).rdp_cookie == "user"
    p = parse_balance(["hash", "req.cookie(clientid)"])
    assert (p.algo, p.expr) == ("hash", "req.cookie(clientid)")
    assert not p.needs_http


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["roundrobing"], "unknown balancing algorithm 'roundrobing'"),
        (["roundrobin", "extra"], "unexpected argument 'extra'"),
        (["uri", "depth"], "'depth' needs a positive number, got nothing"),
        (["uri", "len", "0"], "'len' needs a positive number, got '0'"),
        (["uri", "deep"], "unknown option 'deep'"),
        (["url_param"], "name of a URL parameter is required"),
        (["url_param", "id", "check_get"], "unknown option 'check_get'"),
        (["hdr()"], "is not 'hdr(<header name>)'"),
        (["hdr(Host"], "is not 'hdr(<header name>)'"),
        (["hdr(Host)", "domain_only"], "unknown option 'domain_only'"),
        (["random(0)"], "at least 1"),
        (["random(x)"], "is not 'random(<number of draws>)'"),
        (["rdp-cookie()"], "is not 'rdp-cookie'"),
        (["hash"], "a sample expression is required"),
        (["hash", "src", "more"], "unexpected argument 'more'"),
    ],
)
def test_balance_errors(args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_balance(args)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["map-based"], ("map-based", "sdbm", False)),
        (["consistent"], ("consistent", "sdbm", True)),  # HAProxy's default mixing
        (["consistent", "sdbm"], ("consistent", "sdbm", False)),
        (["consistent", "djb2", "avalanche"], ("consistent", "djb2", True)),
        (["map-based", "crc32"], ("map-based", "crc32", False)),
        (["map-based", "wt6", "avalanche"], ("map-based", "wt6", True)),
        (["consistent", "none"], ("consistent", "none", False)),
    ],
)
def test_hash_type(args: list[str], expected: tuple[str, str, bool]) -> None:
    assert parse_hash_type(args) == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "expects 'map-based' or 'consistent'"),
        (["avalanche"], "no longer accepted"),
        (["ring"], "unknown method 'ring'"),
        (["consistent", "md5"], "unknown hash function 'md5'"),
        (["consistent", "sdbm", "mix"], "unknown modifier 'mix'"),
        (["consistent", "sdbm", "avalanche", "x"], "unexpected argument 'x'"),
    ],
)
def test_hash_type_errors(args: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hash_type(args)


def test_params_validation() -> None:
    with pytest.raises(ValueError, match="hash-balance-factor"):
        BalanceParams(hash_balance_factor=100)
    assert BalanceParams(hash_balance_factor=125).hash_balance_factor == 125
    with pytest.raises(ValueError, match="unknown balancing algorithm"):
        BalanceParams(algo="fastest")
    with pytest.raises(ValueError, match="unknown hash function"):
        BalanceParams(hash_function="md5")


def test_dynamic_flags() -> None:
    assert BalanceParams().dynamic
    assert not BalanceParams(algo="static-rr").dynamic
    assert not BalanceParams(algo="source").dynamic
    assert BalanceParams(algo="source", hash_type="consistent").dynamic


def test_roundrobin_server_count_check() -> None:
    rr = BalanceParams()
    assert check_server_count(rr, 4095) is None
    msg = check_server_count(rr, 4096)
    assert msg is not None
    assert "4095" in msg
    assert check_server_count(BalanceParams(algo="static-rr"), 10000) is None
