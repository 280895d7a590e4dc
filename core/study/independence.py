"""Network independence: does a seed mean the same image under two independently trained generators?

The same seeds z_i go through G_a and G_b (same recipe, different initializations). The paired
similarity PSNR(G_a(z_i), G_b(z_i)) is compared with two baselines of unrelated pairs:
- cross:  PSNR(G_a(z_i), G_b(z_j)), i != j: what "no shared meaning" looks like between the two;
- same:   PSNR(G_a(z_i), G_a(z_j)), i != j: how alike two unrelated images of one generator are.
All off-diagonal pairs are used (subsampled with a fixed seed to at most `max_pairs`). If the
paired PSNR clearly beats the cross baseline, the seed space means (partly) the same under both.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from core.generator import DiffusionGenerator
from core.study.tolerance import StudyInputError, check_image, check_seeds, generate_batched, psnr_from_mse


@dataclass
class IndependenceResult:
    """PSNRs in dB on [0, 1] pixels (capped at 120 dB for identical images), n seeds."""

    paired_psnr: np.ndarray  # (n,) PSNR(G_a(z_i), G_b(z_i))
    unrelated_cross_psnr: np.ndarray  # (m,) PSNR(G_a(z_i), G_b(z_j)), i != j (all pairs or a subsample)
    unrelated_same_psnr: np.ndarray  # (m,) PSNR(G_a(z_i), G_a(z_j)), i != j (the same pairs)
    per_seed_unrelated_psnr: np.ndarray  # (n,) mean over j != i of PSNR(G_a(z_i), G_b(z_j))
    difference_ci: tuple[float, float]  # bootstrap CI of mean(paired_i - per_seed_unrelated_i)
    confidence: float
    target_psnr_a: np.ndarray | None = None  # (n,) PSNR(G_a(z_i), x_i) when targets are given
    target_psnr_b: np.ndarray | None = None  # (n,) PSNR(G_b(z_i), x_i)

    @property
    def difference(self) -> np.ndarray:
        """(n,) paired PSNR minus the seed's mean unrelated cross PSNR."""
        return self.paired_psnr - self.per_seed_unrelated_psnr

    @property
    def unrelated_p95(self) -> float:
        return float(np.percentile(self.unrelated_cross_psnr, 95))

    def summary(self) -> dict[str, float | int | list[float] | None]:
        """Means, medians, the CI of the mean difference, the share of seeds above the 95th
        percentile of the cross baseline; JSON-serialisable."""
        summary: dict[str, float | int | list[float] | None] = {
            "count": int(len(self.paired_psnr)),
            "unrelated_pairs": int(len(self.unrelated_cross_psnr)),
            "paired_mean": float(self.paired_psnr.mean()),
            "paired_median": float(np.median(self.paired_psnr)),
            "unrelated_cross_mean": float(self.unrelated_cross_psnr.mean()),
            "unrelated_cross_median": float(np.median(self.unrelated_cross_psnr)),
            "unrelated_cross_p95": self.unrelated_p95,
            "unrelated_same_mean": float(self.unrelated_same_psnr.mean()),
            "unrelated_same_median": float(np.median(self.unrelated_same_psnr)),
            "mean_difference": float(self.difference.mean()),
            "difference_ci": [float(self.difference_ci[0]), float(self.difference_ci[1])],
            "confidence": float(self.confidence),
            "share_paired_above_unrelated_p95": float((self.paired_psnr > self.unrelated_p95).mean()),
            "target_psnr_a_mean": None,
            "target_psnr_b_mean": None,
            "target_psnr_b_median": None,
        }
        if self.target_psnr_a is not None and self.target_psnr_b is not None:
            summary["target_psnr_a_mean"] = float(self.target_psnr_a.mean())
            summary["target_psnr_b_mean"] = float(self.target_psnr_b.mean())
            summary["target_psnr_b_median"] = float(np.median(self.target_psnr_b))
        return summary

    def as_dict(self) -> dict[str, object]:
        """All fields as lists (JSON-serialisable)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


def _pairwise_mse(images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
    """(n, C, H, W) x (n, C, H, W) -> (n, n) MSE(a_i, b_j) in float64."""
    flat_a, flat_b = images_a.flatten(1).double(), images_b.flatten(1).double()
    return torch.cdist(flat_a, flat_b).pow(2) / flat_a.shape[1]


def _paired_mse(images_a: torch.Tensor, images_b: torch.Tensor) -> torch.Tensor:
    """Exact per-row MSE (cdist's matrix trick loses precision near zero)."""
    return (images_a.double() - images_b.double()).pow(2).flatten(1).mean(1)


def _bootstrap_mean_ci(values: np.ndarray, n_bootstrap: int, confidence: float, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (n_bootstrap, len(values)))].mean(1)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def compare_generators(gen_a: DiffusionGenerator, gen_b: DiffusionGenerator, seeds: torch.Tensor, steps: int = 10,
                       targets: torch.Tensor | None = None, max_pairs: int = 20000, n_bootstrap: int = 2000,
                       confidence: float = 0.95, seed: int = 0, batch_size: int = 64) -> IndependenceResult:
    """Pass the same seeds (n >= 2, C, H, W) through both generators and compare the images.

    Seeds may be random N(0, I) or embedded ones (e.g. z* of test images under gen_a); with the
    embedded images' targets (n, C, H, W) in [0, 1] the result also holds PSNR(G_a(z_i), x_i) and
    PSNR(G_b(z_i), x_i). `seed` fixes the pair subsample and the bootstrap."""
    if not isinstance(gen_a, DiffusionGenerator) or not isinstance(gen_b, DiffusionGenerator):
        raise StudyInputError("gen_a and gen_b must be DiffusionGenerator models")
    if gen_a.image_shape != gen_b.image_shape:
        raise StudyInputError(f"the generators make images of different shapes: {gen_a.image_shape} and {gen_b.image_shape}")
    if not isinstance(steps, int) or steps < 1:
        raise StudyInputError(f"steps must be a positive integer, got {steps!r}")
    if not 0 < confidence < 1 or n_bootstrap < 1 or max_pairs < 1:
        raise StudyInputError("need 0 < confidence < 1, n_bootstrap >= 1 and max_pairs >= 1")
    seeds = check_seeds(gen_a, seeds, minimum=2)
    if targets is not None:
        if not isinstance(targets, torch.Tensor) or targets.ndim != 4 or len(targets) != len(seeds):
            raise StudyInputError(f"targets must be ({len(seeds)}, *{gen_a.image_shape}), one image per seed, "
                                  f"got {tuple(getattr(targets, 'shape', ()))}")
        targets = torch.stack([check_image(gen_a, image) for image in targets])
    n = len(seeds)

    # 1. Both generators on the same seeds.
    images_a = generate_batched(gen_a, seeds, steps, batch_size)  # (n, C, H, W)
    images_b = generate_batched(gen_b, seeds, steps, batch_size)

    # 2. Paired and all-pairs similarities; the diagonal of the cross matrix is the paired one.
    paired = psnr_from_mse(_paired_mse(images_a, images_b)).numpy()
    cross = psnr_from_mse(_pairwise_mse(images_a, images_b)).numpy()  # (n, n)
    same = psnr_from_mse(_pairwise_mse(images_a, images_a)).numpy()
    off_diagonal = ~np.eye(n, dtype=bool)
    per_seed_unrelated = np.where(off_diagonal, cross, 0.0).sum(1) / (n - 1)
    rows, cols = np.nonzero(off_diagonal)
    rng = np.random.default_rng(seed)
    if len(rows) > max_pairs:  # subsample the baseline pairs, the same ones for both baselines
        keep = np.sort(rng.choice(len(rows), max_pairs, replace=False))
        rows, cols = rows[keep], cols[keep]

    # 3. Uncertainty of the mean paired-minus-unrelated difference: bootstrap over seeds.
    difference_ci = _bootstrap_mean_ci(paired - per_seed_unrelated, n_bootstrap, confidence, seed)

    target_a = target_b = None
    if targets is not None:
        target_a = psnr_from_mse(_paired_mse(images_a, targets)).numpy()
        target_b = psnr_from_mse(_paired_mse(images_b, targets)).numpy()
    return IndependenceResult(
        paired_psnr=paired, unrelated_cross_psnr=cross[rows, cols], unrelated_same_psnr=same[rows, cols],
        per_seed_unrelated_psnr=per_seed_unrelated, difference_ci=difference_ci, confidence=float(confidence),
        target_psnr_a=target_a, target_psnr_b=target_b,
    )
