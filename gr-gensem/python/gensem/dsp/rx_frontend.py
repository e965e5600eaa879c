"""Receiver front end: DC-offset removal and blind IQ-imbalance compensation.

What a zero-IF SDR (HackRF's MAX2837, an uncalibrated AD9361) adds before the samples
reach the frame receiver, undone from the samples' own statistics (no training, no
thresholds in absolute units, so it works at any input level and between bursts):

* **DC offset** d: the running mean of the input (exponential forgetting over ``tau``
  samples), subtracted. The OFDM frames leave the DC subcarrier empty and noise has zero
  mean, so the mean is d alone. This matters beyond detection: after the receiver removes
  an integer carrier offset of m subcarriers, the radio's DC lands on data subcarrier -m.
* **IQ imbalance**: the radio delivers y = mu x + nu x* (the image of every subcarrier
  on its mirror). Signal and noise before the mixer are proper (E[x^2] = 0), so
  r = E[y^2] / E[|y|^2] = 2 beta / (1 + |beta|^2) with beta = nu / mu*; the
  compensation z = y - beta y* = (mu - beta nu*) x removes the image exactly
  (circularity-based blind estimator: Anttila, Valkama & Renfors, IEEE TCAS-II 2008).
  Our own frames are *not* proper everywhere: the LTS, the BPSK header and the pilots are
  real-valued on mirrored carriers (header-only frames alone give |r| = 0.12, as much as a
  1 dB / 5 deg radio). So the estimate learns only from what the frame receiver hands to
  ``observe``: stretches where nothing was detected (noise) and the data symbols of
  decoded frames (scrambled QAM: proper). It runs on the corrected samples z and refines
  beta whenever the residual improperness of z has become significant (tested from
  ``IQ_BLOCK`` observed samples on, accumulating until it is; a residual beta_z of z
  composes as (beta + beta_z) / (1 + beta_z beta*)): a large imbalance is found within
  a few thousand samples, a small residual later, with more samples.

The DC estimate is applied only when significant, and so is each IQ refinement: on a
balanced radio with no DC they are sample noise (|mean|^2 ~ power/N, |r|^2 ~ 1/N over N
samples), and applying them would add a DC / an image of that size. A correction is
applied when its statistic exceeds ``SIGNIFICANCE`` times its noise level (false-alarm
probability e^-16 for a proper Gaussian input); a balanced radio's samples pass bit-exact.

Memory and cost are O(1) per sample: a few vector passes per pushed block.
"""

from __future__ import annotations

import numpy as np

from gensem.dsp import rx_kernels

DEFAULT_TAU = 1 << 16  # samples: 33 ms at 2 Msps
SIGNIFICANCE = 16.0
# IQ: OFDM samples are correlated (the CP repeats 16 of every 80): |r|'s variance over N
# observed samples measured ~3x the white-noise 1/N, so a refinement needs |r|^2 N > 64
# (e^-21 false-alarm odds per test; below it a refinement was sometimes a false step of ~0.03)
IQ_SIGNIFICANCE = 64.0
IQ_BLOCK = 1 << 11  # observed samples before the first IQ refinement test
IQ_MAX = 1 << 21  # a residual still not significant after this many samples is < -56 dB: restart
STAT_SAMPLES = 2048  # whitener: per pushed block, enough for an autocorrelation over tau


class RxFrontEnd:
    """Streaming DC + IQ correction. ``process(x)`` returns corrected complex64 samples."""

    def __init__(self, tau: int = DEFAULT_TAU, dc: bool = True, iq: bool = True, compiled: bool = False):
        """``compiled``: the statistics and the correction as dsp.rx_kernels calls (numba),
        one pass each; the numpy path computes the same sums in double precision."""
        if tau < 64:
            raise ValueError("front-end time constant must be >= 64 samples")
        self.tau = float(tau)
        self.dc, self.iq = bool(dc), bool(iq)
        self._w = 0.0  # accumulated weight (samples, with forgetting)
        self._sum = 0j  # sum of samples (DC)
        self._p_raw = 0.0  # sum of |x|^2 (DC)
        self._s2 = 0j  # sum of z^2 over the observed samples of the current IQ block
        self._p = 0.0  # sum of |z|^2 over the same
        self._n_obs = 0  # observed samples in the current IQ block
        self.iq_updates = 0
        self.beta = 0j  # IQ correction applied (0: balanced as far as we can tell)
        self.dc_applied = 0j  # DC removed
        self._k = rx_kernels if compiled else None

    @property
    def dc_offset(self) -> complex:
        """The running mean of the input (what the radio's DC is estimated to be)."""
        return complex(self._sum / self._w) if self._w else 0j

    def image_rejection_db(self) -> float:
        """Image rejection of the radio as estimated (inf when balanced)."""
        b = abs(self.beta)
        return float("inf") if b == 0 else float(-20 * np.log10(b))

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.complex64)
        n = x.size
        if n == 0 or not (self.dc or self.iq):
            return x
        a = float(np.exp(-n / self.tau))  # forgetting over this block
        self._w = a * self._w + n
        y = x
        if self.dc:
            if self._k is not None:
                s, pw = self._k.moments(x)
            else:
                xd = x.astype(np.complex128)
                s, pw = complex(np.sum(xd)), float(np.vdot(xd, xd).real)
            self._sum = a * self._sum + s
            self._p_raw = a * self._p_raw + pw
            m = self._sum / self._w
            power = self._p_raw / self._w - abs(m) ** 2
            z = abs(m) ** 2 * self._w / max(power, 1e-300)  # |mean|^2 over its noise level
            self.dc_applied = m * max(0.0, 1.0 - 1.0 / z) if z > SIGNIFICANCE else 0j
        beta = self.beta if self.iq else 0j
        if self._k is not None and (self.dc_applied or beta):
            return self._k.correct(x, np.complex64(self.dc_applied), np.complex64(beta))
        if self.dc_applied:
            y = x - np.complex64(self.dc_applied)
        if self.iq and self.beta:
            y = y - np.complex64(self.beta) * np.conj(y)
        return y.astype(np.complex64, copy=False)

    def observe(self, z: np.ndarray, beta_used: complex) -> None:
        """Corrected samples known to be proper (idle noise, payload symbols), corrected with
        ``beta_used``: accumulate their improperness and refine beta once it is significant.
        Samples corrected with an earlier beta (pushed before the last refinement) are stale
        and ignored: composing a refinement onto them would overshoot."""
        if not self.iq or z.size == 0 or beta_used != self.beta:
            return
        if self._k is not None:
            s2, pw = self._k.improper_moments(z)
        else:
            zd = z.astype(np.complex128)
            s2, pw = complex(np.dot(zd, zd)), float(np.vdot(zd, zd).real)
        self._s2 += s2
        self._p += pw
        self._n_obs += z.size
        if self._n_obs < IQ_BLOCK or self._p <= 0:
            return
        r = self._s2 / self._p
        ar = abs(r)
        if ar * ar * self._n_obs > IQ_SIGNIFICANCE and ar < 1:  # |r|^2 over its noise level 1/N
            bz = r * (1.0 - np.sqrt(1.0 - ar * ar)) / (ar * ar)
            self.beta = (self.beta + bz) / (1.0 + bz * np.conj(self.beta))
            self.iq_updates += 1
        elif self._n_obs < IQ_MAX:
            return  # not significant yet: keep accumulating (a smaller residual needs more samples)
        self._s2, self._p, self._n_obs = 0j, 0.0, 0


class ToneWhitener:
    """Linear-prediction error filter for the detector: e[n] = x[n] - sum_k a_k x[n-k].

    A radio's spurs (and any other narrowband input) are predictable, noise and OFDM are
    not: the order-``order`` predictor fitted to the running autocorrelation (exponential
    forgetting over ``tau`` samples, diagonal loading ``loading`` r[0]) notches up to
    ``order`` strong tones. It is applied only when its prediction gain exceeds
    ``min_gain_db``: OFDM plus noise is barely predictable (0.1 dB at 0 dB SNR, 0.8 dB at
    10 dB; lifting its empty guard bands at low SNR costs the preamble SNR), a spur 5 dB
    below the noise already gives 0.5 dB (measured, docs/phy.md). Filtering is LTI
    within a block, so the STS's period (fft_len/2) and the phase of its Schmidl & Cox
    correlation survive: the detector and the fractional CFO estimate run on the output,
    everything else on the unfiltered samples. Without this, a spur a few dB above the
    noise makes the correlation metric fluctuate across the threshold thousands of times
    per second (measured in docs/phy.md).
    """

    def __init__(
        self,
        order: int = 4,
        tau: int = DEFAULT_TAU,
        loading: float = 0.1,
        min_gain_db: float = 0.4,
        compiled: bool = False,
    ):
        """``compiled``: the statistics, fit and filter as dsp.rx_kernels calls (numba)."""
        if order < 1:
            raise ValueError("whitener order must be >= 1")
        self.order = int(order)
        self.tau = float(tau)
        self.loading = float(loading)
        self._r = np.zeros(order + 1, np.complex128)  # r[k] = sum x[n] conj(x[n-k])
        self._hist = np.zeros(order, np.complex64)
        self.coef = np.zeros(order, np.complex128)  # a_1..a_p (0: not applied)
        self.min_gain_db = float(min_gain_db)
        self.gain_db = 0.0  # prediction gain of the fitted filter
        self._k = rx_kernels if compiled else None

    def process(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.complex64)
        n, p = x.size, self.order
        if n == 0:
            return x
        ext = np.concatenate([self._hist, x])
        a = float(np.exp(-n / self.tau))
        m = min(n, STAT_SAMPLES)  # the statistics of a long block from its first samples
        if self._k is not None:
            self._k.autocorr_update(self._r, ext, x, p, m, a, n / m)
        else:
            for k in range(p + 1):  # np.vdot conjugates its first argument: sum conj(x[n-k]) x[n]
                self._r[k] = a * self._r[k] + (n / m) * complex(np.vdot(ext[p - k : p - k + m], x[:m]))
        r0 = self._r[0].real
        if r0 > 0:
            try:  # diagonally loaded normal equations (p = 4: LU beats Levinson's Python loop)
                if self._k is not None:
                    coef, err = self._k.lp_fit(self._r, p, self.loading)
                else:
                    coef, err = _lp_fit(self._r, p, self.loading)
            except np.linalg.LinAlgError:
                coef, err = np.zeros(p, np.complex128), r0
            # prediction gain r0 / E|e|^2: applied only where something is predictable
            self.gain_db = float(10 * np.log10(r0 / max(err, 1e-30 * r0)))
            self.coef = coef if self.gain_db > self.min_gain_db else np.zeros(p, np.complex128)
        self._hist = ext[-p:].copy()
        if not self.coef.any():
            return x
        c = self.coef.astype(np.complex64)
        if self._k is not None:
            return self._k.fir_whiten(ext, x, c, p)
        e = x.copy()
        for k in range(1, p + 1):
            e -= c[k - 1] * ext[p - k : p - k + n]
        return e


def _lp_fit(r: np.ndarray, p: int, loading: float):
    """Order-p linear predictor from the autocorrelation r[0..p]: the diagonally loaded
    normal equations (R + loading r0 I) a = r[1..p], and the prediction error power of a
    on the unloaded R, r0 - 2 Re(a^H r) + a^H R a. Returns (a, error power)."""
    r0 = r[0].real
    mat = _toeplitz(r[:p])  # the Hermitian Toeplitz autocorrelation matrix
    coef = np.linalg.solve(mat + (r0 * loading) * np.eye(p), r[1 : p + 1])
    err = r0 - 2 * float(np.real(np.vdot(coef, r[1 : p + 1])))
    err += float(np.real(np.vdot(coef, mat @ coef)))
    return coef, err


def _toeplitz(r: np.ndarray) -> np.ndarray:
    """The Hermitian Toeplitz matrix with first column r (R[i, j] = r[i - j], r[-k] = r[k]*)."""
    p = r.size
    idx = np.arange(p)[:, None] - np.arange(p)[None, :]
    return np.where(idx >= 0, r[np.abs(idx)], np.conj(r[np.abs(idx)]))
