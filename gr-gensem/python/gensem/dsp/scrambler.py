"""802.11-style additive scrambler (x^7 + x^4 + 1) used to whiten both streams.

Whitening keeps the OFDM spectrum flat and the PAPR statistics stable whatever the
payload (edge-map bitstreams can hold long runs of zeros). Self-inverse.
"""

from __future__ import annotations

from functools import cache

import numpy as np

SEED = 0b1011101


@cache
def _period(seed: int = SEED) -> np.ndarray:
    state = [(seed >> i) & 1 for i in range(7)]  # state[0] = x^1 ... state[6] = x^7
    out = np.empty(127, dtype=np.uint8)
    for n in range(127):
        bit = state[6] ^ state[3]
        out[n] = bit
        state = [bit] + state[:6]
    return out


def sequence(n: int, seed: int = SEED) -> np.ndarray:
    p = _period(seed)
    reps = -(-int(n) // p.size)
    return np.tile(p, max(reps, 1))[:n]


def scramble(bits: np.ndarray, seed: int = SEED) -> np.ndarray:
    bits = np.asarray(bits, dtype=np.uint8)
    return bits ^ sequence(bits.size, seed)


descramble = scramble
