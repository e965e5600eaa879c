"""``edge-diffusion`` backend: our small edge-conditioned diffusion model, trained offline.

``EdgeDiffusionPipeline(model, scheduler_config)``: DDIM sampling (diffusers
``DDIMScheduler``) of ``receiver_ai.models.edge_unet.EdgeUNet`` at its working resolution
(default 192 x 128), then a bicubic upsample to the output size (default 768 x 512).
Checkpoints (``scripts/train_edge_diffusion.py``) hold the model config, the scheduler
config (training timesteps, beta schedule, prediction type) and fp16 weights.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from gensem.core.errors import first_line

from receiver_ai.models.edge_unet import TINY_CONFIG, EdgeUNet

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


class EdgeDiffusionPipeline:
    """``__call__(prompt, edge_map, steps, seed) -> uint8 H x W x 3`` at ``out_size``."""

    def __init__(self, model: EdgeUNet, scheduler_config: dict | None = None, device=None, meta=None):
        from diffusers import DDIMScheduler

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        self.scheduler_config = dict(DEFAULT_SCHEDULER, **(scheduler_config or {}))
        self.scheduler = DDIMScheduler(**self.scheduler_config, clip_sample=True, set_alpha_to_one=True)
        self.meta = meta or {}
        self.name = "edge-diffusion"

    @classmethod
    def from_config(cls, config: dict | None = None, seed: int = 0, device=None, tiny: bool = False):
        """A randomly initialised model (tests; the start of training)."""
        torch.manual_seed(seed)
        return cls(EdgeUNet(TINY_CONFIG if tiny else config), device=device, meta={"trained": False})

    @classmethod
    def from_checkpoint(cls, path: str, device=None):
        if not os.path.isfile(path):
            raise ValueError(
                f"edge-diffusion checkpoint not found: {path} "
                "(train one with scripts/train_edge_diffusion.py, or pass --model PATH)"
            )
        try:
            ck = torch.load(path, map_location="cpu", weights_only=False)
            model = EdgeUNet(ck["config"])
            sd = {k: (v.float() if v.is_floating_point() else v) for k, v in ck["state_dict"].items()}
            sd.setdefault("text.known", model.text.known)  # older checkpoints: every bucket known
            model.load_state_dict(sd)
        except Exception as exc:  # a user-supplied file: any failure is "bad checkpoint"
            raise ValueError(f"bad edge-diffusion checkpoint {path}: {first_line(exc)}") from None
        meta = {"trained": True, "step": ck.get("step"), "recipe": ck.get("recipe")}
        return cls(model, ck.get("scheduler"), device=device, meta=meta)

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

    @property
    def work_size(self) -> tuple[int, int]:
        return self.model.config["width"], self.model.config["height"]

    @torch.no_grad()
    def generate(self, prompts: list[str], edges: torch.Tensor, steps: int = 50, seed: int = 0):
        """Batch sampling at the working resolution: -> B x 3 x h x w float in [-1, 1]."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1; got {steps}")
        w, h = self.work_size
        g = torch.Generator("cpu").manual_seed(int(seed))
        x = torch.randn((len(prompts), 3, h, w), generator=g).to(self.device)
        edges = edges.to(self.device)
        self.scheduler.set_timesteps(int(steps))
        for t in self.scheduler.timesteps:
            tt = torch.full((len(prompts),), int(t), device=self.device, dtype=torch.long)
            out = self.model(x, tt, edges, prompts)
            x = self.scheduler.step(out, t, x).prev_sample
        return x.clamp(-1, 1)

    def __call__(
        self, prompt: str, edge_map, steps: int = 50, seed: int = 0, out_size=OUT_SIZE
    ) -> np.ndarray:
        import cv2

        w, h = self.work_size
        x = self.generate([str(prompt)], edges_to_tensor(edge_map, h, w), steps, seed)
        img = (
            ((x[0].permute(1, 2, 0).float().cpu().numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        )
        if out_size and tuple(out_size) != (w, h):
            img = cv2.resize(img, tuple(out_size), interpolation=cv2.INTER_CUBIC)
        return img
