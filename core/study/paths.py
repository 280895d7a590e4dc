"""Interpolation probe: the error and the image along a path between two seeds.

Three cases the study asks about: two seeds of one image (is the segment inside emb_eps(x)?),
seeds of two images (how does the image morph?), and z* to a cloud seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from core.generator import DiffusionGenerator
from core.interpolation import blend_seeds
from core.study.tolerance import StudyInputError, check_image, check_seeds, generate_batched, psnr_from_mse


@dataclass
class PathProfile:
    weights: np.ndarray  # (F,) position along the path, 0 = start, 1 = end
    mode: str  # linear | spherical
    seeds: np.ndarray  # (F, C, H, W)
    images: np.ndarray  # (F, C, H, W) G(seed) in [0, 1]
    mse_to_start_image: np.ndarray  # (F,)
    mse_to_end_image: np.ndarray  # (F,)
    seed_norms: np.ndarray  # (F,) |z| / sqrt(D): a straight line between Gaussian seeds dips below 1

    def summary(self, eps: float | None = None) -> dict:
        out = {"frames": len(self.weights), "mode": self.mode,
               "worst_psnr_to_start_db": float(psnr_from_mse(self.mse_to_start_image.max())),
               "seed_norm_min": float(self.seed_norms.min())}
        if eps is not None:
            out["share_inside_start"] = float((self.mse_to_start_image <= eps).mean())
        return out


def path_profile(
    generator: DiffusionGenerator,
    start: torch.Tensor,
    end: torch.Tensor,
    start_image: torch.Tensor,
    end_image: torch.Tensor | None = None,
    frames: int = 17,
    mode: Literal["linear", "spherical"] = "linear",
    steps: int = 10,
) -> PathProfile:
    """Seeds start, end (C, H, W) -> the profile along `frames` points of a linear or spherical path.

    The error is measured against start_image (and end_image, the same image if None), (C, H, W) in [0, 1].
    """
    if frames < 2:
        raise StudyInputError(f"a path needs at least 2 frames, got {frames}")
    pair = check_seeds(generator, torch.stack([start, end]), minimum=2, name="path ends")
    start_image = check_image(generator, start_image)
    end_image = start_image if end_image is None else check_image(generator, end_image)
    weights = torch.linspace(0.0, 1.0, frames)
    seeds = blend_seeds(pair[0], pair[1], weights, mode)  # (F, C, H, W)
    images = generate_batched(generator, seeds, steps)
    mse_start = (images - start_image).pow(2).flatten(1).mean(1)
    mse_end = (images - end_image).pow(2).flatten(1).mean(1)
    norms = seeds.flatten(1).norm(dim=1) / seeds[0].numel() ** 0.5
    return PathProfile(weights.numpy(), mode, seeds.numpy(), images.numpy(), mse_start.numpy(), mse_end.numpy(), norms.numpy())
