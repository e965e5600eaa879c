"""``controlnet`` backend: Stable Diffusion 1.5 + an edge ControlNet (diffusers).

A thin wrapper over ``diffusers.StableDiffusionControlNetPipeline``. ``from_pretrained``
takes local directories or hub ids (e.g. ``runwayml/stable-diffusion-v1-5`` and
``lllyasviel/sd-controlnet-canny``); with ``allow_download=False`` (the default) nothing is
fetched (``local_files_only=True``) and a missing model is a one-line ValueError naming it
and the fix. fp16 on CUDA, fp32 on CPU. No safety checker is loaded (the receiver only
re-renders what the transmitter described).
"""

from __future__ import annotations

import os

import numpy as np
import torch

OUT_SIZE = (768, 512)  # (width, height); SD needs multiples of 8
COLOUR_STRENGTH = 0.8  # img2img from the colour layout: the share of the schedule denoised
# samplers the receiver can switch to (diffusers scheduler classes); "lcm" needs LCM-distilled
# weights (an LCM-LoRA fused into SD 1.5) to give good images in 2-8 steps, the others work
# with the base weights
SCHEDULERS = {
    "ddim": "DDIMScheduler",
    "dpm++": "DPMSolverMultistepScheduler",
    "unipc": "UniPCMultistepScheduler",
    "lcm": "LCMScheduler",
}


def edge_image(edge_map, width: int, height: int):
    """H x W edge map (float [0, 1] or uint8) -> RGB PIL image (white edges on black) at width x height."""
    from PIL import Image

    e = np.asarray(edge_map, dtype=np.float32)
    if e.ndim == 3 and e.shape[2] in (1, 3):
        e = e.mean(axis=2)
    if e.ndim != 2 or min(e.shape) < 2:
        raise ValueError(f"edge map must be a 2-D H x W array; got shape {e.shape}")
    if e.max(initial=0) > 1.0:
        e = e / 255.0
    e8 = (np.clip(np.nan_to_num(e), 0, 1) * 255).round().astype(np.uint8)
    return Image.fromarray(e8, "L").resize((width, height), Image.BILINEAR).convert("RGB")


def _missing(what: str, name: str, exc: Exception, allow_download: bool) -> ValueError:
    where = "locally or on the hub" if allow_download else "locally (offline: local_files_only)"
    fix = (
        f"download it on a host with internet (huggingface-cli download {name} --local-dir DIR) and pass DIR"
        if not os.path.isdir(name)
        else "point at a diffusers-format directory (model_index.json / config.json + weights)"
    )
    from gensem.core.errors import first_line

    reason = first_line(exc, 160, with_type=False)
    return ValueError(f"{what} {name!r} not found {where}: {fix} [{reason}]")


def skip_unused_controlnet(controlnet):
    """Make a ControlNet return zero residuals without running when its conditioning scale is 0.

    diffusers' ControlNet pipeline calls the ControlNet on every step and multiplies its
    residuals by ``conditioning_scale``, which ``control_guidance_end`` sets to 0 for the late
    steps: the same (all-zero) residuals come back here without the ControlNet's compute. The
    shapes are taken from the last full call with the same input shape."""
    if getattr(controlnet, "_gensem_skip", False):
        return controlnet
    forward = controlnet.forward
    shapes = {}

    def skipping_forward(sample, *args, conditioning_scale=1.0, return_dict=True, **kw):
        key = (tuple(sample.shape), sample.dtype, sample.device)
        if isinstance(conditioning_scale, (int, float)) and conditioning_scale == 0 and key in shapes:
            down, mid = shapes[key]
            out = ([torch.zeros(s, dtype=sample.dtype, device=sample.device) for s in down],
                   torch.zeros(mid, dtype=sample.dtype, device=sample.device))
            if return_dict:
                from diffusers.models.controlnets.controlnet import ControlNetOutput

                return ControlNetOutput(down_block_res_samples=out[0], mid_block_res_sample=out[1])
            return out
        res = forward(sample, *args, conditioning_scale=conditioning_scale, return_dict=return_dict, **kw)
        down, mid = (res.down_block_res_samples, res.mid_block_res_sample) if return_dict else res
        shapes[key] = ([tuple(d.shape) for d in down], tuple(mid.shape))
        return res

    controlnet.forward = skipping_forward
    controlnet._gensem_skip = True
    return controlnet


class ControlNetBackend:
    """``__call__(prompt, edge_map, steps, seed) -> uint8 H x W x 3`` (SD 1.5 + ControlNet)."""

    def __init__(self, pipe, device=None, meta: dict | None = None):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.pipe = pipe.to(self.device)
        skip_unused_controlnet(self.pipe.controlnet)
        self.pipe.set_progress_bar_config(disable=True)
        self.meta = meta or {}
        self._i2i = None  # the img2img pipeline on the same components (colour layouts), made when needed
        self.name = "controlnet"

    @classmethod
    def from_pretrained(
        cls,
        base: str = "runwayml/stable-diffusion-v1-5",
        controlnet: str = "lllyasviel/sd-controlnet-canny",
        device=None,
        allow_download: bool = False,
    ):
        from diffusers import ControlNetModel, StableDiffusionControlNetPipeline

        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        kw = {"torch_dtype": dtype, "local_files_only": not allow_download}
        try:
            cn = ControlNetModel.from_pretrained(controlnet, **kw)
        except Exception as exc:
            raise _missing("ControlNet model", controlnet, exc, allow_download) from None
        try:
            pipe = StableDiffusionControlNetPipeline.from_pretrained(
                base,
                controlnet=cn,
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
                **kw,
            )
        except Exception as exc:
            raise _missing("Stable Diffusion model", base, exc, allow_download) from None
        return cls(pipe, device, {"base": base, "controlnet": controlnet, "dtype": str(dtype)})

    # ------------------------------------------------------------ speed
    def set_scheduler(self, name: str):
        """Switch the sampler (``SCHEDULERS``), keeping the model's noise schedule."""
        import diffusers

        if name not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {sorted(SCHEDULERS)}; got {name!r}")
        cls = getattr(diffusers, SCHEDULERS[name])
        self.pipe.scheduler = cls.from_config(self.pipe.scheduler.config)
        self.meta["scheduler"] = name
        return self

    def optimize(self, channels_last: bool = True, compile_mode: str | None = None):
        """The GPU fast path: channels-last UNet/ControlNet/VAE (cuDNN's NHWC kernels), PyTorch
        SDPA attention (diffusers' default ``AttnProcessor2_0``), and optionally
        ``torch.compile`` of the UNet and the ControlNet (``compile_mode``: "default",
        "reduce-overhead" = Inductor + CUDA graphs, "max-autotune")."""
        if channels_last:
            for m in (self.pipe.unet, self.pipe.controlnet, self.pipe.vae):
                m.to(memory_format=torch.channels_last)
        if compile_mode:
            # static shapes: a new shape (say, guidance off: batch 1) recompiles for that shape
            # rather than switching to slower dynamic-shape kernels
            torch._dynamo.config.automatic_dynamic_shapes = False
            self.pipe.unet = torch.compile(self.pipe.unet, mode=compile_mode)
            self.pipe.controlnet = torch.compile(self.pipe.controlnet, mode=compile_mode)
        self.meta.update(channels_last=bool(channels_last), compile=compile_mode)
        return self

    def __call__(
        self,
        prompt: str,
        edge_map,
        steps: int = 20,
        seed: int = 0,
        out_size=OUT_SIZE,
        guidance_scale: float = 7.5,
        negative_prompt: str | None = None,
        control_end: float = 1.0,
        colour: bytes | None = None,
        strength: float = COLOUR_STRENGTH,
    ) -> np.ndarray:
        """``control_end`` < 1 stops the ControlNet after that fraction of the steps (diffusers'
        ``control_guidance_end``): the later steps run the UNet alone. ``colour``: the image's
        colour layout (``core.colour_layout``); the generation then starts from it, upsampled
        (diffusers' ``StableDiffusionControlNetImg2ImgPipeline``, the same components, denoising
        ``strength`` of the way): the colours come from the sender, the detail from the model."""
        w, h = (int(v) for v in out_size)
        if w % 8 or h % 8 or steps < 1:
            raise ValueError(f"need width and height multiples of 8 and steps >= 1; got {w}x{h}, {steps}")
        g = torch.Generator("cpu").manual_seed(int(seed))
        kw = dict(
            prompt=str(prompt),
            num_inference_steps=int(steps),
            guidance_scale=float(guidance_scale),
            negative_prompt=negative_prompt,
            generator=g,
            control_guidance_end=float(control_end),
            width=w,
            height=h,
            output_type="np",
        )
        if colour is None:
            out = self.pipe(image=edge_image(edge_map, w, h), **kw)
        else:
            from PIL import Image

            from gensem.core.colour_layout import render

            init = Image.fromarray(render(colour, (w, h)))
            out = self._img2img()(image=init, control_image=edge_image(edge_map, w, h), strength=float(strength), **kw)
        return (np.clip(out.images[0], 0, 1) * 255).round().astype(np.uint8)

    def _img2img(self):
        """The img2img ControlNet pipeline on this pipeline's components: it shares the weights
        (no second copy in memory), and is made again when ``set_scheduler`` / ``optimize``
        have swapped a component since."""
        comps = self.pipe.components
        if self._i2i is None or any(self._i2i.components.get(k) is not v for k, v in comps.items()):
            from diffusers import StableDiffusionControlNetImg2ImgPipeline

            self._i2i = StableDiffusionControlNetImg2ImgPipeline(**comps)
            self._i2i.set_progress_bar_config(disable=True)
        return self._i2i
