"""HTTP Basic authentication fetches against `userlist` sections (weir.auth.userlist)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from weir.auth.userlist import USERLISTS, authenticated, credentials
from weir.sample.core import BOOL, REQ, STR, fetch, simple_fetch
from weir.stream import Stream


@fetch("http_auth", BOOL, args=(1, 1), needs=REQ, doc="valid Basic credentials for a userlist")
def _http_auth(args: list[str]) -> Callable[[Stream], Any]:
    name = args[0]
    return lambda s: authenticated(name, s) is not None


def _groups(args: list[str]) -> Callable[[Stream], Any]:
    """For ACLs: the authenticated user's groups, which the patterns are matched against."""
    name = args[0]

    def get(s: Stream) -> list[bytes]:
        user = authenticated(name, s)
        if user is None:
            return []
        return [g.encode() for g in USERLISTS[name].groups(user)]

    return get


@fetch(
    "http_auth_group",
    STR,
    args=(1, 1),
    needs=REQ,
    many=_groups,
    doc="the authenticated user (ACLs match the user's groups)",
)
def _http_auth_group(args: list[str]) -> Callable[[Stream], Any]:
    name = args[0]
    return lambda s: authenticated(name, s)


@simple_fetch("http_auth_user", STR, needs=REQ)
def _http_auth_user(s: Stream) -> bytes | None:
    cred = credentials(s)
    return cred[0] if cred is not None else None


@simple_fetch("http_auth_pass", STR, needs=REQ)
def _http_auth_pass(s: Stream) -> bytes | None:
    cred = credentials(s)
    return cred[1] if cred is not None else None


@simple_fetch("http_auth_type", STR, needs=REQ)
def _http_auth_type(s: Stream) -> bytes | None:
    req = s.req
    value = req.header(b"authorization") if req is not None else None
    return value.partition(b" ")[0].lower() if value else None
