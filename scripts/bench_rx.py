#!/usr/bin/env python3
"""Benchmark: the frame receiver (``dsp.frame_receiver``) standalone, on what a radio delivers.

Idle input (between bursts a receiving radio delivers noise, its DC spike, spurs): the
receiver must keep up with it at many times the radio's rate, and decode nothing from it.
Each case is pushed in 8192-sample blocks (GNU Radio work() sized) on one thread; the
figure is input samples per wall second (best of ``--repeats``), so it is the real-time
margin on one core. Cases: noise; noise + DC at -23 and -13 dB; noise + a tone at -13 dB
(levels relative to a unit-power signal, noise at -25 dB). ``frames_msps``: back-to-back
16-QAM frames (256-byte payloads on B1, 64-sample gaps) at 25 dB; ``wide_frames_msps``: the
same payloads on all 48 data carriers (1504 instead of 2448 samples per frame, the same
per-frame work); ``aggregated_frames_msps``:
the same with 16 packets of 256 bytes per (wide) frame.

The receiver runs its compiled per-frame kernels (``dsp.rx_kernels``, numba) when numba
is installed, as the flowgraphs do; ``frames_msps_numpy`` is the same frame stream through
the numpy reference path (``FrameReceiver(compiled=False)``) in the same process, and
``compiled_speedup`` their ratio.

    .venv/bin/python scripts/bench_rx.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one core: no BLAS thread pool behind the receiver's matmuls

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))

BLOCK = 8192


def _noise(n, rng, noise_db=-25.0):
    s = np.sqrt(10 ** (noise_db / 10) / 2)
    return (s * (rng.standard_normal(n) + 1j * rng.standard_normal(n))).astype(np.complex64)


def idle_cases(n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    noise = _noise(n, rng)
    t = np.arange(n)
    dc = np.exp(1j * np.pi / 4)
    return {
        "noise": noise,
        "noise_dc_m23db": noise + np.complex64(10 ** (-23 / 20) * dc),
        "noise_dc_m13db": noise + np.complex64(10 ** (-13 / 20) * dc),
        "noise_tone_m13db": noise + (10 ** (-13 / 20) * np.exp(2j * np.pi * 0.1234 * t)).astype(np.complex64),
    }


def frame_stream(n_frames: int, seed: int, aggregate: int = 1, wide: bool = False):
    """Back-to-back 16-QAM frames of one 256-byte payload on B1 each, or (``wide``) on all
    48 data carriers (what the TX sends when stream 0 is idle: fewer samples, the same
    per-frame work), or (``aggregate`` > 1) wide frames of ``aggregate`` 256-byte packets
    each (dsp.aggregation)."""
    from gensem.dsp import prbs
    from gensem.dsp.frame_builder import build_frame
    from gensem.dsp.ofdm_params import OfdmParams

    p = OfdmParams()
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_frames):
        if aggregate > 1:
            s1 = prbs.aggregated_payload(seed, i, 256, aggregate)
            f = build_frame(p, i % 65536, 16, 0.0, None, 0, s1, aggregate=True)
        else:
            f0 = 0.0 if wide else p.equal_split
            f = build_frame(p, i % 65536, 16, f0, None, 0, prbs.payload(seed, i, 256))
        parts += [f, np.zeros(64, np.complex64)]
    x = np.concatenate(parts)
    return (x + _noise(x.size, rng)).astype(np.complex64)


def time_rx(x: np.ndarray, repeats: int, compiled: bool | None = None):
    from gensem.dsp.frame_receiver import FrameReceiver

    best, frames, stats = float("inf"), 0, None
    for _ in range(repeats):
        rx = FrameReceiver(compiled=compiled)
        t0 = time.perf_counter()
        n = 0
        for i in range(0, x.size, BLOCK):
            n += len(rx.push(x[i : i + BLOCK]))
        dt = time.perf_counter() - t0
        if dt < best:
            best, frames, stats = dt, n, dict(rx.stats.__dict__)
    return x.size / best / 1e6, frames, stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0, help="idle input per case, in seconds at 4 Msps")
    ap.add_argument("--frames", type=int, default=300, help="back-to-back frames for frames_msps")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.seconds <= 0 or a.frames < 1 or a.repeats < 1:
        print("bench_rx: need --seconds > 0, --frames >= 1, --repeats >= 1", file=sys.stderr)
        return 2
    n = int(a.seconds * 4e6)
    from gensem.dsp import rx_kernels

    if not rx_kernels.AVAILABLE:  # (the first FrameReceiver compiles / loads them, untimed)
        print(f"bench_rx: {rx_kernels.WHY_NOT}", file=sys.stderr)
    out = {"compiled": rx_kernels.AVAILABLE, "block": BLOCK, "idle_samples": n, "idle_msps": {}, "idle_frames": {}, "idle_detections": {}}
    for name, x in idle_cases(n, a.seed).items():
        msps, frames, stats = time_rx(x, a.repeats)
        out["idle_msps"][name] = round(msps, 2)
        out["idle_frames"][name] = frames
        out["idle_detections"][name] = stats["detections"]
    x = frame_stream(a.frames, a.seed)
    msps, frames, _ = time_rx(x, a.repeats)
    out.update(frames_msps=round(msps, 3), frames_sent=a.frames, frames_decoded=frames)
    out["samples_per_frame"] = round(x.size / a.frames, 1)
    out["frames_per_s"] = round(msps * 1e6 / out["samples_per_frame"], 1)
    msps_np, frames_np, _ = time_rx(x, a.repeats, compiled=False)
    out.update(frames_msps_numpy=round(msps_np, 3), frames_decoded_numpy=frames_np)
    out["compiled_speedup"] = round(msps / msps_np, 2)
    x = frame_stream(a.frames, a.seed, wide=True)
    msps_w, frames_w, _ = time_rx(x, a.repeats)
    out.update(wide_frames_msps=round(msps_w, 3), wide_frames_decoded=frames_w)
    out["wide_frames_per_s"] = round(msps_w * 1e6 * a.frames / x.size, 1)
    n_agg = max(a.frames // 16, 1)
    x = frame_stream(n_agg, a.seed, aggregate=16)
    msps, frames, _ = time_rx(x, a.repeats)
    out.update(aggregated_frames_msps=round(msps, 3), aggregated_frames_sent=n_agg, aggregated_frames_decoded=frames)
    out["min_idle_msps"] = min(out["idle_msps"].values())
    if a.json:
        print(json.dumps(out))
    else:
        for k, v in out["idle_msps"].items():
            print(
                f"{k:18s} {v:8.2f} Msps  frames {out['idle_frames'][k]}  detections {out['idle_detections'][k]}"
            )
        print(
            f"back-to-back frames {out['frames_msps']:.3f} Msps ({out['frames_decoded']}/{a.frames} decoded, "
            f"{out['frames_per_s']:.0f} frames/s); numpy path {out['frames_msps_numpy']:.3f} Msps "
            f"(x{out['compiled_speedup']})"
        )
        print(
            f"wide frames (48 carriers) {out['wide_frames_msps']:.3f} Msps ({out['wide_frames_decoded']}/{a.frames} "
            f"decoded, {out['wide_frames_per_s']:.0f} frames/s)"
        )
        print(
            f"aggregated frames (16 x 256 B) {out['aggregated_frames_msps']:.3f} Msps "
            f"({frames}/{n_agg} decoded)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
