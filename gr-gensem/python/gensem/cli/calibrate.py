"""``gensem calibrate``: normalised quality vs edge-map BER with our receiver (Fig. 2).

    gensem calibrate --images skimage:immunohistochemistry skimage:gravel \
        --prompts "a microscope image of stained tissue" "a photo of gravel" --out DIR

Writes DIR/calibration.csv (the planner's ``--calibration``) and DIR/calibration.png.
"""

from __future__ import annotations

import json
import os

from gensem.cli.demo import BACKENDS, resolve_image
from gensem.core.edge_codec import EDGE_POLICIES
from gensem.semantic.edge_budget import DEFAULT_MAX_BPP, check_max_bpp


def add_calibrate_parser(sub, user_error):
    p = sub.add_parser(
        "calibrate", help="semantic quality vs edge-map BER (Fig. 2) -> planner calibration CSV"
    )
    p.add_argument(
        "--images", nargs="+", default=["skimage:immunohistochemistry"], help="image files or skimage:NAME"
    )
    p.add_argument(
        "--prompts",
        nargs="+",
        default=["a microscope image of stained tissue"],
        help="one prompt per image, or one for all",
    )
    p.add_argument("--bers", nargs="+", type=float, default=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1])
    p.add_argument("--seeds", type=int, default=2, help="generation seeds per image")
    p.add_argument("--backend", choices=BACKENDS, default="edge-diffusion")
    p.add_argument("--model")
    p.add_argument("--controlnet")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--codec", help="edge-codec checkpoint (default: the shipped one)")
    p.add_argument(
        "--max-edge-bpp",
        type=float,
        default=DEFAULT_MAX_BPP,
        help="edge-map budget, as gensem demo (0: no limit)",
    )
    p.add_argument("--clip-model", help="local CLIP model: adds the normalised CLIP column")
    p.add_argument(
        "--edge-policy",
        choices=EDGE_POLICIES,
        default="drop-corrupt",
        help="receiver: drop maps decoded from detectably corrupted bits (default) or keep every map",
    )
    p.add_argument("--out", default="out/calibration")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=lambda a: cmd_calibrate(a, user_error))


def cmd_calibrate(args, user_error) -> int:
    from gensem.cli.demo import load_generator
    from gensem.core.edge_codec import EdgeCodec, default_checkpoint
    from gensem.semantic.calibrate import run_calibration

    try:
        if len(args.prompts) not in (1, len(args.images)):
            raise ValueError("give one prompt per image, or one prompt for all")
        if any(not s.strip() for s in args.prompts):
            raise ValueError("prompts must not be empty")
        if any(not 0 < b < 0.5 for b in args.bers) or args.seeds < 1:
            raise ValueError("BERs must be in (0, 0.5) and --seeds >= 1")
        check_max_bpp(args.max_edge_bpp)
        prompts = args.prompts * (len(args.images) if len(args.prompts) == 1 else 1)
        images = [resolve_image(s, args.out) for s in args.images]
        codec = EdgeCodec.from_checkpoint(args.codec or default_checkpoint())
        generate, backend = load_generator(args)
        r = run_calibration(
            images,
            prompts,
            generate,
            codec,
            args.out,
            sorted(args.bers),
            seeds=tuple(range(args.seeds)),
            clip_model=args.clip_model,
            max_edge_bpp=args.max_edge_bpp,
            edge_policy=args.edge_policy,
        )
    except ValueError as exc:
        raise user_error(f"gensem calibrate: {exc}") from None
    r["backend"] = backend
    with open(os.path.join(args.out, "calibration.json"), "w") as f:
        json.dump(r, f, indent=1)
    if args.json:
        print(json.dumps(r))
    else:
        print(
            f"gensem calibrate: backend {backend}, {len(images)} image(s) x {args.seeds} seed(s), "
            f"edge policy {args.edge_policy}"
        )
        for row in r["rows"]:
            print(
                "  BER %-8g " % row["ber"]
                + "  ".join(f"{n} {row[n + '_norm']:.4f}" for n in r["metrics"])
                + f"  (map dropped in {row['edge_dropped']:.0%})"
            )
        print("  prompt only: " + "  ".join(f"{n} {r['prompt_only'][n + '_norm']:.4f}" for n in r["metrics"]))
        if r["monotone"]:
            print("  monotone: yes (non-increasing in BER, as Lemma 1 needs)")
        for v in r["violations"]:
            print(
                f"  NOT monotone: {v['metric']} rises by {v['rise']:.4f} from BER {v['ber_from']:g} to {v['ber_to']:g}"
            )
        print(f"  wrote {r['csv']} and {r['png']}")
    return 0
