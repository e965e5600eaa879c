"""Simulated radio channel (numpy core of ``gensem_ofdm_channel``).

Per frame (block fading, Qiao et al. eq. (1)):  h = sqrt(eps0) * d^(-phi) * h~, with h~
zero-mean unit-variance CSCG, drawn anew for every frame (``fading="rayleigh"``); or a
fixed h~ = 1 (``fading="none"``). ``n_taps > 1`` adds multipath with an exponential power
delay profile (``pdp_decay_db`` per tap, normalised to unit total power): Rayleigh taps
redrawn per frame under fading, fixed taps (random phases from the seed) otherwise.
Then a carrier-frequency offset (in subcarrier spacings), an integer timing offset
(delay line) and complex AWGN of variance ``noise_var`` per sample. ``impairments`` (a
``radio_impairments.RadioImpairments``) adds what the radios do, in the order of the GNU Radio
block: carrier offset in ppm, sample-clock offset, phase noise before the AWGN; IQ imbalance,
DC offset, receiver gain and clipping after it (with a sample-clock offset the output of a
chunk is about len / epsilon samples long).
"""

from __future__ import annotations

from collections import deque

import numpy as np


def path_gain_eq1(eps0_db: float = -30.0, phi: float = 3.4, distance_m: float = 1.0) -> float:
    """Deterministic amplitude factor of eq. (1): sqrt(eps0) * d^(-phi) (d0 = 1 m)."""
    if distance_m <= 0:
        raise ValueError("distance must be positive")
    return float(np.sqrt(10 ** (eps0_db / 10.0)) * distance_m ** (-phi))


def noise_var_for_snr(snr_db: float, signal_power: float = 1.0) -> float:
    """Noise variance per sample giving Es/N0 = ``snr_db`` for a subcarrier of power
    ``signal_power`` (unitary FFT: per-subcarrier noise variance = per-sample variance)."""
    return float(signal_power / 10 ** (snr_db / 10.0))


class ChannelModel:
    def __init__(
        self,
        noise_var: float = 0.0,
        fading: str = "none",
        path_gain: float = 1.0,
        n_taps: int = 1,
        pdp_decay_db: float = 6.0,
        cfo_subcarriers: float = 0.0,
        fft_len: int = 64,
        timing_offset: int = 0,
        seed: int = 0,
        impairments=None,
        signal_power: float = 1.0,
    ):
        if fading not in ("none", "rayleigh"):
            raise ValueError(f"unknown fading model {fading!r}; use 'none' or 'rayleigh'")
        if n_taps < 1:
            raise ValueError("n_taps must be >= 1")
        if noise_var < 0:
            raise ValueError("noise variance must be >= 0")
        if timing_offset < 0:
            raise ValueError("timing offset must be >= 0 samples")
        self.noise_var = float(noise_var)
        self.fading = fading
        self.path_gain = float(path_gain)
        self.n_taps = int(n_taps)
        pdp = 10 ** (-pdp_decay_db * np.arange(n_taps) / 10.0)
        self.pdp = pdp / pdp.sum()
        self.cfo = float(cfo_subcarriers) / fft_len  # cycles per sample
        self.rng = np.random.default_rng(seed)
        self._noise_rng = np.random.default_rng([seed, 1])
        self._delay = np.zeros(int(timing_offset), np.complex64)
        self._hist = np.zeros(self.n_taps - 1, np.complex64)
        self._n = 0  # sample counter for the CFO phase
        self.frames = 0
        self.gains = deque(maxlen=4096)  # the latest frames' sum |h_l|^2, for statistics
        if fading == "none":
            phases = self.rng.uniform(0, 2 * np.pi, n_taps)
            phases[0] = 0.0
            self.taps = (np.sqrt(self.pdp) * np.exp(1j * phases)).astype(np.complex64)
        else:
            self.taps = self._draw()
        self._static_taps = self.taps.copy()
        self.taps = self.taps * self.path_gain
        self.gain_profile: list[tuple[int, float]] = []
        self.radio = None  # radio_impairments.ImpairmentChain, None for an ideal radio
        if impairments is not None and not impairments.is_ideal:
            from gensem.dsp.radio_impairments import ImpairmentChain

            self.radio = ImpairmentChain(impairments.replace(fft_len=fft_len), signal_power, seed)

    def set_gain_profile(self, profile):
        """Extra power gain per frame, ``[(n_frames, gain_db), ...]`` in frame order (the
        last entry holds afterwards): a distance/SNR that changes during a run."""
        prof = [(int(n), float(g)) for n, g in profile]
        if any(n < 1 for n, _ in prof):
            raise ValueError("every gain-profile step needs >= 1 frame")
        self.gain_profile = prof

    def profile_gain_db(self, frame_index: int) -> float:
        """Profile gain (dB) of 0-based frame ``frame_index`` (0 without a profile)."""
        left = frame_index
        for n, g in self.gain_profile:
            if left < n:
                return g
            left -= n
        return self.gain_profile[-1][1] if self.gain_profile else 0.0

    def _draw(self) -> np.ndarray:
        h = self.rng.standard_normal(self.n_taps) + 1j * self.rng.standard_normal(self.n_taps)
        return (h * np.sqrt(self.pdp / 2.0)).astype(np.complex64)

    def new_block(self):
        """Start a new fading block (called at every frame start)."""
        self.frames += 1
        amp = self.path_gain * 10 ** (self.profile_gain_db(self.frames - 1) / 20.0)
        if self.fading == "rayleigh":
            self.taps = self._draw() * amp
        elif self.gain_profile:
            self.taps = self._static_taps * amp
        self.gains.append(float(np.sum(np.abs(self.taps) ** 2)))

    def _filter(self, x: np.ndarray) -> np.ndarray:
        if self.n_taps == 1:
            return x * self.taps[0]
        ext = np.concatenate([self._hist, x])
        y = np.convolve(ext, self.taps)[self.n_taps - 1 : self.n_taps - 1 + x.size]
        self._hist = ext[-(self.n_taps - 1) :]
        return y

    def process(self, x: np.ndarray, frame_starts=()) -> np.ndarray:
        """Apply the channel to a chunk; ``frame_starts`` are offsets in ``x`` where a new
        frame (fading block) begins."""
        x = np.asarray(x, np.complex64)
        cuts = sorted(int(s) for s in frame_starts if 0 <= s < x.size)
        pieces, prev = [], 0
        for c in cuts + [x.size]:
            if c > prev:
                pieces.append(self._filter(x[prev:c]))
            if c < x.size:
                self.new_block()
            prev = c
        y = np.concatenate(pieces) if pieces else np.zeros(0, np.complex64)
        if self.cfo:
            n = self._n + np.arange(y.size)
            y = y * np.exp(2j * np.pi * self.cfo * n)
        self._n += y.size
        if self._delay.size:
            ext = np.concatenate([self._delay, y])
            y, self._delay = ext[: x.size], ext[x.size :]
        if self.radio is not None:
            y = self.radio.pre_noise(y)
        if self.noise_var > 0:
            s = np.sqrt(self.noise_var / 2.0)
            w = self._noise_rng.standard_normal(2 * y.size).view(np.complex128)
            y = y + (s * w)
        if self.radio is not None:
            y = self.radio.post_noise(y)
        return y.astype(np.complex64)
