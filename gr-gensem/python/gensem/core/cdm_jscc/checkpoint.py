"""Save / load CDM-JSCC and DeepJSCC checkpoints: config + fp16 weights + recipe + figures.

A checkpoint is ``{"kind": "cdm-jscc" | "deepjscc", "config": ..., "state_dict": ...,
"recipe": ..., "figures": ...}``: a legacy ``.pt`` file (``save``), or a directory with the
same fields in ``config.json`` and the state dict in ``model.safetensors``
(``save_pretrained``). ``load`` takes either; a missing or foreign one gives one
``ValueError`` line.
"""

from __future__ import annotations

import os

import torch

from gensem.core.cdm_jscc.deepjscc import DeepJSCC
from gensem.core.cdm_jscc.model import CDMJSCC
from gensem.core.errors import first_line
from gensem.core.model_files import load_pt, read_config, read_weights, write_dir

KINDS = {"cdm-jscc": CDMJSCC, "deepjscc": DeepJSCC}
WEIGHTS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "weights")
SHIPPED = {
    "cdm-jscc-p": os.path.join(WEIGHTS_DIR, "cdm_jscc_p.pt"),
    "cdm-jscc-d": os.path.join(WEIGHTS_DIR, "cdm_jscc_d.pt"),
    "deepjscc": os.path.join(WEIGHTS_DIR, "deepjscc.pt"),
}
PRETRAINED_FIX = "write one with checkpoint.save_pretrained or scripts/export_models.py"


def kind_of(model) -> str:
    return "cdm-jscc" if isinstance(model, CDMJSCC) else "deepjscc"


def _state_dict(model, half: bool) -> dict:
    def small(k, v):  # entropy models stay fp32 (their CDFs must match bit for bit at both ends)
        entropy = "entropy_bottleneck" in k or "gaussian_conditional" in k
        return v.half() if half and v.is_floating_point() and not entropy else v

    return {k: small(k, v) for k, v in model.state_dict().items()}


def save(
    path: str, model, recipe: dict | None = None, figures: dict | None = None, half: bool = True
) -> None:
    payload = {"kind": kind_of(model), "config": model.config, "state_dict": _state_dict(model, half)}
    payload.update(recipe=recipe or {}, figures=figures or {})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    torch.save(payload, path)


def save_pretrained(
    directory: str, model, recipe: dict | None = None, figures: dict | None = None, half: bool = False
) -> None:
    """``directory/config.json`` (kind, config, recipe, figures) + ``directory/model.safetensors``;
    ``half``: fp16 weights as in ``save`` (entropy models fp32)."""
    cfg = {"kind": kind_of(model), "config": model.config, "recipe": recipe or {}, "figures": figures or {}}
    write_dir(directory, cfg, _state_dict(model, half))


def from_pretrained(directory: str, device: str | torch.device = "cpu"):
    """(model, checkpoint dict) of a ``save_pretrained`` directory."""
    cfg = read_config(directory, tuple(KINDS), PRETRAINED_FIX)
    ckpt = dict(cfg, state_dict=read_weights(directory, cfg["kind"], PRETRAINED_FIX))
    return _build(ckpt, directory, device), ckpt


def load(path: str, device: str | torch.device = "cpu"):
    """(model in eval mode with entropy tables built, checkpoint dict) of a ``.pt`` file or a
    ``save_pretrained`` directory."""
    if os.path.isdir(path):
        return from_pretrained(path, device)
    if not os.path.isfile(path):
        raise ValueError(f"no checkpoint at {path} (train one with scripts/train_cdm_jscc.py)")
    try:
        ckpt = load_pt(path)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable checkpoint ({type(exc).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("kind") not in KINDS:
        raise ValueError(f"{path} is not a CDM-JSCC/DeepJSCC checkpoint (no known 'kind')")
    return _build(ckpt, path, device), ckpt


def _build(ckpt: dict, path: str, device):
    try:
        model = KINDS[ckpt["kind"]](ckpt["config"])
        if isinstance(model, CDMJSCC):  # size the entropy models' CDF buffers like the saved ones
            from compressai.models.utils import update_registered_buffers

            tables = ["_quantized_cdf", "_offset", "_cdf_length"]
            tr = model.transform
            update_registered_buffers(
                tr.entropy_bottleneck, "transform.entropy_bottleneck", tables, ckpt["state_dict"]
            )
            update_registered_buffers(
                tr.gaussian_conditional,
                "transform.gaussian_conditional",
                tables + ["scale_table"],
                ckpt["state_dict"],
            )
        sd = {k: v.float() if v.dtype == torch.float16 else v for k, v in ckpt["state_dict"].items()}
        model.load_state_dict(sd)
    except Exception as exc:  # weights that do not fit the config (e.g. trained elsewhere)
        raise ValueError(f"{path}: weights do not fit its {ckpt['kind']} config: {first_line(exc)}") from None
    model.to(device).eval()
    if isinstance(model, CDMJSCC):
        model.update_entropy_tables()
    return model
