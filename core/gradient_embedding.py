"""Embedding by gradient descent on the seed: minimise loss(G(z), x) over z, backpropagating
through the whole DDIM sampler.

The article's recipe: z ~ N(0, I); loss = MAE(denorm(G(z)), x) + 0.005 * mean(z**2); Adam with
lr 1e-2; 1500 iterations; several seeds per image in one batch.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Callable, Literal

import torch
from torch.utils.checkpoint import checkpoint

from core.generator import DiffusionGenerator
from core.sampling import ddim_step, step_times


@dataclass
class DescentConfig:
    iterations: int = 1500
    lr: float = 1e-2
    loss: Literal["mae", "mse"] = "mae"  # image-space loss on denormalized, unclipped pixels
    seed_penalty: float = 0.005  # weight of mean(z**2), keeps z near the Gaussian shell
    lr_schedule: Literal["constant", "cosine"] = "constant"
    target_mse: float | None = None  # stop once every image's best MSE is below this
    checkpointing: bool = False  # recompute sampler activations in backward: less memory, ~1.3x time
    steps: int = 10  # DDIM steps of G

    def __post_init__(self) -> None:  # a typo ('l2', 'cos') would silently run the other setting
        if self.loss not in ("mae", "mse"):
            raise ValueError(f"DescentConfig.loss must be 'mae' or 'mse', got {self.loss!r}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"DescentConfig.lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        numbers_ok = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in (self.lr, self.iterations, self.steps, self.seed_penalty))
        if (not numbers_ok or not (self.lr > 0 and math.isfinite(self.lr)) or self.iterations < 0 or self.steps < 1
                or not (self.seed_penalty >= 0 and math.isfinite(self.seed_penalty))
                or (self.target_mse is not None and not self.target_mse >= 0)):
            raise ValueError(f"DescentConfig needs lr > 0, iterations >= 0, steps >= 1, seed_penalty >= 0 and target_mse "
                             f"None or >= 0, got {self.lr}, {self.iterations}, {self.steps}, {self.seed_penalty}, {self.target_mse}")


ORIGINAL_RECIPE = DescentConfig()


def generate_differentiable(generator: DiffusionGenerator, seeds: torch.Tensor, steps: int, checkpointing: bool) -> torch.Tensor:
    """G(z) in pixel space, unclipped, differentiable: (N, C, H, W) -> (N, C, H, W)."""
    times = step_times(steps).tolist()
    x, pred_images = seeds, seeds
    for time, next_time in zip(times[:-1], times[1:]):
        if checkpointing:
            x, pred_images = checkpoint(ddim_step, generator.unet, x, time, next_time, use_reentrant=False)
        else:
            x, pred_images = ddim_step(generator.unet, x, time, next_time)
    return generator.denormalize(pred_images)


def descend(
    generator: DiffusionGenerator,
    images: torch.Tensor,
    start: torch.Tensor,
    config: DescentConfig,
    progress: Callable[[int, torch.Tensor], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Optimise seeds `start` (M, C, H, W) towards `images` (M, C, H, W) in [0, 1].

    Returns (best seeds (M, C, H, W), their MSE of the clipped output (M,), iterations run).
    `progress(iteration, mse (M,))` is called after every iteration.
    """
    seeds = start.detach().clone().requires_grad_(True)
    optimizer = torch.optim.Adam([seeds], lr=config.lr)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, config.iterations))
                 if config.lr_schedule == "cosine" else None)
    best_seeds = start.detach().clone()
    best_mse = torch.full((len(start),), float("inf"), device=start.device)
    iteration = 0
    for iteration in range(1, config.iterations + 1):
        with torch.enable_grad():
            outputs = generate_differentiable(generator, seeds, config.steps, config.checkpointing)
            difference = outputs - images
            per_image = difference.abs() if config.loss == "mae" else difference.pow(2)
            loss = per_image.flatten(1).mean(1).sum() + config.seed_penalty * seeds.pow(2).flatten(1).mean(1).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
        with torch.no_grad():  # the MSE of the seeds *before* this step, as the user would see them
            mse = (outputs.clamp(0, 1) - images).pow(2).flatten(1).mean(1)
            improved = mse < best_mse
            best_mse[improved] = mse[improved]
            best_seeds[improved] = seeds.detach()[improved]
        optimizer.step()
        if scheduler:
            scheduler.step()
        if progress:
            progress(iteration, best_mse)
        if config.target_mse is not None and bool((best_mse <= config.target_mse).all()):
            break
    return best_seeds, best_mse, iteration
