"""Image generation backends of the GPU receiver: ``edge-diffusion`` (ours, offline) and ``controlnet``.

``load_backend(name, ...) -> (generate, description)`` with
``generate(prompt, edge_map, seed=..., colour=None) -> RGB uint8 H x W x 3`` (768 x 512 by
default; ``colour`` a colour layout: ControlNet starts img2img from it, an edge-diffusion model
with a colour input takes it as one, an older one takes its coarse colours,
``core.colour_layout.impose``); used
by ``gensem-receiver`` and by ``gensem demo``. Bad names or missing weights: ValueError.
"""

from __future__ import annotations

import os

import numpy as np

BACKENDS = ("edge-diffusion", "controlnet")
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")
DEFAULT_EDGE_DIFFUSION = os.path.join(WEIGHTS_DIR, "edge_diffusion.pt")
DEFAULT_SD = "runwayml/stable-diffusion-v1-5"
DEFAULT_CONTROLNET = "lllyasviel/sd-controlnet-canny"
DEFAULT_STEPS = {"edge-diffusion": 50, "controlnet": 20}  # unless a checkpoint's recipe has sampling_steps


def load_backend(
    name: str,
    model: str | None = None,
    controlnet: str | None = None,
    steps: int | None = None,
    seed: int = 1,
    device=None,
    out_size=(768, 512),
    tiny: bool = False,
    allow_download: bool = False,
):
    """(generate(prompt, edge_map, seed=seed) -> RGB uint8, one-line description).

    ``tiny``: a randomly initialised tiny edge-diffusion model (tests only: its images are noise).
    """
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if steps is not None and int(steps) < 1:
        raise ValueError(f"steps must be >= 1; got {steps}")
    if name == "edge-diffusion":
        from receiver_ai.pipelines.edge_diffusion import EdgeDiffusionPipeline

        if tiny:
            pipe = EdgeDiffusionPipeline.from_config(tiny=True, device=device)
            desc = "edge-diffusion (tiny, random init: test only)"
        else:
            path = model or DEFAULT_EDGE_DIFFUSION
            pipe = EdgeDiffusionPipeline.from_checkpoint(path, device=device)
            desc = f"edge-diffusion ({os.path.basename(path)}, step {pipe.meta.get('step')})"
    else:
        if tiny:
            raise ValueError("--tiny exists for the edge-diffusion backend only")
        from receiver_ai.pipelines.controlnet import ControlNetBackend

        pipe = ControlNetBackend.from_pretrained(
            model or DEFAULT_SD,
            controlnet or DEFAULT_CONTROLNET,
            device=device,
            allow_download=allow_download,
        )
        desc = (
            f"controlnet ({model or DEFAULT_SD} + {controlnet or DEFAULT_CONTROLNET}, {pipe.meta['dtype']})"
        )
    if not steps:  # the checkpoint's own (the steps its figures were measured with), else the backend's
        recipe = pipe.meta.get("recipe") or {}
        steps = recipe.get("sampling_steps") or DEFAULT_STEPS[name]
    steps = int(steps)
    desc += f", {steps} steps on {pipe.device}"
    default_seed = seed

    def generate(prompt: str, edge_map, seed: int | None = None, colour: bytes | None = None):
        """``colour``: the image's colour layout (``gensem.core.colour_layout``), or None.
        An empty prompt is allowed only with some other signal (edges or colour)."""
        if not str(prompt).strip() and colour is None and not np.any(np.asarray(edge_map)):
            raise ValueError("empty prompt, no edge map and no colour layout: nothing to generate from")
        s = default_seed if seed is None else seed
        if name == "controlnet" or pipe.colour_input:  # the backend takes the layout (or its absence)
            return pipe(prompt, edge_map, steps=steps, seed=s, out_size=out_size, colour=colour)
        img = pipe(prompt, edge_map, steps=steps, seed=s, out_size=out_size)
        if colour is not None:  # a model without a colour input: take the layout's coarse colours
            from gensem.core.colour_layout import impose

            img = impose(img, colour)
        return img

    generate.pipeline = pipe
    return generate, desc
