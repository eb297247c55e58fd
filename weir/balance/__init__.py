"""Load-balancing algorithms: HAProxy 2.6's, behind one small interface.

    params = parse_balance(["uri", "depth", "2"])          # the words after `balance`
    params = replace(params, hash_type="consistent", ...)  # from parse_hash_type(...)
    balancer = make_balancer(servers, params)
    srv = balancer.pick(uri_key(target, depth=2))          # key None: round robin

Pure code: no I/O, no clock. The caller owns server state and reports changes through
`server_up` / `server_down` / `set_weight` / `taken` / `released` (see `base.Balancer`).
"""

from __future__ import annotations

import random as _random
import re
from collections.abc import Callable, Sequence

from weir.backend.server import Server
from weir.balance.base import (
    HASH_FUNCTION_NAMES,
    BalanceParams,
    Balancer,
)
from weir.balance.first import First
from weir.balance.hash_consistent import HashConsistent
from weir.balance.hash_map import HashMap
from weir.balance.keys import (
    hdr_key,
    rdp_cookie_key,
    source_key,
    uri_key,
    url_param_key,
    url_param_post_key,
)
from weir.balance.leastconn import LeastConn
from weir.balance.random import Random
from weir.balance.roundrobin import MAX_RR_SERVERS, RoundRobin, check_server_count
from weir.balance.static_rr import StaticRoundRobin

__all__ = [
    "MAX_RR_SERVERS",
    "BalanceParams",
    "Balancer",
    "check_server_count",
    "hdr_key",
    "make_balancer",
    "parse_balance",
    "parse_hash_type",
    "rdp_cookie_key",
    "source_key",
    "uri_key",
    "url_param_key",
    "url_param_post_key",
]

# algorithm -> balancer class; the hash algorithms pick theirs by hash type
_ALGORITHMS: dict[str, type[Balancer]] = {
    "roundrobin": RoundRobin,
    "static-rr": StaticRoundRobin,
    "leastconn": LeastConn,
    "first": First,
    "random": Random,
}
_HASH_TYPES: dict[str, type[Balancer]] = {
    "map-based": HashMap,
    "consistent": HashConsistent,
}


def make_balancer(
    servers: Sequence[Server], params: BalanceParams, *, rng: _random.Random | None = None
) -> Balancer:
    """The balancer for `params` over `servers` (declaration order).

    `rng` feeds `balance random`; pass a seeded one for reproducible picks.
    """
    cls = _HASH_TYPES[params.hash_type] if params.is_hash else _ALGORITHMS[params.algo]
    return cls(servers, params, rng=rng)


# -- `balance` -------------------------------------------------------------------------

_RANDOM = re.compile(r"random(?:\((\d*)\))?")
_HDR = re.compile(r"hdr\(([^()]+)\)")
_RDP = re.compile(r"rdp-cookie(?:\(([^()]*)\))?")
_SIMPLE = ("roundrobin", "static-rr", "leastconn", "first", "source")


def _positive(algo: str, opt: str, args: Sequence[str], i: int) -> int:
    word = args[i] if i < len(args) else ""
    if not word.isdigit() or int(word) <= 0:
        got = f"'{word}'" if word else "nothing"
        raise ValueError(f"balance {algo}: '{opt}' needs a positive number, got {got}")
    return int(word)


def _no_more(algo: str, args: Sequence[str], used: int) -> None:
    if len(args) > used:
        raise ValueError(f"balance {algo}: unexpected argument '{args[used]}'")


def _parse_uri(args: Sequence[str]) -> BalanceParams:
    whole = path_only = False
    length = depth = 0
    i = 1
    while i < len(args):
        opt = args[i]
        if opt == "len":
            length = _positive("uri", opt, args, i + 1)
            i += 2
        elif opt == "depth":
            depth = _positive("uri", opt, args, i + 1)
            i += 2
        elif opt == "whole":
            whole = True
            i += 1
        elif opt == "path-only":
            path_only = True
            i += 1
        else:
            raise ValueError(
                f"balance uri: unknown option '{opt}' "
                "(expected 'len N', 'depth N', 'whole' or 'path-only')"
            )
    return BalanceParams(
        algo="uri", uri_whole=whole, uri_len=length, uri_depth=depth, uri_path_only=path_only
    )


def _parse_url_param(args: Sequence[str]) -> BalanceParams:
    if len(args) < 2 or not args[1]:
        raise ValueError("balance url_param: the name of a URL parameter is required")
    check_post = False
    used = 2
    if len(args) > 2:
        if args[2] != "check_post":
            raise ValueError(
                f"balance url_param: unknown option '{args[2]}' (only 'check_post' is known)"
            )
        check_post = True
        used = 3
        # a former <max_wait> value may follow; HAProxy ignores it, so does weir
        if len(args) > 3 and args[3].isdigit():
            used = 4
    _no_more("url_param", args, used)
    return BalanceParams(algo="url_param", url_param=args[1], check_post=check_post)


def _parse_hash(args: Sequence[str]) -> BalanceParams:
    if len(args) < 2 or not args[1]:
        raise ValueError("balance hash: a sample expression is required")
    _no_more("hash", args, 2)
    return BalanceParams(algo="hash", expr=args[1])


_PARSERS: dict[str, Callable[[Sequence[str]], BalanceParams]] = {
    "uri": _parse_uri,
    "url_param": _parse_url_param,
    "hash": _parse_hash,
}


def parse_balance(args: Sequence[str]) -> BalanceParams:
    """Parse the words after `balance` (no words: roundrobin, HAProxy's default).

    Raises ValueError with a message for the configuration diagnostics. Words HAProxy
    would silently ignore after a complete algorithm are refused here.
    """
    if not args:
        return BalanceParams()
    name = args[0]
    if name in _SIMPLE:
        _no_more(name, args, 1)
        return BalanceParams(algo=name)
    parser = _PARSERS.get(name)
    if parser is not None:
        return parser(args)
    m = _RANDOM.fullmatch(name)
    if m is not None:
        _no_more("random", args, 1)
        draws = 2 if not m.group(1) else int(m.group(1))
        if draws < 1:
            raise ValueError("balance random: the number of draws must be at least 1")
        return BalanceParams(algo="random", draws=draws)
    if name.startswith("random("):
        raise ValueError(f"balance: '{name}' is not 'random(<number of draws>)'")
    if name.startswith("hdr"):
        m = _HDR.fullmatch(name)
        if m is None:
            raise ValueError(f"balance: '{name}' is not 'hdr(<header name>)'")
        use_domain_only = False
        if len(args) > 1:
            if args[1] != "use_domain_only":
                raise ValueError(
                    f"balance hdr: unknown option '{args[1]}' (only 'use_domain_only' is known)"
                )
            use_domain_only = True
            _no_more("hdr", args, 2)
        return BalanceParams(algo="hdr", hdr_name=m.group(1), use_domain_only=use_domain_only)
    if name.startswith("rdp-cookie"):
        m = _RDP.fullmatch(name)
        if m is None or m.group(1) == "":
            raise ValueError(f"balance: '{name}' is not 'rdp-cookie' or 'rdp-cookie(<name>)'")
        _no_more("rdp-cookie", args, 1)
        return BalanceParams(algo="rdp-cookie", rdp_cookie=m.group(1) or "mstshash")
    raise ValueError(
        f"unknown balancing algorithm '{name}' (known: roundrobin, static-rr, leastconn, "
        "first, source, uri, url_param, hdr(<name>), rdp-cookie, random, hash)"
    )


def parse_hash_type(args: Sequence[str]) -> tuple[str, str, bool]:
    """Parse the words after `hash-type`: `map-based|consistent [<function> [avalanche]]`.

    Returns (hash_type, hash_function, avalanche). Without a function the default is
    sdbm, with avalanche for `consistent` (HAProxy's default mixing).
    """
    if not args:
        raise ValueError("hash-type: expects 'map-based' or 'consistent'")
    kind = args[0]
    if kind == "avalanche":
        raise ValueError(
            "hash-type: 'avalanche' alone is no longer accepted; "
            "write 'hash-type map-based sdbm avalanche'"
        )
    if kind not in ("map-based", "consistent"):
        raise ValueError(
            f"hash-type: unknown method '{kind}' (expected 'map-based' or 'consistent')"
        )
    if len(args) == 1:
        return kind, "sdbm", kind == "consistent"
    function = args[1]
    if function not in HASH_FUNCTION_NAMES:
        raise ValueError(
            f"hash-type: unknown hash function '{function}' "
            f"(expected one of {', '.join(HASH_FUNCTION_NAMES)})"
        )
    avalanche = False
    if len(args) > 2:
        if args[2] != "avalanche":
            raise ValueError(f"hash-type: unknown modifier '{args[2]}' (only 'avalanche' is known)")
        avalanche = True
    if len(args) > 3:
        raise ValueError(f"hash-type: unexpected argument '{args[3]}'")
    return kind, function, avalanche
