#!/usr/bin/env python3
"""Benchmark: gensem two-stream loopback vs the stock gr-digital OFDM loopback, same process.

Both chains run TX + channel + RX in one GNU Radio flowgraph, no throttle, FFT 64, CP 16,
QPSK payload on 48 data carriers each (gensem: stream-1-only frames are wide frames, stream 1
on B0 and B1; stock: digital.ofdm_tx's default 48 occupied data carriers), the same packets
(``--payload-bytes`` each, a CRC-32 on every packet on both sides), the same number of
packets, the same SNR. The headline is **payload goodput**: packet bytes delivered without
an error per wall second. gensem aggregates ``--aggregate`` packets per frame (default 16:
each packet keeps its own delimiter and CRC-32, dsp.aggregation; stock gr-digital sends one
packet per burst). ``goodput_ratio`` = gensem / stock with the receiver decoding inline (in
the flowgraph's Python thread), ``goodput_ratio_process`` with the decoder in a worker
process, ``goodput_ratio_single`` one packet per frame, inline. The sample-rate figures
(``*_msps``, ``msps_ratio``) count samples, not bits: a longer frame scores higher.

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
    packets: int,
    payload_bytes: int,
    snr_db: float,
    mod: int,
    seed: int,
    rx_process: bool = False,
    aggregate: int = 1,
) -> dict:
    from gensem.apps.link import LinkConfig, run_link

    r = run_link(
        LinkConfig(
            stream="adaptive",
            mod=mod,
            snr_db=snr_db,
            frames=-(-packets // aggregate),
            payload_bytes=payload_bytes,
            aggregate=aggregate,
            seed=seed,
            rx_process=rx_process,
        )
    )
    ok = r["packets_ok"]
    return {
        "msps": r["samples"] / r["elapsed_s"] / 1e6,
        "seconds": r["elapsed_s"],
        "samples": r["samples"],
        "aggregate": aggregate,
        "frames_sent": r["frames_sent"],
        "packets_sent": r["packets_sent"],
        "packets_received": ok,
        "packet_loss": 1 - ok / r["packets_sent"],
        "payload_mbps": 8 * payload_bytes * ok / r["elapsed_s"] / 1e6,
        "ber": r["ber"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=2000)
    ap.add_argument("--payload-bytes", type=int, default=256)
    ap.add_argument("--snr-db", type=float, default=30.0)
    ap.add_argument("--mod", type=int, default=4, help="gensem stream-1 M (stock payload is QPSK)")
    ap.add_argument("--aggregate", type=int, default=16, help="gensem packets per frame (1: one per frame)")
    ap.add_argument("--repeats", type=int, default=2, help="best of N runs per chain")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    from gnuradio import gr

    gr.logging().set_default_level(gr.log_levels.warn)
    from stock_ofdm_baseline import run_stock_ofdm

    best_g = best_s = best_p = best_1 = None
    common = (args.packets, args.payload_bytes, args.snr_db, args.mod, args.seed)
    for _ in range(args.repeats):
        g = run_gensem(*common, aggregate=args.aggregate)
        gp = run_gensem(*common, rx_process=True, aggregate=args.aggregate)
        g1 = run_gensem(*common)
        s = run_stock_ofdm(
            n_packets=args.packets, payload_bytes=args.payload_bytes, snr_db=args.snr_db, seed=args.seed
        )
        best_g = g if best_g is None or g["payload_mbps"] > best_g["payload_mbps"] else best_g
        best_p = gp if best_p is None or gp["payload_mbps"] > best_p["payload_mbps"] else best_p
        best_1 = g1 if best_1 is None or g1["payload_mbps"] > best_1["payload_mbps"] else best_1
        best_s = s if best_s is None or s["msps"] > best_s["msps"] else best_s
    stock_goodput = 8 * args.payload_bytes * best_s["packets_received"] / best_s["seconds"] / 1e6
    out = {
        "gensem_goodput_mbps": round(best_g["payload_mbps"], 3),
        "gensem_process_goodput_mbps": round(best_p["payload_mbps"], 3),
        "stock_goodput_mbps": round(stock_goodput, 3),
        "goodput_ratio": round(best_g["payload_mbps"] / stock_goodput, 3),
        "goodput_ratio_process": round(best_p["payload_mbps"] / stock_goodput, 3),
        "gensem_single_goodput_mbps": round(best_1["payload_mbps"], 3),
        "goodput_ratio_single": round(best_1["payload_mbps"] / stock_goodput, 3),
        "packets_per_frame": {"gensem": args.aggregate, "gensem_single": 1, "stock": 1},
        "crc_per_packet": {"gensem": "CRC-32", "stock": "CRC-32"},
        "data_carriers": {"gensem": 48, "stock": 48},
        "payload_modulation": {"gensem": f"{args.mod}-QAM" if args.mod != 4 else "QPSK", "stock": "QPSK"},
        "gensem_samples_per_packet": round(best_g["samples"] / max(best_g["packets_sent"], 1), 1),
        "gensem_msps": round(best_g["msps"], 3),
        "stock_msps": round(best_s["msps"], 3),
        "msps_ratio": round(best_g["msps"] / best_s["msps"], 3),
        "gensem_process_msps": round(best_p["msps"], 3),
        "msps_ratio_process": round(best_p["msps"] / best_s["msps"], 3),
        "gensem_process_packet_loss": best_p["packet_loss"],
        "gensem_packet_loss": best_g["packet_loss"],
        "stock_packet_loss": best_s["packet_loss"],
        "packets": args.packets,
        "payload_bytes": args.payload_bytes,
        "snr_db": args.snr_db,
        "cpu_count": os.cpu_count(),
        "gensem": best_g,
        "gensem_process": best_p,
        "gensem_single": best_1,
        "stock": best_s,
    }
    if args.json:
        print(json.dumps(out))
    else:
        print(
            f"gensem ({args.aggregate} packets per frame): {out['gensem_goodput_mbps']} Mbit/s payload goodput ({out['gensem_msps']} Msps), "
            f"loss {out['gensem_packet_loss']:.3%}"
        )
        print(
            f"stock : {out['stock_goodput_mbps']} Mbit/s payload goodput ({out['stock_msps']} Msps), "
            f"loss {out['stock_packet_loss']:.3%}"
        )
        print(
            f"gensem, decoder in a worker process: {out['gensem_process_goodput_mbps']} Mbit/s "
            f"({out['gensem_process_msps']} Msps), loss {out['gensem_process_packet_loss']:.3%}"
        )
        print(
            f"gensem, one packet per frame: {out['gensem_single_goodput_mbps']} Mbit/s, "
            f"loss {best_1['packet_loss']:.3%}"
        )
        print(
            f"goodput ratio ({args.aggregate} packets per frame): {out['goodput_ratio']} inline, "
            f"{out['goodput_ratio_process']} with the worker process; {out['goodput_ratio_single']} one per frame"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
