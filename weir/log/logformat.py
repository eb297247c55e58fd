"""Log formats compiled once into a list of writers; a line is one join.

Theory of operation
-------------------
`compile_format(text, env)` parses the string (weir.log.lfparse), turns each item into a
writer closure (weir.log.lfvars) and resolves the separators at load time. HAProxy prints
a separator only if something other than a separator was printed since the previous one;
every item counts as printed, even an empty one (`%HQ` without a query), except the
header captures when there is nothing to capture. So for most formats the state "was the
last thing a space?" is known at every point of the string when it is compiled, and each
separator becomes either a constant " " or nothing. The constant text before an item is
folded into that item's writer, and a line is

    "".join([w(stream, values) for w in writers]) + tail

where `values` (formats.line_values) holds the timers, counts and names computed once.

A header capture (%hr, %hs, %hrl, %hsl) followed by a separator is one writer that prints
"value " or, when skipped, the separator only if the state before it asks for one; the
state after it is known again. Only a skipped capture not followed by a separator leaves
the state unknown; should a separator follow later, the format falls back to a small
interpreter that tracks the state per line (e.g. `%hr%hs %r`).

With `%{+json}o` the line is one JSON object of the named items (`%(name)ci`), text and
separators are dropped, as in HAProxy 3.x.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

from weir.log import formats
from weir.log.formats import LineValues
from weir.log.lfparse import MANDATORY, SEP, Expr, LogFormatError, Node, Text, Var, parse
from weir.log.lfvars import (
    Env,
    Writer,
    expr_writer,
    json_str,
    json_template_of,
    json_writer,
    template_of,
    var_writer,
)
from weir.stream import Stream

# HAProxy's preset strings. weir keeps dedicated formatters for the first three
# (weir.log.formats, faster than the generic writers); the compiled forms must match them
# byte for byte (tests/unit/log checks it) and serve `option logasap` and captures.
HTTPLOG = (
    "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc "
    "%ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r"
)
HTTPLOG_CLF = (
    '%{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR %Tw %Tc %Tr %Ta %tsc '
    "%ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl"
)
TCPLOG = "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq"
# weir's JSON presets (`option httplog json`, `option tcplog json`): the same fields, one
# JSON object per line, keys named after HAProxy's field names (section 8.2.3 and 8.2.2
# of its configuration manual).
HTTPLOG_JSON = (
    "%{+json}o %(client_ip)ci %(client_port)cp %(request_date)tr %(frontend_name)ft "
    "%(backend_name)b %(server_name)s %(TR)TR %(Tw)Tw %(Tc)Tc %(Tr)Tr %(Ta)Ta "
    "%(status_code)ST %(bytes_read)B %(captured_request_cookie)CC "
    "%(captured_response_cookie)CS %(termination_state)tsc %(actconn)ac %(feconn)fc "
    "%(beconn)bc %(srv_conn)sc %(retries)rc %(srv_queue)sq %(backend_queue)bq "
    "%(captured_request_headers)hrl %(captured_response_headers)hsl %(http_request)r"
)
TCPLOG_JSON = (
    "%{+json}o %(client_ip)ci %(client_port)cp %(accept_date)t %(frontend_name)ft "
    "%(backend_name)b %(server_name)s %(Tw)Tw %(Tc)Tc %(Tt)Tt %(bytes_read)B "
    "%(termination_state)ts %(actconn)ac %(feconn)fc %(beconn)bc %(srv_conn)sc "
    "%(retries)rc %(srv_queue)sq %(backend_queue)bq"
)

_SPACE, _TEXT, _UNKNOWN = 0, 1, 2  # what the line ends with so far
_UNIQUE_ID_MAX = 127  # HAProxy keeps 127 bytes of a unique id


class LineFormat:
    """A compiled format. `render(stream, actconn, out)` is the line (`out`: the byte
    count to print for %B). `counter` is the lines-sent count %lc reads (the Logger
    bumps it). `can_be_empty`: the line may come out empty (then it is not sent)."""

    __slots__ = ("_writers", "can_be_empty", "counter", "render", "source")

    def __init__(
        self,
        source: str,
        render: Callable[[Stream, int, int], str],
        counter: list[int],
        can_be_empty: bool,
    ) -> None:
        self.source = source
        self.render = render
        self.counter = counter
        self.can_be_empty = can_be_empty

    def __call__(self, s: Stream, actconn: int) -> str:
        return self.render(s, actconn, s.bytes_out)


def _is_capture(node: Node) -> bool:
    return isinstance(node, Var) and node.name in ("hr", "hs", "hrl", "hsl")


def _writer(node: Var | Expr, env: Env, pre: str) -> Writer:
    if isinstance(node, Expr):
        return expr_writer(node, env, pre)
    return var_writer(node, env, pre)


def _capture_count(node: Var, env: Env) -> int:
    return env.n_res if node.name[1] == "s" else env.n_req


def _sep_after(w: Writer, pre: str, state: int) -> Writer:
    """A capture writer followed by a separator, with the state before it known."""
    skipped = pre + (" " if state == _TEXT else "")

    def w2(s: Stream, t: LineValues) -> str:
        v = w(s, t)
        return skipped if v is None else v + " "

    return w2


def _plain(w: Writer, pre: str) -> Writer:
    """A capture writer not followed by a separator: prints `pre` at least."""

    def w2(s: Stream, t: LineValues) -> str:
        v = w(s, t)
        return pre if v is None else v

    return w2


def _template(parts: list[str], indexes: list[int]) -> Writer:
    """One writer for a run of items that print as `str(values[i])`."""
    tmpl = "".join(parts)
    if len(indexes) == 1:
        i = indexes[0]
        return lambda s, t: tmpl % (t[i],)
    pick = itemgetter(*indexes)
    return lambda s, t: tmpl % pick(t)


def _static(nodes: list[Node], env: Env) -> tuple[list[Writer], str] | None:
    """Writers with separators resolved at load time, or None when the state before a
    separator depends on the stream (then `_interpreted` is used). Runs of items that
    print as plain values from `line_values` become one %-template writer."""
    writers: list[Writer] = []
    run: list[str] = []  # the current template: literal text (with % doubled) and %s
    run_idx: list[int] = []
    pending = ""
    state = _SPACE
    i = 0
    n = len(nodes)

    def flush() -> None:
        if run_idx:
            writers.append(_template(run, run_idx))
            run.clear()
            run_idx.clear()

    while i < n:
        node = nodes[i]
        i += 1
        if isinstance(node, Text):
            pending += node.text
            state = _TEXT
        elif node is SEP:
            if state == _UNKNOWN:
                return None
            if state == _TEXT:
                pending += " "
                state = _SPACE
        elif isinstance(node, Var | Expr):
            if not _is_capture(node):
                tmpl = template_of(node, env) if isinstance(node, Var) else None
                if tmpl is not None:
                    idx, before, after = tmpl
                    run.append((pending + before).replace("%", "%%") + "%s" + after)
                    run_idx.append(idx)
                else:
                    flush()
                    writers.append(_writer(node, env, pending))
                pending = ""
                state = _TEXT
                continue
            assert isinstance(node, Var)
            if _capture_count(node, env) == 0:
                continue  # prints nothing, ever: the state does not change
            flush()
            w = var_writer(node, env, pending)
            if i < n and nodes[i] is SEP:
                if state == _UNKNOWN:
                    return None
                writers.append(_sep_after(w, pending, state))
                i += 1
                state = _SPACE
            else:
                writers.append(_plain(w, pending))
                state = _TEXT if state == _TEXT else _UNKNOWN
            pending = ""
    if run_idx:
        run.append(pending.replace("%", "%%"))
        pending = ""
        flush()
    return writers, pending


def _interpreted(nodes: list[Node], env: Env) -> Callable[[Stream, LineValues], str]:
    """The general case: HAProxy's algorithm, run per line."""
    items: list[tuple[int, object]] = []
    for node in nodes:
        if isinstance(node, Text):
            items.append((0, node.text))
        elif node is SEP:
            items.append((1, None))
        elif isinstance(node, Var | Expr):
            items.append((2, _writer(node, env, "")))

    def run(s: Stream, t: LineValues) -> str:
        out: list[str] = []
        space = True
        for kind, obj in items:
            if kind == 0:
                out.append(obj)  # type: ignore[arg-type]
                space = False
            elif kind == 1:
                if not space:
                    out.append(" ")
                    space = True
            else:
                v = obj(s, t)  # type: ignore[operator]
                if v is not None:
                    out.append(v)
                    space = False
        return "".join(out)

    return run


def _json(nodes: list[Node], env: Env) -> Callable[[Stream, LineValues], str]:
    """One JSON object of the named items; runs of plain values share a %-template."""
    writers: list[Writer] = []
    run: list[str] = []
    run_idx: list[int] = []
    pending = "{"
    for node in nodes:
        if not isinstance(node, Var | Expr) or not node.key:
            continue
        pending += json_str(node.key) + ": "
        tmpl = json_template_of(node, env) if isinstance(node, Var) else None
        if tmpl is not None:
            idx, before, after = tmpl
            run.append((pending + before).replace("%", "%%") + "%s" + after)
            run_idx.append(idx)
        else:
            if run_idx:
                writers.append(_template(run, run_idx))
                run, run_idx = [], []
            w = json_writer(node, env)
            pre = pending
            writers.append(lambda s, t, w=w, pre=pre: pre + w(s, t))  # type: ignore[misc]
        pending = ", "
    if run_idx:
        writers.append(_template(run, run_idx))
    tail = "}" if writers else "{}"

    def run_json(s: Stream, t: LineValues) -> str:
        return "".join([w(s, t) for w in writers]) + tail  # type: ignore[misc]

    return run_json


def compile_format(text: str, env: Env, *, mandatory: bool = True) -> LineFormat:
    """Compile a log-format string for `env`; LogFormatError names what is wrong.
    `mandatory` is HAProxy's +M default (log formats: yes; unique-id-format: no)."""
    nodes, json = parse(text, MANDATORY if mandatory else 0)
    values = formats.line_values
    http = env.http
    body: Callable[[Stream, LineValues], str]
    if json:
        body = _json(nodes, env)
        empty = False
    else:
        static = _static(nodes, env)
        empty = all(_is_capture(n) for n in nodes)
        if static is not None:
            writers, tail = static
            if not writers:
                return LineFormat(text, lambda s, ac, out: tail, env.counter, not tail)

            def render(s: Stream, ac: int, out: int) -> str:
                t = values(s, ac, out, http and s.req is None)
                return "".join([w(s, t) for w in writers]) + tail  # type: ignore[misc]

            return LineFormat(text, render, env.counter, empty)
        body = _interpreted(nodes, env)

    def render_body(s: Stream, ac: int, out: int) -> str:
        return body(s, values(s, ac, out, http and s.req is None))

    return LineFormat(text, render_body, env.counter, empty)


def unique_id(fmt: LineFormat, s: Stream) -> str:
    """A stream's unique id from a compiled unique-id-format, cut as HAProxy cuts it."""
    return fmt.render(s, 0, s.bytes_out)[:_UNIQUE_ID_MAX]


__all__ = [
    "HTTPLOG",
    "HTTPLOG_CLF",
    "HTTPLOG_JSON",
    "TCPLOG",
    "TCPLOG_JSON",
    "Env",
    "LineFormat",
    "LogFormatError",
    "compile_format",
    "unique_id",
]
