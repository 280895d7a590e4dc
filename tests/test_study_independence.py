"""Network independence on tiny random generators: a generator agrees with itself, baselines are sane."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
import torch
from conftest import make_tiny_generator

from core.generator import DiffusionGenerator
from core.seeds import seeded_noise
from core.study.independence import compare_generators
from core.study.tolerance import StudyInputError
from core.unet import get_preset


def seeds_for(generator: DiffusionGenerator, n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn((n, *generator.image_shape), generator=torch.Generator().manual_seed(seed))


def test_a_generator_compared_with_itself_is_capped_and_beats_unrelated_pairs(tiny_generator):
    seeds = seeds_for(tiny_generator, 12)
    result = compare_generators(tiny_generator, tiny_generator, seeds, steps=3, n_bootstrap=500)
    np.testing.assert_allclose(result.paired_psnr, 120.0)  # identical images: PSNR capped at 120 dB
    assert result.unrelated_cross_psnr.shape == result.unrelated_same_psnr.shape == (12 * 11,)
    np.testing.assert_allclose(result.unrelated_cross_psnr, result.unrelated_same_psnr)  # G_b is G_a
    assert result.unrelated_cross_psnr.max() < 100  # different seeds, different images
    summary = result.summary()
    assert summary["share_paired_above_unrelated_p95"] == 1.0
    assert summary["difference_ci"][0] > 0 and summary["mean_difference"] > 0
    assert summary["difference_ci"][0] <= summary["mean_difference"] <= summary["difference_ci"][1]
    assert summary["target_psnr_b_mean"] is None
    json.dumps(summary)
    json.dumps(result.as_dict())


def test_a_slightly_perturbed_copy_keeps_the_meaning_of_seeds(tiny_generator):
    perturbed = copy.deepcopy(tiny_generator)
    torch.manual_seed(1)
    with torch.no_grad():
        for parameter in perturbed.unet.parameters():
            parameter.add_(1e-3 * torch.randn_like(parameter))
    result = compare_generators(tiny_generator, perturbed, seeds_for(tiny_generator, 10, 1), steps=3, n_bootstrap=300)
    assert result.paired_psnr.max() < 120  # the copy really differs ...
    assert result.summary()["share_paired_above_unrelated_p95"] == 1.0  # ... but each seed keeps its image
    assert result.difference_ci[0] > 10


def test_two_initializations_and_embedded_seeds_with_targets(tiny_generator):
    other = make_tiny_generator(seed=7)
    seeds = seeds_for(tiny_generator, 6, 2)
    targets = tiny_generator.generate(seeds, 3)  # as if the seeds were z* of these images under gen_a
    result = compare_generators(tiny_generator, other, seeds, steps=3, targets=targets, n_bootstrap=200)
    assert result.paired_psnr.shape == result.per_seed_unrelated_psnr.shape == (6,)
    assert np.isfinite(result.paired_psnr).all() and result.paired_psnr.max() < 120
    np.testing.assert_allclose(result.target_psnr_a, 120.0)  # G_a(z_i) is the target
    np.testing.assert_allclose(result.target_psnr_b, result.paired_psnr)  # so G_b's error to x is the paired one
    # The per-seed baseline is the mean of that seed's row of cross pairs (all pairs kept for n = 6).
    assert result.per_seed_unrelated_psnr[0] == pytest.approx(result.unrelated_cross_psnr[:5].mean())
    summary = result.summary()
    assert summary["target_psnr_b_mean"] == pytest.approx(summary["paired_mean"])
    json.dumps(summary)


def test_baseline_pairs_are_subsampled_deterministically(tiny_generator):
    seeds = seeds_for(tiny_generator, 8, 3)
    first = compare_generators(tiny_generator, tiny_generator, seeds, steps=2, max_pairs=20, n_bootstrap=50, seed=4)
    again = compare_generators(tiny_generator, tiny_generator, seeds, steps=2, max_pairs=20, n_bootstrap=50, seed=4)
    assert first.unrelated_cross_psnr.shape == (20,)
    np.testing.assert_array_equal(first.unrelated_cross_psnr, again.unrelated_cross_psnr)
    assert first.difference_ci == again.difference_ci


def test_bad_input_gets_a_clear_error(tiny_generator):
    seeds = seeds_for(tiny_generator, 4)
    bigger = DiffusionGenerator(dataclasses.replace(get_preset("tiny"), image_size=16), mean=[0.5], std=[0.5])
    with pytest.raises(StudyInputError, match="different shapes"):
        compare_generators(tiny_generator, bigger, seeds)
    with pytest.raises(StudyInputError, match="at least 2"):
        compare_generators(tiny_generator, tiny_generator, seeds[:1])
    with pytest.raises(StudyInputError, match="NaN"):
        compare_generators(tiny_generator, tiny_generator, seeds * float("nan"))
    with pytest.raises(StudyInputError, match="must be"):
        compare_generators(tiny_generator, tiny_generator, seeds[:, :, :4])
    with pytest.raises(StudyInputError, match="targets"):
        compare_generators(tiny_generator, tiny_generator, seeds, targets=torch.rand(3, 1, 8, 8))
    with pytest.raises(StudyInputError, match=r"\[0, 1\]"):
        compare_generators(tiny_generator, tiny_generator, seeds, targets=torch.full((4, 1, 8, 8), 2.0))
    with pytest.raises(StudyInputError, match="steps"):
        compare_generators(tiny_generator, tiny_generator, seeds, steps=0)


def test_a_twin_of_another_generator_is_compared_on_that_generators_exact_seeds():
    """A study whose generator has no twin of its own compares the pair (twin_of, twin): both the
    random seeds and the test images' z*, found under twin_of, go through that pair."""
    from core.study.run import StudyConfig, StudyImage, run_study

    study_generator, first_half, twin = make_tiny_generator(0), make_tiny_generator(3), make_tiny_generator(5)
    with torch.no_grad():
        images = first_half.generate(seeds_for(first_half, 2, 9), 3)  # images the first half makes exactly
    config = StudyConfig(psnr_levels=(10.0,), cloud_size=2, convexity_samples=2, convergence_seeds=0, random_reference=8,
                         umap=False, steps=3, relaxed_pairs=0)
    items = [StudyImage(f"t{i}", image, "generated", "test") for i, image in enumerate(images)]
    result = run_study(study_generator, items, config, twin=twin, twin_of=first_half)
    embedded = result.summary["independence"]["embedded"]
    assert embedded["target_psnr_a_mean"] > 40  # z* was found under the first half, which made these images
    random_seeds = seeded_noise(list(range(50_000, 50_008)), first_half.image_shape)
    with torch.no_grad():
        np.testing.assert_allclose(result.arrays["independence/random/images_a"], first_half.generate(random_seeds, 3).numpy(), atol=1e-6)
        expected_own = study_generator.generate(random_seeds, 3).numpy()
    # without twin_of, the study's own generator is the pair's first half
    own = run_study(study_generator, items, config, twin=twin)
    np.testing.assert_allclose(own.arrays["independence/random/images_a"], expected_own, atol=1e-6)
    assert np.abs(expected_own - result.arrays["independence/random/images_a"]).max() > 0.05
