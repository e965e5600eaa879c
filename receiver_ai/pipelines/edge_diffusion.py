"""``edge-diffusion`` backend: our small edge-conditioned diffusion model, trained offline.

``EdgeDiffusionPipeline(model, scheduler_config)``: DDIM sampling (diffusers
``DDIMScheduler``) of ``receiver_ai.models.edge_unet.EdgeUNet`` at its working resolution
(default 192 x 128), then a bicubic upsample to the output size (default 768 x 512).
A model with a colour input (``EdgeUNet`` config ``colour_input``) takes the received colour
layout: the layout rendered at the output size, area-downsampled to the working size, is its
input L; it samples the residual r, and the image is render(layout) + upsample(r), so a zero
residual gives exactly the colour-layout-only reconstruction.
Checkpoints (``scripts/train_edge_diffusion.py``) hold the model config, the scheduler
config (training timesteps, beta schedule, prediction type) and fp16 weights: a legacy ``.pt``
file (``save``) or a directory (``save_pretrained``) in diffusers' layout::

    DIR/config.json                  {"kind": "edge-diffusion", "config", "step", "recipe"}
    DIR/model.safetensors            the prompt embedding (``text.*``)
    DIR/unet/                        the diffusers UNet2DModel (its save_pretrained)
    DIR/scheduler/scheduler_config.json   the DDIMScheduler (its save_pretrained)
"""

from __future__ import annotations

import os

import numpy as np
import torch
from gensem.core.errors import first_line

from receiver_ai.models.edge_unet import TINY_CONFIG, EdgeUNet

PRETRAINED_FIX = "write one with EdgeDiffusionPipeline.save_pretrained or scripts/export_models.py"

DEFAULT_SCHEDULER = {
    "num_train_timesteps": 1000,
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "v_prediction",
}
OUT_SIZE = (768, 512)  # (width, height)


def edges_to_tensor(edge_map, height: int, width: int) -> torch.Tensor:
    """H x W edge map (float [0, 1] or uint8 0..255) -> 1 x 1 x height x width float in [0, 1]."""
    import cv2

    e = np.asarray(edge_map)
    if e.ndim == 3 and e.shape[2] in (1, 3):
        e = e.mean(axis=2)
    if e.ndim != 2 or min(e.shape) < 2:
        raise ValueError(f"edge map must be a 2-D H x W array; got shape {e.shape}")
    e = e.astype(np.float32)
    if e.max(initial=0) > 1.0:
        e = e / 255.0
    e = np.clip(np.nan_to_num(e), 0.0, 1.0)
    if e.shape != (height, width):
        e = cv2.resize(e, (width, height), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(np.ascontiguousarray(e))[None, None]


def layout_to_tensor(colour: bytes | None, height: int, width: int, out_size=OUT_SIZE):
    """(1 x 4 x height x width tensor: the layout's RGB in [-1, 1] + presence mask, the layout
    rendered at ``out_size`` as float RGB 0..255 or None). ``colour`` None: zeros, mask 0."""
    import cv2
    from gensem.core.colour_layout import render

    if colour is None:
        return torch.zeros((1, 4, height, width)), None
    big = render(colour, tuple(out_size)).astype(np.float32)  # the colour-only reconstruction
    small = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA) / 127.5 - 1.0
    t = np.concatenate([small.transpose(2, 0, 1), np.ones((1, height, width), np.float32)])
    return torch.from_numpy(np.ascontiguousarray(t))[None], big


def _load_state(model: EdgeUNet, state_dict: dict) -> None:
    """Load fp16 or fp32 weights into ``model`` (fp32); older checkpoints lack ``text.known``."""
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in state_dict.items()}
    sd.setdefault("text.known", model.text.known)  # older checkpoints: every bucket known
    model.load_state_dict(sd)


class EdgeDiffusionPipeline:
    """``__call__(prompt, edge_map, steps, seed) -> uint8 H x W x 3`` at ``out_size``."""

    def __init__(self, model: EdgeUNet, scheduler_config: dict | None = None, device=None, meta=None):
        from diffusers import DDIMScheduler

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        cfg = {k: v for k, v in (scheduler_config or {}).items() if not k.startswith("_")}
        self.scheduler_config = dict(DEFAULT_SCHEDULER, **cfg)
        self.scheduler = DDIMScheduler.from_config(
            dict({"clip_sample": True, "set_alpha_to_one": True}, **self.scheduler_config)
        )
        self.meta = meta or {}
        self.name = "edge-diffusion"

    @classmethod
    def from_config(cls, config: dict | None = None, seed: int = 0, device=None, tiny: bool = False):
        """A randomly initialised model (tests; the start of training)."""
        torch.manual_seed(seed)
        return cls(EdgeUNet(TINY_CONFIG if tiny else config), device=device, meta={"trained": False})

    @classmethod
    def from_checkpoint(cls, path: str, device=None):
        """A trained pipeline from a legacy ``.pt`` checkpoint or a ``save_pretrained`` directory."""
        from gensem.core.model_files import load_pt

        if os.path.isdir(path):
            return cls.from_pretrained(path, device=device)
        if not os.path.isfile(path):
            raise ValueError(
                f"edge-diffusion checkpoint not found: {path} "
                "(train one with scripts/train_edge_diffusion.py, or pass --model PATH)"
            )
        try:
            ck = load_pt(path)
            model = EdgeUNet(ck["config"])
            _load_state(model, ck["state_dict"])
        except Exception as exc:  # a user-supplied file: any failure is "bad checkpoint"
            raise ValueError(f"bad edge-diffusion checkpoint {path}: {first_line(exc)}") from None
        meta = {"trained": True, "step": ck.get("step"), "recipe": ck.get("recipe")}
        return cls(model, ck.get("scheduler"), device=device, meta=meta)

    @classmethod
    def from_pretrained(cls, directory: str, device=None):
        """A pipeline from a ``save_pretrained`` directory (its UNet and scheduler through
        diffusers' ``from_pretrained``, so either can come from elsewhere)."""
        from diffusers import DDIMScheduler, UNet2DModel
        from gensem.core.model_files import read_dir

        cfg, text_sd = read_dir(directory, "edge-diffusion", PRETRAINED_FIX)
        for sub in ("unet/config.json", "scheduler/scheduler_config.json"):  # else diffusers asks the hub
            if not os.path.isfile(os.path.join(directory, sub)):
                raise ValueError(
                    f"edge-diffusion model directory {directory} has no {sub} ({PRETRAINED_FIX})"
                )
        try:
            model = EdgeUNet(cfg["config"])
            unet = UNet2DModel.from_pretrained(os.path.join(directory, "unet"), low_cpu_mem_usage=False)
            if tuple(unet.config.block_out_channels) != tuple(model.config["block_out_channels"]):
                raise ValueError(
                    f"unet/ has block_out_channels {list(unet.config.block_out_channels)}, "
                    f"config.json {model.config['block_out_channels']}"
                )
            model.unet = unet
            _load_state(model, dict(text_sd, **{f"unet.{k}": v for k, v in unet.state_dict().items()}))
            sched = DDIMScheduler.load_config(os.path.join(directory, "scheduler"))
        except Exception as exc:
            raise ValueError(
                f"bad edge-diffusion model {directory}: {first_line(exc)} ({PRETRAINED_FIX})"
            ) from None
        meta = {"trained": True, "step": cfg.get("step"), "recipe": cfg.get("recipe")}
        return cls(model, sched, device=device, meta=meta)

    def save(self, path: str, step: int = 0, recipe: dict | None = None, half: bool = True):
        sd = {
            k: (v.half() if half and v.is_floating_point() else v) for k, v in self.model.state_dict().items()
        }
        ck = {
            "config": self.model.config,
            "scheduler": self.scheduler_config,
            "state_dict": sd,
            "step": step,
            "recipe": recipe or {},
        }
        torch.save(ck, path)

    def save_pretrained(self, directory: str, step: int = 0, recipe: dict | None = None, half: bool = False):
        """The directory layout of the module docstring; ``half``: fp16 weights as in ``save``."""
        import copy

        from gensem.core.model_files import write_dir

        unet = copy.deepcopy(self.model.unet).cpu()
        (unet.half() if half else unet).save_pretrained(os.path.join(directory, "unet"))
        self.scheduler.save_pretrained(os.path.join(directory, "scheduler"))
        text = {
            f"text.{k}": (v.half() if half and v.is_floating_point() else v)
            for k, v in self.model.text.state_dict().items()
        }
        cfg = {"kind": "edge-diffusion", "config": self.model.config, "step": step, "recipe": recipe or {}}
        write_dir(directory, cfg, text)

    @property
    def work_size(self) -> tuple[int, int]:
        return self.model.config["width"], self.model.config["height"]

    @property
    def colour_input(self) -> bool:
        """Whether the model takes the colour layout (else callers impose it afterwards)."""
        return self.model.colour_input

    @torch.no_grad()
    def generate(self, prompts: list[str], edges: torch.Tensor, steps: int = 50, seed: int = 0, layout=None):
        """Batch sampling at the working resolution: -> B x 3 x h x w float in [-1, 1]; with a
        colour-input model the sampled residual (``layout``: B x 4 x h x w, or None)."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1; got {steps}")
        w, h = self.work_size
        g = torch.Generator("cpu").manual_seed(int(seed))
        x = torch.randn((len(prompts), 3, h, w), generator=g).to(self.device)
        edges = edges.to(self.device)
        if layout is not None:
            layout = layout.to(self.device)
        self.scheduler.set_timesteps(int(steps))
        for t in self.scheduler.timesteps:
            tt = torch.full((len(prompts),), int(t), device=self.device, dtype=torch.long)
            out = self.model(x, tt, edges, prompts, layout)  # a model without a colour input ignores it
            x = self.scheduler.step(out, t, x).prev_sample
        return x.clamp(-1, 1) if not self.colour_input else x.clamp(-2, 2)

    def __call__(
        self, prompt: str, edge_map, steps: int = 50, seed: int = 0, out_size=OUT_SIZE, colour: bytes | None = None
    ) -> np.ndarray:
        """-> RGB uint8 at ``out_size``. ``colour`` (a colour layout) is used by a colour-input
        model only; the caller imposes it on the output of one without."""
        import cv2

        w, h = self.work_size
        out_size = tuple(out_size or (w, h))
        layout, base = (None, None)
        if self.colour_input:
            layout, base = layout_to_tensor(colour, h, w, out_size)
        x = self.generate([str(prompt)], edges_to_tensor(edge_map, h, w), steps, seed, layout)
        x = x[0].permute(1, 2, 0).float().cpu().numpy() * 127.5  # residual or image - 127.5
        if out_size != (w, h):
            x = cv2.resize(x, out_size, interpolation=cv2.INTER_CUBIC)
        img = x + (base if base is not None else 127.5)
        return img.round().clip(0, 255).astype(np.uint8)
