"""Paths between seeds: linear and spherical (slerp) interpolation.

Seeds of a Gaussian live near a sphere of radius sqrt(D); a straight line between two of them
passes closer to the origin (lower norm, atypical noise), which slerp avoids.
"""

from __future__ import annotations

from typing import Literal

import torch


def interpolate_seeds(start: torch.Tensor, end: torch.Tensor, frames: int, mode: Literal["linear", "spherical"] = "spherical") -> torch.Tensor:
    """Two seeds (C, H, W) -> (frames, C, H, W), from start to end inclusive."""
    if frames < 2:
        raise ValueError("an interpolation needs at least 2 frames")
    return blend_seeds(start, end, torch.linspace(0.0, 1.0, frames), mode)


def blend_seeds(start: torch.Tensor, end: torch.Tensor, weights: torch.Tensor | list[float],
                mode: Literal["linear", "spherical"] = "spherical") -> torch.Tensor:
    """Two seeds (C, H, W) and weights (W,) in [0, 1] -> (W, C, H, W); weight 0 gives start, 1 gives end."""
    for seed in (start, end):
        if not isinstance(seed, torch.Tensor) or seed.ndim != 3:
            raise ValueError(f"blend one pair of seeds (C, H, W) at a time, got {getattr(seed, 'shape', type(seed).__name__)}"
                             + (": take seeds[i] of a batch" if isinstance(seed, torch.Tensor) and seed.ndim == 4 else ""))
    if start.shape != end.shape:
        raise ValueError(f"seeds differ in shape: {tuple(start.shape)} vs {tuple(end.shape)}")
    alphas = torch.as_tensor(weights, dtype=torch.float64).reshape(-1, *([1] * start.ndim))
    if not torch.isfinite(alphas).all():
        raise ValueError(f"blend weights must be finite, got {weights}")
    if mode == "linear":
        return ((1 - alphas) * start.double() + alphas * end.double()).to(start.dtype)
    if mode != "spherical":
        raise ValueError(f"unknown interpolation mode {mode!r}; choose 'linear' or 'spherical'")
    a, b = start.flatten().double(), end.flatten().double()
    if a.norm() == 0 or b.norm() == 0:  # no direction to rotate from: the arc is undefined (it gave NaN)
        raise ValueError("spherical interpolation needs two non-zero seeds; use mode='linear' for a zero seed")
    cosine = torch.dot(a, b) / (a.norm() * b.norm())
    omega = torch.arccos(cosine.clamp(-1.0, 1.0))
    if omega.abs() < 1e-6:  # nearly parallel seeds: slerp reduces to lerp (and would divide by ~0)
        return ((1 - alphas) * start.double() + alphas * end.double()).to(start.dtype)
    path = (torch.sin((1 - alphas) * omega) * start.double() + torch.sin(alphas * omega) * end.double()) / torch.sin(omega)
    return path.to(start.dtype)
