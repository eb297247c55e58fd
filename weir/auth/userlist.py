"""`userlist` sections and HTTP Basic authentication against them.

    userlist admins
        group ops
        user alice password $6$...  groups ops
        user bob insecure-password hunter2

The fetches `http_auth(L)` (valid credentials for userlist L) and `http_auth_group(L)`
(the user's groups, for ACLs such as `http_auth_group(L) ops`) read the Authorization
header. Checking a crypt hash costs thousands of hash rounds, so a successful check is
remembered (per userlist, bounded), as users of HAProxy's auth expect it to be cheap on
every request; a failed one is not, so a wrong password never poisons the cache.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from weir.auth.crypt import check_scheme, verify
from weir.config.model import Userlist
from weir.config.parser import Ctx
from weir.config.registry import Args, keyword
from weir.stream import Stream

_CACHE_MAX = 1024


class Users:
    """One userlist at run time."""

    __slots__ = ("conf", "known", "member_of")

    def __init__(self, conf: Userlist) -> None:
        self.conf = conf
        self.known: dict[tuple[bytes, bytes], bool] = {}  # successful checks
        self.member_of: dict[str, list[str]] = {}
        for group, users in conf.groups.items():
            for u in users:
                self.member_of.setdefault(u, []).append(group)

    def check(self, user: bytes, password: bytes) -> bool:
        key = (user, password)
        if key in self.known:
            return True
        stored = self.conf.users.get(user.decode("latin-1"))
        if stored is None:
            return False
        if self.conf.secure.get(user.decode("latin-1"), False):
            ok = verify(password, stored.encode())
        else:
            ok = hmac.compare_digest(password, stored.encode())
        if ok:
            if len(self.known) >= _CACHE_MAX:
                self.known.clear()
            self.known[key] = True
        return ok

    def groups(self, user: bytes) -> list[str]:
        return self.member_of.get(user.decode("latin-1"), [])


# Userlists of the running configuration, by name (set when the runtime is built).
USERLISTS: dict[str, Users] = {}


def install(userlists: dict[str, Userlist]) -> None:
    USERLISTS.clear()
    USERLISTS.update({name: Users(u) for name, u in userlists.items()})


def credentials(s: Stream) -> tuple[bytes, bytes] | None:
    """(user, password) from a Basic Authorization header, or None."""
    req = s.req
    if req is None:
        return None
    value = req.header(b"authorization")
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = raw.partition(b":")
    return (user, password) if colon else None


def authenticated(name: str, s: Stream) -> bytes | None:
    """The user name when the request carries valid credentials for userlist `name`."""
    users = USERLISTS.get(name)
    cred = credentials(s)
    if users is None or cred is None or not users.check(*cred):
        return None
    return cred[0]


# ---- keywords ---------------------------------------------------------------------------


def _ul(ctx: Ctx) -> Userlist:
    assert ctx.userlist is not None
    return ctx.userlist


@keyword(
    "user",
    "u",
    "<name> [password <hash>|insecure-password <password>] [groups <g>[,<g>]*]",
    "A user of this userlist, with a crypt(3) hash ($6$, $5$, $1$) or a clear password.",
)
def _user(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, None, "a user name"):
        return
    ul = _ul(ctx)
    name, rest = args[0], list(args[1:])
    if name in ul.users:
        ctx.error(f"user '{name}' is defined twice in userlist '{ul.name}'")
        return
    password, secure = "", False
    while rest:
        word = rest.pop(0)
        if not rest:
            ctx.error(f"'{word}' expects a value")
            return
        value = rest.pop(0)
        if word == "password":
            problem = check_scheme(value)
            if problem is not None:
                ctx.error(f"user '{name}': {problem}")
                return
            password, secure = value, True
        elif word == "insecure-password":
            password, secure = value, False
        elif word == "groups":
            for g in value.split(","):
                if g:
                    ul.groups.setdefault(g, [])
                    if name not in ul.groups[g]:
                        ul.groups[g].append(name)
        else:
            ctx.error(f"unexpected '{word}' (expects password, insecure-password or groups)")
            return
    ul.users[name] = password
    ul.secure[name] = secure


@keyword("group", "u", "<name> [users <u>[,<u>]*]", "A group of users of this userlist.")
def _group(ctx: Ctx, args: Args) -> None:
    if not ctx.expect(args, 1, 3, "a group name, optionally followed by 'users <list>'"):
        return
    ul = _ul(ctx)
    members = ul.groups.setdefault(args[0], [])
    if len(args) == 1:
        return
    if len(args) != 3 or args[1] != "users":
        ctx.error("expects 'users <u>[,<u>]*' after the group name")
        return
    for u in args[2].split(","):
        if u and u not in members:
            members.append(u)


def unknown_userlists(cfg: Any, words: list[str]) -> list[str]:
    """Userlist names used by `http_auth*(...)` in these words that are not defined."""
    out = []
    for w in words:
        for fn in ("http_auth_group(", "http_auth("):
            start = w.find(fn)
            if start >= 0:
                name = w[start + len(fn) :].partition(")")[0].strip()
                if name not in cfg.userlists:
                    out.append(name)
    return out
