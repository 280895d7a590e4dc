"""Tolerances of emb_eps(x) and the reconstruction error that decides membership."""

from __future__ import annotations

import math
import numbers

import torch

from core.generator import DiffusionGenerator


class StudyInputError(ValueError):
    """Bad input to a probe (wrong shape, a tolerance <= 0, too few seeds, NaN)."""


def mse_from_psnr(psnr_db: float) -> float:
    """eps = 10 ** (-PSNR / 10) on [0, 1] pixels: 30 dB -> 1e-3, 40 dB -> 1e-4."""
    return 10.0 ** (-float(psnr_db) / 10.0)


def psnr_from_mse(mse: torch.Tensor | float) -> torch.Tensor:
    """PSNR in dB on [0, 1] pixels, capped at 120 dB (MSE floor 1e-12)."""
    return 10.0 * torch.log10(1.0 / torch.as_tensor(mse, dtype=torch.float64).clamp_min(1e-12))


def check_tolerance(eps: float) -> float:
    """An MSE tolerance on [0, 1] pixels, in (0, 1): a value of 1 or more is no tolerance (every seed is inside)."""
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not math.isfinite(eps) or eps <= 0:
        raise StudyInputError(f"the tolerance eps must be a positive MSE, got {eps!r}")
    if eps >= 1:  # most likely a PSNR given where an MSE is expected
        raise StudyInputError(f"the tolerance eps is an MSE on [0, 1] pixels, below 1; got {eps:g} "
                              f"(a PSNR? mse_from_psnr({eps:g}) = {10 ** (-eps / 10):.3g})")
    return float(eps)


def check_image(generator: DiffusionGenerator, image: torch.Tensor) -> torch.Tensor:
    """One image (C, H, W) in [0, 1] of the generator's shape; returns it as float32."""
    if not isinstance(image, torch.Tensor) or image.ndim != 3:
        raise StudyInputError(f"an image must be a (C, H, W) tensor, got {getattr(image, 'shape', type(image))}")
    if tuple(image.shape) != generator.image_shape:
        raise StudyInputError(f"the image has shape {tuple(image.shape)}, the generator makes {generator.image_shape}")
    if not torch.isfinite(image).all() or image.min() < -1e-4 or image.max() > 1 + 1e-4:
        raise StudyInputError("image pixels must be finite and in [0, 1]")
    return image.float().clamp(0, 1)


def check_seeds(generator: DiffusionGenerator, seeds: torch.Tensor, minimum: int = 1, name: str = "seeds") -> torch.Tensor:
    """Seeds (n, C, H, W) of the generator's shape, finite, at least `minimum` of them."""
    if not isinstance(seeds, torch.Tensor):
        raise StudyInputError(f"{name} must be a torch tensor (n, *{generator.image_shape}), got {type(seeds).__name__}")
    if seeds.ndim != 4 or tuple(seeds.shape[1:]) != generator.image_shape:
        raise StudyInputError(f"{name} must be (n, *{generator.image_shape}), got {tuple(seeds.shape)}")
    if len(seeds) < minimum:
        raise StudyInputError(f"need at least {minimum} {name}, got {len(seeds)}")
    if not torch.isfinite(seeds).all():
        raise StudyInputError(f"{name} contain NaN or infinite values")
    return seeds.float()


@torch.no_grad()
def reconstruction_mse(generator: DiffusionGenerator, seeds: torch.Tensor, images: torch.Tensor,
                       steps: int = 10, batch_size: int = 64) -> torch.Tensor:
    """MSE(G(z_i), x_i) on clipped [0, 1] pixels: seeds (n, C, H, W), images (n or 1, C, H, W) -> (n,)."""
    errors = []
    for start in range(0, len(seeds), batch_size):
        outputs = generator.generate(seeds[start : start + batch_size], steps)
        targets = images if len(images) == 1 else images[start : start + batch_size]
        errors.append((outputs - targets).pow(2).flatten(1).mean(1))
    return torch.cat(errors)


@torch.no_grad()
def generate_batched(generator: DiffusionGenerator, seeds: torch.Tensor, steps: int = 10, batch_size: int = 64) -> torch.Tensor:
    """G(z) for many seeds (n, C, H, W) -> (n, C, H, W) in [0, 1], in batches."""
    return torch.cat([generator.generate(seeds[i : i + batch_size], steps) for i in range(0, len(seeds), batch_size)])
