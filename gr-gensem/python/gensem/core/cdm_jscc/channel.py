"""AWGN channel of the paper (§II-A): s_hat = s + n, n ~ CN(0, sigma^2 I), sigma^2 = P / 10^(SNR/10)."""

import torch


def awgn(symbols, snr_db: float, signal_power: float = 1.0, generator: torch.Generator | None = None):
    """Add circular complex Gaussian noise at ``snr_db`` to a complex tensor (or a list of them).

    The noise variance is ``signal_power / 10**(snr_db / 10)`` (the encoders normalise to power 1).
    """
    if isinstance(symbols, (list, tuple)):
        return [awgn(s, snr_db, signal_power, generator) for s in symbols]
    if not torch.is_complex(symbols):
        raise ValueError(f"symbols must be a complex tensor, got {symbols.dtype}")
    sigma2 = signal_power / 10.0 ** (snr_db / 10.0)
    real = torch.view_as_real(symbols)
    # drawn on the CPU (a seeded CPU generator works for any device), then moved
    noise = torch.randn(real.shape, generator=generator, dtype=real.dtype).to(real.device)
    return symbols + torch.view_as_complex(noise * (sigma2 / 2.0) ** 0.5)
