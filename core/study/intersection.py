"""Intersection and separation of the clouds of several images.

Certain, without sampling: emb_eps(x_a) and emb_eps(x_b) are disjoint whenever
RMS(x_a - x_b) > 2 sqrt(eps) (a seed in both would give an image within sqrt(eps) RMS of each,
and RMS distance obeys the triangle inequality). Sampling adds how the clouds sit: distances
within and between clouds, nearest-neighbour attribution (does each seed's nearest other seed
belong to its own image?) and whether segments between two clouds pass through a third set.

Clouds of different images may share their N(0, I) starts (the study's do: a paired design). A
descent ends near its start, so the seeds of two images from one start are close for that reason
alone; given the starts, those pairs are measured apart and left out of the attribution.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.generator import DiffusionGenerator
from core.study.tolerance import StudyInputError, check_image, check_seeds, check_tolerance, reconstruction_mse


def disjoint_by_triangle_inequality(image_a: torch.Tensor, image_b: torch.Tensor, eps: float) -> bool:
    """True when emb_eps(a) and emb_eps(b) cannot intersect: RMS(a - b) > 2 sqrt(eps)."""
    eps = check_tolerance(eps)
    for image in (image_a, image_b):
        if not isinstance(image, torch.Tensor) or not image.is_floating_point() or not torch.isfinite(image).all() \
                or image.min() < 0 or image.max() > 1:
            raise StudyInputError("the triangle-inequality test takes two float images in [0, 1] (the pixels eps is measured on)")
    if image_a.shape != image_b.shape:
        raise StudyInputError(f"the images differ in shape: {tuple(image_a.shape)} vs {tuple(image_b.shape)}")
    return bool((image_a - image_b).pow(2).mean().sqrt() > 2 * eps**0.5)


@dataclass
class Separation:
    names: list[str]
    within: dict[str, np.ndarray]  # name -> pairwise distances inside that cloud
    between: dict[str, np.ndarray]  # "a|b" -> distances between the two clouds' seeds from different starts
    same_start: dict[str, np.ndarray]  # "a|b" -> distances between the two clouds' seeds from one start (empty without starts)
    attribution: np.ndarray  # (K, K): row a, column b = share of a's seeds whose nearest other seed (from another start) is in b
    image_rms: np.ndarray  # (K, K) RMS distance between the images

    def summary(self, eps: float | None = None) -> dict:
        within, between, same_start = (_pooled(d) for d in (self.within, self.between, self.same_start))
        out = {"clouds": len(self.names), "within_distance_mean": _mean(within),
               "between_distance_mean": _mean(between),
               "between_distance_min": float(between.min()) if len(between) else float("nan"),
               "within_distance_max": float(within.max()) if len(within) else float("nan"),
               "same_start_distance_mean": _mean(same_start), "same_start_pairs": len(same_start),
               "self_attribution": float(np.mean(np.diag(self.attribution)))}
        if eps is not None:
            off = ~np.eye(len(self.names), dtype=bool)
            out["pairs_disjoint_by_triangle_inequality"] = float((self.image_rms[off] > 2 * eps**0.5).mean()) if off.any() else float("nan")
        return out


def _pooled(distances: dict[str, np.ndarray]) -> np.ndarray:
    return np.concatenate(list(distances.values())) if distances else np.zeros(0)


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if len(values) else float("nan")


def cloud_separation(clouds: dict[str, torch.Tensor], images: dict[str, torch.Tensor] | None = None,
                     starts: dict[str, np.ndarray] | None = None) -> Separation:
    """Distances and 1-NN attribution between clouds {name: seeds (n_i, C, H, W)} (n_i >= 2).

    `starts` {name: (n_i,) int}: the torch seed of each seed's N(0, I) start. Pairs of seeds from
    one start (in two clouds) then count as `same_start`, not `between`, and no seed's nearest
    neighbour is taken from its own start.
    """
    if any(not isinstance(s, torch.Tensor) or s.ndim < 2 or not torch.isfinite(s).all() for s in clouds.values()):
        raise StudyInputError("every cloud is a finite torch tensor of seeds (n, C, H, W)")
    if len({tuple(s.shape[1:]) for s in clouds.values()}) > 1:
        raise StudyInputError(f"the clouds' seeds differ in shape: {sorted({tuple(s.shape[1:]) for s in clouds.values()})}")
    if len(clouds) < 1 or any(len(s) < 2 for s in clouds.values()):
        raise StudyInputError("every cloud needs at least 2 seeds")
    names = list(clouds)
    if starts is not None:
        if set(starts) != set(names) or any(len(starts[k]) != len(clouds[k]) for k in names):
            raise StudyInputError("starts needs one start seed per seed of every cloud")
        if any(len(np.unique(starts[k])) != len(starts[k]) for k in names):
            raise StudyInputError("a start seed repeats within a cloud: each seed of a cloud needs a start of its own")
    flat = {k: v.flatten(1).double() for k, v in clouds.items()}
    within = {k: torch.pdist(v).numpy() for k, v in flat.items()}
    between, same_start = {}, {}
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            distances = torch.cdist(flat[a], flat[b]).numpy()
            shared = (np.asarray(starts[a])[:, None] == np.asarray(starts[b])[None, :]) if starts is not None else np.zeros(distances.shape, bool)
            between[f"{a}|{b}"], same_start[f"{a}|{b}"] = distances[~shared], distances[shared]
    everything = torch.cat([flat[k] for k in names])
    labels = np.concatenate([[i] * len(flat[k]) for i, k in enumerate(names)])
    distances = torch.cdist(everything, everything)
    if starts is not None:  # the seed itself and other images' seeds from its start
        start_of = torch.from_numpy(np.concatenate([np.asarray(starts[k]) for k in names]))
        distances.masked_fill_(start_of[:, None] == start_of[None, :], float("inf"))
    else:
        distances.fill_diagonal_(float("inf"))
    nearest = labels[distances.argmin(1).numpy()]
    attribution = np.zeros((len(names), len(names)))
    for i in range(len(names)):
        attribution[i] = np.bincount(nearest[labels == i], minlength=len(names)) / (labels == i).sum()
    image_rms = np.zeros((len(names), len(names)))
    if images is not None:
        for i, a in enumerate(names):
            for j, b in enumerate(names):
                image_rms[i, j] = float((images[a] - images[b]).pow(2).mean().sqrt())
    return Separation(names, within, between, same_start if starts is not None else {}, attribution, image_rms)


@dataclass
class ThirdSetCrossing:
    pairs: int
    points_per_segment: int
    mse_to_third: np.ndarray  # (pairs, points) MSE of G along each segment to the third image
    eps: float

    def summary(self) -> dict:
        hits = (self.mse_to_third <= self.eps).any(1)
        return {"pairs": self.pairs, "segments_entering_third_set": int(hits.sum()),
                "closest_psnr_to_third_db": float(10 * np.log10(1 / max(self.mse_to_third.min(), 1e-12)))}


def segments_through_third(generator: DiffusionGenerator, seeds_a: torch.Tensor, seeds_b: torch.Tensor,
                           third_image: torch.Tensor, eps: float, pairs: int = 16, points: int = 9,
                           rng_seed: int = 0, steps: int = 10) -> ThirdSetCrossing:
    """Do segments between random seeds of cloud A and cloud B pass through emb_eps(third_image)?"""
    third_image = check_image(generator, third_image)
    eps = check_tolerance(eps)
    seeds_a, seeds_b = check_seeds(generator, seeds_a, 1, "seeds_a"), check_seeds(generator, seeds_b, 1, "seeds_b")
    rng = np.random.default_rng(rng_seed)
    ia, ib = rng.integers(0, len(seeds_a), pairs), rng.integers(0, len(seeds_b), pairs)
    alphas = torch.linspace(0.0, 1.0, points).reshape(1, -1, 1, 1, 1)
    positions = (1 - alphas) * seeds_a[ia].unsqueeze(1) + alphas * seeds_b[ib].unsqueeze(1)
    mse = reconstruction_mse(generator, positions.reshape(-1, *seeds_a.shape[1:]), third_image.unsqueeze(0), steps)
    return ThirdSetCrossing(pairs, points, mse.reshape(pairs, points).numpy(), eps)
