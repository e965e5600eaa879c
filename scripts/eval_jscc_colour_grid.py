#!/usr/bin/env python3
"""How big a colour layout CDM-JSCC's side information should carry (docs/cdm_jscc.md).

Decodes the validation photos once without the layout (``gensem jscc eval --colour-layout
none``'s path), then imposes layouts of several grids and bit depths on the same
reconstructions and reports PSNR, the mean colour error (mean and worst image) and the layout's
size. Post hoc: the symbols keep the budget they had without the layout (the layout's share at
10 dB is 0.0001-0.0004 of CBR 1/48); ``gensem jscc eval`` gives the budgeted figures of the
chosen size.

    .venv/bin/python scripts/eval_jscc_colour_grid.py --images IMAGES --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))

CANDIDATES = [((1, 1), (8, 8)), ((6, 4), (6, 5)), ((6, 4), (8, 7)), ((12, 8), (6, 5)), ((12, 8), (7, 6)), ((12, 8), (8, 7))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True, help="prepare_images.py folder (its val split), or an image")
    ap.add_argument("--method", default="cdm-jscc-d")
    ap.add_argument("--snr-db", type=float, default=10.0)
    ap.add_argument("--cbr", type=float, default=1 / 48)
    ap.add_argument("--weights-dir", help="directory with the checkpoints (default: the shipped ones)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from gensem.core import colour_layout
    from gensem.core.metrics import mean_colour_error, psnr
    from gensem.jscc.evaluate import evaluate, load_images

    try:
        images = load_images(a.images)
    except ValueError as exc:
        print(f"eval_jscc_colour_grid: {exc}", file=sys.stderr)
        return 2
    r = evaluate(
        images, a.snr_db, a.cbr, [a.method], weights_dir=a.weights_dir, want_lpips=False, keep_recon=True,
        colour_layout="none",
    )
    row = r["results"][0]
    if row.get("error"):
        print(f"eval_jscc_colour_grid: {row['error']}", file=sys.stderr)
        return 2
    out = {"method": a.method, "snr_db": a.snr_db, "cbr": a.cbr, "images": len(images),
           "without": {"psnr": row["psnr"], "colour_error": row["colour_error"], "colour_error_max": row["colour_error_max"]},
           "rows": []}  # fmt: skip
    for grid, bits in CANDIDATES:
        ps, ce, nb = [], [], []
        for (_, img), rec in zip(images, row["recon"]):
            lay = colour_layout.encode(img, grid, bits)
            fixed = colour_layout.impose(rec, lay)
            ps.append(psnr(img, fixed))
            ce.append(mean_colour_error(img, fixed))
            nb.append(8 * len(lay))
        out["rows"].append({"grid": list(grid), "bits": list(bits), "psnr": float(np.mean(ps)),
                            "colour_error": float(np.mean(ce)), "colour_error_max": float(np.max(ce)),
                            "layout_bits": float(np.mean(nb))})  # fmt: skip
    if a.json:
        print(json.dumps(out))
    else:
        print(f"without: {out['without']['psnr']:.2f} dB, colour error {out['without']['colour_error']:.2f}")
        for x in out["rows"]:
            print(f"{x['grid']} {x['bits']}: {x['psnr']:.2f} dB, colour {x['colour_error']:.2f} "
                  f"(worst {x['colour_error_max']:.2f}), {x['layout_bits']:.0f} bits")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
