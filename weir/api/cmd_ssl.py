"""Certificates on the runtime API: `show ssl cert`, `set ssl cert` (stage a new PEM for a
loaded certificate file), `commit ssl cert` (new handshakes use it; connections already
open keep theirs) and `abort ssl cert`, with HAProxy's answers. The file on disk is not
rewritten, as in HAProxy."""

from __future__ import annotations

import ssl
import tempfile
from pathlib import Path

from weir.api.commands import Request, command
from weir.api.conf import Level
from weir.tls.context import CERT_CONTEXTS

_STAGED: dict[str, str] = {}


@command(
    "show ssl cert", "show ssl cert [<certfile>]", "display the SSL certificates", Level.OPERATOR
)
def _show(req: Request, args: list[str]) -> str:
    if len(args) < 4:
        staged = "".join(f"*{p}\n" for p in _STAGED)
        return (
            "# transaction\n" + staged + "# filename\n" + "".join(f"{p}\n" for p in CERT_CONTEXTS)
        )
    path = args[3].lstrip("*")
    if path not in CERT_CONTEXTS:
        return "Can't display the certificate: Not found or the certificate is a bundle!\n"
    info = ssl._ssl._test_decode_cert(path)  # type: ignore[attr-defined]
    subject = "".join(f"/{k}={v}" for rdn in info.get("subject", ()) for k, v in rdn)
    issuer = "".join(f"/{k}={v}" for rdn in info.get("issuer", ()) for k, v in rdn)
    names = ", ".join(v for k, v in info.get("subjectAltName", ()) if k == "DNS")
    return (
        f"Filename: {path}\nStatus: Used\nSerial: {info.get('serialNumber', '')}\n"
        f"notBefore: {info.get('notBefore', '')}\nnotAfter: {info.get('notAfter', '')}\n"
        f"Subject Alternative Name: {names}\nSubject: {subject}\nIssuer: {issuer}\n"
    )


@command(
    "set ssl cert", "set ssl cert <certfile> <payload>", "replace a certificate file", Level.ADMIN
)
def _set(req: Request, args: list[str]) -> str:
    if len(args) < 4 or not req.payload:
        return "'set ssl cert' expects a filename and a certificate as a payload\n"
    path = args[3]
    if path not in CERT_CONTEXTS:
        return "Can't replace a certificate which is not referenced by the configuration!\n"
    _STAGED[path] = req.payload + "\n"
    return f"Transaction created for certificate {path}!\n"


@command("commit ssl cert", "commit ssl cert <certfile>", "commit a certificate file", Level.ADMIN)
def _commit(req: Request, args: list[str]) -> str:
    if len(args) < 4:
        return "'commit ssl cert' expects a filename\n"
    path = args[3]
    pem = _STAGED.get(path)
    if pem is None:
        return "No ongoing transaction! !\n"
    with tempfile.TemporaryDirectory() as d:
        staged = Path(d) / "cert.pem"
        staged.write_text(pem)
        try:
            for ctx in CERT_CONTEXTS[path]:
                ctx.load_cert_chain(str(staged))
        except (ssl.SSLError, OSError) as e:
            return f"Committing {path}\nError: unable to load the certificate: {e}\n"
    del _STAGED[path]
    return f"Committing {path}\nSuccess!\n"


@command(
    "abort ssl cert",
    "abort ssl cert <certfile>",
    "abort a transaction for a certificate file",
    Level.ADMIN,
)
def _abort(req: Request, args: list[str]) -> str:
    if len(args) < 4 or _STAGED.pop(args[3], None) is None:
        return "No ongoing transaction!\n"
    return f"Transaction aborted for certificate '{args[3]}'!\n"
