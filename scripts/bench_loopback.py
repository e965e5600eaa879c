#!/usr/bin/env python3
"""Benchmark: gensem two-stream loopback vs the stock gr-digital OFDM loopback, same process.

Both chains run TX + channel + RX in one GNU Radio flowgraph, no throttle, FFT 64, CP 16,
QPSK payload, the same payload bytes per packet, the same number of packets, high SNR.
Reported per chain: Msps through TX+channel+RX (complex samples / wall seconds),
payload Mbit/s delivered, packets lost. ``ratio`` = gensem_msps / stock_msps with the
receiver decoding inline (in the flowgraph's Python thread); ``ratio_process`` the same
with ``two_stream_rx(decode_process=True)`` (decoder in a worker process).

    .venv/bin/python scripts/bench_loopback.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "gr-gensem", "python"))
sys.path.insert(0, HERE)


def run_gensem(
    packets: int, payload_bytes: int, snr_db: float, mod: int, seed: int, rx_process: bool = False
) -> dict:
    from gensem.link import LinkConfig, run_link

    r = run_link(
        LinkConfig(
            stream="adaptive",
            mod=mod,
            snr_db=snr_db,
            frames=packets,
            payload_bytes=payload_bytes,
            seed=seed,
            rx_process=rx_process,
        )
    )
    return {
        "msps": r["samples"] / r["elapsed_s"] / 1e6,
        "seconds": r["elapsed_s"],
        "samples": r["samples"],
        "packets_sent": r["frames_sent"],
        "packets_received": r["frames_received"] - r["frame_errors"],
        "packet_loss": 1 - (r["frames_received"] - r["frame_errors"]) / r["frames_sent"],
        "payload_mbps": 8 * payload_bytes * (r["frames_received"] - r["frame_errors"]) / r["elapsed_s"] / 1e6,
        "ber": r["ber"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--payload-bytes", type=int, default=256)
    ap.add_argument("--snr-db", type=float, default=30.0)
    ap.add_argument("--mod", type=int, default=4, help="gensem stream-1 M (stock payload is QPSK)")
    ap.add_argument("--repeats", type=int, default=2, help="best of N runs per chain")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.warn)
    from stock_ofdm_baseline import run_stock_ofdm

    best_g = best_s = best_p = None
    for _ in range(args.repeats):
        g = run_gensem(args.packets, args.payload_bytes, args.snr_db, args.mod, args.seed)
        gp = run_gensem(args.packets, args.payload_bytes, args.snr_db, args.mod, args.seed, rx_process=True)
        s = run_stock_ofdm(
            n_packets=args.packets, payload_bytes=args.payload_bytes, snr_db=args.snr_db, seed=args.seed
        )
        best_g = g if best_g is None or g["msps"] > best_g["msps"] else best_g
        best_p = gp if best_p is None or gp["msps"] > best_p["msps"] else best_p
        best_s = s if best_s is None or s["msps"] > best_s["msps"] else best_s
    out = {
        "gensem_msps": round(best_g["msps"], 3),
        "stock_msps": round(best_s["msps"], 3),
        "ratio": round(best_g["msps"] / best_s["msps"], 3),
        "gensem_process_msps": round(best_p["msps"], 3),
        "ratio_process": round(best_p["msps"] / best_s["msps"], 3),
        "gensem_process_packet_loss": best_p["packet_loss"],
        "gensem_payload_mbps": round(best_g["payload_mbps"], 3),
        "stock_payload_mbps": round(
            8 * args.payload_bytes * best_s["packets_received"] / best_s["seconds"] / 1e6, 3
        ),
        "gensem_packet_loss": best_g["packet_loss"],
        "stock_packet_loss": best_s["packet_loss"],
        "packets": args.packets,
        "payload_bytes": args.payload_bytes,
        "snr_db": args.snr_db,
        "cpu_count": os.cpu_count(),
        "gensem": best_g,
        "gensem_process": best_p,
        "stock": best_s,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"gensem: {out['gensem_msps']} Msps, {out['gensem_payload_mbps']} Mbit/s payload, "
            f"loss {out['gensem_packet_loss']:.3%}"
        )
        print(
            f"stock : {out['stock_msps']} Msps, {out['stock_payload_mbps']} Mbit/s payload, "
            f"loss {out['stock_packet_loss']:.3%}"
        )
        print(
            f"gensem, decoder in a worker process: {out['gensem_process_msps']} Msps, "
            f"loss {out['gensem_process_packet_loss']:.3%}"
        )
        print(f"ratio (Msps): {out['ratio']} inline, {out['ratio_process']} with the worker process")
    return 0


if __name__ == "__main__":
    sys.exit(main())
