import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """A tiny prepare_images.py-style folder: three random 72 x 40 PNGs (train, train, val)
    and their manifest.json, for the training-script tests."""
    from PIL import Image

    d = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    manifest = []
    for i, split in enumerate(["train", "train", "val"]):
        Image.fromarray(rng.integers(0, 255, (40, 72, 3), dtype=np.uint8)).save(d / f"im{i}.png")
        manifest.append({"name": f"im{i}", "split": split})
    (d / "manifest.json").write_text(json.dumps(manifest))
    return str(d)
