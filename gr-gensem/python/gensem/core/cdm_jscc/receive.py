"""The CDM-JSCC receiver after the radio: side information + received symbols -> image.

Shared by ``gensem jscc send --over-link`` (decoding in the flowgraph's process) and
``gensem-receiver --backend cdm-jscc`` (decoding on a GPU host behind the ZeroMQ bridge).
Lost symbols arrive as zeros (the JSCC decoder reads them as "no information"); corrupted
side information raises ``side_info.SideInfoError`` (a ``ValueError``, one line). A colour
layout in the side information (version 2) sets the output's coarse colours (``colour``); one
that does not decode is reported in the facts and the image is delivered without it.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from gensem.core.cdm_jscc import colour
from gensem.core.cdm_jscc import side_info as side_info_mod


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """The first image of a decoded batch (N x 3 x H x W in [0, 1]) as RGB uint8 H x W x 3."""
    return (x[0].clamp(0, 1).permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)


def decode_received(
    model, side_info: bytes, symbols: np.ndarray, steps: int = 1, seed: int = 0
) -> tuple[np.ndarray, dict]:
    """(RGB uint8 H x W x 3, facts) from the received side information and symbols (complex64)."""
    info = side_info_mod.unpack(side_info, model.transform.stride)
    lengths = torch.as_tensor(info["lengths"])[None]
    need = int(info["lengths"].sum())
    sym = np.asarray(symbols, np.complex64).reshape(-1)
    if sym.size != need:
        raise ValueError(f"{sym.size} symbols received, the side information announces {need}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    dev = next(model.parameters()).device
    t0 = time.perf_counter()
    out = model.decode(
        [torch.from_numpy(sym).to(dev)],
        lengths.to(dev),
        [info["z_string"]],
        info["z_hw"],
        info["image_hw"],
        int(steps),
        torch.Generator().manual_seed(seed),  # the sampler draws its noise on the CPU
    )
    if dev.type == "cuda":
        torch.cuda.synchronize()
    decode_s = time.perf_counter() - t0
    h, w = info["image_hw"]
    rgb, colour_error = colour.apply(to_uint8(out), info["colour"])
    return rgb, {
        "decode_s": decode_s,
        "size": [int(w), int(h)],
        "symbols": need,
        "steps": int(steps),
        "colour_layout_bytes": len(info["colour"]),
        "colour_layout_error": colour_error,
    }
