"""scripts/bench_rx.py end to end (tiny sizes): every stream decoded on both receiver paths,
nothing decoded from idle input, the figures the docs quote present and positive."""

import json
import os
import subprocess
import sys

import pytest
from gensem.dsp import rx_kernels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _bench(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "gr-gensem", "python"))
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "bench_rx.py"), *args],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip


def test_bench_rx_json():
    res = _bench("--seconds", "0.05", "--frames", "20", "--repeats", "1", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["compiled"] is rx_kernels.AVAILABLE
    assert out["frames_decoded"] == out["frames_decoded_numpy"] == out["wide_frames_decoded"] == 20
    assert out["aggregated_frames_decoded"] == out["aggregated_frames_sent"] == 1
    assert set(out["idle_frames"].values()) == {0}
    assert out["samples_per_frame"] == pytest.approx(2448 + 0.0)  # 256-byte 16-QAM on B1 + 64-sample gap
    for key in ("frames_msps", "frames_msps_numpy", "wide_frames_msps", "aggregated_frames_msps", "min_idle_msps"):
        assert out[key] > 0, key


def test_bench_rx_bad_arguments_exit_2():
    res = _bench("--frames", "0")
    assert res.returncode == 2 and "need" in res.stderr and len(res.stderr.strip().splitlines()) == 1
