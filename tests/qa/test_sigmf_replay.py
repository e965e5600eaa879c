"""SigMF record/replay: the shipped recording decodes bit-exactly; a fresh recording
replays to the same streams as the live run; bad files give one line and exit 2."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RECORDING = ROOT / "tests" / "data" / "loopback_16qam_25db"
PROMPT = "a photo of a dog running on the beach at sunset"


def _gensem(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT / "gr-gensem" / "python"), env.get("PYTHONPATH")])
    )
    return subprocess.run(
        [sys.executable, "-m", "gensem.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_shipped_recording_metadata():
    from gensem.core import sigmf_io
    g, cap, data = sigmf_io.read_recording(RECORDING)
    assert g["core:datatype"] == "cf32_le"
    assert g["core:sample_rate"] == 1e6
    assert cap["core:frequency"] == 0.0
    assert g["gensem:snr_db"] == 25.0 and g["gensem:mod"] == 16 and g["gensem:text"] == PROMPT
    assert data.stat().st_size < 300_000


def test_replay_shipped_recording_bit_exact():
    from gensem.apps.recording import replay

    r = replay(RECORDING)
    assert r["frames_decoded"] == 6 and r["header_failures"] == 0
    assert r["prompt"]["texts"] == [PROMPT] and r["prompt"]["match"] is True
    a = r["adaptive"]
    assert a["frames"] == 6 and a["bits"] == 6 * 256 * 8 and a["bit_errors"] == 0
    assert a["mods"] == [16]
    assert 20 < a["snr1_est_db"] < 30  # recorded at 25 dB


def test_record_then_replay_cli(tmp_path):
    out = tmp_path / "rec"
    res = _gensem(
        "record", "--stream", "both", "--text", "a red car", "--mod", "64", "--snr-db", "30",
        "--frames", "3", "--payload-bytes", "64", "--freq", "2.45e9", "--out", str(out), "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    live = json.loads(res.stdout)
    assert live["recording"]["annotations"] == live["frames_received"]
    meta = json.loads((tmp_path / "rec.sigmf-meta").read_text())
    assert meta["captures"][0]["core:frequency"] == 2.45e9
    assert [a["gensem:frame"] for a in meta["annotations"]] == list(range(live["frames_received"]))
    res = _gensem("replay", str(tmp_path / "rec.sigmf-data"), "--json")
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)
    assert r["prompt"]["text"] == "a red car" == live["prompt"]["text"]
    assert r["adaptive"]["bit_errors"] == live["adaptive"]["bit_errors"] == 0
    assert r["adaptive"]["frames"] == live["adaptive"]["frames_received"] == 3
    assert not math.isnan(r["adaptive"]["snr1_est_db"])


@pytest.mark.parametrize(
    "make, expect",
    [
        (None, "no SigMF metadata"),
        ("bad_json", "not valid SigMF"),
        ("ci16", "not supported"),
    ],
)
def test_replay_bad_file_one_line_exit_2(tmp_path, make, expect):
    base = tmp_path / "x"
    if make == "bad_json":
        (tmp_path / "x.sigmf-meta").write_text("{not json")
        (tmp_path / "x.sigmf-data").write_bytes(b"")
    elif make == "ci16":
        meta = json.loads(Path(str(RECORDING) + ".sigmf-meta").read_text())
        meta["global"]["core:datatype"] = "ci16_le"
        (tmp_path / "x.sigmf-meta").write_text(json.dumps(meta))
        (tmp_path / "x.sigmf-data").write_bytes(b"\0" * 16)
    res = _gensem("replay", str(base))
    assert res.returncode == 2
    assert expect in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert "Traceback" not in res.stderr
