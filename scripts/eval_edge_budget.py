#!/usr/bin/env python3
"""Edge map over the shipped codec with the transmitter's rate control, per validation image.

For each image of the ``val`` split (``scripts/prepare_images.py`` output), at 768 x 512:
Canny map -> ``fit_edge_budget`` (detail bisection to ``--max-bpp``) -> codec -> decoded map
(``conditioning_map``); prints one JSON row per image (bpp sent, detail scale, edge-pixel
fractions, edge F1 of the received map against the sent and against the full map) and the means.

    .venv/bin/python scripts/eval_edge_budget.py --images data/images --max-bpp 0.02
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))
warnings.filterwarnings("ignore", category=FutureWarning)  # torch.jit deprecation notes from compressai

from gensem.semantic.edge_budget import DEFAULT_MAX_BPP  # noqa: E402  (numpy only)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="data/images")
    ap.add_argument("--split", default="val")
    ap.add_argument("--max-bpp", type=float, default=DEFAULT_MAX_BPP, help="budget at 768x512 (0: no limit)")
    ap.add_argument("--codec", help="edge-codec checkpoint (default: the shipped one)")
    args = ap.parse_args(argv)
    from gensem.core.edge_codec import EdgeCodec, conditioning_map, default_checkpoint
    from gensem.core.images import fit_image, load_image, split_names
    from gensem.semantic.edge_budget import canny_detail, fit_edge_budget
    from gensem.semantic.edges import canny_edges, edge_f1

    try:
        codec = EdgeCodec.from_checkpoint(args.codec or default_checkpoint())
        names = split_names(args.images, args.split)
    except (ValueError, OSError) as exc:
        print(f"eval_edge_budget: {exc}", file=sys.stderr)
        return 2
    rows = []
    for name in names:
        img = fit_image(load_image(os.path.join(args.images, name + ".png")))
        full = canny_edges(img)
        fit = fit_edge_budget(canny_detail(img), codec, args.max_bpp)
        rx = conditioning_map(codec.decompress(fit["bits"])[0])
        sent_px = float((fit["edges"] > 0).mean())
        rows.append(
            {
                "name": name,
                "bpp": round(fit["bpp"], 4),
                "scale": round(fit["scale"], 3),
                "within_budget": fit["within_budget"],
                "edge_px_full": round(float((full > 0).mean()), 4),
                "edge_px_sent": round(sent_px, 4),
                "f1_rx_vs_sent": round(edge_f1(fit["edges"], rx)["f1"], 3) if sent_px else None,
                "f1_rx_vs_full": round(edge_f1(full, rx)["f1"], 3) if full.any() else None,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    f1 = [r["f1_rx_vs_sent"] for r in rows if r["f1_rx_vs_sent"] is not None]
    print(
        json.dumps(
            {
                "images": len(rows),
                "mean_bpp": round(float(np.mean([r["bpp"] for r in rows])), 4),
                "max_bpp": max(r["bpp"] for r in rows),
                "mean_f1_rx_vs_sent": round(float(np.mean(f1)), 3) if f1 else None,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
