"""What the TLS handshake of the client connection produced (`bind ... ssl`):
`ssl_fc*` for the connection, `ssl_c_*` for the client certificate. `stream.ssl` is the
connection's ssl.SSLObject, or None on a plain connection (every fetch but `ssl_fc` is
then absent)."""

from __future__ import annotations

import hashlib
import ssl
import time
from typing import Any

from weir.sample.core import BIN, BOOL, INT, STR, simple_fetch
from weir.stream import Stream

_SHORT = {
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "commonName": "CN",
    "emailAddress": "emailAddress",
}


@simple_fetch("ssl_fc", BOOL, doc="the client connection is TLS")
def _ssl_fc(s: Stream) -> bool:
    return s.ssl is not None


@simple_fetch("ssl_fc_sni", STR, doc="the server name the client asked for")
def _ssl_fc_sni(s: Stream) -> bytes | None:
    name = getattr(s.ssl, "weir_sni", None)
    return name.encode() if name else None


@simple_fetch("ssl_fc_has_sni", BOOL)
def _ssl_fc_has_sni(s: Stream) -> bool | None:
    return None if s.ssl is None else bool(getattr(s.ssl, "weir_sni", None))


@simple_fetch("ssl_fc_protocol", STR, doc="TLSv1.2, TLSv1.3 …")
def _ssl_fc_protocol(s: Stream) -> bytes | None:
    v = s.ssl.version() if s.ssl is not None else None
    return v.encode() if v else None


@simple_fetch("ssl_fc_cipher", STR)
def _ssl_fc_cipher(s: Stream) -> bytes | None:
    c = s.ssl.cipher() if s.ssl is not None else None
    return c[0].encode() if c else None


@simple_fetch("ssl_fc_use_keysize", INT)
def _ssl_fc_use_keysize(s: Stream) -> int | None:
    c = s.ssl.cipher() if s.ssl is not None else None
    return int(c[2]) if c else None


@simple_fetch("ssl_fc_alpn", STR)
def _ssl_fc_alpn(s: Stream) -> bytes | None:
    p = s.ssl.selected_alpn_protocol() if s.ssl is not None else None
    return p.encode() if p else None


def _der(s: Stream) -> bytes | None:
    if s.ssl is None:
        return None
    der: bytes | None = s.ssl.getpeercert(binary_form=True)
    return der


def _cert(s: Stream) -> dict[str, Any] | None:
    if s.ssl is None:
        return None
    info: dict[str, Any] | None = s.ssl.getpeercert()
    return info or None


@simple_fetch("ssl_c_used", BOOL, doc="the client presented a certificate")
def _ssl_c_used(s: Stream) -> bool | None:
    return None if s.ssl is None else _der(s) is not None


@simple_fetch("ssl_c_verify", INT, doc="0: the client certificate verified")
def _ssl_c_verify(s: Stream) -> int | None:
    # A certificate that does not verify ends the handshake: only verified ones get here.
    return None if s.ssl is None else 0


@simple_fetch("ssl_c_der", BIN)
def _ssl_c_der(s: Stream) -> bytes | None:
    return _der(s)


@simple_fetch("ssl_c_sha1", BIN)
def _ssl_c_sha1(s: Stream) -> bytes | None:
    der = _der(s)
    return hashlib.sha1(der).digest() if der else None


def _dn(info: dict[str, Any] | None, key: str) -> bytes | None:
    if not info or key not in info:
        return None
    parts = [f"/{_SHORT.get(k, k)}={v}" for rdn in info[key] for k, v in rdn]
    return "".join(parts).encode()


@simple_fetch("ssl_c_s_dn", STR, doc="the client certificate's subject, /C=../O=../CN=..")
def _ssl_c_s_dn(s: Stream) -> bytes | None:
    return _dn(_cert(s), "subject")


@simple_fetch("ssl_c_i_dn", STR, doc="the client certificate's issuer")
def _ssl_c_i_dn(s: Stream) -> bytes | None:
    return _dn(_cert(s), "issuer")


@simple_fetch("ssl_c_serial", BIN)
def _ssl_c_serial(s: Stream) -> bytes | None:
    info = _cert(s)
    if not info or "serialNumber" not in info:
        return None
    serial: str = info["serialNumber"]
    return bytes.fromhex(serial if len(serial) % 2 == 0 else "0" + serial)


def _date(info: dict[str, Any] | None, key: str) -> bytes | None:
    if not info or key not in info:
        return None
    seconds = ssl.cert_time_to_seconds(info[key])
    return time.strftime("%y%m%d%H%M%SZ", time.gmtime(seconds)).encode()


@simple_fetch("ssl_c_notafter", STR, doc="YYMMDDhhmmssZ")
def _ssl_c_notafter(s: Stream) -> bytes | None:
    return _date(_cert(s), "notAfter")


@simple_fetch("ssl_c_notbefore", STR, doc="YYMMDDhhmmssZ")
def _ssl_c_notbefore(s: Stream) -> bytes | None:
    return _date(_cert(s), "notBefore")
