import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def gensem(*args):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "gr-gensem", "python"))
    return subprocess.run(
        [sys.executable, "-m", "gensem.cli", *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_link_json_adaptive():
    r = gensem("link", "--stream", "adaptive", "--mod", "16", "--snr-db", "20", "--frames", "30", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for k in ("bits", "bit_errors", "ber", "frames_sent", "frames_received"):
        assert k in out


def test_link_json_both_and_summary():
    r = gensem(
        "link",
        "--stream",
        "both",
        "--text",
        "a cat",
        "--mod",
        "16",
        "--prompt-power",
        "0.1",
        "--snr-db",
        "15",
        "--frames",
        "10",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= {"prompt", "adaptive"}
    assert {"delivered", "text", "transmissions", "crc_failures"} <= set(out["prompt"])
    r = gensem("link", "--stream", "prompt", "--text", "a cat", "--snr-db", "10")
    assert r.returncode == 0 and "delivered" in r.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["link", "--stream", "prompt", "--text", ""],
        ["link", "--mod", "32"],
        ["link", "--snr-db", "120"],
        ["link", "--stream", "prompt", "--text", "x" * 600],
        ["link", "--no-such-flag"],
        ["sweep", "--snr-db", "5:-1:0"],
        ["link", "--ack-loss", "1.5"],
        ["link", "--frames", "0"],
        ["link", "--stream", "both", "--text", "a cat", "--prompt-power", "1.5"],
        ["link", "--multipath", "40"],
        ["link", "--aggregate", "0"],
        ["link", "--aggregate", "40", "--payload-bytes", "256"],  # 40 x 264 bytes > a frame's 8191
    ],
)
def test_bad_input_one_line_exit_2(args):
    r = gensem(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr


def test_sweep_writes_png_and_json(tmp_path):
    r = gensem(
        "sweep", "--mod", "4", "--snr-db", "4:4:12", "--frames", "20", "--out", str(tmp_path), "--json"
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert os.path.getsize(out["png"]) > 1000 and len(out["points"]) == 3
    bers = [p["ber"] for p in out["points"]]
    assert bers[0] > bers[1] >= bers[2]


def test_link_rx_process_flag():
    r = gensem(
        "link",
        "--stream",
        "both",
        "--text",
        "a cat",
        "--snr-db",
        "20",
        "--frames",
        "12",
        "--rx-process",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["prompt"]["delivered"] and out["adaptive"]["frames_received"] == 12
    assert out["adaptive"]["bit_errors"] == 0
