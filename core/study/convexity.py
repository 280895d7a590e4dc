"""Convexity probe: do convex combinations of seeds of emb_eps(x) stay in emb_eps(x)?

A convex set contains every convex combination of its points. Sampling k members of a cloud and
Dirichlet(1, ..., 1) weights gives random points of their hull; the share that is still within eps
(with a Wilson confidence interval) measures how far from convex the set is at that tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import binomtest

from core.generator import DiffusionGenerator
from core.study.tolerance import StudyInputError, check_image, check_seeds, check_tolerance, reconstruction_mse


def share_with_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """(share, low, high): a binomial share with its Wilson score interval (scipy)."""
    if trials == 0:
        return float("nan"), 0.0, 1.0
    interval = binomtest(int(successes), int(trials)).proportion_ci(confidence_level=confidence, method="wilson")
    return successes / trials, float(interval.low), float(interval.high)


@dataclass
class ConvexityResult:
    k: int  # seeds per combination
    eps: float
    members: np.ndarray  # (samples, k) indices into the cloud's seeds
    weights: np.ndarray  # (samples, k) convex weights (each row sums to 1)
    mse: np.ndarray  # (samples,) MSE(G(sum w_i z_i), x)
    seed_norms: np.ndarray  # (samples,) |combination| / sqrt(D)

    @property
    def inside(self) -> np.ndarray:
        return self.mse <= self.eps

    def summary(self) -> dict:
        share, low, high = share_with_interval(int(self.inside.sum()), len(self.mse))
        return {"k": self.k, "samples": len(self.mse), "share_inside": share, "share_inside_ci95": [low, high],
                "mse_median": float(np.median(self.mse)), "mse_max": float(self.mse.max()),
                "seed_norm_mean": float(self.seed_norms.mean())}

    def worst(self, count: int = 4) -> np.ndarray:
        """Indices of the combinations with the largest error."""
        return np.argsort(-self.mse)[:count]


def convex_combinations(
    generator: DiffusionGenerator,
    seeds: torch.Tensor,
    image: torch.Tensor,
    eps: float,
    k: int,
    samples: int = 64,
    rng_seed: int = 0,
    steps: int = 10,
) -> ConvexityResult:
    """`samples` random convex combinations of k of the `seeds` (m, C, H, W) of one image (C, H, W)."""
    seeds = check_seeds(generator, seeds, minimum=2, name="cloud seeds")
    image = check_image(generator, image)
    eps = check_tolerance(eps)
    if not isinstance(k, int) or not 2 <= k <= len(seeds):
        raise StudyInputError(f"k must be between 2 and the number of seeds ({len(seeds)}), got {k!r}")
    if samples < 1:
        raise StudyInputError(f"samples must be >= 1, got {samples}")
    rng = np.random.default_rng(rng_seed)
    members = np.stack([rng.choice(len(seeds), size=k, replace=False) for _ in range(samples)])  # (samples, k)
    weights = rng.dirichlet(np.ones(k), size=samples)  # (samples, k), rows sum to 1
    combined = torch.einsum("sk,skd->sd", torch.from_numpy(weights).float(), seeds.flatten(1)[torch.from_numpy(members)])
    combined = combined.reshape(samples, *seeds.shape[1:])
    mse = reconstruction_mse(generator, combined, image.unsqueeze(0), steps)
    norms = combined.flatten(1).norm(dim=1) / combined[0].numel() ** 0.5
    return ConvexityResult(k, eps, members, weights, mse.numpy(), norms.numpy())
