import numpy as np
import pytest
from gensem.dsp.channel import ChannelModel, noise_var_for_snr, path_gain_eq1
from gensem.dsp.theory import ber_mqam_awgn, ber_mqam_rayleigh
from scipy.stats import norm


def test_rayleigh_block_gain_unit_mean_fixed_seed():
    ch = ChannelModel(fading="rayleigh", seed=11)
    for _ in range(20000):
        ch.new_block()
    g = np.array(ch.gains)
    assert np.mean(g) == pytest.approx(1.0, abs=0.03)  # E|h|^2 = 1
    assert np.mean(g < 0.1) == pytest.approx(1 - np.exp(-0.1), abs=0.01)  # exponential


def test_multipath_taps_unit_power():
    ch = ChannelModel(fading="rayleigh", n_taps=3, seed=2)
    for _ in range(20000):
        ch.new_block()
    assert np.mean(ch.gains) == pytest.approx(1.0, abs=0.03)


def test_awgn_variance_and_delay():
    ch = ChannelModel(noise_var=noise_var_for_snr(10.0), timing_offset=37, seed=1)
    y = ch.process(np.zeros(200000, np.complex64))
    assert np.var(y) == pytest.approx(0.1, rel=0.02)
    ch2 = ChannelModel(timing_offset=5)
    y2 = ch2.process(np.arange(1, 11).astype(np.complex64))
    assert list(y2.real[:7]) == [0, 0, 0, 0, 0, 1, 2]


def test_path_gain_eq1():
    # eq. (1): sqrt(eps0) * d^-phi, eps0 = -30 dB
    assert path_gain_eq1(-30.0, 3.4, 1.0) == pytest.approx(10**-1.5)
    assert path_gain_eq1(-30.0, 2.0, 10.0) == pytest.approx(10**-1.5 / 100)


def test_theory_qpsk_is_q_function():
    assert ber_mqam_awgn(10.0, 4) == pytest.approx(norm.sf(np.sqrt(10.0)), rel=1e-9)
    # 16-QAM at high SNR ~ (3/4) Q(sqrt(Es/5N0))
    g = 10**2.0
    assert ber_mqam_awgn(20.0, 16) == pytest.approx(0.75 * norm.sf(np.sqrt(g / 5)), rel=0.01)
    assert ber_mqam_rayleigh([20.0], 4)[0] == pytest.approx(0.5 * (1 - np.sqrt(g / (2 + g))), rel=0.02)
