"""scripts/train_edge_diffusion.py with a tiny model: conditioning on codec-decoded edge maps,
X-prediction with trailing DDIM steps, the recipe and val figures it writes, bad arguments."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")
pytest.importorskip("diffusers")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train_edge_diffusion.py")
TINY_CFG = (
    '{"height":16,"width":24,"block_out_channels":[8,16],"n_buckets":64,"text_dim":8,"norm_num_groups":4}'
)
TINY = ["--config", TINY_CFG, "--crop", "16x24", "--batch", "2", "--threads", "1", "--eval-steps", "2"]


def _train(*args):
    return subprocess.run([sys.executable, SCRIPT, *TINY, *args], capture_output=True, text=True, timeout=300)


def test_decoded_edges_x_prediction(images, tmp_path):
    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    out = str(tmp_path / "ed.pt")
    r = _train(
        "--images", images, "--steps", "3", "--prediction", "sample", "--edges", "decoded",
        "--edge-bers", "0,1e-3", "--spacing", "trailing", "--out", out,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.load(open(out + ".json"))
    assert rep["scheduler"]["prediction_type"] == "sample"
    assert rep["scheduler"]["timestep_spacing"] == "trailing"
    assert "edge codec" in rep["recipe"]["edges"] and rep["recipe"]["steps"] == 3
    mean = rep["val"]["mean"]
    for k in ("psnr_db_768x512", "ms_ssim_768x512", "baseline_train_colour_psnr_db_768x512"):
        assert np.isfinite(mean[k]), k
    pipe = EdgeDiffusionPipeline.from_checkpoint(out, device="cpu")
    assert pipe.scheduler.config.prediction_type == "sample"
    for steps in (1, 3):  # trailing spacing: even one step starts from pure noise (t = 999)
        img = pipe("a photo", np.zeros((512, 768), np.float32), steps=steps, seed=0)
        assert img.shape == (512, 768, 3) and img.dtype == np.uint8
    pipe.scheduler.set_timesteps(1)
    assert int(pipe.scheduler.timesteps[0]) == 999
    # --evaluate: no training, one JSON line per step count
    r = _train("--images", images, "--evaluate", out, "--edges", "decoded", "--eval-steps", "1,2")
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(s) for s in r.stdout.strip().splitlines()]
    assert [x["steps"] for x in rows] == [1, 2] and all(np.isfinite(x["psnr_db_768x512"]) for x in rows)


def test_bad_edge_bers_is_one_line_exit_2(images, tmp_path):
    r = _train("--images", images, "--steps", "1", "--edge-bers", "0,abc", "--out", str(tmp_path / "x.pt"))
    assert r.returncode == 2 and "--edge-bers" in r.stderr and "Traceback" not in r.stderr
    r = _train("--images", images, "--evaluate", str(tmp_path / "missing.pt"))
    assert r.returncode == 2 and "checkpoint not found" in r.stderr and "Traceback" not in r.stderr


def test_colour_input_model_on_received_maps(images, tmp_path):
    """--config colour_input + --edges received: the recipe says so, the val figures have the
    colour-layout baseline and the no-colour variant, and the checkpoint takes a layout."""
    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    out = str(tmp_path / "edc.pt")
    cfg = json.dumps(dict(json.loads(TINY_CFG), colour_input=True))
    r = _train(
        "--images", images, "--steps", "2", "--prediction", "sample", "--spacing", "trailing",
        "--edges", "received", "--edge-bers", "0", "--config", cfg, "--out", out,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.load(open(out + ".json"))
    assert "fitted to" in rep["recipe"]["edges"] and "residual" in rep["recipe"]["colour_layout"]
    mean = rep["val"]["mean"]
    for k in ("psnr_db_768x512", "no_colour_psnr_db_768x512", "baseline_colour_layout_psnr_db_768x512"):
        assert np.isfinite(mean[k]), k
    assert rep["val"]["colour_input"] is True
    assert EdgeDiffusionPipeline.from_checkpoint(out, device="cpu").colour_input


def test_init_colour_words_and_edge_methods(images, tmp_path):
    """--init fine-tunes a checkpoint (its config; the vocabulary grows by the colour terms with
    --colour-words); --edge-method names the extractors in the recipe; a bad one is one line."""
    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    first = str(tmp_path / "a.pt")
    r = _train("--images", images, "--steps", "1", "--prediction", "sample", "--out", first)
    assert r.returncode == 0, r.stderr[-2000:]
    out = str(tmp_path / "b.pt")
    r = _train("--images", images, "--steps", "1", "--prediction", "sample", "--init", first, "--edges", "received",
               "--edge-bers", "0", "--edge-method", "canny", "--colour-words", "1", "--out", out)  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    rec = json.load(open(out + ".json"))["recipe"]
    assert rec["init"] == first and rec["colour_words"] == 1.0 and "canny map fitted" in rec["edges"]
    text = EdgeDiffusionPipeline.from_checkpoint(out, device="cpu").model.text
    from gensem.semantic.colour_words import TERMS

    assert all(text.buckets(t) != [0] for t in TERMS)  # the colour terms are in the vocabulary
    r = _train("--images", images, "--steps", "1", "--edge-method", "sobel", "--out", str(tmp_path / "c.pt"))
    assert r.returncode == 2 and "sobel" in r.stderr and "Traceback" not in r.stderr
