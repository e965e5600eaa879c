"""Table II (modulation adaptation) and Fig. 4 (optimal parameters vs average SNR).

Table II: for each target BER, the average-SNR range over which ``solve_discrete`` picks
each M1, the per-stream SNR gamma_1 that M1 needs, and the latency T. Ranges come from a
0.05 dB scan refined by bisection to 1e-4 dB at every change of M1.
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from gensem.planner.lemma1 import MODULATIONS, baseline, solve_continuous, solve_discrete
from gensem.planner.params import TABLE_I, SystemParams

SCAN_DB = (-10.0, 45.0)


def _choice(snr_db, v0, v1, ber, p, mods):
    return solve_discrete(10 ** (snr_db / 10), v0, v1, ber, p, mods)["modulation"]


def _refine(lo, hi, m_lo, v0, v1, ber, p, mods):
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        if _choice(mid, v0, v1, ber, p, mods) == m_lo:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def modulation_table(v0_bits, v1_bits, bers, p: SystemParams = TABLE_I, modulations=MODULATIONS):
    """Rows of Table II, one per (target BER, M1 chosen somewhere in the scan), in ms and dB.

    ``snr_db_min``/``snr_db_max`` are None where the range is open (below/above the scan
    ``SCAN_DB``). ``latency_ms`` is the largest latency inside the range (None when the
    range is open below: the prompt-only latency grows without bound as the SNR falls),
    ``latency_ms_best`` the smallest."""
    rows = []
    grid = np.arange(SCAN_DB[0], SCAN_DB[1] + 1e-9, 0.05)
    for ber in bers:
        choices = [_choice(s, v0_bits, v1_bits, ber, p, modulations) for s in grid]
        segs = []  # [M, start_db, end_db]
        for i, m in enumerate(choices):
            if segs and segs[-1][0] == m:
                continue
            if segs:
                edge = _refine(grid[i - 1], grid[i], segs[-1][0], v0_bits, v1_bits, ber, p, modulations)
                segs[-1][2] = edge
                segs.append([m, edge, None])
            else:
                segs.append([m, None, None])
        for m, lo, hi in segs:
            a = SCAN_DB[0] if lo is None else lo
            b = SCAN_DB[1] if hi is None else hi
            pts = np.linspace(a + 1e-3, b - 1e-3, 41) if b - a > 2e-3 else np.array([0.5 * (a + b)])
            lat = [solve_discrete(10 ** (s / 10), v0_bits, v1_bits, ber, p, modulations) for s in pts]
            T = [d["latency_s"] * 1e3 for d in lat]
            req = lat[0]["required_stream_snr_db"]
            rows.append(
                {
                    "target_ber": ber,
                    "modulation": m,
                    "snr_db_min": None if lo is None else round(lo, 3),
                    "snr_db_max": None if hi is None else round(hi, 3),
                    "stream_snr_db": None if req is None else round(req, 3),
                    "latency_ms": None if lo is None else round(max(T), 4),
                    "latency_ms_best": round(min(T), 4),
                }
            )
    return rows


def figure4_data(v0_bits, v1_bits, bers, snr_db=None, p: SystemParams = TABLE_I):
    """Fig. 4 series: per target BER and gamma_bar, the continuous Lemma-1 optimum
    (power % for the prompt, latency, bits/symbol, expected prompt transmissions) and the
    semantic-unaware baseline latency."""
    snr_db = np.arange(0.0, 30.01, 0.5) if snr_db is None else np.asarray(snr_db, float)
    rows = []
    for ber in bers:
        for s in snr_db:
            g = 10 ** (s / 10)
            c = solve_continuous(g, v0_bits, v1_bits, ber, p)
            rows.append(
                {
                    "target_ber": ber,
                    "snr_db": round(float(s), 4),
                    "prompt_power_pct": 100 * c["prompt_power_fraction"],
                    "latency_ms": 1e3 * c["latency_s"],
                    "bits_per_symbol": c["bits_per_symbol"],
                    "retransmissions": c["retransmissions"],
                    "baseline_latency_ms": 1e3 * baseline(g, v0_bits, v1_bits, p)["latency_s"],
                }
            )
    return rows


def write_figure4(rows, out_dir: str) -> list[str]:
    """Four PNG panels (a)-(d) and ``figure4.csv``; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    paths = [os.path.join(out_dir, "figure4.csv")]
    with open(paths[0], "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    bers = sorted({r["target_ber"] for r in rows})
    panels = [
        ("a_prompt_power", "prompt_power_pct", "power for the prompt (%)", False),
        ("b_latency", "latency_ms", "transmission latency (ms)", True),
        ("c_bits_per_symbol", "bits_per_symbol", "bits/symbol for the edge map", False),
        ("d_retransmissions", "retransmissions", "expected prompt transmissions", True),
    ]
    for name, key, label, logy in panels:
        fig, ax = plt.subplots(figsize=(5, 3.6))
        for ber in bers:
            rs = [r for r in rows if r["target_ber"] == ber]
            ax.plot([r["snr_db"] for r in rs], [r[key] for r in rs], label=f"proposed, BER {ber:g}")
        if key == "latency_ms":
            rs = [r for r in rows if r["target_ber"] == bers[0]]
            ax.plot(
                [r["snr_db"] for r in rs],
                [r["baseline_latency_ms"] for r in rs],
                "k--",
                label="semantic-unaware baseline",
            )
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("average SNR (dB)")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out_dir, f"figure4{name}.png")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def crossover_snr_db(v0_bits, v1_bits, ber, p: SystemParams = TABLE_I, lo=0.0, hi=30.0) -> list[float]:
    """Average SNRs (dB) in [lo, hi] where the proposed latency equals the baseline's."""
    grid = np.arange(lo, hi + 1e-9, 0.05)
    d = [
        math.log(solve_continuous(10 ** (s / 10), v0_bits, v1_bits, ber, p)["latency_s"])
        - math.log(baseline(10 ** (s / 10), v0_bits, v1_bits, p)["latency_s"])
        for s in grid
    ]
    return [round(float(grid[i]), 2) for i in range(1, len(d)) if (d[i - 1] < 0) != (d[i] < 0)]
