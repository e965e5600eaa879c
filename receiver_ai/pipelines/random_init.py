"""SD 1.5 + ControlNet pipelines built from configs with random weights, and a byte-level
CLIP tokenizer written locally: no hub access. Used by the tests (tiny sizes) and by
``scripts/bench_receiver.py`` (the published SD 1.5 sizes: same compute as the real model)."""

from __future__ import annotations

import json
import os


def byte_chars() -> list[str]:
    """GPT-2/CLIP byte-to-unicode table (the byte-level BPE alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def byte_level_clip_tokenizer(directory: str, max_length: int):
    """A byte-level CLIP BPE tokenizer with no merges (one token per character), written to
    ``directory/tok`` and loaded from there."""
    from transformers import CLIPTokenizer

    chars = byte_chars()
    vocab = chars + [c + "</w>" for c in chars] + ["<|startoftext|>", "<|endoftext|>"]
    d = os.path.join(directory, "tok")
    os.makedirs(d)
    with open(os.path.join(d, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(vocab)}, f)
    with open(os.path.join(d, "merges.txt"), "w") as f:
        f.write("#version: 0.2\n")
    return CLIPTokenizer.from_pretrained(d, model_max_length=max_length, local_files_only=True)


def random_controlnet_pipeline(
    tokenizer,
    unet: dict,
    vae: dict,
    text: dict,
    controlnet: dict | None = None,
    randomize_zero_convs=False,
    seed=0,
):
    """``StableDiffusionControlNetPipeline`` from UNet/VAE/CLIP-text configs, random weights.
    ``randomize_zero_convs``: ControlNet's zero convolutions get random weights so that the
    edge map has an effect (tests); SD's DDIM settings (scaled-linear betas 0.00085..0.012)."""
    import torch
    from diffusers import (
        AutoencoderKL,
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionControlNetPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet_m = UNet2DConditionModel(**unet)
    cn = ControlNetModel.from_unet(unet_m, **(controlnet or {}))
    if randomize_zero_convs:
        for name, prm in cn.named_parameters():
            if prm.abs().sum() == 0 and ("controlnet_" in name or "conv_out" in name):
                torch.nn.init.normal_(prm, std=0.05)
    n_vocab = len(tokenizer)
    text_m = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=n_vocab,
            bos_token_id=n_vocab - 2,
            eos_token_id=n_vocab - 1,
            pad_token_id=n_vocab - 1,
            **text,
        )
    )
    sched = DDIMScheduler(
        beta_schedule="scaled_linear",
        beta_start=0.00085,
        beta_end=0.012,
        clip_sample=False,
        set_alpha_to_one=False,
    )
    return StableDiffusionControlNetPipeline(
        vae=AutoencoderKL(**vae),
        text_encoder=text_m,
        tokenizer=tokenizer,
        unet=unet_m,
        controlnet=cn,
        scheduler=sched,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
