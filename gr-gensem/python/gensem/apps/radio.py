"""``gensem radio tx|rx``: the over-the-air transmitter and receiver top blocks.

The same graphs as ``flowgraphs/{tx,rx}_{usrp,hackrf}.grc``:

    TX: gensem_semantic_tx -> gensem_radio_sink            (feedback <- zeromq.sub_msg_source)
    RX: gensem_radio_source -> [gensem_sigmf_recorder] -> gensem_semantic_rx
            feedback -> zeromq.pub_msg_sink, adaptive -> PRBS BER counter

The ARQ feedback (ACK/NACK) goes from the RX host to the TX host over ZeroMQ PUB/SUB
(``--feedback``): the RX binds, the TX connects. A lost ACK is covered by the TX's ACK
timeout (window 0) or stall timeout (window > 0). ``--dry-run`` swaps the radio for a
throttled null sink / zero or SigMF-file source; absent hardware exits 2 with one line.
``--sim-snr-db`` and the radio-impairment options (``--radio-profile``, ``--cfo-ppm``, ...,
at ``--freq`` and ``--samp-rate``) put ``gensem_ofdm_channel`` between the radio and the RX.
"""

from __future__ import annotations

import time

from gnuradio import gr

from gensem.dsp.radio_impairments import RadioImpairments


def _zmq(make, address, bind):
    """A ZMQ message block on ``address`` (100 ms timeout); ValueError with the fix."""
    try:
        return make(address, 100, bind)
    except RuntimeError as exc:
        raise ValueError(f"bad --feedback address {address!r} ({exc}); use tcp://HOST:PORT") from None


class RadioTx(gr.top_block):
    def __init__(self, a):
        gr.top_block.__init__(self, "gensem radio tx")
        from gensem.blocks.radio_sink import radio_sink
        from gensem.blocks.semantic_tx import semantic_tx

        self.sem = semantic_tx(
            mod=a.mod,
            prompt_power=a.prompt_power,
            prompts=[a.text] if a.text else [],
            prbs_frames=a.frames,
            prbs_bytes=a.payload_bytes,
            prbs_seed=a.seed,
            window=a.window,
            max_retries=a.max_retries,
            ack_timeout=a.ack_timeout,
            stall_timeout=a.ack_timeout,
            scale=a.scale,
        )
        self.radio = radio_sink(a.device, a.args, a.samp_rate, a.freq, a.gain, a.antenna, a.dry_run)
        if getattr(a, "realtime", False) and a.device == "zmq" and not a.dry_run:
            from gnuradio import blocks

            # a ZeroMQ "radio" has no sample clock: pace the samples at --samp-rate like one
            self.pace = blocks.throttle(gr.sizeof_gr_complex, float(a.samp_rate))
            self.connect(self.sem, self.pace, self.radio)
        else:
            self.connect(self.sem, self.radio)
        self.feedback = None
        if a.feedback:
            from gnuradio import zeromq

            self.feedback = _zmq(zeromq.sub_msg_source, a.feedback, False)
            self.msg_connect(self.feedback, "out", self.sem, "feedback")


class RadioRx(gr.top_block):
    def __init__(self, a):
        gr.top_block.__init__(self, "gensem radio rx")
        from gensem.blocks.prbs_ber_sink import prbs_ber_sink
        from gensem.blocks.radio_source import radio_source
        from gensem.blocks.semantic_rx import semantic_rx

        self.radio = radio_source(
            a.device,
            a.args,
            a.samp_rate,
            a.freq,
            a.gain,
            a.antenna,
            a.dry_run,
            a.replay or "",
            dc_blocker={"auto": None, "on": True, "off": False}[getattr(a, "dc_blocker", "auto")],
        )
        self.sem = semantic_rx(decode_process=a.decode_process)
        self.ber = prbs_ber_sink(seed=a.seed)
        head = self.radio
        imp = getattr(a, "impairments", None) or RadioImpairments()
        if a.sim_snr_db is not None or not imp.is_ideal:
            # a simulated channel on the received samples (zmq / dry-run tests): AWGN and the
            # radio impairments, levels relative to the TX's samples (power scale**2 per subcarrier)
            from gensem.blocks.ofdm_channel import ofdm_channel
            from gensem.dsp.channel import noise_var_for_snr

            nv = 0.0 if a.sim_snr_db is None else noise_var_for_snr(a.sim_snr_db, a.scale**2)
            self.channel = ofdm_channel(
                noise_var=nv, seed=a.seed, signal_power=a.scale**2, **imp.channel_kwargs()
            )
            self.connect(head, self.channel)
            head = self.channel
        self.connect(head, self.sem)
        from gnuradio import blocks

        self.counter = blocks.null_sink(gr.sizeof_gr_complex)  # samples the receiver was given
        self.connect(self.radio, self.counter)
        self.msg_connect(self.sem, "adaptive", self.ber, "in")
        self.recorder = None
        if a.record:
            from gensem.blocks.sigmf_recorder import sigmf_recorder

            self.recorder = sigmf_recorder(
                a.record,
                a.samp_rate,
                a.freq,
                a.gain,
                float("nan") if a.sim_snr_db is None else a.sim_snr_db,
                f"gensem radio rx ({a.device}, args {a.args!r})",
                {"prbs_seed": a.seed, "device": a.device, "dev_args": a.args, "n_prompt_carriers": 24},
            )
            self.connect(head, self.recorder)
        if a.feedback:
            from gnuradio import zeromq

            self.feedback = _zmq(zeromq.pub_msg_sink, a.feedback, True)
            self.msg_connect(self.sem, "feedback", self.feedback, "in")


def _run(tb, done, duration):
    """Start; stop when ``done()`` holds, ``duration`` s pass, Ctrl-C, or the graph ends."""
    import threading

    t0 = time.monotonic()
    tb.start()
    waiter = threading.Thread(target=tb.wait, daemon=True)
    waiter.start()
    try:
        while waiter.is_alive() and not done():
            if duration and time.monotonic() - t0 > duration:
                break
            time.sleep(0.02)
    except KeyboardInterrupt:
        pass
    tb.stop()
    waiter.join()
    return time.monotonic() - t0
