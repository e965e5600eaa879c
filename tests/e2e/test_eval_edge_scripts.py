"""scripts/eval_edge_budget.py and eval_edge_corruption.py on a tiny image folder with the shipped codec."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("compressai")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*args, script="eval_edge_budget.py"):
    path = os.path.join(ROOT, "scripts", script)
    return subprocess.run([sys.executable, path, *args], capture_output=True, text=True, timeout=300)


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


CORRUPTION = "eval_edge_corruption.py"


def test_heavy_corruption_is_flagged_and_clean_streams_are_not(images):
    r = _run("--images", images, "--trials", "2", "--bers", "1e-1", "--json", script=CORRUPTION)
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
        r = _run(*args, script=CORRUPTION)
        assert r.returncode == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_colour_layout_sizes_and_semantic_baselines(images):
    """eval_colour_layout.py (bits against quality per grid) and eval_semantic_baselines.py
    (the receiver against the flat-colour and colour-layout baselines) with a tiny receiver."""
    r = _run("--images", images, "--json", script="eval_colour_layout.py")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["images"] == 1 and out["rows"][0]["config"] == "flat mean colour"
    sizes = [row["bits"] for row in out["rows"][1:]]
    assert all(0 < b <= row["raw_bits"] + 40 for b, row in zip(sizes, out["rows"][1:]))
    r = _run("--images", images, "--tiny", "--steps", "1", "--json", script="eval_semantic_baselines.py")
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    variants = {"flat", "colour", "prompt+edges", "prompt+colour_words+edges", "prompt+edges+colour"}
    assert out["images"] == 1 and set(out["summary"]) == variants and out["edge_method"] == "canny"
    s = out["summary"]
    assert s["prompt+edges+colour"]["bits"] == s["prompt+edges"]["bits"] + s["colour"]["bits"]
    assert s["prompt+colour_words+edges"]["bits"] > s["prompt+edges"]["bits"]  # the colour words ride in the prompt
    # the layout fixes the generator's mean colour whatever the generator does
    assert s["prompt+edges+colour"]["mean_colour_error"] < 3
    assert all(0 <= v["edge_f1"] <= 1 for v in s.values()) and 0 < out["edge_f1_received"] <= 1
    assert s["flat"]["edge_f1"] == 0  # a flat image has no edges
