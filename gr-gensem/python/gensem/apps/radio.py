"""``gensem radio tx|rx``: the over-the-air transmitter and receiver top blocks.

One description per graph: :func:`graph_spec` says which blocks (GRC block ids and
instance names, e.g. ``gensem_semantic_tx_0``), with which parameter values and which
stream and message connections ``gensem radio tx|rx`` runs; :class:`RadioTx` and
:class:`RadioRx` are built from it and nothing else. ``flowgraphs/{tx,rx}_{usrp,hackrf}.grc``
are the same graphs for GNU Radio Companion; ``tests/qa/test_ota_graphs.py`` checks that
each .grc, with its parameters' defaults, equals ``graph_spec`` with the CLI's defaults for
that device (docs/ota.md, "One source for the OTA graphs", lists the exceptions):

    TX: gensem_semantic_tx -> [blocks_throttle] -> gensem_radio_sink
            feedback <- gensem_zmq_feedback_source -> gensem_plan_controller -> control
    RX: gensem_radio_source -> [gensem_ofdm_channel] -> gensem_semantic_rx
            adaptive -> gensem_prbs_ber_sink, feedback -> gensem_zmq_feedback_sink
            [-> gensem_sigmf_recorder], -> blocks.null_sink (the sample counter)

The ARQ feedback (ACK/NACK) goes from the RX host to the TX host over ZeroMQ PUB/SUB
(``--feedback``), one versioned JSON message each (``core.feedback_wire``): the RX binds,
the TX connects; ``--curve-keys DIR`` (``gensem keys``) authenticates and encrypts it. A lost ACK is covered by the TX's ACK
timeout (window 0) or stall timeout (window > 0). ``--dry-run`` swaps the radio for a
throttled null sink / zero or SigMF-file source; absent hardware exits 2 with one line.
``--sim-snr-db`` and the radio-impairment options (``--radio-profile``, ``--cfo-ppm``, ...,
at ``--freq`` and ``--samp-rate``) put ``gensem_ofdm_channel`` between the radio and the RX.
The feedback dicts also carry each decoded frame's SNR estimates: with ``--adaptive-plan``
the TX host's ``gensem_plan_controller`` re-plans M1 and the power split from them (the
closed loop over the air); ``--sim-snr-profile`` steps the simulated channel's SNR at the RX
as the frames are decoded (the signal's gain against the first step's AWGN). ``--device zmq --realtime`` paces the TX samples with a throttle (a ZeroMQ "radio" has no
sample clock).
"""

from __future__ import annotations

import itertools
import time

from gnuradio import gr

from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.radio_impairments import RadioImpairments

N_PROMPT_CARRIERS = 24  # prompt subcarriers of stream 0 (the blocks' default)
FEEDBACK_TIMEOUT_MS = 100  # the feedback source's poll interval
DRY_RUN_SAMPLES = 100000  # zeros a dry-run RX reads without --replay (the block's default)
DC_BLOCKER = {"auto": None, "on": True, "off": False}  # --dc-blocker -> radio_source dc_blocker

# the top-block attribute each block of the spec is kept under (the CLI reads tb.sem, tb.ber, ...)
ATTRS = {
    "gensem_semantic_tx_0": "sem",
    "blocks_throttle_0": "pace",
    "gensem_radio_sink_0": "radio",
    "gensem_zmq_feedback_source_0": "feedback",
    "gensem_plan_controller_0": "planner",
    "gensem_radio_source_0": "radio",
    "gensem_ofdm_channel_0": "channel",
    "gensem_semantic_rx_0": "sem",
    "gensem_prbs_ber_sink_0": "ber",
    "blocks_null_sink_0": "counter",
    "gensem_sigmf_recorder_0": "recorder",
    "gensem_zmq_feedback_sink_0": "feedback",
}


def _radio_params(a):
    return {
        "device": a.device,
        "dev_args": a.args,
        "samp_rate": a.samp_rate,
        "center_freq": a.freq,
        "gain": a.gain,
        "antenna": a.antenna,
        "dry_run": a.dry_run,
    }


def graph_spec(role, a):
    """The graph of ``gensem radio ROLE`` with the parsed options ``a``::

        {"blocks": {name: (grc_block_id, {param: value})},   # in construction order
         "connections": [(src, port, dst, port)],            # stream, ports are ints
         "msg_connections": [(src, port, dst, port)]}        # message ports by name

    Names and block ids are those of the GRC flowgraphs; parameter names are the block
    YAML's (= the constructors' keyword arguments), values are Python values."""
    if role == "tx":
        return _tx_spec(a)
    if role == "rx":
        return _rx_spec(a)
    raise ValueError(f"role must be tx or rx, got {role!r}")


def _tx_spec(a):
    blocks = {
        "gensem_semantic_tx_0": (
            "gensem_semantic_tx",
            {
                "mod": a.mod,
                "prompt_power": a.prompt_power,
                "prompts": [a.text] if a.text else [],
                "prbs_frames": a.frames,
                "prbs_bytes": a.payload_bytes,
                "prbs_seed": a.seed,
                "window": a.window,
                "max_retries": a.max_retries,
                "ack_timeout": a.ack_timeout,
                "stall_timeout": a.ack_timeout,
                "finish": True,
                "scale": a.scale,
                "n_prompt_carriers": N_PROMPT_CARRIERS,
            },
        ),
    }
    chain = ["gensem_semantic_tx_0"]
    if getattr(a, "realtime", False) and a.device == "zmq" and not a.dry_run:
        # a ZeroMQ "radio" has no sample clock: pace the samples at --samp-rate like one
        blocks["blocks_throttle_0"] = (
            "blocks_throttle",
            {"type": "complex", "samples_per_second": float(a.samp_rate)},
        )
        chain.append("blocks_throttle_0")
    blocks["gensem_radio_sink_0"] = ("gensem_radio_sink", _radio_params(a))
    chain.append("gensem_radio_sink_0")
    msgs = []
    if a.feedback:
        blocks["gensem_zmq_feedback_source_0"] = (
            "gensem_zmq_feedback_source",
            {
                "address": a.feedback,
                "bind": False,
                "curve_keys": getattr(a, "curve_keys", "") or "",
                "timeout_ms": FEEDBACK_TIMEOUT_MS,
            },
        )
        msgs.append(("gensem_zmq_feedback_source_0", "out", "gensem_semantic_tx_0", "feedback"))
        # the planner's closed loop over the air: the feedback dicts carry each frame's SNR
        # estimates; enabled by --adaptive-plan (otherwise the reports are only counted)
        blocks["gensem_plan_controller_0"] = (
            "gensem_plan_controller",
            {
                "v0_bits": float(getattr(a, "v0_bits", 1000.0)),
                "v1_bits": float(getattr(a, "v1_bits", 7880.0)),
                "target_ber": float(getattr(a, "target_ber", None) or 1e-5),
                "margin_db": 1.0,
                "smoothing": 0.3,
                "n_prompt_carriers": N_PROMPT_CARRIERS,
                "n_adaptive_carriers": OfdmParams(n_prompt_carriers=N_PROMPT_CARRIERS).n_adaptive_carriers,
                "keep_records": True,
                "enabled": bool(getattr(a, "adaptive_plan", False)),
                "per_model": getattr(a, "per_model", "paper"),
            },
        )
        msgs += [
            ("gensem_zmq_feedback_source_0", "out", "gensem_plan_controller_0", "reports"),
            ("gensem_plan_controller_0", "control", "gensem_semantic_tx_0", "control"),
        ]
    conns = [(src, 0, dst, 0) for src, dst in itertools.pairwise(chain)]
    return {"blocks": blocks, "connections": conns, "msg_connections": msgs}


def _rx_spec(a):
    radio = dict(
        _radio_params(a),
        replay_file=a.replay or "",
        dry_run_samples=DRY_RUN_SAMPLES,
        dc_blocker=DC_BLOCKER[getattr(a, "dc_blocker", "auto")],
    )
    blocks = {"gensem_radio_source_0": ("gensem_radio_source", radio)}
    conns = []
    head = "gensem_radio_source_0"
    imp = getattr(a, "impairments", None) or RadioImpairments()
    profile = getattr(a, "sim_snr_profile", ()) or ()
    if a.sim_snr_db is not None or profile or not imp.is_ideal:
        # a simulated channel on the received samples (zmq / dry-run tests): AWGN and the
        # radio impairments, levels relative to the TX's samples (power scale**2 per subcarrier)
        from gensem.dsp.channel import noise_var_for_snr

        nv = 0.0 if a.sim_snr_db is None else noise_var_for_snr(a.sim_snr_db, a.scale**2)
        extra = {}
        if profile:  # the SNR steps as the receiver decodes frames (--sim-snr-profile): AWGN at
            # the first step's SNR, the signal's gain stepped relative to it (as gensem link does)
            firsts = itertools.accumulate([0] + [n for _, n in profile[:-1]])
            steps = [(f, snr - profile[0][0]) for f, (snr, _) in zip(firsts, profile)]
            nv, extra = noise_var_for_snr(profile[0][0], a.scale**2), {"gain_steps": steps}
        blocks["gensem_ofdm_channel_0"] = (
            "gensem_ofdm_channel",
            dict(noise_var=nv, seed=a.seed, signal_power=a.scale**2, **imp.channel_kwargs(), **extra),
        )
        conns.append((head, 0, "gensem_ofdm_channel_0", 0))
        head = "gensem_ofdm_channel_0"
    blocks["gensem_semantic_rx_0"] = (
        "gensem_semantic_rx",
        {"n_prompt_carriers": N_PROMPT_CARRIERS, "decode_process": a.decode_process},
    )
    # no per-frame records: the CLI reports the totals, and a long run would keep them all
    blocks["gensem_prbs_ber_sink_0"] = ("gensem_prbs_ber_sink", {"seed": a.seed, "keep_records": False})
    blocks["blocks_null_sink_0"] = ("blocks_null_sink", {"type": "complex"})  # samples the receiver was given
    conns += [(head, 0, "gensem_semantic_rx_0", 0), ("gensem_radio_source_0", 0, "blocks_null_sink_0", 0)]
    msgs = [("gensem_semantic_rx_0", "adaptive", "gensem_prbs_ber_sink_0", "in")]
    if profile:
        msgs.append(("gensem_semantic_rx_0", "frames", "gensem_ofdm_channel_0", "frames"))
    if a.record:
        blocks["gensem_sigmf_recorder_0"] = (
            "gensem_sigmf_recorder",
            {
                "path": a.record,
                "samp_rate": a.samp_rate,
                "center_freq": a.freq,
                "gain_db": a.gain,
                "snr_db": float("nan") if a.sim_snr_db is None else a.sim_snr_db,
                "description": f"gensem radio rx ({a.device}, args {a.args!r})",
                "extra": {
                    "prbs_seed": a.seed,
                    "device": a.device,
                    "dev_args": a.args,
                    "n_prompt_carriers": N_PROMPT_CARRIERS,
                },
            },
        )
        conns.append((head, 0, "gensem_sigmf_recorder_0", 0))
    if a.feedback:
        blocks["gensem_zmq_feedback_sink_0"] = (
            "gensem_zmq_feedback_sink",
            {"address": a.feedback, "bind": True, "curve_keys": getattr(a, "curve_keys", "") or ""},
        )
        msgs.append(("gensem_semantic_rx_0", "feedback", "gensem_zmq_feedback_sink_0", "in"))
    return {"blocks": blocks, "connections": conns, "msg_connections": msgs}


_ITEM_SIZE = {"complex": gr.sizeof_gr_complex}


def _make(block_id, params):
    """One block of a spec: ``block_id``'s constructor with ``params`` as keyword arguments."""
    if block_id == "blocks_throttle":
        from gnuradio import blocks

        return blocks.throttle(_ITEM_SIZE[params["type"]], float(params["samples_per_second"]))
    if block_id == "blocks_null_sink":
        from gnuradio import blocks

        return blocks.null_sink(_ITEM_SIZE[params["type"]])
    if block_id == "gensem_semantic_tx":
        from gensem.blocks.semantic_tx import semantic_tx as cls
    elif block_id == "gensem_radio_sink":
        from gensem.blocks.radio_sink import radio_sink as cls
    elif block_id == "gensem_radio_source":
        from gensem.blocks.radio_source import radio_source as cls
    elif block_id == "gensem_ofdm_channel":
        from gensem.blocks.ofdm_channel import ofdm_channel as cls
    elif block_id == "gensem_semantic_rx":
        from gensem.blocks.semantic_rx import semantic_rx as cls
    elif block_id == "gensem_prbs_ber_sink":
        from gensem.blocks.prbs_ber_sink import prbs_ber_sink as cls
    elif block_id == "gensem_sigmf_recorder":
        from gensem.blocks.sigmf_recorder import sigmf_recorder as cls
    elif block_id == "gensem_plan_controller":
        from gensem.blocks.plan_controller import plan_controller as cls
    elif block_id == "gensem_zmq_feedback_sink":
        from gensem.blocks.zmq_feedback_sink import zmq_feedback_sink as cls
    elif block_id == "gensem_zmq_feedback_source":
        from gensem.blocks.zmq_feedback_source import zmq_feedback_source as cls
    else:
        raise ValueError(f"no constructor for block id {block_id!r}")
    return cls(**params)


def _build(tb, spec):
    """Make the blocks of ``spec`` (kept as ``tb.<ATTRS[name]>``) and connect them."""
    made = {}
    for name, (block_id, params) in spec["blocks"].items():
        made[name] = _make(block_id, params)
        setattr(tb, ATTRS.get(name, name), made[name])
    for src, sport, dst, dport in spec["connections"]:
        tb.connect((made[src], sport), (made[dst], dport))
    for src, sport, dst, dport in spec["msg_connections"]:
        tb.msg_connect(made[src], sport, made[dst], dport)
    return made


class RadioTx(gr.top_block):
    def __init__(self, a):
        gr.top_block.__init__(self, "gensem radio tx")
        self.feedback = self.planner = None
        self.spec = graph_spec("tx", a)
        _build(self, self.spec)
        if self.planner is not None:  # reports about another transmitter run's frames are foreign
            self.planner.session = self.sem.tx.arq.session


class RadioRx(gr.top_block):
    def __init__(self, a):
        gr.top_block.__init__(self, "gensem radio rx")
        self.recorder = self.feedback = None
        self.spec = graph_spec("rx", a)
        _build(self, self.spec)


def _stop_signals() -> dict:
    """Ctrl-C and SIGTERM (kill, systemd) both stop the run with its report: set here
    explicitly, because a process started in the background of a script inherits SIGINT
    ignored, and SIGTERM would otherwise end it without one. Returns the previous handlers
    (none when not on the main thread, where Python cannot set them)."""
    import signal
    import threading

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}


def _run(tb, done, duration):
    """Start; stop when ``done()`` holds, ``duration`` s pass, Ctrl-C / SIGTERM, or the graph ends."""
    import signal

    previous = _stop_signals()
    try:
        return _run_until(tb, done, duration)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run_until(tb, done, duration):
    import threading

    t0 = time.monotonic()
    waiter = threading.Thread(target=tb.wait, daemon=True)
    try:
        tb.start()  # a Ctrl-C here (delivered once start returns) still stops the graph below
        waiter.start()
        while waiter.is_alive() and not done():
            if duration and time.monotonic() - t0 > duration:
                break
            time.sleep(0.02)
    except KeyboardInterrupt:
        pass
    finally:  # never leave a running flowgraph to the interpreter's exit (it can hang there)
        tb.stop()
        if waiter.is_alive():
            waiter.join()
        else:
            tb.wait()
    return time.monotonic() - t0
