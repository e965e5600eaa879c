#!/usr/bin/env python3
"""Benchmark: receiver backends, seconds per image (and images/s), on CPU or CUDA.

* ``edge-diffusion``: our shipped offline model (receiver_ai/weights/edge_diffusion.pt),
  768 x 512 output, ``--steps`` DDIM steps.
* ``controlnet-arch``: Stable Diffusion 1.5 + a ControlNet with the *published* SD 1.5
  architecture (UNet 320/640/1280/1280, cross-attention 768, VAE 128/256/512/512, CLIP text
  encoder 12 x 768) built from configs with random weights, because no hub weights can be
  fetched here: the same compute as the real model (the images are noise), through the same
  ``ControlNetBackend`` wrapper; 512 x 512, guidance 7.5 (two UNet + ControlNet passes per
  step), fp16 on CUDA, fp32 on CPU. The issue's target (< 1 s at 20 steps on an H100) is
  checked with ``--device cuda``; on a CPU ``--steps`` small and the per-step time is reported,
  with the 20-step figure marked as extrapolated.

    .venv/bin/python scripts/bench_receiver.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))
sys.path.insert(0, os.path.join(HERE, ".."))


def _edge_map(size):
    import numpy as np
    import skimage.data

    from gensem.semantic.edges import canny_edges
    from gensem.semantic.images import fit_image

    return (canny_edges(fit_image(np.asarray(skimage.data.cat()), size)) / 255.0).astype(np.float32)


def sd15_controlnet_random(device):
    """SD 1.5 + ControlNet, published architecture, random weights."""
    import torch

    from receiver_ai.pipelines.controlnet import ControlNetBackend
    from receiver_ai.pipelines.random_init import byte_level_clip_tokenizer, random_controlnet_pipeline

    with tempfile.TemporaryDirectory() as d:
        tok = byte_level_clip_tokenizer(d, max_length=77)
    pipe = random_controlnet_pipeline(
        tok,
        unet=dict(
            sample_size=64,
            in_channels=4,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            cross_attention_dim=768,
            attention_head_dim=8,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        ),
        vae=dict(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=2,
            sample_size=512,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
        ),
        text=dict(
            hidden_size=768,
            intermediate_size=3072,
            num_hidden_layers=12,
            num_attention_heads=12,
            max_position_embeddings=77,
        ),
    )
    if str(device).startswith("cuda"):
        pipe = pipe.to(torch.float16)
    parts = (pipe.unet, pipe.controlnet, pipe.vae, pipe.text_encoder)
    n_params = sum(p.numel() for m in parts for p in m.parameters())
    return ControlNetBackend(pipe, device, {"dtype": str(next(pipe.unet.parameters()).dtype)}), n_params


def time_backend(generate, edge, steps_kw, images):
    generate("a photo of a cat", edge, seed=0, **steps_kw)  # warm-up
    t = time.perf_counter()
    for k in range(images):
        generate("a photo of a cat", edge, seed=k + 1, **steps_kw)
    return (time.perf_counter() - t) / images


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", nargs="+", default=["edge-diffusion", "controlnet-arch"])
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument(
        "--cpu-steps", type=int, default=2, help="controlnet-arch steps on a CPU (then extrapolated)"
    )
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = {"device": device, "torch": torch.__version__, "threads": torch.get_num_threads(), "results": []}
    if device.startswith("cuda"):
        out["gpu"] = torch.cuda.get_device_name(0)
    for name in args.backends:
        if name == "edge-diffusion":
            from receiver_ai.pipelines import load_backend

            gen, desc = load_backend("edge-diffusion", steps=args.steps, device=device)
            s = time_backend(lambda p, e, seed: gen(p, e, seed=seed), _edge_map((768, 512)), {}, args.images)
            out["results"].append(
                {
                    "backend": name,
                    "desc": desc,
                    "size": "768x512",
                    "steps": args.steps,
                    "s_per_image": round(s, 4),
                    "images_per_s": round(1 / s, 3),
                }
            )
        elif name == "controlnet-arch":
            backend, n_params = sd15_controlnet_random(device)
            steps = args.steps if device.startswith("cuda") else args.cpu_steps
            edge = _edge_map((512, 512))
            s = time_backend(
                lambda p, e, seed, steps=steps: backend(p, e, steps=steps, seed=seed, out_size=(512, 512)),
                edge,
                {},
                args.images,
            )
            row = {
                "backend": name,
                "desc": "SD1.5 + ControlNet architecture, random weights (same compute)",
                "params": n_params,
                "dtype": backend.meta["dtype"],
                "size": "512x512",
                "steps": steps,
                "s_per_image": round(s, 3),
            }
            if steps != args.steps:  # two points would separate the fixed cost; one run: say so
                row["s_per_image_at_%d_steps_extrapolated" % args.steps] = round(s / steps * args.steps, 1)
                row["note"] = (
                    "CPU: timed at %d steps; the 20-step figure scales the whole image time (upper bound)"
                    % steps
                )
            out["results"].append(row)
        else:
            print(f"bench_receiver: unknown backend {name!r}", file=sys.stderr)
            return 2
    print(json.dumps(out) if args.json else json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
