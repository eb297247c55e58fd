"""crypt(3) hashes checked in pure Python (weir.auth.crypt): vectors from the SHA-crypt
specification and from `openssl passwd`."""

from __future__ import annotations

import subprocess

import pytest

from weir.auth.crypt import CryptError, check_scheme, crypt, verify

SPEC = [
    (
        b"Hello world!",
        b"$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA",
    ),
    (
        b"Hello world!",
        b"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/"
        b"UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.",
    ),
]


@pytest.mark.parametrize(("password", "hashed"), SPEC)
def test_specification_vectors(password: bytes, hashed: bytes) -> None:
    assert crypt(password, hashed) == hashed
    assert verify(password, hashed)
    assert not verify(password + b"x", hashed)


@pytest.mark.parametrize("flag", ["-6", "-5", "-1"])
def test_openssl_made_hashes(flag: str) -> None:
    for password in ("secret", "x", "a much longer password than the digest is wide" * 2):
        hashed = subprocess.run(
            ["openssl", "passwd", flag, password], capture_output=True, check=True
        ).stdout.strip()
        assert verify(password.encode(), hashed), (flag, password)
        assert not verify(b"other", hashed)


def test_unsupported_schemes() -> None:
    assert check_scheme("$2y$10$abcdefghijklmnopqrstuv") is not None
    assert check_scheme("plaintext") is not None
    assert check_scheme("$6$salt$x") is None
    with pytest.raises(CryptError):
        crypt(b"x", b"$2y$10$abc")
    assert not verify(b"x", b"$2y$10$abc")
