"""``gensem plan``: the exact commands of the planner issue, and its user errors."""

import json
import os

import pytest
from test_cli import gensem


def test_plan_table_json():
    r = gensem(
        "plan", "--table", "--v0-bits", "1000", "--v1-bits", "7880", "--ber", "1e-6", "1e-5", "1e-4", "--json"
    )
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)["table"]
    assert len(rows) == 12
    for row in rows:
        for k in ("target_ber", "modulation", "snr_db_min", "snr_db_max", "stream_snr_db", "latency_ms"):
            assert k in row
    assert {row["modulation"] for row in rows} == {0, 4, 16, 64}


def test_plan_snr_json():
    r = gensem(
        "plan",
        "--snr-db",
        "8",
        "--v0-bits",
        "1000",
        "--v1-bits",
        "7880",
        "--targets",
        "0.997,0.982",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    keys = ("feasible", "target_ber", "p0_w", "p1_w", "T0_ms", "T1_ms", "latency_ms", "bits_per_symbol")
    for k in keys + ("retransmissions", "modulation", "baseline_latency_ms"):
        assert k in out
    assert out["feasible"] is True
    assert out["target_ber"] == pytest.approx(1e-5)
    assert out["p0_w"] + out["p1_w"] == pytest.approx(0.01)
    assert out["T0_ms"] == pytest.approx(out["T1_ms"], rel=1e-9)
    assert out["modulation"] in (0, 4, 16, 64)


def test_plan_summary_and_figure4(tmp_path):
    r = gensem("plan", "--snr-db", "20", "--ber", "1e-5")
    assert r.returncode == 0 and "M1 = 16" in r.stdout, r.stdout + r.stderr
    r = gensem("plan", "--figure4", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    files = json.loads(r.stdout)["files"]
    assert len(files) == 5 and all((tmp_path / f.split("/")[-1]).stat().st_size > 1000 for f in files)
    header = (tmp_path / "figure4.csv").read_text().splitlines()[0]
    assert header.startswith("target_ber,snr_db,prompt_power_pct,latency_ms")


@pytest.mark.parametrize(
    "args, words",
    [
        (["--snr-db", "8", "--targets", "0.9995,0.99"], "not reachable"),
        (["--snr-db", "8", "--targets", "1.5,0.9"], "(0, 1]"),
        (["--snr-db", "-28", "--targets", "0.997,0.982"], "infeasible"),
        (["--snr-db", "8", "--ber", "1e-5", "--pt-mw", "-1"], "--pt-mw"),
        (["--snr-db", "8", "--ber", "1e-5", "--v0-bits", "-3"], "--v0-bits"),
        (["--snr-db", "8", "--ber", "0.5"], "BER"),
        (["--snr-db", "8"], "--targets"),
        (["--table", "--bogus"], "unrecognized"),
        (["--snr-db", "8", "--targets", "0.997,0.982", "--calibration", "/nonexistent.csv"], "cannot read"),
    ],
)
def test_plan_user_errors(args, words):
    r = gensem("plan", *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_link_adaptive_plan_cli():
    r = gensem("link", "--adaptive-plan", "--snr-profile", "26:16,8:16", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    steps = out["plan"]["steps"]
    assert [s["snr_db"] for s in steps] == [26.0, 8.0]
    assert steps[0]["modulation"] == steps[0]["planned_modulation"] == 64
    assert steps[1]["modulation"] == steps[1]["planned_modulation"] == 0
    row = out["plan"]["frames"][0]
    for k in ("snr_est_db", "mod", "prompt_power", "ber", "prompt_delivered"):
        assert k in row
    assert out["prompt"]["deliveries"] >= 2
    r = gensem("link", "--adaptive-plan", "--snr-profile", "26:8")
    assert r.returncode == 0 and "closed loop" in r.stdout and "M1 (planned)" in r.stdout, r.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["--snr-profile", "26:x"], "--snr-profile"),
        (["--snr-profile", "26:0"], "at least 1 frame"),
        (["--snr-profile", "99:5"], "out of range"),
        (["--stream", "adaptive"], "--stream both"),
        (["--targets", "0.9999,0.9"], "not reachable"),
        (["--target-ber", "0.7"], "--target-ber"),
    ],
)
def test_link_adaptive_plan_user_errors(args, words):
    base = ["link", "--adaptive-plan"] + ([] if "--snr-profile" in args else ["--snr-profile", "20:4"])
    r = gensem(*base, *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], r.stderr


def test_fit_per_and_the_measured_per_model(tmp_path):
    r = gensem("plan", "--fit-per", "--packets", "100", "--out", str(tmp_path), "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out["fits"]) == {"awgn", "rayleigh"} and os.path.isfile(tmp_path / "per_fit.png")
    paper = json.loads(gensem("plan", "--snr-db", "8", "--ber", "1e-5", "--json").stdout)
    args = ("plan", "--snr-db", "8", "--ber", "1e-5", "--json")
    ours = json.loads(gensem(*args, "--per-model", "measured").stdout)
    assert ours["p0_w"] != paper["p0_w"]  # the prompt's power follows the fitted PER
    bad = gensem("plan", "--snr-db", "8", "--ber", "1e-5", "--per-model", "mystery")
    assert bad.returncode == 2 and "per-model" in bad.stderr and "Traceback" not in bad.stderr
