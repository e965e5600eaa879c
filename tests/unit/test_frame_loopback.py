"""Numpy-level loopback: frame builder -> channel model -> frame receiver."""

import numpy as np
import pytest
from gensem.dsp import prbs, prompt_packet, qam
from gensem.dsp.channel import ChannelModel, noise_var_for_snr
from gensem.dsp.conv_code import ConvCode
from gensem.dsp.frame_builder import build_frame, encode_prompt_packet
from gensem.dsp.frame_receiver import FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.theory import ber_mqam_awgn

P = OfdmParams()


def _run(m, snr_db, n, prompt=None, chunk=4096, **chan):
    code = ConvCode()
    frames, starts, tot = [], [], 0
    for i in range(n):
        s0, s0b = None, 0
        if prompt:
            pk = prompt_packet.build(i, prompt.encode())
            s0, s0b = encode_prompt_packet(pk, code), len(pk)
        f = build_frame(P, i, m, P.equal_split, s0, s0b, prbs.payload(1, i, 200), code)
        starts.append(tot)
        frames.append(f)
        tot += f.size
    x = np.concatenate(frames + [np.zeros(400, np.complex64)])
    y = ChannelModel(noise_var_for_snr(snr_db), seed=5, **chan).process(x, starts)
    rx = FrameReceiver(P)
    out = []
    for i in range(0, y.size, chunk):
        out += rx.push(y[i : i + chunk])
    return out, rx


@pytest.mark.parametrize("m", qam.SUPPORTED_M)
def test_bit_exact_every_m(m):
    out, _ = _run(m, 45.0, 5, prompt="a cat on a sofa")
    assert [f.seq for f in out] == list(range(5))
    for f in out:
        assert f.s1_payload == prbs.payload(1, f.seq, 200)
        assert f.prompt == (0, f.seq, b"a cat on a sofa")  # (session, seq, payload)
        assert f.mod == m


def test_noise_only_gives_no_frames():
    rx = FrameReceiver(P)
    rng = np.random.default_rng(3)
    for _ in range(20):
        x = (rng.standard_normal(50000) + 1j * rng.standard_normal(50000)).astype(np.complex64)
        assert rx.push(x) == []
    assert rx.stats.frames == 0


def test_16qam_ber_within_1db_of_theory():
    out, _ = _run(16, 14.0, 120)
    bits = errs = 0
    for f in out:
        errs += prbs.count_bit_errors(prbs.payload(1, f.seq, 200), f.s1_payload)
        bits += 1600
    assert len(out) == 120
    ber = errs / bits
    assert ber_mqam_awgn(15.0, 16) < ber < ber_mqam_awgn(13.0, 16)


def test_snr_estimate_tracks_channel():
    out, _ = _run(16, 20.0, 20)
    est = np.mean([f.snr_db[1] for f in out])
    assert est == pytest.approx(20.0, abs=0.7)


def test_impairments_cfo_timing_multipath():
    out, _ = _run(16, 30.0, 20, cfo_subcarriers=0.3, timing_offset=37, n_taps=3)
    assert len(out) == 20
    errs = sum(prbs.count_bit_errors(prbs.payload(1, f.seq, 200), f.s1_payload) for f in out)
    assert errs / (20 * 1600) < 1e-3
    assert np.mean([f.cfo_subcarriers for f in out]) == pytest.approx(0.3, abs=0.01)


@pytest.mark.parametrize("n_chars", [1, 5, 12, 30, 80, 200, prompt_packet.MAX_PROMPT_BYTES])
def test_prompt_lengths_any_frame_size(n_chars):
    text = ("a red car by the sea " * 30)[:n_chars]
    out, _ = _run(4, 40.0, 2, prompt=text)
    assert [f.prompt for f in out] == [(0, 0, text.encode()), (0, 1, text.encode())]
