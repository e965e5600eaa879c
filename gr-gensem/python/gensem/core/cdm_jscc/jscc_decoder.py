"""JSCC decoder f_d of CDM-JSCC on an MLLA skeleton (paper §II-A: y_hat = f_d(s_hat)).

Puts each received variable-length vector s_hat_i back at its checkerboard positions (the unsent
ones zero-filled), undoes the order and maps the (B, h*w, max_len) complex grid to y_hat (B, M, h, w).
With ``use_prior`` the decoder also takes the hyperprior means mu = h_s(z_hat) of eq. (1), which the
receiver has from the side information, as a prior on y_hat (added as tokens).
"""

import torch
from torch import nn

from gensem.core.cdm_jscc.mlla import MLLABlock
from gensem.core.cdm_jscc.rate import checkerboard_order


class JSCCDecoder(nn.Module):
    """f_d: received symbols + the lengths k_i (side information) -> the latent y_hat."""

    def __init__(
        self,
        M: int,
        dim: int = 128,
        depth: int = 2,
        heads: int = 4,
        max_len: int = 128,
        unit: int = 8,
        use_prior: bool = False,
        rope: bool = False,
    ):
        super().__init__()
        if max_len % unit:
            raise ValueError(f"max_len ({max_len}) must be a multiple of unit ({unit})")
        self.M, self.max_len, self.unit = M, max_len, unit
        self.in_proj = nn.Linear(2 * max_len, dim)
        self.rate_embed = nn.Embedding(max_len // unit, dim)
        self.prior_proj = nn.Linear(M, dim) if use_prior else None
        self.blocks = nn.ModuleList(MLLABlock(dim, heads, rope=rope) for _ in range(depth))
        self.out_proj = nn.Linear(dim, M)
        order = checkerboard_order(max_len)
        self.register_buffer("inverse_order", torch.argsort(order), persistent=False)

    def _check_lengths(self, lengths: torch.Tensor, latent_hw: tuple[int, int]) -> None:
        n = latent_hw[0] * latent_hw[1]
        if lengths.dim() != 2 or lengths.shape[1] != n:
            raise ValueError(
                f"lengths must be (B, {n}) for latent {tuple(latent_hw)}, got {tuple(lengths.shape)}"
            )
        bad = (lengths < self.unit) | (lengths > self.max_len) | (lengths % self.unit != 0)
        if bad.any():
            raise ValueError(f"lengths must be multiples of {self.unit} in [{self.unit}, {self.max_len}]")

    def forward(self, symbols, lengths: torch.Tensor, latent_hw: tuple[int, int], prior=None) -> torch.Tensor:
        """Decode ``symbols`` (a list of 1-D complex tensors, one per image) sent with ``lengths``."""
        self._check_lengths(lengths, latent_hw)
        if isinstance(symbols, torch.Tensor):
            symbols = [symbols]
        if len(symbols) != lengths.shape[0]:
            raise ValueError(f"{len(symbols)} symbol vectors for {lengths.shape[0]} length rows")
        for i, s in enumerate(symbols):
            if s.dim() != 1 or not torch.is_complex(s) or s.numel() != int(lengths[i].sum()):
                raise ValueError(
                    f"image {i}: {s.numel()} symbols but the lengths sum to {int(lengths[i].sum())} (side information mismatch)"
                )
        mask = torch.arange(self.max_len, device=lengths.device) < lengths.unsqueeze(-1)
        dense = torch.zeros(*mask.shape, dtype=torch.complex64, device=lengths.device)
        dense[mask] = torch.cat(list(symbols)).to(torch.complex64)
        return self.decode_dense(dense, lengths, latent_hw, prior)

    def decode_dense(
        self, dense: torch.Tensor, lengths: torch.Tensor, latent_hw: tuple[int, int], prior=None
    ) -> torch.Tensor:
        """Decode the padded (B, h*w, max_len) grid in checkerboard order (the training path)."""
        self._check_lengths(lengths, latent_hw)
        mask = torch.arange(self.max_len, device=dense.device) < lengths.unsqueeze(-1)
        dense = (dense * mask)[..., self.inverse_order]
        b, n, _ = dense.shape
        t = self.in_proj(torch.view_as_real(dense).reshape(b, n, 2 * self.max_len))
        t = t + self.rate_embed(lengths // self.unit - 1)
        if self.prior_proj is not None:
            if prior is None or prior.shape != (b, self.M, *latent_hw):
                raise ValueError(
                    f"this decoder needs the hyperprior means (B, {self.M}, {latent_hw[0]}, {latent_hw[1]})"
                )
            t = t + self.prior_proj(prior.flatten(2).transpose(1, 2))
        for block in self.blocks:
            t = block(t, latent_hw)
        return self.out_proj(t).transpose(1, 2).reshape(b, self.M, *latent_hw)
