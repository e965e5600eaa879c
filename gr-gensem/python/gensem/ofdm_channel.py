"""GNU Radio hier block ``gensem_ofdm_channel``: the simulated radio channel.

    in -> gensem_block_fading (block Rayleigh fading with path loss per eq. (1),
          multipath, per-frame gain profile; only when asked for) -> blocks.rotator_cc (CFO, in subcarrier
          spacings) -> blocks.delay (timing offset) -> + analog.noise_source_c (AWGN,
          variance ``noise_var`` per sample = N0 per subcarrier) -> blocks.tag_gate -> out

Stock C++ blocks do the per-sample work; the receiver sees bare samples (tags gated),
like a radio. Over the air this block is the only thing replaced.
"""

from __future__ import annotations

import math

from gnuradio import analog, blocks, gr


class ofdm_channel(gr.hier_block2):
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
        chain = []
        self.fading = None
        if fading != "none" or n_taps > 1 or path_gain != 1.0 or len(gain_profile):
            from .block_fading import block_fading

            self.fading = block_fading(fading, path_gain, n_taps, pdp_decay_db, seed, gain_profile)
            chain.append(self.fading)
        if cfo_subcarriers:
            chain.append(blocks.rotator_cc(2 * math.pi * cfo_subcarriers / fft_len))
        if timing_offset:
            chain.append(blocks.delay(gr.sizeof_gr_complex, int(timing_offset)))
        self.noise = analog.noise_source_c(analog.GR_GAUSSIAN, math.sqrt(noise_var), int(seed) + 7)
        self.add = blocks.add_cc()
        self.gate = blocks.tag_gate(gr.sizeof_gr_complex, False)
        chain.append(self.add)
        for blk in chain + [self.noise, self.gate]:
            blk.set_min_output_buffer(1 << 16)  # large chunks: fewer Python work() calls downstream
        self.connect(self, *chain, self.gate, self)
        self.connect(self.noise, (self.add, 1))

    def set_noise_var(self, noise_var):
        if noise_var < 0:
            raise ValueError("noise variance must be >= 0")
        self.noise.set_amplitude(math.sqrt(noise_var))
