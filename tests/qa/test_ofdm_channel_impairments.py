"""gensem_ofdm_channel's radio stages (stock GNU Radio blocks) against the numpy core
(dsp.radio_impairments), one impairment at a time; and radio_source's DC blocker."""

import math

import numpy as np
import pmt
import pytest
from gensem.blocks.ofdm_channel import ofdm_channel
from gensem.dsp.radio_impairments import PROFILES, ImpairmentChain, RadioImpairments, iq_imbalance
from gnuradio import analog, blocks, gr
from signal_sources import FRAME_POWER, bandlimited


def _run(x, tags=(), **kw):
    tb = gr.top_block()
    src = blocks.vector_source_c(np.asarray(x, np.complex64), False, 1, list(tags))
    ch = ofdm_channel(**kw)
    snk = blocks.vector_sink_c()
    tb.connect(src, ch, snk)
    tb.run()
    return np.array(snk.data(), np.complex64), snk.tags()


def _freq(y):
    ph = np.unwrap(np.angle(y.astype(np.complex128)))
    return np.polyfit(np.arange(ph.size), ph, 1)[0] / (2 * np.pi)


def _locate(w, y, guess, span=40):
    """Fractional index of window ``w`` in ``y`` near ``guess`` (correlation peak)."""
    lags = np.arange(guess - span, guess + span + 1)
    c = np.array([np.abs(np.vdot(w, y[k : k + w.size])) for k in lags])
    i = int(np.argmax(c))
    return lags[i] + 0.5 * (c[i - 1] - c[i + 1]) / (c[i - 1] - 2 * c[i] + c[i + 1])


def test_ideal_channel_is_todays_flowgraph():
    """No impairment: the same samples, bit for bit, as the old add_cc + noise_source_c chain."""
    x = bandlimited(20_000, seed=1)
    y, _ = _run(x, noise_var=0.05, seed=3)
    tb = gr.top_block()
    src, snk = blocks.vector_source_c(x, False), blocks.vector_sink_c()
    add = blocks.add_cc()
    noise = analog.noise_source_c(analog.GR_GAUSSIAN, math.sqrt(0.05), 3 + 7)
    tb.connect(src, add, blocks.tag_gate(gr.sizeof_gr_complex, False), snk)
    tb.connect(noise, (add, 1))
    tb.run()
    assert np.array_equal(y, np.array(snk.data(), np.complex64))
    assert np.array_equal(_run(x)[0], x)


def test_iq_imbalance_same_model_as_iqbal_gen():
    x = bandlimited(10_000, seed=2)
    for db, deg in ((1.0, 5.0), (-0.5, -12.0)):
        y, _ = _run(x, iq_amp_db=db, iq_phase_deg=deg)
        assert np.max(np.abs(y - iq_imbalance(x, db, deg))) < 1e-5
        ch = ImpairmentChain(RadioImpairments(iq_amp_db=db, iq_phase_deg=deg))
        assert np.max(np.abs(y - ch.post_noise(x))) < 1e-5


@pytest.mark.parametrize("power", [1.0, 0.15**2])
def test_dc_offset_mean(power):
    y, _ = _run(np.zeros(5000, np.complex64), dc_offset_db=-25.0, signal_power=power)
    dc = RadioImpairments(dc_offset_db=-25.0).dc_phasor(power)
    assert y.mean() == pytest.approx(dc, rel=1e-5)
    assert 10 * math.log10(abs(y.mean()) ** 2 / (power * FRAME_POWER)) == pytest.approx(-25.0, abs=1e-3)


def test_level_and_clipping_match_numpy():
    x = bandlimited(50_000, seed=3)
    kw = {"level_db": 4.0, "clip_percent": 2.0}
    y, _ = _run(x, **kw)
    ref = ImpairmentChain(RadioImpairments(**kw)).post_noise(x)
    assert np.max(np.abs(y - ref)) < 1e-5
    c = RadioImpairments(**kw).clip_level()
    rails = np.concatenate([y.real, y.imag])
    assert np.mean(np.abs(rails) >= c * (1 - 1e-6)) == pytest.approx(0.02, rel=0.15)


def test_phase_noise_variance():
    imp = RadioImpairments(phase_noise_dbc=-30.0, phase_noise_bw_hz=100e3, samp_rate=2e6)
    y, _ = _run(np.ones(400_000, np.complex64), phase_noise_dbc=-30.0, phase_noise_bw_hz=100e3)
    th = np.angle(y[1000:])
    assert np.var(th) == pytest.approx(imp.phase_noise_var(), rel=0.1)
    core = np.angle(ImpairmentChain(imp, seed=5).pre_noise(np.ones(400_000, np.complex64)))
    assert np.var(th) == pytest.approx(np.var(core), rel=0.15)
    a = imp.phase_noise_alpha()  # the same single-pole corner
    assert np.corrcoef(th[:-5], th[5:])[0, 1] == pytest.approx((1 - a) ** 5, abs=0.05)


@pytest.mark.parametrize("sfo_ppm", [0.0, 3.0])  # rotator alone / channel_model with epsilon
def test_frequency_offset(sfo_ppm):
    imp = RadioImpairments(cfo_ppm=20.0, sfo_ppm=sfo_ppm)
    y, _ = _run(np.ones(50_000, np.complex64), cfo_ppm=20.0, sfo_ppm=sfo_ppm, cfo_subcarriers=0.25)
    want = imp.cfo_cycles_per_sample() + 0.25 / 64  # ppm share + the scenario's subcarriers
    assert _freq(y[100:]) == pytest.approx(want, rel=1e-5)
    core = ImpairmentChain(imp).pre_noise(np.ones(50_000, np.complex64))
    assert _freq(core[100:]) == pytest.approx(imp.cfo_cycles_per_sample(), rel=1e-5)


def test_epsilon_drift_direction_agrees_with_numpy():
    """sfo_ppm > 0: channel_model's epsilon = 1 + ppm*1e-6 > 1 (RX clock slow); fewer samples come
    out and a feature drifts to earlier indices, in the block as in the numpy core."""
    n, ppm = 1 << 17, 200.0
    r = 1 + ppm * 1e-6
    x = bandlimited(n, seed=4)
    y_gr, _ = _run(x, sfo_ppm=ppm)
    y_np = ImpairmentChain(RadioImpairments(sfo_ppm=ppm)).pre_noise(x)
    assert y_gr.size < n and y_np.size < n
    assert y_gr.size == pytest.approx(n / r, abs=20) and y_np.size == pytest.approx(n / r, abs=20)
    n0, n1 = 2000, 120_000
    for y in (y_gr, y_np):
        p0 = _locate(x[n0 : n0 + 512], y, round(n0 / r))
        p1 = _locate(x[n1 : n1 + 512], y, round(n1 / r))
        drift = (p1 - p0) - (n1 - n0)  # negative: the RX clock is slow
        assert drift == pytest.approx(-(n1 - n0) * (1 - 1 / r), abs=0.3)


def test_tx_tags_do_not_reach_the_rx():
    tags = [gr.tag_utils.python_to_tag((k, pmt.intern("packet_len"), pmt.from_long(64))) for k in (0, 500)]
    hackrf = PROFILES["hackrf"].as_dict()
    hackrf.pop("fft_len")
    for kw in ({}, {"cfo_ppm": 5.0}, {"sfo_ppm": 10.0}, hackrf):
        y, out_tags = _run(np.ones(2000, np.complex64), tags=tags, **kw)
        assert y.size > 1900 and out_tags == []


def test_block_rejects_impossible_values():
    with pytest.raises(ValueError, match=r"\+-1000 ppm"):
        ofdm_channel(cfo_ppm=2000)
    with pytest.raises(ValueError, match=r"\+-10 dB"):
        ofdm_channel(iq_amp_db=11)


def test_radio_source_dc_blocker(tmp_path):
    """dc_blocker_cc(64, long form) removes DC and passes the subcarrier next to it unchanged."""
    from gensem.blocks.radio_source import dc_blocker_on, radio_source

    assert dc_blocker_on(None, "hackrf", False) and not dc_blocker_on(None, "usrp", False)
    assert not dc_blocker_on(None, "hackrf", True) and dc_blocker_on(True, "usrp", True)
    n = np.arange(40_000)
    x = (np.exp(2j * np.pi * n / 64) + 0.3 * np.exp(1j * math.pi / 4)).astype(np.complex64)
    path = tmp_path / "dc.sigmf-data"
    x.tofile(path)
    tb = gr.top_block()
    src = radio_source("hackrf", samp_rate=1e9, dry_run=True, replay_file=str(path), dc_blocker=True)
    snk = blocks.vector_sink_c()
    tb.connect(src, snk)
    tb.run()
    y = np.array(snk.data())[4000:]
    assert src.dc_blocker is not None and y.size == x.size - 4000
    assert abs(y.mean()) < 1e-3
    tone = np.abs(np.mean(y * np.exp(-2j * np.pi * n[4000:] / 64)))
    assert 20 * math.log10(tone) == pytest.approx(0.0, abs=0.05)


def test_jscc_link_transport_with_a_radio_profile():
    """gensem jscc send --over-link's flowgraph takes the radios too (b200: 0.16 spacings CFO)."""
    from gensem.apps.jscc_link import send_over_link

    rng = np.random.default_rng(0)
    sym = ((rng.standard_normal(4800) + 1j * rng.standard_normal(4800)) / np.sqrt(2)).astype(np.complex64)
    r = send_over_link(b"side info", sym, 20.0, seed=1, impairments=PROFILES["b200"])
    assert r["side_info"] == b"side info" and r["lost_symbols"] == 0
