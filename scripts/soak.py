#!/usr/bin/env python3
"""Soak test: the loopback at full rate for ``--minutes``, with memory sampled and every frame,
prompt and drop accounted for.

One process runs the GNU Radio loopback flowgraph with both streams: stream 0 carries image
prompts without edge maps (n_parts 0), sent again whenever the ARQ goes idle, and stream 1
carries PRBS frames. The prompts go through the ZeroMQ bridge (PUSH) to a bridge client in
a thread of the same process; the client plays the GPU receiver's assembler. RSS is read
from /proc every ``--sample-s`` seconds. At the end the transmitter stops making frames, the
receive side drains, and the report balances:

* frames: sent = decoded + header failures + undetected;
* stream 1: PRBS frames received = edge parts parsed + payloads the part parser rejected
  (the PRBS frames are not edge parts; their header CRC fails) = what the bridge sent + drops;
* prompts: ARQ deliveries at the RX = prompts the bridge sent + its drops = messages the
  client received; bridge prompts = images completed + the client's counted drops;
* ``unaccounted``: the sum of what does not balance. It should be 0. Undetected frames
  count here too: the receiver cannot number a frame it never saw.

    .venv/bin/python scripts/soak.py --minutes 60 --json --out docs/bench/soak_60min.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "gr-gensem", "python"), os.path.join(HERE, "..")]

PROMPT = "a lighthouse on a rocky coast at dusk"


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _sample(t_s: float, tb) -> dict:
    return {"t_s": round(t_s, 1), "rss_mib": round(rss_mib(), 1), "frames": tb.tx.frames_sent}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--sample-s", type=float, default=30.0, help="seconds between RSS samples")
    ap.add_argument("--snr-db", type=float, default=20.0, help="average SNR of the two streams")
    ap.add_argument("--mod", type=int, default=16)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", help="also write the JSON report here")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.sample_s <= 0:
        print("soak: --minutes and --sample-s must be > 0", file=sys.stderr)
        return 2
    from gensem.apps.link import LinkConfig, LoopbackLink, drain
    from gensem.core.bridge_client import BridgeClient

    client = BridgeClient("tcp://127.0.0.1:*", pattern="pull", bind=True, timeout_s=10.0)
    cfg = LinkConfig(
        stream="both",
        text=PROMPT,
        n_parts=0,
        mod=args.mod,
        snr_db=args.snr_db,
        frames=1 << 40,  # stream 1 runs until the soak stops it
        bridge_endpoint=client.endpoint,
        bridge_pattern="push",
        seed=1,
    )
    tb = LoopbackLink(cfg)
    tb.tx.prompt_carousel = True  # the next image's prompt whenever the ARQ is idle
    images = {"n": 0}
    stop = threading.Event()

    def consume():  # the GPU receiver's side: complete images out of the bridge
        while not stop.is_set():
            if client.get(timeout_s=0.2) is not None:
                images["n"] += 1

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    samples = []
    t0 = time.monotonic()
    tb.tx.hold_end = True
    tb.start()
    next_sample = t0
    end = t0 + 60.0 * args.minutes
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_sample:
            samples.append(_sample(now - t0, tb))
            if not args.json:
                print(f"soak: {samples[-1]}", file=sys.stderr)
            next_sample += args.sample_s
        time.sleep(min(1.0, max(0.0, next_sample - time.monotonic())))
    # stop making frames, let the prompt in flight finish, drain the receive side
    tb.tx.prompt_carousel = False
    tb.tx.prbs_frames = tb.tx.prbs_sent
    t_stop = time.monotonic()
    while not (tb.tx.finished and tb.tx._done) and time.monotonic() - t_stop < 60:
        time.sleep(0.05)
    drain(tb.progress_counters, settle_s=1.0, max_s=30.0)
    tb.tx.hold_end = False
    tb.wait()
    time.sleep(1.0)  # the last bridge messages reach the client
    stop.set()
    reader.join(5)
    elapsed = time.monotonic() - t0
    samples.append(_sample(elapsed, tb))
    stats = client.stats()
    client.close()

    st, arq_tx, arq_rx, bridge = tb.rx.stats, tb.tx.arq, tb.arq_rx.arq, tb.bridge
    frames_sent = tb.tx.frames_sent
    undetected = frames_sent - st.frames - st.header_failures
    img = stats["images"]
    client_drops = {k: img[k] for k in ("late", "duplicates", "inconsistent", "bad_prompt", "evicted",
                                        "timeouts", "session_dropped")}
    client_drops["queue_dropped"] = stats["queue_dropped"]
    client_drops["bad_messages"] = stats["bad_total"]
    parts = tb.parts
    checks = {  # each is (what went in) - (what came out + what was counted as dropped)
        "frames": undetected,
        "stream1_to_part_parser": tb.ber.frames - parts.parsed - parts.bad_headers,
        "prompts_rx_to_bridge": arq_rx.delivered_count - bridge.sent["prompt"] - bridge.dropped["prompt"]
        - bridge.bad_pdus.get("prompt", 0),
        "parts_to_bridge": parts.parsed - bridge.sent["edge"] - bridge.dropped["edge"]
        - bridge.bad_pdus.get("edge", 0),
        "bridge_to_client": bridge.total_sent - stats["received"],
        "prompts_to_images": bridge.sent["prompt"] - img["completed"] - img["late"] - img["duplicates"]
        - img["inconsistent"] - img["bad_prompt"] - img["session_dropped"],
        "images_to_receiver": img["completed"] - images["n"] - stats["queued"],
    }
    after_1min = [s for s in samples if s["t_s"] >= 60.0] or samples[-1:]
    base = after_1min[0]["rss_mib"]
    report = {
        "minutes": args.minutes,
        "elapsed_s": round(elapsed, 1),
        "snr_db": args.snr_db,
        "mod": args.mod,
        "frames_sent": frames_sent,
        "msps": round(tb.tx.samples_sent / elapsed / 1e6, 3),
        "frames_decoded": st.frames,
        "header_failures": st.header_failures,
        "undetected_frames": undetected,
        "prbs": {"sent": tb.tx.prbs_sent, "received": tb.ber.frames, "frame_errors": tb.ber.frame_errors,
                 "bits": tb.ber.bits, "bit_errors": tb.ber.bit_errors},
        "prompts": {
            "finished": arq_tx.finished,
            "acked": arq_tx.acks,
            "retransmissions": arq_tx.nacks + arq_tx.timeouts,
            "delivered_rx": arq_rx.delivered_count,
            "duplicates_rx": arq_rx.duplicates,
            "crc_failures_rx": arq_rx.crc_failures,
        },
        "part_parser": {"parsed": parts.parsed, "bad_headers": parts.bad_headers},
        "bridge": {"sent": dict(bridge.sent), "dropped": dict(bridge.dropped)},
        "client": {"images": images["n"], "completed": img["completed"], "drops": client_drops},
        "checks": checks,
        "unaccounted": sum(abs(v) for v in checks.values()),
        "rss_mib_after_1min": base,
        "rss_mib_max_after_1min": max(s["rss_mib"] for s in after_1min),
        "rss_growth_after_1min": round(max(s["rss_mib"] for s in after_1min) / base - 1, 4),
        "rss_samples": samples,
        "command": f"scripts/soak.py --minutes {args.minutes:g} --snr-db {args.snr_db:g} --mod {args.mod}",
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    if args.json:
        print(json.dumps(report))
    else:
        print(json.dumps({k: v for k, v in report.items() if k != "rss_samples"}, indent=1))
    return 0 if report["unaccounted"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
