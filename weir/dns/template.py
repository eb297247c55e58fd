"""`server-template PREFIX NUM|LOW-HIGH FQDN[:PORT] [options…]`: N servers sharing a name.

The servers are named PREFIX<n> for n in 1..NUM (or LOW..HIGH) and are exactly the
`server` lines one would write by hand. With `resolvers`, the addresses the name resolves
to fill them at run time, one address per server (servers sharing a name never share an
address unless `resolve-opts allow-dup-ip`), and the servers left without one stay in
maintenance. Without resolvers each gets the address the system's resolver gives at start.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from weir.config.registry import Args, keyword

if TYPE_CHECKING:
    from weir.config.parser import Ctx

_RANGE = re.compile(r"([0-9]+)(?:-([0-9]+))?\Z")
MAX_TEMPLATE = 1 << 20  # more servers than any backend sensibly has


def template_range(text: str) -> range | None:
    """`NUM` -> 1..NUM, `LOW-HIGH` -> LOW..HIGH; None when invalid (0, inverted)."""
    m = _RANGE.match(text)
    if m is None:
        return None
    if m.group(2) is None:
        low, high = 1, int(m.group(1))
    else:
        low, high = int(m.group(1)), int(m.group(2))
    if low < 1 or high < low or high - low >= MAX_TEMPLATE:
        return None
    return range(low, high + 1)


@keyword(
    "server-template",
    "bl",
    "<prefix> <num>|<low>-<high> <fqdn>[:<port>] [options…]",
    "Servers <prefix>1..<prefix>N sharing one name; with resolvers its addresses fill them.",
)
def _server_template(ctx: Ctx, args: Args) -> None:
    from weir.backend.keywords import add_server

    if not ctx.expect(args, 3, None, "<prefix> <num | range> <fqdn>[:<port>] [params*]"):
        return
    prefix, count, address = args[0], args[1], args[2]
    numbers = template_range(count)
    if numbers is None:
        ctx.diags.alert(f"Wrong server-template number or range arg '{count}'.", ctx.where)
        return
    before = len(ctx.diags.errors)
    for n in numbers:
        if add_server(ctx, f"{prefix}{n}", address, args[3:]) is None:
            return
        if len(ctx.diags.errors) > before:
            return  # the same mistake would repeat for every server
