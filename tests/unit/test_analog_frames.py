"""Analog stream-1 frames (numpy core): header marking, builder -> AWGN -> receiver, assembler."""

import numpy as np
import pytest
from gensem.core.analog_assembler import AnalogAssembler, AnalogFrame, split_message
from gensem.dsp import frame_header, prbs
from gensem.dsp.channel import ChannelModel, noise_var_for_snr
from gensem.dsp.frame_builder import build_frame
from gensem.dsp.frame_header import FrameHeader
from gensem.dsp.frame_receiver import FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams

P = OfdmParams()


def _unit_symbols(n, seed=0):
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)).astype(np.complex64)


def _loopback(chunks, snr_db, f0, seed=5, qam_frames=()):
    """chunks: list of (symbols, first, last); qam_frames: seqs that carry a 200-byte PRBS payload."""
    frames, starts, tot = [], [], 0
    for i, (sym, first, last) in enumerate(chunks):
        if i in qam_frames:
            f = build_frame(P, i, 16, f0, s1_payload=prbs.payload(1, i, 200))
        else:
            f = build_frame(P, i, 16, f0, s1_analog=sym, analog_first=first, analog_last=last)
        starts.append(tot)
        frames.append(f)
        tot += f.size
    x = np.concatenate(frames + [np.zeros(400, np.complex64)])
    nv = noise_var_for_snr(snr_db) if snr_db is not None else 0.0
    y = ChannelModel(nv, seed=seed).process(x, starts)
    rx = FrameReceiver(P)
    out = []
    for i in range(0, y.size, 4096):
        out += rx.push(y[i : i + 4096])
    return out


def test_header_analog_mask_roundtrip_and_qam_unchanged():
    qam_hdr = FrameHeader(seq=513, mod=64, power_q=128, s0_bytes=77, s1_bytes=8191)
    bits = qam_hdr.to_bits()
    assert FrameHeader.from_bits(bits) == qam_hdr
    # known answer: the QAM header word and CRC are what they were before analog mode
    word = (513 << 32) | (2 << 30) | (128 << 22) | (77 << 13) | 8191
    body = word.to_bytes(6, "big")
    assert np.packbits(bits).tobytes() == body + frame_header.crc16(body).to_bytes(2, "big")
    ana = FrameHeader(seq=7, mod=0, power_q=128, s0_bytes=0, s1_bytes=2400, analog=True, first=True)
    got = FrameHeader.from_bits(ana.to_bits())
    assert got == ana and got.analog and got.first and not got.last and got.mod == frame_header.ANALOG_MOD
    flipped = ana.to_bits().copy()
    flipped[-1] ^= 1
    assert FrameHeader.from_bits(flipped) is None


def test_noise_free_symbols_come_back():
    sym = _unit_symbols(1000, seed=1)
    out = _loopback([(sym, True, True)], None, P.equal_split)
    assert len(out) == 1
    f = out[0]
    assert f.analog and f.analog_first and f.analog_last and f.s1_payload is None
    assert f.s1_symbols.dtype == np.complex64 and f.s1_symbols.size == 1000
    np.testing.assert_allclose(f.s1_symbols, sym, atol=1e-5)


@pytest.mark.parametrize("snr_db,f0", [(10.0, 0.5), (20.0, 0.3)])
def test_awgn_error_variance_matches_noise(snr_db, f0):
    sym = _unit_symbols(4 * 2400, seed=2)
    chunks = split_message(sym, 2400)
    out = _loopback(chunks, snr_db, f0)
    assert [f.seq for f in out] == [0, 1, 2, 3]
    g1 = P.stream_gains(round(f0 * 255) / 255)[1]
    expected = noise_var_for_snr(snr_db) / g1**2
    got = np.concatenate([f.s1_symbols for f in out])
    assert got.size == sym.size
    measured = float(np.mean(np.abs(got - sym) ** 2))
    assert measured == pytest.approx(expected, rel=0.12)  # 9600 samples: sampling spread ~1 %
    est = np.mean([f.s1_noise_var for f in out])
    assert est == pytest.approx(expected, rel=0.15)
    assert np.mean([f.snr_db[1] for f in out]) == pytest.approx(-10 * np.log10(expected), abs=0.6)


def test_qam_and_analog_frames_mix():
    sym = _unit_symbols(3 * 500, seed=3)
    chunks = split_message(sym, 500)
    out = _loopback(chunks + [(None, False, False)], 40.0, P.equal_split, qam_frames=(3,))
    assert [f.analog for f in out] == [True, True, True, False]
    assert out[3].s1_payload == prbs.payload(1, 3, 200) and out[3].mod == 16


def test_assembler_zero_fills_lost_frames():
    sym = _unit_symbols(1000, seed=4)
    chunks = split_message(sym, 300)  # 300, 300, 300, 100
    frames = [AnalogFrame(10 + i, a, b, c, noise_var=0.01) for i, (c, a, b) in enumerate(chunks)]
    asm = AnalogAssembler(1000)
    for f in (frames[3], frames[0], frames[2]):  # frame 1 lost, out of order arrival
        asm.add(f)
    msg = asm.assemble()
    assert msg.symbols.size == 1000 and msg.lost_symbols == 300 and msg.lost_ranges == [(300, 600)]
    assert msg.frames == 3 and msg.noise_var == pytest.approx(0.01)
    np.testing.assert_array_equal(msg.symbols[600:], sym[600:])
    assert not msg.symbols[300:600].any()
    # first frame lost: anchored on the last frame and the known length
    asm = AnalogAssembler(1000)
    for f in frames[1:]:
        asm.add(f)
    msg = asm.assemble()
    assert msg.lost_ranges == [(0, 300)]
    np.testing.assert_array_equal(msg.symbols[300:], sym[300:])
    # first and last lost: nothing can be placed, all reported lost
    asm = AnalogAssembler(1000)
    for f in frames[1:3]:
        asm.add(f)
    msg = asm.assemble()
    assert msg.lost_symbols == 1000 and msg.frames_unplaced == 2
    # length unknown, last frame lost: what arrived is placed, length flagged unknown
    asm = AnalogAssembler()
    for f in frames[:3]:
        asm.add(f)
    msg = asm.assemble()
    assert msg.symbols.size == 900 and not msg.length_known


def test_builder_rejects_bad_analog_input():
    with pytest.raises(ValueError, match="outside 1..8191"):
        build_frame(P, 0, 16, 0.5, s1_analog=np.zeros(8192, np.complex64))
    with pytest.raises(ValueError, match="finite"):
        build_frame(P, 0, 16, 0.5, s1_analog=np.array([1, np.nan], np.complex64))
