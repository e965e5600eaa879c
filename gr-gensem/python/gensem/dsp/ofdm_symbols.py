"""Known OFDM reference signals and the (de)modulator: Schmidl & Cox short training
symbol, two long training symbols, pilots; unitary IFFT/FFT with cyclic prefix.

Frame on air: STS (CP + 64) | LTS CP (2 * cp) + LTS + LTS | header symbols | data symbols
| gap of zeros. Everything is normalised so that one data or pilot subcarrier of unit
amplitude has unit energy after the receiver's unitary FFT (Es/N0 = 1 / noise variance).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import scipy.fft as sfft

from gensem.dsp.ofdm_params import OfdmParams

_STS_SEED = 0x5C
_LTS_SEED = 0x17
_PILOT_SEED = 0x2A


def ofdm_modulate(grid: np.ndarray, p: OfdmParams, cp_len: int | None = None) -> np.ndarray:
    """(n_sym, fft_len) frequency grid (FFT bin order) -> time samples with CP."""
    cp = p.cp_len if cp_len is None else cp_len
    t = sfft.ifft(np.asarray(grid, np.complex64), axis=-1, norm="ortho")
    t = np.concatenate([t[..., -cp:], t], axis=-1) if cp else t
    return t.reshape(-1).astype(np.complex64, copy=False)


def ofdm_demodulate(windows: np.ndarray, p: OfdmParams) -> np.ndarray:
    """(n_sym, fft_len) time windows (CP removed) -> frequency grid (FFT bin order)."""
    return sfft.fft(windows, axis=-1, norm="ortho")


@cache
def _refs(p: OfdmParams):
    n = p.fft_len
    used = p.bins(p.used_carriers)
    # Schmidl & Cox: QPSK on even carriers only -> two identical halves in time.
    rng = np.random.default_rng(_STS_SEED)
    even = [k for k in p.used_carriers if k % 2 == 0]
    sts = np.zeros(n, complex)
    qpsk = (rng.choice([-1, 1], len(even)) + 1j * rng.choice([-1, 1], len(even))) / np.sqrt(2)
    sts[p.bins(even)] = qpsk * np.sqrt(2.0)  # same total power as a full symbol
    rng = np.random.default_rng(_LTS_SEED)
    lts = np.zeros(n, complex)
    lts[used] = rng.choice([-1.0, 1.0], used.size)
    rng = np.random.default_rng(_PILOT_SEED)
    polarity = rng.choice([-1.0, 1.0], 127)
    base_pilots = np.array([1.0, 1.0, 1.0, -1.0])[: len(p.pilot_carriers)]
    if base_pilots.size < len(p.pilot_carriers):
        base_pilots = np.resize(base_pilots, len(p.pilot_carriers))
    sts_t = ofdm_modulate(sts[None, :], p)
    lts_t = np.fft.ifft(lts) * np.sqrt(n)
    lts_block = np.concatenate([lts_t[-2 * p.cp_len :], lts_t, lts_t]).astype(np.complex64)
    return sts, lts, polarity, base_pilots, sts_t, lts_block, lts_t.astype(np.complex64)


def lts_freq(p):
    return _refs(p)[1]


def lts_time(p):
    """One LTS symbol in time (64 samples, no CP)."""
    return _refs(p)[6]


def preamble(p: OfdmParams) -> np.ndarray:
    """STS with CP, then the LTS block (double CP + two LTS)."""
    r = _refs(p)
    return np.concatenate([r[4], r[5]])


def preamble_len(p: OfdmParams) -> int:
    return p.symbol_len + 2 * p.cp_len + 2 * p.fft_len


def pilot_tables(p: OfdmParams):
    """(polarity per symbol index mod 127, base value per pilot carrier): pilot_values'
    factors, for the compiled receiver kernels."""
    _, _, polarity, base, *_ = _refs(p)
    return polarity, base


def pilot_values(p: OfdmParams, sym_index: np.ndarray) -> np.ndarray:
    """(n_sym, n_pilots) pilot values of header/data symbols number ``sym_index``."""
    polarity, base = pilot_tables(p)
    pol = polarity[np.asarray(sym_index) % polarity.size]
    return pol[:, None] * base[None, :]
