"""Where do the single-answer methods put their seed relative to a cloud?

For each named seed (z* of fixed-point inversion, the embedding network's E(x), naive DDIM
inversion): its error, distance to the cloud's mean (against the cloud's own spread), distance to
the nearest cloud seed, and whether it lies in the convex hull of the cloud (a linear program:
weights w >= 0, sum w = 1, sum w_i z_i = z; scipy's HiGHS).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linprog

from core.study.tolerance import StudyInputError


def in_convex_hull(points: np.ndarray, query: np.ndarray, tolerance: float = 1e-6) -> bool:
    """Is `query` (D,) a convex combination of `points` (m, D)? (feasibility LP; exact up to tolerance)."""
    m = len(points)
    equality = np.vstack([points.T, np.ones((1, m))])  # (D + 1, m)
    target = np.concatenate([query, [1.0]])
    result = linprog(np.zeros(m), A_eq=equality, b_eq=target, bounds=[(0, None)] * m, method="highs",
                     options={"primal_feasibility_tolerance": tolerance})
    return bool(result.status == 0)


@dataclass
class CanonicalPosition:
    name: str
    mse: float  # MSE(G(seed), x)
    distance_to_cloud_mean: float
    cloud_spread: float  # mean distance of the cloud's seeds to their mean, for scale
    distance_to_nearest_cloud_seed: float
    nearest_neighbour_distance_in_cloud: float  # median over cloud seeds of their nearest other seed
    in_hull: bool
    norm: float  # |seed| / sqrt(D)

    def summary(self) -> dict:
        return dict(self.__dict__)


def canonical_positions(cloud_seeds: torch.Tensor, named: dict[str, tuple[torch.Tensor, float]]) -> list[CanonicalPosition]:
    """cloud_seeds (m, C, H, W), named {name: (seed (C, H, W), its MSE)} -> one position per name."""
    if len(cloud_seeds) < 2:
        raise StudyInputError("the cloud needs at least 2 seeds")
    cloud = cloud_seeds.flatten(1).double().numpy()
    mean = cloud.mean(0)
    spread = float(np.linalg.norm(cloud - mean, axis=1).mean())
    pairwise = np.linalg.norm(cloud[:, None] - cloud[None], axis=2)
    np.fill_diagonal(pairwise, np.inf)
    nn_median = float(np.median(pairwise.min(1)))
    out = []
    for name, (seed, mse) in named.items():
        z = seed.flatten().double().numpy()
        out.append(CanonicalPosition(name, float(mse), float(np.linalg.norm(z - mean)), spread,
                                     float(np.linalg.norm(cloud - z, axis=1).min()), nn_median,
                                     in_convex_hull(cloud, z), float(np.linalg.norm(z) / np.sqrt(len(z)))))
    return out
