"""scripts/train_cdm_jscc.py with tiny models: the three stages, resume, --init, DeepJSCC, bad data,
2-process DDP on CPU (gloo) with resume, bf16 autocast on a plain image folder."""

import csv
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("diffusers")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train_cdm_jscc.py")
TINY = ["--tiny", "--crop", "32", "--cbr", "1/12", "--val-size", "64x32", "--threads", "1", "--batch", "2"]
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def _train(*args):
    return subprocess.run(
        [sys.executable, SCRIPT, *TINY, *args], capture_output=True, text=True, timeout=300, env=ENV
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args):
    """The script under ``torchrun --nproc_per_node 2`` on CPU (gloo)."""
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    launch += ["--master_addr", "127.0.0.1", "--master_port", str(_free_port())]
    return subprocess.run(
        [*launch, SCRIPT, *TINY, "--device", "cpu", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
    )


def _rows(path):
    with open(path) as f:
        return [(row["stage"], int(row["step"])) for row in csv.DictReader(f)]


def test_stages_resume_init_and_deepjscc(images, tmp_path):
    out = str(tmp_path / "cdm.pt")
    r = _train("--images", images, "--stage-steps", "2,2,0", "--out", out, "--save-every", "1")
    assert r.returncode == 0, r.stderr[-2000:]
    with open(out + ".csv") as f:
        stages = [row["stage"] for row in csv.DictReader(f)]
    assert stages == ["compression"] * 2 + ["jscc"] * 2
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert np.isfinite(figures["val_psnr"]) and figures["val_cbr"] > 0
    # resume with a longer plan continues the log where it stopped
    r = _train("--images", images, "--stage-steps", "2,2,0", "--out", out, "--resume")
    assert r.returncode == 0 and "resumed" in r.stderr
    # fine-tune stage 3 from that checkpoint (how CDM-JSCC-P is made)
    r = _train(
        "--images",
        images,
        "--init",
        out,
        "--start-stage",
        "3",
        "--stage-steps",
        "0,0,2",
        "--eta",
        "0.5",
        "--out",
        str(tmp_path / "p.pt"),
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.load(open(tmp_path / "p.pt.json"))["recipe"]["eta"] == 0.5
    r = _train("--images", images, "--model", "deepjscc", "--steps", "2", "--out", str(tmp_path / "d.pt"))
    assert r.returncode == 0, r.stderr[-2000:]
    from gensem.core.cdm_jscc import checkpoint

    model, ckpt = checkpoint.load(str(tmp_path / "d.pt"))
    assert ckpt["kind"] == "deepjscc" and [list(p) for p in ckpt["recipe"]["plan"]] == [["deepjscc", 2]]


def test_bad_data_is_one_line(tmp_path):
    r = _train("--images", str(tmp_path), "--out", str(tmp_path / "x.pt"))
    assert r.returncode == 2 and "manifest.json" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    r = _train(
        "--train-dir", str(tmp_path / "empty"), "--val-dir", str(tmp_path), "--out", str(tmp_path / "x.pt")
    )
    assert r.returncode == 2 and "has no .jpg/.png images" in r.stderr and "Traceback" not in r.stderr


def test_ddp_two_processes_and_resume(images, tmp_path):
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = str(tmp_path / "ddp.pt")
    r = _torchrun("--images", images, "--stage-steps", "2,1,0", "--out", out, "--save-every", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert _rows(out + ".csv") == [("compression", 1), ("compression", 2), ("jscc", 1)]  # rank 0 only
    assert torch.load(out + ".state.pt", weights_only=False)["done"]["stage_index"] == 2
    recipe = json.load(open(out + ".json"))["recipe"]
    assert recipe["world_size"] == 2 and recipe["batch_per_step"] == 4
    # resume with a longer plan: stage 3 runs on top of the saved stages, validated every step
    r = _torchrun("--images", images, "--stage-steps", "2,1,2", "--out", out, "--resume", "--val-every", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr.count("resumed at stage 3 step 0") == 1
    assert _rows(out + ".csv")[3:] == [("joint", 1), ("joint", 2)]
    done = torch.load(out + ".state.pt", weights_only=False)["done"]
    assert (done["stage_index"], done["step"]) == (3, 0)
    assert _rows(out + ".val.csv") == [("joint", 1), ("joint", 2), ("final", 5)]
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    assert np.isfinite(figures["val_psnr"])


def test_bf16_autocast_on_an_image_folder(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(1)
    for i, sub in enumerate(["train/n01", "train/n02", "val"]):
        (tmp_path / sub).mkdir(parents=True)
        img = Image.fromarray(rng.integers(0, 255, (28 + 8 * i, 48, 3), dtype=np.uint8))
        img.save(tmp_path / sub / ("a.JPEG" if i else "a.png"))  # 28 px: upscaled to the crop
    out = str(tmp_path / "amp.pt")
    args = ["--train-dir", str(tmp_path / "train"), "--val-dir", str(tmp_path / "val"), "--amp", "bf16"]
    r = _train(*args, "--stage-steps", "1,1,1", "--out", out)
    assert r.returncode == 0, r.stderr[-2000:]
    assert [s for s, _ in _rows(out + ".csv")] == ["compression", "jscc", "joint"]
    recipe = json.load(open(out + ".json"))["recipe"]
    assert recipe["amp"] == "bf16" and recipe["train_images"] == 2 and recipe["val_images"] == 1
    assert np.isfinite(json.loads(r.stdout.strip().splitlines()[-1])["val_psnr"])


def test_authors_recipe_options(images, tmp_path):
    """--ema, --min-snr-gamma, --stage2-loss image, --colour-aug: the recipe records them, stage 2
    logs an image MSE (x_hat through the frozen g_d) where the latent loss logs none, resume keeps
    the EMA; a bad --ema is one line, exit 2."""
    out = str(tmp_path / "a.pt")
    opts = ["--ema", "0.99", "--min-snr-gamma", "5", "--stage2-loss", "image", "--colour-aug", "0.5"]
    r = _train("--images", images, "--stage-steps", "1,2,0", "--save-every", "1", "--out", out, *opts)
    assert r.returncode == 0, r.stderr[-2000:]
    with open(out + ".csv") as f:
        rows = list(csv.DictReader(f))
    jscc = [r for r in rows if r["stage"] == "jscc"]
    assert len(jscc) == 2 and all(r["mse_hat"] != "" and float(r["mse_hat"]) >= 0 for r in jscc)
    assert torch.load(out + ".state.pt", weights_only=False)["ema"]["k"] == 3  # one update per step
    r = _train("--images", images, "--stage-steps", "1,2,1", "--out", out, "--resume", *opts)
    assert r.returncode == 0 and "resumed" in r.stderr, r.stderr[-2000:]
    assert torch.load(out + ".state.pt", weights_only=False)["ema"]["k"] == 4
    rec = json.load(open(out + ".json"))["recipe"]
    assert rec["ema"] == 0.99 and rec["min_snr_gamma"] == 5 and "frozen" in rec["stage2_loss"]
    assert "permuted" in rec["colour_aug"]
    r = _train("--images", images, "--stage-steps", "1,0,0", "--schedule-steps", "257", "--out", str(tmp_path / "n.pt"))
    assert r.returncode == 0, r.stderr[-2000:]
    from gensem.core.cdm_jscc import checkpoint

    m, ck = checkpoint.load(str(tmp_path / "n.pt"))  # the schedule is part of the model's config
    assert m.scheduler.config.num_train_timesteps == 257 and ck["recipe"]["schedule_steps"] == 257
    for bad in (["--schedule-steps", "1"], ["--schedule-steps", "257", "--init", str(tmp_path / "n.pt")]):
        r = _train("--images", images, "--stage-steps", "1,0,0", *bad, "--out", str(tmp_path / "m.pt"))
        assert r.returncode == 2 and "--schedule-steps" in r.stderr and "Traceback" not in r.stderr
    r = _train("--images", images, "--stage-steps", "1,0,0", "--ema", "1.5", "--out", str(tmp_path / "b.pt"))
    assert r.returncode == 2 and "--ema" in r.stderr and "Traceback" not in r.stderr


def test_colour_augmentation_permutes_channels():
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_cdm_jscc", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    img = np.zeros((8, 8, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 10, 120, 240
    seen = set()
    gen = mod.batches([("a", img)], 1, 8, np.random.default_rng(0), colour_aug=1.0)
    for _ in range(40):
        c = tuple(int(round(v * 255)) for v in next(gen)[0, :, 0, 0].tolist())
        assert sorted(c) == [10, 120, 240]  # the same values, in some order
        seen.add(c)
    assert len(seen) >= 4  # several of the 6 orders
    plain = mod.batches([("a", img)], 1, 8, np.random.default_rng(0))
    assert all(tuple(int(round(v * 255)) for v in next(plain)[0, :, 0, 0].tolist()) == (10, 120, 240) for _ in range(10))


def test_no_jscc_prior_from_init_drops_the_hyper_latent_from_the_side_information(images, tmp_path):
    """--no-jscc-prior --init: the authors' receiver made from a model with the prior (its f_d
    prior input dropped, every other weight kept); the side information then holds no z."""
    from gensem.core.cdm_jscc import checkpoint, side_info

    base, out = str(tmp_path / "base.pt"), str(tmp_path / "noprior.pt")
    r = _train("--images", images, "--stage-steps", "1,1,0", "--out", base)
    assert r.returncode == 0, r.stderr[-2000:]
    r = _train("--images", images, "--init", base, "--start-stage", "2", "--stage-steps", "0,1,1",
               "--no-jscc-prior", "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    m0, _ = checkpoint.load(base)
    m1, ck = checkpoint.load(out)
    assert m0.uses_prior and not m1.uses_prior and ck["config"]["jscc_prior"] is False
    assert not any(k.startswith("jscc_decoder.prior_proj.") for k in ck["state_dict"])
    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    sizes = []
    for m in (m0, m1):
        enc = m.encode(x, target_cbr=1 / 12)
        c = m.config
        blob = side_info.pack(
            enc["z_strings"][0], enc["z_hw"], enc["image_hw"], enc["lengths"][0], c["unit"], c["max_len"]
        )
        sizes.append(len(blob))
        out_img = m.decode(enc["symbols"], enc["lengths"], [side_info.unpack(blob, m.transform.stride)["z_string"]],
                           enc["z_hw"], enc["image_hw"], 1)  # fmt: skip
        assert out_img.shape == x.shape
    assert enc["z_strings"] == [b""] and sizes[1] < sizes[0]
    # from scratch: the model is built without the prior input
    fresh = str(tmp_path / "fresh.pt")
    r = _train("--images", images, "--stage-steps", "1,1,0", "--no-jscc-prior", "--out", fresh)
    assert r.returncode == 0, r.stderr[-2000:]
    m2, ck2 = checkpoint.load(fresh)
    assert not m2.uses_prior and ck2["config"]["jscc_prior"] is False
    assert not any(k.startswith("jscc_decoder.prior_proj.") for k in ck2["state_dict"])
