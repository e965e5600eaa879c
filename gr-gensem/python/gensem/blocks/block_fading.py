"""GNU Radio block ``gensem_block_fading``: per-frame block fading and multipath.

Applies h = sqrt(eps0) d^(-phi) h~ (Qiao et al. eq. (1)) with h~ CSCG, unit variance,
redrawn at every ``gensem_frame`` tag (each frame, and so each ARQ retransmission, meets
a fresh fading block), optionally as an N-tap channel with an exponential power-delay
profile, and scaled by a per-frame ``gain_profile`` ``[(n_frames, gain_db), ...]`` (the
distance, and so the SNR, changing during a run). Numpy core: ``dsp.channel.ChannelModel`` (noise, CFO and delay left to the
stock blocks inside ``gensem_ofdm_channel``).
"""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from gensem.blocks.pdu_util import FRAME_TAG
from gensem.dsp.channel import ChannelModel


class block_fading(gr.sync_block):
    def __init__(self, fading="rayleigh", path_gain=1.0, n_taps=1, pdp_decay_db=6.0, seed=0, gain_profile=()):
        gr.sync_block.__init__(
            self, name="gensem_block_fading", in_sig=[np.complex64], out_sig=[np.complex64]
        )
        self.model = ChannelModel(
            noise_var=0.0,
            fading=fading,
            path_gain=path_gain,
            n_taps=int(n_taps),
            pdp_decay_db=pdp_decay_db,
            seed=int(seed),
        )
        self.model.set_gain_profile(gain_profile)

    def work(self, input_items, output_items):
        x = input_items[0]
        start = self.nitems_read(0)
        tags = self.get_tags_in_window(0, 0, x.size, FRAME_TAG)
        output_items[0][:] = self.model.process(x, [t.offset - start for t in tags])
        return x.size
