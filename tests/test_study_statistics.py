"""Seed statistics: white N(0, I) seeds look Gaussian and uncorrelated; blurred seeds give themselves away."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.study.statistics import (
    autocorrelation_map,
    ood_auroc,
    seed_statistics,
    summarise_groups,
)
from core.study.tolerance import StudyInputError


def white_seeds(n: int, seed: int, shape: tuple[int, int, int] = (1, 28, 28)) -> torch.Tensor:
    return torch.randn((n, *shape), generator=torch.Generator().manual_seed(seed))


def blurred_seeds(n: int, seed: int) -> torch.Tensor:
    """3x3 box blur of white noise (lag-1 correlation 2/3), rescaled to unit std so the norm is no clue."""
    noise = white_seeds(n, seed)
    blurred = F.avg_pool2d(F.pad(noise, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
    return blurred / blurred.flatten(1).std(1).view(-1, 1, 1, 1)


def test_white_noise_looks_gaussian_and_uncorrelated():
    result = seed_statistics(white_seeds(64, 0))
    assert result.norm.shape == result.ks_pvalue.shape == result.ood_score.shape == (64,)
    assert result.dimension == 784
    assert np.abs(result.norm - 1).max() < 0.1  # |z|/sqrt(D) ~ 1 +- sqrt(1/(2D)) = 0.025
    assert np.abs(result.autocorr_h).max() < 0.15 and np.abs(result.autocorr_v).max() < 0.15
    assert np.abs(result.autocorr_h).mean() < 0.1 and np.abs(result.autocorr_v).mean() < 0.1
    assert result.passes_gaussianity().mean() >= 0.85  # 95% expected
    assert (result.shapiro_pvalue >= 0.05).mean() >= 0.85
    assert 3 < result.departure_score.mean() < 9  # chi2(6) has mean 6
    assert (result.departure_pvalue >= 0.05).mean() >= 0.85
    assert abs(result.ood_score.mean()) < 0.5 and 0.7 < result.ood_score.std() < 1.3  # ~ N(0, 1)
    assert 1 < result.chi2_autocorr.mean() < 3  # chi2(2) has mean 2
    assert (result.ood_pvalue >= 0.05).mean() >= 0.85
    np.testing.assert_allclose(result.departure_score, result.chi2_mean + result.chi2_norm + result.chi2_jarque_bera
                               + result.chi2_autocorr)
    json.dumps(result.summary())
    json.dumps(result.as_dict())


def test_known_moments_of_simple_seeds():
    seeds = torch.full((1, 1, 4, 4), 2.0)
    seeds[0, 0, :, :2] = -2.0  # left half -2, right half 2: mean 0, std 2, |z|/sqrt(D) = 2
    result = seed_statistics(seeds)
    assert result.mean[0] == pytest.approx(0.0) and result.std[0] == pytest.approx(2.0)
    assert result.norm[0] == pytest.approx(2.0)
    # horizontal neighbours: per row pairs (-2,-2), (-2,2), (2,2) -> (4 - 4 + 4) / 3 / var 4 = 1/3
    assert result.autocorr_h[0] == pytest.approx(1 / 3)
    assert result.autocorr_v[0] == pytest.approx(1.0)  # columns are constant
    assert result.ks_pvalue[0] < 0.05


def test_blurred_seeds_are_flagged_out_of_distribution():
    white, blurred = seed_statistics(white_seeds(40, 1)), seed_statistics(blurred_seeds(40, 2))
    np.testing.assert_allclose(blurred.std, 1.0, atol=0.02)  # scale matches the Gaussian's ...
    assert blurred.autocorr_h.mean() > 0.5 and blurred.autocorr_v.mean() > 0.5  # ... but neighbours agree
    assert blurred.ood_score.min() > white.ood_score.max()
    assert blurred.departure_score.min() > white.departure_score.max()
    assert (blurred.ood_pvalue < 1e-6).all()
    result = ood_auroc(white.ood_score, blurred.ood_score, n_bootstrap=200)
    assert result.auroc == 1.0 and result.ci_low == pytest.approx(1.0)
    json.dumps(result.summary())


def test_ood_score_sees_spatial_structure_not_heavy_tails():
    """Heavy-tailed but white values (Laplace, like z* of flat backgrounds) depart from N(0, I) without
    carrying an image; shuffling a blurred seed's pixels keeps its values and removes its structure."""
    generator = torch.Generator().manual_seed(10)
    uniform = torch.rand((30, 1, 28, 28), generator=generator, dtype=torch.float64) - 0.5
    laplace = -(2**-0.5) * uniform.sign() * torch.log1p(-2 * uniform.abs())  # Laplace, unit variance, kurtosis 3
    heavy = seed_statistics(laplace)
    assert (heavy.departure_pvalue < 0.05).mean() > 0.9 and (heavy.ood_pvalue >= 0.05).mean() > 0.8
    blurred = blurred_seeds(30, 11)
    shuffled = blurred.flatten(1)[:, torch.randperm(784, generator=generator)].view_as(blurred)
    before, after = seed_statistics(blurred), seed_statistics(shuffled)
    np.testing.assert_allclose(after.excess_kurtosis, before.excess_kurtosis, atol=1e-9)
    assert after.ood_score.mean() < 2 < 10 < before.ood_score.min()
    signs = torch.tensor([1.0, -1.0]).repeat(14)
    anti = seed_statistics(blurred_seeds(4, 12) * (signs.view(28, 1) * signs.view(1, 28)))  # checkerboard flips r
    assert (anti.autocorr_h < -0.5).all() and (anti.ood_score < 0).all()  # one-sided: anti-correlation is not flagged ...
    assert (anti.chi2_autocorr > 500).all()  # ... but the two-sided term sees it

def test_auroc_of_two_white_groups_is_near_one_half():
    scores_a = seed_statistics(white_seeds(100, 3)).ood_score
    scores_b = seed_statistics(white_seeds(100, 4)).ood_score
    result = ood_auroc(scores_a, scores_b, n_bootstrap=300, seed=1)
    assert 0.35 < result.auroc < 0.65
    assert result.ci_low < 0.5 < result.ci_high  # the CI covers chance
    assert result.ci_low <= result.auroc <= result.ci_high
    assert ood_auroc(scores_a, scores_b, n_bootstrap=300, seed=1) == result  # deterministic


def test_autocorrelation_map():
    white = autocorrelation_map(white_seeds(32, 5, (2, 10, 12)))
    assert white.shape == (19, 23)
    assert white[9, 11] == pytest.approx(1.0)
    off_centre = np.delete(white.ravel(), 9 * 23 + 11)
    assert np.abs(off_centre).max() < 0.1
    np.testing.assert_allclose(white, white[::-1, ::-1], atol=1e-9)  # autocorrelation is point-symmetric
    blurred = autocorrelation_map(blurred_seeds(16, 6))
    assert blurred.shape == (55, 55)
    assert blurred[27, 28] > 0.5 and blurred[28, 27] > 0.5
    # the biased map at lag 1 equals the direct lag-1 estimate times pairs / D
    seeds = blurred_seeds(4, 7)
    direct = seed_statistics(seeds).autocorr_h.mean() * (28 * 27) / 784
    assert autocorrelation_map(seeds)[27, 28] == pytest.approx(direct, rel=1e-6)


def test_summarise_groups_rows():
    rows = summarise_groups({"random": white_seeds(30, 8), "blurred": blurred_seeds(30, 9)})
    assert [row["name"] for row in rows] == ["random", "blurred"]
    assert rows[0]["count"] == 30 and rows[1]["count"] == 30
    assert rows[0]["mean_abs_autocorr"] < 0.1 < 0.5 < rows[1]["mean_abs_autocorr"]
    assert rows[0]["share_ood_pass"] > 0.8 and rows[1]["share_ood_pass"] == 0.0
    assert rows[0]["share_departure_pass"] > 0.8 and rows[1]["share_departure_pass"] == 0.0
    json.dumps(rows)


@pytest.mark.parametrize("bad, message", [
    (torch.randn(3, 28, 28), "(n, C, H, W)"),
    (torch.randn(0, 1, 28, 28), "at least 1"),
    (torch.full((2, 1, 4, 4), float("nan")), "NaN"),
    (torch.randn(2, 1, 1, 8), "2x2"),
    ("not a tensor", "(n, C, H, W)"),
])
def test_bad_seeds_get_a_clear_error(bad, message):
    with pytest.raises(StudyInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        seed_statistics(bad)


def test_bad_groups_and_scores_get_a_clear_error():
    with pytest.raises(StudyInputError, match="group 'bad'"):
        summarise_groups({"ok": white_seeds(2, 0), "bad": torch.randn(2, 28, 28)})
    with pytest.raises(StudyInputError, match="non-empty"):
        summarise_groups({})
    with pytest.raises(StudyInputError, match="NaN"):
        ood_auroc(np.array([1.0, np.nan]), np.array([2.0]))
    with pytest.raises(StudyInputError, match="at least one"):
        ood_auroc(np.array([]), np.array([2.0]))
