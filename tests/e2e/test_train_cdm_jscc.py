"""scripts/train_cdm_jscc.py with tiny models: the three stages, resume, --init, DeepJSCC, bad data."""

import csv
import json
import os
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


def _train(*args):
    return subprocess.run([sys.executable, SCRIPT, *TINY, *args], capture_output=True, text=True, timeout=300)


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
