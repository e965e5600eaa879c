"""The colour words of an image: the basic colour terms that cover most of it.

A prompt that names colours ("a red ladybird on a green leaf") is how a user, or a captioner
such as BLIP, tells the receiver about colour in text. ``colour_words(img)`` gives the
transmitter's own description: each pixel of a 48 x 32 thumbnail is named by one of eleven
basic colour terms (Berlin & Kay), from its HSV value (grey levels by value when the
saturation is low; hue sectors otherwise; dark orange / red is brown, light red / magenta is
pink); the terms that cover at least ``min_share`` of the image, the largest first, at most
``max_words``. Used to caption the training photos of the offline receiver (so that it learns
what colour words mean) and by ``gensem demo --prompt-colours``.
"""

from __future__ import annotations

import numpy as np

TERMS = ("black", "grey", "white", "red", "orange", "brown", "yellow", "green", "blue", "purple", "pink")


def name_pixels(rgb: np.ndarray) -> np.ndarray:
    """Index into ``TERMS`` of each pixel of an RGB uint8 array (..., 3)."""
    import cv2

    a = np.asarray(rgb, np.uint8).reshape(-1, 1, 3)
    hsv = cv2.cvtColor(a, cv2.COLOR_RGB2HSV_FULL).reshape(-1, 3).astype(np.float32)
    h, s, v = hsv[:, 0] * (360.0 / 256.0), hsv[:, 1] / 255.0, hsv[:, 2] / 255.0
    # hue sectors (degrees): red < 15, orange < 45, yellow < 70, green < 170, blue < 260,
    # purple < 290, pink (magenta) < 340, red again
    sector = np.select(
        [h < 15, h < 45, h < 70, h < 170, h < 260, h < 290, h < 340],
        [3, 4, 6, 7, 8, 9, 10],
        default=3,
    )
    out = sector.astype(np.int64)
    warm_dark = ((sector == 3) | (sector == 4)) & (v < 0.6)
    out[warm_dark] = 5  # brown
    out[(sector == 3) & (v >= 0.8) & (s < 0.5)] = 10  # light red: pink
    grey = (s < 0.18) | (v < 0.15)
    out[grey] = np.where(v[grey] < 0.2, 0, np.where(v[grey] > 0.85, 2, 1))
    return out.reshape(np.shape(rgb)[:-1])


def colour_words(img: np.ndarray, max_words: int = 3, min_share: float = 0.15) -> list[str]:
    """The basic colour terms covering at least ``min_share`` of ``img`` (RGB uint8), largest
    share first, at most ``max_words``; at least the most common one."""
    import cv2

    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ValueError(f"colour_words needs an RGB uint8 image; got {img.dtype} {img.shape}")
    small = cv2.resize(img, (48, 32), interpolation=cv2.INTER_AREA)
    share = np.bincount(name_pixels(small).ravel(), minlength=len(TERMS)) / (48 * 32)
    order = [int(i) for i in np.argsort(-share, kind="stable")]
    words = [TERMS[i] for i in order[:max_words] if share[i] >= min_share]
    return words or [TERMS[order[0]]]


def with_colours(prompt: str, words: list[str]) -> str:
    """``"a photo of a lemur"`` + ``["brown", "green"]`` -> ``"a photo of a lemur, brown and green"``."""
    if not words:
        return prompt
    text = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    return f"{prompt}, {text}" if prompt else text
