"""Inverting the DDIM generator step by step: naive DDIM inversion and fixed-point inversion.

Generation visits times t_0 = 1 > t_1 > ... > t_{S-1} > 0 and returns x0_hat(x_{t_{S-1}}).
Inverting it means, from the target image x (normalized):
  1. find y = x_{t_{S-1}} with x0_hat(y) = x, i.e. y = s x + n eps(y)         (s, n: rates at t_{S-1})
  2. for k = S-1 .. 1, find x = x_{t_{k-1}} whose DDIM step lands on x_{t_k}:
        x_{t_k} = s' (x - n eps(x)) / s + n' eps(x)
     <=> x = (s / s') x_{t_k} + (n - s n' / s') eps(x)                      (s, n at t_{k-1}; s', n' at t_k)
  3. the seed is z = x_{t_0}.
Naive DDIM inversion (Song et al.; diffusers' DDIMInverseScheduler) replaces eps(x) by eps at the
point already known, one network evaluation per step. Fixed-point inversion iterates each
equation, accelerated by Anderson mixing, and keeps each image's best iterate.
"""

from __future__ import annotations

from typing import Callable

import torch

from core.sampling import Denoiser, step_times
from core.schedule import diffusion_schedule


def _rates(time: float, like: torch.Tensor) -> tuple[float, float]:
    noise_rate, signal_rate = diffusion_schedule(torch.tensor(float(time), dtype=torch.float64))
    return float(noise_rate), float(signal_rate)


def _eps(denoiser: Denoiser, x: torch.Tensor, noise_rate: float) -> torch.Tensor:
    return denoiser(x, torch.full((x.shape[0],), noise_rate**2, dtype=x.dtype, device=x.device))


def ddim_invert(denoiser: Denoiser, images: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Naive DDIM inversion: normalized images (N, C, H, W) -> seeds (N, C, H, W); `steps` NFE."""
    times = step_times(steps).tolist()[:-1]  # t_0 = 1, ..., t_{S-1}
    # Step 1, naive: eps evaluated at the clean image with the noise level of t = 0.
    noise_rate, _ = _rates(0.0, images)
    eps = _eps(denoiser, images, noise_rate)
    last_noise, last_signal = _rates(times[-1], images)
    x = last_signal * images + last_noise * eps
    # Step 2, naive: eps at the known x_{t_k} stands in for eps(x_{t_{k-1}}).
    for k in range(len(times) - 1, 0, -1):
        noise_rate, signal_rate = _rates(times[k], images)
        prev_noise, prev_signal = _rates(times[k - 1], images)
        eps = _eps(denoiser, x, noise_rate)
        pred_images = (x - noise_rate * eps) / signal_rate
        x = prev_signal * pred_images + prev_noise * eps
    return x


def anderson_solve(
    fixed_map: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    iterations: int,
    memory: int = 5,
    damping: float = 1.0,
    tolerance: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Solve x = fixed_map(x) per image with Anderson acceleration (Walker & Ni 2011).

    start: (N, ...). Returns (best x, its residual RMS (N,), evaluations used). Every image keeps the
    iterate with the smallest residual ||g(x) - x||, which guards against divergence.
    """
    n = start.shape[0]
    x = start
    best_x, best_residual = start.clone(), torch.full((n,), float("inf"), device=start.device)
    xs, gs = [], []  # histories of (N, D) iterates and map values
    evaluations = 0
    converged = False
    for _ in range(iterations):
        g = fixed_map(x)
        evaluations += 1
        residual = (g - x).flatten(1)
        residual_rms = residual.pow(2).mean(1).sqrt()
        improved = residual_rms < best_residual
        best_x[improved], best_residual[improved] = x[improved], residual_rms[improved]
        if (best_residual < tolerance).all():
            converged = True
            break
        xs.append(x.flatten(1))
        gs.append(g.flatten(1))
        xs, gs = xs[-memory:], gs[-memory:]
        if len(xs) == 1:
            x = (x + damping * (g - x)).detach()
            continue
        # minimise ||sum_j alpha_j f_j|| with sum alpha = 1, via differences of residuals
        residuals = torch.stack([gj - xj for xj, gj in zip(xs, gs)], dim=2)  # (N, D, m)
        d_residuals = residuals[:, :, 1:] - residuals[:, :, :-1]  # (N, D, m-1)
        driver = "gelsd" if d_residuals.device.type == "cpu" else "gels"  # CUDA supports only gels
        gamma = torch.linalg.lstsq(d_residuals, residuals[:, :, -1:], driver=driver).solution  # (N, m-1, 1)
        g_stack = torch.stack(gs, dim=2)
        x_stack = torch.stack(xs, dim=2)
        d_g = g_stack[:, :, 1:] - g_stack[:, :, :-1]
        d_x = x_stack[:, :, 1:] - x_stack[:, :, :-1]
        mixed_g = gs[-1] - (d_g @ gamma).squeeze(2)
        mixed_x = xs[-1] - (d_x @ gamma).squeeze(2)
        new_x = mixed_x + damping * (mixed_g - mixed_x)
        new_x = torch.where(torch.isfinite(new_x), new_x, gs[-1])  # a singular solve falls back to plain iteration
        x = new_x.reshape(start.shape).detach()
    if converged:
        return best_x, best_residual, evaluations
    # evaluate the last iterate too
    g = fixed_map(x)
    evaluations += 1
    residual_rms = (g - x).flatten(1).pow(2).mean(1).sqrt()
    improved = residual_rms < best_residual
    best_x[improved], best_residual[improved] = x[improved], residual_rms[improved]
    return best_x, best_residual, evaluations


def fixed_point_invert(
    denoiser: Denoiser,
    images: torch.Tensor,
    steps: int = 10,
    iterations: int = 30,
    memory: int = 5,
    start: torch.Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, int]:
    """Near-exact inversion: normalized images (N, C, H, W) -> (seeds (N, C, H, W), NFE per image).

    Each of the S equations of the module docstring is solved by Anderson-accelerated fixed-point
    iteration (`iterations` per step), warm-started from the naive DDIM inversion's point.
    `start`, if given, is a seed whose forward trajectory warm-starts every step instead.
    """
    times = step_times(steps).tolist()[:-1]
    total_evaluations = 0
    warm_starts = _forward_trajectory(denoiser, start, times) if start is not None else None
    if warm_starts is not None:
        total_evaluations += len(times) - 1

    # Step 1: y = s x + n eps(y) at t_{S-1}.
    noise_rate, signal_rate = _rates(times[-1], images)
    if warm_starts is not None:
        initial = warm_starts[-1]
    else:  # naive start: eps at the clean image, noise level of t = 0
        initial = signal_rate * images + noise_rate * _eps(denoiser, images, _rates(0.0, images)[0])
        total_evaluations += 1
    x, _, used = anderson_solve(lambda y: signal_rate * images + noise_rate * _eps(denoiser, y, noise_rate), initial, iterations, memory)
    total_evaluations += used
    if progress:
        progress(1, len(times))
    # Step 2: x_{t_{k-1}} = (s / s') x_{t_k} + (n - s n' / s') eps(x_{t_{k-1}}).
    for k in range(len(times) - 1, 0, -1):
        next_noise, next_signal = _rates(times[k], images)
        noise_rate, signal_rate = _rates(times[k - 1], images)
        x_next = x
        eps_coefficient = noise_rate - signal_rate * next_noise / next_signal
        if warm_starts is not None:
            initial = warm_starts[k - 1]
        else:  # naive DDIM inversion step from the known point
            eps = _eps(denoiser, x_next, next_noise)
            initial = noise_rate * eps + signal_rate * (x_next - next_noise * eps) / next_signal
            total_evaluations += 1
        x, _, used = anderson_solve(
            lambda v: (signal_rate / next_signal) * x_next + eps_coefficient * _eps(denoiser, v, noise_rate),
            initial, iterations, memory,
        )
        total_evaluations += used
        if progress:
            progress(len(times) - k + 1, len(times))
    return x, total_evaluations


def _forward_trajectory(denoiser: Denoiser, seeds: torch.Tensor, times: list[float]) -> list[torch.Tensor]:
    """The states x_{t_0}, ..., x_{t_{S-1}} visited by generation from `seeds`."""
    states, x = [seeds], seeds
    for k in range(len(times) - 1):
        noise_rate, signal_rate = _rates(times[k], seeds)
        next_noise, next_signal = _rates(times[k + 1], seeds)
        eps = _eps(denoiser, x, noise_rate)
        x = next_signal * (x - noise_rate * eps) / signal_rate + next_noise * eps
        states.append(x)
    return states
