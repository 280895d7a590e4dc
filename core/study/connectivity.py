"""Connectivity probe: is emb_eps(x) (as sampled by a cloud) one piece?

Two seeds are joined when the straight segment between them stays inside emb_eps(x) at every one
of `points` checked positions. Components of that graph are pieces that segments already join;
for pairs in different components a *relaxed path* is tried: points on the segment are pulled
back into emb_eps(x) by a few descent steps each, and the path exists if every pulled point and
every sub-segment between consecutive points is inside (a discretised check, stated as such).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.csgraph import connected_components

from core.generator import DiffusionGenerator
from core.study.clouds import CloudConfig, descend_to_tolerance
from core.study.tolerance import StudyInputError, check_image, check_seeds, check_tolerance, reconstruction_mse


def segment_errors(generator: DiffusionGenerator, a: torch.Tensor, b: torch.Tensor, image: torch.Tensor,
                   points: int, steps: int = 10) -> torch.Tensor:
    """MSE at `points` evenly spaced positions of the segment a -> b (ends included): (points,)."""
    alphas = torch.linspace(0.0, 1.0, points).reshape(-1, 1, 1, 1)
    return reconstruction_mse(generator, (1 - alphas) * a + alphas * b, image.unsqueeze(0), steps)


@dataclass
class SegmentGraph:
    eps: float
    adjacency: np.ndarray  # (m, m) bool: the segment i-j stays inside at every checked point
    worst_mse: np.ndarray  # (m, m) the largest MSE along each segment
    components: np.ndarray  # (m,) component label of each seed

    def summary(self) -> dict:
        m = len(self.components)
        pairs = m * (m - 1) // 2
        joined = int(np.triu(self.adjacency, 1).sum())
        sizes = np.bincount(self.components)
        return {"seeds": m, "segments": pairs, "segments_inside": joined, "share_segments_inside": joined / max(1, pairs),
                "components": int(len(sizes)), "largest_component": int(sizes.max())}


def segment_graph(generator: DiffusionGenerator, seeds: torch.Tensor, image: torch.Tensor, eps: float,
                  points: int = 9, steps: int = 10) -> SegmentGraph:
    """The graph over cloud members `seeds` (m, C, H, W) whose edges are segments inside emb_eps(image)."""
    seeds = check_seeds(generator, seeds, minimum=2, name="cloud seeds")
    image = check_image(generator, image)
    eps = check_tolerance(eps)
    if points < 2:
        raise StudyInputError(f"points per segment must be >= 2, got {points}")
    m = len(seeds)
    pairs = [(i, j) for i in range(m) for j in range(i + 1, m)]
    interior = torch.linspace(0.0, 1.0, points)[1:-1].reshape(1, -1, 1, 1, 1)  # ends are the seeds themselves
    end_mse = reconstruction_mse(generator, seeds, image.unsqueeze(0), steps)
    worst = np.zeros((m, m))
    chunk = max(1, 256 // max(1, points - 2))
    for start in range(0, len(pairs), chunk):
        block = pairs[start : start + chunk]
        a = seeds[[i for i, _ in block]].unsqueeze(1)
        b = seeds[[j for _, j in block]].unsqueeze(1)
        positions = ((1 - interior) * a + interior * b).reshape(-1, *seeds.shape[1:])
        mse = reconstruction_mse(generator, positions, image.unsqueeze(0), steps).reshape(len(block), -1)
        for (i, j), row in zip(block, mse):
            worst[i, j] = worst[j, i] = max(float(row.max()) if len(row) else 0.0, float(end_mse[i]), float(end_mse[j]))
    adjacency = worst <= eps
    np.fill_diagonal(adjacency, True)
    np.fill_diagonal(worst, end_mse.numpy())
    _, labels = connected_components(adjacency, directed=False)
    return SegmentGraph(eps, adjacency, worst, labels)


@dataclass
class RelaxedPath:
    exists: bool
    seeds: np.ndarray  # (P, C, H, W) the pulled-back path, ends included
    mse: np.ndarray  # (P,) at the path points
    worst_sub_segment_mse: float  # the largest MSE checked between consecutive points
    straight_worst_mse: float  # the largest MSE on the straight segment, for comparison

    def summary(self) -> dict:
        return {"exists": self.exists, "points": len(self.mse), "worst_point_mse": float(self.mse.max()),
                "worst_sub_segment_mse": self.worst_sub_segment_mse, "straight_worst_mse": self.straight_worst_mse}


def relaxed_path(generator: DiffusionGenerator, a: torch.Tensor, b: torch.Tensor, image: torch.Tensor, eps: float,
                 points: int = 9, checks_between: int = 3, config: CloudConfig = CloudConfig(iterations=20),
                 steps: int = 10) -> RelaxedPath:
    """Pull the interior points of the segment a -> b (seeds (C, H, W)) into emb_eps(image) and test the path."""
    image = check_image(generator, image)
    eps = check_tolerance(eps)
    if points < 3:
        raise StudyInputError(f"a relaxed path needs at least 3 points, got {points}")
    ends = check_seeds(generator, torch.stack([a, b]), minimum=2, name="path ends")
    alphas = torch.linspace(0.0, 1.0, points).reshape(-1, 1, 1, 1)
    straight = (1 - alphas) * ends[0] + alphas * ends[1]
    straight_mse = reconstruction_mse(generator, straight, image.unsqueeze(0), steps)
    pulled, _, _ = descend_to_tolerance(generator, image, straight[1:-1], eps, config)
    path = torch.cat([ends[:1], pulled, ends[1:]])
    mse = reconstruction_mse(generator, path, image.unsqueeze(0), steps)
    between = torch.linspace(0.0, 1.0, checks_between + 2)[1:-1].reshape(1, -1, 1, 1, 1)
    sub = ((1 - between) * path[:-1].unsqueeze(1) + between * path[1:].unsqueeze(1)).reshape(-1, *path.shape[1:])
    sub_mse = reconstruction_mse(generator, sub, image.unsqueeze(0), steps)
    worst_sub = float(sub_mse.max())
    return RelaxedPath(bool(mse.max() <= eps and worst_sub <= eps), path.numpy(), mse.numpy(), worst_sub, float(straight_mse.max()))
