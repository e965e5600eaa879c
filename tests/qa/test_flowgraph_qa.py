"""GNU Radio QA: the real blocks in flowgraphs (loopback, negative tests)."""

import time

import numpy as np
import pmt
import pytest
from gensem import prompt_arq_rx, two_stream_rx, two_stream_tx
from gensem.blocks.prbs_ber_sink import prbs_ber_sink
from gensem.dsp import prompt_packet, qam
from gensem.dsp.conv_code import ConvCode
from gensem.dsp.frame_builder import build_frame, encode_prompt_packet
from gensem.dsp.ofdm_params import OfdmParams
from gnuradio import blocks, gr


class _Collect(gr.basic_block):
    """A message sink that hands each message on "in" to ``fn``."""

    def __init__(self, fn):
        gr.basic_block.__init__(self, "collect", None, None)
        self.fn = fn
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self.handle)

    def handle(self, m):
        self.fn(m)


@pytest.mark.parametrize("m", qam.SUPPORTED_M)
def test_flowgraph_loopback_bit_exact(m):
    tb = gr.top_block()
    tx = two_stream_tx(mod=m, prbs_frames=20, prbs_bytes=300, prbs_seed=4)
    rx = two_stream_rx()
    ber = prbs_ber_sink(seed=4)
    tb.connect(tx, rx)
    tb.msg_connect(rx, "adaptive", ber, "in")
    tb.run()
    time.sleep(0.05)
    assert ber.frames == 20 and ber.bits == 20 * 300 * 8 and ber.bit_errors == 0
    assert {r["mod"] for r in ber.records} == {m}


def test_modulation_changes_per_frame_via_control_port():
    """M is set at run time through PDU metadata / control: no restart."""
    tb = gr.top_block()
    tx = two_stream_tx(mod=4, finish=True)
    rx = two_stream_rx()
    got = []
    c = _Collect(lambda m: got.append(pmt.to_python(pmt.car(m))["mod"]))
    for m in (4, 16, 64, 256, 16):
        tx._on_adaptive(pmt.cons(pmt.to_pmt({"mod": m}), pmt.init_u8vector(100, list(range(100)))))
    tb.connect(tx, rx)
    tb.msg_connect(rx, "adaptive", c, "in")
    tb.run()
    time.sleep(0.05)
    assert got == [4, 16, 64, 256, 16]


def test_noise_only_no_frames_no_crash():
    rng = np.random.default_rng(9)
    noise = (rng.standard_normal(300000) + 1j * rng.standard_normal(300000)).astype(np.complex64)
    tb = gr.top_block()
    src = blocks.vector_source_c(noise.tolist())
    rx = two_stream_rx()
    dbg = blocks.message_debug()
    tb.connect(src, rx)
    tb.msg_connect(rx, "frames", dbg, "store")
    tb.run()
    assert dbg.num_messages() == 0 and rx.stats.frames == 0


def _arq_receive(packets, port, raw=False):
    """Stream-0 packets, one per frame, through two_stream_rx -> prompt_arq_rx; returns the
    ARQ receiver and the messages it published on ``port`` ("feedback" or "prompt")."""
    p = OfdmParams()
    code = ConvCode()
    frames = [
        build_frame(p, i, 16, p.equal_split, encode_prompt_packet(pk, code), len(pk), None, code)
        for i, pk in enumerate(packets)
    ]
    tb = gr.top_block()
    src = blocks.vector_source_c(np.concatenate(frames + [np.zeros(256, np.complex64)]).tolist())
    rx = two_stream_rx()
    arq = prompt_arq_rx(raw=raw)
    out = blocks.message_debug()
    tb.connect(src, rx)
    tb.msg_connect(rx, "frames", arq, "frames")
    tb.msg_connect(arq, port, out, "store")
    tb.run()
    time.sleep(0.05)
    return arq, [out.get_message(i) for i in range(out.num_messages())]


def test_corrupted_crc_gives_nack():
    good = prompt_packet.build(0, b"a dog on the beach")
    bad = bytearray(good)
    bad[-2] ^= 0x01  # corrupt the CRC-32 field itself
    arq, msgs = _arq_receive([bytes(bad), good], "feedback")
    arq_keys = ("frame", "crc_ok", "prompt_seq", "session")
    got = [pmt.to_python(m) for m in msgs]
    assert [{k: d[k] for k in arq_keys if k in d} for d in got] == [
        {"frame": 0, "crc_ok": False, "prompt_seq": -1},  # NACK
        {"frame": 1, "crc_ok": True, "prompt_seq": 0, "session": 0},  # ACK (session: the packet's)
    ]
    # each also carries its frame's SNR estimates (the TX host's planner input over the air)
    assert all({"snr0_db", "snr1_db", "prompt_power", "mod"} <= set(d) for d in got)
    assert list(arq.delivered) == [(0, "a dog on the beach")]


def test_image_prompt_delivers_text_and_part_count():
    """An image prompt (mark | n_parts | text) leaves the ARQ RX as the text with n_parts in
    its metadata; a plain prompt has no n_parts."""
    pks = [
        prompt_packet.build(0, prompt_packet.image_payload("a cat on a mat", 0)),
        prompt_packet.build(1, b"a plain prompt"),
    ]
    arq, msgs = _arq_receive(pks, "prompt")
    assert list(arq.delivered) == [(0, "a cat on a mat"), (1, "a plain prompt")]
    metas = [pmt.to_python(pmt.car(m)) for m in msgs]
    texts = [bytes(pmt.u8vector_elements(pmt.cdr(m))) for m in msgs]
    assert texts == [b"a cat on a mat", b"a plain prompt"]
    assert metas[0]["n_parts"] == 0 and "n_parts" not in metas[1]


def test_raw_mode_delivers_binary_side_packets_untouched():
    """CDM-JSCC side information is binary: a packet that happens to start with the image
    prompt's colour mark (0x1D, then a length byte) must leave the ARQ RX unchanged in raw
    mode (prompt mode would cut 3 + length bytes off it, as it did to side packets before)."""
    side = bytes([prompt_packet.IMAGE_COLOUR_MARK, 4, 58]) + bytes(range(200))
    pk = prompt_packet.build(0, side)
    arq, msgs = _arq_receive([pk], "prompt", raw=True)
    assert [bytes(pmt.u8vector_elements(pmt.cdr(m))) for m in msgs] == [side]
    assert list(arq.delivered) == [(0, side)] and "colour_layout" not in pmt.to_python(pmt.car(msgs[0]))
    _, msgs = _arq_receive([pk], "prompt")  # prompt mode reads it as an image prompt
    assert bytes(pmt.u8vector_elements(pmt.cdr(msgs[0]))) == side[3 + 58 :]


def test_prompt_pdu_with_n_parts_is_sent_as_image_prompt():
    tx = two_stream_tx(mod=16)
    meta = pmt.to_pmt({"n_parts": 4})
    tx._on_prompt(pmt.cons(meta, pmt.init_u8vector(5, list(b"a dog"))))
    assert tx.arq.queue[-1].payload == b"\x1e\x04a dog"
    tx._on_prompt(pmt.cons(pmt.to_pmt({"n_parts": 300}), pmt.init_u8vector(5, list(b"a dog"))))
    assert tx.bad_messages == 1  # out of range: counted, not sent


def test_malformed_messages_are_counted_not_fatal():
    tx = two_stream_tx(mod=16)
    tx._on_feedback(pmt.intern("garbage"))
    tx._on_control(pmt.to_pmt({"mod": 7}))
    tx._on_adaptive(pmt.to_pmt(3))
    tx._on_prompt(pmt.cons(pmt.make_dict(), pmt.init_u8vector(0, [])))
    assert tx.bad_messages == 4 and tx.mod == 16
    arq = prompt_arq_rx()
    arq._on_frame(pmt.PMT_NIL)
    assert arq.bad_messages == 1


def test_aggregated_prbs_frames_count_packets():
    """aggregate=8: 5 frames carry 40 packets of 300 bytes, each checked on its own."""
    tb = gr.top_block()
    tx = two_stream_tx(mod=16, prbs_frames=5, prbs_bytes=300, prbs_seed=4, aggregate=8, wide_when_idle=True)
    rx = two_stream_rx()
    ber = prbs_ber_sink(seed=4)
    tb.connect(tx, rx)
    tb.msg_connect(rx, "adaptive", ber, "in")
    tb.run()
    time.sleep(0.05)
    assert tx.frames_sent == 5 and tx.prbs_packets_sent == 40
    assert ber.frames == 40 and ber.bits == 40 * 300 * 8 and ber.bit_errors == 0
    assert rx.s1_packets == 40 and rx.s1_packet_crc_failures == 0 and rx.s1_delimiter_errors == 0


def test_queued_pdus_are_aggregated_and_delivered_one_by_one():
    """Byte PDUs queued at the TX go out several per frame (same modulation only) and come
    out of the RX as the same PDUs, in order, each with its CRC flag."""
    tb = gr.top_block()
    tx = two_stream_tx(mod=16, aggregate=4)
    rx = two_stream_rx()
    got = []

    def keep(m):
        meta = pmt.to_python(pmt.car(m))
        got.append((meta["frame"], meta["mod"], meta["s1_crc_ok"], bytes(pmt.u8vector_elements(pmt.cdr(m)))))

    c = _Collect(keep)
    rng = np.random.default_rng(2)
    sent = []
    for k in range(10):  # 6 at 16-QAM, then 4 at QPSK: the change of M starts a new frame
        data = rng.integers(0, 256, 50 + 37 * k, dtype=np.uint8).tobytes()
        meta = {"mod": 16 if k < 6 else 4}
        sent.append((meta["mod"], data))
        tx._on_adaptive(pmt.cons(pmt.to_pmt(meta), pmt.init_u8vector(len(data), list(data))))
    tb.connect(tx, rx)
    tb.msg_connect(rx, "adaptive", c, "in")
    tb.run()
    time.sleep(0.05)
    assert [(m, d) for _, m, _, d in got] == sent and all(ok for _, _, ok, _ in got)
    assert [f for f, *_ in got] == [0] * 4 + [1] * 2 + [2] * 4 and tx.frames_sent == 3
