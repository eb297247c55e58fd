"""OpenSSL contexts (Python's ssl module) built from weir.tls.conf settings.

A TLS bind gets one context per certificate, all with the bind's protocol settings; the
first certificate's context is the one the listener uses, and its SNI callback switches
the handshake to the context whose certificate names the requested host (exact names
first, then wildcards `*.example.com`, which cover one label). With `strict-sni` a name
no certificate covers aborts the handshake; otherwise the default certificate answers.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from weir.tls.conf import BindTls, Cert, ServerTls, TlsGlobal, VersionRange

_TLS_VERSION = {
    "SSLv3": ssl.TLSVersion.SSLv3,
    "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
_ORDER = list(_TLS_VERSION)
# weir speaks HTTP/1.1 only: other ALPN protocols are not advertised.
SPOKEN_ALPN = ("http/1.1",)


# The contexts that serve each certificate file, for the runtime API's `commit ssl cert`.
CERT_CONTEXTS: dict[str, list[ssl.SSLContext]] = {}


class TlsError(ValueError):
    """A certificate or setting that cannot be used; the message is for the user."""


def read_cert(path: str) -> Cert:
    """Check that `path` holds a certificate and its key (or that `path.key` holds the
    key), and find the names it answers for."""
    p = Path(path)
    try:
        text = p.read_text(errors="replace")
    except OSError as e:
        raise TlsError(f"unable to load SSL certificate file '{path}': {e.strerror}") from None
    if "-----BEGIN" not in text or "CERTIFICATE-----" not in text:
        raise TlsError(f"unable to load SSL certificate from PEM file '{path}'")
    key_path = None
    if "PRIVATE KEY-----" not in text:  # HAProxy then reads the key from FILE.key
        key_path = path + ".key"
        if not Path(key_path).is_file():
            raise TlsError(f"no private key in '{path}' (nor in '{key_path}')")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        ctx.load_cert_chain(path, key_path)
    except (ssl.SSLError, OSError) as e:
        raise TlsError(f"unable to load SSL certificate '{path}': {e}") from None
    return Cert(path, key_path, _names(path))


def _names(path: str) -> list[str]:
    try:
        info: dict[str, Any] = ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]
    except (ssl.SSLError, OSError, AttributeError):
        return []
    names: list[str] = []
    for kind, value in info.get("subjectAltName", ()):
        if kind == "DNS":
            names.append(value.lower())
    for rdn in info.get("subject", ()):
        for key, value in rdn:
            if key == "commonName" and value.lower() not in names:
                names.append(value.lower())
    return names


def certs_in(path: str) -> list[Cert]:
    """`crt FILE` is one certificate; `crt DIR` every certificate file in it, in name
    order, skipping the files HAProxy treats as companions (.key, .ocsp, .issuer, .sctl)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(
            f
            for f in p.iterdir()
            if f.is_file() and f.suffix not in (".key", ".ocsp", ".issuer", ".sctl")
        )
        return [read_cert(str(f)) for f in files]
    return [read_cert(path)]


def _apply_versions(ctx: ssl.SSLContext, v: VersionRange) -> None:
    allowed = [name for name in _ORDER if name not in v.disabled]
    if v.min_ver is not None:
        allowed = [n for n in allowed if _ORDER.index(n) >= _ORDER.index(v.min_ver)]
    if v.max_ver is not None:
        allowed = [n for n in allowed if _ORDER.index(n) <= _ORDER.index(v.max_ver)]
    if not allowed:
        raise TlsError("no TLS protocol version is left enabled")
    try:
        ctx.minimum_version = _TLS_VERSION[allowed[0]]
        ctx.maximum_version = _TLS_VERSION[allowed[-1]]
    except ValueError as e:
        raise TlsError(f"protocol versions: {e}") from None
    if not v.tickets:
        ctx.options |= ssl.OP_NO_TICKET
    if v.prefer_client_ciphers:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE


def _apply_ciphers(ctx: ssl.SSLContext, ciphers: str | None, suites: str | None) -> None:
    if ciphers:
        try:
            ctx.set_ciphers(ciphers)
        except ssl.SSLError:
            raise TlsError(f"no usable cipher in '{ciphers}'") from None
    if suites and hasattr(ctx, "set_ciphersuites"):  # Python builds with the call
        ctx.set_ciphersuites(suites)  # pragma: no cover


def _bind_context(b: BindTls, g: TlsGlobal, cert: Cert) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _apply_versions(ctx, b.versions or g.bind_options)
    _apply_ciphers(ctx, b.ciphers or g.bind_ciphers, b.ciphersuites or g.bind_ciphersuites)
    curves = b.curves or g.bind_curves
    if curves:
        try:
            ctx.set_ecdh_curve(curves.split(":")[0])
        except (ValueError, ssl.SSLError):
            raise TlsError(f"unknown curve in '{curves}'") from None
    ctx.load_cert_chain(cert.path, cert.key_path)
    CERT_CONTEXTS.setdefault(cert.path, []).append(ctx)
    if g.dh_param_file:
        ctx.load_dh_params(g.dh_param_file)
    if b.ca_file:
        ctx.load_verify_locations(b.ca_file)
    if b.crl_file:
        ctx.load_verify_locations(b.crl_file)
        ctx.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    ctx.verify_mode = {
        "none": ssl.CERT_NONE,
        "optional": ssl.CERT_OPTIONAL,
        "required": ssl.CERT_REQUIRED,
    }[b.verify]
    if b.alpn:
        spoken = [p for p in b.alpn if p in SPOKEN_ALPN]
        if spoken:
            ctx.set_alpn_protocols(spoken)
    return ctx


def bind_context(b: BindTls, g: TlsGlobal) -> ssl.SSLContext:
    """The listener's context, with SNI selection among the bind's certificates."""
    if not b.certs:
        raise TlsError("'ssl' needs at least one certificate ('crt' or 'crt-list')")
    contexts = [(cert, _bind_context(b, g, cert)) for cert in b.certs]
    default = contexts[0][1]
    exact: dict[str, ssl.SSLContext] = {}
    wild: dict[str, ssl.SSLContext] = {}
    for cert, ctx in contexts:
        for name in cert.filters or cert.names:
            if name.startswith("!"):
                continue
            table, key = (wild, name[2:]) if name.startswith("*.") else (exact, name)
            table.setdefault(key, ctx)
    strict = b.strict_sni

    def pick(sslobj: Any, server_name: str | None, ctx: ssl.SSLContext) -> int | None:
        sslobj.weir_sni = server_name
        if server_name is None:
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE if strict else None
        name = server_name.lower()
        found = exact.get(name)
        if found is None:
            _, dot, parent = name.partition(".")
            found = wild.get(parent) if dot else None
        if found is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME if strict else None
        if found is not ctx:
            sslobj.context = found
        return None

    default.sni_callback = pick
    return default


def server_context(s: ServerTls, g: TlsGlobal) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False  # HAProxy checks the name only with `verifyhost`
    verify = s.verify or g.server_verify
    _apply_versions(ctx, s.versions or g.server_options)
    _apply_ciphers(ctx, s.ciphers or g.server_ciphers, s.ciphersuites or g.server_ciphersuites)
    if verify == "required":
        ctx.verify_mode = ssl.CERT_REQUIRED
        if s.ca_file:
            ctx.load_verify_locations(s.ca_file)
        else:
            ctx.load_default_certs()
    else:
        ctx.verify_mode = ssl.CERT_NONE
    if s.crt:
        ctx.load_cert_chain(s.crt)
    if s.alpn:
        spoken = [p for p in s.alpn if p in SPOKEN_ALPN]
        if spoken:
            ctx.set_alpn_protocols(spoken)
    return ctx
