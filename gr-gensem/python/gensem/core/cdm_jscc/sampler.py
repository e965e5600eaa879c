"""X-prediction diffusion of CDM-JSCC: the forward process (2) and the few-step sampler (7).

Training (eq. (6)): n ~ U{1..N}, x_n = sqrt(abar_n) x_0 + sqrt(1 - abar_n) eps, loss on
x_0 - X_theta(x_n, y_hat, n/N). Sampling (eq. (7)): from x_N ~ N(0, I), each step predicts x_0,
derives eps from it and moves to the previous step, i.e. deterministic DDIM with
``prediction_type="sample"``; we use diffusers' ``DDIMScheduler`` for it (trailing spacing,
so the first test step is n = N even with N_test << N_train).
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler

DEFAULT_SCHEDULE = {"num_train_timesteps": 1000, "beta_schedule": "squaredcos_cap_v2"}


def make_scheduler(schedule: dict | None = None) -> DDIMScheduler:
    cfg = dict(DEFAULT_SCHEDULE, **(schedule or {}))
    return DDIMScheduler(
        **cfg,
        prediction_type="sample",
        clip_sample=True,
        set_alpha_to_one=True,
        timestep_spacing="trailing",
    )


def q_sample(
    scheduler: DDIMScheduler,
    x0: torch.Tensor,
    generator: torch.Generator | None = None,
    pure_noise_frac: float = 0.0,
):
    """Draw n per image and return (x_n, n/N, SNR_n) by eq. (2) in closed form.

    n ~ U{1..N} as in eq. (6); with ``pure_noise_frac`` > 0 that fraction of the draws is n = N
    instead, where the few-step sampler starts (see docs/cdm_jscc.md: with N_test = 1 the
    decoder only ever sees n = N, which uniform draws visit once in N).
    """
    n_train = scheduler.config.num_train_timesteps
    b = x0.shape[0]
    t = torch.randint(0, n_train, (b,), generator=generator, device="cpu")
    if pure_noise_frac > 0:
        last = torch.rand(b, generator=generator, device="cpu") < pure_noise_frac
        t = torch.where(last, torch.full_like(t, n_train - 1), t)
    t = t.to(x0.device)
    eps = torch.randn(x0.shape, generator=generator, device="cpu").to(x0.device, x0.dtype)
    x_n = scheduler.add_noise(x0, eps, t)
    abar = scheduler.alphas_cumprod[t.cpu()].to(x0.device, torch.float32)
    snr = abar / (1.0 - abar).clamp_min(1e-12)  # of each draw: abar_n / (1 - abar_n)
    return x_n, (t.to(x0.dtype) + 1.0) / n_train, snr


@torch.no_grad()
def sample(
    model,
    y_hat: torch.Tensor,
    image_hw: tuple[int, int],
    steps: int,
    scheduler: DDIMScheduler,
    generator: torch.Generator | None = None,
    init_scale: float = 1.0,
) -> torch.Tensor:
    """Ancestral X-prediction sampling, eq. (7), with ``steps`` (>= 1) test steps; returns x_0 in [-1, 1].

    ``init_scale``: the start is ``init_scale`` * N(0, I) (the authors' code starts CDM-JSCC-P
    from 0.8 N(0, I) with 17 steps; 1.0 is the plain DDIM start)."""
    if int(steps) < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if not 0.0 < float(init_scale) <= 2.0:
        raise ValueError(f"init_scale must be in (0, 2], got {init_scale}")
    n_train = scheduler.config.num_train_timesteps
    b = y_hat.shape[0]
    x = torch.randn((b, 3, *image_hw), generator=generator, device="cpu").to(y_hat.device, y_hat.dtype)
    x = x * float(init_scale)
    scheduler.set_timesteps(int(steps))
    for t in scheduler.timesteps:
        t_norm = torch.full((b,), (float(t) + 1.0) / n_train, device=y_hat.device, dtype=y_hat.dtype)
        x0 = model(x, y_hat, t_norm)
        x = scheduler.step(x0, t, x).prev_sample
    return x.clamp(-1.0, 1.0)
