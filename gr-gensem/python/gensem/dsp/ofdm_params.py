"""OFDM numerology with two orthogonal sub-channels (Qiao et al. §II-B, B0 and B1).

One FFT size and cyclic prefix for the whole link; the data subcarriers are split
into two disjoint groups, stream 0 (the prompt, B0) and stream 1 (adaptive M-QAM, B1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class OfdmParams:
    """Numerology and subcarrier allocation.

    Subcarrier indices are signed (``-fft_len/2 .. fft_len/2-1``), DC excluded.
    Data subcarriers are sorted by frequency; the lowest ``n_prompt_carriers`` form
    B0 (stream 0), the rest B1 (stream 1).
    """

    fft_len: int = 64
    cp_len: int = 16
    n_used_half: int = 26
    pilot_carriers: tuple = (-21, -7, 7, 21)
    n_prompt_carriers: int = 24
    n_header_symbols: int = 4
    frame_gap: int = 64
    fft_backoff: int = 4

    def __post_init__(self):
        if self.fft_len < 16 or self.fft_len & (self.fft_len - 1):
            raise ValueError(f"fft_len must be a power of two >= 16, got {self.fft_len}")
        if not 0 < self.cp_len < self.fft_len:
            raise ValueError(f"cp_len must be in (0, fft_len), got {self.cp_len}")
        if not 0 < self.n_used_half < self.fft_len // 2:
            raise ValueError("n_used_half must be in (0, fft_len/2)")
        for p in self.pilot_carriers:
            if p == 0 or abs(p) > self.n_used_half:
                raise ValueError(f"pilot carrier {p} is outside the used band")
        n_data = 2 * self.n_used_half - len(self.pilot_carriers)
        if not 0 < self.n_prompt_carriers < n_data:
            raise ValueError(f"n_prompt_carriers must be in 1..{n_data - 1} (data subcarriers: {n_data})")
        if not 0 <= self.fft_backoff < self.cp_len:
            raise ValueError("fft_backoff must be in [0, cp_len)")

    # -- subcarrier sets (FFT bin indices, i.e. modulo fft_len) -------------------
    @cached_property
    def used_carriers(self) -> np.ndarray:
        k = np.r_[-self.n_used_half : 0, 1 : self.n_used_half + 1]
        return k

    @cached_property
    def data_carriers(self) -> np.ndarray:
        k = self.used_carriers
        return k[~np.isin(k, self.pilot_carriers)]

    @cached_property
    def prompt_carriers(self) -> np.ndarray:
        return self.data_carriers[: self.n_prompt_carriers]

    @cached_property
    def adaptive_carriers(self) -> np.ndarray:
        return self.data_carriers[self.n_prompt_carriers :]

    def bins(self, carriers) -> np.ndarray:
        return np.asarray(carriers) % self.fft_len

    @cached_property
    def n_data(self) -> int:
        return len(self.data_carriers)

    @cached_property
    def n_adaptive_carriers(self) -> int:
        return self.n_data - self.n_prompt_carriers

    @cached_property
    def symbol_len(self) -> int:
        return self.fft_len + self.cp_len

    @cached_property
    def equal_split(self) -> float:
        """Power fraction giving both streams unit power per subcarrier (single-stream
        runs use it: the active stream's Es/N0 is then the per-subcarrier SNR)."""
        return self.n_prompt_carriers / self.n_data

    def stream_gains(self, prompt_power_fraction: float) -> tuple[float, float]:
        """Per-subcarrier amplitudes (g0, g1) for a power split f0 : (1 - f0).

        Stream i gets the fraction f_i of the data power spread over its N_i subcarriers,
        so its per-subcarrier power is f_i * N / N_i (unit reference = pilots/training).
        With f0 = N0/N both streams have unit power per subcarrier.
        """
        f0 = float(prompt_power_fraction)
        if not 0.0 <= f0 <= 1.0:
            raise ValueError(f"prompt power fraction must be in [0, 1], got {f0}")
        n = self.n_data
        g0 = np.sqrt(f0 * n / self.n_prompt_carriers)
        g1 = np.sqrt((1.0 - f0) * n / self.n_adaptive_carriers)
        return float(g0), float(g1)
