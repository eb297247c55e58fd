"""Test certificates made at test time with the openssl command: a CA, server
certificates for given names (with subjectAltName), and a client certificate."""

from __future__ import annotations

import subprocess
from pathlib import Path

_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


def _run(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


class CertAuthority:
    """A certificate authority in `workdir` that signs certificates on demand."""

    def __init__(self, workdir: Path, name: str = "ca") -> None:
        self.dir = workdir
        self.name = name
        _run("req", "-x509", *_KEY, "-keyout", f"{name}.key", "-out", f"{name}.pem",
             "-days", "2", "-subj", f"/CN=weir test {name}", cwd=workdir)  # fmt: skip
        self.pem = workdir / f"{name}.pem"

    def issue(self, stem: str, subject: str, dns: list[str] | None = None, days: int = 2) -> Path:
        """A PEM file with the certificate and its key, signed by this CA."""
        _run("req", *_KEY, "-keyout", f"{stem}.key", "-out", f"{stem}.csr", "-subj", subject,
             cwd=self.dir)  # fmt: skip
        ext = self.dir / f"{stem}.ext"
        ext.write_text(f"subjectAltName={','.join('DNS:' + d for d in dns)}\n" if dns else "")
        _run("x509", "-req", "-in", f"{stem}.csr", "-CA", f"{self.name}.pem",
             "-CAkey", f"{self.name}.key", "-CAcreateserial", "-out", f"{stem}.crt",
             "-days", str(days), "-extfile", str(ext), cwd=self.dir)  # fmt: skip
        pem = self.dir / f"{stem}.pem"
        pem.write_bytes(
            (self.dir / f"{stem}.crt").read_bytes() + (self.dir / f"{stem}.key").read_bytes()
        )
        return pem
