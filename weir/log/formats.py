"""HAProxy 2.6's built-in traffic log lines, produced from a Stream.

Pure: a Stream (and the process-wide connection count) in, the message text out; no
header, no I/O. Each function writes exactly what HAProxy's preset log-format string
produces, byte for byte:

    option httplog      %ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc
                        %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r
    option httplog clf  %{+Q}o %{-Q}ci - - [%trg] %r %ST %B "" "" %cp %ms %ft %b %s %TR
                        %Tw %Tc %Tr %Ta %tsc %ac %fc %bc %sc %rc %sq %bq %CC %CS %hrl %hsl
    option tcplog       %ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq

and the line a frontend with log targets but no log format sends at accept:
`Connect from IP:PORT to IP:PORT (FRONTEND/HTTP)`.

Timers follow HAProxy's arithmetic, not just its definitions: every event is first turned
into whole milliseconds since `t_accept` (truncated), and the timers are differences of
those, so that rounding matches. Tq (HAProxy's internal "t_request") is the end of the
request head, or -1 when there was none; so in TCP mode, where there is no request head,
Tw is t_queue + 1, exactly as HAProxy 2.6 prints it (`1/0/3` for an immediate connection).

These dedicated formatters print no header captures (%hr, %hs, %hrl, %hsl print nothing,
as in HAProxy without `capture` lines) and no `option logasap` marks: a frontend with
either uses the same presets compiled from their log-format strings (weir.log.logformat),
which print the same bytes otherwise (tests/unit/log checks it) but cost about 40% more.
A TLS frontend's `~` suffix (%ft) is not printed yet. An HTTP stream without a valid
request (`<BADREQ>`) has no request time and no byte counts, as HAProxy logs such a
failure without a stream.
"""

from __future__ import annotations

import re
import time
from typing import Any

from weir.stream import Stream

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# HAProxy keeps at most tune.http.logurilen - 1 bytes of the request line for the log.
REQUEST_LINE_MAX = 1023
NOSRV = "<NOSRV>"
BADREQ = "<BADREQ>"

# %r's encoding: control characters, DEL and above, '"' and '#' become '#' + two hex digits.
_URL_ESCAPE = re.compile(rb'[\x00-\x1f"#\x7f-\xff]')


def _escape(m: re.Match[bytes]) -> bytes:
    return b"#%02X" % m[0][0]


def request_line(req: object) -> str:
    """The logged request line: METHOD SP URI SP VERSION, cut to 1023 bytes, encoded."""
    if req is None:
        return BADREQ
    line: bytes = b" ".join((req.method, req.target, req.version))  # type: ignore[attr-defined]
    if len(line) > REQUEST_LINE_MAX:
        line = line[:REQUEST_LINE_MAX]
    if _URL_ESCAPE.search(line) is not None:
        line = _URL_ESCAPE.sub(_escape, line)
    return line.decode("ascii")


# ---- dates, cached per second ---------------------------------------------------------------

_local_sec = -1
_local_prefix = ""
_gmt_sec = -1
_gmt_text = ""


def local_date_ms(ms: int) -> str:
    """`23/Nov/2026:21:58:40.123` for a wall-clock time in whole milliseconds (local time)."""
    global _local_sec, _local_prefix
    sec, frac = divmod(ms, 1000)
    if sec != _local_sec:
        tm = time.localtime(sec)
        _local_prefix = (
            f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d}."
        )
        _local_sec = sec
    return f"{_local_prefix}{frac:03d}"


def gmt_date(sec: int) -> str:
    """`23/Nov/2026:20:58:40 +0000`: the CLF date, in UTC."""
    global _gmt_sec, _gmt_text
    if sec != _gmt_sec:
        tm = time.gmtime(sec)
        _gmt_text = (
            f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} +0000"
        )
        _gmt_sec = sec
    return _gmt_text


_tz_sec = -1
_tz_text = ""


def local_date_tz(sec: int) -> str:
    """`23/Nov/2026:21:58:40 +0100`: local time with its UTC offset (%Tl, %trl)."""
    global _tz_sec, _tz_text
    if sec != _tz_sec:
        tm = time.localtime(sec)
        off = tm.tm_gmtoff or 0
        sign = "-" if off < 0 else "+"
        minutes = abs(off) // 60
        _tz_text = (
            f"{tm.tm_mday:02d}/{_MONTHS[tm.tm_mon - 1]}/{tm.tm_year:04d}:"
            f"{tm.tm_hour:02d}:{tm.tm_min:02d}:{tm.tm_sec:02d} "
            f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
        )
        _tz_sec = sec
    return _tz_text


# ---- timers -------------------------------------------------------------------------------------


def timers(s: Stream) -> tuple[int, int, int, int, int, int, int]:
    """(Ti, TR, Tw, Tc, Tr, Ta, Tt) in milliseconds, -1 for a phase that did not happen.

    Ti is the idle time before the request's first byte; Ta is the active time (Tt minus
    the idle time), Tt the total since `t_accept`. The handshake time Th is 0 (no TLS and
    no PROXY protocol yet).
    """
    t0 = s.t_accept
    end = s.t_close or max(s.t_response, s.t_connect, s.t_queue, s.t_head, s.t_request, t0)
    ti = int((s.t_request - t0) * 1000.0) if s.t_request else -1
    # Without a valid request HAProxy has no request time (it logs such a failure
    # without a stream); weir's stream may have noted when the bad head ended.
    tq = int((s.t_head - t0) * 1000.0) if s.t_head and s.req is not None else -1
    queue = int((s.t_queue - t0) * 1000.0) if s.t_queue else -1
    conn = int((s.t_connect - t0) * 1000.0) if s.t_connect else -1
    data = int((s.t_response - t0) * 1000.0) if s.t_response else -1
    tt = int((end - t0) * 1000.0)
    idle = ti if ti > 0 else 0
    t_r = tq - idle if tq >= 0 else -1
    t_w = queue - tq if queue >= 0 else -1
    # A stream that connected without passing the queue stage is a caller's slip; count
    # its connect time from the request rather than printing nonsense.
    if queue < 0:
        queue = tq if tq >= 0 else 0
    t_c = conn - queue if conn >= 0 else -1
    if conn < 0:
        conn = queue
    t_rsp = data - conn if data >= 0 else -1
    return ti, t_r, t_w, t_c, t_rsp, tt - idle, tt


# Positions in the tuple `line_values` returns; log-format writers index it.
V_TI, V_TQ, V_TR, V_TW, V_TC, V_TRSP, V_TA, V_TT, V_TD_HTTP, V_TD_TCP, V_TU = range(11)
V_AC, V_OUT, V_FC, V_BC, V_SC, V_BE, V_SRV, V_REQ_MS, V_ACC_MS = range(11, 20)
V_CIP, V_CPORT, V_ST, V_RC, V_SQ, V_BQ, V_TSC, V_FE, V_IN = range(20, 29)

LineValues = tuple[Any, ...]


def line_values(s: Stream, actconn: int, out: int, nostream: bool = False) -> LineValues:
    """Everything most log formats print, computed once per line with the same arithmetic
    as `timers`, in the order of the V_* positions: Ti, Tq, TR, Tw, Tc, Tr, Ta, Tt, Td in
    HTTP, Td in TCP, Tu, actconn, bytes out, feconn, beconn, srv_conn, backend name,
    server name, request date ms, accept date ms, client IP, client port, status, retries,
    server queue, backend queue, termination state, frontend name, bytes in. `out` is the
    byte count to print (it differs from `s.bytes_out` when `option logasap` logs before
    the end). `nostream`: an HTTP stream without a valid request, which HAProxy logs
    without a stream: no request time, and no bytes either way."""
    t0 = s.t_accept
    end = s.t_close or max(s.t_response, s.t_connect, s.t_queue, s.t_head, s.t_request, t0)
    ti = int((s.t_request - t0) * 1000.0) if s.t_request else -1
    tq = int((s.t_head - t0) * 1000.0) if s.t_head and s.req is not None else -1
    queue = int((s.t_queue - t0) * 1000.0) if s.t_queue else -1
    conn = int((s.t_connect - t0) * 1000.0) if s.t_connect else -1
    data = int((s.t_response - t0) * 1000.0) if s.t_response else -1
    tt = int((end - t0) * 1000.0)
    idle = ti if ti > 0 else 0
    q2 = queue if queue >= 0 else (tq if tq >= 0 else 0)
    c2 = conn if conn >= 0 else q2
    fe = s.frontend
    be = s.backend
    if be is None and fe.conf.cap.is_backend:
        be = fe.default_backend
    srv = s.server
    acc_ms = int(s.accept_date * 1000.0)
    return (
        ti,
        tq,
        tq - idle if tq >= 0 else -1,
        queue - tq if queue >= 0 else -1,
        conn - q2 if conn >= 0 else -1,
        data - c2 if data >= 0 else -1,
        tt - idle,
        tt,
        tt - data if data >= 0 else -1,
        tt - conn if conn >= 0 else -1,
        tt - idle,
        actconn,
        0 if nostream else out,
        fe.counters.cur_sess,
        be.counters.cur_sess if be is not None else 0,
        srv.cur_sess if srv is not None else 0,
        (s.backend or fe).name,
        srv.name if srv is not None else NOSRV,
        acc_ms + idle,
        acc_ms,
        s.client_ip,
        s.client_port,
        s.res_status,
        s.retries,
        s.queue_srv,
        s.queue_be,
        s.termination,
        fe.name,
        0 if nostream else s.bytes_in,
    )


def _request_ms(s: Stream, ti: int) -> int:
    """The request date (%tr) in wall-clock milliseconds: accept date plus idle time."""
    return int(s.accept_date * 1000.0) + (ti if ti > 0 else 0)


def _conns(s: Stream) -> tuple[int, int, int]:
    """(feconn, beconn, srv_conn) as the runtime objects count them now."""
    fe = s.frontend
    be = s.backend
    if be is None and fe.conf.cap.is_backend:
        be = fe.default_backend  # a `listen` is its own backend
    srv = s.server
    return (
        fe.counters.cur_sess,
        be.counters.cur_sess if be is not None else 0,
        srv.cur_sess if srv is not None else 0,
    )


def _out(s: Stream) -> int:
    """%B in HTTP: HAProxy counts nothing for a failure it logs without a stream."""
    return s.bytes_out if s.req is not None else 0


# ---- the lines --------------------------------------------------------------------------------


def http_line(s: Stream, actconn: int) -> str:
    """`option httplog`."""
    ti, t_r, t_w, t_c, t_rsp, t_a, _ = timers(s)
    fe = s.frontend
    be = s.backend
    srv = s.server
    fc, bc, sc = _conns(s)
    cc = s.cookie_cli or "-"
    cs = s.cookie_srv or "-"
    return (
        f"{s.client_ip}:{s.client_port} [{local_date_ms(_request_ms(s, ti))}] {fe.name}"
        f"{'~' if s.ssl is not None else ''} "
        f"{(be or fe).name}/{srv.name if srv is not None else NOSRV} "
        f"{t_r}/{t_w}/{t_c}/{t_rsp}/{t_a} {s.res_status} {_out(s)} {cc} {cs} "
        f"{s.termination} {actconn}/{fc}/{bc}/{sc}/{s.retries} {s.queue_srv}/{s.queue_be} "
        f'"{request_line(s.req)}"'
    )


def clf_line(s: Stream, actconn: int) -> str:
    """`option httplog clf`. Strings are quoted (an absent one is ""), numbers are not; the
    two header-capture fields print nothing but the space before them stays."""
    ti, t_r, t_w, t_c, t_rsp, t_a, _ = timers(s)
    fe = s.frontend
    be = s.backend
    srv = s.server
    fc, bc, sc = _conns(s)
    cc = s.cookie_cli if s.cookie_cli != "-" else ""
    cs = s.cookie_srv if s.cookie_srv != "-" else ""
    accept_ms = int(s.accept_date * 1000.0)
    return (
        f"{s.client_ip} - - [{gmt_date(_request_ms(s, ti) // 1000)}] "
        f'"{request_line(s.req)}" {s.res_status} {_out(s)} "" "" {s.client_port} '
        f'{accept_ms % 1000:03d} "{fe.name}" "{(be or fe).name}" '
        f'"{srv.name if srv is not None else NOSRV}" {t_r} {t_w} {t_c} {t_rsp} {t_a} '
        f"{s.termination} {actconn} {fc} {bc} {sc} {s.retries} {s.queue_srv} {s.queue_be} "
        f'"{cc}" "{cs}" '
    )


def tcp_line(s: Stream, actconn: int) -> str:
    """`option tcplog`. The date is the accept date (%t); the state has two characters."""
    _, _, t_w, t_c, _, _, t_t = timers(s)
    fe = s.frontend
    be = s.backend
    srv = s.server
    fc, bc, sc = _conns(s)
    return (
        f"{s.client_ip}:{s.client_port} [{local_date_ms(int(s.accept_date * 1000.0))}] "
        f"{fe.name} {(be or fe).name}/{srv.name if srv is not None else NOSRV} "
        f"{t_w}/{t_c}/{t_t} {s.bytes_out} {s.termination[:2]} "
        f"{actconn}/{fc}/{bc}/{sc}/{s.retries} {s.queue_srv}/{s.queue_be}"
    )


def connect_line(
    client_ip: str,
    client_port: int,
    local_ip: str,
    local_port: int,
    *,
    frontend: str,
    http: bool,
) -> str:
    """What a frontend with log targets but no log format sends for each new stream.
    A UNIX-socket client (`client_ip` "unix") reports the listener's id as its port."""
    mode = "HTTP" if http else "TCP"
    if client_ip == "unix":
        return f"Connect to unix:{client_port} ({frontend}/{mode})"
    return f"Connect from {client_ip}:{client_port} to {local_ip}:{local_port} ({frontend}/{mode})"


def stopped_line(name: str, fe_total: int, be_total: int) -> str:
    """What HAProxy logs (at `warning`) for each proxy when the process stops."""
    return f"Proxy {name} stopped (cumulated conns: FE: {fe_total}, BE: {be_total})."


def is_error(s: Stream, http: bool) -> bool:
    """Whether a stream counts as an error for `option dontlog-normal` and
    `option log-separate-errors`: ended by anything but a normal or local close, retried,
    or (in HTTP) answered with a 5xx."""
    return s.termination[0] not in "-L" or s.retries > 0 or (http and s.res_status >= 500)
