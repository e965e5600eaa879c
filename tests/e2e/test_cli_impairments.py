"""The radio-impairment options of every command with a simulated channel: impossible values
give one line on stderr and exit status 2; the profiles reach the channel."""

import json
import os
import subprocess
import sys

import pytest
from gensem.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

COMMANDS = {
    "link": ["link"],
    "sweep": ["sweep", "--out", "/nonexistent/never-written"],
    "record": ["record", "--out", "/nonexistent/never-written"],
    "radio rx": ["radio", "rx", "--dry-run", "--sim-snr-db", "20"],
    "demo": ["demo"],  # rejected before any model is loaded
    "jscc send": ["jscc", "send", "--image", "skimage:camera", "--over-link"],
}
BAD = [
    (["--cfo-ppm", "2000"], "must be within +-1000 ppm"),
    (["--sfo-ppm", "-1500"], "must be within +-1000 ppm"),
    (["--iq-imbalance", "11,0"], "must be within +-10 dB"),
    (["--iq-imbalance", "1"], "expected DB,DEG"),
    (["--radio-profile", "foo"], "unknown radio profile 'foo'; choose ideal, b200 or hackrf"),
    (["--phase-noise-dbc", "-3"], "must be <= -10 dBc"),
    (["--clip-percent", "40"], "must be in [0, 20] %"),
]


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("args, text", BAD)
def test_impossible_values_one_line_exit_2(command, args, text, capsys):
    assert main(COMMANDS[command] + args) == 2
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and text in lines[0], err
    assert lines[0].startswith("gensem ")


@pytest.mark.parametrize(
    "args, text",
    [
        (["link", "--cfo-subcarriers", "17"], "within +-16"),
        (["link", "--radio-profile", "hackrf", "--cfo-subcarriers", "15"], "total carrier offset"),
        (
            ["link", "--cfo-ppm", "200", "--center-freq", "2.45e9", "--samp-rate", "1e6"],
            "total carrier offset",
        ),
        (["radio", "tx", "--dry-run", "--radio-profile", "hackrf"], "use them with rx"),
        (["radio", "rx", "--dry-run", "--cfo-ppm", "500"], "within +-16"),
        (["demo", "--cfo-ppm", "500"], "within +-16"),
        (["jscc", "send", "--image", "skimage:camera", "--cfo-ppm", "5"], "need --over-link"),
    ],
)
def test_carrier_offset_limits(args, text, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and text in err


def test_cli_process_exit_status_and_stderr():
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "gr-gensem", "python"))
    r = subprocess.run(
        [sys.executable, "-m", "gensem.cli", "link", "--cfo-ppm", "2000"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == "gensem link: --cfo-ppm 2000 must be within +-1000 ppm"


def test_link_with_a_radio_profile(capsys):
    """A large (but legal) CFO runs; the profile's values are in the report."""
    rc = main(
        ["link", "--radio-profile", "b200", "--cfo-ppm", "-3", "--frames", "8", "--snr-db", "25", "--json"]
    )
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    imp = out["impairments"]
    assert imp["cfo_ppm"] == -3.0 and imp["sfo_ppm"] == 2.0 and imp["dc_offset_db"] == -50.0
    assert out["frames_sent"] == 8
    rc = main(["link", "--cfo-subcarriers", "12", "--frames", "4", "--json"])  # runs; frames may be lost
    assert rc == 0 and json.loads(capsys.readouterr().out)["frames_sent"] == 4


def test_record_metadata_carries_the_radio(tmp_path, capsys):
    base = tmp_path / "rec"
    rc = main(["record", "--radio-profile", "hackrf", "--frames", "3", "--out", str(base), "--json"])
    assert rc == 0
    meta = json.loads((tmp_path / "rec.sigmf-meta").read_text())
    assert meta["global"]["gensem:impairments"]["cfo_ppm"] == 20.0
    assert meta["global"]["gensem:impairments"]["samp_rate"] == 1e6  # record's --samp-rate
    assert meta["captures"][0]["core:frequency"] == 2.45e9
    capsys.readouterr()


def test_radio_rx_sim_channel_with_profile(capsys):
    args = [
        "radio",
        "rx",
        "--dry-run",
        "--radio-profile",
        "hackrf",
        "--sim-snr-db",
        "20",
        "--dc-blocker",
        "on",
    ]
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["role"] == "rx"
