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

Both estimates are applied only when significant: on a balanced radio with no DC they
are sample noise (|r|^2 ~ 1/N, |mean|^2 ~ power/N over N samples), and applying them
would add an image / a DC of that size. A correction is applied when its statistic
exceeds ``SIGNIFICANCE`` times its noise level (false-alarm probability e^-16 for a
proper Gaussian input), and shrunk by (1 - noise/statistic) near that edge.

Memory and cost are O(1) per sample: a few vector passes per pushed block.
"""

from __future__ import annotations

import numpy as np

DEFAULT_TAU = 1 << 16  # samples: 33 ms at 2 Msps
SIGNIFICANCE = 16.0


class RxFrontEnd:
    """Streaming DC + IQ correction. ``process(x)`` returns corrected complex64 samples."""

    def __init__(self, tau: int = DEFAULT_TAU, dc: bool = True, iq: bool = True):
        if tau < 64:
            raise ValueError("front-end time constant must be >= 64 samples")
        self.tau = float(tau)
        self.dc, self.iq = bool(dc), bool(iq)
        self._w = 0.0  # accumulated weight (samples, with forgetting)
        self._sum = 0j  # sum of samples
        self._s2 = 0j  # sum of (y - m)^2
        self._p = 0.0  # sum of |y - m|^2
        self._p_raw = 0.0  # sum of |x|^2
        self.beta = 0j  # IQ correction applied (0: balanced as far as we can tell)
        self.dc_applied = 0j  # DC removed

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
            self._sum = a * self._sum + complex(np.sum(x, dtype=np.complex128))
            self._p_raw = a * self._p_raw + float(np.vdot(x, x).real)
            m = self._sum / self._w
            power = self._p_raw / self._w - abs(m) ** 2
            z = abs(m) ** 2 * self._w / max(power, 1e-300)  # |mean|^2 over its noise level
            self.dc_applied = m * max(0.0, 1.0 - 1.0 / z) if z > SIGNIFICANCE else 0j
            if self.dc_applied:
                y = x - np.complex64(self.dc_applied)
        if self.iq:
            self._s2 = a * self._s2 + complex(np.dot(y, y))
            self._p = a * self._p + float(np.vdot(y, y).real)
            if self._p > 0:
                r = self._s2 / self._p
                ar = abs(r)
                z = ar * ar * self._w  # |r|^2 over its noise level 1/N
                if z > SIGNIFICANCE and ar < 1:
                    beta = r * (1.0 - np.sqrt(1.0 - ar * ar)) / (ar * ar)
                    self.beta = beta * (1.0 - 1.0 / z)
                    y = y - np.complex64(self.beta) * np.conj(y)
                else:
                    self.beta = 0j
        return y.astype(np.complex64, copy=False)
