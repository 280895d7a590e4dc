"""Projection onto the images the generator can make, with a faithful <-> projected control.

Exact inversion carries no prior: fixed-point inversion reproduces *any* image, a photo of an
astronaut included, and from a seed that looks like ordinary Gaussian noise (on the shipped
model: std 1.00, kurtosis 3.8 for that photo). The embedding network does carry one: trained only on
real garments, E(x) lands where G makes garments, so G(E(x)) is the projection of x.

Between the two seeds, a spherical blend weighted by `fidelity` gives a continuous control:

    z(f) = slerp(E(x), z_exact(x), f)     f = 0: projected (G(E(x)));  f = 1: exact (G(z) = x)

On a trouser with a white bar painted across it, the projection drops the bar, middle values
keep it softened and shaped by the generator, and f = 1 repeats the edit exactly;
`python -m benchmarks.applications` measures the PSNR along f on test images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from core.embedding import check_images, embed, reconstruct
from core.generator import DiffusionGenerator
from core.interpolation import blend_seeds


@dataclass
class Projection:
    inputs: torch.Tensor  # (N, C, H, W) in [0, 1]
    seeds: torch.Tensor  # (N, C, H, W): the blended seeds
    images: torch.Tensor  # (N, C, H, W): G(seeds)
    projected_seeds: torch.Tensor  # (N, C, H, W): E(x)
    exact_seeds: torch.Tensor | None  # (N, C, H, W): fixed point; None when fidelity == 0 (not needed)
    fidelity: float

    @property
    def psnr(self) -> torch.Tensor:
        """(N,) PSNR in dB of G(z) against the input."""
        mse = (self.images - self.inputs).pow(2).flatten(1).mean(1)
        return 10 * torch.log10(1 / mse.clamp_min(1e-12))


def project(
    generator: DiffusionGenerator,
    embedder: torch.nn.Module,
    images: torch.Tensor,
    fidelity: float = 0.0,
    *,
    steps: int = 10,
    fixed_point_iterations: int = 30,
    progress=None,
) -> Projection:
    """Images (N, C, H, W) in [0, 1] -> their projection at the given fidelity in [0, 1]."""
    if not 0.0 <= float(fidelity) <= 1.0:
        raise ValueError(f"fidelity must be in [0, 1], got {fidelity}")
    images = check_images(generator, images)  # float32 in [0, 1] before any work: the embedder takes nothing else
    if fidelity == 0:  # the network's seed as is (embed() reconstructs)
        projected = embed(generator, images, "network", embedder=embedder, steps=steps)
        return Projection(images.float(), projected.seeds, projected.reconstructions, projected.seeds, None, 0.0)
    exact_seeds = embed(generator, images, "fixed_point", steps=steps, fixed_point_iterations=fixed_point_iterations,
                        progress=progress).seeds
    with torch.no_grad():  # only the seed is needed here: skip embed()'s reconstruction of G(E(x))
        projected_seeds = embedder(images)
    seeds = torch.stack([blend_seeds(p, e, [float(fidelity)])[0] for p, e in zip(projected_seeds, exact_seeds)])
    return Projection(images.float(), seeds, reconstruct(generator, seeds, steps), projected_seeds, exact_seeds, float(fidelity))
