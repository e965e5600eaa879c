"""The hier blocks as a flowgraph of a few boxes: semantic_tx -> ofdm_channel ->
semantic_rx with the feedback message connection delivers the prompt and error-free
PRBS frames; the symbol ports carry the equalised cells of each stream."""

import numpy as np
import pmt
import pytest
from gensem.blocks.ofdm_channel import ofdm_channel
from gensem.blocks.prbs_ber_sink import prbs_ber_sink
from gensem.blocks.semantic_rx import semantic_rx
from gensem.blocks.semantic_tx import semantic_tx
from gensem.dsp import qam
from gnuradio import blocks, gr


def test_semantic_loopback_prompt_and_symbols():
    tb = gr.top_block()
    tx = semantic_tx(mod=64, prompt_power=0.3, prompts=["hello hier"], prbs_frames=10, window=4, scale=0.5)
    ch = ofdm_channel(noise_var=0.25 * 10 ** (-3.0), seed=2)  # 30 dB at amplitude 0.5
    rx = semantic_rx()
    ber = prbs_ber_sink(seed=1)
    prompts, sym0, sym1 = blocks.message_debug(), blocks.message_debug(), blocks.message_debug()
    tb.connect(tx, ch, rx)
    tb.msg_connect(rx, "feedback", tx, "feedback")
    tb.msg_connect(rx, "adaptive", ber, "in")
    tb.msg_connect(rx, "prompt", prompts, "store")
    tb.msg_connect(rx, "s0_symbols", sym0, "store")
    tb.msg_connect(rx, "s1_symbols", sym1, "store")
    tb.run()
    assert list(rx.delivered) == [(0, "hello hier")] and prompts.num_messages() == 1
    assert ber.frames == 10 and ber.bit_errors == 0
    assert sym0.num_messages() >= 1 and sym1.num_messages() == 10
    z1 = np.array(pmt.c32vector_elements(pmt.cdr(sym1.get_message(0))))
    assert z1.size == 342  # ceil(256 * 8 / 6) cells of 64-QAM for 256 bytes, no padding
    _, dec = qam.demodulate_hard(z1, 64, return_points=True)
    assert np.mean(np.abs(z1 - dec) ** 2) < 10 ** (-2.0)  # EVM well below -20 dB at 30 dB
    z0 = np.array(pmt.c32vector_elements(pmt.cdr(sym0.get_message(0))))
    assert np.allclose(np.abs(z0.real), np.sqrt(0.5), atol=0.3)  # QPSK cells


def test_semantic_tx_rejects_bad_scale():
    with pytest.raises(ValueError, match="scale"):
        semantic_tx(scale=0)
