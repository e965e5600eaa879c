import numpy as np
import pytest
from gensem.dsp import qam


def test_16qam_known_answers():
    s = np.sqrt(10)
    pts = qam.constellation(16)
    assert pts[0b0000] == pytest.approx((-3 - 3j) / s)
    assert pts[0b1000] == pytest.approx((3 - 3j) / s)  # I bits 10 -> level 3 (Gray 11 -> 2)
    assert pts[0b0100] == pytest.approx((-1 - 3j) / s)
    assert pts[0b1111] == pytest.approx((1 + 1j) / s)


def test_qpsk_known_answers():
    pts = qam.constellation(4) * np.sqrt(2)
    assert list(np.round(pts)) == [-1 - 1j, -1 + 1j, 1 - 1j, 1 + 1j]


@pytest.mark.parametrize("m", qam.SUPPORTED_M)
def test_unit_energy_gray_and_roundtrip(m):
    pts = qam.constellation(m)
    assert np.mean(np.abs(pts) ** 2) == pytest.approx(1.0)
    # Gray: nearest neighbours differ in exactly one bit
    k = qam.bits_per_symbol(m)
    dmin = np.min(np.abs(pts[1:] - pts[0]))
    for i, p in enumerate(pts):
        d = np.abs(pts - p)
        for j in np.flatnonzero(np.isclose(d, dmin)):
            assert bin(i ^ j).count("1") == 1
    bits = np.random.default_rng(m).integers(0, 2, 600 * k).astype(np.uint8)
    assert np.array_equal(qam.demodulate_hard(qam.modulate(bits, m), m), bits)


def test_unknown_m_rejected():
    with pytest.raises(ValueError, match="unknown modulation order"):
        qam.check_m(32)


def test_soft_demap_qpsk_known_answer_and_sign():
    # QPSK axis amplitude +-1/sqrt(2), bit 1 on the positive side: LLR = 2*sqrt(2)*y/N0.
    y = np.array([0.3 - 0.5j, -1.0 + 0.1j])
    for exact in (True, False):
        llr = qam.soft_demap(y, 4, n0=0.5, exact=exact)
        want = 2 * np.sqrt(2) / 0.5 * np.array([0.3, -0.5, -1.0, 0.1])
        np.testing.assert_allclose(llr, want, rtol=1e-5)


@pytest.mark.parametrize("m", [16, 64])
def test_soft_demap_sign_matches_hard_decision(m):
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2, 600 * qam.bits_per_symbol(m)).astype(np.uint8)
    y = qam.modulate(bits, m) + 0.05 * (rng.normal(size=600) + 1j * rng.normal(size=600))
    hard = qam.demodulate_hard(y, m)
    for exact in (True, False):
        llr = qam.soft_demap(y, m, n0=0.005, exact=exact)
        np.testing.assert_array_equal((llr > 0).astype(np.uint8), hard)
    # noiseless points decode to their own bits with large confidence
    llr = qam.soft_demap(qam.modulate(bits, m), m, n0=0.01)
    np.testing.assert_array_equal((llr > 0).astype(np.uint8), bits)
