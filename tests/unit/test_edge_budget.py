"""Edge-map rate control (semantic/edge_budget.py): known answers with a codec whose rate is
the fraction of non-zero pixels, and the real Canny detail knob."""

import numpy as np
from gensem.semantic.edge_budget import MAX_SCALE, canny_detail, fit_edge_budget, soft_detail


class PixelCountCodec:
    """Rate = 0.1 bpp x the fraction of non-zero pixels (a known answer for the bisection)."""

    calls = 0

    def compress(self, edges):
        self.calls += 1
        return bytes(int(np.count_nonzero(edges)))

    def bits_per_pixel(self, data):
        return 0.1 * len(data) / (64 * 256)


def ramp():
    return np.tile(np.arange(256, dtype=np.uint8), (64, 1))  # soft map, every value once per row


def test_fits_budget_with_the_most_detail():
    codec = PixelCountCodec()
    # soft_detail keeps values >= 255 (1 - 1/s): about 1/s of the ramp, so rate ~ 0.1/s
    out = fit_edge_budget(soft_detail(ramp()), codec, max_bpp=0.04)
    assert out["within_budget"] and out["bpp"] <= 0.04
    assert 2.5 <= out["scale"] <= 2.5 + 3 / 1024 + 0.01  # 0.1 / 0.04 = 2.5; 10 steps: 3/1024
    assert codec.calls == 11


def test_under_budget_is_sent_as_is_and_zero_means_no_limit():
    codec = PixelCountCodec()
    out = fit_edge_budget(soft_detail(ramp()), codec, max_bpp=0.2)
    assert out["scale"] == 1.0 and codec.calls == 1 and out["bpp"] > 0.09
    out = fit_edge_budget(soft_detail(ramp()), PixelCountCodec(), max_bpp=0)
    assert out["scale"] == 1.0 and out["within_budget"]


def test_budget_below_the_floor_is_reported():
    out = fit_edge_budget(soft_detail(ramp()), PixelCountCodec(), max_bpp=0.001)
    assert not out["within_budget"] and out["scale"] == MAX_SCALE


def test_canny_detail_thins_the_map():
    img = np.zeros((128, 192, 3), np.uint8)
    for i, level in enumerate((40, 70, 100, 140, 180, 220, 255)):  # steps of rising contrast
        img[:, 24 * i + 16 : 24 * i + 28] = level
    make = canny_detail(img)
    counts = [np.count_nonzero(make(s)) for s in (1.0, 1.5, 2.0)]
    assert counts[0] > counts[1] > counts[2]
