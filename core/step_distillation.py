"""Step distillation: teach the denoiser to take the sampler's 10 big steps as a finer sampler would.

Why. G returns the x0 estimate of a 10-step DDIM chain. Each step of that chain is a coarse
discretization of the probability-flow ODE, and the last output is the posterior-mean estimate
E[x0 | x_0.1] at noise rate 0.43, which averages away texture. A teacher that walks the same
interval in `substeps` smaller DDIM steps follows the ODE more closely and ends its last interval
nearer t = 0, where its x0 estimate is sharper. Progressive distillation (Salimans & Ho 2022,
arXiv:2202.00512) trains a student so that one of its steps lands where the teacher's substeps
land; here the student keeps the generator's exact equations and grid (t = 1, 0.9, ..., 0.1),
only its weights change.

The target. With rates (s, c) at t and (s', c') at t' < t, one DDIM step is
    x_t' = c' x0_hat + s' eps_hat,  x0_hat = (x_t - s eps_hat) / c
         = (c'/c) x_t + (s' - c' s / c) eps_hat,
so the noise the student must predict to land on the teacher's x_t' is
    eps* = (x_t' - (c'/c) x_t) / (s' - c' s / c).
On the last interval G returns x0_hat itself, so there eps* = (x_t - c x0_teacher) / s, with
x0_teacher the teacher's last x0 estimate (at t = 0.1 / substeps).

The starting states x_t are training images noised to the grid times, as in progressive
distillation: they follow the same marginals as the sampler's states when the model is good.
"""

from __future__ import annotations

from typing import Literal

import torch

from core.sampling import Denoiser, ddim_step, denoise, step_times
from core.schedule import diffusion_schedule


def _rates(times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N,) times -> (noise_rates, signal_rates), each (N, 1, 1, 1)."""
    return diffusion_schedule(times.reshape(-1, 1, 1, 1))


@torch.no_grad()
def teacher_noise_targets(
    teacher: Denoiser, noisy_images: torch.Tensor, step_indices: torch.Tensor, steps: int, substeps: int
) -> torch.Tensor:
    """The noise each student step must predict to land where `substeps` teacher steps land.

    noisy_images (N, C, H, W) at the grid times step_times(steps)[step_indices] (N,), normalized space.
    Returns eps* (N, C, H, W). With substeps = 1 the teacher's own prediction comes back.
    """
    if substeps < 1:
        raise ValueError(f"substeps must be >= 1, got {substeps}")
    grid = step_times(steps).to(noisy_images.device)
    times, next_times = grid[step_indices], grid[step_indices + 1]
    last = step_indices == steps - 1  # G returns this interval's x0 estimate, not a state
    states, x0_estimates = noisy_images, noisy_images
    for k in range(substeps):  # every image walks its own interval [t, t'] in equal substeps
        sub_time = times + (next_times - times) * (k / substeps)
        sub_next = times + (next_times - times) * ((k + 1) / substeps)
        noise_rates, signal_rates = _rates(sub_time)
        eps, x0_estimates = denoise(teacher, states, noise_rates, signal_rates)
        next_noise, next_signal = _rates(sub_next)
        states = next_signal * x0_estimates + next_noise * eps
    noise_rates, signal_rates = _rates(times)
    next_noise, next_signal = _rates(next_times)
    step_coefficient = next_noise - next_signal * noise_rates / signal_rates  # < 0 for t' < t
    through_state = (states - (next_signal / signal_rates) * noisy_images) / step_coefficient
    through_estimate = (noisy_images - signal_rates * x0_estimates) / noise_rates
    return torch.where(last.reshape(-1, 1, 1, 1), through_estimate, through_state)


def output_scale(step_indices: torch.Tensor, steps: int) -> torch.Tensor:
    """(N,) |d output / d eps_hat| of one sampler step: |s' - c' s / c| for a state, s / c on the last step.

    An error e in the predicted noise moves the step's output by output_scale * e, so weighting the
    noise loss by its square gives the error of where the step lands.
    """
    grid = step_times(steps).to(step_indices.device)
    noise_rates, signal_rates = diffusion_schedule(grid[step_indices])
    next_noise, next_signal = diffusion_schedule(grid[step_indices + 1])
    through_state = (next_noise - next_signal * noise_rates / signal_rates).abs()
    return torch.where(step_indices == steps - 1, noise_rates / signal_rates, through_state)


def student_step(student: Denoiser, noisy_images: torch.Tensor, step_indices: torch.Tensor, steps: int) -> torch.Tensor:
    """One sampler step per image, each at its own grid index: the next state, or x0_hat on the last step.

    Used by the tests to check that eps* lands the student exactly on the teacher's result.
    """
    grid = step_times(steps).tolist()
    out = torch.empty_like(noisy_images)
    for index in step_indices.unique().tolist():
        rows = step_indices == index
        next_state, x0_estimate = ddim_step(student, noisy_images[rows], grid[index], grid[index + 1])
        out[rows] = x0_estimate if index == steps - 1 else next_state
    return out


def distillation_loss(
    student: Denoiser, teacher: Denoiser, images: torch.Tensor, noises: torch.Tensor,
    step_indices: torch.Tensor, steps: int, substeps: int, weighting: Literal["noise", "state"] = "noise",
) -> torch.Tensor:
    """Per-image MSE between the student's noise prediction and eps*: (N,).

    images, noises (N, C, H, W) normalized; step_indices (N,) in [0, steps).
    weighting "noise": every step counts alike in noise space (the ordinary training loss's scale);
    "state": the MSE of where the step lands (the next state, or the output on the last step),
    which weights the first step, whose noise error is amplified 6x, far above the others.
    """
    times = step_times(steps).to(images.device)[step_indices]
    noise_rates, signal_rates = _rates(times)
    noisy_images = signal_rates * images + noise_rates * noises
    targets = teacher_noise_targets(teacher, noisy_images, step_indices, steps, substeps)
    predictions = student(noisy_images, noise_rates.reshape(-1) ** 2).float()
    loss = ((predictions - targets) ** 2).mean(dim=(1, 2, 3))
    if weighting == "state":
        loss = loss * output_scale(step_indices, steps) ** 2
    elif weighting != "noise":
        raise ValueError(f"weighting must be 'noise' or 'state', got {weighting!r}")
    return loss
