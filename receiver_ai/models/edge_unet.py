"""Edge-conditioned diffusion UNet of the offline backend (``edge-diffusion``).

``EdgeUNet`` = diffusers ``UNet2DModel`` whose input is the noisy RGB image concatenated
with the edge map (4 channels) at the working resolution, plus a prompt embedding added
to the timestep embedding (``class_embed_type="identity"``).

Colour layout (config ``colour_input``, beyond the paper: issue 18): the input gains the
upsampled colour layout L (3 channels, [-1, 1]) and a presence mask (1 channel), 8 channels
in all, and the model denoises the *residual* x - L (x itself when no layout came: L = 0,
mask 0). A model that predicts a zero residual returns the layout, so what it learns from the
edges and the prompt is added on top of the colour-only reconstruction
(``receiver_ai.pipelines.edge_diffusion`` does the sum). Checkpoints without the key have no
colour input.

Prompt embedding: no pretrained text model is available offline, so the text goes through
a *hashed bag of words*: lower-cased words (``[a-z0-9]+``) are hashed (CRC-32) into
``n_buckets`` rows of a learned ``nn.EmbeddingBag`` (mean), followed by a linear layer and
SiLU. An empty prompt gives a learned "no prompt" vector (bucket 0). The ``known`` buffer
marks the buckets of the training vocabulary (``mark_known``); words outside it are left
out, so a word the model never saw does not pull in the colour of whichever training word
shares its bucket (a prompt of only unknown words is the empty prompt). A checkpoint
without the buffer keeps every bucket.
"""

from __future__ import annotations

import re
import zlib

import torch
from torch import nn

WORD = re.compile(r"[a-z0-9]+")

DEFAULT_CONFIG = {
    "height": 128,
    "width": 192,
    "block_out_channels": [32, 64, 96],
    "layers_per_block": 1,
    "n_buckets": 1024,
    "text_dim": 64,
    "norm_num_groups": 8,
    "colour_input": False,
}
TINY_CONFIG = {
    "height": 16,
    "width": 24,
    "block_out_channels": [8, 16],
    "layers_per_block": 1,
    "n_buckets": 64,
    "text_dim": 8,
    "norm_num_groups": 4,
    "colour_input": False,
}


def hash_words(prompt: str, n_buckets: int, max_words: int = 32) -> list[int]:
    """Bucket indices (1..n_buckets-1) of the prompt's words; [0] for an empty prompt."""
    words = WORD.findall(str(prompt).lower())[:max_words]
    return [1 + zlib.crc32(w.encode()) % (n_buckets - 1) for w in words] or [0]


class PromptEmbedding(nn.Module):
    """Hashed bag-of-words text embedding -> a vector of the UNet's time-embedding size."""

    def __init__(self, n_buckets: int, text_dim: int, out_dim: int):
        super().__init__()
        self.n_buckets = int(n_buckets)
        self.bag = nn.EmbeddingBag(self.n_buckets, text_dim, mode="mean")
        self.proj = nn.Sequential(nn.Linear(text_dim, out_dim), nn.SiLU(), nn.Linear(out_dim, out_dim))
        self.register_buffer("known", torch.ones(self.n_buckets, dtype=torch.bool))

    def mark_known(self, prompts: list[str]):
        """Restrict the vocabulary to the words of ``prompts`` (the training prompts)."""
        self.known.zero_()
        self.known[0] = True
        for p in prompts:
            self.known[hash_words(p, self.n_buckets)] = True

    def buckets(self, prompt: str) -> list[int]:
        """The prompt's bucket indices within the known vocabulary; [0] if none is known."""
        known = self.known.tolist()
        return [i for i in hash_words(prompt, self.n_buckets) if known[i] and i] or [0]

    def forward(self, prompts: list[str]) -> torch.Tensor:
        idx = [self.buckets(p) for p in prompts]
        flat = torch.tensor([i for row in idx for i in row], dtype=torch.long, device=self.bag.weight.device)
        offsets = torch.tensor([0] + [len(r) for r in idx[:-1]], device=flat.device).cumsum(0)
        return self.proj(self.bag(flat, offsets))


class EdgeUNet(nn.Module):
    """eps/v/x0 predictor: (noisy image B x 3 x H x W, timesteps, edges B x 1 x H x W, prompts,
    layout B x 4 x H x W: RGB in [-1, 1] and the presence mask; None = no layout)."""

    def __init__(self, config: dict | None = None):
        super().__init__()
        from diffusers import UNet2DModel

        self.config = dict(DEFAULT_CONFIG, **(config or {}))
        c = self.config
        boc = tuple(c["block_out_channels"])
        time_dim = boc[0] * 4  # UNet2DModel's time-embedding width
        self.unet = UNet2DModel(
            sample_size=(c["height"], c["width"]),
            in_channels=8 if c["colour_input"] else 4,
            out_channels=3,
            block_out_channels=boc,
            layers_per_block=c["layers_per_block"],
            down_block_types=("DownBlock2D",) * len(boc),
            up_block_types=("UpBlock2D",) * len(boc),
            norm_num_groups=c["norm_num_groups"],
            class_embed_type="identity",
        )
        self.text = PromptEmbedding(c["n_buckets"], c["text_dim"], time_dim)

    @property
    def colour_input(self) -> bool:
        return bool(self.config["colour_input"])

    def forward(self, noisy, timesteps, edges, prompts: list[str], layout=None):
        parts = [noisy, edges.to(noisy.dtype)]
        if self.colour_input:
            if layout is None:
                b, _, h, w = noisy.shape
                layout = noisy.new_zeros((b, 4, h, w))
            elif layout.shape[1] != 4 or layout.shape[2:] != noisy.shape[2:]:
                raise ValueError(f"layout must be B x 4 x {tuple(noisy.shape[2:])}; got {tuple(layout.shape)}")
            parts.append(layout.to(noisy.dtype))
        x = torch.cat(parts, dim=1)
        cond = self.text(prompts).to(noisy.dtype)
        return self.unet(x, timesteps, class_labels=cond).sample

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
