"""CDM-JSCC over the two-stream loopback flowgraph: side information as bits on stream 0
(CRC + conv code + ARQ), JSCC symbols as analog complex symbols on stream 1.

``send_over_link`` builds the same blocks as ``link.LoopbackLink`` (``gensem_two_stream_tx``
-> ``gensem_ofdm_channel`` -> ``gensem_two_stream_rx`` -> ``gensem_prompt_arq_rx`` ->
feedback -> TX); only the channel would change over the air.

Stream 0 carries one container (``dsp.jscc_container``: ``GJ`` | version 1 | side-info
bytes (u16) | symbols (u32) | side info), cut into packets of at most 505 bytes, each with
its CRC-32 and its own stop-and-wait ARQ, reassembled in ARQ order. Stream 1 carries the symbols as analog frames
(``analog_frame_symbols`` each); ``dsp.analog_assembler`` puts them back and zero-fills
the frames whose header was lost.

SNR convention (``link``): ``snr_db`` is the average SNR over both streams; stream 1 gets
Es/N0 = snr_db + 10 log10(g1^2), g1^2 = (1 - f0) N / N1 (= 1 at the default f0 = 0.5 with
24/24 carriers), so the delivered symbols carry noise of variance 10^(-snr_db/10) / g1^2.
"""

from __future__ import annotations

import math
import time

import numpy as np

from gensem.core import jscc_container
from gensem.core.analog_assembler import AnalogAssembler, AnalogFrame
from gensem.dsp.channel import noise_var_for_snr
from gensem.dsp.prompt_packet import MAX_PROMPT_BYTES

MAX_SIDE_INFO_BYTES = jscc_container.MAX_SIDE_INFO_BYTES
MAX_SYMBOLS = jscc_container.MAX_SYMBOLS
CHANNELS = ("awgn", "rayleigh")


def _check(side_info, symbols, snr_db, channel, prompt_power, frame_symbols):
    if not isinstance(side_info, (bytes, bytearray, memoryview)):
        raise ValueError(f"side_info must be bytes, got {type(side_info).__name__}")
    if len(side_info) > MAX_SIDE_INFO_BYTES:
        raise ValueError(
            f"side_info of {len(side_info)} bytes exceeds {MAX_SIDE_INFO_BYTES}; split the image"
        )
    if not isinstance(symbols, np.ndarray) or symbols.dtype != np.complex64 or symbols.ndim != 1:
        raise ValueError("symbols must be a 1-D numpy complex64 array (np.asarray(x, np.complex64).ravel())")
    if not 0 < symbols.size <= MAX_SYMBOLS:
        raise ValueError(f"symbols must hold 1..{MAX_SYMBOLS} values, got {symbols.size}")
    if not np.all(np.isfinite(symbols)):
        raise ValueError("symbols contain NaN or inf; check the JSCC encoder output")
    from gensem.apps.link import _check_snr

    _check_snr(snr_db)
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; use one of {CHANNELS}")
    if not 0.0 < prompt_power < 1.0:
        raise ValueError("prompt_power must be strictly between 0 and 1 (both streams are used)")
    if not 0 < frame_symbols <= 8191:
        raise ValueError("frame_symbols must be in 1..8191 (the 13-bit header field)")


def fragment(side_info: bytes, n_symbols: int) -> list[bytes]:
    """The stream-0 container (``dsp.jscc_container``) cut into ARQ packet payloads (<= 505 bytes)."""
    return jscc_container.fragment(side_info, n_symbols, MAX_PROMPT_BYTES)


def reassemble(delivered: list[tuple[int, bytes]]) -> tuple[bytes, int] | None:
    """(side info, symbol count) from the ARQ deliveries (seq, payload), None if incomplete."""
    if not delivered or [s for s, _ in delivered] != list(range(len(delivered))):
        return None
    try:
        return jscc_container.unpack(b"".join(p for _, p in delivered))
    except jscc_container.ContainerError:
        return None


def _flowgraph(
    snr_db,
    channel,
    seed,
    prompt_power,
    max_retries,
    frame_symbols,
    window,
    n_symbols,
    bridge,
    impairments=None,
):
    from gnuradio import blocks, gr

    from gensem.blocks.feedback_channel import feedback_channel
    from gensem.blocks.ofdm_channel import ofdm_channel
    from gensem.blocks.prompt_arq_rx import prompt_arq_rx
    from gensem.blocks.two_stream_rx import two_stream_rx
    from gensem.blocks.two_stream_tx import two_stream_tx

    tb = gr.top_block("gensem cdm-jscc loopback")
    tb.tx = two_stream_tx(
        prompt_power=prompt_power,
        window=window,
        max_retries=max_retries,
        analog_frame_symbols=frame_symbols,
        max_queue=max(1024, -(-n_symbols // frame_symbols)),
    )
    # the simulated radios (dsp.radio_impairments.RadioImpairments)
    radio = {} if impairments is None else impairments.channel_kwargs()
    tb.channel = ofdm_channel(
        noise_var=noise_var_for_snr(snr_db),
        fading="rayleigh" if channel == "rayleigh" else "none",
        seed=seed,
        **radio,
    )
    tb.rx = two_stream_rx()
    tb.arq_rx = prompt_arq_rx(raw=True)  # side information is binary: published as delivered
    tb.feedback = feedback_channel(seed=seed)
    tb.analog = blocks.message_debug()
    tb.connect(tb.tx, tb.channel, tb.rx)
    tb.msg_connect(tb.rx, "frames", tb.arq_rx, "frames")
    tb.msg_connect(tb.arq_rx, "feedback", tb.feedback, "in")
    tb.msg_connect(tb.feedback, "out", tb.tx, "feedback")
    tb.msg_connect(tb.rx, "adaptive", tb.analog, "store")
    tb.bridge = None
    if bridge:  # the same PDUs to a remote receiver (gensem-receiver --backend cdm-jscc)
        from gensem.blocks.zmq_bridge_sink import zmq_bridge_sink

        pub = bridge["pattern"] == "pub"  # PUB binds; PUSH connects to the receiver's PULL (nothing lost)
        tb.bridge = zmq_bridge_sink(
            endpoint=bridge["endpoint"],
            pattern=bridge["pattern"],
            bind=pub,
            stream0="side",
            curve_keys=bridge.get("curve_keys", ""),
        )
        tb.msg_connect(tb.arq_rx, "prompt", tb.bridge, "prompt")
        tb.msg_connect(tb.rx, "adaptive", tb.bridge, "adaptive")
    return tb


def send_over_link(
    side_info: bytes,
    symbols: np.ndarray,
    snr_db: float,
    *,
    channel: str = "awgn",
    seed: int = 0,
    max_retries: int = 16,
    timeout_s: float = 120.0,
    prompt_power: float = 0.5,
    frame_symbols: int = 2400,
    window: int = 4,
    bridge: dict | None = None,
    impairments=None,
) -> dict:
    """Send side information (stream 0, ARQ) and JSCC symbols (stream 1, analog) through the
    loopback flowgraph.

    Returns side_info (None if the ARQ gave up on any packet), symbols (complex64, same
    length, zeros where frames were lost), lost_symbols, lost_ranges, snr_est_db and
    noise_var_est (from the RX's estimate of the delivered symbols' error variance),
    stream0_transmissions, stream0_packets, frames (analog frames sent), frames_received,
    frames_total (all frames on air), timed_out, elapsed_s.

    ``bridge``: ``{"endpoint": ..., "pattern": "pub" | "push"}`` also sends the decoded PDUs
    (side-information packets and analog frames) over the ZeroMQ bridge, for a receiver on
    another host (PUB binds, e.g. tcp://*:5555; PUSH connects to the receiver's
    PULL, e.g. tcp://gpu-host:5555); the report then has ``bridge_sent`` / ``bridge_dropped``.
    ``impairments``: a ``dsp.radio_impairments.RadioImpairments`` for the simulated radios.
    """
    _check(side_info, symbols, snr_db, channel, prompt_power, frame_symbols)
    if max_retries < 0 or not timeout_s > 0:
        raise ValueError("max_retries must be >= 0 and timeout_s > 0")
    from gensem.blocks.pdu_util import parse_c32_pdu

    t0 = time.monotonic()
    tb = _flowgraph(
        snr_db,
        channel,
        seed,
        prompt_power,
        max_retries,
        frame_symbols,
        window,
        symbols.size,
        bridge,
        impairments,
    )
    packets = fragment(side_info, symbols.size)
    for p in packets:
        tb.tx.submit_bytes(p)
    n_frames = tb.tx.queue_analog(symbols)
    from gensem.apps.link import run_to_end

    # the end waits until the last analog frames' PDUs have reached tb.analog
    def progress():
        sent = (tb.bridge.total_sent, tb.bridge.total_dropped) if tb.bridge else ()
        return (tb.rx.stats.frames, tb.arq_rx.frames_seen, tb.analog.num_messages(), *sent)

    timed_out, idle = run_to_end(
        tb,
        progress,
        t0 + timeout_s,
        poll_s=0.01,
    )
    got = reassemble(tb.arq_rx.arq.delivered)
    n_sym = got[1] if got and got[1] == symbols.size else symbols.size
    asm = AnalogAssembler(n_sym)
    for i in range(tb.analog.num_messages()):
        pdu = parse_c32_pdu(tb.analog.get_message(i))
        if pdu is None or not pdu[0].get("analog"):
            continue
        meta, sym = pdu
        asm.add(
            AnalogFrame(int(meta["frame"]), bool(meta["first"]), bool(meta["last"]), sym, meta["noise_var1"])
        )
    msg = asm.assemble()
    arq = tb.tx.arq
    outcomes = list(arq.outcomes) + ([arq.current] if arq.current else [])
    n0 = tb.tx.params.n_prompt_carriers
    uses = sum(o.transmissions * stream0_channel_uses(len(o.payload), n0) for o in outcomes)
    nv = msg.noise_var
    extra = {}
    if tb.bridge is not None:
        extra = {"bridge_sent": dict(tb.bridge.sent), "bridge_dropped": tb.bridge.total_dropped}
    return {
        **extra,
        "side_info": got[0] if got else None,
        "symbols": msg.symbols,
        "lost_symbols": msg.lost_symbols,
        "lost_ranges": msg.lost_ranges,
        "snr_est_db": msg.snr_db,
        "noise_var_est": nv,
        "stream0_transmissions": int(sum(o.transmissions for o in outcomes)),
        "stream0_packets": len(packets),
        "stream0_channel_uses": int(uses),
        "frames": n_frames,
        "frames_received": msg.frames,
        "frames_total": tb.tx.frames_sent,
        "timed_out": timed_out,
        "elapsed_s": round(time.monotonic() - t0 - idle, 3),  # without drain()'s settle wait
    }


def stream0_channel_uses(payload_bytes: int, n_prompt_carriers: int = 24) -> int:
    """Channel uses (stream-0 subcarrier x OFDM symbol) of one transmission of a stream-0
    packet: session, seq, payload and CRC-32, conv-coded at rate 1/2 with 6 tail bits, QPSK,
    on whole OFDM symbols of ``n_prompt_carriers``."""
    from gensem.dsp import prompt_packet

    qpsk = 8 * (payload_bytes + prompt_packet.OVERHEAD) + 6  # 2 coded bits per QPSK symbol
    return -(-qpsk // n_prompt_carriers) * n_prompt_carriers


def expected_noise_var(snr_db: float, prompt_power: float = 0.5, n_prompt_carriers: int = 24) -> float:
    """Error variance of the delivered symbols at ``snr_db`` (average SNR) on AWGN."""
    from gensem.dsp.frame_header import quantize_power
    from gensem.dsp.ofdm_params import OfdmParams

    g1 = OfdmParams(n_prompt_carriers=n_prompt_carriers).stream_gains(quantize_power(prompt_power) / 255)[1]
    return noise_var_for_snr(snr_db) / g1**2 if g1 > 0 else math.inf
