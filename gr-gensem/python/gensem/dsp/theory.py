"""Theoretical error rates used for the overlays and the acceptance bands.

Gray-coded square M-QAM over AWGN: exact bit error probability of Cho & Yoon (IEEE
Trans. Commun., 2002), eq. (14)-(16). Rayleigh block fading: the AWGN expression averaged
over the exponential SNR distribution (numerical quadrature).
"""

from __future__ import annotations

import numpy as np
from scipy import integrate
from scipy.special import erfc

from gensem.dsp.qam import check_m


def ber_mqam_awgn(es_n0_db, m: int) -> np.ndarray:
    m = check_m(m)
    g = 10 ** (np.asarray(es_n0_db, dtype=float) / 10.0)
    sq = int(np.sqrt(m))
    nbits = int(np.log2(sq))
    total = np.zeros_like(g)
    for k in range(1, nbits + 1):
        pk = np.zeros_like(g)
        for i in range(int((1 - 2.0**-k) * sq)):
            w = (-1) ** np.floor(i * 2 ** (k - 1) / sq) * (
                2 ** (k - 1) - np.floor(i * 2 ** (k - 1) / sq + 0.5)
            )
            pk = pk + w * erfc((2 * i + 1) * np.sqrt(3 * g / (2 * (m - 1))))
        total = total + pk / sq
    return total / nbits


def ber_mqam_rayleigh(mean_es_n0_db, m: int) -> np.ndarray:
    out = []
    for s in np.atleast_1d(mean_es_n0_db):
        gbar = 10 ** (s / 10.0)

        def f(x):
            return ber_mqam_awgn(10 * np.log10(max(x, 1e-12)), m) * np.exp(-x / gbar) / gbar

        val, _ = integrate.quad(f, 0, 50 * gbar, limit=200)
        out.append(val)
    return np.array(out)
