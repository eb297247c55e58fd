"""Connection-level options: the PROXY protocol on listeners and to servers."""

from __future__ import annotations

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
