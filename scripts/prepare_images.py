#!/usr/bin/env python3
"""Collect the open training/validation photos: Debian wallpaper packages + scikit-image.

Sources (the only ones our checkpoints are trained on): Debian's
``plasma-workspace-wallpapers`` and ``gnome-backgrounds`` (fetched with ``apt-get download``,
unpacked with ``dpkg -x``; no root needed) and the images bundled with scikit-image
(``skimage.data``; the ones that would need a download are skipped). Each source image is
resized so that its longer side is 1024 px and saved as PNG in ``OUT/`` with
``OUT/manifest.json`` (name, source, license package, split). Split: a fixed hash of the
name puts one image in eight in ``val``, which training never reads.

    .venv/bin/python scripts/prepare_images.py --out data/images
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from PIL import Image

PACKAGES = ("plasma-workspace-wallpapers", "gnome-backgrounds")
SKIMAGE = (
    "astronaut",
    "brick",
    "camera",
    # "cat" is left out: skimage.data.cat() is the same picture as chelsea (byte-identical),
    # and the name hash had put one copy in each split
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "grass",
    "gravel",
    "horse",
    "immunohistochemistry",
    "moon",
    "page",
    "rocket",
    "stereo_motorcycle",
)
LONG_SIDE = 1024


def split_of(name: str) -> str:
    return "val" if int(hashlib.sha1(name.encode()).hexdigest(), 16) % 8 == 0 else "train"


def _wallpapers(pkg_dir: str):
    """(name, path) per wallpaper: the largest light image of each KDE theme, GNOME's '-l' set."""
    root = os.path.join(pkg_dir, "usr", "share")
    kde = os.path.join(root, "wallpapers")
    if os.path.isdir(kde):
        for theme in sorted(os.listdir(kde)):
            d = os.path.join(kde, theme, "contents", "images")
            if not os.path.isdir(d):
                continue
            files = [f for f in os.listdir(d) if f.lower().endswith((".jpg", ".png", ".webp"))]
            if files:
                best = max(files, key=lambda f: os.path.getsize(os.path.join(d, f)))
                yield f"kde-{theme}", os.path.join(d, best), "plasma-workspace-wallpapers"
    gnome = os.path.join(root, "backgrounds", "gnome")
    if os.path.isdir(gnome):
        for f in sorted(os.listdir(gnome)):
            if f.lower().endswith((".jpg", ".png", ".webp")) and not f.rsplit(".", 1)[0].endswith("-d"):
                yield f"gnome-{f.rsplit('.', 1)[0]}", os.path.join(gnome, f), "gnome-backgrounds"


def _fetch_packages(work: str, deb_dir: str | None) -> str:
    x = os.path.join(work, "x")
    os.makedirs(x, exist_ok=True)
    if deb_dir:
        debs = [os.path.join(deb_dir, f) for f in os.listdir(deb_dir) if f.endswith(".deb")]
    else:
        r = subprocess.run(["apt-get", "download", *PACKAGES], cwd=work, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"prepare_images: apt-get download failed: {r.stderr.strip().splitlines()[-1:]}")
        debs = [os.path.join(work, f) for f in os.listdir(work) if f.endswith(".deb")]
    for deb in debs:
        subprocess.run(["dpkg", "-x", deb, x], check=True)
    return x


def _save(img: np.ndarray, path: str):
    im = Image.fromarray(img)
    if im.mode != "RGB":
        im = im.convert("RGB")
    s = LONG_SIDE / max(im.size)
    if s < 1:
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    im.save(path)
    return im.size


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/images")
    ap.add_argument("--debs", help="directory with the .deb files already downloaded")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    manifest = []
    with tempfile.TemporaryDirectory() as work:
        x = _fetch_packages(work, args.debs)
        for name, path, pkg in _wallpapers(x):
            with Image.open(path) as im:
                size = _save(np.asarray(im.convert("RGB")), os.path.join(args.out, name + ".png"))
            manifest.append({"name": name, "source": pkg, "size": size, "split": split_of(name)})
    import skimage.data

    for n in SKIMAGE:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img = getattr(skimage.data, n)()
        except Exception as exc:  # needs a download we cannot do offline
            print(f"prepare_images: skipped skimage.data.{n} ({type(exc).__name__})", file=sys.stderr)
            continue
        if isinstance(img, tuple):
            img = img[0]
        img = np.asarray(img)
        if img.ndim not in (2, 3) or min(img.shape[:2]) < 128:
            print(f"prepare_images: skipped skimage.data.{n} (not a photo-sized image)", file=sys.stderr)
            continue
        if img.dtype != np.uint8:
            img = img.astype(np.float64)
            img = (255 * (img - img.min()) / max(float(np.ptp(img)), 1e-9)).astype(np.uint8)
        size = _save(img, os.path.join(args.out, f"skimage-{n}.png"))
        manifest.append(
            {"name": f"skimage-{n}", "source": "scikit-image", "size": size, "split": split_of(n)}
        )
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    n_val = sum(m["split"] == "val" for m in manifest)
    print(
        f"prepare_images: {len(manifest)} images in {args.out} ({len(manifest) - n_val} train, {n_val} val)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
