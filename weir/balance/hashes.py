"""Hash functions of `hash-type`, bit-exact with HAProxy's, and the avalanche mix.

Every function maps bytes to an unsigned 32-bit integer, as HAProxy's C code does with
`unsigned int` arithmetic (wrapping modulo 2**32):

- sdbm:  h = h * 65599 + byte, from 0 (65599 = 2**16 + 2**6 - 1, the shifts of the C form)
- djb2:  h = h * 33 + byte, from 5381
- wt6:   HAProxy's own mix of two rotating 32-bit states
- crc32: the IEEE 802.3 CRC (reflected polynomial 0xEDB88320, all-ones start and final
         inversion), which is exactly what `zlib.crc32` computes
- none:  no hashing: the key's leading decimal integer (optional sign, saturating to a
         signed 64-bit range) truncated to 32 bits (HAProxy 2.8+, additive)

`full_hash` is the "avalanche" modifier: Bob Jenkins' 32-bit integer mix followed by a
multiplication by 3221225473, applied after the function when `avalanche` is configured
(and by default with `hash-type consistent`). The consistent-hash ring places its points
with it too.

Speed: keys are short (a URI, a parameter value, a header). sdbm and djb2 run one Python
step per byte, which is inherent to them; the mask is applied once at the end for keys
short enough that the unbounded intermediate integer stays cheap.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable

HashFunc = Callable[[bytes], int]

_M32 = 0xFFFFFFFF
# Up to this many bytes the intermediate integer (17 bits per byte for sdbm) stays small
# enough that one final mask is cheaper than masking every step.
_LAZY_MASK_MAX = 32


def hash_sdbm(key: bytes) -> int:
    """sdbm over `key`, as an unsigned 32-bit value."""
    h = 0
    if len(key) <= _LAZY_MASK_MAX:
        for c in key:
            h = h * 65599 + c
        return h & _M32
    for c in key:
        h = (h * 65599 + c) & _M32
    return h


def hash_djb2(key: bytes) -> int:
    """djb2 (the `* 33 + c` variant, starting at 5381), as an unsigned 32-bit value."""
    h = 5381
    if len(key) <= _LAZY_MASK_MAX:
        for c in key:
            h = h * 33 + c
        return h & _M32
    for c in key:
        h = (h * 33 + c) & _M32
    return h


def hash_wt6(key: bytes) -> int:
    """HAProxy's wt6 hash, as an unsigned 32-bit value."""
    h0 = 0xA53C965A
    h1 = 0x5CA6953A
    step0 = 6
    step1 = 18
    for c in key:
        h0 = ~(h0 ^ c) & _M32
        h1 = ~(h1 + c) & _M32
        # rotate h1 left by step0 into the new h0, h0 left by step1 into the new h1;
        # a step of 0 (possible for step0) is a plain copy, as in the C shift pair
        t = ((h1 << step0) | (h1 >> (32 - step0))) & _M32
        h1 = ((h0 << step1) | (h0 >> (32 - step1))) & _M32
        h0 = t
        t = ((h0 >> 16) ^ h1) & 0xFFFF
        step0 = t & 0x1F
        step1 = t >> 11
    return h0 ^ h1


def hash_crc32(key: bytes) -> int:
    """IEEE CRC-32 of `key` (the same polynomial and conventions as HAProxy's)."""
    return zlib.crc32(key)


_I64_MAX = (1 << 63) - 1
_LEADING_INT = re.compile(rb"([+-]?)([0-9]*)")


def hash_none(key: bytes) -> int:
    """The key read as a decimal integer, truncated to 32 bits.

    Reads an optional sign then the leading digits; anything after them is ignored and a
    key without digits reads as 0. Values beyond the signed 64-bit range saturate.
    """
    m = _LEADING_INT.match(key)
    assert m is not None  # the pattern matches the empty string
    sign, digits = m.groups()
    digits = digits.lstrip(b"0")
    # more than 20 significant digits is beyond 2**64 anyway: saturate without int()'s
    # digit-count limit getting in the way
    value = int(digits) if 0 < len(digits) <= 20 else (1 << 64 if digits else 0)
    value = -min(value, _I64_MAX + 1) if sign == b"-" else min(value, _I64_MAX)
    return value & _M32


def full_hash(a: int) -> int:
    """HAProxy's 32-bit avalanche mix of `a` (an unsigned 32-bit integer)."""
    a = ((a + 0x7ED55D16) + (a << 12)) & _M32
    a = (a ^ 0xC761C23C) ^ (a >> 19)
    a = ((a + 0x165667B1) + (a << 5)) & _M32
    a = ((a + 0xD3A2646C) ^ (a << 9)) & _M32
    a = ((a + 0xFD7046C5) + (a << 3)) & _M32
    a = (a ^ 0xB55A4F09) ^ (a >> 16)
    return (a * 3221225473) & _M32


HASH_FUNCTIONS: dict[str, HashFunc] = {
    "sdbm": hash_sdbm,
    "djb2": hash_djb2,
    "wt6": hash_wt6,
    "crc32": hash_crc32,
    "none": hash_none,
}


def source_hash(addr: bytes) -> int:
    """What `balance source` hashes: the packed address folded to 32 bits.

    HAProxy does not run the configured hash function on a source address: it XORs the
    address's 32-bit big-endian words (one word for IPv4, four for IPv6). Only the
    avalanche modifier applies on top.
    """
    v = int.from_bytes(addr[: len(addr) & ~3], "big")
    h = 0
    while v:
        h ^= v & _M32
        v >>= 32
    return h


def make_hasher(function: str, avalanche: bool, *, source: bool = False) -> HashFunc:
    """The key -> 32-bit hash function a hash-based backend uses.

    `function` is one of HASH_FUNCTIONS' names; `source` selects the address folding of
    `balance source`, which ignores `function`.
    """
    base: HashFunc = source_hash if source else HASH_FUNCTIONS[function]
    if not avalanche:
        return base

    def mixed(key: bytes) -> int:
        return full_hash(base(key))

    return mixed
