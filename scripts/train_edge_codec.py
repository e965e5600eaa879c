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

sys.path[:0] = [
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gr-gensem", "python"),
    os.path.dirname(os.path.abspath(__file__)),  # edge_maps
]
warnings.filterwarnings("ignore", category=FutureWarning)


HED_SCALES = (1.0, 1.5, 2.5, 4.0)  # detail scales s of the HED training maps (soft_detail: the demo's bisection range)


def load_split(images_dir: str, split: str, methods=("canny",)):
    """[(name, image, [[soft targets] per method])]: Canny at the 512-px short side (its map blurred by
    ``soft_target``), HED (``--edge-method hed``) at 768 x 512 as the demo sends it: the cached
    HED map (scripts/edge_maps.py) through ``soft_detail`` at each of ``HED_SCALES``."""
    import cv2
    from edge_maps import sent_detail
    from gensem.core.images import fit_image, load_image
    from gensem.semantic.edges import canny_edges

    with open(os.path.join(images_dir, "manifest.json")) as f:
        manifest = json.load(f)
    out = []
    for m in manifest:
        if m["split"] != split:
            continue
        img = load_image(os.path.join(images_dir, m["name"] + ".png"))
        targets = []
        if "canny" in methods:
            s = 512 / min(img.shape[:2])
            small = cv2.resize(
                img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA
            )
            targets.append([soft_target(canny_edges(small))])
        if "hed" in methods:
            detail = sent_detail(images_dir, m["name"], fit_image(img), "hed")
            targets.append([detail(s).astype(np.float32) / 255.0 for s in HED_SCALES])
        out.append((m["name"], img, targets))
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


def working_size_edges(codec, named_images, methods=("canny",), images_dir=None) -> list:
    """The maps of ``named_images`` ([(name, image)]) at the codec's working size, per method
    (Canny; HED at detail scale 1.5), computed once for rate control."""
    from edge_maps import sent_detail
    from gensem.core.images import fit_image
    from gensem.semantic.edges import canny_edges

    out = []
    for name, img in named_images:
        img = fit_image(img, codec.size)
        if "canny" in methods:
            out.append(canny_edges(img))
        if "hed" in methods:
            out.append(sent_detail(images_dir, name, img, "hed")(1.5))
    return out


def measured_bpp(codec, edge_maps) -> float:
    """Real bitstream rate of ``edge_maps`` at the working size (for rate control)."""
    codec.model.update(force=True)
    return float(np.mean([codec.bits_per_pixel(codec.compress(e)) for e in edge_maps]))


def batches(edges, batch, crop, rng):
    """Random crops with flips; ``edges``: per image, per method, its target maps (an image,
    then a method, then a map, each drawn uniformly: methods weigh the same)."""
    import torch

    while True:
        xs = []
        for _ in range(batch):
            per_method = edges[rng.integers(len(edges))]
            maps = per_method[rng.integers(len(per_method))]
            e = maps[rng.integers(len(maps))]
            y0 = rng.integers(0, e.shape[0] - crop + 1)
            x0 = rng.integers(0, e.shape[1] - crop + 1)
            c = e[y0 : y0 + crop, x0 : x0 + crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            xs.append(np.ascontiguousarray(c))
        yield torch.from_numpy(np.stack(xs))[:, None]


def evaluate(codec, val, methods=("canny",), images_dir=None) -> dict:
    """Per val image and method: the full map's real bitstream (bytes, bpp) and edge F1 after
    decoding; and, as the demo sends it, the map fitted to 0.02 bpp (``fit_edge_budget``):
    its bpp, detail scale and the received map's F1 against the sent one. ``mean``: the first
    method's means (older reports), ``mean_by_method``: each method's."""
    from edge_maps import sent_detail
    from gensem.core.images import fit_image
    from gensem.semantic.edge_budget import DEFAULT_MAX_BPP, fit_edge_budget
    from gensem.semantic.edges import edge_f1

    rows = []
    for name, img, _ in val:
        img = fit_image(img, codec.size)
        for method in methods:
            detail = sent_detail(images_dir, name, img, method)
            e = detail(1.0)
            data = codec.compress(e)
            rec, info = codec.decompress(data)
            fit = fit_edge_budget(detail, codec, DEFAULT_MAX_BPP)
            f_fit = edge_f1(fit["edges"], codec.decompress(fit["bits"])[0])
            row = {"name": name, "method": method, "bytes": len(data), "bpp": codec.bits_per_pixel(data)}
            row.update(edge_f1(e, rec), ok=info["ok"], fitted_bpp=fit["bpp"], fitted_scale=fit["scale"])
            rows.append(dict(row, fitted_f1=f_fit["f1"]))
    keys = ("bytes", "bpp", "precision", "recall", "f1", "fitted_bpp", "fitted_scale", "fitted_f1")
    by = {
        m: {k: float(np.mean([r[k] for r in rows if r["method"] == m])) for k in keys} for m in methods
    }
    return {"images": rows, "mean": by[methods[0]], "mean_by_method": by}


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
    ap.add_argument(
        "--edge-method",
        default="canny",
        help="maps to train on: canny, hed or canny,hed (HED maps cached by scripts/edge_maps.py)",
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
    from edge_maps import parse_methods

    try:
        methods = parse_methods(args.edge_method)
    except ValueError as exc:
        print(f"train_edge_codec: {exc}", file=sys.stderr)
        return 2
    train = load_split(args.images, "train", methods)
    val = load_split(args.images, "val", methods)
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
    gen = batches([ts for _, _, ts in train], args.batch, args.crop, rng)
    pw = torch.tensor(args.pos_weight, device=args.device)
    rate_edges = working_size_edges(codec, [(n, img) for n, img, _ in train[:3]], methods, args.images)
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
        data=f"{args.images} (scripts/prepare_images.py), train split; maps: {', '.join(methods)}"
        + (f" (HED through soft_detail at s in {list(HED_SCALES)})" if "hed" in methods else ""),
        train_images=[n for n, _, _ in train],
        val_images=[n for n, _, _ in val],
        final_lambda=lmbda,
        train_seconds=round(time.monotonic() - t0, 1),
    )
    codec.meta.update(N=args.N, M=args.M)
    codec.save(args.out, recipe)
    report = {"recipe": recipe, "val": evaluate(EdgeCodec.from_checkpoint(args.out), val, methods, args.images)}
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
