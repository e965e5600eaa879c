"""Wide frames: stream 1 on every data carrier when stream 0 is idle (header q = 0, s0 = 0)."""

import numpy as np
from gensem.dsp import prbs
from gensem.dsp.channel import ChannelModel, noise_var_for_snr
from gensem.dsp.frame_builder import build_frame, n_data_symbols, s1_carriers
from gensem.dsp.frame_header import FrameHeader
from gensem.dsp.frame_receiver import FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.theory import ber_mqam_awgn

P = OfdmParams()


def test_header_marks_wide_frames_without_a_field():
    assert FrameHeader(seq=1, mod=16, power_q=0, s0_bytes=0, s1_bytes=256).wide
    assert not FrameHeader(seq=1, mod=16, power_q=128, s0_bytes=0, s1_bytes=256).wide  # older frames
    assert not FrameHeader(seq=1, mod=16, power_q=0, s0_bytes=20, s1_bytes=256).wide
    assert not FrameHeader(seq=1, mod=0, power_q=0, s0_bytes=0, s1_bytes=256, analog=True).wide
    wide = FrameHeader(seq=1, mod=4, power_q=0, s0_bytes=0, s1_bytes=256)
    narrow = FrameHeader(seq=1, mod=4, power_q=128, s0_bytes=0, s1_bytes=256)
    # known answer: 2048 QPSK bits over 48 carriers -> 22 symbols, over 24 -> 43
    assert n_data_symbols(P, wide) == 22 and n_data_symbols(P, narrow) == 43
    assert s1_carriers(P, wide).size == 48 and s1_carriers(P, narrow).size == 24


def test_wide_frames_are_shorter_and_decode_at_the_same_ber():
    frames, starts, tot = [], [], 0
    for i in range(150):
        f0 = 0.0 if i % 2 else P.equal_split  # alternate wide and B1-only frames
        f = build_frame(P, i, 16, f0, None, 0, prbs.payload(2, i, 256))
        starts.append(tot)
        frames.append(f)
        tot += f.size
    assert frames[1].size == 240 + (4 + 11) * 80 + 64 and frames[0].size == 240 + (4 + 22) * 80 + 64
    x = np.concatenate(frames + [np.zeros(400, np.complex64)])
    y = ChannelModel(noise_var_for_snr(14.0), seed=3).process(x, starts)
    rx = FrameReceiver(P)
    out = []
    for i in range(0, y.size, 8192):
        out += rx.push(y[i : i + 8192])
    assert [f.seq for f in out] == list(range(150))
    errs, snr = {0: 0, 1: 0}, {0: [], 1: []}
    for f in out:
        errs[f.seq % 2] += prbs.count_bit_errors(prbs.payload(2, f.seq, 256), f.s1_payload)
        snr[f.seq % 2].append(f.snr_db[1])
    n_bits = 75 * 256 * 8
    for k in (0, 1):  # BER within 1 dB of theory in both layouts (0 = B1 only, 1 = wide)
        assert errs[k] / n_bits < ber_mqam_awgn(13.0, 16), (k, errs[k] / n_bits)
        assert abs(np.median(snr[k]) - 14.0) < 0.5  # unit power per carrier in both layouts
