"""scripts/eval_edge_corruption.py on a tiny image folder with the shipped codec."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "eval_edge_corruption.py")


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


def test_heavy_corruption_is_flagged_and_clean_streams_are_not(images):
    r = _run("--images", images, "--trials", "2", "--bers", "1e-1", "--json")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["images"] == 3 and out["clean_streams_flagged"] == 0
    one_bit, heavy = out["rows"]
    assert one_bit["corruption"] == "1 bit" and one_bit["corrupted_streams"] == 6
    # at BER 0.1 every stream derails (53 of 53 images flagged at 1e-2 in docs/semantic.md)
    assert heavy["corrupted_streams"] == 6 and heavy["flagged"] == 6
    assert heavy["mean_abs_err_flagged"] > 0.05


def test_bad_arguments_are_one_line_exit_2(tmp_path, images):
    for args, needle in (
        (["--images", str(tmp_path / "none")], "no images"),
        (["--images", images, "--bers", "x"], "bad --bers"),
    ):
        r = _run(*args)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr
