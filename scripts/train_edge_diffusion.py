#!/usr/bin/env python3
"""Train the offline receiver model (``receiver_ai.models.edge_unet.EdgeUNet``) on open photos.

Data: ``scripts/prepare_images.py`` output (Debian wallpapers + scikit-image images); the
``train`` split only is used for training, ``val`` for the figures. Each image is fitted
to 768 x 512 (``gensem.core.images.fit_image``), its Canny edge map
(``gensem.semantic.edges.canny_edges``, as the transmitter computes it) is taken at that
size, and both are area-downsampled to the model's working resolution (default 192 x 128).
Training draws random ``--crop`` windows (the UNet is fully convolutional) with flips.

Prompts: the image names are not captions; each training image gets the fixed template
``"a photo of <name words>"`` (e.g. kde-ColdRipple -> "a photo of cold ripple").

Loss: MSE on the diffusers DDPM target (``v_prediction`` by default) with a
squared-cosine schedule of 1000 steps; AdamW, linear warm-up. Resumable (``--resume``
reads ``<out>.state.pt``), progress on stderr, CSV loss log ``<out>.csv``; stops after
``--steps`` or ``--minutes``. On exit: ``<out>`` (fp16 weights + configs + recipe) and
``<out>.json`` with the recipe and the val figures (PSNR / MS-SSIM of DDIM samples against
the original, at the working resolution and upsampled to 768 x 512).

    python scripts/train_edge_diffusion.py --images /work/main/data/images --minutes 15 \
        --out receiver_ai/weights/edge_diffusion.pt
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
import time

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "gr-gensem", "python"), os.path.join(ROOT, "scripts")]


def caption(name: str) -> str:
    """The fixed training prompt template: "a photo of" + the words of the image name."""
    stem = re.sub(r"^(kde|gnome|skimage)-", "", name)
    stem = re.sub(r"-l$", "", stem)
    words = re.findall(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|[0-9]+", stem)
    return "a photo of " + " ".join(w.lower() for w in words)


def manifest_captions(images_dir: str) -> dict:
    """name -> the manifest's caption (GCompris names what its photos show), where it has one."""
    path = os.path.join(images_dir, "manifest.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return {e["name"]: e["caption"] for e in json.load(f) if e.get("caption")}


def load_split(images_dir: str, split: str, size: tuple[int, int], edges: str = "canny", bers=(0.0,), seed=0,
               max_bpp: float | None = None, methods=("canny",)):  # fmt: skip
    """[{name, prompt, x: image -1..1 3xhxw, edges: [maps 0..1 1xhxw], big: image 768x512 uint8,
    colour: its colour layout (bytes), layout: 4xhxw (RGB -1..1 of the rendered layout + mask)}]
    at work size (w, h).

    ``edges="canny"``: the binary Canny map as the transmitter computes it (one variant).
    ``edges="decoded"``: the Canny map through the shipped edge codec (``compress`` -> random
    bit errors at each BER of ``bers`` -> ``decompress`` -> ``conditioning_map``), one variant per BER.
    ``edges="received"``: what ``gensem demo`` sends and the receiver gets: the Canny map fitted
    to ``max_bpp`` (``fit_edge_budget``) through the shipped codec, then ``conditioning_map``,
    one variant per BER of ``bers``.
    ``methods`` (with "decoded" / "received"): the edge extractors, one set of variants each
    (``canny``, ``hed``: scripts/edge_maps.py); the first method's clean variant comes first.
    Prompts: the manifest's caption where it has one, else the ``caption`` template;
    ``colour_words``: the image's colour words (``gensem.semantic.colour_words``).
    """
    import cv2
    from edge_maps import sent_detail
    from gensem.core import colour_layout
    from gensem.core.edge_codec import EdgeCodec, conditioning_map, default_checkpoint
    from gensem.core.images import fit_image, load_image, split_names
    from gensem.semantic.calibrate import flip_bits
    from gensem.semantic.colour_words import colour_words
    from gensem.semantic.edge_budget import DEFAULT_MAX_BPP, fit_edge_budget
    from gensem.semantic.edges import canny_edges

    from receiver_ai.pipelines.edge_diffusion import layout_to_tensor

    codec = EdgeCodec.from_checkpoint(default_checkpoint()) if edges != "canny" else None
    captions = manifest_captions(images_dir)
    rng = np.random.default_rng(seed)
    out = []
    for name in split_names(images_dir, split):
        big = fit_image(load_image(os.path.join(images_dir, name + ".png")))
        if codec is None:
            maps = [(canny_edges(big) > 0).astype(np.float32)]
        else:
            maps = []
            for method in methods:
                detail = sent_detail(images_dir, name, big, method)
                if edges == "received":
                    data = fit_edge_budget(detail, codec, DEFAULT_MAX_BPP if max_bpp is None else max_bpp)["bits"]
                else:
                    data = codec.compress(detail(1.0))
                maps += [
                    conditioning_map(codec.decompress(flip_bits(data, b, rng) if b > 0 else data)[0])
                    for b in bers
                ]
        img = cv2.resize(big, size, interpolation=cv2.INTER_AREA).astype(np.float32) / 127.5 - 1
        es = [cv2.resize(m, size, interpolation=cv2.INTER_AREA)[None] for m in maps]
        colour = colour_layout.encode(big)
        layout = layout_to_tensor(colour, size[1], size[0], (big.shape[1], big.shape[0]))[0][0].numpy()
        out.append(
            {"name": name, "prompt": captions.get(name) or caption(name), "x": img.transpose(2, 0, 1),
             "edges": es, "big": big, "colour": colour, "layout": layout,
             "colour_words": colour_words(big)}
        )
    return out


def drop_words(prompt: str, rng, p_word: float, p_prompt: float) -> str:
    """Prompt augmentation: the whole prompt is dropped with ``p_prompt``, else each word with
    ``p_word``, so the model also learns the edge-only and partial-prompt cases."""
    if rng.random() < p_prompt:
        return ""
    return " ".join(w for w in prompt.split() if rng.random() >= p_word)


def batches(data, batch: int, crop: tuple[int, int], rng, p_word: float = 0.0, p_prompt: float = 0.0,
            p_colour: float = 0.0, p_colour_words: float = 0.0):  # fmt: skip
    """Random crops with flips -> (images, edges, layouts B x 4 x ch x cw, prompts); the layout
    (RGB + mask) is zeroed with probability ``p_colour`` (the no-colour case); the image's
    colour words are added to the prompt with probability ``p_colour_words``."""
    import torch
    from gensem.semantic.colour_words import with_colours

    ch, cw = crop
    while True:
        idx = rng.integers(0, len(data), batch)
        xs, es, ls, ps = [], [], [], []
        for i in idx:
            d = data[i]
            x, e, lay = d["x"], d["edges"][rng.integers(len(d["edges"]))], d["layout"]
            y0 = rng.integers(0, x.shape[1] - ch + 1)
            x0 = rng.integers(0, x.shape[2] - cw + 1)
            win = (slice(None), slice(y0, y0 + ch), slice(x0, x0 + cw))
            x, e, lay = x[win], e[win], lay[win]
            if rng.random() < 0.5:
                x, e, lay = x[:, :, ::-1], e[:, :, ::-1], lay[:, :, ::-1]
            if rng.random() < p_colour:
                lay = np.zeros_like(lay)
            xs.append(np.ascontiguousarray(x))
            es.append(np.ascontiguousarray(e))
            ls.append(np.ascontiguousarray(lay))
            prompt = with_colours(d["prompt"], d["colour_words"]) if rng.random() < p_colour_words else d["prompt"]
            ps.append(drop_words(prompt, rng, p_word, p_prompt))
        yield torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(es)), torch.from_numpy(np.stack(ls)), ps


def evaluate(pipe, data, steps: int, seed: int = 0, train_colour=None) -> dict:
    """PSNR / MS-SSIM at 768 x 512 of one DDIM sample per val image vs the original (with the
    colour layout when the model takes it, and then also without), and the references: the
    image's own mean colour (an oracle: the receiver cannot know it), the colour layout alone
    (upsampled), and, when ``train_colour`` (RGB uint8) is given, the training set's mean
    colour (what a receiver that ignores prompt and edges would output). Also the PSNR at the
    working size (``psnr_db``) for older reports."""
    import cv2
    from gensem.core import colour_layout
    from gensem.core.metrics import evaluate as metrics

    w, h = pipe.work_size
    rows = []
    for d in data:
        big, e = d["big"], d["edges"][0][0]
        size = (big.shape[1], big.shape[0])
        colour = d["colour"] if pipe.colour_input else None
        gen = pipe(d["prompt"], e, steps=steps, seed=seed, out_size=size, colour=colour)
        small = cv2.resize(gen, (w, h), interpolation=cv2.INTER_AREA)
        ref = ((d["x"].transpose(1, 2, 0) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        flat = np.broadcast_to(big.reshape(-1, 3).mean(0).round().astype(np.uint8), big.shape)
        m, mb, mf = (metrics(a, b, lpips=False) for a, b in ((ref, small), (big, gen), (big, flat)))
        ml = metrics(big, colour_layout.render(d["colour"], size), lpips=False)
        row = {
            "name": d["name"],
            "prompt": d["prompt"],
            "psnr_db": round(m["psnr_db"], 3),
            "psnr_db_768x512": round(mb["psnr_db"], 3),
            "ms_ssim_768x512": round(mb["ms_ssim"], 4),
            "baseline_mean_colour_psnr_db_768x512": round(mf["psnr_db"], 3),
            "baseline_mean_colour_ms_ssim_768x512": round(mf["ms_ssim"], 4),
            "baseline_colour_layout_psnr_db_768x512": round(ml["psnr_db"], 3),
            "baseline_colour_layout_ms_ssim_768x512": round(ml["ms_ssim"], 4),
        }
        if pipe.colour_input:  # the same model without the layout (prompt + edges alone)
            mn = metrics(big, pipe(d["prompt"], e, steps=steps, seed=seed, out_size=size), lpips=False)
            row.update(no_colour_psnr_db_768x512=round(mn["psnr_db"], 3), no_colour_ms_ssim_768x512=round(mn["ms_ssim"], 4))
        if train_colour is not None:
            mt = metrics(big, np.broadcast_to(np.asarray(train_colour, np.uint8), big.shape), lpips=False)
            row.update(
                baseline_train_colour_psnr_db_768x512=round(mt["psnr_db"], 3),
                baseline_train_colour_ms_ssim_768x512=round(mt["ms_ssim"], 4),
            )
        rows.append(row)
    keys = [k for k in rows[0] if k not in ("name", "prompt")]
    mean = {k: round(float(np.mean([r[k] for r in rows])), 4) for k in keys}
    return {"mean": mean, "per_image": rows, "ddim_steps": steps, "seed": seed, "work_size": [w, h],
            "colour_input": pipe.colour_input}  # fmt: skip


def mean_colour(images) -> np.ndarray:
    """Mean RGB (uint8) over ``images`` (the training images at 768 x 512): the flat reference's colour."""
    return np.mean([img.reshape(-1, 3).mean(0) for img in images], axis=0).round().astype(np.uint8)


def evaluate_checkpoint(path: str, args, eval_steps: list[int], device) -> int:
    """``--evaluate``: one JSON line per step count with the val means of ``evaluate``."""
    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    try:
        pipe = EdgeDiffusionPipeline.from_checkpoint(path, device=device)
        val = load_split(args.images, "val", pipe.work_size, args.edges, (0.0,), seed=args.seed, max_bpp=args.max_bpp,
                         methods=args.methods)  # fmt: skip
        from gensem.core.images import fit_image, load_image, split_names

        names = split_names(args.images, "train")
        colour = mean_colour(fit_image(load_image(os.path.join(args.images, n + ".png"))) for n in names)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for steps in eval_steps:
        t0 = time.monotonic()
        ev = evaluate(pipe, val, steps, seed=args.seed, train_colour=colour)
        s_img = round((time.monotonic() - t0) / len(val), 3)
        print(
            json.dumps(
                {"checkpoint": path, "edges": args.edges, "steps": steps, "s_per_image": s_img, **ev["mean"]}
            )
        )
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", default=os.path.join(ROOT, "data", "images"))
    ap.add_argument("--out", default=os.path.join(ROOT, "receiver_ai", "weights", "edge_diffusion.pt"))
    ap.add_argument("--steps", type=int, default=100_000, help="max optimiser steps")
    ap.add_argument("--minutes", type=float, default=15.0, help="wall-clock budget of the training loop")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", default="64x96", help="training window HxW at the working resolution")
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--prediction", default="v_prediction", choices=["epsilon", "v_prediction", "sample"])
    ap.add_argument(
        "--edges",
        default="canny",
        choices=["canny", "decoded", "received"],
        help="condition on the clean Canny map, on it after the shipped edge codec, or on what gensem demo "
        "sends and the receiver gets (the map fitted to --max-bpp through the codec)",
    )
    ap.add_argument("--max-bpp", type=float, default=None, help="with --edges received: the edge budget (default: the demo's)")
    ap.add_argument(
        "--colour-dropout", type=float, default=0.25,
        help="with a colour-input model (--config '{\"colour_input\": true}'): train without the layout this often",
    )  # fmt: skip
    ap.add_argument(
        "--edge-bers",
        default="0,1e-4,1e-3",
        help="with --edges decoded: bit error rates of the coded edge map (one training variant each)",
    )
    ap.add_argument(
        "--spacing", default="leading", choices=["leading", "trailing"], help="DDIM timestep spacing"
    )
    ap.add_argument(
        "--word-dropout", type=float, default=0.0, help="drop each prompt word with this probability"
    )
    ap.add_argument(
        "--prompt-dropout", type=float, default=0.0, help="drop the whole prompt with this probability"
    )
    ap.add_argument(
        "--pure-noise-frac", type=float, default=0.0,
        help="share of the draws at t = T - 1 (where one trailing DDIM step starts: its x0 estimate is the image)",
    )  # fmt: skip
    ap.add_argument(
        "--edge-method", default="canny",
        help="with --edges decoded/received: the transmitter's edge extractor(s), canny, hed or canny,hed",
    )  # fmt: skip
    ap.add_argument(
        "--colour-words", type=float, default=0.0,
        help="add the image's colour words to its training prompt with this probability",
    )  # fmt: skip
    ap.add_argument("--init", help="start from this receiver checkpoint (its config and weights; fresh optimiser)")
    ap.add_argument("--config", default="{}", help="JSON overrides of edge_unet.DEFAULT_CONFIG")
    ap.add_argument(
        "--eval-steps", default="50", help="DDIM steps for the val figures (comma list with --evaluate)"
    )
    ap.add_argument(
        "--evaluate",
        metavar="CKPT",
        help="no training: the val figures of this checkpoint at each --eval-steps, on --edges maps",
    )
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--log-every", type=int, default=20)
    args = ap.parse_args(argv)

    import torch
    import torch.nn.functional as F
    from diffusers import DDPMScheduler
    from edge_maps import parse_methods

    from receiver_ai.models.edge_unet import EdgeUNet
    from receiver_ai.pipelines.edge_diffusion import DEFAULT_SCHEDULER, EdgeDiffusionPipeline

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    try:
        ch, cw = (int(v) for v in args.crop.lower().split("x"))
        config = json.loads(args.config)
        bers = [float(v) for v in args.edge_bers.split(",")]
        eval_steps = [int(v) for v in args.eval_steps.split(",")]
        methods = parse_methods(args.edge_method)
    except ValueError as exc:
        print(f"error: bad --crop, --config, --edge-bers, --eval-steps or --edge-method: {exc}", file=sys.stderr)
        return 2
    args.methods = methods
    if args.evaluate:
        return evaluate_checkpoint(args.evaluate, args, eval_steps, device)
    state_path = args.out + ".state.pt"
    sched_cfg = dict(DEFAULT_SCHEDULER, prediction_type=args.prediction, timestep_spacing=args.spacing)
    step, elapsed = 0, 0.0
    if args.resume and os.path.isfile(state_path):
        st = torch.load(state_path, map_location="cpu", weights_only=False)
        config, sched_cfg, step, elapsed = st["config"], st["scheduler"], st["step"], st["elapsed"]
    init_known = None
    if args.init and not (args.resume and os.path.isfile(state_path)):
        try:
            base = EdgeDiffusionPipeline.from_checkpoint(args.init, device="cpu")
        except ValueError as exc:
            print(f"error: --init: {exc}", file=sys.stderr)
            return 2
        config = dict(base.model.config, **config)
        sched_cfg = dict(base.scheduler_config, prediction_type=args.prediction, timestep_spacing=args.spacing)
        model = EdgeUNet(config)
        model.load_state_dict({k: v.float() for k, v in base.model.state_dict().items()})
        init_known = model.text.known.clone()
        model = model.to(device)
        print(f"initialised from {args.init}", file=sys.stderr)
    else:
        model = EdgeUNet(config).to(device)
    cfg = model.config
    try:
        size = (cfg["width"], cfg["height"])
        train = load_split(args.images, "train", size, args.edges, bers, seed=args.seed, max_bpp=args.max_bpp,
                           methods=methods)  # fmt: skip
        val = load_split(args.images, "val", size, args.edges, (0.0,), seed=args.seed, max_bpp=args.max_bpp,
                         methods=methods)  # fmt: skip
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if ch > cfg["height"] or cw > cfg["width"]:
        ch, cw = cfg["height"], cfg["width"]
    noise_sched = DDPMScheduler(**sched_cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    if args.resume and os.path.isfile(state_path):
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        print(f"resumed from {state_path} at step {step}", file=sys.stderr)
    print(
        f"train_edge_diffusion: {len(train)} train / {len(val)} val images, {model.n_params()} params, "
        f"work {cfg['width']}x{cfg['height']}, crop {cw}x{ch}, batch {args.batch}, {device}",
        file=sys.stderr,
    )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    log_path = args.out + ".csv"
    new_log = not (args.resume and os.path.isfile(log_path))
    logf = open(log_path, "w" if new_log else "a", newline="")
    log = csv.writer(logf)
    if new_log:
        log.writerow(["step", "loss", "lr", "elapsed_s"])
    if not (args.resume and os.path.isfile(state_path)):
        from gensem.semantic.colour_words import TERMS

        # the vocabulary: words of the training prompts (and of the init model's)
        model.text.mark_known([d["prompt"] for d in train] + (list(TERMS) + ["and"] if args.colour_words > 0 else []))
        if init_known is not None:
            model.text.known |= init_known.to(model.text.known.device)
    colour_in = bool(cfg["colour_input"])
    p_colour = args.colour_dropout if colour_in else 1.0
    data = batches(train, args.batch, (ch, cw), rng, args.word_dropout, args.prompt_dropout, p_colour, args.colour_words)
    t0, run_loss = time.monotonic() - elapsed, []
    model.train()
    while step < args.steps and time.monotonic() - t0 < 60 * args.minutes:
        x, e, lay, prompts = next(data)
        x, e, lay = x.to(device), e.to(device), lay.to(device)
        if colour_in:  # the model denoises the residual over the layout (x itself without one)
            x = x - lay[:, :3] * lay[:, 3:]
        noise = torch.randn_like(x)
        n_train = noise_sched.config.num_train_timesteps
        t = torch.randint(0, n_train, (x.shape[0],), device=device)
        if args.pure_noise_frac > 0:  # draws at t = T - 1, where a one-step (trailing) sampler starts
            last = torch.rand(x.shape[0], device=device) < args.pure_noise_frac
            t = torch.where(last, torch.full_like(t, n_train - 1), t)
        noisy = noise_sched.add_noise(x, noise, t)
        if sched_cfg["prediction_type"] == "epsilon":
            target = noise
        elif sched_cfg["prediction_type"] == "sample":
            target = x
        else:
            target = noise_sched.get_velocity(x, noise, t)
        lr = args.lr * min(1.0, (step + 1) / max(1, args.warmup))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = F.mse_loss(model(noisy, t, e, prompts, lay), target)  # lay ignored without a colour input
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        run_loss.append(loss.item())
        if step % args.log_every == 0:
            el = time.monotonic() - t0
            log.writerow([step, round(float(np.mean(run_loss)), 5), lr, round(el, 1)])
            logf.flush()
            print(f"step {step} loss {np.mean(run_loss):.4f} {el:.0f}s", file=sys.stderr, flush=True)
            run_loss = []
        if step % 200 == 0:
            state = {"model": model.state_dict(), "opt": opt.state_dict(), "config": cfg}
            state.update(scheduler=sched_cfg, step=step, elapsed=time.monotonic() - t0)
            torch.save(state, state_path)
    elapsed = time.monotonic() - t0
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "config": cfg}
    torch.save(dict(state, scheduler=sched_cfg, step=step, elapsed=elapsed), state_path)
    logf.close()
    pipe = EdgeDiffusionPipeline(model, sched_cfg, device=device)
    recipe = {
        "data": f"{args.images}: manifest.json 'train' split ({len(train)} images), {'+'.join(methods)} edges at 768x512",
        "edges": (
            "Canny map as sent"
            if args.edges == "canny"
            else f"Canny map through the shipped edge codec at BER {bers} (conditioning_map), as received"
            if args.edges == "decoded"
            else f"the demo's {'/'.join(methods)} map fitted to {args.max_bpp or 'the default'} bpp through the "
            f"shipped codec at BER {bers} (conditioning_map), as received"
        ),
        "colour_words": args.colour_words,
        "init": args.init,
        "prompts": "the manifest's caption where it has one (GCompris), else 'a photo of <name words>'",
        "colour_layout": (
            f"input (core.colour_layout default grid), residual target x - layout, dropped with p={args.colour_dropout}"
            if colour_in else "none"
        ),
        "prompt_dropout": {"word": args.word_dropout, "prompt": args.prompt_dropout},
        "pure_noise_frac": args.pure_noise_frac,
        "vocabulary": "words of the training prompts; other words are left out at inference",
        "text_embedding": "hashed bag of words (CRC-32 buckets, learned EmbeddingBag), no pretrained text model",
        "steps": step,
        "train_seconds": round(elapsed, 1),
        "batch": args.batch,
        "crop_hw": [ch, cw],
        "lr": args.lr,
        "prediction_type": sched_cfg["prediction_type"],
        "sampling_steps": eval_steps[0],  # the receiver's default: the steps of the val figures
        "device": str(device),
        "threads": args.threads,
        "params": model.n_params(),
        "command": " ".join(
            ["scripts/train_edge_diffusion.py"] + (argv if argv is not None else sys.argv[1:])
        ),
    }
    pipe.save(args.out, step=step, recipe=recipe)
    print(f"evaluating on {len(val)} val images ({eval_steps[0]} DDIM steps)...", file=sys.stderr)
    t1 = time.monotonic()
    colour = mean_colour(d["big"] for d in train)  # the 768 x 512 training images already loaded
    ev = evaluate(pipe, val, eval_steps[0], seed=args.seed, train_colour=colour)
    ev["seconds_per_image"] = round((time.monotonic() - t1) / len(val), 3)
    with open(args.out + ".json", "w") as f:
        json.dump({"recipe": recipe, "config": cfg, "scheduler": sched_cfg, "val": ev}, f, indent=1)
    print(json.dumps({"wrote": args.out, "steps": step, "val_mean": ev["mean"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
