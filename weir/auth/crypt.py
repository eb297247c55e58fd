"""Password hashes as crypt(3) writes them, checked in pure Python: SHA-512 (`$6$`),
SHA-256 (`$5$`, both with an optional `rounds=N$`) and MD5 (`$1$`) — the schemes
HAProxy users put in `userlist` sections (`mkpasswd -m sha-512`, `openssl passwd -6`).

The algorithms are the published ones (Drepper's SHA-crypt specification, and the MD5
scheme of FreeBSD/glibc). Checking is slow on purpose (5,000 rounds by default); callers
cache successful checks (weir.auth.userlist).
"""

from __future__ import annotations

import hashlib
import hmac

_ITOA64 = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Which digest bytes make each group of four characters (most significant first).
_SHA512_ORDER = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26),
    (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32),
    (12, 33, 54), (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38),
    (18, 39, 60), (40, 61, 19), (62, 20, 41),
)  # fmt: skip
_SHA256_ORDER = (
    (0, 10, 20), (21, 1, 11), (12, 22, 2), (3, 13, 23), (24, 4, 14),
    (15, 25, 5), (6, 16, 26), (27, 7, 17), (18, 28, 8), (9, 19, 29),
)  # fmt: skip
_MD5_ORDER = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))

ROUNDS_DEFAULT, ROUNDS_MIN, ROUNDS_MAX = 5000, 1000, 999_999_999


class CryptError(ValueError):
    """A hash weir cannot check (unknown scheme, malformed)."""


def _b64(b2: int, b1: int, b0: int, n: int) -> bytes:
    w = (b2 << 16) | (b1 << 8) | b0
    out = bytearray()
    for _ in range(n):
        out.append(_ITOA64[w & 0x3F])
        w >>= 6
    return bytes(out)


def _encode(digest: bytes, order: tuple[tuple[int, int, int], ...]) -> bytes:
    return b"".join(_b64(digest[a], digest[b], digest[c], 4) for a, b, c in order)


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def _sha_crypt(password: bytes, salt: bytes, rounds: int | None, size: int) -> bytes:
    def h(*parts: bytes) -> bytes:
        d = hashlib.new("sha512" if size == 64 else "sha256")
        for p in parts:
            d.update(p)
        return d.digest()

    n = ROUNDS_DEFAULT if rounds is None else min(max(rounds, ROUNDS_MIN), ROUNDS_MAX)
    salt = salt[:16]
    b = h(password, salt, password)
    a = hashlib.new("sha512" if size == 64 else "sha256")
    a.update(password + salt)
    a.update(_repeat(b, len(password)))
    i = len(password)
    while i:
        a.update(b if i & 1 else password)
        i >>= 1
    prev = a.digest()
    p = _repeat(h(password * len(password)), len(password))
    s = _repeat(h(salt * (16 + prev[0])), len(salt))
    for r in range(n):
        c = hashlib.new("sha512" if size == 64 else "sha256")
        c.update(p if r & 1 else prev)
        if r % 3:
            c.update(s)
        if r % 7:
            c.update(p)
        c.update(prev if r & 1 else p)
        prev = c.digest()
    if size == 64:
        body = _encode(prev, _SHA512_ORDER) + _b64(0, 0, prev[63], 2)
        tag = b"$6$"
    else:
        body = _encode(prev, _SHA256_ORDER) + _b64(0, prev[31], prev[30], 3)
        tag = b"$5$"
    head = tag + (b"rounds=%d$" % n if rounds is not None else b"") + salt
    return head + b"$" + body


def _md5_crypt(password: bytes, salt: bytes) -> bytes:
    salt = salt[:8]
    alt = hashlib.md5(password + salt + password).digest()
    ctx = hashlib.md5(password + b"$1$" + salt)
    ctx.update(_repeat(alt, len(password)))
    i = len(password)
    while i:
        ctx.update(b"\0" if i & 1 else password[:1])
        i >>= 1
    final = ctx.digest()
    for r in range(1000):
        c = hashlib.md5()
        c.update(password if r & 1 else final)
        if r % 3:
            c.update(salt)
        if r % 7:
            c.update(password)
        c.update(final if r & 1 else password)
        final = c.digest()
    body = _encode(final, _MD5_ORDER) + _b64(0, 0, final[11], 2)
    return b"$1$" + salt + b"$" + body


def crypt(password: bytes, setting: bytes) -> bytes:
    """The hash of `password` with the scheme, rounds and salt of `setting` (a whole hash
    or just its `$id$[rounds=N$]salt` prefix). Raises CryptError for another scheme."""
    if setting.startswith((b"$6$", b"$5$")):
        rest = setting[3:]
        rounds: int | None = None
        if rest.startswith(b"rounds="):
            num, dollar, rest = rest[7:].partition(b"$")
            if not dollar or not num.isdigit():
                raise CryptError("malformed 'rounds=' in the hash")
            rounds = int(num)
        salt = rest.split(b"$", 1)[0]
        size = 64 if setting[1:2] == b"6" else 32
        return _sha_crypt(password, salt, rounds, size)
    if setting.startswith(b"$1$"):
        return _md5_crypt(password, setting[3:].split(b"$", 1)[0])
    raise CryptError("unsupported password hash scheme (weir checks $6$, $5$ and $1$)")


def check_scheme(hashed: str) -> str | None:
    """Why weir cannot check this hash, or None when it can."""
    if not hashed.startswith(("$6$", "$5$", "$1$")):
        return (
            "unsupported password hash: weir checks SHA-512 ($6$), SHA-256 ($5$) and "
            "MD5 ($1$) crypt hashes (use 'insecure-password' for a clear-text one)"
        )
    try:
        crypt(b"", hashed.encode())
    except CryptError as e:
        return str(e)
    return None


def verify(password: bytes, hashed: bytes) -> bool:
    try:
        return hmac.compare_digest(crypt(password, hashed), hashed)
    except CryptError:
        return False
