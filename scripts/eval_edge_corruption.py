#!/usr/bin/env python3
"""How well does the edge codec's out-of-range check flag corrupted bitstreams?

The receiver policy ``drop-corrupt`` (``EdgeCodec.receive``) discards a map whose decode
produced latents beyond +-LATENT_LIMIT (clean streams never do) and generates from the
prompt only. This script measures, per corruption level, the fraction of corrupted streams
it flags and how damaged the flagged and the missed maps are (mean |map - clean map|, maps
in [0, 1]), plus the false alarms on clean streams. Each image's map is coded as the demo
codes it (Canny within the --max-edge-bpp budget).

    python scripts/eval_edge_corruption.py --images data/images --trials 4 --json
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys

import numpy as np

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gr-gensem", "python")]


def flip_one_bit(data: bytes, rng) -> bytes:
    b = bytearray(data)
    i = int(rng.integers(len(b) * 8))
    b[i // 8] ^= 1 << (i % 8)
    return bytes(b)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--images", default="data/images", help="directory of PNG/JPEG images")
    p.add_argument("--codec", help="edge-codec checkpoint (default: the shipped one)")
    p.add_argument("--trials", type=int, default=4, help="corrupted copies per image and level")
    p.add_argument("--bers", default="1e-4,1e-3,1e-2", help="random-flip BERs besides the single-bit flip")
    p.add_argument("--max-edge-bpp", type=float, default=0.02)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    from gensem.core.edge_codec import EdgeCodec, default_checkpoint
    from gensem.core.images import fit_image, load_image
    from gensem.semantic.calibrate import flip_bits
    from gensem.semantic.edge_budget import canny_detail, fit_edge_budget

    paths = sorted(
        f for ext in ("png", "jpg", "jpeg") for f in glob.glob(os.path.join(args.images, f"*.{ext}"))
    )
    if not paths:
        print(
            f"eval_edge_corruption: no images in {args.images} (run scripts/prepare_images.py)",
            file=sys.stderr,
        )
        return 2
    try:
        bers = [float(b) for b in args.bers.split(",") if b]
    except ValueError:
        print(f"eval_edge_corruption: bad --bers {args.bers!r}", file=sys.stderr)
        return 2
    codec = EdgeCodec.from_checkpoint(args.codec or default_checkpoint())
    rng = np.random.default_rng(args.seed)
    levels = ["1 bit"] + [f"BER {b:g}" for b in bers]
    acc = {k: {"streams": 0, "flagged": 0, "err_flagged": [], "err_missed": []} for k in levels}
    false_alarms = 0
    for path in paths:
        img = fit_image(load_image(path), codec.size)
        data = fit_edge_budget(canny_detail(img), codec, args.max_edge_bpp)["bits"]
        clean, info = codec.receive(data)
        false_alarms += not info["used"]
        for level in levels:
            for _ in range(args.trials):
                rx = flip_one_bit(data, rng) if level == "1 bit" else flip_bits(data, float(level[4:]), rng)
                if rx == data:  # no bit flipped at this BER: not a corrupted stream
                    continue
                x, info = codec.receive(rx)
                err = float(np.abs(x - clean).mean())
                a = acc[level]
                a["streams"] += 1
                a["flagged"] += not info["used"]
                a["err_flagged" if not info["used"] else "err_missed"].append(err)
    rows = []
    for level in levels:
        a = acc[level]
        rows.append(
            {
                "corruption": level,
                "corrupted_streams": a["streams"],
                "flagged": a["flagged"],
                "flagged_fraction": a["flagged"] / a["streams"] if a["streams"] else None,
                "mean_abs_err_flagged": float(np.mean(a["err_flagged"])) if a["err_flagged"] else None,
                "mean_abs_err_missed": float(np.mean(a["err_missed"])) if a["err_missed"] else None,
                "max_abs_err_missed": float(np.max(a["err_missed"])) if a["err_missed"] else None,
            }
        )
    out = {"images": len(paths), "clean_streams_flagged": false_alarms, "trials": args.trials, "rows": rows}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{len(paths)} images; clean streams flagged: {false_alarms}")
        for r in rows:
            print(
                f"  {r['corruption']:>9}: {r['flagged']}/{r['corrupted_streams']} flagged; mean |err| "
                f"flagged {r['mean_abs_err_flagged']}, missed {r['mean_abs_err_missed']}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
