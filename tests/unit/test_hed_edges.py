"""HED edges through the real controlnet_aux loader, with a randomly initialised network
saved the way the ControlNet annotator weights ship (``ControlNetHED.pth`` in a directory)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hed = pytest.importorskip("controlnet_aux.hed")

from gensem.semantic.edges import edge_map, hed_edges  # noqa: E402


@pytest.fixture(scope="module")
def weights_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("hed")
    torch.manual_seed(0)
    torch.save(hed.ControlNetHED_Apache2().state_dict(), d / "ControlNetHED.pth")
    return str(d)


def test_hed_soft_map_at_image_size(weights_dir):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)
    img[:, 48:] = 255  # a strong vertical edge
    e = edge_map(img, "hed", weights_dir)
    assert e.shape == (64, 96) and e.dtype == np.uint8
    assert e.std() > 0  # a map, not a constant
    np.testing.assert_array_equal(e, hed_edges(img, weights_dir))  # deterministic


@pytest.mark.parametrize("case", ["missing_dir", "bad_file"])
def test_bad_hed_weights_are_one_line_value_errors(tmp_path, case):
    d = tmp_path / "w"
    if case == "bad_file":
        d.mkdir()
        (d / "ControlNetHED.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="--edges canny") as ei:
        hed_edges(np.zeros((64, 96, 3), np.uint8), str(d))
    assert "\n" not in str(ei.value)
