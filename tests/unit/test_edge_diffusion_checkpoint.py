"""The shipped edge-diffusion checkpoint (slow): loads, generates 768 x 512, follows the edge map.

On the val image skimage-immunohistochemistry (never trained on), conditioned on the Canny map
through the shipped edge codec (what the receiver gets), 50 DDIM steps, seed 0; measured
2026-11-23: PSNR 10.48 dB (random init 8.73), Canny F1 of the generated image against the sent
edges (4-pixel tolerance) 0.51 (random init 0.15)."""

import os

import numpy as np
import pytest

from receiver_ai.pipelines import DEFAULT_EDGE_DIFFUSION, load_backend

pytestmark = pytest.mark.slow


@pytest.mark.skipif(not os.path.isfile(DEFAULT_EDGE_DIFFUSION), reason="no shipped checkpoint")
def test_shipped_checkpoint_on_a_val_image():
    skimage = pytest.importorskip("skimage.data")
    from gensem.core.edge_codec import EdgeCodec, conditioning_map, default_checkpoint
    from gensem.core.images import fit_image
    from gensem.core.metrics import psnr
    from gensem.semantic.edges import canny_edges, edge_f1

    from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

    img = fit_image(skimage.immunohistochemistry())  # in the val split: never trained on
    edges = canny_edges(img)
    codec = EdgeCodec.from_checkpoint(default_checkpoint())
    received = conditioning_map(codec.decompress(codec.compress(edges))[0])
    prompt = "a microscope image of stained tissue"
    generate, desc = load_backend("edge-diffusion", steps=50, device="cpu")
    out = generate(prompt, received, seed=0)
    assert out.shape == (512, 768, 3) and out.dtype == np.uint8 and "edge-diffusion" in desc
    cfg = generate.pipeline.model.config
    rand = EdgeDiffusionPipeline.from_config(cfg, device="cpu")(prompt, received, steps=50, seed=0)
    assert psnr(img, out) > psnr(img, rand)
    f1 = edge_f1(edges, canny_edges(out), tol=4)["f1"]
    assert f1 > edge_f1(edges, canny_edges(rand), tol=4)["f1"] + 0.2
