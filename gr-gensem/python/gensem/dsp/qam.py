"""Gray-coded square M-QAM, M in {4, 16, 64, 256}, unit average symbol energy.

Bit order per symbol: the first log2(M)/2 bits select the in-phase level, the rest the
quadrature level (MSB first); each axis is Gray-coded PAM, bit value 0 on the negative
side. 16-QAM: bits 0000 -> (-3-3j)/sqrt(10), 1000 -> (3-3j)/sqrt(10) (known answers in
tests/unit/test_qam.py).
"""

from __future__ import annotations

from functools import cache

import numpy as np

SUPPORTED_M = (4, 16, 64, 256)
MOD_INDEX = {4: 0, 16: 1, 64: 2, 256: 3}
INDEX_MOD = {v: k for k, v in MOD_INDEX.items()}


def check_m(m: int) -> int:
    try:
        m_int = int(m)
    except (TypeError, ValueError):
        m_int = -1
    if m_int not in SUPPORTED_M or m_int != m:
        raise ValueError(f"unknown modulation order M={m!r}; choose one of {SUPPORTED_M}")
    return m_int


_BITS = {4: 2, 16: 4, 64: 6, 256: 8}


def bits_per_symbol(m: int) -> int:
    if type(m) is int and m in _BITS:  # the receiver's per-frame path: one dict lookup
        return _BITS[m]
    return int(np.log2(check_m(m)))


def _gray_to_binary(g: np.ndarray) -> np.ndarray:
    b = g.copy()
    shift = g >> 1
    while np.any(shift):
        b ^= shift
        shift >>= 1
    return b


@cache
def _tables(m: int):
    k = bits_per_symbol(m)
    half = k // 2
    side = 1 << half
    s = np.arange(m)
    i_gray = s >> half
    q_gray = s & (side - 1)
    i_lvl = _gray_to_binary(i_gray)
    q_lvl = _gray_to_binary(q_gray)
    scale = np.sqrt(2.0 * (m - 1) / 3.0)
    points = ((2 * i_lvl - (side - 1)) + 1j * (2 * q_lvl - (side - 1))) / scale
    # level index -> gray code per axis, for hard demapping
    lvl = np.arange(side)
    lvl_to_gray = lvl ^ (lvl >> 1)
    weights = 1 << np.arange(k - 1, -1, -1)
    amp = (2.0 * lvl - (side - 1)) / scale  # per-axis level index -> amplitude
    return points.astype(np.complex64), lvl_to_gray, scale, side, half, weights, amp


def constellation(m: int) -> np.ndarray:
    """Constellation points indexed by the symbol's bit pattern (MSB first)."""
    return _tables(check_m(m))[0].copy()


def modulate(bits: np.ndarray, m: int) -> np.ndarray:
    """Map a bit array (length a multiple of log2 M) to unit-energy symbols."""
    points, _, _, _, _, weights, _ = _tables(check_m(m))
    k = len(weights)
    bits = np.asarray(bits, dtype=np.uint8)
    if bits.size % k:
        raise ValueError(f"{bits.size} bits is not a multiple of log2(M)={k}")
    idx = bits.reshape(-1, k).astype(np.int64) @ weights
    return points[idx]


def _levels(symbols: np.ndarray, m: int):
    """Per-axis PAM level index (0 .. side-1) of the nearest point, in the input's precision."""
    _, _, scale, side, _, _, _ = _tables(m)
    z = np.asarray(symbols)
    if z.dtype != np.complex128:
        z = z.astype(np.complex64, copy=False)
    f = z.real.dtype.type
    hi = side - 1
    out = []
    for axis in (z.real, z.imag):
        t = axis * f(scale / 2.0)
        t += f(side / 2.0)
        np.clip(t, 0, hi, out=t)  # then truncation is the floor (t >= 0)
        out.append(t.astype(np.uint8))
    return out[0], out[1]


def decide(symbols: np.ndarray, m: int) -> np.ndarray:
    """Nearest constellation points (complex64), per-axis slicing; no bits."""
    amp = _tables(check_m(m))[6]
    i_lvl, q_lvl = _levels(symbols, m)
    out = np.empty(i_lvl.shape, np.complex64)  # the float32 parts take the amplitudes rounded
    out.real, out.imag = amp[i_lvl], amp[q_lvl]
    return out


def demodulate_hard(symbols: np.ndarray, m: int, return_points: bool = False):
    """Minimum-distance (per-axis slicing) decision, returns bits (and the decided
    constellation points with ``return_points``)."""
    points, lvl_to_gray, _, _, half, _, _ = _tables(check_m(m))
    i_lvl, q_lvl = _levels(symbols, m)
    g = lvl_to_gray.astype(np.uint8)
    idx = (g[i_lvl] << half) | g[q_lvl]  # the symbol's bit pattern, MSB first, k <= 8 bits
    k = 2 * half
    bits = np.unpackbits(idx.reshape(-1, 1), axis=1)[:, 8 - k :].reshape(-1)
    if return_points:
        return bits, points[idx]
    return bits


def qpsk_soft(symbols: np.ndarray, reliability: np.ndarray | float = 1.0) -> np.ndarray:
    """Soft bits for QPSK (positive -> bit 1), scaled by a per-symbol reliability.

    For QPSK with this mapping the LLR of each bit is proportional to the matching
    axis of the equalised symbol times |H|^2 / N0; ``reliability`` carries that factor.
    """
    z = np.asarray(symbols) * np.sqrt(2.0) * reliability
    out = np.empty(2 * z.size, dtype=np.float32)
    out[0::2] = z.real.reshape(-1)
    out[1::2] = z.imag.reshape(-1)
    return out


def soft_demap(symbols: np.ndarray, m: int, n0: float, exact: bool = True) -> np.ndarray:
    """Bit LLRs log P(b=1|y)/P(b=0|y) (positive -> bit 1, like :func:`qpsk_soft`) for AWGN
    with complex noise variance ``n0`` (``n0/2`` per axis), in :func:`modulate`'s bit order.

    Gray square QAM separates into two PAM axes, so each bit's LLR depends on one axis only:
    exact log-sum-exp over that axis's levels, or its max-log approximation.
    """
    _, lvl_to_gray, _, _, half, _, amp = _tables(check_m(m))
    if not (np.isfinite(n0) and n0 > 0):
        raise ValueError(f"noise variance n0={n0!r} must be finite and > 0")
    y = np.asarray(symbols, dtype=np.complex128).reshape(-1)
    shifts = np.arange(half - 1, -1, -1)
    lvl_bits = (lvl_to_gray[:, None] >> shifts[None, :]) & 1  # (side, half)
    out = np.empty((y.size, 2 * half), dtype=np.float64)
    for axis, comp in enumerate((y.real, y.imag)):
        metric = -((comp[:, None] - amp[None, :]) ** 2) / n0  # (n, side)
        for j in range(half):
            ones, zeros = metric[:, lvl_bits[:, j] == 1], metric[:, lvl_bits[:, j] == 0]
            if exact:
                out[:, axis * half + j] = _logsumexp(ones) - _logsumexp(zeros)
            else:
                out[:, axis * half + j] = ones.max(axis=1) - zeros.max(axis=1)
    return out.reshape(-1).astype(np.float32)


def _logsumexp(a: np.ndarray) -> np.ndarray:
    mx = a.max(axis=1)
    return mx + np.log(np.exp(a - mx[:, None]).sum(axis=1))
