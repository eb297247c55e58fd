"""Dynamic persistence cookies on the runtime API: `enable|disable dynamic-cookie backend`
and `set dynamic-cookie-key backend`. Each recomputes the backend's server values at once
(weir.persist.dyncookie); a server's own `cookie` value never changes. Silent on success,
as HAProxy is."""

from __future__ import annotations

from weir.api.commands import Handler, Request, command
from weir.api.conf import Level
from weir.proxy.runtime import Backend


def _backend(req: Request, args: list[str]) -> Backend | str:
    name = args[3] if len(args) > 3 else ""
    if not name:
        return "A backend name is expected.\n"
    be = req.api.backend(name)
    return "No such backend.\n" if be is None else be


def _switch(on: bool) -> Handler:
    def handler(req: Request, args: list[str]) -> str:
        be = _backend(req, args)
        if isinstance(be, str):
            return be
        ck = be.cookie
        if ck is not None:
            ck.dynamic = on
            ck.refresh(be.servers)
        return ""

    return handler


command(
    "enable dynamic-cookie backend",
    "enable dynamic-cookie backend <bk>",
    "enable dynamic cookies on a specific backend",
    Level.ADMIN,
)(_switch(True))
command(
    "disable dynamic-cookie backend",
    "disable dynamic-cookie backend <bk>",
    "disable dynamic cookies on a specific backend",
    Level.ADMIN,
)(_switch(False))


@command(
    "set dynamic-cookie-key backend",
    "set dynamic-cookie-key backend <bk> <k>",
    "change a backend secret key for dynamic cookies",
    Level.ADMIN,
)
def _set_key(req: Request, args: list[str]) -> str:
    be = _backend(req, args)
    if isinstance(be, str):
        return be
    key = args[4] if len(args) > 4 else ""
    if not key:
        return "String value expected.\n"
    ck = be.cookie
    if ck is not None:
        ck.key = key
        ck.refresh(be.servers)
    return ""
