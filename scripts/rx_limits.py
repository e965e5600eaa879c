#!/usr/bin/env python3
"""Measured limits of the receiver against radio impairments, on the real loopback flowgraph.

Each row is one ``gensem link`` run (same options as the CLI; the command is printed):
16-QAM stream-1 PRBS frames at 25 dB with one impairment set, and the prompt on stream 0
for the rows marked ``both``. A row passes when >= 99 % of the frames arrive with
BER < 1e-3 (and the prompt is delivered). Writes a JSON list (``--out``) and prints a
markdown table (docs/phy.md).

    .venv/bin/python scripts/rx_limits.py --out docs/bench/rx_limits.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))

# (what, extra CLI options): each is run as gensem link --stream adaptive --mod 16 --snr-db 25 ...
ROWS = [
    ("CFO", "--cfo-subcarriers 5.4"),
    ("CFO", "--cfo-subcarriers -5.4"),
    ("CFO", "--cfo-subcarriers 5.9"),
    ("CFO", "--cfo-subcarriers 6.5"),
    ("CFO (ppm)", "--cfo-ppm 60 --samp-rate 2e6 --center-freq 2.45e9"),
    ("SFO, longest frames", "--sfo-ppm 100 --mod 4 --payload-bytes 8191 --frames 20"),
    ("SFO, longest frames", "--sfo-ppm -100 --mod 4 --payload-bytes 8191 --frames 20"),
    ("SFO", "--sfo-ppm 300"),
    ("SFO", "--sfo-ppm 1000"),
    ("IQ imbalance", "--iq-imbalance 1,5"),
    ("IQ imbalance", "--iq-imbalance 3,15"),
    ("IQ imbalance", "--iq-imbalance 6,30"),
    ("phase noise", "--phase-noise-dbc -30"),
    ("phase noise", "--phase-noise-dbc -25"),
    ("phase noise", "--phase-noise-dbc -20"),
    ("level", "--level-db -70"),
    ("level", "--level-db 40"),
    ("DC", "--dc-offset-db -10"),
    ("DC", "--dc-offset-db 0"),
    ("clipping", "--clip-percent 3"),
    ("clipping", "--clip-percent 10"),
    ("profile", "--radio-profile b200 --stream both --text 'a red car'"),
    ("profile", "--radio-profile hackrf --stream both --text 'a red car'"),
    (
        "profile, two HackRFs",
        "--radio-profile hackrf --cfo-ppm 40 --sfo-ppm 40 --stream both --text 'a red car'",
    ),
]
BASE = "--stream adaptive --mod 16 --snr-db 25 --frames 200 --seed 7"


def run_row(extra: str) -> dict:
    import shlex

    from gensem.apps.link import run_link, stream_reports
    from gensem.cli import _config, build_parser  # the CLI's own parsing: same run as the command

    argv = ["link", *shlex.split(BASE), *shlex.split(extra)]
    args = build_parser().parse_args(argv)
    cfg = _config(args, args.snr_db, "link")
    r = run_link(cfg)
    s1, prompt = stream_reports(cfg, r)
    out = {
        "command": "gensem link " + " ".join(shlex.quote(a) for a in argv[1:]),
        "frames_sent": s1["frames_sent"] if "frames_sent" in s1 else r.get("frames_sent"),
        "frames_received": s1["frames_received"],
        "ber": s1["ber"],
        "prompt_delivered": None if prompt is None else bool(prompt["delivered"]),
    }
    sent = out["frames_sent"] or 0
    out["ok"] = bool(
        sent
        and out["frames_received"] >= 0.99 * sent
        and out["ber"] is not None
        and out["ber"] < 1e-3
        and out["prompt_delivered"] is not False
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="", help="write the rows as JSON here")
    a = ap.parse_args()
    rows = []
    print("| impairment | options | frames | BER | prompt | holds |\n|---|---|---|---|---|---|")
    for what, extra in ROWS:
        r = dict(run_row(extra), what=what, options=extra)
        rows.append(r)
        prompt = "" if r["prompt_delivered"] is None else ("yes" if r["prompt_delivered"] else "no")
        ber = "n/a" if r["ber"] is None else f"{r['ber']:.1e}"
        print(
            f"| {what} | `{extra}` | {r['frames_received']}/{r['frames_sent']} | {ber} | {prompt} | "
            f"{'yes' if r['ok'] else 'no'} |",
            flush=True,
        )
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"base": "gensem link " + BASE, "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
