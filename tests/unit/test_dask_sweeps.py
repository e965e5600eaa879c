"""``gensem sweep`` and ``gensem calibrate`` on Dask (``--workers N`` / ``--scheduler ADDRESS``):
their points are independent and seeded per point, so two worker processes give exactly the
serial results. Every cluster started here is closed (no worker processes left behind)."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("distributed")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWEEP = ("sweep", "--snr-db", "4,10", "--frames", "5", "--payload-bytes", "32", "--json")


def gensem(*args):
    """Run ``gensem ARGS`` in a fresh interpreter (its Dask cluster ends with it)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(ROOT, "gr-gensem", "python"), ROOT]))
    cmd = [sys.executable, "-m", "gensem.cli", *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, env=env, timeout=120)


def test_sweep_on_two_workers_gives_the_serial_points(tmp_path):
    """Each SNR point runs the loopback flowgraph in a worker process, seeded by --seed."""
    pytest.importorskip("gnuradio")
    serial = gensem(*SWEEP, "--out", str(tmp_path / "serial"))
    parallel = gensem(*SWEEP, "--out", str(tmp_path / "dask"), "--workers", "2")
    assert serial.returncode == 0 and parallel.returncode == 0, serial.stderr + parallel.stderr
    a, b = json.loads(serial.stdout), json.loads(parallel.stdout)
    assert [p["snr_db"] for p in a["points"]] == [4.0, 10.0] and a["points"][0]["bits"] > 0
    assert b["points"] == a["points"]


@pytest.mark.parametrize(
    "args, words",
    [
        (["sweep", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not allowed with"),
        (["sweep", "--snr-db", "4", "--workers", "0"], "--workers must be >= 1"),
        (["calibrate", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "not allowed with"),
    ],
)
def test_dask_flag_errors_are_one_line(args, words):
    r = gensem(*args)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and words in lines[0], r.stderr


def test_calibration_on_two_workers_gives_the_serial_rows(tmp_path):
    """Tiny random models: the (image, seed) generations run on the workers and replay here;
    rows and the prompt-only reference equal the serial run's."""
    pytest.importorskip("torch")
    pytest.importorskip("compressai")
    pytest.importorskip("diffusers")
    import numpy as np
    from gensem.cli.calibrate import dask_generator
    from gensem.cli.demo import resolve_image
    from gensem.core.edge_codec import EdgeCodec
    from gensem.dsp.prompt_per import dask_client
    from gensem.semantic.calibrate import run_calibration
    from gensem.semantic.edge_budget import DEFAULT_MAX_BPP

    from receiver_ai.pipelines import load_backend

    codec_path = str(tmp_path / "codec.pt")
    EdgeCodec.from_config(N=8, M=8, seed=0).save(codec_path)
    codec = EdgeCodec.from_checkpoint(codec_path)
    options = {"name": "edge-diffusion", "tiny": True, "steps": 2}
    image, bers, seeds = resolve_image("skimage:cat", str(tmp_path)), (1e-4, 1e-1), (0, 1)
    kw = {"bers": bers, "seeds": seeds, "max_edge_bpp": DEFAULT_MAX_BPP, "edge_policy": "drop-corrupt"}
    gen, _ = load_backend(**options)
    serial = run_calibration([image], ["a cat"], gen, codec, str(tmp_path / "serial"), **kw)
    client = dask_client(workers=2)
    try:
        points = [("skimage:cat", "a cat", s) for s in seeds]
        replay, desc = dask_generator(
            client, options, codec_path, points, bers, DEFAULT_MAX_BPP, "drop-corrupt"
        )
        parallel = run_calibration([image], ["a cat"], replay, codec, str(tmp_path / "dask"), **kw)
    finally:
        client.close()
    assert "tiny" in desc and len(serial["rows"]) == 2
    assert parallel["rows"] == serial["rows"] and parallel["prompt_only"] == serial["prompt_only"]
    with pytest.raises(ValueError, match="Dask worker"):  # every recorded generation was used
        replay("a cat", np.zeros((4, 4), np.float32), seed=0)
