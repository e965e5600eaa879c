#!/usr/bin/env python3
"""Colour layout: bits against quality, to choose its size by measurement (issue 18 ★).

For each image of the ``val`` split (``scripts/prepare_images.py`` output), fitted to
768 x 512 as the demo does: the colour layout (``core.colour_layout``) at every grid and
quantisation asked for, upsampled back (bicubic), against the image: bits, PSNR, MS-SSIM and
the mean absolute error of the image's mean colour; and the trivial baseline of a flat image
of the mean colour (24 bits). Prints one JSON object with the means per configuration.

    .venv/bin/python scripts/eval_colour_layout.py --images data/images --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))

GRIDS = ((4, 3), (6, 4), (8, 6), (12, 8), (16, 12), (24, 16))
BITS = ((4, 3), (5, 4), (6, 5))


def scores(ref: np.ndarray, rec: np.ndarray) -> dict:
    """PSNR, MS-SSIM and mean-colour error of ``rec`` against ``ref`` (also used by
    eval_semantic_baselines.py)."""
    from gensem.core.metrics import mean_colour_error, ms_ssim, psnr

    return {"psnr": psnr(ref, rec), "ms_ssim": ms_ssim(ref, rec)[0], "mean_colour_error": mean_colour_error(ref, rec)}


def flat_mean_colour(img: np.ndarray) -> np.ndarray:
    """The trivial baseline: an image of ``img``'s mean colour (24 bits)."""
    return np.broadcast_to(img.reshape(-1, 3).mean(0).round().astype(np.uint8), img.shape)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="data/images")
    ap.add_argument("--split", default="val")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from gensem.core import colour_layout
    from gensem.core.images import fit_image, load_image, split_names

    try:
        names = split_names(args.images, args.split)
    except (OSError, ValueError) as exc:
        print(f"eval_colour_layout: {exc}", file=sys.stderr)
        return 2
    images = [fit_image(load_image(os.path.join(args.images, n + ".png")), (768, 512)) for n in names]
    rows = []
    flat = [scores(img, flat_mean_colour(img)) for img in images]
    rows.append({"config": "flat mean colour", "bits": 24, **{k: float(np.mean([s[k] for s in flat])) for k in flat[0]}})
    for grid in GRIDS:
        for bits in BITS:
            per = []
            for img in images:
                data = colour_layout.encode(img, grid, bits)
                rec = colour_layout.render(data, (img.shape[1], img.shape[0]))
                per.append({"bits": colour_layout.bits_of(data), **scores(img, rec)})
            rows.append(
                {
                    "config": f"{grid[0]}x{grid[1]} Y{bits[0]} C{bits[1]}",
                    "raw_bits": grid[0] * grid[1] * (bits[0] + 2 * bits[1]),
                    **{k: float(np.mean([p[k] for p in per])) for k in per[0]},
                    "max_bits": int(max(p["bits"] for p in per)),
                }
            )
    out = {"images": len(images), "split": args.split, "size": "768x512", "rows": rows}
    if args.json:
        print(json.dumps(out))
    else:
        for r in rows:
            print(f"{r['config']:22s} {r['bits']:7.0f} bits  PSNR {r['psnr']:6.2f} dB  MS-SSIM {r['ms_ssim']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
