"""TLS keywords: global defaults, bind options and server options (see weir.tls.conf)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from weir.config.model import Bind, Config, ServerConf
from weir.config.parser import Ctx
from weir.config.registry import BIND_OPTIONS, SERVER_OPTIONS, Args, keyword
from weir.config.units import parse_int, parse_time
from weir.tls.conf import VERSIONS, BindTls, ServerTls, TlsGlobal, VersionRange
from weir.tls.context import TlsError, certs_in


def tls_global(cfg: Config) -> TlsGlobal:
    g = cfg.global_
    if g.tls is None:
        g.tls = TlsGlobal()
    assert isinstance(g.tls, TlsGlobal)
    return g.tls


def _path(base: str | None, name: str) -> str:
    return name if base is None or name.startswith("/") else str(Path(base) / name)


# ---- version options, shared by global defaults, binds and servers ------------------------

_NO = {"no-sslv3": "SSLv3", "no-tlsv10": "TLSv1.0", "no-tlsv11": "TLSv1.1"}
_NO |= {"no-tlsv12": "TLSv1.2", "no-tlsv13": "TLSv1.3"}
_FORCE = {"force-sslv3": "SSLv3", "force-tlsv10": "TLSv1.0", "force-tlsv11": "TLSv1.1"}
_FORCE |= {"force-tlsv12": "TLSv1.2", "force-tlsv13": "TLSv1.3"}


def _version_word(v: VersionRange, word: str, value: str | None) -> str | None:
    """Apply one version option; the problem, or None."""
    if word in _NO:
        v.disabled.add(_NO[word])
    elif word in _FORCE:
        v.min_ver = v.max_ver = _FORCE[word]
    elif word in ("ssl-min-ver", "ssl-max-ver"):
        if value not in VERSIONS:
            return f"'{word}' expects one of {', '.join(VERSIONS)}"
        if word == "ssl-min-ver":
            v.min_ver = value
        else:
            v.max_ver = value
    elif word == "no-tls-tickets":
        v.tickets = False
    elif word == "prefer-client-ciphers":
        v.prefer_client_ciphers = True
    else:
        return f"unknown option '{word}'"
    return None


def _default_options(ctx: Ctx, args: Args, v: VersionRange) -> None:
    i = 0
    while i < len(args):
        word = args[i]
        takes_value = word in ("ssl-min-ver", "ssl-max-ver") and i + 1 < len(args)
        value = args[i + 1] if takes_value else None
        problem = _version_word(v, word, value)
        if problem is not None:
            ctx.error(problem)
            return
        i += 2 if value is not None else 1


# ---- global --------------------------------------------------------------------------------


def _global_str(name: str, field: str, doc: str) -> None:
    def handler(ctx: Ctx, args: Args) -> None:
        if ctx.expect(args, 1, 1, "one value"):
            setattr(tls_global(ctx.cfg), field, args[0])

    keyword(name, "g", "<value>", doc)(handler)


_global_str("ca-base", "ca_base", "Directory of relative CA and CRL file names.")
_global_str("crt-base", "crt_base", "Directory of relative certificate file names.")
_global_str("ssl-default-bind-ciphers", "bind_ciphers", "Default TLS 1.2 ciphers of binds.")
_global_str(
    "ssl-default-bind-ciphersuites", "bind_ciphersuites", "Default TLS 1.3 suites of binds."
)
_global_str("ssl-default-bind-curves", "bind_curves", "Default ECDHE curves of binds.")
_global_str("ssl-default-server-ciphers", "server_ciphers", "Default TLS 1.2 ciphers to servers.")
_global_str(
    "ssl-default-server-ciphersuites", "server_ciphersuites", "Default TLS 1.3 suites to servers."
)
_global_str("ssl-dh-param-file", "dh_param_file", "Diffie-Hellman parameters for DHE ciphers.")


@keyword("ssl-default-bind-options", "g", "<option>...", "Default version options of binds.")
def _bind_defaults(ctx: Ctx, args: Args) -> None:
    _default_options(ctx, args, tls_global(ctx.cfg).bind_options)


@keyword("ssl-default-server-options", "g", "<option>...", "Default version options to servers.")
def _server_defaults(ctx: Ctx, args: Args) -> None:
    _default_options(ctx, args, tls_global(ctx.cfg).server_options)


@keyword("ssl-server-verify", "g", "none|required", "Verify servers' certificates by default.")
def _server_verify(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "'none' or 'required'"):
        if args[0] not in ("none", "required"):
            ctx.error(f"expects 'none' or 'required', got '{args[0]}'")
            return
        tls_global(ctx.cfg).server_verify = args[0]


@keyword("tune.ssl.default-dh-param", "g", "<bits>", "Size of generated DH parameters.")
def _dh_param(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number of bits"):
        try:
            tls_global(ctx.cfg).dh_param_bits = parse_int(args[0], low=1024, what="DH size")
        except ValueError as e:
            ctx.error(str(e))


@keyword("tune.ssl.cachesize", "g", "<entries>", "Size of the TLS session cache.")
def _cachesize(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a number of entries"):
        try:
            tls_global(ctx.cfg).cache_size = parse_int(args[0], what="cache size")
        except ValueError as e:
            ctx.error(str(e))


@keyword("tune.ssl.lifetime", "g", "<time>", "Lifetime of cached TLS sessions.")
def _lifetime(ctx: Ctx, args: Args) -> None:
    if ctx.expect(args, 1, 1, "a time"):
        try:
            tls_global(ctx.cfg).lifetime_s = parse_time(args[0], default_unit="s") // 1000
        except ValueError as e:
            ctx.error(str(e))


# ---- bind options -----------------------------------------------------------------------------


def _bind_tls(target: object) -> BindTls:
    assert isinstance(target, Bind)
    if target.ssl is None:
        target.ssl = BindTls()
    assert isinstance(target.ssl, BindTls)
    return target.ssl


def _bind_versions(ctx: Ctx, b: BindTls) -> VersionRange:
    if b.versions is None:
        b.versions = copy.deepcopy(tls_global(ctx.cfg).bind_options)
    return b.versions


def _bind_opt(name: str, nargs: int, usage: str, doc: str) -> Callable[[Any], Any]:
    return BIND_OPTIONS.option(name, nargs, usage, doc)


@_bind_opt("ssl", 0, "", "Terminate TLS on this listener.")
def _b_ssl(ctx: Ctx, target: object, args: Args) -> None:
    _bind_tls(target).enabled = True


@_bind_opt("crt", 1, "<file|dir>", "A PEM certificate with its chain and key (a directory: all).")
def _b_crt(ctx: Ctx, target: object, args: Args) -> None:
    path = _path(tls_global(ctx.cfg).crt_base, args[0])
    try:
        _bind_tls(target).certs.extend(certs_in(path))
    except TlsError as e:
        ctx.error(str(e))


@_bind_opt("crt-list", 1, "<file>", "Certificates, one per line, with their SNI filters.")
def _b_crt_list(ctx: Ctx, target: object, args: Args) -> None:
    g = tls_global(ctx.cfg)
    try:
        lines = Path(args[0]).read_text().splitlines()
    except OSError as e:
        ctx.error(f"cannot read crt-list '{args[0]}': {e.strerror}")
        return
    b = _bind_tls(target)
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if "[" in line:
            before, _, rest = line.partition("[")
            opts, _, after = rest.partition("]")
            if opts.strip():
                ctx.error(f"{args[0]}:{n}: per-certificate options are not supported yet")
                return
            words = before.split() + after.split()
        try:
            certs = certs_in(_path(g.crt_base, words[0]))
        except TlsError as e:
            ctx.error(f"{args[0]}:{n}: {e}")
            return
        for cert in certs:
            cert.filters = [w.lower() for w in words[1:]]
        b.certs.extend(certs)


@_bind_opt("ca-file", 1, "<file>", "CA certificates that client certificates must chain to.")
def _b_ca_file(ctx: Ctx, target: object, args: Args) -> None:
    path = _path(tls_global(ctx.cfg).ca_base, args[0])
    if not Path(path).is_file():
        ctx.error(f"unable to load CA file '{path}'")
        return
    _bind_tls(target).ca_file = path


@_bind_opt("crl-file", 1, "<file>", "Certificate revocation list for client certificates.")
def _b_crl_file(ctx: Ctx, target: object, args: Args) -> None:
    path = _path(tls_global(ctx.cfg).ca_base, args[0])
    if not Path(path).is_file():
        ctx.error(f"unable to load CRL file '{path}'")
        return
    _bind_tls(target).crl_file = path


@_bind_opt("verify", 1, "none|optional|required", "Ask clients for a certificate.")
def _b_verify(ctx: Ctx, target: object, args: Args) -> None:
    if args[0] not in ("none", "optional", "required"):
        ctx.error(f"'verify' expects none, optional or required, got '{args[0]}'")
        return
    _bind_tls(target).verify = args[0]


@_bind_opt("alpn", 1, "<protocols>", "Protocols offered by ALPN (weir speaks http/1.1).")
def _b_alpn(ctx: Ctx, target: object, args: Args) -> None:
    protos = [p for p in args[0].split(",") if p]
    if any(p != "http/1.1" for p in protos):
        ctx.warn(f"'alpn {args[0]}': weir speaks HTTP/1.1 only and offers only 'http/1.1'")
    _bind_tls(target).alpn = protos


@_bind_opt("ciphers", 1, "<list>", "TLS 1.2 ciphers of this listener.")
def _b_ciphers(ctx: Ctx, target: object, args: Args) -> None:
    _bind_tls(target).ciphers = args[0]


@_bind_opt("ciphersuites", 1, "<list>", "TLS 1.3 cipher suites of this listener.")
def _b_ciphersuites(ctx: Ctx, target: object, args: Args) -> None:
    _bind_tls(target).ciphersuites = args[0]


@_bind_opt("curves", 1, "<list>", "ECDHE curves of this listener.")
def _b_curves(ctx: Ctx, target: object, args: Args) -> None:
    _bind_tls(target).curves = args[0]


@_bind_opt("ecdhe", 1, "<curve>", "The ECDHE curve of this listener.")
def _b_ecdhe(ctx: Ctx, target: object, args: Args) -> None:
    _bind_tls(target).curves = args[0]


@_bind_opt("strict-sni", 0, "", "Refuse handshakes whose SNI no certificate covers.")
def _b_strict_sni(ctx: Ctx, target: object, args: Args) -> None:
    _bind_tls(target).strict_sni = True


def _bind_version_option(name: str, nargs: int, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        b = _bind_tls(target)
        problem = _version_word(_bind_versions(ctx, b), name, args[0] if args else None)
        if problem is not None:
            ctx.error(problem)

    BIND_OPTIONS.option(name, nargs, "<version>" if nargs else "", doc)(handler)


def _server_version_option(name: str, nargs: int, doc: str) -> None:
    def handler(ctx: Ctx, target: object, args: Args) -> None:
        s = _server_tls(target)
        if s.versions is None:
            s.versions = copy.deepcopy(tls_global(ctx.cfg).server_options)
        problem = _version_word(s.versions, name, args[0] if args else None)
        if problem is not None:
            ctx.error(problem)

    SERVER_OPTIONS.option(name, nargs, "<version>" if nargs else "", doc)(handler)


for _name, _doc in (
    *((n, f"Disable {v}.") for n, v in _NO.items()),
    *((n, f"Use {v} only.") for n, v in _FORCE.items()),
):
    _bind_version_option(_name, 0, _doc)
    _server_version_option(_name, 0, _doc)
for _name, _doc in (("ssl-min-ver", "Lowest version."), ("ssl-max-ver", "Highest version.")):
    _bind_version_option(_name, 1, _doc)
    _server_version_option(_name, 1, _doc)
_bind_version_option("no-tls-tickets", 0, "Do not issue TLS session tickets.")
_bind_version_option("prefer-client-ciphers", 0, "Use the client's cipher preference.")


# ---- server options ----------------------------------------------------------------------------


def _server_tls(target: object) -> ServerTls:
    assert isinstance(target, ServerConf)
    if target.ssl is None:
        target.ssl = ServerTls()
    assert isinstance(target.ssl, ServerTls)
    return target.ssl


@SERVER_OPTIONS.option("ssl", 0, "", "Speak TLS to this server.")
def _s_ssl(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).enabled = True


@SERVER_OPTIONS.option("verify", 1, "none|required", "Check the server's certificate.")
def _s_verify(ctx: Ctx, target: object, args: Args) -> None:
    if args[0] not in ("none", "required"):
        ctx.error(f"'verify' expects none or required, got '{args[0]}'")
        return
    _server_tls(target).verify = args[0]


@SERVER_OPTIONS.option("ca-file", 1, "<file>", "CA certificates the server's must chain to.")
def _s_ca_file(ctx: Ctx, target: object, args: Args) -> None:
    path = _path(tls_global(ctx.cfg).ca_base, args[0])
    if not Path(path).is_file():
        ctx.error(f"unable to load CA file '{path}'")
        return
    _server_tls(target).ca_file = path


@SERVER_OPTIONS.option("crt", 1, "<file>", "Client certificate presented to the server.")
def _s_crt(ctx: Ctx, target: object, args: Args) -> None:
    path = _path(tls_global(ctx.cfg).crt_base, args[0])
    try:
        certs_in(path)
    except TlsError as e:
        ctx.error(str(e))
        return
    _server_tls(target).crt = path


@SERVER_OPTIONS.option("sni", 1, "<expr>", "Server name sent in the handshake (an expression).")
def _s_sni(ctx: Ctx, target: object, args: Args) -> None:
    from weir.sample.core import REQ, SampleError, compile_expr

    try:
        compile_expr(args[0], REQ)
    except SampleError as e:
        ctx.error(f"'sni': {e}")
        return
    _server_tls(target).sni = args[0]


@SERVER_OPTIONS.option("alpn", 1, "<protocols>", "Protocols offered to the server by ALPN.")
def _s_alpn(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).alpn = [p for p in args[0].split(",") if p]


@SERVER_OPTIONS.option("ciphers", 1, "<list>", "TLS 1.2 ciphers offered to the server.")
def _s_ciphers(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).ciphers = args[0]


@SERVER_OPTIONS.option("ciphersuites", 1, "<list>", "TLS 1.3 suites offered to the server.")
def _s_ciphersuites(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).ciphersuites = args[0]


@SERVER_OPTIONS.option("check-ssl", 0, "", "Run this server's health checks over TLS.")
def _s_check_ssl(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).check_ssl = True


@SERVER_OPTIONS.option("check-sni", 1, "<name>", "The server name health checks send (TLS).")
def _s_check_sni(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).check_sni = args[0]


@SERVER_OPTIONS.option("no-ssl-reuse", 0, "", "Do not resume TLS sessions with this server.")
def _s_no_reuse(ctx: Ctx, target: object, args: Args) -> None:
    _server_tls(target).reuse = False
