"""Conditional diffusion decoder g_d of CDM-JSCC (paper §II-B, §III-A, Fig. 2).

A U-Net X-predictor X_theta(x_n, y_hat, n/N): the noisy image x_n (B, 3, H, W) in [-1, 1], the
latent y_hat (B, M, H/s, W/s) decoded by f_d, and the *normalised* step n/N in (0, 1] (eq. (6)),
which lets sampling use fewer steps than training.

- Time: sinusoidal embedding of 1000 n/N + MLP (diffusers ``Timesteps`` / ``TimestepEmbedding``).
- Hierarchical condition encoders: y_hat -> features at every U-Net scale, from the coarsest
  (H/s) up to H/2 (conv + upsample stages), each projected and added to the U-Net features
  of that scale on the way down and on the way up ("features of different scales, encoded by
  hierarchical encoders, are combined with time information", §III-A).
- U-Net: pixel-unshuffle by 2 at the input (the full-resolution level costs 4x the compute of
  the rest and we train on CPU), diffusers ``ResnetBlock2D`` (time-conditioned) at each
  level, ``Downsample2D`` / ``Upsample2D`` between levels, skip connections, pixel-shuffle out.

Options of the authors' design (their U-Net has self-attention and concatenates the condition
maps into the first encoder levels): ``attention`` lists the levels (0 = finest) that get a
self-attention block (diffusers ``Attention``, residual, group-normed, heads of 32 channels)
after each ResNet block, down and up; ``cond_mode="concat"`` concatenates the condition
features to the input of the encoder's ResNet blocks at every level (no additive injection),
instead of our default ``"add"``. Defaults leave the model (and its state dict) as before.
"""

from __future__ import annotations

import math

import torch
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.resnet import Downsample2D, ResnetBlock2D, Upsample2D
from torch import nn

DEFAULT_UNET = {"channels": [32, 64, 96, 128], "groups": 8}  # latent stride 16
TINY_UNET = {"channels": [8, 16], "groups": 4}  # latent stride 4


class ConditionEncoder(nn.Module):
    """y_hat (B, M, h, w) -> [features at h*2^(L-1), ..., h*2, h] with the U-Net's channels."""

    def __init__(self, M: int, channels: list[int]):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(M, channels[-1], 3, padding=1), nn.SiLU())
        self.stages = nn.ModuleList()
        for c_in, c_out in zip(channels[:0:-1], channels[-2::-1]):  # coarse -> fine
            self.stages.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(c_in, c_out, 3, padding=1),
                    nn.SiLU(),
                    nn.Conv2d(c_out, c_out, 3, padding=1),
                    nn.SiLU(),
                )
            )

    def forward(self, y_hat: torch.Tensor) -> list[torch.Tensor]:
        f = self.stem(y_hat)
        feats = [f]
        for stage in self.stages:
            f = stage(f)
            feats.append(f)
        return feats[::-1]  # fine -> coarse, like the U-Net levels


class ConditionalUNet(nn.Module):
    """X_theta(x_n, y_hat, n/N) -> predicted x_0, for a latent of stride ``latent_stride``."""

    def __init__(
        self,
        M: int,
        latent_stride: int,
        channels: list[int] | None = None,
        groups: int = 8,
        attention: list[int] | tuple = (),
        cond_mode: str = "add",
    ):
        super().__init__()
        channels = list(channels or DEFAULT_UNET["channels"])
        if cond_mode not in ("add", "concat"):
            raise ValueError(f"cond_mode must be 'add' or 'concat', got {cond_mode!r}")
        if any(not 0 <= int(i) < len(channels) for i in attention):
            raise ValueError(f"attention levels {list(attention)} outside 0..{len(channels) - 1}")
        self.attention, self.cond_mode = sorted({int(i) for i in attention}), cond_mode
        levels = int(round(math.log2(latent_stride)))  # levels at H/2 (pixel-unshuffled) ... H/s
        if 2**levels != latent_stride or len(channels) != levels:
            raise ValueError(
                f"latent stride {latent_stride} needs {max(levels, 0)} U-Net channel entries, got {channels}"
            )
        self.M, self.latent_stride, self.channels = M, latent_stride, channels
        tdim = 4 * channels[0]
        self.time_proj = Timesteps(channels[0], flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(channels[0], tdim)
        self.cond = ConditionEncoder(M, channels)
        concat = cond_mode == "concat"
        if not concat:
            self.cond_down = nn.ModuleList(nn.Conv2d(c, c, 1) for c in channels)
            self.cond_up = nn.ModuleList(nn.Conv2d(c, c, 1) for c in channels)
        self.unshuffle, self.shuffle = nn.PixelUnshuffle(2), nn.PixelShuffle(2)
        self.conv_in = nn.Conv2d(12, channels[0], 3, padding=1)

        def res(c_in, c_out):
            return ResnetBlock2D(in_channels=c_in, out_channels=c_out, temb_channels=tdim, groups=groups)

        def attn(c):
            from diffusers.models.attention_processor import Attention

            return Attention(c, heads=max(1, c // 32), dim_head=min(32, c), norm_num_groups=groups, bias=True,
                             residual_connection=True, upcast_softmax=True, _from_deprecated_attn_block=True)  # fmt: skip

        if self.attention:
            self.attn_down = nn.ModuleDict({str(i): attn(channels[i]) for i in self.attention})
            self.attn_up = nn.ModuleDict({str(i): attn(channels[i]) for i in self.attention})
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        c_prev = channels[0]
        for i, c in enumerate(channels):
            self.down.append(res(c_prev + (c if concat else 0), c))
            last = i == len(channels) - 1
            self.downsample.append(nn.Identity() if last else Downsample2D(c, use_conv=True))
            c_prev = c
        self.mid = res(channels[-1], channels[-1])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(channels))):
            c = channels[i]
            self.up.append(res(c_prev + c, c))
            self.upsample.append(Upsample2D(c, use_conv=True) if i > 0 else nn.Identity())
            c_prev = c
        self.norm_out = nn.GroupNorm(groups, channels[0])
        self.conv_out = nn.Conv2d(channels[0], 12, 3, padding=1)

    def forward(self, x_n: torch.Tensor, y_hat: torch.Tensor, t_norm: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x_n.shape
        s = self.latent_stride
        if y_hat.shape[0] != b or y_hat.shape[1] != self.M or tuple(y_hat.shape[-2:]) != (h // s, w // s):
            raise ValueError(
                f"condition must be (B, {self.M}, {h // s}, {w // s}) for x_n {tuple(x_n.shape)}, "
                f"got {tuple(y_hat.shape)}"
            )
        t_norm = torch.as_tensor(t_norm, dtype=x_n.dtype, device=x_n.device).reshape(-1).expand(b)
        temb = self.time_embed(self.time_proj(1000.0 * t_norm).to(x_n.dtype))
        cond = self.cond(y_hat)
        h_ = self.conv_in(self.unshuffle(x_n))
        skips = []
        concat = self.cond_mode == "concat"
        for i, (block, down) in enumerate(zip(self.down, self.downsample)):
            if concat:
                h_ = block(torch.cat([h_, cond[i]], dim=1), temb)
            else:
                h_ = block(h_, temb) + self.cond_down[i](cond[i])
            if i in self.attention:
                h_ = self.attn_down[str(i)](h_)
            skips.append(h_)
            h_ = down(h_)
        h_ = self.mid(h_, temb)
        for j, (block, up) in enumerate(zip(self.up, self.upsample)):
            i = len(self.channels) - 1 - j
            h_ = block(torch.cat([h_, skips[i]], dim=1), temb)
            if not concat:
                h_ = h_ + self.cond_up[i](cond[i])
            if i in self.attention:
                h_ = self.attn_up[str(i)](h_)
            h_ = up(h_)
        return self.shuffle(self.conv_out(torch.nn.functional.silu(self.norm_out(h_))))
