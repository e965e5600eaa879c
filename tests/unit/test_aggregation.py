"""Packet aggregation on stream 1 (dsp.aggregation): subframes with delimiter and CRC-32,
the header's aggregate mark, and aggregated frames through the frame receiver."""

import crcmod
import numpy as np
import pytest
from gensem.dsp import aggregation, prbs
from gensem.dsp.channel import ChannelModel, noise_var_for_snr
from gensem.dsp.crc import crc32
from gensem.dsp.frame_builder import build_frame
from gensem.dsp.frame_header import FrameHeader
from gensem.dsp.frame_receiver import FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.theory import ber_mqam_awgn

P = OfdmParams()


def test_delimiter_known_answer():
    ref = crcmod.mkCrcFun(0x107, initCrc=0xFF, rev=False, xorOut=0)  # independent CRC-8
    assert aggregation._crc8(b"123456789") == ref(b"123456789")
    assert aggregation.delimiter(3) == bytes((0, 3, ref(b"\x00\x03"), 0x4E))
    sub = aggregation.pack([b"abc"])
    # delimiter | 'abc' | CRC-32 | 1 pad byte -> 12 bytes, a multiple of 4
    assert sub == aggregation.delimiter(3) + b"abc" + crc32(b"abc").to_bytes(4, "big") + b"\x00"
    assert aggregation.subframe_bytes(3) == len(sub) == 12 and aggregation.subframe_bytes(256) == 264


def test_round_trip_keeps_sizes_and_offsets():
    rng = np.random.default_rng(1)
    packets = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in (1, 2, 3, 4, 5, 256, 1000)]
    buf = aggregation.pack(packets)
    out = aggregation.unpack(buf)
    assert [p for _, p, _ in out.packets] == packets and all(ok for _, _, ok in out.packets)
    assert out.delimiter_errors == 0
    offsets = np.cumsum([0] + [aggregation.subframe_bytes(len(p)) for p in packets[:-1]])
    assert [o for o, _, _ in out.packets] == list(offsets) and len(buf) == offsets[-1] + 1008


def test_a_damaged_delimiter_loses_one_packet_and_a_damaged_payload_is_flagged():
    packets = [prbs.payload(3, 0, 100, offset=k) for k in range(5)]
    buf = bytearray(aggregation.pack(packets))
    step = aggregation.subframe_bytes(100)
    buf[1 * step + 2] ^= 0x10  # delimiter CRC-8 of packet 1
    buf[3 * step + 10] ^= 0x01  # payload byte of packet 3
    out = aggregation.unpack(bytes(buf))
    got = {off // step: (p, ok) for off, p, ok in out.packets}
    assert sorted(got) == [0, 2, 3, 4] and out.delimiter_errors == step // 4
    assert all(got[k] == (packets[k], True) for k in (0, 2, 4))
    assert got[3][1] is False and got[3][0] != packets[3]


def test_a_length_damaged_past_the_end_resynchronises():
    packets = [b"x" * 40, b"y" * 40]
    buf = bytearray(aggregation.pack(packets))
    buf[0:3] = aggregation.delimiter(4000)[:3]  # a valid delimiter announcing too much
    out = aggregation.unpack(bytes(buf))
    assert [p for _, p, ok in out.packets if ok] == [b"y" * 40] and out.delimiter_errors > 0
    assert aggregation.unpack(b"").packets == [] and aggregation.unpack(bytes(64)).delimiter_errors == 16


def test_header_marks_aggregated_frames_by_the_crc_mask():
    h = FrameHeader(seq=7, mod=16, power_q=0, s0_bytes=0, s1_bytes=2112, aggregate=True)
    back = FrameHeader.from_bits(h.to_bits())
    assert back == h and back.aggregate and back.wide
    plain = FrameHeader(seq=7, mod=16, power_q=0, s0_bytes=0, s1_bytes=2112)
    assert FrameHeader.from_bits(plain.to_bits()) == plain and not FrameHeader.from_bits(plain.to_bits()).aggregate
    assert not np.array_equal(h.to_bits(), plain.to_bits())
    with pytest.raises(ValueError, match="analog"):
        FrameHeader(seq=1, mod=0, power_q=0, s0_bytes=0, s1_bytes=10, analog=True, aggregate=True).to_bits()


@pytest.mark.parametrize("snr_db", [14.0, 25.0])
def test_aggregated_frames_decode_per_packet(snr_db):
    """16 x 256-byte packets per 16-QAM frame: every packet comes back at its offset, its
    CRC flag agrees with its bits; at 14 dB (BER ~1e-2) the BER is within 1 dB of theory and a
    packet is lost only with its delimiter (32 bits: 1 - 0.99^32 = 28 % of them), at 25 dB
    nothing is lost."""
    step = aggregation.subframe_bytes(256)
    frames, starts, tot = [], [], 0
    for i in range(12):
        s1 = aggregation.pack([prbs.payload(5, i, 256, offset=k * step) for k in range(16)])
        f = build_frame(P, i, 16, 0.0, None, 0, s1, aggregate=True)
        starts.append(tot)
        frames.append(f)
        tot += f.size
    x = np.concatenate(frames + [np.zeros(400, np.complex64)])
    y = ChannelModel(noise_var_for_snr(snr_db), seed=4).process(x, starts)
    rx = FrameReceiver(P)
    out = []
    for i in range(0, y.size, 8192):
        out += rx.push(y[i : i + 8192])
    assert [f.seq for f in out] == list(range(12))
    errs = bits = n = 0
    for f in out:
        for off, packet, ok in f.s1_packets:
            assert off % step == 0 and len(packet) == 256
            e = prbs.count_bit_errors(prbs.payload(5, f.seq, 256, offset=off), packet)
            assert ok == (e == 0)
            errs, bits, n = errs + e, bits + 8 * 256, n + 1
    if snr_db > 20:
        assert n == 12 * 16 and errs == 0 and sum(f.s1_delimiter_errors for f in out) == 0
    else:
        assert 0.55 * 12 * 16 <= n <= 0.9 * 12 * 16 and 0 < errs / bits < ber_mqam_awgn(13.0, 16)
