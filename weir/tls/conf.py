"""TLS settings as the configuration states them: global defaults, each `bind ... ssl`
line, each `server ... ssl` line. Contexts are built from these by weir.tls.context.

Keywords (HAProxy 2.6's):

    global   ca-base DIR, crt-base DIR, ssl-default-bind-options OPTS...,
             ssl-default-bind-ciphers LIST, ssl-default-bind-ciphersuites LIST,
             ssl-default-bind-curves LIST, ssl-default-server-options OPTS...,
             ssl-default-server-ciphers LIST, ssl-default-server-ciphersuites LIST,
             ssl-server-verify none|required, tune.ssl.default-dh-param BITS,
             tune.ssl.cachesize N, tune.ssl.lifetime T, ssl-dh-param-file FILE
    bind     ssl, crt FILE|DIR (several), crt-list FILE, ca-file F, verify none|optional|
             required, crl-file F, alpn LIST, ssl-min-ver V, ssl-max-ver V, ciphers L,
             ciphersuites L, curves L, ecdhe C, no-sslv3, no-tlsv10..13, force-tlsv1x,
             strict-sni, no-tls-tickets, prefer-client-ciphers
    server   ssl, verify none|required, ca-file F, crt F, sni EXPR, alpn LIST,
             ssl-min-ver V, ssl-max-ver V, ciphers L, ciphersuites L, no-ssl-reuse,
             no-sslv3, no-tlsv10..13, force-tlsv1x

Certificate and CA files are read (and checked) while the configuration loads, so a
missing or broken one is an error with its file and line, as `haproxy -c` reports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VERSIONS = ("SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3")


@dataclass(slots=True)
class VersionRange:
    """The protocol versions allowed, from the `ssl-min-ver`/`ssl-max-ver`/`no-*`/
    `force-*` options (None: the library's default)."""

    min_ver: str | None = None
    max_ver: str | None = None
    disabled: set[str] = field(default_factory=set)
    tickets: bool = True
    prefer_client_ciphers: bool = False


@dataclass(slots=True)
class TlsGlobal:
    ca_base: str | None = None
    crt_base: str | None = None
    bind_options: VersionRange = field(default_factory=VersionRange)
    bind_ciphers: str | None = None
    bind_ciphersuites: str | None = None
    bind_curves: str | None = None
    server_options: VersionRange = field(default_factory=VersionRange)
    server_ciphers: str | None = None
    server_ciphersuites: str | None = None
    server_verify: str = "required"
    dh_param_bits: int = 2048
    dh_param_file: str | None = None
    cache_size: int = 20000
    lifetime_s: int = 300


@dataclass(slots=True)
class Cert:
    """One certificate with its chain and key, and the names it answers for."""

    path: str
    key_path: str | None  # None: the key is in `path`
    names: list[str]  # CN and DNS subjectAltNames, lower case; may start with "*."
    filters: list[str] = field(default_factory=list)  # crt-list SNI filters, if any


@dataclass(slots=True)
class BindTls:
    enabled: bool = False  # the `ssl` keyword
    certs: list[Cert] = field(default_factory=list)
    ca_file: str | None = None
    verify: str = "none"
    crl_file: str | None = None
    alpn: list[str] | None = None
    versions: VersionRange | None = None  # None: the global defaults
    ciphers: str | None = None
    ciphersuites: str | None = None
    curves: str | None = None
    strict_sni: bool = False


@dataclass(slots=True)
class ServerTls:
    enabled: bool = False
    verify: str | None = None  # None: `ssl-server-verify`
    ca_file: str | None = None
    crt: str | None = None
    sni: str | None = None  # a sample expression
    alpn: list[str] | None = None
    versions: VersionRange | None = None
    ciphers: str | None = None
    ciphersuites: str | None = None
    reuse: bool = True
    check_ssl: bool = False  # `check-ssl`: health checks over TLS even without `ssl`
    check_sni: str | None = None  # `check-sni`: the name health checks send
    check_context: Any = None  # ssl.SSLContext for checks, set when the runtime is built
