"""scripts/train_edge_codec.py with a tiny codec: trains, writes checkpoint + recipe + val
figures from real bitstreams, fine-tunes from it (--init, --z-weight), fails cleanly on bad data."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "train_edge_codec.py")
TINY = ["--N", "8", "--M", "8", "--crop", "64", "--batch", "2", "--threads", "1"]


def _train(*args):
    return subprocess.run([sys.executable, SCRIPT, *TINY, *args], capture_output=True, text=True, timeout=300)


def test_train_then_fine_tune(images, tmp_path):
    from gensem.core.edge_codec import EdgeCodec

    first = str(tmp_path / "c.pt")
    r = _train("--images", images, "--steps", "2", "--out", first)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.load(open(str(tmp_path / "c.json")))
    assert rep["recipe"]["val_images"] == ["im2"] and rep["val"]["mean"]["bpp"] > 0
    second = str(tmp_path / "c2.pt")
    r = _train("--images", images, "--steps", "2", "--init", first, "--z-weight", "4", "--out", second)
    assert r.returncode == 0, r.stderr[-2000:]
    rep = json.load(open(str(tmp_path / "c2.json")))
    assert rep["recipe"]["init"] == first and rep["recipe"]["z_weight"] == 4.0
    codec = EdgeCodec.from_checkpoint(second)
    edges = np.zeros((512, 768), np.uint8)
    edges[200, 100:600] = 255
    dec, info = codec.decompress(codec.compress(edges))
    assert info["ok"] and dec.shape == (512, 768)


def test_missing_manifest_is_one_line_exit_2(tmp_path):
    r = _train("--images", str(tmp_path), "--steps", "1", "--out", str(tmp_path / "x.pt"))
    assert r.returncode == 2 and "prepare_images.py" in r.stderr and "Traceback" not in r.stderr


def test_bad_edge_method_is_one_line_exit_2(images, tmp_path):
    r = _train("--images", images, "--steps", "1", "--edge-method", "canny,sobel", "--out", str(tmp_path / "c.pt"))
    assert r.returncode == 2 and "sobel" in r.stderr and "Traceback" not in r.stderr
