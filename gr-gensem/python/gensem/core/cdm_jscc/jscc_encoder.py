"""Rate-adaptive JSCC encoder f_e of CDM-JSCC on an MLLA skeleton (paper §II-A and §II-C).

s = f_e(y, p(y | z)) in C^k: each latent vector y_i becomes a complex vector s_i of max_len
symbols, of which the first k_i = Q(-beta log p(y_i | z)) in the 1-D checkerboard order are sent;
the sent symbols of an image are scaled to average power 1 (mean |s|^2 = 1).
"""

import torch
from torch import nn

from gensem.core.cdm_jscc.mlla import MLLABlock
from gensem.core.cdm_jscc.rate import (
    checkerboard_order,
    find_beta,
    measure_cbr,
    quantise_lengths,
    vector_bits,
)


class JSCCEncoder(nn.Module):
    """f_e: (B, M, h, w) latent + its likelihoods -> variable-length complex symbols per image."""

    def __init__(
        self, M: int, dim: int = 128, depth: int = 2, heads: int = 4, max_len: int = 128, unit: int = 8,
        rope: bool = False,
    ):  # fmt: skip
        super().__init__()
        if max_len % unit:
            raise ValueError(f"max_len ({max_len}) must be a multiple of unit ({unit})")
        self.M, self.max_len, self.unit = M, max_len, unit
        self.in_proj = nn.Linear(M, dim)
        self.rate_embed = nn.Embedding(max_len // unit, dim)  # tells the blocks each k_i
        self.blocks = nn.ModuleList(MLLABlock(dim, heads, rope=rope) for _ in range(depth))
        self.out_proj = nn.Linear(dim, 2 * max_len)
        self.register_buffer("order", checkerboard_order(max_len), persistent=False)

    def forward(
        self,
        y: torch.Tensor,
        y_likelihoods: torch.Tensor,
        image_hw: tuple[int, int],
        beta: float | None = None,
        target_cbr: float | None = None,
    ) -> dict:
        """Encode with a given ``beta`` or, with ``target_cbr``, the beta found by bisection.

        Returns ``symbols`` (list of 1-D complex tensors, one per image), ``lengths`` (B, h*w) k_i,
        ``cbr`` (B,) measured, ``beta``, and the padded ``dense`` (B, L, max_len) / ``mask`` for training.
        """
        if (beta is None) == (target_cbr is None):
            raise ValueError("give exactly one of beta and target_cbr")
        if y.dim() != 4 or y.shape[1] != self.M or y_likelihoods.shape != y.shape:
            raise ValueError(f"y and likelihoods must both be (B, {self.M}, h, w), got {tuple(y.shape)}")
        bits = vector_bits(y_likelihoods)
        if target_cbr is not None:
            beta = find_beta(bits, target_cbr, image_hw, self.unit, self.max_len)
        lengths = quantise_lengths(bits, beta, self.unit, self.max_len)
        hw = tuple(y.shape[-2:])
        t = self.in_proj(y.flatten(2).transpose(1, 2)) + self.rate_embed(lengths // self.unit - 1)
        for block in self.blocks:
            t = block(t, hw)
        b, n, _ = t.shape
        s = torch.view_as_complex(self.out_proj(t).reshape(b, n, self.max_len, 2).float().contiguous())
        s = s[..., self.order]  # checkerboard order: the first k_i are sent
        mask = torch.arange(self.max_len, device=y.device) < lengths.unsqueeze(-1)
        power = (s.abs() ** 2 * mask).sum(dim=(1, 2)) / lengths.sum(dim=1)
        s = s * mask / power.clamp_min(1e-12).sqrt().view(b, 1, 1)
        return {
            "symbols": [s[i][mask[i]] for i in range(b)],
            "lengths": lengths,
            "cbr": measure_cbr(lengths, image_hw),
            "beta": float(beta),
            "dense": s,
            "mask": mask,
        }
