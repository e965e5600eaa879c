"""CDM-JSCC end to end (paper Fig. 1-2): g_e + hyperprior -> f_e -> channel -> f_d -> g_d.

``CDMJSCC.training_outputs`` is the differentiable training path (noise proxy for quantisation,
AWGN on the padded symbol grid, one X-prediction at a random step n, eq. (6)): it returns the
JSCC reconstruction x_hat (from f_d's y_hat) and the compression reconstruction x_bar (from the
quantised latent itself) that loss (10) needs, plus the rate. ``encode`` / ``decode`` are the
transmitter and receiver of a real transmission: ``encode`` gives the complex symbols and the
side information (the hyper-latent z as an entropy-coded string and the lengths k_i),
``decode`` runs f_d with the hyperprior means of z_hat and samples g_d with eq. (7).
Config ``jscc_prior: False`` is the authors' receiver: f_d uses only the received symbols and
the lengths, so the hyper-latent stays at the transmitter (it still sets the rates k_i) and
the side information shrinks to the lengths (docs/cdm_jscc.md, "Side information").
Images are float tensors in [0, 1]; the diffusion works in [-1, 1].
"""

from __future__ import annotations

import torch
from torch import nn

from gensem.core.cdm_jscc.channel import awgn
from gensem.core.cdm_jscc.jscc_decoder import JSCCDecoder
from gensem.core.cdm_jscc.jscc_encoder import JSCCEncoder
from gensem.core.cdm_jscc.sampler import DEFAULT_SCHEDULE, make_scheduler, q_sample, sample
from gensem.core.cdm_jscc.transform import HyperpriorTransform
from gensem.core.cdm_jscc.unet import DEFAULT_UNET, TINY_UNET, ConditionalUNet

DEFAULT_CONFIG = {
    "N": 96,
    "M": 96,
    "num_down": 4,
    "jscc_dim": 96,
    "jscc_depth": 2,
    "heads": 4,
    "max_len": 64,
    "unit": 4,
    "unet": DEFAULT_UNET,
    "schedule": DEFAULT_SCHEDULE,
}
TINY_CONFIG = {
    "N": 8,
    "M": 8,
    "num_down": 2,
    "jscc_dim": 16,
    "jscc_depth": 1,
    "heads": 2,
    "max_len": 16,
    "unit": 2,
    "unet": TINY_UNET,
    "schedule": {"num_train_timesteps": 100, "beta_schedule": "squaredcos_cap_v2"},
}


# Closer to the authors' model (their code: MLLA of width 256, 3 blocks, rotary embeddings; a
# U-Net with attention and the condition concatenated into the encoder levels; ~62 M parameters).
# Differences that stay: our U-Net has one level per halving down to the latent's stride 16 (4
# levels; theirs 6) and our hyperprior transform is CompressAI's. For GPUs: far too slow to
# train on 2 CPU cores (docs/cdm_jscc.md).
PAPER_CONFIG = {
    "N": 192,
    "M": 256,
    "num_down": 4,
    "jscc_dim": 256,
    "jscc_depth": 3,
    "heads": 8,
    "jscc_rope": True,
    "max_len": 64,
    "unit": 4,
    "unet": {"channels": [128, 256, 384, 512], "groups": 32, "attention": [2, 3], "cond_mode": "concat"},
    "schedule": DEFAULT_SCHEDULE,
}
CONFIGS = {"small": DEFAULT_CONFIG, "paper": PAPER_CONFIG, "tiny": TINY_CONFIG}


class CDMJSCC(nn.Module):
    def __init__(self, config: dict | None = None):
        super().__init__()
        c = dict(DEFAULT_CONFIG, **(config or {}))
        self.config = c
        self.transform = HyperpriorTransform(N=c["N"], M=c["M"], num_down=c["num_down"])
        kw = {"dim": c["jscc_dim"], "depth": c["jscc_depth"], "heads": c["heads"]}
        kw.update(max_len=c["max_len"], unit=c["unit"])
        if c.get("jscc_rope"):
            kw["rope"] = True
        self.jscc_encoder = JSCCEncoder(c["M"], **kw)
        self.uses_prior = bool(c.get("jscc_prior", True))  # f_d takes h_s(z_hat)'s means
        self.jscc_decoder = JSCCDecoder(c["M"], use_prior=self.uses_prior, **kw)
        self.unet = ConditionalUNet(c["M"], 2 ** c["num_down"], **c["unet"])
        self.scheduler = make_scheduler(c["schedule"])

    def drop_jscc_prior(self) -> None:
        """Make f_d the authors' (no hyperprior means), keeping every other weight: the start
        of a fine-tune from a model trained with the prior."""
        self.jscc_decoder.prior_proj = None
        self.uses_prior = False
        self.config = dict(self.config, jscc_prior=False)

    @property
    def multiple(self) -> int:
        """Image sides must be multiples of this (g_e stride times h_e stride)."""
        return self.transform.stride * 4

    # --- training ---------------------------------------------------------------------------
    def training_outputs(
        self,
        x: torch.Tensor,
        snr_db: float,
        target_cbr: float,
        stage: str = "joint",
        generator=None,
        pure_noise_frac: float = 0.0,
        jscc_image: bool = False,
    ) -> dict:
        """The training forward pass of one stage of §III-C (Algorithm 1 as we read it).

        ``compression``: g_e + hyperprior + g_d on the quantised latent (x_bar, rate);
        ``jscc``: f_e / f_d alone, the latent MSE ||y_hat - f_d(f_e(y) + n)||^2 (``latent_mse``);
        with ``jscc_image`` also x_hat: g_d's prediction conditioned on f_d's output (the
        authors' stage 2 trains f_e / f_d on the image loss through the frozen g_d);
        ``joint``: everything, x_hat (through the channel) and x_bar for loss (10).
        ``snr``: the diffusion SNR abar_n / (1 - abar_n) of each image's draw (for min-SNR
        weighting), when g_d ran.
        """
        if stage not in ("compression", "jscc", "joint"):
            raise ValueError(f"unknown stage {stage!r} (compression, jscc or joint)")
        image_hw = tuple(x.shape[-2:])
        with torch.set_grad_enabled(torch.is_grad_enabled() and stage != "jscc"):
            t = self.transform(x)
        out: dict = {}
        n_pix = x.shape[0] * image_hw[0] * image_hw[1]
        out["bpp"] = (
            sum(-torch.log2(t[k].clamp_min(1e-9)).sum() for k in ("y_likelihoods", "z_likelihoods")) / n_pix
        )
        y_jscc = None
        if stage in ("jscc", "joint"):
            enc = self.jscc_encoder(t["y"], t["y_likelihoods"], image_hw, target_cbr=target_cbr)
            rx = awgn(enc["dense"], snr_db, generator=generator)
            latent_hw = tuple(t["y"].shape[-2:])
            prior = t["means"] if self.uses_prior else None
            y_jscc = self.jscc_decoder.decode_dense(rx, enc["lengths"], latent_hw, prior=prior)
            out["latent_mse"] = torch.mean((y_jscc - t["y_hat"].detach()) ** 2)
            out["cbr"], out["beta"] = enc["cbr"].mean().item(), enc["beta"]
        if stage in ("compression", "joint") or (stage == "jscc" and jscc_image):
            x0 = 2.0 * x - 1.0
            x_n, t_norm, out["snr"] = q_sample(self.scheduler, x0, generator, pure_noise_frac)
            conds = ([t["y_hat"]] if stage != "jscc" else []) + ([y_jscc] if y_jscc is not None else [])
            pred = self.unet(x_n.repeat(len(conds), 1, 1, 1), torch.cat(conds), t_norm.repeat(len(conds)))
            pred = (pred + 1.0) / 2.0
            n_bar = x.shape[0] if stage != "jscc" else 0
            out["x_bar"] = pred[:n_bar] if n_bar else None
            out["x_hat"] = pred[n_bar:] if y_jscc is not None else None
        return out

    # --- transmitter / receiver -------------------------------------------------------------
    def _check_image(self, x: torch.Tensor) -> None:
        m = self.multiple
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-2] % m or x.shape[-1] % m:
            raise ValueError(f"image must be (B, 3, H, W) with H, W multiples of {m}, got {tuple(x.shape)}")

    def update_entropy_tables(self) -> None:
        """Build the hyper-latent CDF tables that ``compress`` needs (after training / loading)."""
        self.transform.entropy_bottleneck.update(force=True)

    @torch.no_grad()
    def analyse(self, x: torch.Tensor) -> dict:
        """g_e + hyperprior of a transmission: y, p(y | z_hat) (eq. (1)) and the coded z string."""
        self._check_image(x)
        tr = self.transform
        y = tr.g_e(x)
        z = tr.h_e(y)
        z_strings = tr.entropy_bottleneck.compress(z)
        z_hat = tr.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        scales, means = tr.h_s(z_hat).chunk(2, dim=1)
        _, y_likelihoods = tr.gaussian_conditional(y, scales, means=means, training=False)
        return {
            "y": y,
            "y_likelihoods": y_likelihoods,
            "z_strings": z_strings,
            "z_hw": tuple(z.shape[-2:]),
            "image_hw": tuple(x.shape[-2:]),
        }

    @torch.no_grad()
    def encode(self, x: torch.Tensor, target_cbr: float | None = None, beta: float | None = None) -> dict:
        """Transmitter: symbols (list of complex, unit power) + side information per image."""
        return self.encode_analysed(self.analyse(x), target_cbr=target_cbr, beta=beta)

    @torch.no_grad()
    def encode_analysed(self, a: dict, target_cbr: float | None = None, beta: float | None = None) -> dict:
        """f_e of ``encode`` on an ``analyse`` result (to pick one beta for a set of images first)."""
        enc = self.jscc_encoder(a["y"], a["y_likelihoods"], a["image_hw"], beta=beta, target_cbr=target_cbr)
        return {
            "symbols": enc["symbols"],
            "lengths": enc["lengths"],
            # the receiver needs z only when f_d takes the hyperprior means
            "z_strings": a["z_strings"] if self.uses_prior else [b"" for _ in a["z_strings"]],
            "z_hw": a["z_hw"],
            "image_hw": a["image_hw"],
            "cbr": enc["cbr"],
            "beta": enc["beta"],
        }

    @torch.no_grad()
    def decode(
        self,
        symbols: list[torch.Tensor],
        lengths: torch.Tensor,
        z_strings: list[bytes],
        z_hw: tuple[int, int],
        image_hw: tuple[int, int],
        steps: int = 2,
        generator: torch.Generator | None = None,
        init_scale: float = 1.0,
    ) -> torch.Tensor:
        """Receiver: f_d (with the hyperprior means, unless the config says ``jscc_prior:
        False``; then ``z_strings`` are not read) then ``steps`` X-prediction steps of g_d,
        started from ``init_scale`` * N(0, I)."""
        tr = self.transform
        latent_hw = (image_hw[0] // tr.stride, image_hw[1] // tr.stride)
        if tuple(z_hw) != (latent_hw[0] // 4, latent_hw[1] // 4):
            raise ValueError(
                f"side information: hyper-latent {tuple(z_hw)} does not match image {tuple(image_hw)}"
            )
        means = None
        if self.uses_prior:
            z_hat = tr.entropy_bottleneck.decompress(z_strings, z_hw)
            _, means = tr.h_s(z_hat).chunk(2, dim=1)
        dev = next(self.unet.parameters()).device
        y_hat = self.jscc_decoder(symbols, lengths.to(dev), latent_hw, prior=means)
        x0 = sample(self.unet, y_hat, image_hw, steps, self.scheduler, generator, init_scale)
        return (x0 + 1.0) / 2.0

    @torch.no_grad()
    def transmit(
        self, x: torch.Tensor, snr_db: float, target_cbr: float, steps: int = 2, seed: int = 0
    ) -> dict:
        """encode -> AWGN at ``snr_db`` -> decode (the simulation path of ``gensem jscc eval``)."""
        g = torch.Generator().manual_seed(seed)
        enc = self.encode(x, target_cbr=target_cbr)
        rx = [awgn(s.cpu(), snr_db, generator=g).to(s.device) for s in enc["symbols"]]
        out = self.decode(rx, enc["lengths"], enc["z_strings"], enc["z_hw"], enc["image_hw"], steps, g)
        return {"x": out, "cbr": enc["cbr"], "beta": enc["beta"], "enc": enc}

    def n_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
