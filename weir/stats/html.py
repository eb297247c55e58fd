"""The HTML statistics page: the layout HAProxy's users know, in weir's own markup.

The page has a process block (pid, uptime, limits, current connections), the legend of
server state colours and the display options, then one table per proxy with HAProxy's two
header rows (Queue, Session rate, Sessions, Bytes, Denied, Errors, Warnings, Server) and
its rows: Frontend, each server, Backend. Cells follow HAProxy's conventions: "-" for no
limit, "20h28m UP" for a state and its age, "L7OK/200 in 1ms" for the last check, a
dotted underline on figures that show details when hovered.

In admin mode (`stats admin`) each backend's table is a form: a checkbox per server and an
action menu (HAProxy's actions, and weir's "Set weight to") posting to the page; with
`stats show-legends` proxies and servers carry their id, mode, address and cookie.

Everything here formats rows from `weir.stats.fields`; nothing reads the runtime.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from weir.stats.admin import ACTIONS
from weir.stats.fields import ProxyStats, Row, Value

MINUTE, HOUR, DAY = 60, 3600, 86400

# Messages for `;st=<code>` after a POST, keyed by the code HAProxy puts in the URI.
_STATUS_MESSAGES = {
    "DONE": ("act-up", "Action processed successfully."),
    "NONE": ("act-going-down", "Nothing has changed."),
    "PART": (
        "act-going-down",
        "Action partially processed: some server names are unknown or ambiguous.",
    ),
    "ERRP": (
        "act-down",
        "Action not processed: invalid parameters (unknown action, backend or server).",
    ),
    "EXCD": (
        "act-down",
        "<b>Action not processed: too much data at once; retry with fewer servers.</b>",
    ),
    "DENY": ("act-down", "<b>Action denied.</b>"),
    "IVAL": ("act-down", "<b>Invalid request (unsupported method or chunked body).</b>"),
}


@dataclass(frozen=True, slots=True)
class PageInfo:
    """The process figures of the top block."""

    product: str  # "weir version X" or "weir" with `stats hide-version`
    pid: int
    uptime: int  # seconds
    ulimit_n: int
    memmax_mb: int | None  # None: unlimited
    maxsock: int
    maxconn: int
    cur_conns: int
    conn_rate: int
    nbthread: int = 1


@dataclass(frozen=True, slots=True)
class PageView:
    """How this request asked to see the page; builds the links that keep those choices."""

    uri: str
    refresh: int = 0  # configured refresh, seconds (0: none)
    no_refresh: bool = False
    hide_down: bool = False
    scope: str = ""
    status_code: str | None = None  # from `;st=`
    admin: bool = False  # `stats admin` granted: checkboxes and the action menu
    legends: bool = False  # `stats show-legends`
    node: str | None = None  # `stats show-node`: shown after the pid
    desc: str | None = None  # `stats show-desc`

    def link(self, *, up: bool | None = None, norefresh: bool | None = None) -> str:
        up = self.hide_down if up is None else up
        norefresh = self.no_refresh if norefresh is None else norefresh
        scope = f"?scope={self.scope}" if self.scope else ""
        return f"{self.uri}{';up' if up else ''}{';norefresh' if norefresh else ''}{scope}"


# -- small formatters ------------------------------------------------------------------


def human_time(seconds: Value) -> str:
    """A duration as HAProxy shows it: the two largest units ("20h28m", "5d3h", "0s")."""
    if not isinstance(seconds, int) or seconds < 0:
        return "?"
    t = seconds
    parts: list[str] = []
    if t >= DAY:
        parts.append(f"{t // DAY}d")
    if len(parts) < 2 and t % DAY // HOUR:
        parts.append(f"{t % DAY // HOUR}h")
    if len(parts) < 2 and t % HOUR // MINUTE:
        parts.append(f"{t % HOUR // MINUTE}m")
    if (len(parts) < 2 and t % MINUTE) or not t:
        parts.append(f"{t % MINUTE}s")
    return "".join(parts)


def num(value: Value) -> str:
    """A counter with its thousands set apart (spacing, not a separator character, so
    that copying the figure gives the bare number)."""
    if value is None:
        return ""
    if not isinstance(value, int):
        return escape(value)
    digits = str(value)
    if len(digits) <= 3:
        return digits
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return "".join(f'<span class="k">{g}</span>' for g in groups[:-1]) + groups[-1]


def lim(value: Value) -> str:
    """A configured limit: "-" when there is none."""
    return num(value) if isinstance(value, int) and value > 0 else "-"


def _tip(shown: str, lines: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in lines)
    return f'<u class="tip">{shown}<span class="pop"><table>{rows}</table></span></u>'


def _tip_text(shown: str, text: str) -> str:
    return f'<u class="tip">{shown}<span class="pop">{text}</span></u>'


def _int(row: Row, name: str) -> int:
    v = row.get(name)
    return v if isinstance(v, int) else 0


def _pct(part: int, whole: int) -> str:
    return f"({100 * part // whole if whole else 0}%)"


def _anchor(px: str, what: str, label: str) -> str:
    ref = escape(f"{px}/{what}", quote=True)
    return f'<a id="{ref}"></a><a class="row" href="#{ref}">{escape(label)}</a>'


def _http_lines(row: Row) -> list[tuple[str, str]]:
    req = _int(row, "req_tot")
    lines = [("Cum. HTTP requests:", num(req))]
    for label, name in (
        ("- HTTP 1xx responses:", "hrsp_1xx"),
        ("- HTTP 2xx responses:", "hrsp_2xx"),
        ("- HTTP 3xx responses:", "hrsp_3xx"),
        ("- HTTP 4xx responses:", "hrsp_4xx"),
        ("- HTTP 5xx responses:", "hrsp_5xx"),
        ("- other responses:", "hrsp_other"),
    ):
        lines.append((label, f"{num(_int(row, name))} {_pct(_int(row, name), req)}"))
    return lines


# -- rows --------------------------------------------------------------------------------


def _frontend(px: str, r: Row) -> str:
    http = r.get("mode") == "http"
    now = [
        ("Current connection rate:", f"{num(r.get('conn_rate'))}/s"),
        ("Current session rate:", f"{num(r.get('rate'))}/s"),
    ]
    top = [
        ("Max connection rate:", f"{num(r.get('conn_rate_max'))}/s"),
        ("Max session rate:", f"{num(r.get('rate_max'))}/s"),
    ]
    total = [("Cum. connections:", num(r.get("conn_tot"))), ("Cum. sessions:", num(r.get("stot")))]
    if http:
        now.append(("Current request rate:", f"{num(r.get('req_rate'))}/s"))
        top.append(("Max request rate:", f"{num(r.get('req_rate_max'))}/s"))
        total += _http_lines(r)
        total.append(("Intercepted requests:", num(r.get("intercepted"))))
    return (
        f'<tr class="fe"><td class="c">{_anchor(px, "Frontend", "Frontend")}</td>'
        '<td colspan="3"></td>'
        f"<td>{_tip(num(r.get('rate')), now)}</td><td>{_tip(num(r.get('rate_max')), top)}</td>"
        f"<td>{lim(r.get('rate_lim'))}</td>"
        f"<td>{num(r.get('scur'))}</td><td>{num(r.get('smax'))}</td>"
        f"<td>{num(r.get('slim'))}</td><td>{_tip(num(r.get('stot')), total)}</td>"
        "<td></td><td></td>"
        f"<td>{num(r.get('bin'))}</td><td>{num(r.get('bout'))}</td>"
        f"<td>{num(r.get('dreq'))}</td><td>{num(r.get('dresp'))}</td>"
        f"<td>{num(r.get('ereq'))}</td><td></td><td></td>"
        "<td></td><td></td>"
        f'<td class="c">{escape(str(r.get("status")))}</td><td class="c" colspan="8"></td>'
        "</tr>\n"
    )


def server_class(r: Row) -> str:
    """The colour class of a server row, from its status, health and role."""
    status = str(r.get("status"))
    if status.startswith("MAINT"):
        return "maint"
    top = _int(r, "check_rise") + _int(r, "check_fall") - 1
    if status in ("DOWN", "DOWN (agent)"):
        state = "down"
    elif status.startswith("DOWN "):
        state = "going-up"
    elif status == "DRAIN":
        state = "draining"
    elif status.startswith("NOLB "):
        state = "going-down"
    elif status == "NOLB":
        state = "nolb"
    elif status == "no check":
        state = "no-check"
    elif "check_health" not in r or _int(r, "check_health") == top:
        state = "up" if _int(r, "weight") else "draining"
    else:
        state = "going-down"
    return f"{'bck' if _int(r, 'bck') else 'act'}-{state}"


def _server_state(r: Row) -> str:
    status = str(r.get("status"))
    age = human_time(r.get("lastchg"))
    if status.startswith("MAINT"):
        return f"{age} MAINT"
    if status == "no check":
        return "<i>no check</i>"
    text = f"{age} {escape(status)}"
    health, top = _int(r, "check_health"), _int(r, "check_rise") + _int(r, "check_fall") - 1
    if "check_health" in r:
        if status.startswith("DOWN"):
            if health:
                text += " &uarr;"
        elif health < top:
            text += " &darr;"
    return text


def _last_check(r: Row) -> str:
    status = r.get("check_status")
    if status is None:
        return ""
    shown = escape(str(status))
    if r.get("check_code") is not None:
        shown += f"/{r['check_code']}"
    if r.get("check_duration") is not None:
        shown += f" in {r['check_duration']}ms"
    detail = escape(str(r.get("check_desc") or ""))
    if r.get("last_chk"):
        detail += ": " + escape(str(r["last_chk"]))
    return _tip_text(shown, detail)


def _server(px: str, r: Row) -> str:
    http = r.get("mode") == "http"
    conns = [
        ("Current active connections:", num(r.get("scur"))),
        ("Current used connections:", num(r.get("used_conn_cur"))),
        ("Current idle connections:", num(r.get("srv_icur"))),
        ("Active connections limit:", lim(r.get("slim"))),
    ]
    total = [("Cum. sessions:", num(r.get("stot")))]
    if http:
        total.append(("New connections:", num(r.get("connect"))))
        total.append(
            (
                "Reused connections:",
                f"{num(r.get('reuse'))} "
                f"{_pct(_int(r, 'reuse'), _int(r, 'connect') + _int(r, 'reuse'))}",
            )
        )
        total += _http_lines(r)
    resets = (
        f"Connection resets during transfers: {_int(r, 'cli_abrt')} client, "
        f"{_int(r, 'srv_abrt')} server"
    )
    if "chkfail" in r:
        checks = (
            f"<td>{_tip_text(num(r.get('chkfail')), 'Failed health checks')}</td>"
            f"<td>{num(r.get('chkdown'))}</td><td>{human_time(r.get('downtime'))}</td>"
        )
    else:
        checks = '<td colspan="3"></td>'
    name = str(r.get("svname"))
    label = _anchor(px, name, name)
    if "addr" in r:  # `stats show-legends`
        legend = f"addr: {escape(str(r['addr']))}"
        if r.get("cookie"):
            legend += f", cookie: '{escape(str(r['cookie']))}'"
        label = _tip_text(label, legend)
    return (
        f'<tr class="{server_class(r)}"><td class="c">{label}</td>'
        f"<td>{num(r.get('qcur'))}</td><td>{num(r.get('qmax'))}</td>"
        f"<td>{lim(r.get('qlimit'))}</td>"
        f"<td>{num(r.get('rate'))}</td><td>{num(r.get('rate_max'))}</td><td></td>"
        f"<td>{_tip(num(r.get('scur')), conns)}</td><td>{num(r.get('smax'))}</td>"
        f"<td>{lim(r.get('slim'))}</td><td>{_tip(num(r.get('stot')), total)}</td>"
        f"<td>{num(r.get('lbtot'))}</td><td>{human_time(r.get('lastsess'))}</td>"
        f"<td>{num(r.get('bin'))}</td><td>{num(r.get('bout'))}</td>"
        f"<td></td><td>{num(r.get('dresp'))}</td>"
        f"<td></td><td>{num(r.get('econ'))}</td>"
        f"<td>{_tip_text(num(r.get('eresp')), resets)}</td>"
        f"<td>{num(r.get('wretr'))}</td><td>{num(r.get('wredis'))}</td>"
        f'<td class="c">{_server_state(r)}</td><td class="c">{_last_check(r)}</td>'
        f'<td class="c">{_int(r, "weight")}/{_int(r, "uweight")}</td>'
        f'<td class="c">{"-" if _int(r, "bck") else "Y"}</td>'
        f'<td class="c">{"Y" if _int(r, "bck") else "-"}</td>'
        f'{checks}<td class="c">-</td>'
        "</tr>\n"
    )


def _backend(px: str, r: Row) -> str:
    total = [("Cum. sessions:", num(r.get("stot")))]
    if r.get("mode") == "http":
        total.append(("New connections:", num(r.get("connect"))))
        total += _http_lines(r)
    resets = (
        f"Connection resets during transfers: {_int(r, 'cli_abrt')} client, "
        f"{_int(r, 'srv_abrt')} server"
    )
    status = str(r.get("status"))
    shown = '<b class="dead">DOWN</b>' if status == "DOWN" else escape(status)
    downtime = r.get("downtime")
    return (
        f'<tr class="be"><td class="c">{_anchor(px, "Backend", "Backend")}</td>'
        f"<td>{num(r.get('qcur'))}</td><td>{num(r.get('qmax'))}</td><td></td>"
        f"<td>{num(r.get('rate'))}</td><td>{num(r.get('rate_max'))}</td><td></td>"
        f"<td>{num(r.get('scur'))}</td><td>{num(r.get('smax'))}</td>"
        f"<td>{num(r.get('slim'))}</td><td>{_tip(num(r.get('stot')), total)}</td>"
        f"<td>{num(r.get('lbtot'))}</td><td>{human_time(r.get('lastsess'))}</td>"
        f"<td>{num(r.get('bin'))}</td><td>{num(r.get('bout'))}</td>"
        f"<td>{num(r.get('dreq'))}</td><td>{num(r.get('dresp'))}</td>"
        f"<td></td><td>{num(r.get('econ'))}</td>"
        f"<td>{_tip_text(num(r.get('eresp')), resets)}</td>"
        f"<td>{num(r.get('wretr'))}</td><td>{num(r.get('wredis'))}</td>"
        f'<td class="c">{human_time(r.get("lastchg"))} {shown}</td><td class="c">&nbsp;</td>'
        f'<td class="c">{_int(r, "weight")}/{_int(r, "uweight")}</td>'
        f'<td class="c">{_int(r, "act")}</td><td class="c">{_int(r, "bck")}</td>'
        f'<td class="c">&nbsp;</td><td>{num(r.get("chkdown"))}</td>'
        f"<td>{human_time(downtime) if downtime is not None else '&nbsp;'}</td><td></td>"
        "</tr>\n"
    )


_COLUMNS = (
    '<tr class="head"><th rowspan="2"></th><th colspan="3">Queue</th>'
    '<th colspan="3">Session rate</th><th colspan="6">Sessions</th><th colspan="2">Bytes</th>'
    '<th colspan="2">Denied</th><th colspan="3">Errors</th><th colspan="2">Warnings</th>'
    '<th colspan="9">Server</th></tr>\n'
    '<tr class="head"><th>Cur</th><th>Max</th><th>Limit</th>'
    "<th>Cur</th><th>Max</th><th>Limit</th>"
    "<th>Cur</th><th>Max</th><th>Limit</th><th>Total</th><th>LbTot</th><th>Last</th>"
    "<th>In</th><th>Out</th><th>Req</th><th>Resp</th><th>Req</th><th>Conn</th><th>Resp</th>"
    "<th>Retr</th><th>Redis</th>"
    "<th>Status</th><th>LastChk</th><th>Wght</th><th>Act</th><th>Bck</th><th>Chk</th>"
    "<th>Dwn</th><th>Dwntme</th><th>Thrtle</th></tr>\n"
)


def _admin_head(ps: ProxyStats, admin: bool) -> str:
    if not admin:
        return ""
    if not ps.servers:
        return '<th rowspan="2"></th>'
    cls = escape(ps.name, quote=True) + "-checkbox"
    return (
        '<th rowspan="2" class="c"><input type="checkbox" title="Select all" '
        f"onclick=\"for (const c of document.getElementsByClassName('{cls}')) "
        'c.checked = this.checked"></th>'
    )


def _with_cell(row: str, cell: str) -> str:
    """A row with `cell` put first (after the `<tr ...>` tag)."""
    i = row.index(">") + 1
    return row[:i] + cell + row[i:]


def _admin_menu(ps: ProxyStats) -> str:
    options = "".join(
        f'<option value="{value}">{escape(label)}</option>' for value, label in ACTIONS
    )
    return (
        '<p class="admin">Choose the action to perform on the checked servers : '
        f'<select name="action"><option value=""></option>{options}</select> '
        '<input name="weight" size="5" title="Weight (for Set weight to): N or N%">'
        f'<input type="hidden" name="b" value="#{ps.iid}">'
        '&nbsp;<input type="submit" value="Apply"></p></form>\n'
    )


def _proxy(ps: ProxyStats, view: PageView | None = None) -> str:
    admin = view is not None and view.admin
    legends = view is not None and view.legends
    form = admin and bool(ps.servers)
    name = escape(ps.name)
    ref = escape(ps.name, quote=True)
    desc = (
        f'<th class="desc">{escape(ps.description)}</th>'
        if ps.description
        else '<th class="empty"></th>'
    )
    tips = (
        f'<div class="tips">cap: {escape(ps.cap)}, mode: {escape(ps.mode)}, id: {ps.iid}</div>'
        if legends
        else ""
    )
    columns = _COLUMNS
    if admin:
        columns = _with_cell(columns, _admin_head(ps, admin))
    out = [
        '<form method="post">' if form else "",
        '<table class="title"><tr>'
        f'<th class="pxname"><a id="{ref}"></a><a class="px" href="#{ref}">{name}</a>{tips}</th>'
        f"{desc}</tr></table>\n"
        f'<table class="px">\n{columns}',
    ]
    rows: list[str] = []
    if ps.frontend is not None:
        rows.append(
            _with_cell(_frontend(ps.name, ps.frontend), "<td></td>")
            if admin
            else _frontend(ps.name, ps.frontend)
        )
    for r in ps.servers:
        html = _server(ps.name, r)
        if admin:
            box = (
                f'<td class="c"><input class="{ref}-checkbox" type="checkbox" name="s" '
                f'value="{escape(str(r.get("svname")), quote=True)}"></td>'
            )
            html = _with_cell(html, box)
        rows.append(html)
    if ps.backend is not None:
        html = _backend(ps.name, ps.backend)
        rows.append(_with_cell(html, "<td></td>") if admin else html)
    out.extend(rows)
    out.append("</table>\n")
    out.append(_admin_menu(ps) if form else "<p></p>\n")
    return "".join(out)


# -- page --------------------------------------------------------------------------------

_CSS = """
body { font: 12px Arial, Helvetica, sans-serif; color: #000; background: #fff; }
td, th { font-size: 10px; }
h1 { font-size: x-large; margin: 0 0 .5em 0; }
h1 a { color: #000; text-decoration: none; }
h2 { font: italic bold x-large Helvetica, Arial, sans-serif; color: #6a24a6; margin: 0; }
h3 { font: bold 16px Helvetica, Arial, sans-serif; color: #ad0041; background: #e9e7d1;
     margin: 0; }
hr.rule { border: 0; border-bottom: 2px solid #000; margin: .25em 0; }
ul.opts { margin: .25em 0 0 0; } ul.opts li { margin: .25em 2em 0 0; }
table.info td { vertical-align: top; white-space: nowrap; padding-right: 1em; }
table.legend { border-collapse: collapse; border-left: 1px solid #000; margin: 0 auto; }
table.legend td { border: 1px solid #888; padding: 2px; width: 14px; }
table.legend td.txt { border: none; width: auto; white-space: nowrap; text-align: left; }
table.title, table.px { border-collapse: collapse; width: 100%; }
table.title th.pxname { width: 10%; background: #ad0041; color: #ffff44; font-weight: bold;
     padding: 2px 3px; white-space: nowrap; border: 1px solid #888; border-bottom: none;
     text-align: left; }
table.title th.desc { text-align: left; background: #fff; border: 1px solid #888;
     border-bottom: none; padding: 2px 3px; font-weight: normal; }
table.title th.empty { border: none; background: #fff; }
table.px th { border: 1px solid #888; }
table.px td { border: 1px solid #888; padding: 2px 3px; text-align: right;
     white-space: nowrap; }
table.px td.c { text-align: center; }
tr.head th { background: #21cfcf; color: #000; font-weight: bold; text-align: center; }
a.px, a.px:visited { color: #ffff44; text-decoration: none; }
a.px:hover { color: #fff; }
a.row, a.row:visited { color: #000; text-decoration: none; }
a.row:hover { color: #555; }
.fe, .be { background: #e9e7d1; }
.act-up { background: #c1fec1; }
.act-going-down { background: #fefea2; }
.act-going-up { background: #fed022; }
.act-down, .bck-down { background: #fe9292; }
.act-nolb, .act-draining { background: #22a2fe; }
.act-no-check, .bck-no-check { background: #e1e1e1; }
.bck-up { background: #b1d1fe; }
.bck-going-down { background: #c162fe; }
.bck-going-up { background: #fe82fe; }
.bck-nolb { background: #92b2e1; }
.bck-draining { background: #cc9a02; }
.maint { background: #c17a22; }
b.dead { color: #e00; }
span.k { margin-right: .2em; }
u.tip { text-decoration: none; border-bottom: 1px dotted #000; position: relative; }
u.tip span.pop { display: none; position: absolute; z-index: 10; left: 0; top: 1.4em;
     padding: 2px 4px 3px; background: #f1f162; color: #000; border: 1px solid #7242c2;
     border-radius: 3px; box-shadow: 2px 2px 3px #888; white-space: nowrap;
     font: normal 11px sans-serif; text-align: left; }
u.tip:hover span.pop { display: block; }
u.tip span.pop th { text-align: left; font-weight: bold; padding: 0 1px 0 0; }
u.tip span.pop td { text-align: right; padding: 0 0 0 4px; border: none; }
div.msg { padding: 2px 4px; margin: .5em 0; }
div.msg a { color: #000; text-decoration: none; }
div.tips { font-weight: normal; font-size: 10px; color: #ffff44; }
p.admin { margin: .3em 0 1em 0; }
"""

_LEGEND = (
    '<table class="legend">'
    '<tr><td class="act-up"></td><td class="txt">active UP</td>'
    '<td class="bck-up"></td><td class="txt">backup UP</td></tr>'
    '<tr><td class="act-going-down"></td><td class="txt">active UP, going down</td>'
    '<td class="bck-going-down"></td><td class="txt">backup UP, going down</td></tr>'
    '<tr><td class="act-going-up"></td><td class="txt">active DOWN, going up</td>'
    '<td class="bck-going-up"></td><td class="txt">backup DOWN, going up</td></tr>'
    '<tr><td class="act-down"></td><td class="txt">active or backup DOWN</td>'
    '<td class="act-no-check"></td><td class="txt">not checked</td></tr>'
    '<tr><td class="maint"></td><td class="txt" colspan="3">active or backup DOWN for '
    "maintenance (MAINT)</td></tr>"
    '<tr><td class="act-draining"></td><td class="txt" colspan="3">active or backup SOFT '
    "STOPPED for maintenance</td></tr>"
    "</table>\n"
    'Note: "NOLB"/"DRAIN" = UP with load-balancing disabled.'
)


def _process_block(info: PageInfo) -> str:
    up = info.uptime
    memmax = f"{info.memmax_mb} MB" if info.memmax_mb else "unlimited"
    return (
        f"<b>pid = </b> {info.pid} (process #1, nbproc = 1, nbthread = {info.nbthread})<br>\n"
        f"<b>uptime = </b> {up // DAY}d {up % DAY // HOUR}h{up % HOUR // MINUTE:02d}m"
        f"{up % MINUTE:02d}s<br>\n"
        f"<b>system limits:</b> memmax = {memmax}; ulimit-n = {info.ulimit_n}<br>\n"
        f"<b>maxsock = </b> {info.maxsock}; <b>maxconn = </b> {info.maxconn}; "
        "<b>maxpipes = </b> 0<br>\n"
        f"current conns = {info.cur_conns}; current pipes = 0/0; "
        f"conn rate = {info.conn_rate}/sec<br>\n"
    )


def _options(view: PageView) -> str:
    h = escape
    items = [
        '<li><form method="GET">Scope : <input value="'
        f'{h(view.scope, quote=True)}" name="scope" size="8" maxlength="20" tabindex="1">'
        "</form></li>"
    ]
    if view.hide_down:
        items.append(f'<li><a href="{h(view.link(up=False))}">Show all servers</a></li>')
    else:
        items.append(f"<li><a href=\"{h(view.link(up=True))}\">Hide 'DOWN' servers</a></li>")
    if view.refresh > 0:
        if view.no_refresh:
            items.append(f'<li><a href="{h(view.link(norefresh=False))}">Enable refresh</a></li>')
        else:
            items.append(f'<li><a href="{h(view.link(norefresh=True))}">Disable refresh</a></li>')
    items.append(f'<li><a href="{h(view.link())}">Refresh now</a></li>')
    csv_link = (
        view.uri
        + ";csv"
        + (";norefresh" if view.refresh > 0 else "")
        + (f"?scope={view.scope}" if view.scope else "")
    )
    items.append(f'<li><a href="{h(csv_link)}">CSV export</a></li>')
    return '<b>Display option:</b><ul class="opts">' + "".join(items) + "</ul>"


def _message(view: PageView) -> str:
    if view.status_code is None:
        return ""
    cls, text = _STATUS_MESSAGES.get(view.status_code, ("act-no-check", "Unexpected result."))
    close = escape(view.link(), quote=True)
    return (
        f'<div class="msg {cls}"><a href="{close}" title="Remove this message">[X]</a> '
        f"{text}</div>\n"
    )


def render_html(info: PageInfo, view: PageView, proxies: Iterable[ProxyStats]) -> str:
    """The whole page."""
    product = escape(info.product)
    head = (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8">\n'
        f"<title>Statistics Report for {product}</title>\n"
        '<link rel="icon" href="data:,">\n'
        f"<style>{_CSS}</style></head>\n<body>\n"
        f'<h1><a href="{escape(view.uri, quote=True)}">{product}</a></h1>\n'
        f"<h2>Statistics Report for pid {info.pid}{_node(view)}</h2>\n"
        '<hr class="rule">\n<h3>&gt; General process information</h3>\n'
        '<table class="info"><tr>'
        f"<td>{_process_block(info)}</td>"
        f'<td style="text-align:center">{_LEGEND}</td>'
        f"<td>{_options(view)}</td>"
        '<td><b>External resources:</b><ul class="opts">'
        '<li><a href="https://docs.haproxy.org/2.6/configuration.html">HAProxy 2.6 '
        "configuration manual</a></li></ul></td>"
        "</tr></table>\n"
        f"{_message(view)}<p></p>\n"
    )
    return head + "".join(_proxy(ps, view) for ps in proxies) + "</body></html>\n"


def _node(view: PageView) -> str:
    out = f" on {escape(view.node)}" if view.node else ""
    if view.desc:
        out += f": {escape(view.desc)}"
    return out
