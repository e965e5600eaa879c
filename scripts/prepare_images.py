#!/usr/bin/env python3
"""Collect the open training/validation photos, with source, licence and caption per image.

Sources (``--sources``; the only ones our models train on), Debian packages fetched with
``apt-get download`` and unpacked with ``dpkg -x`` (no root needed):

* ``wallpapers``: ``plasma-workspace-wallpapers`` and ``gnome-backgrounds``;
* ``gcompris``: ``gcompris-qt-data``'s real photos of animals, monuments and musicians, WebP
  files inside its Qt resource files (``usr/share/gcompris-qt/rcc/explore_*.rcc``, read by
  ``_rcc_files``); GCompris names what each photo shows, which becomes its caption;
* ``lomiri``: ``lomiri-wallpapers-16.04``;
* ``skimage`` / ``sklearn``: the pictures bundled with scikit-image (those that would need a
  download are skipped) and scikit-learn's two sample photos.

Licences come from each package's ``debian/copyright`` (per file where it says, else its
``Files: *`` stanza). Each image is resized so that its longer side is 1024 px and saved as
PNG in ``OUT/`` with ``OUT/manifest.json`` (name, source, license, caption, size, split).
Split: a fixed hash of the name puts one image in eight in ``val``, which training never
reads; adding sources never moves an image between splits. The shipped checkpoints were
trained with ``--sources wallpapers,skimage`` (48 train images).

    .venv/bin/python scripts/prepare_images.py --out data/images
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import warnings
import zlib

import numpy as np
from PIL import Image

PACKAGES = {
    "wallpapers": ("plasma-workspace-wallpapers", "gnome-backgrounds"),
    "gcompris": ("gcompris-qt-data",),
    "lomiri": ("lomiri-wallpapers-16.04",),
}
SOURCES = ("wallpapers", "gcompris", "lomiri", "skimage", "sklearn")
# GCompris activities whose WebP files are photographs, and how to caption them
GCOMPRIS = {
    "explore_farm_animals": "a photo of a {}",
    "explore_world_animals": "a photo of a {}",
    "explore_monuments": "a photo of {}",
    "explore_world_music": "a photo of musicians, {}",
}
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


def copyright_stanzas(path: str) -> list[tuple[list[str], str, str]]:
    """(file globs, licence, copyright) per ``Files:`` stanza of a DEP-5 copyright file."""
    out = []
    if not os.path.isfile(path):
        return out
    for para in re.split(r"\n\s*\n", open(path, encoding="utf-8", errors="replace").read()):
        fields, key = {}, None
        for line in para.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += " " + line.strip()
            elif ":" in line:
                key, _, val = line.partition(":")
                fields[key.strip()] = val.strip()
        if "Files" in fields and "License" in fields:
            lic = fields["License"].split()[0] if fields["License"] else ""
            out.append((fields["Files"].split(), lic, fields.get("Copyright", "")))
    return out


def licence_of(stanzas, candidates) -> tuple[str, str]:
    """(licence, copyright) of the last stanza whose globs match one of ``candidates``."""
    found = ("unknown", "")
    for globs, lic, who in stanzas:
        if any(fnmatch.fnmatch(c, g) for g in globs for c in candidates):
            found = (lic, who)
    return found


def _rcc_files(data: bytes):
    """(path, bytes) of every file in a Qt resource (.rcc) file (format versions 1-3; zlib)."""
    magic, version, tree, blobs, names = struct.unpack(">4sIIII", data[:20])
    if magic != b"qres":
        raise ValueError("not a Qt resource file")
    size = 22 if version >= 2 else 14

    def name(off):
        (n,) = struct.unpack(">H", data[names + off : names + off + 2])
        return data[names + off + 6 : names + off + 6 + 2 * n].decode("utf-16-be")

    def walk(i, prefix):
        base = tree + i * size
        name_off, flags = struct.unpack(">IH", data[base : base + 6])
        path = f"{prefix}/{name(name_off)}" if i else prefix
        if flags & 0x02:  # a directory: its children
            count, first = struct.unpack(">II", data[base + 6 : base + 14])
            for c in range(count):
                yield from walk(first + c, path)
            return
        (off,) = struct.unpack(">I", data[base + 10 : base + 14])
        (n,) = struct.unpack(">I", data[blobs + off : blobs + off + 4])
        blob = data[blobs + off + 4 : blobs + off + 4 + n]
        if flags & 0x04:
            raise ValueError(f"{path}: zstd-compressed resource; not supported")
        yield path, zlib.decompress(blob[4:]) if flags & 0x01 else blob

    yield from walk(0, "")


def _words(stem: str) -> str:
    """``greatWallofChina`` / ``polar_bear`` -> ``great wall of china`` / ``polar bear``."""
    s = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", stem.replace("_", " ").replace("-", " "))
    s = re.sub(r"(?<=[a-z])(of|de|du|des)(?= |$)", r" \1", s)  # GCompris glues these: "pontduGard"
    return re.sub(r"\s+", " ", s).strip().lower()


def _gcompris(x: str):
    """(name, image bytes, caption, licence, copyright) of GCompris's photographs."""
    rcc_dir = os.path.join(x, "usr", "share", "gcompris-qt", "rcc")
    stanzas = copyright_stanzas(os.path.join(x, "usr", "share", "doc", "gcompris-qt-data", "copyright"))
    for activity, caption in GCOMPRIS.items():
        path = os.path.join(rcc_dir, activity + ".rcc")
        if not os.path.isfile(path):
            continue
        for res, blob in _rcc_files(open(path, "rb").read()):
            if not res.lower().endswith(".webp") or "/resource/" not in res:
                continue
            rel = res.split("/gcompris/", 1)[-1]  # src/activities/<activity>/resource/...
            stem = os.path.splitext(os.path.basename(rel))[0]
            cands = [os.path.splitext(rel)[0] + e for e in (".webp", ".jpg", ".png", ".svg")]
            lic, who = licence_of(stanzas, cands)
            yield f"gcompris-{activity.split('_', 1)[1]}-{stem}", blob, caption.format(_words(stem)), lic, who


def _lomiri(x: str):
    root = os.path.join(x, "usr", "share", "backgrounds")
    doc = os.path.join(x, "usr", "share", "doc", "lomiri-wallpapers-16.04", "copyright")
    stanzas = copyright_stanzas(doc)
    if os.path.isdir(root):
        for f in sorted(os.listdir(root)):
            if f.lower().endswith((".jpg", ".png")):
                lic, who = licence_of(stanzas, [f"16.04/{f}", f])
                yield f"lomiri-{f.rsplit('.', 1)[0]}", os.path.join(root, f), lic, who


def _fetch_packages(work: str, deb_dir: str | None, packages) -> str:
    x = os.path.join(work, "x")
    os.makedirs(x, exist_ok=True)
    if deb_dir:
        debs = [os.path.join(deb_dir, f) for f in os.listdir(deb_dir) if f.endswith(".deb")]
    else:
        r = subprocess.run(["apt-get", "download", *packages], cwd=work, capture_output=True, text=True)
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
    ap.add_argument("--sources", default=",".join(SOURCES), help="comma-separated: " + ", ".join(SOURCES))
    args = ap.parse_args()
    sources = [s.strip() for s in args.sources.split(",") if s.strip()]
    bad = sorted(set(sources) - set(SOURCES))
    if bad:
        print(f"prepare_images: unknown source(s) {bad}; choose from {', '.join(SOURCES)}", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    manifest = []

    def add(name, img, source, license, caption=None, copyright=None, split_key=None):
        size = _save(np.asarray(img), os.path.join(args.out, name + ".png"))
        entry = {"name": name, "source": source, "license": license, "size": size}
        if copyright:
            entry["copyright"] = copyright
        if caption:
            entry["caption"] = caption
        entry["split"] = split_of(split_key or name)
        manifest.append(entry)

    packages = [p for s in sources for p in PACKAGES.get(s, ())]
    with tempfile.TemporaryDirectory() as work:
        x = _fetch_packages(work, args.debs, packages) if packages else work
        if "wallpapers" in sources:
            for name, path, pkg in _wallpapers(x):
                with Image.open(path) as im:
                    add(name, im.convert("RGB"), pkg, f"see /usr/share/doc/{pkg}/copyright")
        if "gcompris" in sources:
            import io

            for name, blob, caption, lic, who in _gcompris(x):
                with Image.open(io.BytesIO(blob)) as im:
                    add(name, im.convert("RGB"), "gcompris-qt-data", lic, caption, who)
        if "lomiri" in sources:
            for name, path, lic, who in _lomiri(x):
                with Image.open(path) as im:
                    add(name, im.convert("RGB"), "lomiri-wallpapers-16.04", lic, None, who)
    if "skimage" in sources:
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
            add(f"skimage-{n}", img, "scikit-image", "BSD-3-Clause (scikit-image data)", split_key=n)
    if "sklearn" in sources:
        try:
            from sklearn.datasets import load_sample_images

            data = load_sample_images()
            for fname, img in zip(data.filenames, data.images):
                stem = os.path.splitext(os.path.basename(fname))[0]
                add(f"sklearn-{stem}", img, "scikit-learn", "CC-BY-2.0 (scikit-learn sample images)")
        except ImportError:
            print("prepare_images: skipped scikit-learn's photos (pip install scikit-learn)", file=sys.stderr)
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    n_val = sum(m["split"] == "val" for m in manifest)
    print(
        f"prepare_images: {len(manifest)} images in {args.out} ({len(manifest) - n_val} train, {n_val} val)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
