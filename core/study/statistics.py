"""Seed statistics: does a seed look like a draw from N(0, I)?

A true seed is D = C*H*W independent N(0, 1) values. Exact (fixed-point) inversion keeps the
Gaussian's scale but may carry the image's edges, so the per-seed tests look at the scale
(norm, mean), the shape of the value distribution (skewness, kurtosis, Kolmogorov-Smirnov,
Shapiro-Wilk) and, most of all, the spatial structure (lag-1 autocorrelation, 2-D map).

Two scores, both sums of asymptotically chi-square statistics for white N(0, 1) values (large
sample theory for iid normal values; D = 784 is large):
  1. mean:            D * mean^2                                   ~ chi2(1)
  2. norm:            ((|z|^2 - D) / sqrt(2 D))^2                  ~ chi2(1)   (|z|^2 ~ chi2(D))
  3. Jarque-Bera:     D/6 * (skew^2 + excess_kurtosis^2 / 4)       ~ chi2(2)
  4. autocorrelation: n_h * r_h^2 + n_v * r_v^2                    ~ chi2(2)   (sqrt(n) r ~ N(0, 1))
- `departure_score` = 1 + 2 + 3 + 4 ~ chi2(6) under N(0, I) (the terms are asymptotically
  independent), `departure_pvalue` its tail: "is this a true random seed?".
- `ood_score` = z_ac = (sqrt(n_h) r_h + sqrt(n_v) r_v) / sqrt(2) ~ N(0, 1) for white noise, one-sided
  (`ood_pvalue` = P(N(0, 1) > z_ac)): positive lag-1 correlation means smooth image structure, the
  trace a foreign image leaves in its exact seed. Measured under assets/fashion with fixed-point
  z* (32 Fashion-MNIST test images vs 32 LFW faces from skimage's lfw_subset, 25 -> 28 px):
  test-image z* have z_ac in [-5.4, 1.6] (median -1.9: slightly anti-correlated), faces in
  [2.1, 10.8]: AUROC 1.00; the three example photos (astronaut, camera, coffee) give 3.0 to 6.1.
  The two-sided term 4 gives AUROC 0.92 [0.85, 0.97]. Not the sum: test-image z* are themselves far
  from N(0, I) in their values (excess kurtosis ~4, every one fails KS), so the moment terms flag
  both groups and dominate the sum (AUROC 0.20, inverted). A foreign image that made its seed
  anti-correlated would be missed by z_ac; chi2_autocorr (two-sided) and every component are kept.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

from core.study.tolerance import StudyInputError

DEPARTURE_DEGREES_OF_FREEDOM = 6  # 1 (mean) + 1 (norm) + 2 (Jarque-Bera) + 2 (autocorrelation)


def check_seed_batch(seeds: torch.Tensor, minimum: int = 1, name: str = "seeds") -> torch.Tensor:
    """Seeds (n, C, H, W) of any shape, finite, at least `minimum` of them; returns float64 on CPU.

    `tolerance.check_seeds` needs a generator for the shape; the statistics have none."""
    if not isinstance(seeds, torch.Tensor) or seeds.ndim != 4:
        raise StudyInputError(f"{name} must be an (n, C, H, W) tensor, got {tuple(getattr(seeds, 'shape', ())) or type(seeds).__name__}")
    if len(seeds) < minimum:
        raise StudyInputError(f"need at least {minimum} {name}, got {len(seeds)}")
    if seeds.shape[2] < 2 or seeds.shape[3] < 2:
        raise StudyInputError(f"{name} must be at least 2x2 pixels for spatial statistics, got {tuple(seeds.shape)}")
    if not torch.isfinite(seeds).all():
        raise StudyInputError(f"{name} contain NaN or infinite values")
    return seeds.detach().to("cpu", torch.float64)


@dataclass
class SeedStatistics:
    """Per-seed statistics of n seeds (all arrays (n,)), D = C*H*W values each."""

    dimension: int  # D
    norm: np.ndarray  # |z| / sqrt(D): ~1 for N(0, I)
    mean: np.ndarray
    std: np.ndarray  # population std (ddof=0)
    skewness: np.ndarray
    excess_kurtosis: np.ndarray  # 0 for a Gaussian
    ks_pvalue: np.ndarray  # Kolmogorov-Smirnov against the fully specified N(0, 1): tests scale and shape
    shapiro_pvalue: np.ndarray  # Shapiro-Wilk: normal family (any mean/std), tests shape only
    autocorr_h: np.ndarray  # lag-1 autocorrelation along W (horizontal neighbours)
    autocorr_v: np.ndarray  # lag-1 autocorrelation along H (vertical neighbours)
    chi2_mean: np.ndarray  # the four components of departure_score (see the module docstring)
    chi2_norm: np.ndarray
    chi2_jarque_bera: np.ndarray
    chi2_autocorr: np.ndarray
    departure_score: np.ndarray  # sum of the components, ~ chi2(6) for N(0, I) seeds
    departure_pvalue: np.ndarray  # chi2(6).sf(departure_score)
    autocorr_z: np.ndarray  # (sqrt(n_h) r_h + sqrt(n_v) r_v) / sqrt(2), ~ N(0, 1) for white noise

    @property
    def ood_score(self) -> np.ndarray:
        """(n,) out-of-distribution score: autocorr_z, high for seeds that carry smooth image structure
        (module docstring says why this one)."""
        return self.autocorr_z

    @property
    def ood_pvalue(self) -> np.ndarray:
        """(n,) one-sided P(N(0, 1) > ood_score): small when the seed is positively correlated."""
        return stats.norm.sf(self.autocorr_z)

    @property
    def autocorr_abs(self) -> np.ndarray:
        """(n,) mean of |r_h| and |r_v|."""
        return 0.5 * (np.abs(self.autocorr_h) + np.abs(self.autocorr_v))

    def passes_gaussianity(self, level: float = 0.05) -> np.ndarray:
        """(n,) bool: the KS test against N(0, 1) does not reject at `level` (it assumes iid values,
        so it says nothing about spatial structure; see autocorr_* for that)."""
        return self.ks_pvalue >= level

    def summary(self, level: float = 0.05) -> dict[str, float | int]:
        """Means over the seeds, JSON-serialisable."""
        return {
            "count": int(len(self.norm)),
            "dimension": int(self.dimension),
            "mean_norm": float(self.norm.mean()),
            "mean_mean": float(self.mean.mean()),
            "mean_std": float(self.std.mean()),
            "mean_skewness": float(self.skewness.mean()),
            "mean_excess_kurtosis": float(self.excess_kurtosis.mean()),
            "mean_autocorr_h": float(self.autocorr_h.mean()),
            "mean_autocorr_v": float(self.autocorr_v.mean()),
            "mean_abs_autocorr": float(self.autocorr_abs.mean()),
            "share_ks_pass": float(self.passes_gaussianity(level).mean()),
            "share_shapiro_pass": float((self.shapiro_pvalue >= level).mean()),
            "share_departure_pass": float((self.departure_pvalue >= level).mean()),
            "mean_departure_score": float(self.departure_score.mean()),
            "share_ood_pass": float((self.ood_pvalue >= level).mean()),
            "mean_ood_score": float(self.ood_score.mean()),
            "median_ood_score": float(np.median(self.ood_score)),
        }

    def as_dict(self) -> dict[str, object]:
        """All fields as lists (JSON-serialisable)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


def _lag1_autocorrelation(centred: torch.Tensor, dim: int) -> tuple[torch.Tensor, int]:
    """Sample lag-1 autocorrelation along `dim` of per-seed centred values (n, C, H, W) -> (n,),
    with the number of neighbour pairs: r = (sum of products / pairs) / (sum of squares / D)."""
    length = centred.shape[dim]
    products = (centred.narrow(dim, 0, length - 1) * centred.narrow(dim, 1, length - 1)).flatten(1)
    pairs = products.shape[1]
    variance = centred.pow(2).flatten(1).mean(1).clamp_min(1e-300)
    return products.mean(1) / variance, pairs


def seed_statistics(seeds: torch.Tensor) -> SeedStatistics:
    """Statistics of each seed of (n, C, H, W) against N(0, I); n >= 1."""
    z = check_seed_batch(seeds)  # (n, C, H, W) float64
    flat = z.flatten(1)  # (n, D)
    dimension = flat.shape[1]
    values = flat.numpy()
    mean = flat.mean(1)
    std = flat.std(1, correction=0)
    norm = flat.norm(dim=1) / dimension**0.5
    skewness = stats.skew(values, axis=1, bias=True)
    kurtosis = stats.kurtosis(values, axis=1, fisher=True, bias=True)
    ks_pvalue = np.array([stats.kstest(row, "norm").pvalue for row in values])
    # Shapiro-Wilk is defined for 3 <= D <= 5000 (scipy warns about accuracy above); NaN otherwise.
    shapiro_pvalue = (np.array([stats.shapiro(row).pvalue for row in values]) if 3 <= dimension <= 5000
                      else np.full(len(values), np.nan))
    centred = z - mean.view(-1, 1, 1, 1)
    autocorr_h, pairs_h = _lag1_autocorrelation(centred, 3)
    autocorr_v, pairs_v = _lag1_autocorrelation(centred, 2)
    # Components of the OOD score, each asymptotically chi-square under H0 (module docstring).
    chi2_mean = (dimension * mean.pow(2)).numpy()
    squared_norm = flat.pow(2).sum(1)
    chi2_norm = ((squared_norm - dimension) / (2 * dimension) ** 0.5).pow(2).numpy()
    chi2_jarque_bera = dimension / 6.0 * (skewness**2 + kurtosis**2 / 4.0)
    chi2_autocorr = (pairs_h * autocorr_h.pow(2) + pairs_v * autocorr_v.pow(2)).numpy()
    autocorr_z = ((pairs_h**0.5 * autocorr_h + pairs_v**0.5 * autocorr_v) / 2**0.5).numpy()
    departure_score = chi2_mean + chi2_norm + chi2_jarque_bera + chi2_autocorr
    return SeedStatistics(
        dimension=dimension, norm=norm.numpy(), mean=mean.numpy(), std=std.numpy(), skewness=np.asarray(skewness),
        excess_kurtosis=np.asarray(kurtosis), ks_pvalue=ks_pvalue, shapiro_pvalue=shapiro_pvalue,
        autocorr_h=autocorr_h.numpy(), autocorr_v=autocorr_v.numpy(), chi2_mean=chi2_mean, chi2_norm=chi2_norm,
        chi2_jarque_bera=np.asarray(chi2_jarque_bera), chi2_autocorr=chi2_autocorr,
        departure_score=departure_score, departure_pvalue=stats.chi2(DEPARTURE_DEGREES_OF_FREEDOM).sf(departure_score),
        autocorr_z=autocorr_z,
    )


def autocorrelation_map(seeds: torch.Tensor) -> np.ndarray:
    """Mean 2-D spatial autocorrelation of seeds (n, C, H, W) -> (2H-1, 2W-1), zero lag at the centre
    [H-1, W-1] (= 1). Per seed and channel: centre, zero-pad to avoid wrap-around, |FFT|^2, inverse FFT
    (Wiener-Khinchin), divide by the zero-lag value (the usual biased estimator, which tapers at large
    lags); then average over channels and seeds. White noise gives a single bright centre pixel."""
    z = check_seed_batch(seeds)
    height, width = z.shape[2], z.shape[3]
    centred = z - z.mean(dim=(2, 3), keepdim=True)  # per channel, so a flat offset is no correlation
    spectrum = torch.fft.rfft2(centred, s=(2 * height - 1, 2 * width - 1))
    correlation = torch.fft.irfft2(spectrum.abs().pow(2), s=(2 * height - 1, 2 * width - 1))
    correlation = correlation / correlation[..., :1, :1].clamp_min(1e-300)
    correlation = torch.fft.fftshift(correlation, dim=(-2, -1))  # zero lag to [H-1, W-1]
    return correlation.mean(dim=(0, 1)).numpy()


@dataclass
class AurocResult:
    """AUROC of a score separating `out` (positives) from `in` (negatives), with a bootstrap CI."""

    auroc: float
    ci_low: float
    ci_high: float
    confidence: float
    n_in: int
    n_out: int
    n_bootstrap: int

    def summary(self) -> dict[str, float | int]:
        return dataclasses.asdict(self)


def ood_auroc(scores_in: np.ndarray, scores_out: np.ndarray, n_bootstrap: int = 1000, confidence: float = 0.95,
              seed: int = 0) -> AurocResult:
    """AUROC (sklearn roc_auc_score) of scores where higher means out of distribution: scores_in (n_in,)
    are negatives, scores_out (n_out,) positives. CI: percentile bootstrap that resamples each group
    separately (stratified, so every resample has both classes), `n_bootstrap` times, fixed seed.
    At complete separation (AUROC 0 or 1) the bootstrap CI collapses to a point: report n_in and
    n_out beside it."""
    scores_in = np.asarray(scores_in, dtype=np.float64).ravel()
    scores_out = np.asarray(scores_out, dtype=np.float64).ravel()
    if len(scores_in) < 1 or len(scores_out) < 1:
        raise StudyInputError(f"AUROC needs at least one score per group, got {len(scores_in)} in and {len(scores_out)} out")
    if not (np.isfinite(scores_in).all() and np.isfinite(scores_out).all()):
        raise StudyInputError("AUROC scores contain NaN or infinite values")
    if not 0 < confidence < 1 or n_bootstrap < 1:
        raise StudyInputError(f"need 0 < confidence < 1 and n_bootstrap >= 1, got {confidence} and {n_bootstrap}")
    labels = np.concatenate([np.zeros(len(scores_in)), np.ones(len(scores_out))])
    auroc = float(roc_auc_score(labels, np.concatenate([scores_in, scores_out])))
    rng = np.random.default_rng(seed)
    resampled = np.empty(n_bootstrap)
    for b in range(n_bootstrap):
        inside = scores_in[rng.integers(0, len(scores_in), len(scores_in))]
        outside = scores_out[rng.integers(0, len(scores_out), len(scores_out))]
        resampled[b] = roc_auc_score(labels, np.concatenate([inside, outside]))
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(resampled, [tail, 1.0 - tail])
    return AurocResult(auroc=auroc, ci_low=float(low), ci_high=float(high), confidence=float(confidence),
                       n_in=len(scores_in), n_out=len(scores_out), n_bootstrap=int(n_bootstrap))


def summarise_groups(groups: dict[str, torch.Tensor], level: float = 0.05) -> list[dict[str, float | int | str]]:
    """One table row per group of seeds {name: (n_i, C, H, W)}: name, count, mean norm / sqrt(D),
    mean std, mean |lag-1 autocorrelation|, shares passing KS / Shapiro-Wilk / the departure test at
    `level`, mean departure score, mean and median OOD score, mean skewness and excess kurtosis."""
    if not isinstance(groups, dict) or not groups:
        raise StudyInputError("groups must be a non-empty dict {name: seeds (n, C, H, W)}")
    rows = []
    for name, seeds in groups.items():
        try:
            summary = seed_statistics(seeds).summary(level)
        except StudyInputError as error:
            raise StudyInputError(f"group {name!r}: {error}") from None
        rows.append({"name": str(name), **summary})
    return rows
