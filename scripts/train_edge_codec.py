#!/usr/bin/env python3
"""Train the learned edge-map codec (``gensem.core.edge_codec``) on open photos.

Data: ``scripts/prepare_images.py`` output (Debian wallpapers + scikit-image images),
``train`` split only; the ``val`` split is used for the final figures. Each image is
scaled so that its short side is 512 px (the 768 x 512 working scale), its Canny edge map
(``gensem.semantic.edges.canny_edges``) is computed once, blurred into a soft target
(sigma 1 px, a line peaks at 1), and training draws random 256 x 256 crops with flips.

Loss: R + lambda * D with R the estimated bits per pixel of y and z (CompressAI
likelihoods) and D the binary cross-entropy of the edge logits (edge pixels weighted by
``--pos-weight``). ``--target-bpp`` steers lambda every 100 steps from the *real* bitstream rate of three
training images at 768 x 512 (lambda *= sqrt(target / measured), clipped to x0.5..x2). Adam on the transforms,
a second Adam (lr 1e-2) on the entropy bottleneck's quantiles (CompressAI's aux loss),
cosine learning-rate decay to a tenth. Resumable
(``--resume``), progress on stderr, a CSV loss log, and on exit a checkpoint plus
``<out>.json`` with the recipe and the validation figures (real bitstreams at 768 x 512).

    .venv/bin/python scripts/train_edge_codec.py --images data/images --steps 1500 \
        --out gr-gensem/python/gensem/core/weights/edge_codec.pt

Fine-tuning: ``--init CKPT`` starts from a trained codec (fresh optimisers); ``--z-weight W``
weights the hyper-latent's rate by W in the loss, which drives the z channels the image does
not need towards zero cost (the rate floor of an empty map is mostly z).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gr-gensem", "python"))
warnings.filterwarnings("ignore", category=FutureWarning)


def load_split(images_dir: str, split: str):
    import cv2
    from gensem.core.images import load_image
    from gensem.semantic.edges import canny_edges

    with open(os.path.join(images_dir, "manifest.json")) as f:
        manifest = json.load(f)
    out = []
    for m in manifest:
        if m["split"] != split:
            continue
        img = load_image(os.path.join(images_dir, m["name"] + ".png"))
        s = 512 / min(img.shape[:2])
        img = cv2.resize(
            img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA
        )
        out.append((m["name"], img, soft_target(canny_edges(img))))
    return out


def soft_target(edges: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Training target: the binary Canny map blurred (sigma 1 px) and scaled so that a
    one-pixel line peaks at 1: dense gradients, and tolerant of one-pixel shifts."""
    import cv2

    e = (edges > 0).astype(np.float32)
    if sigma <= 0:
        return e
    b = cv2.GaussianBlur(e, (0, 0), sigma)
    line = cv2.GaussianBlur(np.pad(np.ones((1, 33), np.float32), 16), (0, 0), sigma).max()
    return np.clip(b / line, 0.0, 1.0)


def working_size_edges(codec, images) -> list:
    """Canny maps of ``images`` at the codec's working size (computed once for rate control)."""
    from gensem.core.images import fit_image
    from gensem.semantic.edges import canny_edges

    return [canny_edges(fit_image(img, codec.size)) for img in images]


def measured_bpp(codec, edge_maps) -> float:
    """Real bitstream rate of ``edge_maps`` at the working size (for rate control)."""
    codec.model.update(force=True)
    return float(np.mean([codec.bits_per_pixel(codec.compress(e)) for e in edge_maps]))


def batches(edges, batch, crop, rng):
    import torch

    while True:
        xs = []
        for _ in range(batch):
            e = edges[rng.integers(len(edges))]
            y0 = rng.integers(0, e.shape[0] - crop + 1)
            x0 = rng.integers(0, e.shape[1] - crop + 1)
            c = e[y0 : y0 + crop, x0 : x0 + crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            xs.append(np.ascontiguousarray(c))
        yield torch.from_numpy(np.stack(xs))[:, None]


def evaluate(codec, val) -> dict:
    from gensem.core.images import fit_image
    from gensem.semantic.edges import canny_edges, edge_f1

    rows = []
    for name, img, _ in val:
        e = canny_edges(fit_image(img, codec.size))
        data = codec.compress(e)
        rec, info = codec.decompress(data)
        f = edge_f1(e, rec)
        rows.append(
            {"name": name, "bytes": len(data), "bpp": codec.bits_per_pixel(data), **f, "ok": info["ok"]}
        )
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("bytes", "bpp", "precision", "recall", "f1")}
    return {"images": rows, "mean": mean}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="data/images")
    ap.add_argument("--out", default="gr-gensem/python/gensem/core/weights/edge_codec.pt")
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=int, default=256)
    ap.add_argument("--N", type=int, default=32)
    ap.add_argument("--M", type=int, default=48)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--lmbda", type=float, default=4.0, help="initial lambda (distortion weight)")
    ap.add_argument(
        "--target-bpp", type=float, default=0.018, help="real rate at 768x512 to steer lambda to (0: fixed)"
    )
    ap.add_argument("--pos-weight", type=float, default=1.0)
    ap.add_argument(
        "--z-weight",
        type=float,
        default=1.0,
        help="weight of the hyper-latent z's rate in the loss (> 1 pushes unused z channels to cost nothing)",
    )
    ap.add_argument("--init", help="start from this codec checkpoint (fresh optimiser; fine-tuning)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cuda" if _cuda() else "cpu")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = ap.parse_args()
    import torch
    import torch.nn.functional as F
    from gensem.core.edge_codec import EdgeCodec

    if args.threads:
        torch.set_num_threads(args.threads)
    if not os.path.isfile(os.path.join(args.images, "manifest.json")):
        print(
            f"train_edge_codec: no {args.images}/manifest.json; run scripts/prepare_images.py",
            file=sys.stderr,
        )
        return 2
    rng = np.random.default_rng(args.seed)
    train = load_split(args.images, "train")
    val = load_split(args.images, "val")
    print(
        f"train_edge_codec: {len(train)} train / {len(val)} val images, device {args.device}", file=sys.stderr
    )
    if args.init:
        codec = EdgeCodec.from_checkpoint(args.init)
        args.N, args.M = codec.meta.get("N", args.N), codec.meta.get("M", args.M)
    else:
        codec = EdgeCodec.from_config(N=args.N, M=args.M, seed=args.seed)
    model = codec.model.train().to(args.device)
    params = [p for n, p in model.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in model.named_parameters() if n.endswith(".quantiles")]
    opt = torch.optim.Adam(params, lr=args.lr)
    aux_opt = torch.optim.Adam(aux, lr=1e-2)
    state_path = args.out + ".state"
    step, lmbda = 0, args.lmbda
    if args.resume and os.path.isfile(state_path):
        st = torch.load(state_path, map_location=args.device, weights_only=False)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        aux_opt.load_state_dict(st["aux_opt"])
        step, lmbda = st["step"], st["lmbda"]
        rng = np.random.default_rng(args.seed + step)
        print(f"train_edge_codec: resumed at step {step}", file=sys.stderr)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    log_path = args.out + ".log.csv"
    log = open(log_path, "a", newline="")
    w = csv.writer(log)
    if step == 0:
        w.writerow(["step", "loss", "bpp", "bce", "lambda", "aux", "seconds"])
    gen = batches([e for _, _, e in train], args.batch, args.crop, rng)
    pw = torch.tensor(args.pos_weight, device=args.device)
    rate_edges = working_size_edges(codec, [img for _, img, _ in train[:3]])
    t0 = time.monotonic()
    run_bpp = None
    while step < args.steps:
        x = next(gen).to(args.device)
        out = model(x)
        n_px = x.shape[0] * x.shape[2] * x.shape[3]
        lk = out["likelihoods"]
        bpp_y = torch.log(lk["y"]).sum() / (-math.log(2) * n_px)
        bpp_z = torch.log(lk["z"]).sum() / (-math.log(2) * n_px)
        bpp = bpp_y + bpp_z
        bce = F.binary_cross_entropy_with_logits(out["x_hat"], x, pos_weight=pw)  # soft targets
        loss = bpp_y + args.z_weight * bpp_z + lmbda * bce
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        aux_loss = model.aux_loss()
        aux_opt.zero_grad()
        aux_loss.backward()
        aux_opt.step()
        step += 1
        b = float(bpp.detach())
        run_bpp = b if run_bpp is None else 0.95 * run_bpp + 0.05 * b
        if args.target_bpp > 0 and step >= 200 and step % 100 == 0:
            # rate control on the real bitstream (768 x 512, 3 training images): the training
            # rate is a noisy relaxation, dominated by z early on
            model.eval()
            real = measured_bpp(codec, rate_edges)
            model.train()
            lmbda = min(
                max(lmbda * min(max((args.target_bpp / max(real, 1e-4)) ** 0.5, 0.5), 2.0), 0.05), 500.0
            )
            print(
                f"step {step}: real rate {real:.4f} bpp at 768x512 -> lambda {lmbda:.3f}",
                file=sys.stderr,
                flush=True,
            )
        for g in opt.param_groups:  # cosine decay to a tenth
            g["lr"] = args.lr * (0.55 + 0.45 * math.cos(math.pi * min(step / args.steps, 1.0)))
        if step % 20 == 0 or step == args.steps:
            w.writerow(
                [
                    step,
                    f"{float(loss):.5f}",
                    f"{b:.5f}",
                    f"{float(bce):.5f}",
                    f"{lmbda:.4f}",
                    f"{float(aux_loss):.3f}",
                    f"{time.monotonic() - t0:.1f}",
                ]
            )
            log.flush()
            print(
                f"step {step}/{args.steps} bpp {run_bpp:.4f} bce {float(bce):.4f} lambda {lmbda:.3f}",
                file=sys.stderr,
                flush=True,
            )
        if step % 100 == 0 or step == args.steps:
            torch.save(
                {
                    "model": model.state_dict(),
                    "opt": opt.state_dict(),
                    "aux_opt": aux_opt.state_dict(),
                    "step": step,
                    "lmbda": lmbda,
                },
                state_path,
            )
    log.close()
    model = model.cpu().eval()
    codec.model = model
    recipe = {k: v for k, v in vars(args).items() if k not in ("resume",)}
    recipe.update(
        data="Debian plasma-workspace-wallpapers + gnome-backgrounds + scikit-image (train split)",
        train_images=[n for n, _, _ in train],
        val_images=[n for n, _, _ in val],
        final_lambda=lmbda,
        train_seconds=round(time.monotonic() - t0, 1),
    )
    codec.meta.update(N=args.N, M=args.M)
    codec.save(args.out, recipe)
    report = {"recipe": recipe, "val": evaluate(EdgeCodec.from_checkpoint(args.out), val)}
    with open(os.path.splitext(args.out)[0] + ".json", "w") as f:
        json.dump(report, f, indent=1)
    m = report["val"]["mean"]
    print(
        f"train_edge_codec: wrote {args.out}; val at 768x512: {m['bpp']:.4f} bpp, "
        f"edge F1 {m['f1']:.3f} (P {m['precision']:.3f}, R {m['recall']:.3f})",
        file=sys.stderr,
    )
    return 0


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


if __name__ == "__main__":
    sys.exit(main())
