"""Image quality metrics of the receiver: PSNR, MS-SSIM, CLIP score (Qiao et al. §III-B), LPIPS.

PSNR and MS-SSIM need no weights. CLIP and LPIPS need pretrained weights on local disk;
when they are missing the metric is None and ``evaluate`` says why in ``<metric>_reason``.

Images: numpy arrays (H×W or H×W×C, C in {1, 3}; uint8 0..255 or float 0..1), PIL
images (mode L or RGB) or torch tensors (C×H×W or 1×C×H×W, float 0..1). Both images of a
pair must have the same size and channel count; anything else is a one-line ValueError.

MS-SSIM: the standard 5 scales (pytorch-msssim, 11-tap Gaussian window) need a smaller
side of at least 161 pixels. Smaller images (>= 11 pixels) use fewer scales, with the
first weights renormalised; ``evaluate`` reports ``ms_ssim_scales`` and a note, since such
values are not comparable with standard MS-SSIM.

PSNR of identical images is infinite: ``psnr`` returns ``math.inf``, ``evaluate`` caps it at
``PSNR_CAP_DB`` (100 dB) so the result stays valid JSON.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import sys

import numpy as np

PSNR_CAP_DB = 100.0
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
WIN = 11
CLIP_ENV = "GENSEM_CLIP_MODEL"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"


def _as_array(img, name: str) -> np.ndarray:
    """-> float64 array H×W×C in [0, 1]."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with torchvision
        Image = None
    if Image is not None and isinstance(img, Image.Image):
        if img.mode not in ("L", "RGB"):
            raise ValueError(
                f"{name}: image mode {img.mode!r} not supported; convert it to 'RGB' or 'L' first"
            )
        img = np.asarray(img)
    elif type(img).__module__.startswith("torch"):
        t = img.detach().to("cpu").float()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3:
            raise ValueError(f"{name}: tensor shape {tuple(t.shape)}; expected C×H×W or 1×C×H×W")
        img = t.permute(1, 2, 0).numpy()
    if not isinstance(img, np.ndarray):
        raise ValueError(
            f"{name}: expected a numpy array, PIL image or torch tensor, got {type(img).__name__}"
        )
    a = img
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 3) or min(a.shape[:2]) < 1:
        raise ValueError(f"{name}: shape {img.shape}; expected H×W, H×W×1 or H×W×3")
    if a.dtype == np.uint8:
        return a.astype(np.float64) / 255.0
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"{name}: dtype {a.dtype}; use uint8 (0..255) or float (0..1)")
    a = a.astype(np.float64)
    if not np.isfinite(a).all() or a.min() < 0.0 or a.max() > 1.0:
        raise ValueError(f"{name}: float image values must be finite and within [0, 1]")
    return a


def _pair(a, b):
    x, y = _as_array(a, "original"), _as_array(b, "generated")
    if x.shape != y.shape:
        sx, sy = "×".join(map(str, x.shape)), "×".join(map(str, y.shape))
        raise ValueError(
            f"image shapes differ ({sx} vs {sy}); resize/convert the generated image to the original's"
        )
    return x, y


def psnr(a, b) -> float:
    """PSNR in dB with peak 1.0 (255 for uint8); ``math.inf`` for identical images."""
    x, y = _pair(a, b)
    mse = float(np.mean((x - y) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def mean_colour_error(a, b) -> float:
    """Mean over R, G, B of |mean of a - mean of b|, in the images' own units (8-bit levels
    for uint8): how far the overall colour is off, whatever the detail."""
    x, y = (np.asarray(v, np.float64).reshape(-1, np.asarray(v).shape[-1]) for v in (a, b))
    return float(np.mean(np.abs(x.mean(0) - y.mean(0))))


def ms_ssim(a, b) -> tuple[float, int]:
    """(MS-SSIM, number of scales). 5 scales from 161 px (smaller side); fewer below, down to 11 px."""
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    x, y = _pair(a, b)
    side = min(x.shape[:2])
    if side < WIN:
        raise ValueError(
            f"images of {side} px are too small for MS-SSIM (need >= {WIN} px on the smaller side)"
        )
    X = torch.from_numpy(x).permute(2, 0, 1)[None].float()
    Y = torch.from_numpy(y).permute(2, 0, 1)[None].float()
    if side > (WIN - 1) * 16:
        return float(_ms_ssim(X, Y, data_range=1.0, size_average=True, win_size=WIN)), 5
    levels = 1 + int(math.floor(math.log2(side / WIN)))
    return _ms_ssim_levels(X, Y, levels), levels


def _ms_ssim_levels(X, Y, levels: int) -> float:
    """MS-SSIM over ``levels`` scales with the first standard weights renormalised (the
    pytorch-msssim algorithm; with levels=5 it equals pytorch_msssim.ms_ssim)."""
    import torch
    import torch.nn.functional as F
    from pytorch_msssim.ssim import _fspecial_gauss_1d, _ssim

    w = torch.tensor(MS_SSIM_WEIGHTS[:levels])
    w = w / w.sum()
    win = _fspecial_gauss_1d(WIN, 1.5).repeat([X.shape[1]] + [1] * (X.ndim - 1))
    vals = []
    for i in range(levels):
        ssim_pc, cs = _ssim(X, Y, win=win, data_range=1.0, size_average=False, K=(0.01, 0.03))
        if i < levels - 1:
            vals.append(torch.relu(cs))
            pad = [s % 2 for s in X.shape[2:]]
            X, Y = F.avg_pool2d(X, kernel_size=2, padding=pad), F.avg_pool2d(Y, kernel_size=2, padding=pad)
    vals.append(torch.relu(ssim_pc))
    stack = torch.stack(vals, dim=0)
    return float(torch.prod(stack ** w.view(-1, 1, 1), dim=0).mean())


@functools.lru_cache(maxsize=2)
def _load_clip(path: str):
    from transformers import CLIPImageProcessor, CLIPModel

    with contextlib.redirect_stdout(sys.stderr):
        model = CLIPModel.from_pretrained(path, local_files_only=True).eval()
        proc = CLIPImageProcessor.from_pretrained(path, local_files_only=True)
    return model, proc


def clip_score(a, b, model_path: str | None = None) -> tuple[float | None, str | None]:
    """(normalised CLIP score (cos + 1) / 2 between the images' CLIP embeddings, reason if None)."""
    x, y = _pair(a, b)
    path = model_path or os.environ.get(CLIP_ENV)
    if not path:
        return (
            None,
            f"no CLIP weights: pass a local transformers CLIP checkpoint (clip_model=PATH or {CLIP_ENV})",
        )
    if not os.path.isdir(path):
        return None, f"CLIP checkpoint {path!r} is not a local directory"
    try:
        model, proc = _load_clip(path)
    except Exception as exc:  # missing files, wrong format: report, do not crash the receiver
        from gensem.core.errors import first_line

        return (
            None,
            f"CLIP checkpoint {path!r} could not be loaded ({first_line(exc, 160)})",
        )
    import torch

    imgs = [np.repeat(v, 3, axis=2) if v.shape[2] == 1 else v for v in (x, y)]
    inputs = proc(images=[(v * 255).round().astype(np.uint8) for v in imgs], return_tensors="pt")
    with torch.no_grad():
        feats = model.get_image_features(pixel_values=inputs["pixel_values"])
    if not isinstance(feats, torch.Tensor):  # newer transformers return a model output
        emb = getattr(feats, "image_embeds", None)
        feats = emb if emb is not None else feats.pooler_output
    cos = torch.nn.functional.cosine_similarity(feats[0:1], feats[1:2]).item()
    return (cos + 1.0) / 2.0, None


def lpips_distance(a, b, net: str = "alex") -> tuple[float | None, str | None]:
    """(LPIPS distance, reason if None). Needs the ``lpips`` package and its torchvision
    backbone weights in the torch hub cache (no download is attempted)."""
    x, y = _pair(a, b)
    try:
        import lpips  # noqa: F401
        import torch
    except ImportError:
        return None, "LPIPS unavailable: pip install lpips"
    ckpt = os.path.join(torch.hub.get_dir(), "checkpoints", ALEXNET_FILE)
    if net != "alex" or not os.path.isfile(ckpt):
        return None, f"LPIPS backbone weights not on disk (need {ckpt}); no download attempted"
    model = _load_lpips()
    X = torch.from_numpy(np.repeat(x, 3, 2) if x.shape[2] == 1 else x).permute(2, 0, 1)[None].float()
    Y = torch.from_numpy(np.repeat(y, 3, 2) if y.shape[2] == 1 else y).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        return float(model(X * 2 - 1, Y * 2 - 1).item()), None


@functools.lru_cache(maxsize=1)
def _load_lpips():
    import lpips

    with contextlib.redirect_stdout(sys.stderr):  # lpips prints a banner; keep stdout for --json
        return lpips.LPIPS(net="alex", verbose=False).eval()


def evaluate(original, generated, clip_model: str | None = None, lpips: bool = True) -> dict:
    """All metrics of one image pair, JSON-ready. Raises ValueError (one line) for bad images."""
    x, y = _pair(original, generated)
    p = psnr(x, y)
    out = {"psnr_db": min(p, PSNR_CAP_DB), "psnr_capped": p > PSNR_CAP_DB}
    if min(x.shape[:2]) >= WIN:
        v, scales = ms_ssim(x, y)
        out.update(ms_ssim=v, ms_ssim_scales=scales, ms_ssim_reason=None)
        if scales < 5:
            out["ms_ssim_reason"] = (
                f"{scales} scales (image under 161 px): not comparable with standard MS-SSIM"
            )
    else:
        out.update(ms_ssim=None, ms_ssim_scales=0, ms_ssim_reason=f"image under {WIN} px")
    out["clip"], out["clip_reason"] = clip_score(x, y, clip_model)
    if lpips:
        out["lpips"], out["lpips_reason"] = lpips_distance(x, y)
    else:
        out["lpips"], out["lpips_reason"] = None, "not requested"
    return out
