"""The compiled frame receiver (dsp.rx_kernels, numba) against the numpy reference path:
the same frames, the same bits, through what radios do (CFO, sample-clock drift large
enough to re-time the FFT windows, multipath, IQ imbalance, DC), for every frame kind
(two streams with a prompt, wide, aggregated, analog, every M)."""

import numpy as np
import pytest
from gensem.dsp import frame_receiver, prbs, prompt_packet, rx_kernels
from gensem.dsp.conv_code import ConvCode
from gensem.dsp.frame_builder import build_frame, encode_prompt_packet
from gensem.dsp.frame_receiver import FrameReceiver
from gensem.dsp.ofdm_params import OfdmParams
from gensem.dsp.radio_impairments import ImpairmentChain, RadioImpairments

pytestmark = pytest.mark.skipif(not rx_kernels.AVAILABLE, reason=str(rx_kernels.WHY_NOT))

P = OfdmParams()


def _stream(kind: str, n: int = 12, m: int = 16, seed: int = 5):
    code = ConvCode()
    rng = np.random.default_rng(seed)
    parts = [np.zeros(3000, np.complex64)]
    for i in range(n):
        if kind == "prompt":
            pk = prompt_packet.build(i, b"a red ladybird on a green leaf")
            f = build_frame(P, i, m, 0.4, encode_prompt_packet(pk, code), len(pk), prbs.payload(2, i, 300), code)
        elif kind == "wide":
            f = build_frame(P, i, m, 0.0, None, 0, prbs.payload(2, i, 256), code)
        elif kind == "aggregate":
            f = build_frame(P, i, m, 0.0, None, 0, prbs.aggregated_payload(2, i, 256, 4), code, aggregate=True)
        elif kind == "analog":
            sym = (rng.standard_normal(500) + 1j * rng.standard_normal(500)) / np.sqrt(2)
            f = build_frame(P, i, m, P.equal_split, None, 0, None, code, s1_analog=sym)
        else:
            f = build_frame(P, i, m, P.equal_split, None, 0, prbs.payload(2, i, 1500), code)
        parts += [f, np.zeros(int(rng.integers(0, 300)), np.complex64)]
    return np.concatenate(parts + [np.zeros(4000, np.complex64)])


def _both(y, chunk=8192):
    out = {}
    for compiled in (False, True):
        rx = FrameReceiver(P, compiled=compiled)
        frames = []
        for i in range(0, y.size, chunk):
            frames += rx.push(y[i : i + chunk])
        out[compiled] = (frames, rx.stats)
    return out


def _assert_same(out, n_expected):
    (a, sa), (b, sb) = out[False], out[True]
    assert sa == sb
    assert len(a) == len(b) >= n_expected
    for f, g in zip(a, b):
        assert (f.seq, f.mod, f.sample_index, f.n_symbols, f.analog) == (g.seq, g.mod, g.sample_index, g.n_symbols, g.analog)
        assert f.s1_payload == g.s1_payload
        assert (f.s0_packet, f.s0_crc_ok) == (g.s0_packet, g.s0_crc_ok)
        assert f.s1_packets == g.s1_packets
        assert g.cfo_subcarriers == pytest.approx(f.cfo_subcarriers, abs=1e-9)
        assert g.noise_var == pytest.approx(f.noise_var, rel=1e-4)
        assert np.allclose(g.snr_db, f.snr_db, atol=1e-3)
        if f.s1_symbols is not None:
            assert np.max(np.abs(f.s1_symbols - g.s1_symbols)) < 1e-4
        if f.s1_evm_db is not None:
            assert g.s1_evm_db == pytest.approx(f.s1_evm_db, abs=1e-3)


@pytest.mark.parametrize("kind", ["prompt", "wide", "aggregate", "analog", "long"])
def test_same_frames_as_the_numpy_path(kind):
    imp = RadioImpairments(cfo_ppm=20, sfo_ppm=20, iq_amp_db=0.5, iq_phase_deg=3, dc_offset_db=-25)
    y = ImpairmentChain(imp, seed=1).process(_stream(kind), 10 ** (-22 / 10))
    _assert_same(_both(y), 12)


@pytest.mark.parametrize("m", [4, 64, 256])
def test_same_bits_for_every_modulation(m):
    snr_db = 38 if m == 256 else 30
    y = ImpairmentChain(RadioImpairments(cfo_ppm=-15), seed=2).process(_stream("long", n=6, m=m), 10 ** (-snr_db / 10))
    out = _both(y)
    _assert_same(out, 6)
    frames = out[True][0]
    assert all(prbs.count_bit_errors(prbs.payload(2, f.seq, 1500), f.s1_payload) == 0 for f in frames)


def test_retimed_windows_under_a_large_sample_clock_offset():
    """100 ppm over a 1500-byte 16-QAM frame: the drift passes half a sample, the windows
    are re-timed (the branch of payload_grid that recomputes the grid)."""
    y = ImpairmentChain(RadioImpairments(sfo_ppm=100), seed=3).process(_stream("long", n=6), 10 ** (-28 / 10))
    out = _both(y)
    _assert_same(out, 6)
    assert all(prbs.count_bit_errors(prbs.payload(2, f.seq, 1500), f.s1_payload) == 0 for f in out[True][0])


def test_small_pushes_split_the_acquisition_from_the_header(monkeypatch):
    """97-sample pushes: a preamble is often acquired before its header is buffered, so the
    compiled path takes acquire_header's "synchronised only" exit and runs header_front on a
    later push; the frames stay those of the numpy path."""
    calls = {"n": 0}
    header_front = rx_kernels.header_front

    def counting(*args):
        calls["n"] += 1
        return header_front(*args)

    monkeypatch.setattr(rx_kernels, "header_front", counting)
    imp = RadioImpairments(cfo_ppm=10, sfo_ppm=10, dc_offset_db=-25)
    y = ImpairmentChain(imp, seed=6).process(_stream("prompt", n=8), 10 ** (-25 / 10))
    _assert_same(_both(y, chunk=97), 8)
    assert calls["n"] > 0


def test_multipath_and_low_snr_agree():
    rng = np.random.default_rng(4)
    x = _stream("prompt", n=10, m=4)
    taps = np.array([1.0, 0.0, 0.4j, 0.0, 0.0, -0.2], np.complex64)
    y = np.convolve(x, taps)[: x.size]
    y = (y + np.sqrt(10 ** (-8 / 10) / 2) * (rng.standard_normal(y.size) + 1j * rng.standard_normal(y.size))).astype(
        np.complex64
    )
    _assert_same(_both(y), 8)


def test_detector_crossings_match_on_noise_spurs_and_frames():
    rng = np.random.default_rng(6)
    x = _stream("long", n=4)
    t = np.arange(x.size)
    y = x + 0.05 * (rng.standard_normal(x.size) + 1j * rng.standard_normal(x.size))
    y = (y + 0.2 * np.exp(2j * np.pi * 0.11 * t)).astype(np.complex64)  # a spur
    a, b = FrameReceiver(P, compiled=False), FrameReceiver(P, compiled=True)
    for rx in (a, b):
        rx.push(y)
    stop = y.size - 200
    ha, hb = a._detect_span(100, stop), b._detect_span(100, stop)
    assert ha.size > 0 and np.array_equal(ha, hb)


def test_windows_outside_the_buffer_raise_instead_of_reading_memory():
    buf = np.zeros(500, np.complex64)
    fft = FrameReceiver(P, compiled=True)._fft64
    with pytest.raises(IndexError, match="outside the buffer"):
        rx_kernels.grid(buf, 400, 12, 2, 80, 64, 0.0, 0, np.zeros(2, np.int64), fft)
    with pytest.raises(IndexError, match="outside the buffer"):
        rx_kernels.grid(buf, 0, 12, 2, 80, 64, 0.0, 0, np.array([0, -200]), fft)


def test_compiled_grid_is_the_unitary_fft_of_the_used_carriers():
    rng = np.random.default_rng(9)
    buf = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    rx = FrameReceiver(P, compiled=True)
    w = 2 * np.pi * 0.3 / P.fft_len
    y = rx_kernels.grid(buf, 40, 12, 3, 80, 64, w, 12345, np.array([0, 1, -2]), rx._fft64)
    n0 = 40 + 12 + 80 * np.arange(3) + np.array([0, 1, -2])
    x = buf[n0[:, None] + np.arange(64)] * np.exp(-1j * w * (n0[:, None] + 12345 + np.arange(64)))
    ref = np.fft.fft(x, axis=1, norm="ortho")[:, P.bins(P.used_carriers)]
    assert np.max(np.abs(y - ref)) < 1e-5


def test_compiled_unavailable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(rx_kernels, "AVAILABLE", False)
    monkeypatch.setattr(rx_kernels, "WHY_NOT", "numba is not installed (pip install numba)")
    with pytest.raises(ValueError, match="pip install numba"):
        FrameReceiver(P, compiled=True)
    assert FrameReceiver(P)._k is None  # the default falls back to the numpy path


def test_default_is_compiled_when_available():
    assert FrameReceiver(P)._k is rx_kernels
    assert frame_receiver.FrameReceiver(P, compiled=False)._k is None


@pytest.mark.parametrize("n", [1, 64, 333])
def test_compiled_conv_encoder_is_gr_fecs(n):
    from gensem.dsp.conv_code import POLYS, K

    bits = np.random.default_rng(n).integers(0, 2, n).astype(np.uint8)
    ref = ConvCode().encode(bits)
    assert np.array_equal(rx_kernels.conv_encode(bits, np.asarray(POLYS, np.int64), K), ref)


def test_quantised_header_decode_matches_the_float_path():
    from gensem.dsp import frame_header

    code = ConvCode()
    hdr = frame_header.FrameHeader(seq=77, mod=64, power_q=40, s0_bytes=12, s1_bytes=900)
    rng = np.random.default_rng(1)
    soft = (2.0 * frame_header.encode(hdr, 192, code) - 1.0) + 0.6 * rng.standard_normal(192)
    comb = np.bincount(np.arange(192) % 140, weights=soft)
    comb = (comb / np.mean(np.abs(comb))).astype(np.float32)
    u8 = np.clip(128.0 + 48.0 * comb, 0, 255).astype(np.uint8)
    assert np.array_equal(code.decode_quantized(u8, 64), code.decode(comb, 64))
    assert frame_header.FrameHeader.from_bits(code.decode_quantized(u8, 64)) == hdr
    with pytest.raises(ValueError, match="expected 140 soft bits"):
        code.decode_quantized(u8[:100], 64)


def _noisy_u8(code, bits, sigma, rng):
    """Soft bits of a coded block through AWGN, quantised as gr-fec takes them."""
    soft = 2.0 * code.encode(bits) - 1.0 + sigma * rng.standard_normal(ConvCode.coded_len(bits.size))
    soft = (soft / np.mean(np.abs(soft))).astype(np.float32)
    return np.clip(128.0 + 48.0 * soft, 0, 255).astype(np.uint8)


def _correlation(code, u8, bits):
    """The Viterbi's objective: correlation of a code word with the soft bits (2 u8 - 255)."""
    return int(np.sum((2 * code.encode(bits).astype(np.int64) - 1) * (2 * u8.astype(np.int64) - 255)))


def test_compiled_header_viterbi_decodes_clean_words_and_is_maximum_likelihood():
    """rx_kernels.viterbi_k7 (the compiled receiver's header decoder): clean code words come
    back exactly; on noisy ones its code word correlates with the soft bits at least as well
    as gr-fec's decision on every block (it is the maximum-likelihood path; gr-fec's 6-bit
    metrics are not quite), agrees with gr-fec at a usable SNR, and makes no more frame
    errors than gr-fec's terminated decoder (within a few blocks of 1000)."""
    from gensem.dsp.conv_code import branch_table

    code, table, rng = ConvCode(), branch_table(), np.random.default_rng(3)
    for _ in range(50):
        bits = rng.integers(0, 2, 64).astype(np.uint8)
        assert np.array_equal(rx_kernels.viterbi_k7(_noisy_u8(code, bits, 0.0, rng), 64, table), bits)
    ours_err = fec_err = agree = 0
    for sigma, n in ((0.6, 400), (1.0, 600)):
        for _ in range(n):
            bits = rng.integers(0, 2, 64).astype(np.uint8)
            u8 = _noisy_u8(code, bits, sigma, rng)
            ours, fec = rx_kernels.viterbi_k7(u8, 64, table), code.decode_quantized(u8, 64)
            assert _correlation(code, u8, ours) >= _correlation(code, u8, fec)
            ours_err += not np.array_equal(ours, bits)
            fec_err += not np.array_equal(fec, bits)
            agree += sigma == 0.6 and np.array_equal(ours, fec)
    assert agree >= 0.98 * 400
    assert 0 < ours_err <= fec_err + 5, (ours_err, fec_err)


def test_compiled_header_fields_match_from_bits():
    """rx_kernels.header_fields (word and CRC syndrome) + FrameHeader.from_word parse what
    FrameHeader.from_bits parses, for every header kind, and reject what it rejects."""
    from gensem.dsp import frame_header

    FH = frame_header.FrameHeader
    rng = np.random.default_rng(4)
    headers = [FH(seq=65535, mod=256, power_q=255, s0_bytes=511, s1_bytes=8191), FH(1, 4, 0, 0, 20, aggregate=True),
               FH(9, 0, 128, 0, 2400, analog=True, first=True, last=False), FH(0, 16, 100, 30, 256)]  # fmt: skip
    for hdr in headers:
        bits = hdr.to_bits()
        for flip in [None, *rng.integers(0, 64, 5)]:
            b = bits.copy()
            if flip is not None:
                b[flip] ^= 1
            word, syndrome = rx_kernels.header_fields(b)
            assert FH.from_word(word, syndrome) == FH.from_bits(b)
            assert (FH.from_word(word, syndrome) == hdr) == (flip is None)


@pytest.mark.parametrize("order", [4, 3])  # 4: the unrolled filter, 3: the general one
def test_compiled_tone_whitener_matches_numpy(order):
    from gensem.dsp.rx_frontend import ToneWhitener

    rng = np.random.default_rng(8)
    t = np.arange(40_000)
    x = 0.1 * (rng.standard_normal(t.size) + 1j * rng.standard_normal(t.size))
    x = (x + 0.5 * np.exp(2j * np.pi * 0.2 * t) + 0.3 * np.exp(-2j * np.pi * 0.31 * t)).astype(np.complex64)
    a, b = ToneWhitener(order=order), ToneWhitener(order=order, compiled=True)
    for i in range(0, x.size, 8192):
        ea, eb = a.process(x[i : i + 8192]), b.process(x[i : i + 8192])
        assert np.max(np.abs(ea - eb)) < 1e-4 * np.max(np.abs(ea))
    assert a.gain_db > 5 and b.gain_db == pytest.approx(a.gain_db, abs=1e-3)
    assert np.allclose(a.coef, b.coef, atol=1e-5)


def test_compiled_front_end_matches_numpy():
    """DC and IQ statistics in one compiled pass, the correction in another: the same DC,
    the same IQ refinements and the same corrected samples as the numpy path."""
    from gensem.dsp.rx_frontend import RxFrontEnd

    imp = RadioImpairments(iq_amp_db=1.0, iq_phase_deg=5.0, dc_offset_db=-15)
    x = ImpairmentChain(imp, seed=9).process(_stream("long", n=4), 10 ** (-20 / 10))
    a, b = RxFrontEnd(), RxFrontEnd(compiled=True)
    for i in range(0, x.size, 4096):
        ya, yb = a.process(x[i : i + 4096]), b.process(x[i : i + 4096])
        assert yb.dtype == np.complex64 and np.max(np.abs(ya - yb)) <= 1e-6 * np.max(np.abs(ya))
        a.observe(ya[:2000], a.beta)
        b.observe(yb[:2000], b.beta)
    assert abs(a.dc_applied) > 0 and b.dc_applied == pytest.approx(a.dc_applied, rel=1e-9)
    assert a.iq_updates >= 1 and b.iq_updates == a.iq_updates
    assert b.beta == pytest.approx(a.beta, rel=1e-6)


def test_the_rx_block_says_once_when_it_runs_the_numpy_path(monkeypatch, capsys):
    from gensem.blocks import two_stream_rx as blk

    monkeypatch.setattr(rx_kernels, "AVAILABLE", False)
    monkeypatch.setattr(rx_kernels, "WHY_NOT", "numba is not installed (pip install numba): numpy path")
    monkeypatch.setattr(blk, "_SLOW_PATH_SAID", [])
    a, b = blk.two_stream_rx(), blk.two_stream_rx()
    assert a.rx._k is None and b.rx._k is None
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["gensem_two_stream_rx: numba is not installed (pip install numba): numpy path"]
