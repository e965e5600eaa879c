"""Model files in the ecosystem's convention: a directory with ``config.json`` + ``model.safetensors``.

``write_dir`` / ``read_dir`` are the shared half of every model's ``save_pretrained`` /
``from_pretrained`` (edge codec, CDM-JSCC / DeepJSCC, the edge-diffusion receiver, whose
diffusers UNet uses diffusers' own layout in a subfolder). ``load_pt`` reads a legacy ``.pt``
checkpoint with ``weights_only=True`` (state dicts and plain config dicts need nothing more).
Every failure is one ``ValueError`` line naming the path and the fix.
"""

from __future__ import annotations

import json
import os

from gensem.core.errors import first_line

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


def write_dir(directory: str, config: dict, state_dict: dict) -> None:
    """``directory/config.json`` (``config``) + ``directory/model.safetensors`` (``state_dict``)."""
    from safetensors.torch import save_file

    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, CONFIG), "w") as f:
        json.dump(config, f, indent=1)
    # clone: safetensors refuses tensors that share storage or are not contiguous
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in state_dict.items()}
    save_file(tensors, os.path.join(directory, WEIGHTS), metadata={"format": "pt"})


def read_config(directory: str, kind: str | tuple[str, ...], fix: str) -> dict:
    """The ``config.json`` of a model directory whose ``"kind"`` is ``kind`` (or one of them)."""
    kinds = (kind,) if isinstance(kind, str) else tuple(kind)
    what = "/".join(kinds)
    path = os.path.join(directory, CONFIG)
    if not os.path.isfile(path):
        raise ValueError(f"{what} model directory {directory} has no {CONFIG} ({fix})")
    try:
        with open(path) as f:
            config = json.load(f)
    except Exception as exc:
        raise ValueError(f"bad {what} config {path}: {first_line(exc)} ({fix})") from None
    got = config.get("kind") if isinstance(config, dict) else None
    if got not in kinds:
        raise ValueError(f"{path} describes a {got!r} model, not {what} ({fix})")
    return config


def read_weights(directory: str, kind: str, fix: str, name: str = WEIGHTS) -> dict:
    """The tensors of ``directory/name`` (safetensors) on the CPU."""
    from safetensors.torch import load_file

    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        raise ValueError(f"{kind} model directory {directory} has no {name} ({fix})")
    try:
        return load_file(path, device="cpu")
    except Exception as exc:
        raise ValueError(f"bad {kind} weights {path}: {first_line(exc)} ({fix})") from None


def read_dir(directory: str, kind: str, fix: str) -> tuple[dict, dict]:
    """(config, state dict) of a model directory written by ``write_dir``."""
    return read_config(directory, kind, fix), read_weights(directory, kind, fix)


def load_pt(path: str):
    """A legacy ``.pt`` checkpoint: state dicts and plain dicts only (``weights_only=True``)."""
    import torch

    return torch.load(path, map_location="cpu", weights_only=True)
