"""Closed-loop planner core (no GNU Radio): SNR-report inversion, decisions, channel profile."""

import math

import numpy as np
import pytest
from gensem.dsp.channel import ChannelModel
from gensem.dsp.ofdm_params import OfdmParams
from gensem.planner.closed_loop import MIN_POWER_FRACTION, PlanTracker
from gensem.planner.lemma1 import solve_discrete


def _reports(avg_snr_db, f0):
    """What the RX reports on a noiseless estimate: Es/N0 of stream i = gamma_bar * g_i^2."""
    g0, g1 = OfdmParams().stream_gains(f0)
    return tuple(avg_snr_db + 10 * math.log10(g**2) if g > 0 else -300.0 for g in (g0, g1))


@pytest.mark.parametrize("f0", [0.01, 0.3, 0.5, 1.0])
def test_frame_avg_snr_inverts_the_stream_split(f0):
    t = PlanTracker()
    s0, s1 = _reports(17.0, f0)
    assert 10 * math.log10(t.frame_avg_snr(s0, s1, f0)) == pytest.approx(17.0, abs=1e-9)


def test_decisions_follow_the_planner_with_margin():
    t = PlanTracker(target_ber=1e-5, smoothing=1.0, margin_db=1.0)
    mods = []
    for snr in (30.0, 21.0, 15.0, 5.0):
        plan = t.update(*_reports(snr, 0.2), 0.2)
        mods.append(plan["modulation"])
        ideal = solve_discrete(10 ** ((snr - 1.0) / 10), 1000, 7880, 1e-5)
        assert plan["modulation"] == ideal["modulation"]
        if ideal["modulation"]:
            assert plan["prompt_power"] == pytest.approx(
                max(ideal["prompt_power_fraction"], MIN_POWER_FRACTION)
            )
        else:
            assert plan["prompt_power"] == 1.0
    assert mods == [64, 16, 4, 0]  # the four regimes of Table II


def test_smoothing_and_bad_reports():
    t = PlanTracker(smoothing=0.5)
    t.update(*_reports(20.0, 0.5), 0.5)
    t.update(*_reports(10.0, 0.5), 0.5)
    # averaged in dB: 20 and 10 dB -> 15 dB
    assert 10 * math.log10(t.avg_snr) == pytest.approx(15.0)
    assert t.update(float("nan"), float("nan"), 0.5) is None
    assert t.update(None, None, 0.5) is None
    assert t.bad_reports == 2 and t.updates == 2
    with pytest.raises(ValueError):
        PlanTracker(smoothing=0)
    with pytest.raises(ValueError):
        PlanTracker(target_ber=0.5)


def test_channel_gain_profile_steps_per_frame():
    ch = ChannelModel(fading="none", seed=3)
    ch.set_gain_profile([(2, 0.0), (3, -10.0)])
    assert [ch.profile_gain_db(k) for k in range(7)] == [0, 0, -10, -10, -10, -10, -10]
    x = np.ones(100, np.complex64)
    y = ch.process(x, frame_starts=[0, 20, 40, 60])
    p = np.abs(y) ** 2
    assert p[:40] == pytest.approx(1.0, rel=1e-5) and p[40:] == pytest.approx(0.1, rel=1e-5)
    with pytest.raises(ValueError):
        ch.set_gain_profile([(0, 1.0)])
