# SPDX-License-Identifier: Apache-2.0 OR MIT
"""The deterministic message streams of tests/vectors/README.md."""
M = 0xFFFFFFFFFFFFFFFF


def mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


_RAMP = bytes(range(256)) * 1200  # (b + t) & 255 for t < 300000 - 256


def _hash(seed: int, i: int) -> int:
    return mix((seed * 0x100000001B3 + i) & M)


def size(seed: int, i: int, mtu: int, max_msg: int) -> int:
    """The size of message I of stream SEED."""
    h = _hash(seed, i)
    cls, r = h & 15, h >> 8
    return r % 129 if cls < 12 else r % (mtu + 1) if cls < 15 else r % (max_msg + 1)


def message(seed: int, i: int, mtu: int, max_msg: int) -> bytes:
    """Message I of stream SEED: byte j = (uint8)((h >> 8*(j&7)) + (j >> 3))."""
    return payload(_hash(seed, i), size(seed, i, mtu, max_msg))


def frags(n: int, mtu: int) -> int:
    """How many descriptors a message of N bytes takes (0 bytes: one)."""
    return 1 if n == 0 else (n - 1) // mtu + 1


def payload(h: int, size: int) -> bytes:
    out = bytearray(size)
    hb = h.to_bytes(8, "little")
    for k in range(min(8, size)):
        cnt = (size - k + 7) // 8
        out[k::8] = _RAMP[hb[k]:hb[k] + cnt]
    return bytes(out)
