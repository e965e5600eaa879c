"""Mamba-like linear attention (MLLA, Han et al. 2024, "Demystify Mamba in Vision"), the skeleton
of the CDM-JSCC encoder and decoder (paper §II-A, ref. [18]).

A compact torch version of the MLLA block: conditional positional encodings (depthwise 3x3 convs),
a pre-norm linear-attention branch with Mamba's input gate (SiLU projection) and a depthwise conv
before attention, and a pre-norm MLP, each added residually. The attention uses the ELU+1 kernel
feature map, phi(q) (phi(K)^T V) / (phi(q) mean(phi(K))), with a locally-enhanced positional term
(depthwise conv on V). ``rope=True`` adds the original's 2-D rotary position embeddings to
phi(q), phi(k) in the numerator (half of each head's channels rotate with the row, half with the
column; the normaliser uses the unrotated features, as MLLA does); off by default (our small
model), on in the "paper" configuration.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _dwconv(dim: int) -> nn.Conv2d:
    return nn.Conv2d(dim, dim, 3, padding=1, groups=dim)


def _to_map(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    b, _n, c = x.shape
    return x.transpose(1, 2).reshape(b, c, *hw)


def _to_tokens(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(2).transpose(1, 2)


def rope_2d(x: torch.Tensor, hw: tuple[int, int], base: float = 10000.0) -> torch.Tensor:
    """2-D rotary position embedding of (B, heads, H*W, d) features laid out on an H x W grid:
    channel pairs of the first half rotate by the row index, of the second half by the column
    index, at frequencies base^(-2i/(d/2)) (d divisible by 4)."""
    b, h, n, d = x.shape
    if d % 4:
        raise ValueError(f"rotary embeddings need a head width divisible by 4, got {d}")
    q = d // 4  # frequencies per axis
    freq = base ** (-torch.arange(q, device=x.device, dtype=torch.float32) / q)
    rows = torch.arange(hw[0], device=x.device, dtype=torch.float32).repeat_interleave(hw[1])
    cols = torch.arange(hw[1], device=x.device, dtype=torch.float32).repeat(hw[0])
    ang = torch.cat([rows[:, None] * freq, cols[:, None] * freq], dim=1)  # (n, d/2)
    cos, sin = ang.cos().to(x.dtype), ang.sin().to(x.dtype)
    x1, x2 = x[..., 0::2], x[..., 1::2]
    out = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.flatten(-2)


class LinearAttention(nn.Module):
    """Multi-head linear attention with ELU+1 feature maps and a depthwise-conv LePE on V."""

    def __init__(self, dim: int, heads: int = 4, eps: float = 1e-6, rope: bool = False):
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim {dim} must be divisible by heads {heads}")
        self.heads, self.eps, self.rope = heads, eps, bool(rope)
        self.qk = nn.Linear(dim, 2 * dim)
        self.lepe = _dwconv(dim)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        h, d = self.heads, c // self.heads
        q, k = self.qk(x).chunk(2, dim=-1)
        q, k = F.elu(q) + 1.0, F.elu(k) + 1.0
        q, k, v = (t.reshape(b, n, h, d).transpose(1, 2) for t in (q, k, x))  # (b, h, n, d)
        norm = 1.0 / (q @ k.mean(dim=2, keepdim=True).transpose(-2, -1) + self.eps)  # (b, h, n, 1)
        if self.rope:
            q, k = rope_2d(q, hw), rope_2d(k, hw)
        kv = k.transpose(-2, -1) @ v / n  # (b, h, d, d)
        out = (q @ kv) * norm
        out = out.transpose(1, 2).reshape(b, n, c)
        return out + _to_tokens(self.lepe(_to_map(x, hw)))


class MLLABlock(nn.Module):
    """One MLLA block on tokens (B, H*W, dim) laid out on an H x W grid."""

    def __init__(self, dim: int, heads: int = 4, mlp_ratio: float = 2.0, rope: bool = False):
        super().__init__()
        self.cpe1, self.cpe2 = _dwconv(dim), _dwconv(dim)
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.in_proj = nn.Linear(dim, dim)
        self.gate_proj = nn.Linear(dim, dim)  # Mamba's input gate
        self.dwc = _dwconv(dim)
        self.attn = LinearAttention(dim, heads, rope=rope)
        self.out_proj = nn.Linear(dim, dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != hw[0] * hw[1]:
            raise ValueError(f"tokens must be (B, {hw[0] * hw[1]}, C), got {tuple(x.shape)}")
        x = x + _to_tokens(self.cpe1(_to_map(x, hw)))
        r = self.norm1(x)
        gate = F.silu(self.gate_proj(r))
        a = F.silu(_to_tokens(self.dwc(_to_map(self.in_proj(r), hw))))
        x = x + self.out_proj(self.attn(a, hw) * gate)
        x = x + _to_tokens(self.cpe2(_to_map(x, hw)))
        return x + self.mlp(self.norm2(x))
