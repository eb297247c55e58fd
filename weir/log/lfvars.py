"""Log-format items → writers: one closure per item, chosen once at load time.

A writer is `w(stream, values) -> str | None`: `values` is the tuple that
`formats.line_values` computes once per line (timers, counts, names, dates), so the common
items are one call and one tuple index. A writer returns the item's text with the constant
text before it (`pre`) already prepended; None (only the header captures do) means
"printed nothing", which matters for the separator that follows.

How a value prints is HAProxy 2.6's, item by item (checked against its binary):

* strings (%b, %s, %f, %ft, %H, %CC, %CS, %ID, %[…]): `+Q` quotes them; an empty or
  absent one prints `-` (the mandatory flag of log formats) or `""` when quoted; `+E`
  backslash-escapes `"`, `\\` and `]`;
* IP addresses (%ci, %fi, %si): strings, or with `+X` the address bytes in hexadecimal;
* ports (%cp, %fp, %sp): decimal, or four hexadecimal digits with `+X`; never quoted;
* numbers: decimal; `+X` only changes %Ts, %rt, %lc, %pid (`%04X`) and %ms (`%02X`);
  `option logasap` prefixes %B, %Ta, %Tt and %Tu with `+`;
* dates and termination states: never quoted;
* the request and its parts (%r, %HM, %HU, %HP, %HPO, %HQ, %HV): control characters, DEL
  and above, `"` and `#` become `#XX`; `<BADREQ>` when there was no valid request;
* header captures (%hr, %hs as `{a|b}`, %hrl, %hsl as a list): `{`, `|`, `}` are encoded
  too; nothing at all is printed for a frontend without captures or a stream without a
  request (HAProxy has no stream then).

With JSON encoding (`%{+json}o`) each named item prints as a JSON value instead: numbers
bare, everything else a JSON string (an absent string is `""`), %hrl/%hsl an array,
header captures that do not exist `null`.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from weir.log import formats, syslog
from weir.log.formats import (
    NOSRV,
    REQUEST_LINE_MAX,
    V_AC,
    V_ACC_MS,
    V_BC,
    V_BE,
    V_BQ,
    V_CIP,
    V_CPORT,
    V_FC,
    V_FE,
    V_IN,
    V_OUT,
    V_RC,
    V_REQ_MS,
    V_SC,
    V_SQ,
    V_SRV,
    V_ST,
    V_TA,
    V_TC,
    V_TD_HTTP,
    V_TD_TCP,
    V_TI,
    V_TQ,
    V_TR,
    V_TRSP,
    V_TSC,
    V_TT,
    V_TU,
    V_TW,
    LineValues,
    gmt_date,
    local_date_ms,
    local_date_tz,
    request_line,
)
from weir.log.lfparse import ESC, HEXA, MANDATORY, QUOTE, Expr, LogFormatError, Var
from weir.stream import Stream

Writer = Callable[[Stream, LineValues], str | None]
Getter = Callable[[Stream, LineValues], Any]

BADREQ = "<BADREQ>"


@dataclass(slots=True)
class Env:
    """What a format is compiled for: one frontend, in one context."""

    http: bool  # the proxy runs in mode http
    uid: bool = False  # unique-id-format: samples are %-encoded, never quoted
    n_req: int = 0  # `capture request header` lines
    n_res: int = 0  # `capture response header` lines
    asap: bool = False  # option logasap
    counter: list[int] = field(default_factory=lambda: [0])  # lines sent (%lc)
    local: tuple[str, int] | None = None  # the frontend's own address, when known
    hostname: str = ""


# ---- encodings -----------------------------------------------------------------------------

_ESC_RAW = re.compile(r'["\\\]]')  # +E on raw text
_ESC_ENC = re.compile(r"[\\\]]")  # +E on encoded text, where '"' already became #22
# Header captures hold raw header bytes decoded as ASCII with surrogateescape, so a byte
# above 0x7f is U+DC80..U+DCFF here.
_HDR_MAP = re.compile('[\x00-\x1f"#{|}\x7f\udc80-\udcff]')
_HTTP_MAP = re.compile("[\x00-\x08\x0a-\x1f\x7f]")  # %[…] in unique-id-format
_JSON_ESC = re.compile('[\x00-\x1f"\\\\\x7f\udc80-\udcff]')


def _byte(ch: str) -> int:
    o = ord(ch)
    return o - 0xDC00 if o >= 0xDC00 else o


def _backslash(m: re.Match[str]) -> str:
    return "\\" + m[0]


def _hash(m: re.Match[str]) -> str:
    return f"#{_byte(m[0]):02X}"


def _percent(m: re.Match[str]) -> str:
    return f"%{_byte(m[0]):02X}"


def _json_char(m: re.Match[str]) -> str:
    ch = m[0]
    if ch in '"\\':
        return "\\" + ch
    return f"\\u{_byte(ch):04x}"


def json_str(v: str) -> str:
    """A JSON string literal for `v` (control bytes, DEL and raw high bytes as \\u00XX)."""
    return '"' + _JSON_ESC.sub(_json_char, v) + '"'


def hdr_encode(v: str) -> str:
    return _HDR_MAP.sub(_hash, v)


def _hex_ip(v: str) -> str:
    try:
        return ipaddress.ip_address(v).packed.hex().upper()
    except ValueError:
        return v


def _text(v: bytes | None) -> str | None:
    return None if v is None else v.decode("ascii", "surrogateescape")


# ---- value getters -------------------------------------------------------------------------


def _cookie_cli(s: Stream, t: LineValues) -> str | None:
    v: str = s.cookie_cli
    return None if v == "-" else v


def _cookie_srv(s: Stream, t: LineValues) -> str | None:
    v: str = s.cookie_srv
    return None if v == "-" else v


def _fi(env: Env) -> Getter:
    def get(s: Stream, t: LineValues) -> str | None:
        addr = s.frontend_addr or env.local
        return addr[0] if addr is not None else None

    return get


def _fp(env: Env) -> Getter:
    def get(s: Stream, t: LineValues) -> int | None:
        addr = s.frontend_addr or env.local
        return addr[1] if addr is not None else None

    return get


def _si(s: Stream, t: LineValues) -> str | None:
    srv = s.server
    return srv.host if srv is not None else None


def _sp(s: Stream, t: LineValues) -> int | None:
    srv = s.server
    return srv.port if srv is not None else None


def _parts(s: Stream) -> tuple[bytes, bytes | None, bytes | None] | None:
    """(method, uri, version) of the logged request line, which is cut to 1023 bytes as
    HAProxy keeps it: a part lost to the cut is None. None without a valid request."""
    req = s.req
    if req is None:
        return None
    m: bytes = req.method
    uri: bytes = req.target
    v: bytes = req.version
    if len(m) + len(uri) + len(v) + 2 <= REQUEST_LINE_MAX:
        return m, uri, v
    line = b" ".join((m, uri, v))[:REQUEST_LINE_MAX]
    m, sp, rest = line.partition(b" ")
    if not sp:
        return m, None, None
    uri, sp, v = rest.partition(b" ")
    return m, uri, (v if sp else None)


def _url(v: bytes) -> str:
    if formats._URL_ESCAPE.search(v) is not None:
        v = formats._URL_ESCAPE.sub(formats._escape, v)
    return v.decode("ascii")


def _hm(s: Stream, t: LineValues) -> str:
    p = _parts(s)
    return BADREQ if p is None or p[1] is None else _url(p[0])


def _hu(s: Stream, t: LineValues) -> str:
    p = _parts(s)
    return BADREQ if p is None or p[1] is None else _url(p[1])


def _hp(s: Stream, t: LineValues) -> str:
    p = _parts(s)
    if p is None or p[1] is None:
        return BADREQ
    return _url(p[1].partition(b"?")[0])


def _path_only(uri: bytes) -> bytes:
    if uri[:1] != b"/" and uri != b"*":
        scheme = uri.find(b"://")
        if scheme < 0:
            return b""  # an authority (CONNECT): no path
        slash = uri.find(b"/", scheme + 3)
        uri = uri[slash:] if slash >= 0 else b""
    return uri.partition(b"?")[0]


def _hpo(s: Stream, t: LineValues) -> str:
    p = _parts(s)
    if p is None or p[1] is None:
        return BADREQ
    return _url(_path_only(p[1]))


def _hq(s: Stream, t: LineValues) -> str:
    p = _parts(s)
    if p is None:
        return BADREQ
    uri = p[1] or b""
    q = uri.find(b"?")
    return _url(uri[q:]) if q >= 0 else ""


def _hv(s: Stream, t: LineValues) -> str:
    p = _parts(s)
    if p is None or p[1] is None:
        return BADREQ
    return "HTTP/0.9" if p[2] is None else _url(p[2])


def _r(s: Stream, t: LineValues) -> str:
    return request_line(s.req)


def _pid(s: Stream, t: LineValues) -> int:
    return int(syslog._pid)


# ---- writers by kind ---------------------------------------------------------------------


def as_getter(get: Getter | int) -> Getter:
    if isinstance(get, int):
        i = get
        return lambda s, t: t[i]
    return get


def _absent(opts: int, pre: str) -> str:
    return pre + ('""' if opts & QUOTE else "-" if opts & MANDATORY else "")


def text_writer(get: Getter | int, opts: int, pre: str, *, encoded: bool = False) -> Writer:
    """A string item: quoted with +Q, escaped with +E, `-`/`""` when empty or absent."""
    absent = _absent(opts, pre)
    left = pre + '"' if opts & QUOTE else pre
    right = '"' if opts & QUOTE else ""
    esc = (_ESC_ENC if encoded else _ESC_RAW) if opts & ESC else None
    if isinstance(get, int):
        i = get
        if esc is None and not right:
            return lambda s, t: pre + t[i] if t[i] else absent
    fn: Getter = as_getter(get)

    def w(s: Stream, t: LineValues) -> str:
        v: str | None = fn(s, t)
        if not v:
            return absent
        if esc is not None:
            v = esc.sub(_backslash, v)
        return left + v + right

    return w


def url_writer(get: Getter, opts: int, pre: str) -> Writer:
    """The request or a part of it, already #-encoded: quoted with +Q, never `-`."""
    left = pre + '"' if opts & QUOTE else pre
    right = '"' if opts & QUOTE else ""
    if opts & ESC:
        return lambda s, t: left + _ESC_ENC.sub(_backslash, get(s, t)) + right
    return lambda s, t: left + get(s, t) + right


def num_writer(get: Getter | int, opts: int, pre: str, hexfmt: str = "") -> Writer:
    """A number: decimal, or `hexfmt` with +X where the item supports it."""
    fmt = hexfmt if opts & HEXA and hexfmt else ""
    if isinstance(get, int):
        i = get
        if fmt:
            return lambda s, t: pre + fmt % t[i]
        return lambda s, t: pre + str(t[i])
    fn = get
    if fmt:
        return lambda s, t: pre + fmt % fn(s, t)
    return lambda s, t: pre + str(fn(s, t))


def ip_writer(get: Getter | int, opts: int, pre: str) -> Writer:
    if not opts & HEXA:
        return text_writer(get, opts, pre)
    absent = _absent(opts, pre)
    get = as_getter(get)

    def w(s: Stream, t: LineValues) -> str:
        v = get(s, t)
        return pre + _hex_ip(v) if v else absent

    return w


def port_writer(get: Getter | int, opts: int, pre: str) -> Writer:
    absent = _absent(opts, pre)
    fmt = "%04X" if opts & HEXA else "%d"
    get = as_getter(get)

    def w(s: Stream, t: LineValues) -> str:
        v = get(s, t)
        return absent if v is None else pre + fmt % v

    return w


def plain_writer(get: Getter | int, pre: str) -> Writer:
    """Dates and termination states: printed as they are, whatever the flags."""
    fn = as_getter(get)
    return lambda s, t: pre + fn(s, t)


def capture_writer(name: str, count: int, opts: int, pre: str) -> Writer:
    """%hr/%hs (`{a|b}`) and %hrl/%hsl (`a b`, each `-` or `""` when absent)."""
    if count == 0:
        return lambda s, t: None
    res = name.startswith("hs")
    quote = bool(opts & QUOTE)
    esc = bool(opts & ESC)

    def enc(v: str) -> str:
        v = hdr_encode(v)
        return _ESC_ENC.sub(_backslash, v) if esc else v

    if name in ("hr", "hs"):
        left = pre + ('"{' if quote else "{")
        right = '}"' if quote else "}"

        def braces(s: Stream, t: LineValues) -> str | None:
            if s.req is None:
                return None
            caps = (s.res_cap if res else s.req_cap) or ()
            return left + "|".join([enc(v) if v else "" for v in caps] or [""] * count) + right

        return braces
    empty = '""' if quote else "-"

    def listed(s: Stream, t: LineValues) -> str | None:
        if s.req is None:
            return None
        caps = (s.res_cap if res else s.req_cap) or [None] * count
        if quote:
            return pre + " ".join([f'"{enc(v)}"' if v else empty for v in caps])
        return pre + " ".join([enc(v) if v else empty for v in caps])

    return listed


# ---- the variables -------------------------------------------------------------------------

# kind: "num", "plus" (num with logasap's '+'), "text", "ip", "port", "plain", "url",
# "cap", "ms"; http: HTTP mode only; get: a LineValues index or a getter.
_HEX4 = "%04X"
VARS: dict[str, tuple[str, bool, Any, str]] = {
    "B": ("plus", False, V_OUT, ""),
    "CC": ("text", True, _cookie_cli, ""),
    "CS": ("text", True, _cookie_srv, ""),
    "H": ("text", False, None, ""),  # the host name, bound at compile time
    "ID": ("text", False, lambda s, t: s.unique_id, ""),
    "ST": ("num", False, V_ST, ""),
    "T": ("plain", False, lambda s, t: gmt_date(t[V_ACC_MS] // 1000), ""),
    "Ta": ("plus", True, V_TA, ""),
    "Tc": ("num", False, V_TC, ""),
    "Td": ("num", False, None, ""),  # Td in HTTP or in TCP, chosen by mode
    "Th": ("num", False, lambda s, t: 0, ""),  # no TLS, no PROXY protocol yet
    "Ti": ("num", True, V_TI, ""),
    "Tl": ("plain", False, lambda s, t: local_date_tz(t[V_ACC_MS] // 1000), ""),
    "Tq": ("num", True, V_TQ, ""),
    "Tr": ("num", True, V_TRSP, ""),
    "TR": ("num", True, V_TR, ""),
    "Ts": ("num", False, lambda s, t: t[V_ACC_MS] // 1000, _HEX4),
    "Tt": ("plus", False, V_TT, ""),
    "Tu": ("plus", False, V_TU, ""),
    "Tw": ("num", False, V_TW, ""),
    "U": ("num", False, V_IN, ""),
    "ac": ("num", False, V_AC, ""),
    "b": ("text", False, V_BE, ""),
    "bc": ("num", False, V_BC, ""),
    "bq": ("num", False, V_BQ, ""),
    "ci": ("ip", False, V_CIP, ""),
    "cp": ("port", False, V_CPORT, ""),
    "f": ("text", False, V_FE, ""),
    "fc": ("num", False, V_FC, ""),
    "fi": ("ip", False, None, ""),  # bound to the frontend's address at compile time
    "fp": ("port", False, None, ""),
    "ft": ("text", False, lambda s, t: t[V_FE] + "~" if s.ssl is not None else t[V_FE], ""),
    "hr": ("cap", False, None, ""),
    "hrl": ("cap", False, None, ""),
    "hs": ("cap", False, None, ""),
    "hsl": ("cap", False, None, ""),
    "HM": ("url", True, _hm, ""),
    "HP": ("url", True, _hp, ""),
    "HPO": ("url", True, _hpo, ""),
    "HQ": ("url", True, _hq, ""),
    "HU": ("url", True, _hu, ""),
    "HV": ("url", True, _hv, ""),
    "lc": ("num", False, None, _HEX4),  # bound to the format's line counter
    "ms": ("ms", False, lambda s, t: t[V_ACC_MS] % 1000, ""),
    "pid": ("num", False, _pid, _HEX4),
    "r": ("url", True, _r, ""),
    "rc": ("num", False, V_RC, ""),
    "rt": ("num", False, lambda s, t: s.uniq_id, _HEX4),
    "s": ("text", False, V_SRV, ""),
    "sc": ("num", False, V_SC, ""),
    "si": ("ip", False, _si, ""),
    "sp": ("port", False, _sp, ""),
    "sq": ("num", False, V_SQ, ""),
    "sslc": ("text", False, lambda s, t: None, ""),  # no TLS yet: always absent
    "sslv": ("text", False, lambda s, t: None, ""),
    "t": ("plain", False, lambda s, t: local_date_ms(t[V_ACC_MS]), ""),
    "tr": ("plain", True, lambda s, t: local_date_ms(t[V_REQ_MS]), ""),
    "trg": ("plain", True, lambda s, t: gmt_date(t[V_REQ_MS] // 1000), ""),
    "trl": ("plain", True, lambda s, t: local_date_tz(t[V_REQ_MS] // 1000), ""),
    "ts": ("plain", False, lambda s, t: s.termination[:2], ""),
    "tsc": ("plain", False, V_TSC, ""),
}

# Items whose value is never empty: with an index getter and no +E/+X they print as
# `str(values[i])`, which the compiler can merge into one %-template.
NEVER_EMPTY = frozenset(("b", "s", "f", "ft", "ci", "tsc"))

REFUSED = {
    "bi": "the source address of the server connection is not recorded by weir yet",
    "bp": "the source port of the server connection is not recorded by weir yet",
}


def _bind(name: str, get: Any, env: Env) -> Any:
    """Getters that depend on what the format is compiled for."""
    if name == "H":
        host = env.hostname or socket.gethostname()
        return lambda s, t: host
    if name == "Td":
        return V_TD_HTTP if env.http else V_TD_TCP
    if name == "fi":
        return _fi(env)
    if name == "fp":
        return _fp(env)
    if name == "lc":
        cell = env.counter
        return lambda s, t: cell[0]
    return get


def lookup(var: Var, env: Env) -> tuple[str, Any, str]:
    """(kind, getter, hex format) of a variable, or LogFormatError naming the problem."""
    spec = VARS.get(var.name)
    if spec is None:
        why = REFUSED.get(var.name)
        if why is not None:
            raise LogFormatError(f"log-format variable '%{var.name}' is not supported: {why}")
        raise LogFormatError(
            f"unknown log-format variable '%{var.name}' (write '%%' for a literal '%')"
        )
    kind, http_only, get, hexfmt = spec
    if http_only and not env.http:
        raise LogFormatError(f"log-format variable '%{var.name}' needs 'mode http'")
    return kind, _bind(var.name, get, env), hexfmt


def template_of(var: Var, env: Env) -> tuple[int, str, str] | None:
    """(index, text before, text after) when the item prints exactly as
    `before + str(values[index]) + after`, so the compiler can merge a run of such items
    into one %-template; None otherwise."""
    kind, get, hexfmt = lookup(var, env)
    if not isinstance(get, int):
        return None
    opts = var.opts
    if kind in ("num", "plus"):
        if opts & HEXA and hexfmt:
            return None
        return get, "+" if kind == "plus" and env.asap else "", ""
    if kind == "port":
        return None if opts & HEXA else (get, "", "")
    if kind == "plain":
        return get, "", ""
    if kind in ("text", "ip") and var.name in NEVER_EMPTY and not opts & (ESC | HEXA):
        q = '"' if opts & QUOTE else ""
        return get, q, q
    return None


def json_template_of(var: Var, env: Env) -> tuple[int, str, str] | None:
    """`template_of` for JSON values: numbers bare, never-empty names quoted (they hold
    no character JSON would escape)."""
    kind, get, _ = lookup(var, env)
    if not isinstance(get, int):
        return None
    if kind in ("num", "plus", "port"):
        return get, "", ""
    if kind == "plain" or (kind in ("text", "ip") and var.name in NEVER_EMPTY):
        return get, '"', '"'
    return None


def var_writer(var: Var, env: Env, pre: str) -> Writer:
    kind, get, hexfmt = lookup(var, env)
    opts = var.opts
    if kind == "num":
        return num_writer(get, opts, pre, hexfmt)
    if kind == "plus":
        return num_writer(get, opts, pre + "+" if env.asap else pre)
    if kind == "text":
        return text_writer(get, opts, pre)
    if kind == "ip":
        return ip_writer(get, opts, pre)
    if kind == "port":
        return port_writer(get, opts, pre)
    if kind == "url":
        return url_writer(get, opts, pre)
    if kind == "ms":
        if opts & HEXA:
            return lambda s, t: pre + f"{get(s, t):02X}"
        return lambda s, t: pre + f"{get(s, t):03d}"
    if kind == "cap":
        return capture_writer(var.name, env.n_res if var.name[1] == "s" else env.n_req, opts, pre)
    return plain_writer(get, pre)


# ---- sample fetches ------------------------------------------------------------------------

# Where a fetch may be used, as `haproxy -dKsmp` prints it (weir.sample.vocabulary): the
# "logs" column for log lines, "frontend http-request header rule" for unique-id-format,
# which is computed while the request is parsed.
_LOG_COLUMN, _UID_COLUMN = 18, 3
_REQUEST_FETCHES = ("path", "url", "query", "hdr", "req.hdr")


def _capture_fetch(name: str, arg: str | None) -> Getter:
    try:
        idx = int(arg or "", 10)
    except ValueError:
        raise LogFormatError(f"'{name}' expects a capture number, as in %[{name}(0)]") from None
    if idx < 0:
        raise LogFormatError(f"'{name}' expects a capture number, as in %[{name}(0)]")
    res = name == "capture.res.hdr"

    def get(s: Stream, t: LineValues) -> str | None:
        caps = s.res_cap if res else s.req_cap
        return caps[idx] if caps is not None and idx < len(caps) else None

    return get


def fetch_getter(e: Expr, env: Env) -> Getter:
    """A getter for `%[fetch,converters…]`, or LogFormatError. A fetch is allowed where
    HAProxy 2.6 allows it: in log lines only what still exists when the stream ends
    (`method`, `src`, the captures, `status`, names, counters…), in unique-id-format
    what the request offers."""
    from weir.sample import vocabulary
    from weir.sample.core import LOG, REQ, STR, SampleError, compile_expr

    name = e.fetch
    if name in ("capture.req.hdr", "capture.res.hdr") and not e.converters:
        if env.uid and name == "capture.res.hdr":
            raise LogFormatError("'capture.res.hdr' cannot be used here: there is no response yet")
        return _capture_fetch(name, e.arg)
    flags = vocabulary.HAPROXY_FETCHES.get(name, ("",))[0]
    column = _UID_COLUMN if env.uid else _LOG_COLUMN
    if len(flags) > column and flags[column] != "Y":
        if name in _REQUEST_FETCHES and not env.uid:
            raise LogFormatError(
                f"sample fetch '{name}' cannot be used in a log format: the request is "
                "gone when the line is written (HAProxy refuses it too); %HU, %HP, %HQ or a "
                "'capture request header' line log the same information"
            )
        where = "unique-id-format" if env.uid else "a log format"
        raise LogFormatError(
            f"sample fetch '{name}' cannot be used in {where} (HAProxy refuses it too)"
        )
    try:
        expr = compile_expr(e.text, REQ if env.uid else LOG, want=STR)
    except SampleError as err:
        raise LogFormatError(f"in '%[{e.text}]': {err}") from None
    get = expr.get

    def getter(s: Stream, t: LineValues) -> str | None:
        return _text(get(s))

    return getter


def expr_writer(e: Expr, env: Env, pre: str) -> Writer:
    get = fetch_getter(e, env)
    if not env.uid:
        return text_writer(get, e.opts, pre)
    # unique-id-format: %-encoded, never quoted, nothing when absent (HAProxy's rules for
    # formats that build header values).
    esc = bool(e.opts & ESC)

    def w(s: Stream, t: LineValues) -> str:
        v = get(s, t)
        if not v:
            return pre
        v = _HTTP_MAP.sub(_percent, v)
        return pre + (_ESC_RAW.sub(_backslash, v) if esc else v)

    return w


# ---- JSON values ---------------------------------------------------------------------------


def json_writer(item: Var | Expr, env: Env) -> Writer:
    """The JSON value of one named item (keys are added by the caller)."""
    if isinstance(item, Expr):
        get = fetch_getter(item, env)
        return lambda s, t: json_str(get(s, t) or "")
    kind, getter, _ = lookup(item, env)
    fn = as_getter(getter)
    if kind in ("num", "plus", "ms"):
        return lambda s, t: str(fn(s, t))
    if kind == "port":
        return lambda s, t: '""' if (v := fn(s, t)) is None else str(v)
    if kind == "cap":
        count = env.n_res if item.name[1] == "s" else env.n_req
        res = item.name.startswith("hs")
        listed = item.name.endswith("l")
        if count == 0:
            return lambda s, t: "null"

        def cap(s: Stream, t: LineValues) -> str:
            if s.req is None:
                return "null"
            caps = (s.res_cap if res else s.req_cap) or [None] * count
            if listed:
                return "[" + ", ".join([json_str(hdr_encode(v) if v else "-") for v in caps]) + "]"
            return json_str("{" + "|".join([hdr_encode(v) if v else "" for v in caps]) + "}")

        return cap
    return lambda s, t: json_str(fn(s, t) or "")


__all__ = ["BADREQ", "NOSRV", "VARS", "Env", "Writer", "json_str", "var_writer"]
