"""Analysis transform g_e and the hyperprior h_e / h_s of CDM-JSCC (paper §II-A, eq. (1)).

Built from CompressAI blocks (GDN, conv/deconv, EntropyBottleneck, GaussianConditional) in the
mean-scale hyperprior layout of Ballé et al. / Minnen et al. (the paper's ref. [5]).
"""

import torch
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models.utils import conv, deconv
from torch import nn


class HyperpriorTransform(nn.Module):
    """g_e (stride 2**num_down), h_e / h_s (stride 4) and the entropy models.

    ``forward(x)`` returns a dict: ``y`` (unquantised latent, the JSCC encoder input), ``y_hat``,
    ``z_hat``, ``scales`` and ``means`` from h_s, and the likelihoods ``y_likelihoods`` =
    p(y_hat | z_hat) of eq. (1) and ``z_likelihoods`` = p(z_hat) (both elementwise).
    """

    def __init__(self, N: int = 128, M: int = 192, num_down: int = 4):
        super().__init__()
        if num_down < 1:
            raise ValueError(f"num_down must be >= 1, got {num_down}")
        layers: list[nn.Module] = []
        ch = 3
        for i in range(num_down):
            last = i == num_down - 1
            layers.append(conv(ch, M if last else N))
            if not last:
                layers.append(GDN(N))
            ch = N
        self.g_e = nn.Sequential(*layers)
        self.h_e = nn.Sequential(
            conv(M, N, stride=1, kernel_size=3),
            nn.ReLU(inplace=True),
            conv(N, N),
            nn.ReLU(inplace=True),
            conv(N, N),
        )
        self.h_s = nn.Sequential(
            deconv(N, N),
            nn.ReLU(inplace=True),
            deconv(N, N),
            nn.ReLU(inplace=True),
            conv(N, 2 * M, stride=1, kernel_size=3),
        )
        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)
        self.N, self.M, self.stride = N, M, 2**num_down

    def forward(self, x: torch.Tensor) -> dict:
        h, w = x.shape[-2:]
        s = self.stride * 4
        if x.dim() != 4 or x.shape[1] != 3 or h % s or w % s:
            raise ValueError(f"x must be (B, 3, H, W) with H, W multiples of {s}, got {tuple(x.shape)}")
        y = self.g_e(x)
        z = self.h_e(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self.h_s(z_hat).chunk(2, dim=1)
        y_hat, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        return {
            "y": y,
            "y_hat": y_hat,
            "z_hat": z_hat,
            "scales": scales,
            "means": means,
            "y_likelihoods": y_likelihoods,
            "z_likelihoods": z_likelihoods,
        }
