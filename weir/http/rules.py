"""HTTP rules: `http-request`, `http-response`, `http-after-response` and the legacy
`redirect`, parsed into actions compiled once and run per message in HAProxy's order.

Theory of operation
-------------------
Each rule line becomes a `RuleDef` at parse time: its action already compiled into a
closure (so a bad argument is a `weir -c` error with file and line) and its condition as
written (ACLs are resolved when the runtime is built, as for `use_backend`). At build,
`compile_rules` pairs each action with its compiled condition: a tuple of (predicate or
None, action). An empty list is None, and the data path tests that one attribute.

An action gets a `Txn` and returns a verdict: CONTINUE (next rule), STOP (`allow`: this
list ends), REPLY (the transaction ends with `txn.reply` or the error page of
`txn.status`), TARPIT (the same, after `timeout tarpit`). Edits do not rewrite bytes one
by one: the first edit copies the head's header list and start line into the Txn, later
ones change those lists, and `finish` rebuilds the head once and re-parses it, so that
everything the parser derives (path, host, framing) stays consistent with what is
forwarded. A value containing CR, LF or NUL is never written: the transaction ends with
a 500, as HAProxy's `strict-mode on` (its default) does for a failed rewrite.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from weir.config.diagnostics import Where
from weir.config.model import CondDef
from weir.config.parser import Ctx, named_defaults_only
from weir.config.registry import Args, keyword
from weir.http import normalize
from weir.http.errors import reason
from weir.http.values import (
    Fetched,
    Part,
    RuleValueError,
    Value,
    compile_parts,
    compile_value,
    header_reads,
    is_clean,
    join_parts,
)
from weir.proto.h1 import (
    H1Error,
    Head,
    ResponseHead,
    drop_pattern,
    needle,
    parse_request_head,
    parse_response_head,
)
from weir.sample.core import REQ, RES
from weir.stream import Stream

# SILENT: the exchange ends without an answer (`reject`, `silent-drop`).
CONTINUE: Final = 0
STOP: Final = 1
REPLY: Final = 2
TARPIT: Final = 3
SILENT: Final = 4
_END: Final = b"\r\n\r\n"

REQUEST, RESPONSE, AFTER = "http-request", "http-response", "http-after-response"
_BAD_VALUE: Final = re.compile(rb"[\r\n\0]")


class Txn:
    """One message going through a rule list: the head, and the edits made so far."""

    __slots__ = ("close", "head", "headers", "line", "reply", "response", "status", "stream")

    stream: Stream
    head: Any
    response: bool
    headers: list[list[bytes]] | None  # [name, value] pairs once edited
    line: list[bytes] | None  # method, target, version | version, status, reason
    reply: bytes | None  # a whole response made by a rule
    status: int  # the error page to send when `reply` is None
    close: bool  # whether the connection ends after the reply

    def __init__(self, stream: Stream, head: Any, response: bool) -> None:
        self.reset(stream, head, response)

    def reset(self, stream: Stream, head: Any, response: bool) -> None:
        """This transaction made new for another message (a client connection keeps one
        for its requests' rules: nothing keeps a transaction after its pass)."""
        self.stream = stream
        self.head = head
        self.response = response
        self.headers = None
        self.line = None
        self.reply = None
        self.status = 0
        self.close = True

    def edit(self) -> list[list[bytes]]:
        """The header list, copied from the head on first use."""
        h = self.headers
        if h is None:
            h = self.headers = [[n, v] for n, v in self.head.headers]
            head = self.head
            if self.response:
                self.line = [head.version, b"%d" % head.status, head.reason]
            else:
                self.line = [head.method, head.target, head.version]
        return h

    def start_line(self) -> list[bytes]:
        self.edit()
        assert self.line is not None
        return self.line

    def commit(self) -> bool:
        """Apply the edits so far: the stream sees the new head. False when the result
        is not a valid head (the transaction then ends with a 500)."""
        new = self.finish()
        if new is None:
            return False
        self.head = new
        if self.response:
            self.stream.res = new
        else:
            self.stream.req = new
        self.headers = self.line = None
        return True

    def replace_raw(self, raw: bytes, derived: bool) -> bool:
        """Header lines added or removed directly in the head's bytes (set-header,
        add-header, del-header): the new head takes effect at once. When no header the
        parser interprets was touched (`derived` False), the new head is the old one with
        new bytes, without parsing them again; otherwise it is parsed, and refused (False)
        if it is invalid or would change the body's framing."""
        old = self.head
        new: Any
        if derived:
            self.headers, self.line = [[n, v] for n, v in _split(raw)], None
            self.line = _line_of(old, self.response)
            return self.commit()
        if self.response:
            new = ResponseHead(
                old.version, old.status, old.reason, raw, old._lstart, old.content_length,
                old.chunked, old.keep_alive,
            )  # fmt: skip
            self.stream.res = new
            self.head = new
            return True
        # A request head belongs to its transaction alone: its bytes change in place.
        req: Head = old
        req.set_raw(raw)
        return True

    def finish(self) -> Any:
        """The head with the edits applied (the original one when there were none); None
        when the result does not parse (the caller answers 500)."""
        h = self.headers
        if h is None:
            return self.head
        assert self.line is not None
        parts = [b" ".join(self.line)]
        parts.extend(n + b": " + v for n, v in h)
        raw = b"\r\n".join(parts) + b"\r\n\r\n"
        try:
            found = parse_response_head(raw) if self.response else parse_request_head(raw)
        except H1Error:
            return None
        if found is None:
            return None
        new, old = found[0], self.head
        if new.content_length != old.content_length or new.chunked != old.chunked:
            return None  # a rule may not change how the body is framed
        return new


def _split(raw: bytes) -> list[tuple[bytes, bytes]]:
    lines = raw[raw.find(b"\r\n") + 2 : -4].split(b"\r\n") if raw.count(b"\r\n") > 2 else []
    out = []
    for line in lines:
        name, _, value = line.partition(b":")
        out.append((name, value.strip(b" \t")))
    return out


def _line_of(head: Any, response: bool) -> list[bytes]:
    if response:
        return [head.version, b"%d" % head.status, head.reason]
    return [head.method, head.target, head.version]


# Headers from which the parser derives a head's fields (framing, keep-alive, host): a
# rule that touches one makes the head parsed again.
_DERIVED: Final = frozenset(
    (b"content-length", b"transfer-encoding", b"connection", b"host", b"expect", b"upgrade")
)


Action = Callable[[Txn], int]
Predicate = Callable[[Stream], bool]
Compiled = tuple[tuple[Predicate | None, Action], ...]


@dataclass(slots=True)
class RuleDef:
    where: Where
    action: str
    run: Action
    cond: CondDef | None

    def __deepcopy__(self, memo: dict[int, object]) -> RuleDef:
        # Never changed once parsed, so a section inheriting it shares it (and a compiled
        # closure, unlike a function, cannot be copied).
        return self


def run_rules(rules: Compiled, txn: Txn) -> int:
    """Evaluate a compiled list; the verdict of the first action that stops it. An edit
    is applied before the next rule runs, so that its condition sees the new head (a
    `deny if { path_beg /admin }` after `normalize-uri` matches the normalised path)."""
    stream = txn.stream
    for pred, action in rules:
        if pred is None or pred(stream):
            verdict = action(txn)
            if verdict:
                return verdict
            if txn.headers is not None and not txn.commit():
                txn.status = 500
                return REPLY
    return CONTINUE


def compile_rules(defs: Sequence[RuleDef], acls: dict[str, list[Predicate]]) -> Compiled | None:
    from weir.sample.acl import compile_cond, cond_acls

    if not defs:
        return None
    out: list[tuple[Predicate | None, Action]] = []
    for d in defs:
        c = d.cond
        pred = None if c is None else compile_cond(c.words, c.unless, cond_acls(c, acls))
        out.append((pred, d.run))
    return tuple(_fuse(out))


# ---- parsing -------------------------------------------------------------------------------


def _split_cond(ctx: Ctx, args: Args) -> tuple[list[str], CondDef | None] | None:
    """The action's words and its condition; None after reporting a malformed one."""
    words = list(args)
    for i, w in enumerate(words):
        if w in ("if", "unless"):
            if i + 1 >= len(words):
                ctx.error(f"missing condition after '{w}'")
                return None
            return words[:i], CondDef(ctx.where, w == "unless", words[i + 1 :])
    return words, None


ActionCompiler = Callable[[Ctx, list[str], str], Action | None]
_ACTIONS: Final[dict[str, tuple[tuple[str, ...], ActionCompiler, str, str]]] = {}
_LISTS: Final = {REQUEST: "http_request_rules", RESPONSE: "http_response_rules"}
_LISTS[AFTER] = "http_after_response_rules"


def action(
    name: str, phases: tuple[str, ...], usage: str, doc: str
) -> Callable[[ActionCompiler], ActionCompiler]:
    """Register an action for the given rule families; it becomes the keywords
    `<phase> <name>` (`http-request set-header` …)."""

    def register(fn: ActionCompiler) -> ActionCompiler:
        _ACTIONS[name] = (phases, fn, usage, doc)
        for phase in phases:
            keyword(f"{phase} {name}", "dfbl", f"{usage} [{{if | unless}} <condition>]", doc)(
                _handler(phase, name, fn)
            )
        return fn

    return register


def _handler(phase: str, name: str, fn: ActionCompiler) -> Callable[[Ctx, Args], None]:
    def handle(ctx: Ctx, args: Args) -> None:
        if not named_defaults_only(ctx, phase):
            return
        split = _split_cond(ctx, args)
        if split is None:
            return
        words, cond = split
        run = fn(ctx, words, phase)
        if run is not None:
            getattr(ctx.px, _LISTS[phase]).append(RuleDef(ctx.where, name, run, cond))

    return handle


def effect_action(
    name: str, phases: tuple[str, ...], usage: str, doc: str
) -> Callable[[Callable[[Ctx, list[str]], Callable[[Stream], None] | None]], Any]:
    """Register an action that only has an effect (tracking, capture): its compiler
    returns `effect(stream)`, run when the condition holds; evaluation goes on."""

    def register(fn: Callable[[Ctx, list[str]], Callable[[Stream], None] | None]) -> Any:
        def compile_(ctx: Ctx, words: list[str], phase: str) -> Action | None:
            effect = fn(ctx, words)
            if effect is None:
                return None

            def run(txn: Txn) -> int:
                effect(txn.stream)
                return CONTINUE

            return run

        action(name, phases, usage, doc)(compile_)
        return fn

    return register


def _value(ctx: Ctx, text: str, phase: str) -> Value | None:
    try:
        return compile_value(text, RES if phase != REQUEST else REQ)
    except RuleValueError as e:
        ctx.error(str(e))
        return None


def _fail_500(txn: Txn) -> int:
    txn.status = 500
    return REPLY


def _status_arg(ctx: Ctx, text: str, allowed: Callable[[int], bool]) -> int | None:
    try:
        code = int(text, 10)
    except ValueError:
        code = 0
    if not allowed(code):
        ctx.error(f"invalid status code '{text}'")
        return None
    return code


# ---- terminal actions ------------------------------------------------------------------------


@action("allow", (REQUEST, RESPONSE), "", "Stop evaluating this rule list; let it through.")
def _allow(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if words:
        ctx.error(f"unexpected '{words[0]}'")
        return None
    return lambda txn: STOP


def _deny_like(ctx: Ctx, words: list[str], phase: str, default: int, verdict: int) -> Action | None:
    status = default
    hdrs: list[tuple[bytes, Value]] = []
    ctype: bytes | None = None
    body: bytes | None = None
    i = 0
    while i < len(words):
        w = words[i]
        if w == "deny_status" and i + 1 < len(words):
            code = _status_arg(ctx, words[i + 1], lambda c: 200 <= c <= 599)
            if code is None:
                return None
            status = code
            i += 2
        elif w == "content-type" and i + 1 < len(words):
            ctype = words[i + 1].encode()
            i += 2
        elif w == "string" and i + 1 < len(words):
            body = words[i + 1].encode()
            i += 2
        elif w == "file" and i + 1 < len(words):
            body = _read_file(ctx, words[i + 1])
            if body is None:
                return None
            i += 2
        elif w == "hdr" and i + 2 < len(words):
            v = _value(ctx, words[i + 2], phase)
            if v is None:
                return None
            hdrs.append((words[i + 1].encode(), v))
            i += 3
        else:
            ctx.error(f"unexpected '{w}' (expects deny_status, content-type, string, file, hdr)")
            return None
    if body is None and not hdrs:

        def deny(txn: Txn) -> int:
            txn.status = status
            return verdict

        return deny
    content = body if body is not None else b""
    return _reply_action(status, ctype, lambda s: content, hdrs, verdict, close=True)


@action(
    "deny",
    (REQUEST, RESPONSE),
    "[deny_status <code>] [content-type <type> string <text>|file <f>] [hdr <n> <v>]*",
    "Refuse the message with an error (403 for requests, 502 for responses).",
)
def _deny(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    return _deny_like(ctx, words, phase, 403 if phase == REQUEST else 502, REPLY)


@action(
    "tarpit",
    (REQUEST,),
    "[deny_status <code>]",
    "Hold the request for 'timeout tarpit', then refuse it (500 by default).",
)
def _tarpit(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    return _deny_like(ctx, words, phase, 500, TARPIT)


@action(
    "reject",
    (REQUEST,),
    "",
    "Close the connection at once, without an answer (as 'tcp-request content reject').",
)
def _reject(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if words:
        ctx.error(f"unexpected '{words[0]}'")
        return None
    return lambda txn: SILENT


@action(
    "silent-drop",
    (REQUEST, RESPONSE),
    "",
    "End the connection without the client being told: no answer, no FIN, no reset (see "
    "docs/rules.md); an abusive client is left waiting.",
)
def _silent_drop(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if words:
        ctx.error(f"unexpected '{words[0]}'")
        return None

    def silent_drop(txn: Txn) -> int:
        txn.stream.drop = True
        return SILENT

    return silent_drop


@action(
    "auth",
    (REQUEST,),
    "[realm <realm>]",
    "Ask for credentials: 401 with a Basic challenge.",
)
def _auth(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    realm = ctx.px.name
    if words:
        if len(words) != 2 or words[0] != "realm":
            ctx.error("expects 'realm <realm>' or nothing")
            return None
        realm = words[1]
    body = b"<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"  # noqa: E501
    page = (
        b"HTTP/1.1 401 Unauthorized\r\ncontent-length: %d\r\ncache-control: no-cache\r\n"
        b'content-type: text/html\r\nwww-authenticate: Basic realm="%s"\r\n\r\n'
        % (len(body), realm.replace('"', "").encode())
    ) + body

    def auth(txn: Txn) -> int:
        txn.reply = page
        txn.status = 401
        txn.close = False
        return REPLY

    return auth


def _reply_action(
    status: int,
    ctype: bytes | None,
    body: Value,
    hdrs: list[tuple[bytes, Value]],
    verdict: int,
    *,
    close: bool,
) -> Action:
    line = b"HTTP/1.1 %d %s\r\n" % (status, reason(status).encode())
    fixed = b"content-type: " + ctype + b"\r\n" if ctype else b""

    def reply(txn: Txn) -> int:
        s = txn.stream
        data = body(s)
        extra = b""
        for name, v in hdrs:
            value = v(s)
            if _BAD_VALUE.search(value):
                return _fail_500(txn)
            extra += name + b": " + value + b"\r\n"
        txn.reply = b"%scontent-length: %d\r\n%s%s\r\n%s" % (line, len(data), fixed, extra, data)
        txn.status = status
        txn.close = close
        return verdict

    return reply


def _const(value: bytes) -> Value:
    return lambda s: value


def _read_file(ctx: Ctx, name: str) -> bytes | None:
    try:
        return Path(name).read_bytes()
    except OSError as e:
        ctx.error(f"cannot read '{name}': {e.strerror}")
        return None


@action(
    "return",
    (REQUEST, RESPONSE),
    "[status <code>] [content-type <type>] [string <s>|lf-string <fmt>|file <f>] [hdr <n> <v>]*",
    "Answer with this response instead of a server's.",
)
def _return(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    status = 200
    ctype: bytes | None = None
    body: Value = lambda s: b""  # noqa: E731
    hdrs: list[tuple[bytes, Value]] = []
    i = 0
    while i < len(words):
        w = words[i]
        arg = words[i + 1] if i + 1 < len(words) else None
        if arg is None:
            ctx.error(f"'{w}' expects a value")
            return None
        if w == "status":
            code = _status_arg(ctx, arg, lambda c: 200 <= c <= 599)
            if code is None:
                return None
            status = code
        elif w == "content-type":
            ctype = arg.encode()
        elif w == "string":
            body = _const(arg.encode())
        elif w == "lf-string":
            v = _value(ctx, arg, phase)
            if v is None:
                return None
            body = v
        elif w == "file":
            data = _read_file(ctx, arg)
            if data is None:
                return None
            body = _const(data)
        elif w == "hdr" and i + 2 < len(words):
            v = _value(ctx, words[i + 2], phase)
            if v is None:
                return None
            hdrs.append((arg.encode(), v))
            i += 1
        else:
            ctx.error(
                f"unexpected '{w}' (expects status, content-type, string, lf-string, file, hdr)"
            )
            return None
        i += 2
    return _reply_action(status, ctype, body, hdrs, REPLY, close=False)


# ---- redirect -----------------------------------------------------------------------------

_CODES: Final = {301, 302, 303, 307, 308}


def parse_redirect(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    """`location|prefix|scheme <value> [code N] [drop-query] [append-slash]
    [set-cookie NAME[=VALUE]] [clear-cookie NAME]`."""
    if len(words) < 2 or words[0] not in ("location", "prefix", "scheme"):
        ctx.error("expects 'location', 'prefix' or 'scheme' followed by a value")
        return None
    kind, target = words[0], _value(ctx, words[1], phase)
    if target is None:
        return None
    code, drop_query, append_slash = 302, False, False
    cookie: bytes | None = None
    i = 2
    while i < len(words):
        w = words[i]
        if w == "code" and i + 1 < len(words):
            c = _status_arg(ctx, words[i + 1], lambda c: c in _CODES)
            if c is None:
                return None
            code = c
            i += 2
        elif w == "drop-query":
            drop_query = True
            i += 1
        elif w == "append-slash":
            append_slash = True
            i += 1
        elif w == "set-cookie" and i + 1 < len(words):
            name, eq, val = words[i + 1].partition("=")
            cookie = f"{name}={val}; path=/".encode() if eq else f"{name}=; path=/".encode()
            i += 2
        elif w == "clear-cookie" and i + 1 < len(words):
            name = words[i + 1].partition("=")[0]
            cookie = f"{name}=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/".encode()
            i += 2
        elif w in ("ignore-empty", "keep-query"):
            ctx.error(f"'{w}' is HAProxy's (2.8 and later), not in 2.6")
            return None
        else:
            ctx.error(f"unexpected '{w}' in a redirect")
            return None
    head = b"HTTP/1.1 %d %s\r\n" % (code, reason_3xx(code))
    tail = b"content-length: 0\r\n"
    if cookie is not None:
        tail += b"set-cookie: " + cookie + b"\r\n"
    tail += b"\r\n"

    def uri_of(s: Stream) -> bytes:
        req = s.req
        if req is None:
            return b"/"
        target_: bytes = req.target
        if target_[:1] != b"/":  # absolute-form: keep the path and query only
            path: bytes = req.path
            q = target_.find(b"?")
            target_ = path + (target_[q:] if q >= 0 else b"")
        if drop_query:
            target_ = target_.partition(b"?")[0]
            if append_slash and not target_.endswith(b"/"):
                target_ += b"/"
        return target_

    if kind == "location":
        where_to = target
    elif kind == "prefix":

        def where_to(s: Stream) -> bytes:
            pfx = target(s)
            uri = uri_of(s)
            return (
                uri if pfx == b"/" else pfx.rstrip(b"/") + uri if pfx.endswith(b"/") else pfx + uri
            )

    else:

        def where_to(s: Stream) -> bytes:
            req = s.req
            host = req.host if req is not None and req.host is not None else b""
            return target(s) + b"://" + host + uri_of(s)

    def redirect(txn: Txn) -> int:
        location = where_to(txn.stream)
        if _BAD_VALUE.search(location):
            return _fail_500(txn)
        txn.reply = head + b"location: " + location + b"\r\n" + tail
        txn.status = code
        txn.close = False
        return REPLY

    return redirect


def reason_3xx(code: int) -> bytes:
    return {
        301: b"Moved Permanently",
        302: b"Found",
        303: b"See Other",
        307: b"Temporary Redirect",
        308: b"Permanent Redirect",
    }[code]


action(
    "redirect",
    (REQUEST, RESPONSE),
    "location|prefix|scheme <value> [code <code>] [options]",
    "Answer with a redirection.",
)(parse_redirect)


@keyword(
    "redirect",
    "fbl",
    "location|prefix|scheme <value> [code <code>] [options] [{if | unless} <condition>]",
    "Redirect (evaluated after the http-request rules of the same proxy).",
)
def _legacy_redirect(ctx: Ctx, args: Args) -> None:
    split = _split_cond(ctx, args)
    if split is None:
        return
    words, cond = split
    run = parse_redirect(ctx, words, REQUEST)
    if run is not None:
        ctx.px.redirect_rules.append(RuleDef(ctx.where, "redirect", run, cond))


# ---- header edits --------------------------------------------------------------------------


def _name_value(ctx: Ctx, words: list[str], phase: str) -> tuple[bytes, list[Part], bool] | None:
    """The header name, its value's pieces (see compile_parts), and whether the value must
    be checked for CR, LF and NUL at run time."""
    if len(words) != 2:
        ctx.error("expects a header name and a value")
        return None
    try:
        parts = compile_parts(words[1], RES if phase != REQUEST else REQ)
    except RuleValueError as e:
        ctx.error(str(e))
        return None
    return words[0].encode(), parts, not is_clean(words[1])


_ALL: Final = (REQUEST, RESPONSE, AFTER)


class HeaderEdit:
    """`set-header` (`replace`) or `add-header`: a header line appended to the head, after
    the lines of that name are removed for set-header. `reads` is what the value reads of
    the head's header lines (None: it may read any), so that `compile_rules` can apply a
    run of edits as one rewrite of the head."""

    def __init__(
        self,
        name: bytes,
        parts: list[Part],
        check: bool,
        replace: bool,
        reads: frozenset[bytes] | None,
    ) -> None:
        self.low = name.lower()
        self.prefix = name + b": "
        self.parts = parts  # the value's pieces, for HeaderEdits
        self.value = join_parts(parts)
        self.check = check  # whether the value may hold CR, LF or NUL
        self.replace = replace
        self.reads = reads
        self.drop = drop_pattern(frozenset((self.low,)))
        self.needle = needle(self.low)  # what finds a line of this header in a lowered head
        self.derived = self.low in _DERIVED
        # Constant text that cannot go in a header (every request gets a 500): kept out of
        # runs, which check only what they compute.
        self.bad_text = any(isinstance(p, bytes) and _BAD_VALUE.search(p) for p in parts)

    def __call__(self, txn: Txn) -> int:
        v = self.value(txn.stream)  # evaluated before the old value goes (`%[hdr(x)]`)
        if self.check and _BAD_VALUE.search(v):
            return _fail_500(txn)
        if txn.headers is not None and not txn.commit():
            return _fail_500(txn)
        head: Head = txn.head
        raw = head.raw
        if self.replace and head.has_header(self.low):
            raw = self.drop.sub(b"", raw)
        raw = b"".join((raw[:-2], self.prefix, v, _END))
        return CONTINUE if txn.replace_raw(raw, self.derived) else _fail_500(txn)


class HeaderEdits:
    """Consecutive unconditional header edits of distinct, non-framing headers, none of
    whose values reads a header an earlier one writes: evaluated first, then applied in
    one rewrite of the head, with the same result as one after the other."""

    def __init__(self, edits: list[HeaderEdit]) -> None:
        self.edits = edits
        self.replacing = [e for e in edits if e.replace]  # (set-header)
        # What every line of those starts with ("\r\nx-" for X-Forwarded-Proto and
        # X-Client), when that is more than its first letter: one search rules most heads
        # out before a search per header.
        names = [e.low.decode("latin-1") for e in self.replacing]
        common = _common_prefix(names) if names else ""
        self.hint = "\r\n" + common if len(common) >= 2 else None
        # The lines to add as steps: constant bytes (names, constant values, line ends,
        # merged across edits), then a piece to compute, checked if its edit says so. A
        # constant piece is clean (see _fuse).
        steps: list[tuple[bytes, Fetched | Value | None, bool]] = []
        text = b""
        for e in edits:
            text += e.prefix
            for p in e.parts:
                if isinstance(p, bytes):
                    text += p
                else:
                    steps.append((text, p, e.check))
                    text = b""
            text += b"\r\n"
        steps.append((text + b"\r\n", None, False))
        self.steps = tuple(steps)

    def __call__(self, txn: Txn) -> int:
        s = txn.stream
        parts: list[bytes] = [b""]  # the head's bytes go first, once the values are known
        for text, piece, check in self.steps:
            parts.append(text)
            if piece is not None:
                # (a sample's getter called here, not through the piece: one call less)
                v = piece.text(piece.get(s)) if isinstance(piece, Fetched) else piece(s)
                if check and _BAD_VALUE.search(v):
                    return _fail_500(txn)
                parts.append(v)
        if txn.headers is not None and not txn.commit():
            return _fail_500(txn)
        head: Head = txn.head
        raw = head.raw
        hint = self.hint
        if self.replacing and (hint is None or head.lowered().find(hint) >= 0):
            low = head.lowered()
            for e in self.replacing:
                # (names are distinct: what one removes leaves the others' lines in place)
                if low.find(e.needle) >= 0:
                    raw = e.drop.sub(b"", raw)
        parts[0] = raw[:-2]
        return CONTINUE if txn.replace_raw(b"".join(parts), False) else _fail_500(txn)


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)  # (what the first and last share, all share)
    k = 0
    while k < len(first) and first[k] == last[k]:
        k += 1
    return first[:k]


def _fuse(rules: list[tuple[Predicate | None, Action]]) -> list[tuple[Predicate | None, Action]]:
    """Runs of unconditional header edits that may be applied together, as HeaderEdits."""
    out: list[tuple[Predicate | None, Action]] = []
    run: list[HeaderEdit] = []

    def flush() -> None:
        if len(run) > 1:
            out.append((None, HeaderEdits(list(run))))
        elif run:
            out.append((None, run[0]))
        run.clear()

    for pred, act in rules:
        if pred is not None or not isinstance(act, HeaderEdit) or act.derived or act.bad_text:
            flush()
            out.append((pred, act))
            continue
        written = {e.low for e in run}
        if act.low in written or act.reads is None or not act.reads.isdisjoint(written):
            flush()
        run.append(act)
    flush()
    return out


def _header_edit(ctx: Ctx, words: list[str], phase: str, replace: bool) -> Action | None:
    nv = _name_value(ctx, words, phase)
    if nv is None:
        return None
    name, parts, check = nv
    return HeaderEdit(name, parts, check, replace, header_reads(words[1]))


@action("set-header", _ALL, "<name> <fmt>", "Replace every occurrence of a header.")
def _set_header(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    return _header_edit(ctx, words, phase, True)


@action("add-header", _ALL, "<name> <fmt>", "Add a header line.")
def _add_header(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    return _header_edit(ctx, words, phase, False)


@action(
    "del-header",
    _ALL,
    "<name> [-m str|beg|end|sub|reg]",
    "Remove every header line with this name (or matching it).",
)
def _del_header(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if len(words) not in (1, 3) or (len(words) == 3 and words[1] != "-m"):
        ctx.error("expects a header name, optionally followed by '-m <method>'")
        return None
    name = words[0].encode().lower()
    method = words[2] if len(words) == 3 else "str"
    match: Callable[[bytes], bool]
    if method == "str":
        match = lambda n: n == name  # noqa: E731
    elif method == "beg":
        match = lambda n: n.startswith(name)  # noqa: E731
    elif method == "end":
        match = lambda n: n.endswith(name)  # noqa: E731
    elif method == "sub":
        match = lambda n: name in n  # noqa: E731
    elif method == "reg":
        try:
            rx = re.compile(words[0].encode(), re.IGNORECASE)
        except re.error as e:
            ctx.error(f"invalid regular expression: {e}")
            return None
        match = lambda n: rx.search(n) is not None  # noqa: E731
    else:
        ctx.error(f"'-m {method}' is not a matching method for del-header")
        return None

    if method == "str":
        drop = drop_pattern(frozenset((name,)))
        derived = name in _DERIVED

        def del_exact(txn: Txn) -> int:
            if txn.headers is not None and not txn.commit():
                return _fail_500(txn)
            head: Head = txn.head
            if not head.has_header(name):
                return CONTINUE
            return CONTINUE if txn.replace_raw(drop.sub(b"", head.raw), derived) else _fail_500(txn)

        return del_exact

    def del_header(txn: Txn) -> int:
        head = txn.head
        if txn.headers is None and not any(match(n.lower()) for n, _ in head.headers):
            return CONTINUE
        h = txn.edit()
        h[:] = [p for p in h if not match(p[0].lower())]
        return CONTINUE

    return del_header


def _regex_and_format(ctx: Ctx, words: list[str], phase: str, n: int) -> tuple[Any, ...] | None:
    if len(words) != n:
        ctx.error(f"expects {n} arguments")
        return None
    try:
        rx = re.compile(words[n - 2].encode())
    except re.error as e:
        ctx.error(f"invalid regular expression '{words[n - 2]}': {e}")
        return None
    fmt = _value(ctx, words[n - 1], phase)
    if fmt is None:
        return None
    return (*words[: n - 2], rx, fmt)


def _expand(rx: re.Pattern[bytes], m: re.Match[bytes], template: bytes) -> bytes:
    """HAProxy's replacement syntax: `\\N` for group N."""
    return re.sub(rb"\\([0-9])", lambda g: m.group(int(g.group(1))) or b"", template)


def _replace_full(rx: re.Pattern[bytes], value: bytes, template: bytes) -> bytes | None:
    m = rx.fullmatch(value)
    return None if m is None else _expand(rx, m, template)


@action(
    "replace-header",
    _ALL,
    "<name> <regex> <replace-fmt>",
    "Rewrite the values of a header that match the regex (whole value).",
)
def _replace_header(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    return _replace_values(ctx, words, phase, split=False)


@action(
    "replace-value",
    _ALL,
    "<name> <regex> <replace-fmt>",
    "Rewrite each comma-separated value of a header that matches the regex.",
)
def _replace_value(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    return _replace_values(ctx, words, phase, split=True)


def _replace_values(ctx: Ctx, words: list[str], phase: str, *, split: bool) -> Action | None:
    parsed = _regex_and_format(ctx, words, phase, 3)
    if parsed is None:
        return None
    name, rx, fmt = parsed
    low = name.encode().lower()

    def replace(txn: Txn) -> int:
        head = txn.head
        if txn.headers is None and not head.header_values(low):
            return CONTINUE
        template = fmt(txn.stream)
        for pair in txn.edit():
            if pair[0].lower() != low:
                continue
            items = [p.strip(b" \t") for p in pair[1].split(b",")] if split else [pair[1]]
            out = []
            for item in items:
                new = _replace_full(rx, item, template)
                out.append(item if new is None else new)
            value = b", ".join(out) if split else out[0]
            if _BAD_VALUE.search(value):
                return _fail_500(txn)
            pair[1] = value
        return CONTINUE

    return replace


# ---- start-line edits ----------------------------------------------------------------------


def _set_part(part: str) -> ActionCompiler:
    def compile_(ctx: Ctx, words: list[str], phase: str) -> Action | None:
        if len(words) != 1:
            ctx.error("expects one value")
            return None
        fmt = _value(ctx, words[0], phase)
        if fmt is None:
            return None

        def set_part(txn: Txn) -> int:
            v = fmt(txn.stream)
            if _BAD_VALUE.search(v) or b" " in v:
                return _fail_500(txn)
            line = txn.start_line()
            target = line[1]
            path, q, query = target.partition(b"?")
            if part == "method":
                if not v:
                    return _fail_500(txn)
                line[0] = v
            elif part == "uri":
                line[1] = v
            elif part == "path":
                line[1] = v + (q + query)
            elif part == "pathq":
                line[1] = v
            elif part == "query":
                line[1] = path + (b"?" + v if v else b"")
            if not line[1]:
                return _fail_500(txn)
            return CONTINUE

        return set_part

    return compile_


for _part, _doc in (
    ("method", "Replace the request method."),
    ("uri", "Replace the whole request target."),
    ("path", "Replace the path, keeping the query string."),
    ("pathq", "Replace the path and the query string."),
    ("query", "Replace the query string (empty: remove it)."),
):
    action(f"set-{_part}", (REQUEST,), "<fmt>", _doc)(_set_part(_part))


def _replace_part(part: str) -> ActionCompiler:
    def compile_(ctx: Ctx, words: list[str], phase: str) -> Action | None:
        parsed = _regex_and_format(ctx, words, phase, 2)
        if parsed is None:
            return None
        rx, fmt = parsed

        def replace(txn: Txn) -> int:
            req = txn.head if txn.line is None else None
            target = req.target if req is not None else txn.start_line()[1]
            path, q, query = target.partition(b"?")
            subject = path if part == "path" else target
            m = rx.fullmatch(subject)
            if m is None:
                return CONTINUE
            new = _expand(rx, m, fmt(txn.stream))
            if _BAD_VALUE.search(new) or b" " in new or not new:
                return _fail_500(txn)
            txn.start_line()[1] = new + (q + query) if part == "path" else new
            return CONTINUE

        return replace

    return compile_


action(
    "replace-path",
    (REQUEST,),
    "<regex> <replace-fmt>",
    "Rewrite the path (query string kept) when it matches the regex.",
)(_replace_part("path"))
action(
    "replace-pathq",
    (REQUEST,),
    "<regex> <replace-fmt>",
    "Rewrite the path and query string when they match the regex.",
)(_replace_part("pathq"))
action(
    "replace-uri",
    (REQUEST,),
    "<regex> <replace-fmt>",
    "Rewrite the whole request target when it matches the regex.",
)(_replace_part("uri"))


def _var_name(ctx: Ctx, words: list[str]) -> str | None:
    from weir.sample.core import SampleError
    from weir.sample.vars import check_var_name

    if not words or not (words[0].startswith("(") and words[0].endswith(")")):
        ctx.error("expects the variable name in parentheses: set-var(txn.name)")
        return None
    try:
        return check_var_name(words[0][1:-1].strip())
    except SampleError as e:
        ctx.error(str(e))
        return None


@action("set-var", _ALL, "(<name>) <expr>", "Store a sample expression's value in a variable.")
def _set_var(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    from weir.sample.core import SampleError, compile_expr
    from weir.sample.vars import set_var

    name = _var_name(ctx, words)
    if name is None:
        return None
    if len(words) != 2:
        ctx.error("expects one sample expression after the variable name")
        return None
    try:
        get = compile_expr(words[1], RES if phase != REQUEST else REQ).get
    except SampleError as e:
        ctx.error(str(e))
        return None

    def set_(txn: Txn) -> int:
        value = get(txn.stream)
        if value is not None:  # an absent sample leaves the variable as it was
            set_var(txn.stream, name, value)
        return CONTINUE

    return set_


@action("unset-var", _ALL, "(<name>)", "Forget a variable.")
def _unset_var(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    from weir.sample.vars import unset_var

    name = _var_name(ctx, words)
    if name is None:
        return None
    if len(words) != 1:
        ctx.error("takes only the variable name")
        return None

    def unset(txn: Txn) -> int:
        unset_var(txn.stream, name)
        return CONTINUE

    return unset


def _track(index: int) -> ActionCompiler:
    def compile_(ctx: Ctx, words: list[str], phase: str) -> Action | None:
        from weir.persist.stick import compile_track

        effect = compile_track(ctx, index, words, REQ if phase == REQUEST else RES)
        if effect is None:
            return None

        def track(txn: Txn) -> int:
            effect(txn.stream)
            return CONTINUE

        return track

    return compile_


for _i in range(3):
    action(
        f"track-sc{_i}",
        (REQUEST, RESPONSE),
        "<expr> [table <name>]",
        f"Track the key in a stick table with counter {_i} (rates, counts, conn_cur).",
    )(_track(_i))


def _capture(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    """`capture <expr> len <n>` (a new slot, requests only) or `capture <expr> id <n>` (a
    `declare capture` slot): the sample's text, cut to the slot's length, is logged with
    the header captures (%hr / %hs)."""
    from weir.sample.core import STR, SampleError, compile_expr

    request = phase == REQUEST
    if len(words) != 3 or words[1] not in ("len", "id") or not words[2].isdigit():
        ctx.error("expects '<sample> len <length>' or '<sample> id <slot>'")
        return None
    slots = ctx.px.capture_request_headers if request else ctx.px.capture_response_headers
    n = int(words[2])
    if words[1] == "len":
        if not request:
            ctx.error("'http-response capture' needs a slot made by 'declare capture' ('id')")
            return None
        slots.append(("", n))
        ctx.px.capture_where = ctx.px.capture_where or ctx.where
        index, limit = len(slots) - 1, n
    else:
        if n >= len(slots) or slots[n][0]:
            ctx.error(f"no 'declare capture {'request' if request else 'response'}' slot {n}")
            return None
        index, limit = n, slots[n][1]
    try:
        get = compile_expr(words[0], REQ if request else RES, want=STR).get
    except SampleError as e:
        ctx.error(str(e))
        return None

    def capture(txn: Txn) -> int:
        s = txn.stream
        value = get(s)
        caps = s.req_cap if request else s.res_cap
        if caps is None:
            caps = [None] * len(slots)
            if request:
                s.req_cap = caps
            else:
                s.res_cap = caps
        if value is not None and index < len(caps):
            caps[index] = value[:limit].decode("ascii", "surrogateescape")
        return CONTINUE

    return capture


action(
    "capture",
    (REQUEST, RESPONSE),
    "<sample> len <length> | <sample> id <slot>",
    "Log a sample's value with the header captures (%hr, %hs).",
)(_capture)


_LOG_LEVELS: Final = {
    "silent": -1, "emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5,
    "info": 6, "debug": 7,
}  # fmt: skip


@action(
    "set-log-level",
    _ALL,
    "<level>",
    "Log this transaction at another level (`silent`: not at all).",
)
def _set_log_level(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if len(words) != 1 or words[0] not in _LOG_LEVELS:
        ctx.error(f"expects one of {', '.join(_LOG_LEVELS)}")
        return None
    level = _LOG_LEVELS[words[0]]

    def set_level(txn: Txn) -> int:
        txn.stream.log_level = level
        return CONTINUE

    return set_level


@action(
    "set-timeout",
    (REQUEST,),
    "server|tunnel <time>|<expr>",
    "This request's own server or tunnel timeout (an expression gives milliseconds).",
)
def _set_timeout(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    from weir.config.units import parse_time
    from weir.sample.core import INT, REQ, SampleError, compile_expr

    if len(words) != 2 or words[0] not in ("server", "tunnel"):
        ctx.error("expects 'server' or 'tunnel' and a time or a sample expression")
        return None
    if ctx.px.cap.value == "frontend":
        ctx.error("applies to a backend's timeouts: not in a frontend")
        return None
    kind = words[0]
    try:
        fixed: float | None = parse_time(words[1]) / 1000
    except ValueError:
        fixed = None
    if fixed is not None:
        value = fixed

        def set_fixed(txn: Txn) -> int:
            _store_timeout(txn.stream, kind, value)
            return CONTINUE

        return set_fixed
    try:
        get = compile_expr(words[1], REQ, want=INT).get
    except SampleError as e:
        ctx.error(str(e))
        return None

    def set_sampled(txn: Txn) -> int:
        ms = get(txn.stream)
        if isinstance(ms, int) and ms > 0:
            _store_timeout(txn.stream, kind, ms / 1000)
        return CONTINUE

    return set_sampled


def _store_timeout(stream: Stream, kind: str, seconds: float) -> None:
    if seconds <= 0:
        return  # HAProxy ignores a null timeout here
    if stream.timeouts is None:
        stream.timeouts = {}
    stream.timeouts[kind] = seconds


@action(
    "set-src",
    (REQUEST,),
    "<expr>",
    "Take the client's address from a sample (e.g. a header set by a trusted proxy).",
)
def _set_src(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    from weir.sample.core import ADDR, SampleError, compile_expr

    if len(words) != 1:
        ctx.error("expects one sample expression")
        return None
    try:
        get = compile_expr(words[0], REQ, want=ADDR).get
    except SampleError as e:
        ctx.error(str(e))
        return None

    def set_src(txn: Txn) -> int:
        addr = get(txn.stream)
        if addr is not None:  # an absent or invalid address leaves the source alone
            txn.stream.client_ip = str(addr)
            txn.stream.client_port = 0
        return CONTINUE

    return set_src


@action(
    "set-status",
    (RESPONSE, AFTER),
    "<code> [reason <text>]",
    "Change the response status (and its reason phrase).",
)
def _set_status(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if not words or (len(words) != 1 and (len(words) != 3 or words[1] != "reason")):
        ctx.error("expects a status code, optionally followed by 'reason <text>'")
        return None
    code = _status_arg(ctx, words[0], lambda c: 100 <= c <= 999)
    if code is None:
        return None
    text = words[2].encode() if len(words) == 3 else reason(code).encode()
    if _BAD_VALUE.search(text):
        ctx.error("the reason may not contain CR, LF or NUL")
        return None
    status = b"%d" % code

    def set_status(txn: Txn) -> int:
        line = txn.start_line()
        line[1], line[2] = status, text
        txn.stream.res_status = code
        return CONTINUE

    return set_status


@action(
    "normalize-uri",
    (REQUEST,),
    "<normalizer> [full|strict]",
    "Normalise the request target (path-merge-slashes, path-strip-dot, path-strip-dotdot, "
    "percent-decode-unreserved, percent-to-uppercase, query-sort-by-name, fragment-strip, "
    "fragment-encode).",
)
def _normalize_uri(ctx: Ctx, words: list[str], phase: str) -> Action | None:
    if not words:
        ctx.error("expects a normalizer")
        return None
    try:
        fn = normalize.normalizer(words[0], words[1:])
    except ValueError as e:
        ctx.error(str(e))
        return None

    def normalize_uri(txn: Txn) -> int:
        req = txn.head if txn.line is None else None
        target = req.target if req is not None else txn.start_line()[1]
        if target[:1] != b"/":
            return CONTINUE  # absolute-form and `*` are left as they are
        new = fn(target)
        if new is None:  # `strict`: a target that cannot be normalised is refused
            txn.status = 400
            return REPLY
        if new != target:
            txn.start_line()[1] = new
        return CONTINUE

    return normalize_uri


# ---- per proxy -----------------------------------------------------------------------------


class ProxyRules:
    """A proxy's compiled HTTP rules; built only when it has some."""

    __slots__ = ("after", "redirects", "request", "response", "responses", "tarpit")

    def __init__(self, px: Any, acls: dict[str, list[Predicate]]) -> None:
        self.request = compile_rules(px.http_request_rules, acls)
        self.redirects = compile_rules(px.redirect_rules, acls)
        self.response = compile_rules(px.http_response_rules, acls)
        self.after = compile_rules(px.http_after_response_rules, acls)
        # Whether responses go through any rule here (a proxy with request rules alone
        # costs its responses nothing).
        self.responses = self.response is not None or self.after is not None
        t = px.timeouts
        self.tarpit = (t.tarpit or t.connect) / 1000


def proxy_rules(px: Any, acls: dict[str, list[Predicate]]) -> ProxyRules | None:
    if not (
        px.http_request_rules
        or px.redirect_rules
        or px.http_response_rules
        or px.http_after_response_rules
    ):
        return None
    return ProxyRules(px, acls)
