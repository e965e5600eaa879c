#!/usr/bin/env python3
"""Train CDM-JSCC (multi-stage, paper §III-C) or the DeepJSCC baseline on open photos.

Data: ``scripts/prepare_images.py`` output (``--images``, Debian wallpapers + scikit-image images);
only the ``train`` split is read for training, the ``val`` split gives the validation figures. Or any
two folders of .jpg/.png images, searched recursively (``--train-dir DIR --val-dir DIR``: ImageNet
class folders, DIV2K, Kodak), read lazily for training (``--train-count`` picks a seeded random subset,
``--val-count`` caps the val images). Random ``--crop`` (256) square crops with horizontal flips, batch
``--batch`` (4, as the paper) per process.

CDM-JSCC stages (``--stage-steps A,B,C``, the paper's 90/45/10 epochs scaled to our budget):
1. ``compression``: g_e + hyperprior + g_d on the quantised latent, loss (10) without x_hat;
2. ``jscc``: f_e / f_d alone on the frozen transform, latent MSE through the AWGN channel
   (``--stage2-loss image``: the authors' image loss through the frozen diffusion decoder);
3. ``joint``: everything, full loss (10) with ``--eta`` and ``--lam``.
``--init CKPT --start-stage 3`` fine-tunes another run's stages 1-2 (how CDM-JSCC-P is made from
the shared stages). DeepJSCC (``--model deepjscc``) trains for MSE for ``--steps``.
The perceptual term is LPIPS-VGG when its weights are on disk, else 1 - MS-SSIM (logged).
The authors' recipe where it differs from ours, each an option (off by default; docs/cdm_jscc.md
has the ablation): ``--ema 0.999``, ``--min-snr-gamma 5``, ``--stage2-loss image``; and
``--colour-aug P`` (RGB channel permutation) for colour priors.

Runs on CPU, one GPU (``--device``) or several: under ``torchrun`` (WORLD_SIZE > 1) each process
trains a DistributedDataParallel replica on its own crops (seed + rank; NCCL on CUDA, one GPU per
LOCAL_RANK; gloo on CPU), so one step sees ``--batch`` x WORLD_SIZE crops; only rank 0 writes
files and progress. ``--amp bf16`` runs the forward passes under bf16 autocast (weights, Adam
and the image losses in fp32). Resumable (``--resume`` reads ``<out>.state.pt``), progress on stderr, CSV log
``<out>.csv``, validation every ``--val-every`` steps into ``<out>.val.csv``. On exit: ``<out>``
(fp16 weights, config, recipe, val figures) and ``<out>.json``.

    python scripts/train_cdm_jscc.py --images data/images --model cdm-jscc --eta 0.1 \\
        --stage-steps 300,150,100 --out gr-gensem/python/gensem/core/weights/cdm_jscc_d.pt
    torchrun --standalone --nproc_per_node 8 scripts/train_cdm_jscc.py --train-dir imagenet/train \\
        --train-count 50000 --val-dir kodak --val-size 768x512 --lr 1e-4 --amp bf16 \\
        --stage-steps 140625,70313,15625 --out w/cdm_jscc_d.pt  # the paper's schedule (docs/cdm_jscc.md)
"""

from __future__ import annotations

import argparse
import copy
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
IMAGE_EXTS = (".jpg", ".jpeg", ".png")
VAL_COLUMNS = ["stage", "step", "val_psnr", "val_ms_ssim", "val_cbr", "elapsed_s"]


def open_rgb(path: str, min_side: int = 0):
    """uint8 HxWx3 of an image file, upscaled to a shorter side >= ``min_side``."""
    from PIL import Image

    img = Image.open(path).convert("RGB")
    if min(img.size) < min_side:  # a few scikit-image pictures are smaller than a crop
        k = min_side / min(img.size)
        size = (max(min_side, round(img.size[0] * k)), max(min_side, round(img.size[1] * k)))
        img = img.resize(size, Image.LANCZOS)
    return np.asarray(img)


def load_split(images_dir: str, split: str, min_side: int = 0) -> list:
    """[(name, uint8 HxWx3)] of one split of the manifest, upscaled to a shorter side >= ``min_side``."""
    from gensem.core.images import split_names

    return [
        (name, open_rgb(os.path.join(images_dir, name + ".png"), min_side))
        for name in split_names(images_dir, split)
    ]


def list_images(folder: str, flag: str, count: int = 0, seed: int = 0) -> list:
    """[(relative name, path)] of the .jpg/.png files under ``folder`` (recursive), sorted; ``count`` > 0
    keeps a random subset of that many (seeded, the same in every process)."""
    if not os.path.isdir(folder):
        raise ValueError(f"{flag} {folder} is not a directory")
    paths = sorted(
        os.path.join(d, f)
        for d, _, files in os.walk(folder, followlinks=True)
        for f in files
        if f.lower().endswith(IMAGE_EXTS)
    )
    if not paths:
        raise ValueError(f"{flag} {folder} has no .jpg/.png images (searched recursively)")
    if 0 < count < len(paths):
        paths = [
            paths[i] for i in sorted(np.random.default_rng(seed).choice(len(paths), count, replace=False))
        ]
    return [(os.path.relpath(p, folder), p) for p in paths]


def _sources(folder: str) -> str:
    """The open sources of a prepare_images.py folder's training split (from its manifest)."""
    try:
        with open(os.path.join(folder, "manifest.json")) as f:
            rows = json.load(f)
        names = sorted({r["source"] for r in rows if r.get("split") == "train" and r.get("source")})
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        names = []
    return (" + ".join(names) if names else folder) + " (train split)"


def load_data(args) -> tuple[list, list]:
    """(train, val): the manifest splits of ``--images`` (decoded), or ``--train-dir`` as lazy
    (name, path) pairs and ``--val-dir`` decoded; ``--val-count`` > 0 keeps the first N val images."""
    if (args.train_dir is None) != (args.val_dir is None):
        raise ValueError("--train-dir and --val-dir go together (or use --images)")
    cap = slice(args.val_count if args.val_count > 0 else None)
    if args.train_dir is None:
        return load_split(args.images, "train", args.crop), load_split(args.images, "val")[cap]
    train = list_images(args.train_dir, "--train-dir", args.train_count, args.seed)
    return train, [(n, open_rgb(p)) for n, p in list_images(args.val_dir, "--val-dir")[cap]]


def batches(images: list, batch: int, crop: int, rng, colour_aug: float = 0.0):
    """Endless (batch, 3, crop, crop) tensors in [0, 1] of random flipped crops; an image given as a
    path (``--train-dir``) is decoded when drawn. ``colour_aug``: the share of crops whose RGB
    channels are randomly permuted (a colour augmentation: the model must not learn one colour
    prior from a training set short of some colours, e.g. green)."""
    import torch

    while True:
        out = []
        for i in rng.integers(0, len(images), batch):
            img = images[i][1]
            if isinstance(img, str):
                img = open_rgb(img, crop)
            h, w = img.shape[:2]
            if min(h, w) < crop:
                raise ValueError(f"{images[i][0]} is smaller than the {crop} px crop")
            y, x = rng.integers(0, h - crop + 1), rng.integers(0, w - crop + 1)
            c = img[y : y + crop, x : x + crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            if colour_aug > 0 and rng.random() < colour_aug:
                c = c[:, :, rng.permutation(3)]
            out.append(np.ascontiguousarray(c))
        yield torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2).float() / 255.0


def prefetch(gen, depth: int = 8):
    """``gen``'s items, made ``depth`` ahead in a thread (JPEG decoding overlaps the training step)."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(depth)

    def work():
        try:
            for item in gen:
                q.put((item, None))
        except Exception as exc:  # noqa: BLE001 (handed to the training loop, which raises it)
            q.put((None, exc))

    threading.Thread(target=work, daemon=True).start()
    while True:
        item, exc = q.get()
        if exc is not None:
            raise exc
        yield item


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
    """Mean PSNR / MS-SSIM on the val split through the AWGN channel (one seed per image), and the
    mean colour error (8-bit, ``metrics.mean_colour_error``): mean and worst image."""
    import torch
    from gensem.core.cdm_jscc.deepjscc import DeepJSCC
    from gensem.core.metrics import mean_colour_error, ms_ssim, psnr

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
            rows.append((psnr(a, b), ms_ssim(a, b)[0], got, mean_colour_error(a, b)))
    model.train()
    arr = np.array(rows)
    return {
        "val_psnr": float(arr[:, 0].mean()),
        "val_ms_ssim": float(arr[:, 1].mean()),
        "val_cbr": float(arr[:, 2].mean()),
        "val_colour_error": float(arr[:, 3].mean()),
        "val_colour_error_max": float(arr[:, 3].max()),
    }


def setup_device(device_arg: str) -> tuple[int, int, object]:
    """(rank, world size, torch device). Under torchrun (WORLD_SIZE > 1) this starts the process group:
    NCCL with one GPU per LOCAL_RANK on CUDA, gloo on CPU; otherwise a single process as before."""
    import torch

    device = torch.device(
        "cuda"
        if device_arg == "auto" and torch.cuda.is_available()
        else ("cpu" if device_arg == "auto" else device_arg)
    )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, device
    import datetime

    import torch.distributed as dist

    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        if local >= torch.cuda.device_count():
            raise ValueError(f"LOCAL_RANK {local} but only {torch.cuda.device_count()} CUDA devices")
        device = torch.device("cuda", local)
        torch.cuda.set_device(device)
    # an hour, not the default: rank 0 validates and saves while the others wait at the next collective
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=datetime.timedelta(hours=1))
    return rank, world, device


def barrier(world: int) -> None:
    """Wait for every process (no-op in a single process)."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()


def average_grads(params: list, world: int) -> None:
    """All-reduce mean of the gradients of ``params`` (the entropy quantiles' auxiliary loss is
    back-propagated outside DDP's forward, so DDP does not sync it)."""
    if world > 1:
        import torch.distributed as dist

        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= world


def stage_params(model, stage: str) -> list:
    """The parameters Adam trains in ``stage`` (the quantiles have their own optimiser)."""
    if stage == "compression":
        return [
            p
            for n, p in model.named_parameters()
            if n.startswith(("transform", "unet")) and not n.endswith("quantiles")
        ]
    if stage == "jscc":
        return [p for n, p in model.named_parameters() if n.startswith("jscc_")]
    return [p for n, p in model.named_parameters() if not n.endswith("quantiles")]


def make_train_step(model, perceptual, args, cbr: float, gen, device_type: str):
    """A module whose forward(x, stage) is one training forward pass and its loss: (loss, terms).

    It is what DistributedDataParallel wraps (DDP syncs gradients of what its forward ran, and the
    CDM-JSCC passes are ``training_outputs``, not ``forward``). With ``--amp bf16`` the model runs
    under bf16 autocast and its outputs are cast back to fp32 before the loss."""
    import torch
    from gensem.core.cdm_jscc.losses import cdm_jscc_loss, min_snr_weight

    amp = args.amp == "bf16"
    image_stage2 = args.stage2_loss == "image"

    def fp32(v):
        return v.float() if torch.is_tensor(v) and v.is_floating_point() else v

    class TrainStep(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model, self.perceptual = model, perceptual

        def forward(self, x, stage: str):
            with torch.autocast(device_type, dtype=torch.bfloat16, enabled=amp):
                if stage == "deepjscc":
                    out = {"rec": self.model(x, args.snr_db, generator=gen)}
                else:
                    out = self.model.training_outputs(
                        x, args.snr_db, cbr, stage=stage, generator=gen, pure_noise_frac=args.pure_noise_frac,
                        jscc_image=image_stage2,
                    )  # fmt: skip
            out = {k: fp32(v) for k, v in out.items()}
            parts = {}
            if stage == "deepjscc":
                loss = torch.mean((x - out["rec"]) ** 2)
                return loss, {"mse_hat": float(loss.detach())}
            weight = min_snr_weight(out["snr"], args.min_snr_gamma) if args.min_snr_gamma > 0 and "snr" in out else None
            if stage == "jscc" and not image_stage2:
                loss = out["latent_mse"]
            elif stage == "jscc":  # the image loss through the frozen g_d (no rate: f_e / f_d set none)
                zero = torch.zeros((), device=x.device)
                loss, parts = cdm_jscc_loss(x, out["x_hat"], None, zero, args.eta, 0.0, self.perceptual, weight)
            else:
                loss, parts = cdm_jscc_loss(
                    x, out["x_hat"], out["x_bar"], out["bpp"], args.eta, args.lam, self.perceptual, weight
                )
            if "latent_mse" in out:
                parts["latent_mse"] = out["latent_mse"].item()
            parts["cbr"] = out.get("cbr", "")
            return loss, parts

    return TrainStep()


class WeightEMA:
    """Exponential moving average of a model's weights (the authors use ema_pytorch, beta 0.999):
    floating-point tensors averaged with decay min(decay, (1 + k) / (10 + k)) at update k, the
    others (entropy-table integers) copied."""

    def __init__(self, model, decay: float):
        if not 0.0 < decay < 1.0:
            raise ValueError(f"--ema must be in (0, 1), got {decay}")
        self.decay, self.k = float(decay), 0
        self.shadow = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def update(self, model) -> None:
        import torch

        d = min(self.decay, (1 + self.k) / (10 + self.k))
        self.k += 1
        with torch.no_grad():
            for k, v in model.state_dict().items():
                s = self.shadow.get(k)
                if s is not None and v.is_floating_point() and s.shape == v.shape:
                    s.mul_(d).add_(v.detach(), alpha=1.0 - d)
                else:
                    self.shadow[k] = v.detach().clone()

    def copy_of(self, model):
        """A copy of ``model`` with the averaged weights."""
        m = copy.deepcopy(model)
        m.load_state_dict(self.shadow)
        return m

    def state_dict(self) -> dict:
        return {"shadow": self.shadow, "k": self.k, "decay": self.decay}

    def load_state_dict(self, st: dict) -> None:
        self.shadow, self.k = st["shadow"], int(st["k"])


def wrap_ddp(step, device, world: int, find_unused: bool = True):
    """``step`` itself in a single process, else its DistributedDataParallel replica.

    One wrapper serves all CDM-JSCC stages: each stage's loss reaches a subset of the parameters (stage 2
    only f_e / f_d, stage 1 not them, none the entropy quantiles), so ``find_unused`` (DDP's
    ``find_unused_parameters``) lets DDP mark the others ready each step; DeepJSCC needs no such search.
    No buffer sync in forward: the buffers are constants (checkerboard orders, entropy targets, CDF tables,
    which validation builds on a copy); DDP still copies rank 0's parameters and buffers at the start."""
    if world <= 1:
        return step
    import inspect
    import warnings

    from torch.nn.parallel import DistributedDataParallel

    # a depthwise conv's (C, 1, k, k) weight has equivalent but different strides from its gradient:
    # DDP copies that gradient instead of viewing it, and says so once per process
    warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    no_sync = (
        {"forward_sync_buffers": False}  # newer torch; broadcast_buffers is deprecated there
        if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
        else {"broadcast_buffers": False}
    )
    return DistributedDataParallel(
        step,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused,
        **no_sync,
    )


def save_state(path: str, state: dict) -> None:
    """torch.save through a temporary file, so a run killed while saving keeps the previous state."""
    import torch

    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def open_log(path: str, columns: list, resume: bool):
    """(file, csv writer) of a log, appended to when resuming an existing one, else new with a header."""
    new = not (resume and os.path.isfile(path))
    f = open(path, "w" if new else "a", newline="")  # noqa: SIM115 (open for the whole run)
    writer = csv.writer(f)
    if new:
        writer.writerow(columns)
    return f, writer


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--images", default=os.path.join(ROOT, "data", "images"), help="prepare_images.py folder")
    p.add_argument(
        "--train-dir", help="any folder of .jpg/.png training images, recursive (instead of --images)"
    )
    p.add_argument(
        "--val-dir", help="any folder of .jpg/.png validation images, recursive (with --train-dir)"
    )
    p.add_argument("--train-count", type=int, default=0, help="random subset of --train-dir (0 = all)")
    p.add_argument("--val-count", type=int, default=0, help="validate on the first N val images (0 = all)")
    p.add_argument("--out", required=True)
    p.add_argument("--model", choices=("cdm-jscc", "deepjscc"), default="cdm-jscc")
    p.add_argument("--tiny", action="store_true", help="tiny config (tests)")
    p.add_argument(
        "--config", choices=("small", "paper"), default="small",
        help="CDM-JSCC size: small (ours, 5.1 M parameters, the shipped models) or paper (62.6 M: width-256 "
        "MLLA x 3 with rotary embeddings, U-Net with attention and concatenated conditions; for GPUs)",
    )  # fmt: skip
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
    p.add_argument(
        "--batch", type=int, default=4, help="crops per step and process (torchrun: x WORLD_SIZE per step)"
    )
    p.add_argument(
        "--no-jscc-prior",
        action="store_true",
        help="f_d without the hyperprior means (the authors' receiver): the side information is the "
        "lengths only; with --init, the init's prior input is dropped",
    )
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
    p.add_argument(
        "--schedule-steps", type=int, default=0,
        help="diffusion training steps N of a new CDM-JSCC (the authors: 8193, cosine); 0 = the config's 1000",
    )
    p.add_argument(
        "--ema", type=float, default=0.0,
        help="EMA decay of the weights (the authors: 0.999); validation and the checkpoint use the EMA (0 = off)",
    )
    p.add_argument(
        "--min-snr-gamma", type=float, default=0.0,
        help="weight the X-prediction MSE by min(SNR_n, gamma) (the authors: 5; 0 = off)",
    )
    p.add_argument(
        "--stage2-loss", choices=("latent", "image"), default="latent",
        help="stage 2: our latent MSE, or the authors' image loss through the frozen diffusion decoder",
    )
    p.add_argument(
        "--colour-aug", type=float, default=0.0, help="share of training crops with permuted RGB channels"
    )
    p.add_argument("--sample-steps", type=int, default=1, help="g_d test steps for the val figures")
    p.add_argument("--val-size", default="384x256", help="WxH the val images are fitted to")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (torchrun: cuda:LOCAL_RANK)")
    p.add_argument(
        "--amp", choices=("off", "bf16"), default="off", help="bf16 autocast of the forward passes"
    )
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--save-every", type=int, default=50)
    p.add_argument(
        "--val-every",
        type=int,
        default=0,
        help="validate every N steps into <out>.val.csv (0 = only at the end)",
    )
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        cbr = float(Fraction(args.cbr))
        vw, vh = (int(v) for v in args.val_size.lower().split("x"))
        stage_steps = [int(s) for s in args.stage_steps.split(",")]
        if len(stage_steps) != 3:
            raise ValueError("--stage-steps needs three numbers")
        train, val = load_data(args)
        rank, world, device = setup_device(args.device)
    except ValueError as exc:
        print(f"train_cdm_jscc: {exc}", file=sys.stderr)
        return 2
    import torch
    from gensem.core.cdm_jscc import checkpoint
    from gensem.core.cdm_jscc.deepjscc import TINY_DEEPJSCC, DeepJSCC
    from gensem.core.cdm_jscc.losses import PerceptualLoss
    from gensem.core.cdm_jscc.model import CONFIGS, CDMJSCC, TINY_CONFIG

    main_rank = rank == 0
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed + rank)  # each process its own crops (rank 0 = single process)
    if args.model == "deepjscc":
        model = DeepJSCC(dict(TINY_DEEPJSCC, cbr=cbr) if args.tiny else {"cbr": cbr})
        plan = [("deepjscc", args.steps)]
    else:
        config = dict(TINY_CONFIG if args.tiny else CONFIGS[args.config])
        if args.schedule_steps:
            if args.schedule_steps < 2 or args.init:
                print("train_cdm_jscc: --schedule-steps needs >= 2 and a new model (not --init)", file=sys.stderr)
                return 2
            config["schedule"] = dict(config["schedule"], num_train_timesteps=args.schedule_steps)
        if args.no_jscc_prior:
            config["jscc_prior"] = False
        model = CDMJSCC(config)
        plan = [(s, n) for i, (s, n) in enumerate(zip(STAGES, stage_steps)) if i + 1 >= args.start_stage]
    if args.init:
        model, ckpt = checkpoint.load(args.init)  # its config and weights (entropy tables included)
        if ckpt["kind"] != args.model:
            print(
                f"train_cdm_jscc: --init {args.init} is a {ckpt['kind']} checkpoint, not {args.model}",
                file=sys.stderr,
            )
            return 2
        if args.no_jscc_prior and getattr(model, "uses_prior", False):
            model.drop_jscc_prior()  # the authors' receiver: every weight but f_d's prior input
    model.to(device).train()
    perceptual = PerceptualLoss().to(device)
    state_path, csv_path, val_path = args.out + ".state.pt", args.out + ".csv", args.out + ".val.csv"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)  # --out in a new folder
    done = {"stage_index": 0, "step": 0, "elapsed": 0.0}
    state = None
    try:
        ema = WeightEMA(model, args.ema) if args.ema else None
    except ValueError as exc:
        print(f"train_cdm_jscc: {exc}", file=sys.stderr)
        return 2
    if args.resume and os.path.isfile(state_path):  # every process reads it (one node or a shared disk)
        state = torch.load(state_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        done = state["done"]
        if ema is not None and state.get("ema"):
            ema.load_state_dict(state["ema"])
        if main_rank:
            print(f"resumed at stage {done['stage_index'] + 1} step {done['step']}", file=sys.stderr)
    log = writer = val_log = val_writer = None
    if main_rank:
        log, writer = open_log(
            csv_path,
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
            ],
            args.resume,
        )
        if args.val_every > 0:
            val_log, val_writer = open_log(val_path, VAL_COLUMNS, args.resume)
    val_fitted = val_tensors(val, (vw, vh)) if main_rank else []
    data = batches(train, args.batch, args.crop, rng, args.colour_aug)
    if args.train_dir is not None:
        data = prefetch(data)
    t_start = time.time() - done["elapsed"]
    gen = torch.Generator().manual_seed(args.seed + rank)
    step_module = make_train_step(model, perceptual, args, cbr, gen, device.type)
    train_step = wrap_ddp(step_module, device, world, find_unused=args.model == "cdm-jscc")
    quantiles = [p for n, p in model.named_parameters() if n.endswith("quantiles")]
    for si in range(done["stage_index"], len(plan)):
        stage, n_steps = plan[si]
        params = stage_params(model, stage)
        opt = torch.optim.Adam(params, lr=args.lr)
        decay = torch.optim.lr_scheduler.LambdaLR(
            opt,
            lambda i, n=n_steps: (
                args.min_lr_ratio
                + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(i, n) / max(n, 1)))
            ),
        )
        aux = torch.optim.Adam(quantiles, lr=1e-3) if stage in ("compression", "joint") else None
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
            loss, parts = train_step(x, stage)  # rank 0 logs its own share of the batch
            # zeroed, not freed: an image-loss stage 2 also reaches g_d's (frozen) weights, and DDP
            # refuses to all-reduce a gradient that became undefined
            model.zero_grad(set_to_none=False)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            decay.step()
            if ema is not None:
                ema.update(model)
            if aux is not None:
                aux.zero_grad()
                model.transform.entropy_bottleneck.loss().backward()
                average_grads(quantiles, world)
                aux.step()
            elapsed = time.time() - t_start
            if main_rank:
                writer.writerow(
                    [stage, step + 1, f"{loss.item():.6f}"]
                    + [
                        parts.get(k, "")
                        for k in ("mse_hat", "mse_bar", "dp_hat", "dp_bar", "bpp", "latent_mse", "cbr")
                    ]
                    + [f"{elapsed:.1f}"]
                )
            if main_rank and ((step + 1) % 10 == 0 or step + 1 == n_steps):
                log.flush()
                print(
                    f"[{stage} {step + 1}/{n_steps}] loss {loss.item():.5f} {elapsed:.0f}s", file=sys.stderr
                )
            if main_rank and args.val_every > 0 and (step + 1) % args.val_every == 0:
                # on a copy: evaluate() builds entropy tables and switches to eval mode
                snap = ema.copy_of(model) if ema is not None else copy.deepcopy(model)
                fig = evaluate(snap, val_fitted, args.snr_db, cbr, args.sample_steps, device)
                val_writer.writerow(
                    [stage, step + 1] + [f"{fig[k]:.6f}" for k in VAL_COLUMNS[2:5]] + [f"{elapsed:.1f}"]
                )
                val_log.flush()
                print(
                    f"[{stage} {step + 1}/{n_steps}] val {fig['val_psnr']:.2f} dB, "
                    f"MS-SSIM {fig['val_ms_ssim']:.4f}",
                    file=sys.stderr,
                )
            if (step + 1) % args.save_every == 0 or step + 1 == n_steps:
                nxt = {"stage_index": si, "step": step + 1, "elapsed": elapsed}
                if step + 1 == n_steps:
                    nxt = {"stage_index": si + 1, "step": 0, "elapsed": elapsed}
                if main_rank:
                    log.flush()
                    save_state(
                        state_path,
                        {
                            "model": model.state_dict(),
                            "opt": opt.state_dict(),
                            "aux": aux.state_dict() if aux else None,
                            "ema": ema.state_dict() if ema is not None else None,
                            "done": nxt,
                        },
                    )
                barrier(world)  # no process runs ahead of a state that is not on disk yet
        state = None
    elapsed = time.time() - t_start
    if not main_rank:
        torch.distributed.destroy_process_group()
        return 0
    log.close()
    if ema is not None:  # the checkpoint and its figures are the averaged weights
        model.load_state_dict(ema.shadow)
    figures = evaluate(model, val_fitted, args.snr_db, cbr, args.sample_steps, device)
    if val_writer is not None:
        val_writer.writerow(
            ["final", sum(n for _, n in plan)]
            + [f"{figures[k]:.6f}" for k in VAL_COLUMNS[2:5]]
            + [f"{elapsed:.1f}"]
        )
        val_log.close()
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
        "images": _sources(args.images),
    }
    if args.train_dir is not None:
        recipe["images"] = f"--train-dir {args.train_dir} (recursive), --val-dir {args.val_dir}"
    recipe.update(extra_recipe(args, world))
    checkpoint.save(args.out, model.cpu(), recipe=recipe, figures=figures)
    with open(args.out + ".json", "w") as f:
        json.dump({"recipe": recipe, "figures": figures}, f, indent=2)
    print(json.dumps({"out": args.out, **figures, "train_seconds": round(elapsed, 1)}))
    if world > 1:
        torch.distributed.destroy_process_group()
    return 0


def extra_recipe(args, world: int) -> dict:
    """Recipe keys of the options a default run does not use (its recipe keeps its old keys)."""
    extra = {}
    if world > 1:
        extra.update(world_size=world, batch_per_step=args.batch * world)
    if args.amp != "off":
        extra["amp"] = args.amp
    if args.train_count:
        extra["train_count"] = args.train_count
    if args.val_count:
        extra["val_count"] = args.val_count
    if args.val_every:
        extra["val_every"] = args.val_every
    if args.ema:
        extra["ema"] = args.ema
    if args.min_snr_gamma:
        extra["min_snr_gamma"] = args.min_snr_gamma
    if args.stage2_loss != "latent":
        extra["stage2_loss"] = "image loss through the frozen diffusion decoder"
    if args.config != "small" and not args.tiny:
        extra["config"] = args.config
    if args.schedule_steps:
        extra["schedule_steps"] = args.schedule_steps
    if args.colour_aug:
        extra["colour_aug"] = f"RGB channels permuted in {args.colour_aug:.0%} of the crops"
    return extra


if __name__ == "__main__":
    sys.exit(main())
