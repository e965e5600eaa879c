"""The two-stream loopback link as a GNU Radio top block, and a runner for it.

TX (``gensem_two_stream_tx``) -> channel (``gensem_ofdm_channel``) -> RX
(``gensem_two_stream_rx``) -> prompt ARQ receiver -> feedback channel -> TX, plus the
BER counter on stream 1. Over the air only the channel block is swapped for the radio.

SNR convention (see README): with one stream ``snr_db`` is Es/N0 per data subcarrier
(the active stream gets unit power per subcarrier, like the pilots and training); with
both it is the paper's average SNR (total power over total bandwidth) and stream i
gets Es/N0 = snr * f_i * N / N_i with f0 = ``prompt_power``.

Closed loop (``adaptive_plan``): ``gensem_plan_controller`` turns the RX's per-frame SNR
estimates into a new M1 and power split for the TX (Lemma 1, discrete), while an
``snr_profile`` of (average SNR dB, frames) steps changes the channel gain frame by frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from gnuradio import gr

from gensem.dsp import aggregation, qam
from gensem.dsp.channel import noise_var_for_snr
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.prompt_packet import prompt_payload
from gensem.dsp.radio_impairments import MAX_CHANNEL_CFO_SUBCARRIERS, RadioImpairments

SNR_RANGE_DB = (-10.0, 60.0)
MAX_CFO_SUBCARRIERS = MAX_CHANNEL_CFO_SUBCARRIERS  # total carrier offset the channel accepts
STREAMS = ("adaptive", "prompt", "both")


@dataclass
class LinkConfig:
    stream: str = "adaptive"
    mod: int = 16
    snr_db: float = 20.0
    channel: str = "awgn"  # awgn | rayleigh
    frames: int = 100
    text: str = ""
    prompt_power: float = 0.5
    payload_bytes: int = 256
    aggregate: int = 1  # BER-tester packets per stream-1 frame (dsp.aggregation; 1 = none)
    seed: int = 1
    cfo_subcarriers: float = 0.0
    timing_offset: int = 0
    multipath: int = 1
    pdp_decay_db: float = 6.0
    ack_loss: float = 0.0
    max_retries: int = 32
    window: int = 4
    path_gain: float = 1.0
    n_prompt_carriers: int = 24
    timeout_s: float = 600.0
    snr_profile: tuple = ()  # ((snr_db, frames), ...): the SNR changes during the run
    adaptive_plan: bool = False  # closed loop: the planner sets M1 and p0 every frame
    target_ber: float = 1e-5
    v0_bits: float = 1000
    v1_bits: float = 7880
    plan_margin_db: float = 1.0
    plan_smoothing: float = 0.3
    per_model: str = "paper"  # eq. (2)'s k, b of the closed loop's planner: paper | measured
    rx_process: bool = False  # decode in a worker process (dsp.rx_worker): TX and RX on two cores
    adaptive_payloads: tuple = ()  # stream-1 payloads (e.g. edge-map parts) instead of PRBS frames
    bridge_endpoint: str = ""  # send decoded prompt / edge parts to a GPU receiver over ZeroMQ
    bridge_pattern: str = "pub"  # pub (bind) or push (connect to a PULL receiver: nothing lost)
    n_parts: int | None = None  # send the prompt as an image prompt announcing this many edge parts
    colour_layout: bytes | None = None  # ... which also carries the image's colour layout
    first_prompt_seq: int = 0  # the first prompt's ARQ number: the image id of its edge parts
    # what the radios do (carrier/clock offsets in ppm, phase noise, IQ, DC, gain, clipping)
    impairments: RadioImpairments = field(default_factory=RadioImpairments)

    def validate(self):
        if self.snr_profile:
            if any(int(n) < 1 for _, n in self.snr_profile):
                raise ValueError("every --snr-profile step needs >= 1 frame (SNR:FRAMES)")
            for snr, _ in self.snr_profile:
                _check_snr(snr)
            self.snr_db = float(self.snr_profile[0][0])
            self.frames = int(sum(int(n) for _, n in self.snr_profile))
        if self.adaptive_plan:
            if self.stream != "both":
                raise ValueError("--adaptive-plan runs both streams: use --stream both (or leave it out)")
            if not 0 < self.target_ber < 0.2:
                raise ValueError("--target-ber must be in (0, 0.2)")
            if self.plan_margin_db < 0 or not 0 < self.plan_smoothing <= 1:
                raise ValueError("--plan-margin-db must be >= 0 and --plan-smoothing in (0, 1]")
        if self.stream not in STREAMS:
            raise ValueError(f"unknown stream {self.stream!r}; choose one of {STREAMS}")
        qam.check_m(self.mod)
        _check_snr(self.snr_db)
        if self.channel not in ("awgn", "rayleigh"):
            raise ValueError(f"unknown channel {self.channel!r}; use awgn or rayleigh")
        if self.stream in ("prompt", "both"):
            prompt_payload(self.text, self.n_parts, self.colour_layout)
        if self.bridge_pattern not in ("pub", "push"):
            raise ValueError("bridge pattern must be pub or push")
        if self.adaptive_payloads:
            if self.stream not in ("adaptive", "both") or self.adaptive_plan:
                raise ValueError("stream-1 payloads need --stream adaptive or both, without the closed loop")
            if any(not 0 < len(b) <= 8191 for b in self.adaptive_payloads):
                raise ValueError("every stream-1 payload must be 1..8191 bytes")
            self.frames = len(self.adaptive_payloads)
        if self.stream in ("adaptive", "both") and self.frames < 1:
            raise ValueError("--frames must be >= 1")
        if not 0.0 < self.prompt_power < 1.0 and self.stream == "both":
            raise ValueError("--prompt-power must be strictly between 0 and 1 with --stream both")
        if not 0 <= self.ack_loss < 1:
            raise ValueError("--ack-loss must be in [0, 1)")
        if self.multipath < 1 or self.multipath > 12:
            raise ValueError("--multipath must be 1..12 taps (inside the cyclic prefix)")
        if self.timing_offset < 0:
            raise ValueError("--timing-offset must be >= 0 samples")
        if not abs(self.cfo_subcarriers) <= MAX_CFO_SUBCARRIERS:
            raise ValueError("--cfo-subcarriers must be within +-16 subcarrier spacings")
        self.impairments = self.impairments.replace(fft_len=OfdmParams().fft_len).validate()
        if not abs(self.total_cfo_subcarriers) <= MAX_CFO_SUBCARRIERS:
            raise ValueError(
                f"total carrier offset {self.total_cfo_subcarriers:.3g} subcarrier spacings "
                f"(--cfo-subcarriers + --cfo-ppm at {self.impairments.center_freq:g} Hz, "
                f"{self.impairments.samp_rate:g} sps) must be within +-16"
            )
        if not 0 < self.payload_bytes <= 8191:
            raise ValueError("--payload-bytes must be 1..8191")
        if self.aggregate < 1 or (
            self.aggregate > 1 and self.aggregate * aggregation.subframe_bytes(self.payload_bytes) > 8191
        ):
            raise ValueError(
                f"--aggregate must be 1..{max(8191 // aggregation.subframe_bytes(self.payload_bytes), 1)} "
                f"packets of {self.payload_bytes} bytes"
            )
        if self.aggregate > 1 and self.adaptive_plan:
            raise ValueError("--aggregate and the adaptive plan's per-frame report do not go together")
        if self.max_retries < 0:
            raise ValueError("--max-retries must be >= 0")
        return self

    @property
    def total_cfo_subcarriers(self) -> float:
        """The channel's carrier offset: the scenario's plus the radios' crystals (ppm)."""
        return float(self.cfo_subcarriers) + self.impairments.cfo_subcarriers()

    def channel_kwargs(self) -> dict:
        """The radio-impairment arguments of ``gensem_ofdm_channel``."""
        return self.impairments.channel_kwargs()

    @property
    def gain_profile(self) -> list[tuple[int, float]]:
        """The SNR profile as channel gain steps relative to ``snr_db`` (the first step)."""
        return [(int(n), float(snr) - self.snr_db) for snr, n in self.snr_profile]

    def true_snr_db(self, frame: int) -> float:
        left = frame
        for snr, n in self.snr_profile:
            if left < n:
                return float(snr)
            left -= n
        return float(self.snr_profile[-1][0]) if self.snr_profile else float(self.snr_db)

    @property
    def power_fraction(self) -> float:
        if self.stream == "both":
            return float(self.prompt_power)
        return OfdmParams(n_prompt_carriers=self.n_prompt_carriers).equal_split

    @property
    def stream_es_n0_db(self) -> tuple[float, float]:
        """Es/N0 per data subcarrier of stream 0 and stream 1 (see the SNR convention)."""
        g = OfdmParams(n_prompt_carriers=self.n_prompt_carriers).stream_gains(self.power_fraction)
        return tuple(self.snr_db + 10 * math.log10(gi**2) if gi > 0 else -math.inf for gi in g)

    @property
    def noise_var(self) -> float:
        return noise_var_for_snr(self.snr_db, 1.0)


def _check_snr(snr_db):
    if not (isinstance(snr_db, (int, float)) and math.isfinite(snr_db)) or not (
        SNR_RANGE_DB[0] <= snr_db <= SNR_RANGE_DB[1]
    ):
        raise ValueError(f"SNR {snr_db} dB out of range; use {SNR_RANGE_DB[0]:g}..{SNR_RANGE_DB[1]:g} dB")


def stream_reports(cfg: LinkConfig, report: dict) -> tuple[dict | None, dict | None]:
    """(stream-1 report, prompt report) of a ``run_link`` result, None for a stream not run."""
    if cfg.stream == "both":
        return report["adaptive"], report["prompt"]
    return (report, None) if cfg.stream == "adaptive" else (None, report)


class LoopbackLink(gr.top_block):
    """The flowgraph; blocks are attributes so callers can read their counters."""

    def __init__(self, cfg: LinkConfig):
        gr.top_block.__init__(self, "gensem loopback")
        from gensem.blocks.feedback_channel import feedback_channel
        from gensem.blocks.ofdm_channel import ofdm_channel
        from gensem.blocks.plan_controller import plan_controller
        from gensem.blocks.prbs_ber_sink import prbs_ber_sink
        from gensem.blocks.prompt_arq_rx import prompt_arq_rx
        from gensem.blocks.two_stream_rx import two_stream_rx
        from gensem.blocks.two_stream_tx import two_stream_tx

        cfg.validate()
        self.cfg = cfg
        use_prompt = cfg.stream in ("prompt", "both")
        use_adaptive = cfg.stream in ("adaptive", "both")
        self.tx = two_stream_tx(
            mod=cfg.mod,
            prompt_power=cfg.power_fraction,
            prompts=[_prompt_item(cfg)] if use_prompt else [],
            prbs_frames=cfg.frames if use_adaptive and not cfg.adaptive_payloads else 0,
            prbs_bytes=cfg.payload_bytes,
            prbs_seed=cfg.seed,
            window=cfg.window if use_prompt else 0,
            max_retries=cfg.max_retries,
            n_prompt_carriers=cfg.n_prompt_carriers,
            prompt_carousel=cfg.adaptive_plan,
            # no prompt stream at all: stream 1 takes the idle B0 carriers too (wide frames)
            wide_when_idle=cfg.stream == "adaptive",
            first_seq=cfg.first_prompt_seq,
            aggregate=cfg.aggregate,
        )
        self.channel = ofdm_channel(
            noise_var=cfg.noise_var,
            fading="rayleigh" if cfg.channel == "rayleigh" else "none",
            path_gain=cfg.path_gain,
            n_taps=cfg.multipath,
            pdp_decay_db=cfg.pdp_decay_db,
            cfo_subcarriers=cfg.cfo_subcarriers,
            timing_offset=cfg.timing_offset,
            seed=cfg.seed,
            gain_profile=cfg.gain_profile,
            **cfg.channel_kwargs(),
        )
        self.rx = two_stream_rx(n_prompt_carriers=cfg.n_prompt_carriers, decode_process=cfg.rx_process)
        if cfg.rx_process:  # let the worker run ahead: the RX consumes only what it confirmed
            self.channel.gate.set_min_output_buffer(two_stream_rx.MAX_LAG)
        self.arq_rx = prompt_arq_rx()
        self.feedback = feedback_channel(loss=cfg.ack_loss, seed=cfg.seed)
        self.ber = prbs_ber_sink(seed=cfg.seed)
        self.connect(self.tx, self.channel, self.rx)
        if use_prompt:  # the ARQ loop; adaptive-only runs need no feedback
            self.msg_connect(self.rx, "frames", self.arq_rx, "frames")
            self.msg_connect(self.arq_rx, "feedback", self.feedback, "in")
            self.msg_connect(self.feedback, "out", self.tx, "feedback")
        self.payloads = None
        if cfg.adaptive_payloads:  # real payloads: keep what arrives (frame metadata + bytes)
            from gnuradio import blocks

            for data in cfg.adaptive_payloads:
                self.tx.adaptive_queue.append((bytes(data), None))
            self.payloads = blocks.message_debug()
            self.msg_connect(self.rx, "adaptive", self.payloads, "store")
        elif use_adaptive:
            self.msg_connect(self.rx, "adaptive", self.ber, "in")
        self.bridge = None
        if cfg.bridge_endpoint:  # decoded streams to a GPU receiver (docs/bridge.md)
            from gensem.blocks.edge_part_parser import edge_part_parser
            from gensem.blocks.zmq_bridge_sink import zmq_bridge_sink

            push = cfg.bridge_pattern == "push"
            self.bridge = zmq_bridge_sink(
                endpoint=cfg.bridge_endpoint, pattern=cfg.bridge_pattern, bind=not push
            )
            self.parts = edge_part_parser()
            self.msg_connect(self.rx, "adaptive", self.parts, "in")
            self.msg_connect(self.parts, "out", self.bridge, "adaptive")
            if use_prompt:
                self.msg_connect(self.arq_rx, "prompt", self.bridge, "prompt")
        self.planner = None
        if cfg.adaptive_plan:  # the closed loop: RX SNR estimates -> planner -> TX control
            n = OfdmParams(n_prompt_carriers=cfg.n_prompt_carriers)
            self.planner = plan_controller(
                v0_bits=cfg.v0_bits,
                v1_bits=cfg.v1_bits,
                target_ber=cfg.target_ber,
                margin_db=cfg.plan_margin_db,
                smoothing=cfg.plan_smoothing,
                n_prompt_carriers=n.n_prompt_carriers,
                n_adaptive_carriers=n.n_adaptive_carriers,
                per_model=cfg.per_model,
            )
            self.msg_connect(self.rx, "frames", self.planner, "frames")
            self.msg_connect(self.planner, "control", self.tx, "control")

    def progress_counters(self) -> tuple:
        """Counters of the receive side's message chain (changes while PDUs are in flight)."""
        c = [self.rx.stats.frames, self.arq_rx.frames_seen, self.ber.frames]
        if self.payloads is not None:
            c.append(self.payloads.num_messages())
        if self.bridge is not None:
            c += [
                self.parts.parsed,
                self.parts.bad_headers,
                self.bridge.total_sent,
                self.bridge.total_dropped,
            ]
        return tuple(c)


def drain(counters, settle_s: float = 0.3, max_s: float = 10.0) -> float:
    """Wait until ``counters()`` (the receive side's message-chain counters, e.g.
    ``LoopbackLink.progress_counters``) stops changing for ``settle_s`` (at most ``max_s``), so
    that no decoded PDU is still queued when the flowgraph ends: hold the TX's end
    (``two_stream_tx.hold_end``) until then. Returns the idle time waited after the last
    change (not part of the link's processing time)."""
    t_end = time.monotonic() + max_s
    last, since = None, time.monotonic()
    while time.monotonic() < t_end:
        now = counters()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= settle_s:
            break
        time.sleep(0.02)
    return time.monotonic() - since


def run_to_end(tb, counters, deadline: float, hold: bool = True, poll=None, poll_s: float = 0.02):
    """Start ``tb`` and run it until its ``two_stream_tx`` (``tb.tx``) has sent everything, or
    until the monotonic ``deadline``; with ``hold``, the TX's end waits for ``drain(counters)``.
    ``poll()`` runs every ``poll_s`` (progress display). Returns (timed_out, idle seconds)."""
    tb.tx.hold_end = hold
    tb.start()
    timed_out = False
    while True:
        if poll is not None:
            poll()
        if tb.tx.finished and tb.tx._done:
            break
        if time.monotonic() > deadline:
            timed_out = True
            break
        time.sleep(poll_s)
    idle = drain(counters) if hold and not timed_out else 0.0
    tb.tx.hold_end = False
    if timed_out:
        tb.stop()
    tb.wait()
    return timed_out, idle


def _prompt_item(cfg: LinkConfig) -> tuple:
    """The transmitter's prompt: (text, n_parts), with the colour layout when there is one."""
    if cfg.colour_layout is None:
        return (cfg.text, cfg.n_parts)
    return (cfg.text, cfg.n_parts, bytes(cfg.colour_layout))


def run_link(cfg: LinkConfig, progress: bool = False) -> dict:
    """Run the loopback to completion; return the report dict (see ``gensem link``)."""
    tb = LoopbackLink(cfg)
    bar = None
    if progress:
        from tqdm import tqdm

        total = cfg.frames if cfg.stream != "prompt" else None
        bar = tqdm(total=total, unit="frame", desc="gensem link", leave=False)
    t0 = time.monotonic()
    # Runs whose product is the decoded PDUs (edge parts, the bridge) hold the TX's end until
    # drain() has seen the receive side settle, so the last frames' PDUs are not lost. PRBS
    # runs (BER, the benchmark) end at once: the hold costs ~0.1 s of worker-RX flush latency
    # (measured: median elapsed 2.38 vs 2.28 s, 2000 frames), and their counters showed no loss.
    hold = bool(cfg.bridge_endpoint or cfg.adaptive_payloads)

    def show():
        bar.n = tb.tx.frames_sent if cfg.stream == "prompt" else tb.tx.prbs_sent
        bar.refresh()

    try:
        timed_out, idle = run_to_end(
            tb, tb.progress_counters, t0 + cfg.timeout_s, hold, poll=show if bar is not None else None
        )
    finally:
        if bar is not None:
            bar.close()
    elapsed = time.monotonic() - t0 - idle  # the drain's settle wait is idle time, not processing
    return _report(tb, cfg, elapsed, timed_out)


def _report(tb: LoopbackLink, cfg: LinkConfig, elapsed: float, timed_out: bool) -> dict:
    st = tb.rx.stats
    common = {
        "snr_db": cfg.snr_db,
        "channel": cfg.channel,
        "seed": cfg.seed,
        "frames_sent": tb.tx.frames_sent,
        "frames_received": st.frames,
        "header_failures": st.header_failures,
        "samples": tb.tx.samples_sent,
        "elapsed_s": round(elapsed, 3),
        "msps": round(tb.tx.samples_sent / elapsed / 1e6, 3) if elapsed > 0 else None,
        "timed_out": timed_out,
    }
    if not cfg.impairments.is_ideal:
        common["impairments"] = cfg.impairments.as_dict()
    out = {}
    if cfg.stream in ("adaptive", "both"):
        ber = tb.ber
        out["adaptive"] = {
            "mod": cfg.mod,
            "bits": ber.bits,
            "bit_errors": ber.bit_errors,
            "ber": ber.ber if ber.bits else None,
            "frames_sent": tb.tx.prbs_sent,
            # packets: one per frame, or ``aggregate`` per frame (each with its own CRC-32)
            "packets_sent": tb.tx.prbs_packets_sent,
            "packets_ok": ber.frames - ber.frame_errors,  # delivered without a bit error
            "packet_crc_failures": tb.rx.s1_packet_crc_failures,
            "delimiter_errors": tb.rx.s1_delimiter_errors,
            "frames_received": ber.frames,
            "frame_errors": ber.frame_errors,
            "per": (
                1 - (ber.frames - ber.frame_errors) / tb.tx.prbs_packets_sent if tb.tx.prbs_packets_sent else None
            ),
            "snr_est_db": round(ber.snr1_mean_db, 2) if ber.snr1_mean_db is not None else None,
        }
    if cfg.stream in ("prompt", "both"):
        outcomes = list(tb.tx.arq.outcomes) + ([tb.tx.arq.current] if tb.tx.arq.current else [])
        o = outcomes[0] if outcomes else None
        delivered = tb.arq_rx.delivered
        text = delivered[0][1] if delivered else None
        out["prompt"] = {
            "delivered": bool(delivered) and text == cfg.text,
            "text": text,
            "deliveries": len(delivered),
            "transmissions": o.transmissions if o else 0,
            "acked": bool(o and o.delivered),
            "failed": bool(o and o.failed),
            "failure": o.reason if o and o.failed else None,
            "crc_failures": tb.arq_rx.crc_failures,
            "duplicates": tb.arq_rx.duplicates,
            "nacks": tb.tx.arq.nacks,
            "timeouts": tb.tx.arq.timeouts,
            "acks_lost": tb.feedback.dropped,
            "prompt_power": cfg.power_fraction,
        }
    if cfg.adaptive_payloads:
        out["adaptive"] = payload_report(tb, cfg)
    if cfg.adaptive_plan:
        out["plan"] = plan_report(tb, cfg)
        # stream 1 over the frames that carried the edge map (M1 > 0): M1 = 0 frames send nothing
        sent = [r for r in out["plan"]["frames"] if r["bits"] is not None]
        bits = sum(r["bits"] for r in sent)
        errs = sum(r["bit_errors"] for r in sent)
        out["adaptive"].update(
            mod=None,
            bits=bits,
            bit_errors=errs,
            ber=errs / bits if bits else None,
            frames_received=len(sent),
            frame_errors=sum(r["bit_errors"] > 0 for r in sent),
            frames_not_sent=sum(r["mod"] == 0 for r in out["plan"]["frames"]),
            per=None,
            snr_est_db=None,
        )
    if cfg.stream == "both":
        out.update(common)
        return out
    single = out[cfg.stream]
    single.update(common)
    return single


def plan_report(tb: LoopbackLink, cfg: LinkConfig) -> dict:
    """Per frame (estimated SNR, M1 and p0 share the frame used, BER, prompt delivered) and
    per profile step (what the loop settled on against the planner's choice at the true SNR)."""
    from statistics import median

    from gensem.planner.lemma1 import solve_discrete

    ctl = {r["frame"]: r for r in tb.planner.records}
    ber = {r["frame"]: r for r in tb.ber.records}
    delivered = set(tb.arq_rx.delivered_frames)
    rows = []
    for f in range(tb.tx.prbs_sent):
        c, b = ctl.get(f), ber.get(f)
        sent = c is not None and c["rx_prompt_power"] < 1.0 - 1e-6  # M1 = 0: stream 1 at zero power
        rows.append(
            {
                "frame": f,
                "snr_db": cfg.true_snr_db(f),
                "received": c is not None,
                "snr_est_db": None if c is None else round(c["frame_snr_db"], 2),
                "avg_snr_est_db": None if c is None else round(c["avg_snr_db"], 2),
                "mod": None if c is None else (c["rx_mod"] if sent else 0),
                "prompt_power": None if c is None else round(c["rx_prompt_power"], 4),
                "bit_errors": b["bit_errors"] if (b and sent) else None,
                "bits": b["bits"] if (b and sent) else None,
                "ber": b["bit_errors"] / b["bits"] if (b and sent) else None,
                "prompt_delivered": f in delivered,
                "next_mod": None if c is None else c["modulation"],
            }
        )
    steps, start = [], 0
    params = tb.planner.tracker.params
    for snr, n in cfg.snr_profile or ((cfg.snr_db, len(rows)),):
        rs = rows[start : start + int(n)]
        start += int(n)
        settled = [r for r in rs[len(rs) // 2 :] if r["received"]]
        mods = [r["mod"] for r in settled]
        ideal = solve_discrete(
            10 ** ((float(snr) - cfg.plan_margin_db) / 10), cfg.v0_bits, cfg.v1_bits, cfg.target_ber, params
        )
        settle = None  # frames into the step until M1 is the planned one for good
        for k in range(len(rs) - 1, -1, -1):
            if rs[k]["received"] and rs[k]["mod"] != ideal["modulation"]:
                break
            settle = k
        bits = sum(r["bits"] or 0 for r in rs)
        errs = sum(r["bit_errors"] or 0 for r in rs)
        s_bits = sum(r["bits"] or 0 for r in settled)
        s_errs = sum(r["bit_errors"] or 0 for r in settled)
        steps.append(
            {
                "snr_db": float(snr),
                "frames": len(rs),
                "frames_received": sum(r["received"] for r in rs),
                "snr_est_db": round(median(r["snr_est_db"] for r in settled), 2) if settled else None,
                "modulation": max(set(mods), key=mods.count) if mods else None,
                "planned_modulation": ideal["modulation"],
                "settle_frames": settle,
                "prompt_power": round(median(r["prompt_power"] for r in settled), 4) if settled else None,
                "planned_prompt_power": round(ideal["prompt_power_fraction"], 4),
                "bits": bits,
                "bit_errors": errs,
                "ber": errs / bits if bits else None,
                "ber_settled": s_errs / s_bits if s_bits else None,
                "prompts_delivered": sum(r["prompt_delivered"] for r in rs),
            }
        )
    return {
        "target_ber": cfg.target_ber,
        "margin_db": cfg.plan_margin_db,
        "commands": tb.planner.commands,
        "steps": steps,
        "frames": rows,
    }


def payload_report(tb: LoopbackLink, cfg: LinkConfig) -> dict:
    """Stream 1 with real payloads: payload k went in frame k; bit errors against what was sent."""
    import numpy as np

    from gensem.blocks.pdu_util import parse_pdu

    received = {}
    for i in range(tb.payloads.num_messages()):
        meta, data = parse_pdu(tb.payloads.get_message(i))
        received.setdefault(int(meta["frame"]), (meta, data))
    bits = errors = 0
    rows = []
    for k, sent in enumerate(cfg.adaptive_payloads):
        meta, data = received.get(k, (None, None))
        row = {"frame": k, "received": data is not None, "bytes": len(sent)}
        if data is not None:
            a = np.unpackbits(np.frombuffer(bytes(sent), np.uint8))
            b = np.unpackbits(np.frombuffer(data[: len(sent)].ljust(len(sent), b"\0"), np.uint8))
            e = int(np.count_nonzero(a != b))
            bits += a.size
            errors += e
            row.update(bit_errors=e, mod=int(meta["mod"]), snr1_db=float(meta["snr1_db"]))
        rows.append(row)
    return {
        "mod": cfg.mod,
        "payloads_sent": len(cfg.adaptive_payloads),
        "frames_received": sum(r["received"] for r in rows),
        "bits": bits,
        "bit_errors": errors,
        "ber": errors / bits if bits else None,
        "payloads": rows,
        "received": {k: d for k, (_, d) in received.items()},
    }
