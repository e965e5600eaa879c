"""Loss (10) of CDM-JSCC and its perceptual term d_p (eq. (9)).

L = (1 - eta) (||x - x_hat||^2 + ||x - x_bar||^2) + eta (d_p(x, x_hat) + d_p(x, x_bar)) + lambda R,
with R the estimated rate in bits per pixel. The paper's d_p is LPIPS-VGG. Its VGG-16 weights
cannot be downloaded here, so ``PerceptualLoss`` uses the real ``lpips`` loader when the weights
are already in the torch hub cache and otherwise the offline term 1 - MS-SSIM (pytorch-msssim;
plain SSIM on crops too small for five scales). ``PerceptualLoss.name`` says which one ran.
"""

from __future__ import annotations

import contextlib
import os
import sys

import torch
from torch import nn

VGG_WEIGHTS = "vgg16-397923af.pth"


def _lpips_vgg_or_none():
    path = os.path.join(torch.hub.get_dir(), "checkpoints", VGG_WEIGHTS)
    if not os.path.exists(path):
        return None, f"LPIPS-VGG weights not found at {path}"
    try:
        import lpips

        with contextlib.redirect_stdout(sys.stderr):
            return lpips.LPIPS(net="vgg", verbose=False).eval(), None
    except Exception as exc:  # a broken install must not stop training: fall back, say why
        return None, f"LPIPS-VGG unavailable ({type(exc).__name__}: {exc})"


def ms_ssim_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM (images in [0, 1]); SSIM with a smaller window for crops under 161 px."""
    from pytorch_msssim import ms_ssim, ssim

    side = min(a.shape[-2:])
    if side > 160:
        return 1.0 - ms_ssim(a, b, data_range=1.0, size_average=True)
    win = max(3, min(11, side // 2 * 2 - 1))
    return 1.0 - ssim(a, b, data_range=1.0, size_average=True, win_size=win)


class PerceptualLoss(nn.Module):
    """d_p: LPIPS-VGG when its weights are on disk, else 1 - MS-SSIM (``name`` says which)."""

    def __init__(self, prefer_lpips: bool = True):
        super().__init__()
        self.lpips, self.reason = _lpips_vgg_or_none() if prefer_lpips else (None, "not requested")
        if self.lpips is not None:
            for p in self.lpips.parameters():
                p.requires_grad_(False)
        self.name = "lpips-vgg" if self.lpips is not None else "1-ms-ssim"

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.lpips is not None:
            return self.lpips(2 * a - 1, 2 * b - 1).mean()
        return ms_ssim_distance(a.clamp(0, 1), b.clamp(0, 1))


def min_snr_weight(snr: torch.Tensor, gamma: float) -> torch.Tensor:
    """The authors' weighting of the X-prediction MSE: min(SNR_n, gamma) per image
    (their ``loss_weight_min`` = 5; Hang et al.'s min-SNR-gamma for x_0 targets)."""
    if gamma <= 0:
        raise ValueError(f"min-SNR gamma must be > 0, got {gamma}")
    return snr.clamp(max=float(gamma))


def cdm_jscc_loss(
    x, x_hat, x_bar, bpp, eta: float, lam: float, perceptual: PerceptualLoss, weight: torch.Tensor | None = None
) -> tuple:
    """Loss (10); returns (total, dict of its terms as floats). A ``None`` reconstruction drops its terms.
    ``weight`` (one per image, e.g. ``min_snr_weight``) weights the per-image MSE terms."""
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must be in [0, 1], got {eta}")
    zero = torch.zeros((), device=x.device)
    terms = {"mse_hat": zero, "dp_hat": zero, "mse_bar": zero, "dp_bar": zero, "bpp": bpp}
    for name, rec in (("hat", x_hat), ("bar", x_bar)):
        if rec is not None:
            per_image = torch.mean((x - rec) ** 2, dim=(1, 2, 3))
            terms["mse_" + name] = torch.mean(per_image * weight) if weight is not None else torch.mean(per_image)
            terms["dp_" + name] = perceptual(x, rec) if eta > 0 else zero
    total = (1 - eta) * (terms["mse_hat"] + terms["mse_bar"]) + eta * (terms["dp_hat"] + terms["dp_bar"])
    total = total + lam * bpp
    return total, {k: float(v.detach()) for k, v in terms.items()}
