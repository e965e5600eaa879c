"""Table II (modulation adaptation) and Fig. 4 (optimal parameters vs average SNR).

Table II, as the paper reads it: for each target BER, the average-SNR range over which
``solve_discrete`` picks each M1, the per-stream SNR gamma_1 that M1 needs, and one latency
per M1, the edge map's own time T1(M1) = |v1| / (log2(M1) B1). A range starts at M1's edge
(``lemma1.edge_snr_db``, closed form: p0 + p1 = P_T, T0 = T1(M1), gamma_1 = the requirement)
and ends where a larger M1 becomes available. ``latency_ms_at_edge`` keeps the earlier
reading's figure: with M1 chosen as soon as stream 1 meets its BER, the worst latency over
its range (at its lower edge, where the prompt gets almost no power), from a 0.05 dB scan
refined by bisection to 1e-4 dB.
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from gensem.planner import equations as eq
from gensem.planner.lemma1 import MODULATIONS, baseline, edge_snr_db, solve_continuous, solve_discrete
from gensem.planner.params import TABLE_I, SystemParams

SCAN_DB = (-10.0, 45.0)


def _choice(snr_db, v0, v1, ber, p, mods, reading="at-edge"):
    return solve_discrete(10 ** (snr_db / 10), v0, v1, ber, p, mods, reading)["modulation"]


def _refine(lo, hi, m_lo, v0, v1, ber, p, mods):
    while hi - lo > 1e-4:
        mid = 0.5 * (lo + hi)
        if _choice(mid, v0, v1, ber, p, mods) == m_lo:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def modulation_table(v0_bits, v1_bits, bers, p: SystemParams = TABLE_I, modulations=MODULATIONS):
    """Rows of Table II, one per (target BER, M1 chosen somewhere), in ms and dB, the paper's
    reading (module docstring). ``snr_db_min``/``snr_db_max`` are None where the range is
    open; ``latency_ms`` is T1(M1) (None for M1 = 0: the prompt-only latency grows without
    bound as the SNR falls); ``latency_ms_best`` the smallest latency in the range;
    ``latency_ms_at_edge`` the earlier reading's worst case for that M1."""
    old_rows = _at_edge_rows(v0_bits, v1_bits, bers, p, modulations)
    legacy = {(r["target_ber"], r["modulation"]): r for r in old_rows}
    rows = []
    for ber in bers:
        edges = [(edge_snr_db(M, v0_bits, v1_bits, ber, p), M) for M in modulations]
        edges = sorted((e, M) for e, M in edges if e is not None)
        segs = [[0, None, None]]  # [M, start_db, end_db]: the largest available M1 wins
        for e, M in edges:
            if M > segs[-1][0]:
                segs[-1][2] = e
                segs.append([M, e, None])
        for m, lo, hi in segs:
            old = legacy.get((ber, m), {})
            if m == 0:
                top = lo if hi is None else hi
                d = solve_discrete(10 ** ((top - 1e-6) / 10), v0_bits, v1_bits, ber, p, modulations)
                latency, best, req = None, round(d["latency_s"] * 1e3, 4), None
            else:
                t1 = v1_bits / (math.log2(m) * p.B1_hz) * 1e3
                latency, best = round(t1, 4), round(t1, 4)
                req = round(10 * math.log10(eq.mqam_required_snr(m, ber, p)), 3)
            rows.append(
                {
                    "target_ber": ber,
                    "modulation": m,
                    "snr_db_min": None if lo is None else round(lo, 6),
                    "snr_db_max": None if hi is None else round(hi, 6),
                    "stream_snr_db": req,
                    "latency_ms": latency,
                    "latency_ms_best": best,
                    "latency_ms_at_edge": old.get("latency_ms"),
                    "snr_db_min_at_edge": old.get("snr_db_min"),
                }
            )
    return rows


def _at_edge_rows(v0_bits, v1_bits, bers, p: SystemParams = TABLE_I, modulations=MODULATIONS):
    """The earlier reading's Table II (scan + bisection; M1 available as soon as stream 1
    meets its BER, the prompt taking the rest of the power)."""
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
            lat = [
                solve_discrete(10 ** (s / 10), v0_bits, v1_bits, ber, p, modulations, "at-edge") for s in pts
            ]
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
