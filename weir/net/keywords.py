"""Connection-level options: the PROXY protocol on listeners and to servers; the
permissions and owner of a UNIX socket a `bind` line creates."""

from __future__ import annotations

import grp
import pwd

from weir.config.model import Bind, ServerConf
from weir.config.parser import Ctx
from weir.config.registry import BIND_OPTIONS, SERVER_OPTIONS, Args


@BIND_OPTIONS.option(
    "accept-proxy", 0, "", "Connections start with a PROXY protocol header (v1 or v2)."
)
def _accept_proxy(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    target.accept_proxy = True


@SERVER_OPTIONS.option("send-proxy", 0, "", "Send a PROXY protocol v1 header first.")
def _send_proxy(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, ServerConf)
    target.send_proxy = 1


@SERVER_OPTIONS.option("send-proxy-v2", 0, "", "Send a PROXY protocol v2 header first.")
def _send_proxy_v2(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, ServerConf)
    target.send_proxy = 2


@SERVER_OPTIONS.option(
    "no-send-proxy", 0, "", "Do not send a PROXY header (undoes a default-server's)."
)
def _no_send_proxy(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, ServerConf)
    target.send_proxy = 0


@BIND_OPTIONS.option("mode", 1, "<octal>", "A UNIX socket file's permissions (e.g. 660).")
def _mode(ctx: Ctx, target: object, args: Args) -> None:
    assert isinstance(target, Bind)
    try:
        target.unix_mode = int(args[0], 8)
    except ValueError:
        ctx.error(f"'mode' expects an octal number such as 660, got '{args[0]}'")


def _owner(name: str, field: str, lookup: str, doc: str) -> None:
    @BIND_OPTIONS.option(name, 1, f"<{lookup}>", doc)
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        assert isinstance(target, Bind)
        value = args[0]
        try:
            if lookup in ("uid", "gid"):
                number = int(value, 10)
            elif lookup == "user":
                number = pwd.getpwnam(value).pw_uid
            else:
                number = grp.getgrnam(value).gr_gid
        except ValueError:
            ctx.error(f"'{name}' expects a number, got '{value}'")
            return
        except KeyError:
            ctx.error(f"unknown {lookup} '{value}'")
            return
        setattr(target, field, number)


_owner("uid", "unix_uid", "uid", "The owner of a UNIX socket file, by number.")
_owner("user", "unix_uid", "user", "The owner of a UNIX socket file, by name.")
_owner("gid", "unix_gid", "gid", "The group of a UNIX socket file, by number.")
_owner("group", "unix_gid", "group", "The group of a UNIX socket file, by name.")
