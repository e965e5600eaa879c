import math

import numpy as np
import pytest

pytest.importorskip("pillow_heif")
pytest.importorskip("gnuradio.fec")

from gensem.dsp import gr_fec  # noqa: E402
from gensem.jscc import hevc_codec, ldpc_qam, separation_baselines  # noqa: E402
from gensem.jscc.separation_baselines import capacity_bytes, hevc_capacity, hevc_ldpc  # noqa: E402


def _photo(name="astronaut", size=128):
    skdata = pytest.importorskip("skimage.data")
    from PIL import Image

    return np.asarray(Image.fromarray(getattr(skdata, name)()).resize((size, size)))


def _psnr(a, b):
    return 10 * math.log10(255.0**2 / np.mean((a.astype(float) - b) ** 2))


def test_hevc_round_trip_and_determinism():
    img = _photo()
    data = hevc_codec.hevc_encode(img, 90)
    assert data == hevc_codec.hevc_encode(img, 90)
    recon = hevc_codec.hevc_decode(data)
    assert recon.shape == img.shape and recon.dtype == np.uint8
    assert _psnr(img, recon) > 25


def test_encode_to_budget_fits_or_none():
    img = _photo()
    data, q = hevc_codec.encode_to_budget(img, 3000)
    assert len(data) <= 3000 and 0 <= q < 100
    if q < 100:  # the next quality up would not have fit
        assert len(hevc_codec.hevc_encode(img, q + 1)) > 3000
    assert hevc_codec.encode_to_budget(img, 100) is None  # below the HEIF container alone


def test_capacity_budget_known_answer():
    assert capacity_bytes(24576, 10 * math.log10(3.0)) == 24576 * 2 // 8  # log2(1 + 3) = 2
    assert capacity_bytes(1000, 0.0) == 125


def test_gr_ldpc_llr_sign_convention():
    """Known answer: gr-fec's ldpc_decoder reads positive soft values as bit 1."""
    link = ldpc_qam.LdpcQamLink("n_0500_k_0202_gap_11.alist", 4)
    bits = np.random.default_rng(0).integers(0, 2, link.k, dtype=np.uint8)
    coded = link.encode(bits)
    out = np.zeros(link.k, dtype=np.uint8)
    soft = np.ascontiguousarray(2.0 * coded - 1.0, dtype=np.float32)  # +1 for bit 1
    gr_fec.work(link._dec, soft, out)
    np.testing.assert_array_equal(out, bits)
    # 25 weakly wrong LLRs are corrected; the opposite sign convention would leave ~all bits wrong
    llr = 3.0 * (2.0 * coded - 1.0)
    llr[np.random.default_rng(1).choice(link.n, 25, replace=False)] *= -0.3
    np.testing.assert_array_equal(link.decode(llr), bits)
    assert np.sum(link.decode(-llr) != bits) > link.k // 2


def test_ldpc_link_clean_at_high_snr_and_fails_at_low_snr():
    link = ldpc_qam.LdpcQamLink("n_0500_k_0202_gap_11.alist", 4)
    assert link.rate == pytest.approx(202 / 500) and link.info_bits_per_symbol == pytest.approx(2 * 202 / 500)
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2, 5 * link.k + 17, dtype=np.uint8)
    out, errors, blocks = link.transmit(bits, 20.0, rng)
    assert blocks == 6 and errors == 0
    np.testing.assert_array_equal(out, bits)
    _, errors, blocks = link.transmit(bits, -5.0, rng)
    assert errors == blocks == 6


def test_hevc_ldpc_10db_decodes_within_cbr():
    img = _photo("chelsea", 256)
    link = ldpc_qam.LdpcQamLink("n_1800_k_0902_gap_28.alist", 16)
    res = hevc_ldpc(img, 10.0, 1 / 48, np.random.default_rng(0), link=link)
    assert res["decoded"] and res["block_errors"] == 0 and res["method"] == "hevc+ldpc"
    assert 0 < res["cbr"] <= 1 / 48
    assert res["bits"] <= link.max_info_bits(4096) and res["quality"] is not None
    assert _psnr(img, res["recon"]) > 20
    cap = hevc_capacity(img, 10.0, 1 / 48)
    assert cap["decoded"] and cap["cbr"] <= 1 / 48 and cap["bits"] >= res["bits"]


def test_cliff_gives_grey_not_exception():
    img = _photo("chelsea", 256)
    link = ldpc_qam.LdpcQamLink("n_0500_k_0127_gap_21.alist", 4)
    res = hevc_ldpc(img, -5.0, 1 / 12, np.random.default_rng(0), link=link)  # fits, blocks fail
    assert res["block_errors"] > 0 and not res["decoded"]
    assert np.all(res["recon"] == separation_baselines.GREY) and res["recon"].shape == img.shape
    res = hevc_capacity(img, -5.0, 1 / 48)  # does not fit even at quality 0
    assert not res["decoded"] and res["quality"] is None and np.all(res["recon"] == 128)


@pytest.mark.parametrize(
    "img, snr, cbr",
    [
        (np.zeros((8, 8), np.uint8), 10.0, 1 / 48),
        (np.zeros((8, 8, 3), np.float32), 10.0, 1 / 48),
        (np.zeros((8, 8, 3), np.uint8), 10.0, 0.0),
        (np.zeros((8, 8, 3), np.uint8), float("nan"), 1 / 48),
        (np.zeros((8, 8, 3), np.uint8), 10.0, "a"),
    ],
)
def test_bad_args_value_error(img, snr, cbr):
    with pytest.raises(ValueError):
        hevc_capacity(img, snr, cbr)
    with pytest.raises(ValueError):
        hevc_ldpc(
            img,
            snr,
            cbr,
            np.random.default_rng(0),
            link=ldpc_qam.LdpcQamLink("n_0100_k_0042_gap_02.alist", 4),
        )
