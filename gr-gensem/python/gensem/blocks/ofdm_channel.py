"""GNU Radio hier block ``gensem_ofdm_channel``: the simulated radio channel.

    in -> gensem_block_fading (block Rayleigh fading with path loss per eq. (1),
          multipath, per-frame gain profile; only when asked for)
       -> carrier offset (``cfo_subcarriers`` + ``cfo_ppm`` of ``center_freq``): blocks.rotator_cc,
          or, with a sample-clock offset, channels.channel_model(frequency_offset, epsilon)
       -> blocks.delay (timing offset)
       -> channels.phase_noise_gen (LO phase noise)
       -> + analog.noise_source_c (AWGN, variance ``noise_var`` per sample = N0 per subcarrier)
       -> channels.iqbal_gen (receiver IQ imbalance, mode 1) -> blocks.add_const_cc (DC offset)
       -> blocks.multiply_const_cc (receiver gain) -> analog.rail_ff on I and Q (ADC clipping)
       -> blocks.tag_gate -> out

``gain_steps`` ((first frame, gain dB), ...) with the message input ``frames`` (the
receiver's decoded-frame PDUs) steps the signal's gain before the AWGN as the frames go by:
an SNR profile for a receiver that sees only samples (``gensem radio rx --sim-snr-profile``).

Each radio stage is inserted only when its impairment is non-zero, so the ideal channel is
the same flowgraph as before. The models, their sign conventions and the radio profiles are
in ``dsp.radio_impairments`` (the numpy core the QA tests compare with). channel_model's
``epsilon = 1 + sfo_ppm * 1e-6`` is the transmitter's sample clock relative to the
receiver's: > 1 means the receiver's clock is slow (N / epsilon samples come out).

Stock C++ blocks do the per-sample work; the receiver sees bare samples (tags gated),
like a radio. Over the air this block is the only thing replaced.
"""

from __future__ import annotations

import math

import pmt
from gnuradio import analog, blocks, gr

from gensem.blocks.pdu_util import pdu_fields
from gensem.dsp.arq import unwrap_frame
from gensem.dsp.radio_impairments import RadioImpairments


class ofdm_channel(gr.hier_block2):
    MESSAGE_INPUTS = ("frames",)

    def __init__(
        self,
        noise_var=0.0,
        fading="none",
        path_gain=1.0,
        n_taps=1,
        pdp_decay_db=6.0,
        cfo_subcarriers=0.0,
        timing_offset=0,
        seed=0,
        fft_len=64,
        gain_profile=(),
        cfo_ppm=0.0,
        sfo_ppm=0.0,
        dc_offset_db=None,
        iq_amp_db=0.0,
        iq_phase_deg=0.0,
        phase_noise_dbc=None,
        phase_noise_bw_hz=100e3,
        level_db=0.0,
        clip_percent=0.0,
        center_freq=2.45e9,
        samp_rate=2e6,
        signal_power=1.0,
        gain_steps=(),
    ):
        gr.hier_block2.__init__(
            self,
            "gensem_ofdm_channel",
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
            gr.io_signature(1, 1, gr.sizeof_gr_complex),
        )
        if fading not in ("none", "rayleigh"):
            raise ValueError(f"unknown fading model {fading!r}; use 'none' or 'rayleigh'")
        if noise_var < 0 or timing_offset < 0 or n_taps < 1:
            raise ValueError("noise_var and timing_offset must be >= 0, n_taps >= 1")
        if not signal_power > 0:
            raise ValueError("signal_power (power per used subcarrier) must be > 0")
        self.impairments = imp = RadioImpairments(
            cfo_ppm=float(cfo_ppm),
            sfo_ppm=float(sfo_ppm),
            dc_offset_db=None if dc_offset_db is None else float(dc_offset_db),
            iq_amp_db=float(iq_amp_db),
            iq_phase_deg=float(iq_phase_deg),
            phase_noise_dbc=None if phase_noise_dbc is None else float(phase_noise_dbc),
            phase_noise_bw_hz=float(phase_noise_bw_hz),
            level_db=float(level_db),
            clip_percent=float(clip_percent),
            center_freq=float(center_freq),
            samp_rate=float(samp_rate),
            fft_len=int(fft_len),
        ).validate()
        chain = []  # (first block, last block) of each stage, in order
        self.fading = None
        if fading != "none" or n_taps > 1 or path_gain != 1.0 or len(gain_profile):
            from gensem.blocks.block_fading import block_fading

            self.fading = block_fading(fading, path_gain, n_taps, pdp_decay_db, seed, gain_profile)
            chain.append(self.fading)
        # carrier offset in cycles per sample: the scenario's offset plus the radios' crystals
        self.cfo_cycles = float(cfo_subcarriers) / fft_len + imp.cfo_cycles_per_sample()
        if imp.sfo_ppm:
            from gnuradio import channels

            # block_tags: the TX's length tags must not reach the resampler's output
            chain.append(channels.channel_model(0.0, self.cfo_cycles, imp.epsilon(), [1.0], int(seed), True))
        elif self.cfo_cycles:
            chain.append(blocks.rotator_cc(2 * math.pi * self.cfo_cycles))
        if timing_offset:
            chain.append(blocks.delay(gr.sizeof_gr_complex, int(timing_offset)))
        if imp.phase_noise_dbc is not None:
            from gnuradio import channels

            a = imp.phase_noise_alpha()
            # phase_noise_gen: Gaussian (std = mag) -> single_pole_iir(alpha) -> exp(j phase);
            # the IIR output variance is mag^2 * alpha / (2 - alpha). Its noise source has a fixed
            # seed (42) inside the stock block: the phase-noise realisation ignores ``seed``.
            mag = math.sqrt(imp.phase_noise_var() * (2 - a) / a)
            chain.append(channels.phase_noise_gen(mag, a))
        self.step_gain = None
        if len(gain_steps):  # before the noise: the gain of the samples passing now (see _GainStepper)
            self.step_gain = blocks.multiply_const_cc(10 ** (float(min(gain_steps)[1]) / 20.0))
            chain.append(self.step_gain)
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN, math.sqrt(noise_var), int(seed) + 7)
        self.add = blocks.add_cc()
        chain.append(self.add)
        if imp.has_iq:
            from gnuradio import channels

            chain.append(channels.iqbal_gen(imp.iq_amp_db, imp.iq_phase_deg, 1))  # 1: receiver model
        if imp.dc_offset_db is not None:
            chain.append(blocks.add_const_cc(imp.dc_phasor(signal_power)))
        if imp.level_db:
            chain.append(blocks.multiply_const_cc(10 ** (imp.level_db / 20.0)))
        clip = imp.clip_level(signal_power)
        if clip is not None:
            chain.append(self._clipper(clip))
        self.gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
        stages = [s if isinstance(s, tuple) else (s, s) for s in chain]
        for blk in [b for s in stages for b in s] + [self.noise, self.gate]:
            blk.set_min_output_buffer(1 << 16)  # large chunks: fewer Python work() calls downstream
        prev = self
        for first, last in stages:
            self.connect(prev, first)
            prev = last
        self.connect(prev, self.gate, self)
        self.connect(self.noise, (self.add, 1))
        # an SNR profile over the frames the receiver decodes (gensem radio rx --sim-snr-profile)
        self.message_port_register_hier_in("frames")
        self.stepper = None
        if len(gain_steps):
            self.stepper = _GainStepper(self.step_gain, gain_steps)
            self.msg_connect(self, "frames", self.stepper, "frames")

    def _clipper(self, c):
        """ADC rails: complex_to_float -> analog.rail_ff(-c, c) on I and Q -> float_to_complex."""
        c2f, f2c = blocks.complex_to_float(1), blocks.float_to_complex(1)
        rails = [analog.rail_ff(-c, c) for _ in range(2)]
        for k, rail in enumerate(rails):
            rail.set_min_output_buffer(1 << 16)
            self.connect((c2f, k), rail, (f2c, k))
        return c2f, f2c

    def set_noise_var(self, noise_var):
        if noise_var < 0:
            raise ValueError("noise variance must be >= 0")
        self.noise.set_amplitude(math.sqrt(noise_var))


class _GainStepper(gr.basic_block):
    """Steps the channel's signal gain from the receiver's decoded-frame PDUs: from frame
    ``first`` on (absolute frame number, unwrapped from the 16-bit header seq) the gain is
    ``gain_db``, for each (first, gain_db) of ``steps``. The gain, not the noise: the noise
    source runs up to a buffer (65536 samples, tens of frames) ahead of the signal, so a new
    noise level would reach the air that late; the gain applies to the samples passing now.
    The step still lands a frame or two after its number (the frames between the channel
    and the receiver's report)."""

    def __init__(self, gain_block, steps):
        gr.basic_block.__init__(self, name="gensem_gain_stepper", in_sig=None, out_sig=None)
        self.gain_block = gain_block
        self.steps = sorted((int(f), float(g)) for f, g in steps)
        if any(f < 0 for f, _ in self.steps):
            raise ValueError("gain steps need first frame >= 0")
        self.frame = -1  # absolute number of the latest decoded frame
        self.applied = self.steps[0][1]
        self.message_port_register_in(pmt.intern("frames"))
        self.set_msg_handler(pmt.intern("frames"), self._on_frame)

    def _on_frame(self, msg):
        try:
            seq = int(pdu_fields(msg, ("frame",))[0]["frame"])
        except (TypeError, ValueError, KeyError):
            return
        self.frame = max(self.frame, unwrap_frame(seq, self.frame + 32768))
        gain = [g for first, g in self.steps if self.frame + 1 >= first][-1]  # the next frame's step
        if gain != self.applied:
            self.applied = gain
            self.gain_block.set_k(10 ** (gain / 20.0))
