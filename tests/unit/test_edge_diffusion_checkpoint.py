"""The shipped edge-diffusion checkpoint (slow): loads, generates 768 x 512, follows the edge map.

Measured when shipped (chelsea, 20 DDIM steps, seed 0): PSNR 9.9 dB (random init 8.7 dB);
Canny F1 of the generated image vs the sent edges (4 px tolerance) 0.30 (random init 0.05)."""

import os

import numpy as np
import pytest

from receiver_ai.pipelines import DEFAULT_EDGE_DIFFUSION, load_backend

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not os.path.isfile(DEFAULT_EDGE_DIFFUSION), reason="no shipped checkpoint")
def test_shipped_checkpoint_on_a_val_image():
    skimage = pytest.importorskip("skimage.data")
    from gensem.semantic.edges import canny_edges, edge_f1
    from gensem.semantic.images import fit_image
    from receiver_ai.metrics import psnr
    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    img = fit_image(skimage.chelsea())  # 'skimage-cat' is in the val split: never trained on
    edges = canny_edges(img)
    generate, desc = load_backend("edge-diffusion", steps=20, device="cpu")
    out = generate("a photo of cat", edges, seed=0)
    assert out.shape == (512, 768, 3) and out.dtype == np.uint8 and "edge-diffusion" in desc
    cfg = generate.pipeline.model.config
    rand = EdgeDiffusionPipeline.from_config(cfg, device="cpu")("a photo of cat", edges, steps=20, seed=0)
    assert psnr(img, out) > psnr(img, rand)
    f1 = edge_f1(edges, canny_edges(out), tol=4)["f1"]
    assert f1 > edge_f1(edges, canny_edges(rand), tol=4)["f1"] + 0.1
