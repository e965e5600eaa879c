"""DeepJSCC baseline (Bourtsoulatze, Kurka, Gunduz 2019; CDM-JSCC paper ref. [3]).

The original architecture scaled to our image size: 5x5 convolutions with PReLU, ``num_down``
stride-2 stages (4, like the CDM-JSCC latent, instead of 2 for 32x32 CIFAR), a last conv to
2c real channels = c complex symbols per latent position, average power normalisation per
image, the AWGN channel as a non-trainable layer, and the mirrored decoder (transposed convs,
PReLU, sigmoid). CBR = c / (3 * 4**num_down), fixed by the architecture: c = 16 at 1/48.
Trained for MSE, like the paper's DeepJSCC benchmark.
"""

from __future__ import annotations

import torch
from torch import nn

from gensem.core.cdm_jscc.channel import awgn

DEFAULT_DEEPJSCC = {"channels": [64, 96, 128, 128], "cbr": 1 / 48}
TINY_DEEPJSCC = {"channels": [8, 8], "cbr": 1 / 12}


def complex_per_position(cbr: float, num_down: int) -> int:
    c = cbr * 3 * 4**num_down
    if abs(c - round(c)) > 1e-6 or round(c) < 1:
        raise ValueError(
            f"CBR {cbr} with {num_down} downsamplings needs {c:.3f} symbols per position (not a whole number)"
        )
    return int(round(c))


class DeepJSCC(nn.Module):
    def __init__(self, config: dict | None = None):
        super().__init__()
        self.config = dict(DEFAULT_DEEPJSCC, **(config or {}))
        chans = list(self.config["channels"])
        self.num_down = len(chans)
        self.c = complex_per_position(self.config["cbr"], self.num_down)
        enc: list[nn.Module] = []
        c_in = 3
        for c in chans:
            enc += [nn.Conv2d(c_in, c, 5, stride=2, padding=2), nn.PReLU(c)]
            c_in = c
        enc.append(nn.Conv2d(c_in, 2 * self.c, 5, padding=2))
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv2d(2 * self.c, chans[-1], 5, padding=2), nn.PReLU(chans[-1])]
        rev = chans[::-1] + [3]
        for i in range(self.num_down):
            dec.append(nn.ConvTranspose2d(rev[i], rev[i + 1], 5, stride=2, padding=2, output_padding=1))
            dec.append(nn.PReLU(rev[i + 1]) if i < self.num_down - 1 else nn.Sigmoid())
        self.decoder = nn.Sequential(*dec)

    @property
    def multiple(self) -> int:
        return 2**self.num_down

    @property
    def cbr(self) -> float:
        return self.c / (3 * 4**self.num_down)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (B, c, H/s, W/s) complex symbols, mean |s|^2 = 1 per image."""
        m = self.multiple
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"image must be (B, 3, H, W) with H, W multiples of {m}, got {tuple(x.shape)}")
        f = self.encoder(x)
        b, _, h, w = f.shape
        s = torch.view_as_complex(f.reshape(b, self.c, 2, h, w).permute(0, 1, 3, 4, 2).contiguous())
        power = (s.abs() ** 2).mean(dim=(1, 2, 3), keepdim=True)
        return s / power.clamp_min(1e-12).sqrt()

    def decode(self, s: torch.Tensor) -> torch.Tensor:
        b, c, h, w = s.shape
        f = torch.view_as_real(s).permute(0, 1, 4, 2, 3).reshape(b, 2 * c, h, w)
        return self.decoder(f)

    def forward(self, x: torch.Tensor, snr_db: float, generator=None) -> torch.Tensor:
        return self.decode(awgn(self.encode(x), snr_db, generator=generator))

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
