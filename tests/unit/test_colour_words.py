"""Colour words (semantic.colour_words): known answers, shares, bad input."""

import numpy as np
import pytest
from gensem.semantic.colour_words import TERMS, colour_words, name_pixels, with_colours


def test_known_answers_per_pixel():
    rgb = np.array(
        [[[255, 0, 0], [0, 200, 0], [0, 0, 255], [128, 128, 128], [250, 250, 250], [10, 10, 10],
          [120, 70, 20], [255, 200, 0], [255, 150, 180], [130, 0, 160], [255, 140, 0]]],
        np.uint8,
    )  # fmt: skip
    names = [TERMS[i] for i in name_pixels(rgb)[0]]
    assert names == ["red", "green", "blue", "grey", "white", "black", "brown", "yellow", "pink", "purple", "orange"]


def test_largest_shares_first_and_small_ones_left_out():
    img = np.zeros((64, 96, 3), np.uint8)
    img[:40] = (30, 90, 220)  # blue, 62.5 %
    img[40:60] = (40, 160, 40)  # green, 31 %
    img[60:] = (230, 30, 30)  # red, 6 %: under min_share
    assert colour_words(img) == ["blue", "green"]
    assert colour_words(img, max_words=1) == ["blue"]
    assert colour_words(img, min_share=0.05) == ["blue", "green", "red"]
    assert colour_words(img, min_share=0.9) == ["blue"]  # at least the most common one


def test_prompt_text():
    assert with_colours("a photo of a lemur", ["brown", "green"]) == "a photo of a lemur, brown and green"
    assert with_colours("a cat", ["grey", "white", "black"]) == "a cat, grey, white and black"
    assert with_colours("", ["blue"]) == "blue"
    assert with_colours("a cat", []) == "a cat"


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="RGB uint8"):
        colour_words(np.zeros((8, 8), np.uint8))
    with pytest.raises(ValueError, match="RGB uint8"):
        colour_words(np.zeros((8, 8, 3), np.float32))
