"""The transmitter's edge map of a training / evaluation image, by method, with a disk cache.

Imported by the training and evaluation scripts (not a command). ``sent_detail(images_dir,
name, img, method)`` returns the ``make_edges(s)`` callable ``fit_edge_budget`` bisects on:

* ``canny``: ``edge_budget.canny_detail`` (thresholds 100 s / 200 s), as ``gensem demo`` does;
* ``hed``: ``edge_budget.soft_detail`` of the HED map (``gensem.semantic.edges.hed_edges``,
  the converted BSDS500 weights). HED costs ~1.7 s per 768 x 512 image on this machine's CPU, so
  the map is cached as ``<images_dir>/hed/<name>.png`` (uint8, the image's size) and reused:
  it depends only on the image and the weights.
"""

from __future__ import annotations

import os

import numpy as np

EDGE_METHODS = ("canny", "hed")


def hed_map(images_dir: str, name: str, img: np.ndarray) -> np.ndarray:
    """HED soft map (uint8 H x W) of ``img``, from the cache when it has one of the right size."""
    from PIL import Image

    path = os.path.join(images_dir, "hed", f"{name}.png")
    if os.path.isfile(path):
        m = np.asarray(Image.open(path))
        if m.shape == img.shape[:2]:
            return m
    from gensem.semantic.edges import hed_edges

    m = hed_edges(img)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(m).save(path)
    return m


def sent_detail(images_dir: str, name: str, img: np.ndarray, method: str):
    """``make_edges(s)`` for ``fit_edge_budget``: the demo's map of ``img`` by ``method``
    (``edge_budget.edge_detail``, with the HED map from the cache)."""
    from gensem.semantic.edge_budget import edge_detail, soft_detail

    if method not in EDGE_METHODS:
        raise ValueError(f"unknown edge method {method!r}; use one of {', '.join(EDGE_METHODS)}")
    return soft_detail(hed_map(images_dir, name, img)) if method == "hed" else edge_detail(img, method)


def parse_methods(text: str) -> list[str]:
    """'canny,hed' -> ['canny', 'hed'] (ValueError naming the bad one)."""
    methods = [m.strip() for m in text.split(",") if m.strip()]
    for m in methods:
        if m not in EDGE_METHODS:
            raise ValueError(f"unknown edge method {m!r}; use any of {', '.join(EDGE_METHODS)}")
    if not methods:
        raise ValueError("no edge method given")
    return methods


if __name__ == "__main__":  # fill the cache: python scripts/edge_maps.py IMAGES_DIR
    import sys
    import time

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gr-gensem", "python"))
    from gensem.core.images import fit_image, load_image

    d = sys.argv[1]
    names = sorted(f[:-4] for f in os.listdir(d) if f.endswith(".png"))
    t0 = time.monotonic()
    for i, n in enumerate(names):
        hed_map(d, n, fit_image(load_image(os.path.join(d, n + ".png"))))
        print(f"{i + 1}/{len(names)} {n} {time.monotonic() - t0:.0f}s", flush=True)
