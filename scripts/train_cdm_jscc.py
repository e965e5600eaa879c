#!/usr/bin/env python3
"""Train CDM-JSCC (multi-stage, paper §III-C) or the DeepJSCC baseline on open photos.

Data: ``scripts/prepare_images.py`` output (Debian wallpapers + scikit-image images); only the
``train`` split is read for training, the ``val`` split gives the figures at the end. Random
``--crop`` (256) square crops with horizontal flips, batch ``--batch`` (4, as the paper).

CDM-JSCC stages (``--stage-steps A,B,C``, the paper's 90/45/10 epochs scaled to our budget):
1. ``compression``: g_e + hyperprior + g_d on the quantised latent, loss (10) without x_hat;
2. ``jscc``: f_e / f_d alone on the frozen transform, latent MSE through the AWGN channel;
3. ``joint``: everything, full loss (10) with ``--eta`` and ``--lam``.
``--init CKPT --start-stage 3`` fine-tunes another run's stages 1-2 (how CDM-JSCC-P is made from
the shared stages). DeepJSCC (``--model deepjscc``) trains for MSE for ``--steps``.
The perceptual term is LPIPS-VGG when its weights are on disk, else 1 - MS-SSIM (logged).

Resumable (``--resume`` reads ``<out>.state.pt``), progress on stderr, CSV log ``<out>.csv``,
runs on CPU or CUDA (``--device``). On exit: ``<out>`` (fp16 weights, config, recipe, val
figures) and ``<out>.json``.

    python scripts/train_cdm_jscc.py --images data/images --model cdm-jscc --eta 0.1 \\
        --stage-steps 300,150,100 --out gr-gensem/python/gensem/core/weights/cdm_jscc_d.pt
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from fractions import Fraction

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path[:0] = [ROOT, os.path.join(ROOT, "gr-gensem", "python")]

STAGES = ("compression", "jscc", "joint")


def load_split(images_dir: str, split: str, min_side: int = 0) -> list:
    """[(name, uint8 HxWx3)] of one split of the manifest, upscaled to a shorter side >= ``min_side``."""
    from gensem.core.images import split_names
    from PIL import Image

    out = []
    for name in split_names(images_dir, split):
        img = Image.open(os.path.join(images_dir, name + ".png")).convert("RGB")
        if min(img.size) < min_side:  # a few scikit-image pictures are smaller than a crop
            k = min_side / min(img.size)
            size = (max(min_side, round(img.size[0] * k)), max(min_side, round(img.size[1] * k)))
            img = img.resize(size, Image.LANCZOS)
        out.append((name, np.asarray(img)))
    return out


def batches(images: list, batch: int, crop: int, rng):
    import torch

    while True:
        out = []
        for i in rng.integers(0, len(images), batch):
            img = images[i][1]
            h, w = img.shape[:2]
            if min(h, w) < crop:
                raise ValueError(f"{images[i][0]} is smaller than the {crop} px crop")
            y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            c = img[y : y + crop, x : x + crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            out.append(np.ascontiguousarray(c))
        yield torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0


def val_tensors(images: list, size: tuple[int, int]) -> list:
    """Val images fitted (centre crop + resize) to ``size`` = (w, h), as (1, 3, h, w) in [0, 1]."""
    import torch
    from PIL import Image, ImageOps

    return [
        torch.from_numpy(np.asarray(ImageOps.fit(Image.fromarray(img), size, Image.LANCZOS)))
        .permute(2, 0, 1)[None]
        .float()
        / 255.0
        for _, img in images
    ]


def evaluate(model, val: list, snr_db: float, cbr: float, steps: int, device) -> dict:
    """Mean PSNR / MS-SSIM on the val split through the AWGN channel (one seed per image)."""
    import torch
    from gensem.core.cdm_jscc.deepjscc import DeepJSCC
    from gensem.core.metrics import ms_ssim, psnr

    model.eval()
    rows = []
    with torch.no_grad():
        for i, x in enumerate(val):
            x = x.to(device)
            if isinstance(model, DeepJSCC):
                rec = model(x, snr_db, generator=torch.Generator().manual_seed(i)).clamp(0, 1)
                got = model.cbr
            else:
                model.update_entropy_tables()
                r = model.transmit(x, snr_db, cbr, steps=steps, seed=i)
                rec, got = r["x"], float(r["cbr"].mean())
            a = (x[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            b = (rec[0].permute(1, 2, 0).cpu().numpy() * 255).round().astype(np.uint8)
            rows.append((psnr(a, b), ms_ssim(a, b)[0], got))
    model.train()
    arr = np.array(rows)
    return {
        "val_psnr": float(arr[:, 0].mean()),
        "val_ms_ssim": float(arr[:, 1].mean()),
        "val_cbr": float(arr[:, 2].mean()),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", default=os.path.join(ROOT, "data", "images"))
    p.add_argument("--out", required=True)
    p.add_argument("--model", choices=("cdm-jscc", "deepjscc"), default="cdm-jscc")
    p.add_argument("--tiny", action="store_true", help="tiny config (tests)")
    p.add_argument(
        "--eta", type=float, default=0.1, help="perceptual weight of loss (10): 0.5 = -P, 0.1 = -D"
    )
    p.add_argument("--lam", type=float, default=1e-3, help="rate weight lambda of loss (10) (bits per pixel)")
    p.add_argument("--snr-db", type=float, default=10.0)
    p.add_argument("--cbr", default="1/48")
    p.add_argument("--stage-steps", default="300,150,100", help="CDM-JSCC steps of stages 1,2,3")
    p.add_argument("--steps", type=int, default=550, help="DeepJSCC steps")
    p.add_argument("--start-stage", type=int, default=1, choices=(1, 2, 3))
    p.add_argument("--init", help="start from this checkpoint's weights (e.g. stages 1-2 of another run)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=256)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument(
        "--min-lr-ratio", type=float, default=0.1, help="cosine decay to this fraction of --lr per stage"
    )
    p.add_argument(
        "--pure-noise-frac",
        type=float,
        default=0.5,
        help="share of training draws at n = N (where sampling starts)",
    )
    p.add_argument("--sample-steps", type=int, default=1, help="g_d test steps for the val figures")
    p.add_argument("--val-size", default="384x256", help="WxH the val images are fitted to")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--save-every", type=int, default=50)
    args = p.parse_args(argv)

    import torch
    from gensem.core.cdm_jscc import checkpoint
    from gensem.core.cdm_jscc.deepjscc import TINY_DEEPJSCC, DeepJSCC
    from gensem.core.cdm_jscc.losses import PerceptualLoss, cdm_jscc_loss
    from gensem.core.cdm_jscc.model import CDMJSCC, TINY_CONFIG

    try:
        cbr = float(Fraction(args.cbr))
        vw, vh = (int(v) for v in args.val_size.lower().split("x"))
        stage_steps = [int(s) for s in args.stage_steps.split(",")]
        if len(stage_steps) != 3:
            raise ValueError("--stage-steps needs three numbers")
        train, val = load_split(args.images, "train", args.crop), load_split(args.images, "val")
    except ValueError as exc:
        print(f"train_cdm_jscc: {exc}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    if args.model == "deepjscc":
        model = DeepJSCC(dict(TINY_DEEPJSCC, cbr=cbr) if args.tiny else {"cbr": cbr})
        plan = [("deepjscc", args.steps)]
    else:
        model = CDMJSCC(TINY_CONFIG if args.tiny else None)
        plan = [(s, n) for i, (s, n) in enumerate(zip(STAGES, stage_steps)) if i + 1 >= args.start_stage]
    if args.init:
        model, ckpt = checkpoint.load(args.init)  # its config and weights (entropy tables included)
        if ckpt["kind"] != args.model:
            print(
                f"train_cdm_jscc: --init {args.init} is a {ckpt['kind']} checkpoint, not {args.model}",
                file=sys.stderr,
            )
            return 2
    model.to(device).train()
    perceptual = PerceptualLoss().to(device)
    state_path, csv_path = args.out + ".state.pt", args.out + ".csv"
    done = {"stage_index": 0, "step": 0, "elapsed": 0.0}
    state = None
    if args.resume and os.path.isfile(state_path):
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        done = state["done"]
        print(f"resumed at stage {done['stage_index'] + 1} step {done['step']}", file=sys.stderr)
    new_log = not (args.resume and os.path.isfile(csv_path))
    log = open(csv_path, "w" if new_log else "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(
            [
                "stage",
                "step",
                "loss",
                "mse_hat",
                "mse_bar",
                "dp_hat",
                "dp_bar",
                "bpp",
                "latent_mse",
                "cbr",
                "elapsed_s",
            ]
        )
    data = batches(train, args.batch, args.crop, rng)
    t_start = time.time() - done["elapsed"]
    gen = torch.Generator().manual_seed(args.seed)
    for si in range(done["stage_index"], len(plan)):
        stage, n_steps = plan[si]
        if stage == "compression":
            params = [
                p
                for n, p in model.named_parameters()
                if (n.startswith("transform") or n.startswith("unet")) and not n.endswith("quantiles")
            ]
        elif stage == "jscc":
            params = [p for n, p in model.named_parameters() if n.startswith("jscc_")]
        else:
            params = [p for n, p in model.named_parameters() if not n.endswith("quantiles")]
        opt = torch.optim.Adam(params, lr=args.lr)
        decay = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda i, n=n_steps: (
                args.min_lr_ratio
                + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(i, n) / max(n, 1)))
            ),
        )
        aux = None
        if stage in ("compression", "joint"):
            aux = torch.optim.Adam(
                [p for n, p in model.named_parameters() if n.endswith("quantiles")], lr=1e-3
            )
        start = 0
        if state is not None and si == done["stage_index"] and done["step"] > 0:  # mid-stage
            opt.load_state_dict(state["opt"])
            for _ in range(done["step"]):
                decay.step()
            if aux is not None and state.get("aux"):
                aux.load_state_dict(state["aux"])
            start = done["step"]
        for step in range(start, n_steps):
            x = next(data).to(device)
            parts = {}
            if stage == "deepjscc":
                rec = model(x, args.snr_db, generator=gen)
                loss = torch.mean((x - rec) ** 2)
                parts = {"mse_hat": float(loss)}
            else:
                out = model.training_outputs(
                    x, args.snr_db, cbr, stage=stage, generator=gen, pure_noise_frac=args.pure_noise_frac
                )
                if stage == "jscc":
                    loss = out["latent_mse"]
                else:
                    loss, parts = cdm_jscc_loss(
                        x, out["x_hat"], out["x_bar"], out["bpp"], args.eta, args.lam, perceptual
                    )
                if "latent_mse" in out:
                    parts["latent_mse"] = out["latent_mse"].item()
                parts["cbr"] = out.get("cbr", "")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            decay.step()
            if aux is not None:
                aux.zero_grad()
                model.transform.entropy_bottleneck.loss().backward()
                aux.step()
            elapsed = time.time() - t_start
            writer.writerow(
                [stage, step + 1, f"{loss.item():.6f}"]
                + [
                    parts.get(k, "")
                    for k in ("mse_hat", "mse_bar", "dp_hat", "dp_bar", "bpp", "latent_mse", "cbr")
                ]
                + [f"{elapsed:.1f}"]
            )
            if (step + 1) % 10 == 0 or step + 1 == n_steps:
                log.flush()
                print(
                    f"[{stage} {step + 1}/{n_steps}] loss {loss.item():.5f} {elapsed:.0f}s", file=sys.stderr
                )
            if (step + 1) % args.save_every == 0 or step + 1 == n_steps:
                nxt = {"stage_index": si, "step": step + 1, "elapsed": elapsed}
                if step + 1 == n_steps:
                    nxt = {"stage_index": si + 1, "step": 0, "elapsed": elapsed}
                torch.save(
                    {
                        "model": model.state_dict(),
                        "opt": opt.state_dict(),
                        "aux": aux.state_dict() if aux else None,
                        "done": nxt,
                    },
                    state_path,
                )
        state = None
    log.close()
    elapsed = time.time() - t_start
    figures = evaluate(model, val_tensors(val, (vw, vh)), args.snr_db, cbr, args.sample_steps, device)
    recipe = {
        "model": args.model,
        "eta": args.eta,
        "lam": args.lam,
        "snr_db": args.snr_db,
        "cbr": args.cbr,
        "plan": plan,
        "batch": args.batch,
        "crop": args.crop,
        "lr": args.lr,
        "lr_schedule": f"cosine to {args.min_lr_ratio} x lr within each stage",
        "seed": args.seed,
        "init": args.init,
        "perceptual": perceptual.name,
        "train_images": len(train),
        "val_images": len(val),
        "device": str(device),
        "train_seconds": round(elapsed, 1),
        "sample_steps": args.sample_steps,
        "pure_noise_frac": args.pure_noise_frac,
        "images": "Debian plasma-workspace-wallpapers + gnome-backgrounds + scikit-image data (train split)",
    }
    checkpoint.save(args.out, model.cpu(), recipe=recipe, figures=figures)
    with open(args.out + ".json", "w") as f:
        json.dump({"recipe": recipe, "figures": figures}, f, indent=2)
    print(json.dumps({"out": args.out, **figures, "train_seconds": round(elapsed, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
