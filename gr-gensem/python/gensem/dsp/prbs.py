"""Pseudo-random test payloads for BER measurement (a software bit-error-rate tester).

Transmitter and receiver derive the payload of frame ``seq`` from ``(seed, seq)``, so the
receiver can count bit errors without any side channel.
"""

from __future__ import annotations

import numpy as np


def payload(seed: int, frame_seq: int, n_bytes: int) -> bytes:
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, int(frame_seq) & 0xFFFF, 0x6E5E])
    return rng.integers(0, 256, int(n_bytes), dtype=np.uint8).tobytes()


def count_bit_errors(a: bytes, b: bytes) -> int:
    x = np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)
    return int(np.unpackbits(x).sum())
