"""Record the RX input of the loopback to SigMF, and replay a recording through the RX.

``record_loopback``: the ``gensem link`` flowgraph with a ``gensem_sigmf_recorder`` on
the channel output (the samples the RX sees), plus one SigMF annotation per decoded
frame. ``replay``: ``blocks.file_source`` -> ``gensem_semantic_rx`` -> PRBS BER counter
and prompt ARQ receiver; the same decoded streams as the live run, from the file.
"""

from __future__ import annotations

import dataclasses
import math
import time

import pmt
from gnuradio import blocks, gr

from gensem.blocks.pdu_util import parse_pdu
from gensem.core import sigmf_io


def _stored(dbg) -> list[dict]:
    """Metadata dicts of the PDUs/dicts a ``blocks.message_debug`` stored."""
    out = []
    for i in range(dbg.num_messages()):
        msg = dbg.get_message(i)
        if pmt.is_dict(msg):  # test first: a pmt dict is also a pair
            out.append(dict(pmt.to_python(msg)))
        elif pmt.is_pair(msg):
            out.append(parse_pdu(msg)[0])
    return out


def record_loopback(cfg, out, samp_rate=1e6, center_freq=0.0) -> dict:
    """Run the loopback of ``cfg`` (a ``link.LinkConfig``), record the RX input to
    ``out`` (.sigmf-data/.sigmf-meta) and return the link report plus the file names."""
    from gensem.apps.link import LoopbackLink, _report, run_to_end
    from gensem.blocks.sigmf_recorder import sigmf_recorder

    cfg.validate()
    tb = LoopbackLink(cfg)
    extra = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "timeout_s"}
    extra["prbs_seed"] = cfg.seed
    extra["prbs_bytes"] = cfg.payload_bytes
    extra["prompt_power_fraction"] = cfg.power_fraction
    rec = sigmf_recorder(
        path=str(out),
        samp_rate=samp_rate,
        center_freq=center_freq,
        snr_db=cfg.snr_db,
        description=f"gensem loopback ({cfg.stream}, {cfg.channel}, {cfg.snr_db:g} dB): RX input",
        extra=extra,
    )
    tb.connect(tb.channel, rec)
    frames_dbg, events_dbg = blocks.message_debug(), blocks.message_debug()
    tb.msg_connect(tb.rx, "frames", frames_dbg, "store")
    tb.msg_connect(tb.tx, "events", events_dbg, "store")
    t0 = time.monotonic()
    # the end waits for the last frames' reports (the TX sends no samples meanwhile)
    timed_out, idle = run_to_end(
        tb, lambda: (*tb.progress_counters(), frames_dbg.num_messages()), t0 + cfg.timeout_s
    )
    rec.close()
    report = _report(tb, cfg, time.monotonic() - t0 - idle, timed_out)
    lengths = {e["frame"]: e["samples"] for e in _stored(events_dbg) if e.get("event") == "frame"}
    notes = []
    for m in _stored(frames_dbg):
        label = f"frame {m['frame']}: {m['mod']}-QAM" + (", prompt packet" if m.get("s0_present") else "")
        # the RX's start estimate can fall a few samples before the recording (a first frame at
        # sample 0 under radio impairments); SigMF annotations start at >= 0
        start = max(0, int(m["sample"]))
        notes.append(
            {
                "sample_start": start,
                "sample_count": max(0, lengths.get(m["frame"], 0) - (start - int(m["sample"]))),
                "label": label,
                "frame": m["frame"],
                "mod": m["mod"],
                "snr0_db": round(m["snr0_db"], 2),
                "snr1_db": round(m["snr1_db"], 2),
                "crc_ok": m["crc_ok"],
            }
        )
    meta = rec.write_meta(notes)
    report["recording"] = {
        "meta": str(meta),
        "data": str(sigmf_io.data_path(out)),
        "samples": sigmf_io.data_path(out).stat().st_size // 8,
        "annotations": len(notes),
    }
    return report


class ReplayGraph(gr.top_block):
    """file_source (cf32) -> gensem_semantic_rx -> PRBS BER counter; frames stored."""

    def __init__(self, data_file, prbs_seed=1, n_prompt_carriers=24):
        gr.top_block.__init__(self, "gensem replay")
        from gensem.blocks.prbs_ber_sink import prbs_ber_sink
        from gensem.blocks.semantic_rx import semantic_rx

        self.src = blocks.file_source(gr.sizeof_gr_complex, str(data_file), False)
        self.rx = semantic_rx(n_prompt_carriers=n_prompt_carriers)
        self.ber = prbs_ber_sink(seed=prbs_seed)
        self.frames = blocks.message_debug()
        self.connect(self.src, self.rx)
        self.msg_connect(self.rx, "adaptive", self.ber, "in")
        self.msg_connect(self.rx, "frames", self.frames, "store")


def replay(path, prbs_seed=None) -> dict:
    """Decode a recording; the PRBS seed and prompt subcarriers come from its metadata."""
    g, cap, data = sigmf_io.read_recording(path)
    seed = int(g.get("gensem:prbs_seed", 1) if prbs_seed is None else prbs_seed)
    tb = ReplayGraph(data, prbs_seed=seed, n_prompt_carriers=int(g.get("gensem:n_prompt_carriers", 24)))
    t0 = time.monotonic()
    tb.run()
    elapsed = time.monotonic() - t0
    frames = _stored(tb.frames)
    st, ber = tb.rx.stats, tb.ber
    texts = [t for _, t in tb.rx.delivered]
    expected = g.get("gensem:text") or None
    snr0 = [f["snr0_db"] for f in frames if f.get("s0_present") and math.isfinite(f["snr0_db"])]
    snr1 = ber.snr1_mean_db
    return {
        "file": str(sigmf_io.meta_path(path)),
        "samples": data.stat().st_size // 8,
        "sample_rate": g.get("core:sample_rate"),
        "frequency": cap.get("core:frequency"),
        "recorded_snr_db": g.get("gensem:snr_db"),
        "frames_decoded": st.frames,
        "header_failures": st.header_failures,
        "frame_numbers": [int(f["frame"]) for f in frames],
        "prompt": {
            "delivered": bool(texts),
            "text": texts[0] if texts else None,
            "texts": texts,
            "expected": expected,
            "match": (texts[0] == expected) if texts and expected else None,
            "crc_failures": tb.rx.arq_rx.crc_failures,
            "snr0_est_db": round(sum(snr0) / len(snr0), 2) if snr0 else None,
        },
        "adaptive": {
            "prbs_seed": seed,
            "frames": ber.frames,
            "bits": ber.bits,
            "bit_errors": ber.bit_errors,
            "ber": ber.ber if ber.bits else None,
            "mods": sorted(ber.mods),
            "snr1_est_db": round(snr1, 2) if snr1 is not None else None,
        },
        "elapsed_s": round(elapsed, 3),
    }
