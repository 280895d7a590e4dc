"""Deterministic DDIM generation (Song et al. 2021, eta = 0) over the continuous schedule.

The sampler is a plain function of a denoiser and the initial noise, so seed -> noise -> image
is explicit. Everything here works on *normalized* images; `core.generator` adds the
(de)normalization and clipping to [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from core.schedule import diffusion_schedule

# eps_hat = denoiser(noisy_images (N, C, H, W), noise_variances (N,))
Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def step_times(steps: int) -> torch.Tensor:
    """(steps + 1,) times from 1 (pure-ish noise) down to 0 in equal steps."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return torch.linspace(1.0, 0.0, steps + 1)


def denoise(
    denoiser: Denoiser, noisy_images: torch.Tensor, noise_rates: torch.Tensor, signal_rates: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Predict (eps_hat, x0_hat), each (N, C, H, W), from x_t; rates are (N, 1, 1, 1)."""
    pred_noises = denoiser(noisy_images, noise_rates.reshape(-1) ** 2)
    pred_images = (noisy_images - noise_rates * pred_noises) / signal_rates  # x0 = (x_t - s eps) / c
    return pred_noises, pred_images


def _rates(time: float | torch.Tensor, batch: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    times = torch.full((batch, 1, 1, 1), float(time), dtype=like.dtype, device=like.device)
    return diffusion_schedule(times)


def ddim_step(
    denoiser: Denoiser, noisy_images: torch.Tensor, time: float, next_time: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """One deterministic DDIM update x_t -> x_{t_next}; returns (next_noisy_images, pred_images).

    1. (eps_hat, x0_hat) = denoise(x_t) at the rates of t;
    2. x_{t_next} = signal(t_next) * x0_hat + noise(t_next) * eps_hat.
    """
    n = noisy_images.shape[0]
    noise_rates, signal_rates = _rates(time, n, noisy_images)
    pred_noises, pred_images = denoise(denoiser, noisy_images, noise_rates, signal_rates)
    next_noise_rates, next_signal_rates = _rates(next_time, n, noisy_images)
    next_noisy_images = next_signal_rates * pred_images + next_noise_rates * pred_noises
    return next_noisy_images, pred_images


@dataclass
class ForwardPass:
    """Generation from seeds, with what inversion can reuse: the states and the eps evaluated at each."""

    states: list[torch.Tensor]  # S tensors (N, C, H, W): x_{t_0} = z, ..., x_{t_{S-1}}
    eps: list[torch.Tensor]  # S tensors (N, C, H, W): eps_hat(x_{t_k}) at the rates of t_k
    output: torch.Tensor  # (N, C, H, W): G(z), the last x0 estimate, normalized


def forward_pass(denoiser: Denoiser, initial_noise: torch.Tensor, steps: int = 10) -> ForwardPass:
    """G from `initial_noise` (z at t = 1), keeping every state and eps; `ddim_generate` returns its output."""
    times = step_times(steps).tolist()
    states, eps, noisy_images = [], [], initial_noise
    for time, next_time in zip(times[:-1], times[1:]):
        n = noisy_images.shape[0]
        states.append(noisy_images)
        pred_noises, pred_images = denoise(denoiser, noisy_images, *_rates(time, n, noisy_images))
        eps.append(pred_noises)
        next_noise_rates, next_signal_rates = _rates(next_time, n, noisy_images)
        noisy_images = next_signal_rates * pred_images + next_noise_rates * pred_noises
    return ForwardPass(states, eps, pred_images)


def ddim_generate(denoiser: Denoiser, initial_noise: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """z (N, C, H, W) at t = 1 -> the last x0 prediction (N, C, H, W), normalized space."""
    return forward_pass(denoiser, initial_noise, steps).output