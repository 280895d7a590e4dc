"""First-order geometry of emb_eps(x) around the exact seed z*.

Near z*, G(z* + d) ~ G(z*) + J d with J = dG/dz (N x D; N pixels, D seed entries). So
emb_eps(x) ~ { d : |J d|^2 <= N eps }, an ellipsoid whose half-axis along the i-th right singular
vector v_i is sqrt(N eps) / sigma_i. All sigma_i > 0 means G is locally injective: emb_0(x) is the
single point z*, and emb_eps(x) shrinks to it as eps -> 0.

J is taken of the unclipped output (pixels outside [0, 1] are clipped by G and then do not count:
their rows of the true Jacobian are zero, which can only make emb_eps(x) larger; `clipped_pixels`
says how many there are).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.generator import DiffusionGenerator
from core.study.tolerance import check_seeds, check_tolerance

CERTIFIED_RATIO = 1e-5  # sigma_min / sigma_max above this certifies local injectivity (float32 Jacobian)


def jacobian(generator: DiffusionGenerator, seed: torch.Tensor, steps: int = 10, chunk_size: int = 49) -> torch.Tensor:
    """J = d G_unclipped(z) / d z at one seed (C, H, W): (N, D) with N = D = C*H*W, pixel units.

    Reverse mode, `chunk_size` output rows at a time (torch.func.jacrev; memory ~ chunk_size backward passes).
    """
    seed = check_seeds(generator, seed.unsqueeze(0), name="seed")[0]
    shape = seed.shape

    def flat_generator(flat_seed: torch.Tensor) -> torch.Tensor:
        return generator.generate(flat_seed.reshape(1, *shape), steps, clip=False).reshape(-1)

    with torch.enable_grad():
        return torch.func.jacrev(flat_generator, chunk_size=chunk_size)(seed.reshape(-1).detach()).detach()


def direction_steps(singular_values: np.ndarray, eps: float, pixels: int) -> np.ndarray:
    """(D,) how far the study moves z* along each seed direction v_i to picture it: the first-order half-axis
    sqrt(N eps) / sigma_i at tolerance eps, capped at sqrt(D), the norm of a random seed (a longer step leaves the
    seed shell). N = pixels; D = len(singular_values)."""
    half_axes = np.sqrt(pixels * check_tolerance(eps)) / np.maximum(singular_values, 1e-30)
    return np.minimum(half_axes, np.sqrt(len(singular_values)))


@dataclass
class LocalGeometry:
    singular_values: np.ndarray  # (D,) descending
    right_vectors: np.ndarray  # (D, D) rows: seed directions v_i, most sensitive first
    left_vectors: np.ndarray  # (N, D) columns: image directions u_i
    clipped_pixels: int  # pixels of G(z*) outside [0, 1] before clipping

    def half_axes(self, eps: float) -> np.ndarray:
        """(D,) half-axes sqrt(N eps) / sigma_i of the first-order ellipsoid emb_eps(x)."""
        eps = check_tolerance(eps)
        return np.sqrt(self.left_vectors.shape[0] * eps) / np.maximum(self.singular_values, 1e-30)

    def predicted_mse(self, offsets: np.ndarray) -> np.ndarray:
        """First-order MSE |J d|^2 / N of seed offsets d (m, D) from z*: (m,)."""
        coordinates = offsets @ self.right_vectors.T  # (m, D) in the singular basis
        return (coordinates * self.singular_values) ** 2 @ np.ones(len(self.singular_values)) / self.left_vectors.shape[0]

    def summary(self, eps_values: list[float]) -> dict:
        s = self.singular_values
        out = {"sigma_max": float(s[0]), "sigma_min": float(s[-1]), "condition_number": float(s[0] / max(s[-1], 1e-30)),
               "sigma_median": float(np.median(s)),
               # J is float32: singular values below ~1e-6 sigma_max are within its round-off and cannot be told from 0
               "locally_injective_certified": bool(s[-1] > CERTIFIED_RATIO * s[0]),
               "clipped_pixels": self.clipped_pixels}
        for eps in eps_values:
            axes = self.half_axes(eps)
            # log-volume ratio to a ball of the same radius as the seed shell sqrt(D): sum log(axis / sqrt(D))
            out[f"eps={eps:g}"] = {"half_axis_min": float(axes.min()), "half_axis_max": float(axes.max()),
                                   "half_axis_median": float(np.median(axes)),
                                   "log10_volume_ratio_to_shell_ball": float(np.sum(np.log10(axes / np.sqrt(len(s)))))}
        return out


def local_geometry(generator: DiffusionGenerator, seed: torch.Tensor, steps: int = 10) -> LocalGeometry:
    """SVD of G's Jacobian at `seed` (C, H, W), usually z*."""
    matrix = jacobian(generator, seed, steps).double()
    left, singular_values, right_t = torch.linalg.svd(matrix, full_matrices=False)
    with torch.no_grad():
        raw = generator.generate(seed.unsqueeze(0), steps, clip=False)
    clipped = int(((raw < 0) | (raw > 1)).sum())
    return LocalGeometry(singular_values.numpy(), right_t.numpy(), left.numpy(), clipped)


@dataclass
class EllipsoidCheck:
    """The first-order prediction against seeds that are known to lie in emb_eps(x)."""

    measured_mse: np.ndarray  # (m,) MSE(G(z_j), x)
    predicted_mse: np.ndarray  # (m,) |J (z_j - z*)|^2 / N
    offsets_in_singular_basis: np.ndarray  # (m, D) coordinates of z_j - z* along v_i
    spread_along_axes: np.ndarray  # (D,) std over the seeds of those coordinates
    half_axes: np.ndarray  # (D,) the prediction at eps

    def summary(self) -> dict:
        ratio = self.measured_mse / np.maximum(self.predicted_mse, 1e-30)
        return {"seeds": len(self.measured_mse), "measured_over_predicted_median": float(np.median(ratio)),
                "measured_over_predicted_p10": float(np.percentile(ratio, 10)),
                "measured_over_predicted_p90": float(np.percentile(ratio, 90)),
                "correlation_log_mse": float(np.corrcoef(np.log(self.measured_mse + 1e-30), np.log(self.predicted_mse + 1e-30))[0, 1])
                if len(self.measured_mse) > 2 else float("nan"),
                "spread_over_half_axis_most_sensitive": float(self.spread_along_axes[0] / self.half_axes[0]),
                "spread_over_half_axis_least_sensitive": float(self.spread_along_axes[-1] / self.half_axes[-1])}


def check_ellipsoid(geometry: LocalGeometry, exact_seed: torch.Tensor, seeds: torch.Tensor, measured_mse: torch.Tensor,
                    eps: float) -> EllipsoidCheck:
    """Compare the first-order prediction with seeds (m, C, H, W) of measured MSE (m,) around z* (C, H, W)."""
    offsets = (seeds.double() - exact_seed.double()).flatten(1).numpy()  # (m, D)
    coordinates = offsets @ geometry.right_vectors.T
    return EllipsoidCheck(measured_mse=measured_mse.double().numpy(), predicted_mse=geometry.predicted_mse(offsets),
                          offsets_in_singular_basis=coordinates, spread_along_axes=coordinates.std(0),
                          half_axes=geometry.half_axes(eps))
