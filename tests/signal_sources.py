"""Test signals shared by the test tiers (imported by name: tests/ is on sys.path)."""

import numpy as np

FRAME_POWER = 52 / 64  # mean sample power of a gensem frame (52 unit carriers of 64)


def bandlimited(n, seed=0, edge=26 / 64, power=FRAME_POWER):
    """Periodic complex noise with mean power ``power``, confined to |f| <= edge cycles/sample
    (like the OFDM signal's 52 of 64 bins)."""
    rng = np.random.default_rng(seed)
    spec = rng.standard_normal(n) + 1j * rng.standard_normal(n)
    spec[np.abs(np.fft.fftfreq(n)) > edge] = 0
    x = np.fft.ifft(spec)
    return (x * np.sqrt(power / np.mean(np.abs(x) ** 2))).astype(np.complex64)
