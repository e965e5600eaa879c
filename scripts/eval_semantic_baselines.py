#!/usr/bin/env python3
"""The prompt + edge-map receiver against the trivial baselines, per modality set (issue 18).

For each image of the ``val`` split (``scripts/prepare_images.py`` output; training never
reads it), fitted to 768 x 512 as the demo does, and with what the transmitter would send
(the demo's Canny map fitted to ``--max-bpp`` through the shipped edge codec, the manifest's
caption or "a photo" as the prompt, the colour layout of ``core.colour_layout``), received
**without channel errors** (the planner's BER target at 15 dB: the link's part is measured by
``gensem demo`` and ``gensem calibrate``, this script isolates the receiver):

* ``flat``: a flat image of the mean colour (24 bits);
* ``colour``: the colour layout alone, upsampled;
* ``prompt+edges``: the shipped edge-diffusion receiver on the prompt and the edge map;
* ``prompt+colour_words+edges``: the same, the prompt followed by the image's colour words
  (``gensem.semantic.colour_words``, e.g. "a photo of a lemur, brown and green"): colour in text;
* ``prompt+edges+colour``: the receiver given the layout too: a model with a colour input
  takes it as one (``EdgeUNet`` config ``colour_input``), an older one gets its coarse
  colours replaced by the layout's (``colour_layout.impose``).

Prints one JSON object: per variant the means of PSNR, MS-SSIM, the mean-colour error (8-bit),
the bits sent (and bpp at 768 x 512) and the edge F1 of the reconstruction (its Canny map at
thresholds 20 / 50 against the sent edge map, 2-pixel tolerance: does it follow the edges?); the edge F1 of the
received map against the sent one (the codec's loss); and the per-image rows.

    .venv/bin/python scripts/eval_semantic_baselines.py --images data/images --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "gr-gensem", "python"), os.path.join(HERE, ".."), HERE]
warnings.filterwarnings("ignore", category=FutureWarning)

SIZE = (768, 512)
# Canny thresholds for the reconstructions' edges: a one-step sample is soft (upsampled from
# 192 x 128), and at the transmitter's 100 / 200 Canny finds no edge in it at all
RECON_CANNY = {"low": 20, "high": 50}
VARIANTS = ("flat", "colour", "prompt+edges", "prompt+colour_words+edges", "prompt+edges+colour")


def main(argv=None) -> int:
    from gensem.semantic.edge_budget import DEFAULT_MAX_BPP

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="data/images")
    ap.add_argument("--split", default="val")
    ap.add_argument("--max-bpp", type=float, default=DEFAULT_MAX_BPP, help="edge-map budget at 768x512")
    ap.add_argument("--edge-method", default="canny", choices=["canny", "hed"], help="the transmitter's edge map")
    ap.add_argument("--steps", type=int, help="receiver sampling steps (default: the backend's)")
    ap.add_argument("--model", help="edge-diffusion checkpoint (default: the shipped one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tiny", action="store_true", help="tiny random receiver (tests only)")
    ap.add_argument("--limit", type=int)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    from edge_maps import sent_detail  # scripts/: HED maps cached beside the images
    from eval_colour_layout import flat_mean_colour, scores  # scripts/: the same scores and baseline
    from gensem.core import colour_layout
    from gensem.core.edge_codec import EdgeCodec, conditioning_map, default_checkpoint
    from gensem.core.images import fit_image, load_image
    from gensem.semantic.colour_words import colour_words, with_colours
    from gensem.semantic.edge_budget import fit_edge_budget
    from gensem.semantic.edges import canny_edges, edge_f1

    from receiver_ai.pipelines import load_backend

    manifest_path = os.path.join(args.images, "manifest.json")
    if not os.path.isfile(manifest_path):
        print(f"eval_semantic_baselines: no {manifest_path}; run scripts/prepare_images.py", file=sys.stderr)
        return 2
    with open(manifest_path) as f:
        entries = [e for e in json.load(f) if e.get("split") == args.split][: args.limit or None]
    codec = EdgeCodec.from_checkpoint(default_checkpoint())
    generate, backend = load_backend(
        "edge-diffusion", model=args.model, steps=args.steps, seed=args.seed, tiny=args.tiny
    )
    rows = []
    for e in entries:
        img = fit_image(load_image(os.path.join(args.images, e["name"] + ".png")), SIZE)
        prompt = e.get("caption") or "a photo"
        fitted = fit_edge_budget(sent_detail(args.images, e["name"], img, args.edge_method), codec, args.max_bpp)
        received = conditioning_map(codec.decompress(fitted["bits"])[0])
        layout = colour_layout.encode(img)
        gen = generate(prompt, received, seed=args.seed)
        prompt_bits = 8 * len(prompt.encode("utf-8"))
        worded = with_colours(prompt, colour_words(img))
        edge_bits, colour_bits = 8 * len(fitted["bits"]), colour_layout.bits_of(layout)
        variants = {
            "flat": (flat_mean_colour(img), 24),
            "colour": (colour_layout.render(layout, SIZE), colour_bits),
            "prompt+edges": (gen, prompt_bits + edge_bits),
            "prompt+colour_words+edges": (
                generate(worded, received, seed=args.seed), 8 * len(worded.encode("utf-8")) + edge_bits
            ),
            "prompt+edges+colour": (
                generate(prompt, received, seed=args.seed, colour=layout),
                prompt_bits + edge_bits + colour_bits,
            ),
        }
        sent = fitted["edges"]
        rows.append(
            {
                "name": e["name"],
                "prompt": prompt,
                "prompt_with_colour_words": worded,
                "edge_f1_received": edge_f1(sent, received)["f1"],  # the codec's loss
                **{
                    k: dict(scores(img, rec), bits=bits, edge_f1=edge_f1(sent, canny_edges(rec, **RECON_CANNY))["f1"])
                    for k, (rec, bits) in variants.items()
                },
            }
        )
    if not rows:
        print(f"eval_semantic_baselines: no images in split {args.split!r}", file=sys.stderr)
        return 2
    n_px = SIZE[0] * SIZE[1]
    summary = {}
    for v in VARIANTS:
        keys = ("psnr", "ms_ssim", "mean_colour_error", "bits", "edge_f1")
        m = {k: float(np.mean([r[v][k] for r in rows])) for k in keys}
        summary[v] = dict(m, bpp=m["bits"] / n_px)
    out = {"images": len(rows), "split": args.split, "backend": backend, "channel": "no errors",
           "edge_method": args.edge_method, "summary": summary,
           "edge_f1_received": float(np.mean([r["edge_f1_received"] for r in rows])), "rows": rows}  # fmt: skip
    if args.json:
        print(json.dumps(out))
    else:
        for v, m in summary.items():
            print(
                f"{v:22s} PSNR {m['psnr']:6.2f} dB  MS-SSIM {m['ms_ssim']:.3f}  colour error "
                f"{m['mean_colour_error']:5.2f}  {m['bits']:7.0f} bits ({m['bpp']:.4f} bpp)  edge F1 {m['edge_f1']:.3f}"
            )
        print(f"edge F1 of the received map against the sent one: {out['edge_f1_received']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
