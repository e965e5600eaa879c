"""Colour layout (core.colour_layout): known answer, round trip, bad input."""

import numpy as np
import pytest
from gensem.core import colour_layout as cl


def test_known_answer_flat_grey():
    # 2 x 1 grid of grey 128: Y 5 bits -> level 16 = mid, Cb/Cr 4 bits -> 8 = mid: six zero
    # residuals, Exp-Golomb order 0 -> "1" each, padded: 0xFC; header 01 | 02 | 01 | 0x54 | 00
    flat = np.full((10, 20, 3), 128, np.uint8)
    assert cl.encode(flat, grid=(2, 1), bits=(5, 4)).hex() == "0102015400fc"


def test_round_trip_is_the_quantised_cell_means():
    rng = np.random.default_rng(3)
    img = np.kron(rng.integers(0, 256, (8, 12, 3)), np.ones((10, 10, 1))).astype(np.uint8)  # 12x8 flat cells
    data = cl.encode(img, grid=(12, 8), bits=(8, 8))
    cells = cl.decode_cells(data)
    assert cells.shape == (8, 12, 3)
    assert np.max(np.abs(cells - img[::10, ::10])) < 2.5  # 8-bit YCbCr round trip
    up = cl.render(data, (120, 80))
    assert up.shape == (80, 120, 3) and up.dtype == np.uint8
    assert cl.bits_of(data) == 8 * len(data) <= 12 * 8 * 24 + 40  # busy: raw levels, never longer


def test_smooth_layouts_cost_less_than_raw():
    y, x = np.mgrid[0:512, 0:768]
    img = np.stack([x / 3, y / 2, 255 - x / 3], -1).astype(np.uint8)  # smooth gradients
    data = cl.encode(img)  # default 12 x 8, Y6 C5
    assert cl.bits_of(data) < 0.6 * (12 * 8 * 16) + 40
    rec = cl.render(data, (768, 512)).astype(float)
    assert np.mean(np.abs(rec.reshape(-1, 3).mean(0) - img.reshape(-1, 3).mean(0))) < 3


def test_bad_input_is_one_line():
    good = cl.encode(np.full((16, 16, 3), 40, np.uint8), grid=(4, 4))
    for bad, why in (
        (good[:3], "shorter than"),
        (bytes([2]) + good[1:], "version 2"),
        (good[:5] + good[5:-1], "ends early"),
        (good + b"\x00", "trailing"),
        (bytes([1, 0, 4]) + good[3:], "header is invalid"),
    ):
        with pytest.raises(ValueError, match=why) as info:
            cl.decode_cells(bad)
        assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="RGB uint8"):
        cl.encode(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="grid"):
        cl.encode(np.zeros((4, 4, 3), np.uint8), grid=(8, 8))


def test_impose_keeps_detail_and_takes_the_layout_colours():
    y, x = np.mgrid[0:96, 0:144]
    truth = np.stack([x * 1.5, y * 2.0, 200 - x], -1).clip(0, 255).astype(np.uint8)
    data = cl.encode(truth, grid=(12, 8), bits=(8, 8))
    wrong = np.full_like(truth, 60)  # a generator that got the colours wrong ...
    wrong[::4] = 180  # ... but has detail (stripes)
    out = cl.impose(wrong, data).astype(float)
    err_before = np.abs(wrong.reshape(-1, 3).mean(0) - truth.reshape(-1, 3).mean(0)).mean()
    err_after = np.abs(out.reshape(-1, 3).mean(0) - truth.reshape(-1, 3).mean(0)).mean()
    assert err_before > 15 and err_after < 3
    stripes = out[::4].mean() - out[1::4].mean()  # the detail survives
    assert stripes > 80
    assert cl.grid_of(data) == (12, 8)
