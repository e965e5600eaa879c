"""Known answers and statistics of the numpy radio-impairment core (dsp.radio_impairments)."""

import math

import numpy as np
import pytest
from gensem.dsp.channel import ChannelModel
from gensem.dsp.radio_impairments import (
    PROFILES,
    ImpairmentChain,
    RadioImpairments,
    _Resampler,
    erfcinv,
    from_profile,
    iq_imbalance,
)
from signal_sources import FRAME_POWER, bandlimited


def _multitone(t, seed=0):
    """52 unit tones on the used subcarriers (an OFDM symbol's spectrum), at times ``t``."""
    rng = np.random.default_rng(seed)
    bins = np.r_[-26:0, 1:27]
    amps = np.exp(2j * np.pi * rng.random(bins.size))
    return (amps[None, :] * np.exp(2j * np.pi * bins[None, :] / 64 * t[:, None])).sum(1) / 8.0


def _freq(y):
    """Frequency (cycles/sample) of a tone from the slope of its unwrapped phase."""
    ph = np.unwrap(np.angle(y.astype(np.complex128)))
    return np.polyfit(np.arange(ph.size), ph, 1)[0] / (2 * np.pi)


def test_cfo_subcarriers_known_answer():
    # 20 ppm of 2.45 GHz = 49 kHz; 2 Msps / 64 = 31.25 kHz per subcarrier
    assert RadioImpairments(cfo_ppm=20).cfo_subcarriers() == pytest.approx(1.568, abs=1e-12)
    assert PROFILES["hackrf"].cfo_subcarriers() == pytest.approx(1.568, abs=1e-12)
    assert RadioImpairments(cfo_ppm=-2, samp_rate=1e6).cfo_subcarriers() == pytest.approx(-0.3136)
    assert RadioImpairments(sfo_ppm=100).epsilon() == 1.0001


def test_cfo_rotation_sign_and_continuity():
    imp = RadioImpairments(cfo_ppm=20)
    ch = ImpairmentChain(imp)
    y = np.concatenate([ch.pre_noise(np.ones(1000, np.complex64)) for _ in range(5)])
    assert _freq(y) == pytest.approx(imp.cfo_cycles_per_sample(), rel=1e-6)
    assert imp.cfo_cycles_per_sample() > 0  # cfo_ppm > 0: exp(+j 2 pi f n)
    step = np.angle(y[995:1005][1:] * np.conj(y[995:1005][:-1]))  # across the chunk boundary
    assert np.max(np.abs(step - 2 * np.pi * imp.cfo_cycles_per_sample())) < 1e-5


def test_iq_image_rejection_matches_closed_form():
    imp = RadioImpairments(iq_amp_db=1.0, iq_phase_deg=5.0)
    n = np.arange(8192)
    f = 10 / 64
    y = iq_imbalance(np.exp(2j * np.pi * f * n).astype(np.complex64), 1.0, 5.0).astype(np.complex128)
    wanted = np.abs(np.mean(y * np.exp(-2j * np.pi * f * n))) ** 2
    image = np.abs(np.mean(y * np.exp(2j * np.pi * f * n))) ** 2
    g, ph = 10 ** (1 / 20), math.radians(5)
    closed = 10 * math.log10((g * g - 2 * g * math.cos(ph) + 1) / (g * g + 2 * g * math.cos(ph) + 1))
    assert imp.image_rejection_db() == pytest.approx(closed)
    assert 10 * math.log10(image / wanted) == pytest.approx(closed, abs=0.01)
    assert closed == pytest.approx(-22.83, abs=0.01)


def test_iq_model_is_iqbal_gen_receiver_mode():
    """I' = g (I cos + Q sin), Q' = Q: amplitude on I, Q leaking into I (GNU Radio's signs)."""
    y = iq_imbalance(np.array([1 + 0j, 1j], np.complex64), 6.0, 30.0)
    g = 10 ** (6 / 20)
    assert y[0] == pytest.approx(g * math.cos(math.radians(30)))
    assert y[1] == pytest.approx(g * math.sin(math.radians(30)) + 1j)


@pytest.mark.parametrize("db, power", [(-25.0, 1.0), (-50.0, 1.0), (-25.0, 0.15**2)])
def test_dc_level_in_db(db, power):
    ch = ImpairmentChain(RadioImpairments(dc_offset_db=db), signal_power=power)
    dc = ch.post_noise(np.zeros(100, np.complex64)).mean()
    assert 10 * math.log10(abs(dc) ** 2 / (power * FRAME_POWER)) == pytest.approx(db, abs=1e-4)
    assert math.degrees(np.angle(dc)) == pytest.approx(45.0, abs=1e-3)


def test_phase_noise_stationary_variance():
    imp = RadioImpairments(phase_noise_dbc=-30.0)  # sigma^2 = 1e-3 rad^2, 100 kHz at 2 Msps
    ch = ImpairmentChain(imp, seed=4)
    y = np.concatenate([ch.pre_noise(np.ones(50_000, np.complex64)) for _ in range(8)])
    assert np.var(np.angle(y)) == pytest.approx(1e-3, rel=0.1)
    assert np.abs(y) == pytest.approx(1.0, abs=1e-5)
    # the corner: lag-k correlation of a single-pole process is (1 - alpha)^k
    th = np.angle(y)
    a = imp.phase_noise_alpha()
    assert np.corrcoef(th[:-5], th[5:])[0, 1] == pytest.approx((1 - a) ** 5, abs=0.05)
    assert math.degrees(math.sqrt(PROFILES["b200"].phase_noise_var())) == pytest.approx(0.3, abs=0.01)


def test_sfo_tone_frequency_ratio():
    f = 0.1
    for ppm in (100.0, -100.0, 20.0):
        ch = ImpairmentChain(RadioImpairments(sfo_ppm=ppm))
        x = np.exp(2j * np.pi * f * np.arange(100_000)).astype(np.complex64)
        y = np.concatenate([ch.pre_noise(x[:33_333]), ch.pre_noise(x[33_333:])])
        assert abs(_freq(y[200:]) / f - (1 + ppm * 1e-6)) < 1e-7


def test_resampler_accuracy_on_ofdm_band():
    """Better than -40 dB (measured ~-72 dB) for 52 of 64 subcarriers, chunk by chunk."""
    n = 20_000
    x = _multitone(np.arange(n)).astype(np.complex64)
    for ppm in (100.0, -1000.0):
        r = 1 + ppm * 1e-6
        rs = _Resampler(r)
        y = np.concatenate([rs(x[:5000]), rs(x[5000:5001]), rs(x[5001:])])
        ref = _multitone(np.arange(y.size) * r)
        err = 10 * np.log10(np.mean(np.abs(y[64:] - ref[64:]) ** 2) / np.mean(np.abs(ref) ** 2))
        assert err < -40, err
        assert abs(y.size - n / r) <= 17  # the last 16 inputs wait for the next chunk


def test_sfo_drift_of_a_long_signal():
    """+100 ppm: the RX clock is slow, so input sample n shows up at output n / 1.0001 (earlier)."""
    n = 1 << 18
    x = bandlimited(n, seed=1)
    ppm = 100.0
    r = 1 + ppm * 1e-6
    y = ImpairmentChain(RadioImpairments(sfo_ppm=ppm)).pre_noise(x)
    for n0 in (1000, 250_000):
        w = x[n0 : n0 + 512]
        guess = round(n0 / r)
        lags = np.arange(guess - 40, guess + 41)
        c = np.array([np.abs(np.vdot(w, y[k : k + 512])) for k in lags])
        i = int(np.argmax(c))
        frac = 0.5 * (c[i - 1] - c[i + 1]) / (c[i - 1] - 2 * c[i] + c[i + 1])  # parabolic peak
        assert lags[i] + frac == pytest.approx(n0 / r, abs=0.1)
    assert n0 - n0 / r == pytest.approx(25.0, abs=0.01)  # the expected drift at sample 250000


def test_clipping_fraction():
    rng = np.random.default_rng(2)
    x = (
        (rng.standard_normal(400_000) + 1j * rng.standard_normal(400_000)) * math.sqrt(FRAME_POWER / 2)
    ).astype(np.complex64)
    for pct, level in ((5.0, 0.0), (1.0, 6.0)):
        imp = RadioImpairments(clip_percent=pct, level_db=level)
        y = ImpairmentChain(imp).post_noise(x)
        c = imp.clip_level()
        rails = np.concatenate([y.real, y.imag])
        assert np.max(np.abs(rails)) <= c * (1 + 1e-6)
        assert np.mean(np.abs(rails) >= c * (1 - 1e-6)) == pytest.approx(pct / 100, rel=0.05)
    assert math.erfc(erfcinv(0.05)) == pytest.approx(0.05, rel=1e-9)


def test_level_scales_signal_and_noise():
    x = np.full(10, 1 + 1j, np.complex64)
    y = ImpairmentChain(RadioImpairments(level_db=-6.0)).process(x, noise_var=0.0)
    assert y == pytest.approx(x * 10 ** (-6 / 20), rel=1e-6)
    ch = ImpairmentChain(RadioImpairments(level_db=10.0), seed=3)
    z = ch.process(np.zeros(200_000, np.complex64), noise_var=0.01)
    assert np.mean(np.abs(z) ** 2) == pytest.approx(0.1, rel=0.02)  # the AWGN goes through the gain


def test_ideal_chain_is_identity_and_chunks_are_seamless():
    x = bandlimited(4096, seed=3)
    assert np.array_equal(ImpairmentChain(RadioImpairments()).process(x), x)
    imp = PROFILES["hackrf"]
    one = ImpairmentChain(imp, seed=9).process(x)
    ch = ImpairmentChain(imp, seed=9)
    parts = np.concatenate([ch.process(x[:1000]), ch.process(x[1000:1001]), ch.process(x[1001:])])
    assert parts.size == one.size
    assert np.max(np.abs(parts - one)) < 1e-5
    assert one.dtype == np.complex64


@pytest.mark.parametrize(
    "kw, text",
    [
        ({"cfo_ppm": 2000}, "must be within +-1000 ppm"),
        ({"sfo_ppm": -1001}, "must be within +-1000 ppm"),
        ({"iq_amp_db": 11}, "must be within +-10 dB"),
        ({"iq_phase_deg": -46}, "must be within +-45 deg"),
        ({"phase_noise_dbc": -5}, "must be <= -10 dBc"),
        ({"clip_percent": 21}, "must be in [0, 20] %"),
        ({"clip_percent": -1}, "must be in [0, 20] %"),
        ({"level_db": 81}, "must be within +-80 dB"),
        ({"samp_rate": 0}, "--samp-rate must be > 0"),
        ({"center_freq": -1}, "--center-freq must be > 0"),
        ({"phase_noise_dbc": -30, "phase_noise_bw_hz": 2e6}, "(0, samp_rate/2)"),
    ],
)
def test_validation_messages(kw, text):
    with pytest.raises(ValueError) as exc:
        RadioImpairments(**kw).validate()
    msg = str(exc.value)
    assert text in msg and "\n" not in msg


def test_profiles_load_and_validate():
    assert set(PROFILES) == {"ideal", "b200", "hackrf"}
    for name in PROFILES:
        assert from_profile(name).validate() == PROFILES[name]
    assert from_profile(None).is_ideal and from_profile("ideal").is_ideal
    hack = from_profile("HackRF", cfo_ppm=5.0)
    assert hack.cfo_ppm == 5.0 and hack.sfo_ppm == 20.0 and hack.dc_offset_db == -25.0
    b200 = PROFILES["b200"]
    assert abs(b200.cfo_ppm) <= 2 and b200.dc_offset_db < PROFILES["hackrf"].dc_offset_db
    assert "CFO 20 ppm (1.57 subcarriers)" in PROFILES["hackrf"].describe()
    with pytest.raises(ValueError, match=r"unknown radio profile 'foo'; choose ideal, b200 or hackrf"):
        from_profile("foo")


def test_channel_model_carries_the_radio():
    """dsp.channel.ChannelModel applies the radio around its AWGN, like the GNU Radio block."""
    x = np.zeros(1000, np.complex64)
    ch = ChannelModel(impairments=RadioImpairments(dc_offset_db=-20.0, level_db=6.0))
    y = ch.process(x)
    dc = RadioImpairments(dc_offset_db=-20.0).dc_phasor() * 10 ** (6 / 20)
    assert y.mean() == pytest.approx(dc, rel=1e-5)
    assert ChannelModel(impairments=RadioImpairments()).radio is None
