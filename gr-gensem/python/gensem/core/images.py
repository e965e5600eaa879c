"""Image loading and fitting to the system's working size (768 x 512 by default)."""

from __future__ import annotations

import numpy as np

WORK_SIZE = (768, 512)  # (width, height), as in the paper's Fig. 3 example


MIN_SIDE = 32  # px: smaller images are degenerate (a 32 px side is already scaled 16x or more)


def _to_rgb8(im) -> np.ndarray:
    """Any PIL mode -> RGB uint8: 16-bit greyscale scaled by 1/257 (not clipped at 255, as
    PIL's convert does), 32-bit integer / float greyscale stretched from min to max."""
    if im.mode.startswith("I;16"):
        a = np.asarray(im, dtype=np.float64) / 257.0
    elif im.mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(np.min(a)), float(np.max(a))
        a = (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    else:
        return np.asarray(im.convert("RGB"))
    a = np.clip(np.round(a), 0, 255).astype(np.uint8)
    return np.repeat(a[..., None], 3, axis=-1)


def load_image(path: str) -> np.ndarray:
    """RGB uint8 array (any PIL mode converted, 16-bit scaled); ValueError with the reason for
    anything that is not a readable image of at least MIN_SIDE pixels on each side."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if min(im.size) < MIN_SIDE:
                raise ValueError(
                    f"image {path} is {im.size[0]}x{im.size[1]}: need at least {MIN_SIDE} px on each side "
                    f"(it is scaled to cover {WORK_SIZE[0]}x{WORK_SIZE[1]})"
                )
            return _to_rgb8(im)
    except FileNotFoundError:
        raise ValueError(f"image not found: {path}") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from None


def fit_image(img: np.ndarray, size=WORK_SIZE) -> np.ndarray:
    """Resize to cover ``size`` (width, height) keeping the aspect ratio, then centre-crop."""
    import cv2

    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, axis=-1)
    if img.ndim != 3 or img.shape[2] not in (3, 4) or img.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3); got {img.dtype} {img.shape}")
    img = img[..., :3]
    w, h = size
    s = max(w / img.shape[1], h / img.shape[0])
    nw, nh = max(w, round(img.shape[1] * s)), max(h, round(img.shape[0] * s))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC
    img = cv2.resize(img, (nw, nh), interpolation=interp)
    x0, y0 = (nw - w) // 2, (nh - h) // 2
    return np.ascontiguousarray(img[y0 : y0 + h, x0 : x0 + w])


def split_names(images_dir: str, split: str) -> list[str]:
    """Names (no extension) of one split of ``scripts/prepare_images.py``'s ``manifest.json``."""
    import json
    import os

    path = os.path.join(images_dir, "manifest.json")
    if not os.path.isfile(path):
        raise ValueError(f"no manifest.json in {images_dir} (run scripts/prepare_images.py)")
    with open(path) as f:
        names = [m["name"] for m in json.load(f) if m.get("split") == split]
    if not names:
        raise ValueError(f"no {split!r} images in {path}")
    return names
