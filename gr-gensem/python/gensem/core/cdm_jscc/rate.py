"""Rate control of the CDM-JSCC encoder (paper §II-A): per-vector lengths k_i = Q(-beta log p(y_i | z)),
the 1-D checkerboard element order, the channel bandwidth ratio and the beta search for a target CBR.

CBR = k / n: k complex channel uses over n = 3 H W source dimensions (x_0 in R^n, s in C^k, §II-A).
The hyperprior side information travels separately (as bits) and is not counted in k.
Logs are base 2 here (bits); a natural-log beta is this beta times ln 2.
"""

import torch


def vector_bits(y_likelihoods: torch.Tensor) -> torch.Tensor:
    """-log2 p(y_i | z) per latent vector y_i (the M channels at one position): (B, M, h, w) -> (B, h*w)."""
    if y_likelihoods.dim() != 4:
        raise ValueError(f"likelihoods must be (B, M, h, w), got {tuple(y_likelihoods.shape)}")
    return (-torch.log2(y_likelihoods.clamp_min(1e-9))).sum(dim=1).flatten(1)


def allowed_lengths(unit: int, max_len: int) -> torch.Tensor:
    """The length set of Q: unit, 2 unit, ..., max_len."""
    if unit < 1 or max_len < unit or max_len % unit:
        raise ValueError(f"max_len ({max_len}) must be a positive multiple of unit ({unit})")
    return torch.arange(unit, max_len + 1, unit)


def quantise_lengths(bits: torch.Tensor, beta: float, unit: int, max_len: int) -> torch.Tensor:
    """k_i = Q(beta * bits_i): round to the nearest multiple of ``unit``, clamped to [unit, max_len]."""
    allowed_lengths(unit, max_len)
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    levels = torch.round(beta * bits.detach() / unit).clamp(1, max_len // unit)
    return levels.long() * unit


def checkerboard_order(n: int) -> torch.Tensor:
    """1-D checkerboard order of a length-n symbol vector: even positions first, then odd ones.

    The first k_i elements of s_i in this order are sent, so a short vector samples the whole
    vector evenly instead of only its head (our reading of "selected sequentially in a
    one-dimensional checkerboard pattern", §II-C).
    """
    return torch.cat([torch.arange(0, n, 2), torch.arange(1, n, 2)])


def measure_cbr(lengths: torch.Tensor, image_hw: tuple[int, int]) -> torch.Tensor:
    """Per-image CBR: sum_i k_i / (3 H W); ``lengths`` is (B, L)."""
    h, w = image_hw
    return lengths.sum(dim=1).double() / (3 * h * w)


def find_beta(
    bits,
    target_cbr: float,
    image_hw,
    unit: int,
    max_len: int,
    iters: int = 60,
) -> float:
    """Bisection (on log beta) for the beta whose batch-average CBR is closest to ``target_cbr``.

    ``bits`` (B, L) with one ``image_hw`` for the batch, or lists of (1, L_i) tensors and their
    (H_i, W_i): images of different sizes (evaluation at native resolution), the average of
    their per-image CBRs."""
    if isinstance(bits, torch.Tensor):
        bits, image_hw = [bits], [image_hw]

    def mean_cbr(lengths_of) -> float:
        per = torch.cat([measure_cbr(lengths_of(b), hw) for b, hw in zip(bits, image_hw)])
        return per.mean().item()

    def cbr(beta: float) -> float:
        return mean_cbr(lambda b: quantise_lengths(b, beta, unit, max_len))

    lo_cbr, hi_cbr = cbr(0.0), mean_cbr(lambda b: torch.full_like(b, max_len))
    if not lo_cbr <= target_cbr <= hi_cbr:
        raise ValueError(f"target CBR {target_cbr:.5f} outside the reachable [{lo_cbr:.5f}, {hi_cbr:.5f}]")
    lo, hi = 1e-6, 1.0
    while cbr(hi) < target_cbr and hi < 1e9:
        hi *= 4.0
    best, best_err = hi, abs(cbr(hi) - target_cbr)
    for _ in range(iters):
        mid = (lo * hi) ** 0.5
        c = cbr(mid)
        if abs(c - target_cbr) < best_err:
            best, best_err = mid, abs(c - target_cbr)
        if c < target_cbr:
            lo = mid
        else:
            hi = mid
    return best
