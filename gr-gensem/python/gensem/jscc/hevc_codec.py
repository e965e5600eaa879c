"""HEVC-intra still-image codec (x265 through pillow-heif), our stand-in for BPG.

BPG is HEVC intra in a small container; BPG itself is not packaged here, so we code the
image as a HEIF file with libheif's x265 encoder (4:2:0 chroma, like BPG's default). All
sizes count the whole HEIF file, container boxes included (~400 bytes, see
docs/jscc_baselines.md), which makes this a slightly pessimistic BPG stand-in at low rates.
Encoding is deterministic (same image and quality -> same bytes).
"""

from __future__ import annotations

import io

import numpy as np

QUALITY_MIN, QUALITY_MAX = 0, 100


def _heif():
    try:
        import pillow_heif
    except ImportError:
        raise ImportError("the HEVC baselines need pillow-heif: pip install 'pillow-heif>=0.18'") from None
    return pillow_heif


def check_image(img) -> np.ndarray:
    img = np.asarray(img)
    if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3 or min(img.shape[:2]) < 1:
        raise ValueError(f"expected a uint8 HxWx3 image, got {img.dtype} {img.shape}")
    return np.ascontiguousarray(img)


def hevc_encode(img: np.ndarray, quality: int) -> bytes:
    """Encode an RGB uint8 image as a HEIF/HEVC file at x265 quality 0..100."""
    img = check_image(img)
    if not QUALITY_MIN <= int(quality) <= QUALITY_MAX:
        raise ValueError(f"quality {quality!r} outside {QUALITY_MIN}..{QUALITY_MAX}")
    h, w = img.shape[:2]
    heif = _heif().from_bytes(mode="RGB", size=(w, h), data=img.tobytes())
    buf = io.BytesIO()
    heif.save(buf, quality=int(quality), chroma=420)
    return buf.getvalue()


def hevc_decode(data: bytes) -> np.ndarray:
    """Decode a HEIF file to an RGB uint8 HxWx3 array (raises on a corrupt stream)."""
    heif = _heif().open_heif(io.BytesIO(bytes(data)), convert_hdr_to_8bit=True)
    if heif.mode != "RGB":
        heif.convert_to("RGB")
    return np.ascontiguousarray(np.asarray(heif)[..., :3], dtype=np.uint8)


def encode_to_budget(img: np.ndarray, max_bytes: int) -> tuple[bytes, int] | None:
    """Highest quality whose whole HEIF file (container included) fits ``max_bytes``.

    Bisection over 0..100 (file size grows with quality; only sizes actually measured
    are trusted). Returns ``(data, quality)`` or None when quality 0 does not fit.
    """
    img = check_image(img)
    lo_data = hevc_encode(img, QUALITY_MIN)
    if len(lo_data) > max_bytes:
        return None
    best = (lo_data, QUALITY_MIN)
    lo, hi = QUALITY_MIN + 1, QUALITY_MAX
    while lo <= hi:
        q = (lo + hi) // 2
        data = hevc_encode(img, q)
        if len(data) <= max_bytes:
            best = (data, q)
            lo = q + 1
        else:
            hi = q - 1
    return best
