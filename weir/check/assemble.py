"""From a backend's configuration to the one ruleset its servers are checked with.

`ruleset_of(px)` compiles what the model kept of a backend's check lines: no option (a
connection is the check), `option tcp-check` with its `tcp-check` lines, a protocol
option, or `option httpchk` with its `http-check` lines. `problems(px)` lists what makes
those lines unusable or ignored, for `weir -c`. Pure: strings in, rules out.

The HTTP case follows HAProxy 2.6's assembly exactly, because the order of the lines
matters there: the request of `option httpchk` merges with the first `http-check send`
whichever comes first; a send must follow a connect (or start the rules), an expect a
send or an expect, a connect an expect; the option's request goes right after a first
explicit connect; and rules ending with a send get the implicit `expect status 200-399`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from weir.check.httpchk import (
    IMPLICIT_EXPECT,
    HttpRequest,
    option_request,
    parse_http_send,
    send_rule,
)
from weir.check.protocols import PROTOCOLS, default_ruleset
from weir.check.rules import (
    TCP_CHECK_ACTIONS,
    Connect,
    Expect,
    Line,
    Proto,
    Ruleset,
    make_ruleset,
    parse_comment,
    parse_connect,
    parse_expect,
    step_id,
)
from weir.config.diagnostics import Where
from weir.config.model import CheckRuleConf, Proxy


def own(px: Proxy, where: Where | None) -> bool:
    """Whether a line recorded at `where` belongs to section `px` itself rather than to
    its defaults (sections never span files, and defaults always come first)."""
    return where is not None and where.file == px.where.file and where.line >= px.where.line


def ruleset_of(px: Proxy) -> Ruleset:
    """The compiled check of backend `px`. The configuration must have passed
    `problems(px)` without errors (a ValueError otherwise)."""
    ck = px.checks
    kind = ck.option
    if kind is None:
        return default_ruleset()
    if kind == "tcp-check":
        lines = [_tcp_line(r.words) for r in ck.tcp_rules]
        return make_ruleset(Proto.TCP, lines)
    if kind == "httpchk":
        return _http_ruleset(px)
    return PROTOCOLS[kind](ck.option_args)


def _tcp_line(words: Sequence[str]) -> Line:
    return TCP_CHECK_ACTIONS[words[0]](words)


def problems(px: Proxy) -> tuple[list[tuple[str, Where | None]], list[tuple[str, Where | None]]]:
    """(errors, warnings) about the check lines of backend `px`, each with its line."""
    errors: list[tuple[str, Where | None]] = []
    warnings: list[tuple[str, Where | None]] = []
    ck = px.checks
    kind = ck.option
    own_http = [r for r in ck.http_rules if own(px, r.where)]
    own_tcp = [r for r in ck.tcp_rules if own(px, r.where)]
    if kind != "httpchk":
        if own_http:
            warnings.append(
                (
                    f"{px.cap} '{px.name}' uses http-check rules without 'option httpchk', "
                    "so the rules are ignored",
                    own_http[0].where,
                )
            )
        for flag, name in ((ck.disable_on_404, "disable-on-404"), (ck.send_state, "send-state")):
            if flag:
                warnings.append(
                    (
                        f"'http-check {name}' will be ignored for {px.cap} '{px.name}' "
                        "(requires 'option httpchk')",
                        px.where,
                    )
                )
    if kind != "tcp-check" and own_tcp:
        warnings.append(
            (
                f"{px.cap} '{px.name}' uses tcp-check rules without 'option tcp-check', "
                "so the rules are ignored",
                own_tcp[0].where,
            )
        )
    if kind == "httpchk":
        if own_http and not own(px, ck.option_where):
            errors.append(
                (
                    f"'option httpchk' is inherited here (from {ck.option_where}): repeat it "
                    "in this section before its 'http-check' rules (HAProxy would send no "
                    "request at all)",
                    own_http[0].where,
                )
            )
        else:
            try:
                _http_items(px)
            except _RuleError as e:
                errors.append((str(e), e.where))
    return errors, warnings


# -- option httpchk + http-check lines -----------------------------------------------------


class _RuleError(ValueError):
    def __init__(self, message: str, where: Where | None) -> None:
        super().__init__(message)
        self.where = where


@dataclass(slots=True)
class _Item:
    """One rule while the HTTP rules are assembled, as HAProxy's list holds them."""

    action: str  # connect | send | expect | comment
    index: int
    comment: str = ""
    request: HttpRequest | None = None  # sends
    rule: Connect | Expect | None = None  # connects and expects
    from_option: bool = False  # the request of `option httpchk`, not yet merged
    where: Where | None = field(default=None)


def _parse_http(words: Sequence[str], index: int, where: Where) -> _Item:
    action = words[0]
    try:
        if action == "send":
            request, comment = parse_http_send(words)
            return _Item("send", index, comment, request=request, where=where)
        if action == "connect":
            rule, comment = parse_connect(words, "http-check")
        elif action == "expect":
            rule, comment = parse_expect(words, http=True)
        else:
            _, comment = parse_comment(words)
            return _Item("comment", index, comment, where=where)
    except ValueError as e:
        raise _RuleError(f"'http-check {action}' : {e}", where) from None
    assert isinstance(rule, Connect | Expect)
    return _Item(action, index, comment, rule=rule, where=where)


def _rules_only(items: list[_Item]) -> list[_Item]:
    return [i for i in items if i.action != "comment"]


def _add_option(items: list[_Item], option: _Item) -> None:
    rules = _rules_only(items)
    first = rules[0] if rules else None
    if first is not None and first.action == "connect":
        first = rules[1] if len(rules) > 1 else None
    if first is None or first.action != "send":
        items.insert(0, option)
    elif first.from_option:
        items.remove(first)
        items.insert(0, option)
    else:
        assert first.request is not None
        assert option.request is not None
        first.request = first.request.merged(option.request)


def _add_rule(items: list[_Item], item: _Item) -> None:
    rules = _rules_only(items)
    last = rules[-1] if rules else None
    step = item.index + 1
    if item.action != "comment" and not (
        last is None or (last.action == "send" and last.from_option)
    ):
        if item.action == "send" and last.action != "connect":
            raise _RuleError(
                f"unable to add http-check send rule at step {step} (missing connect rule)",
                item.where,
            )
        if item.action == "expect" and last.action not in ("send", "expect"):
            raise _RuleError(
                f"unable to add http-check expect rule at step {step} (missing send rule)",
                item.where,
            )
        if item.action == "connect" and last.action != "expect":
            raise _RuleError(
                f"unable to add http-check connect rule at step {step} (missing expect rule)",
                item.where,
            )
    if item.action == "send":
        first = rules[0] if rules else None
        if first is not None and first.action == "send" and first.from_option:
            assert first.request is not None
            assert item.request is not None
            first.request = first.request.merged(item.request)
            first.from_option = False
            first.comment = item.comment
            items.remove(first)
            item = first
    items.append(item)


def _http_items(px: Proxy) -> list[_Item]:
    ck = px.checks
    request, _ = option_request(ck.option_args)
    option = _Item("send", 0, request=request, from_option=True, where=ck.option_where)
    lines: list[tuple[tuple[str, int], CheckRuleConf | None]] = [
        ((r.where.file, r.where.line), r) for r in ck.http_rules
    ]
    at = ck.option_where
    lines.append(((at.file, at.line) if at is not None else ("", -1), None))
    lines.sort(key=lambda entry: entry[0])  # stable: the option before rules of its line
    items: list[_Item] = []
    index = 0
    for _, conf in lines:
        if conf is None:
            _add_option(items, option)
            continue
        _add_rule(items, _parse_http(conf.words, index, conf.where))
        index += 1
    rules = _rules_only(items)
    if len(rules) > 1 and rules[0].from_option and rules[1].action == "connect":
        items.remove(rules[0])
        items.insert(items.index(rules[1]) + 1, rules[0])
        rules[0].index = rules[1].index + 1
    rules = _rules_only(items)
    if rules and rules[-1].action == "send":
        items.append(_Item("expect", rules[-1].index + 1, rule=IMPLICIT_EXPECT))
    return items


def _http_ruleset(px: Proxy) -> Ruleset:
    ck = px.checks
    try:
        items = _http_items(px)
    except _RuleError as e:
        raise ValueError(str(e)) from None
    lines: list[Line] = []
    indexes: list[int] = []
    for item in items:
        if item.action == "comment":
            lines.append((None, item.comment))
        elif item.action == "send":
            assert item.request is not None
            lines.append((send_rule(item.request, send_state=ck.send_state), item.comment))
        else:
            assert item.rule is not None
            lines.append((item.rule, item.comment))
        indexes.append(item.index)
    return make_ruleset(
        Proto.HTTP,
        lines,
        indexes=indexes,
        disable_404=ck.disable_on_404,
        send_state=ck.send_state,
    )


def connect_without_port(ruleset: Ruleset) -> int | None:
    """The step of the first connect rule that names no port, for a server that has none
    of its own; None when every connect names one (or the ruleset does not start with an
    explicit connect: then there is nothing to connect to)."""
    first = ruleset.rules[0]
    if not isinstance(first, Connect) or first.implicit:
        return 0
    for rule in ruleset.rules:
        if (
            isinstance(rule, Connect)
            and not rule.port
            and not (rule.address is not None and rule.address.port_low)
        ):
            return step_id(rule)
    return None


__all__ = ["connect_without_port", "own", "problems", "ruleset_of"]
