"""scripts/eval_edge_budget.py on a tiny image folder with the shipped codec."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "eval_edge_budget.py")


def _run(*args):
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, timeout=300)


def test_rows_within_budget(images):
    r = _run("--images", images, "--max-bpp", "0.02")
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [json.loads(s) for s in r.stdout.strip().splitlines()]
    rows, summary = lines[:-1], lines[-1]
    assert [x["name"] for x in rows] == ["im2"] and summary["images"] == 1
    # a random-noise photo gives a dense Canny map: the detail is lowered until it fits
    assert rows[0]["within_budget"] and rows[0]["bpp"] <= 0.02
    assert rows[0]["edge_px_sent"] <= rows[0]["edge_px_full"]


def test_missing_folder_is_one_line_exit_2(tmp_path):
    r = _run("--images", str(tmp_path / "none"))
    errors = [s for s in r.stderr.splitlines() if s.startswith("eval_edge_budget:")]
    assert (
        r.returncode == 2
        and "Traceback" not in r.stderr
        and len(errors) == 1
        and "prepare_images" in errors[0]
    )
