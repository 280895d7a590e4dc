"""The learned start of the x0 solve (core.inversion_start) and its training, on the tiny model."""

import json

import pytest
import torch

import core.inversion_start as inversion_start
from core.checkpoint import CheckpointError, load_generator, save_generator, weights_hash
from core.embedding import embed, reconstruct
from core.inversion import FIRST_STEP_WEIGHT, fixed_point_inversion, implied_eps, invert_to_target, solve_x0, step_weights
from core.inversion_start import (InversionStart, InversionStartConfig, load_inversion_start, save_inversion_start,
                                  shipped_inversion_start)
from core.inversion_start_training import main
from core.seeds import seeded_noise
from tests.test_inversion import CountingDenoiser

TINY = ["--images", "40", "--eval-images", "8", "--batch", "8", "--unet-widths", "8", "16", "--dataset", "digits",
        "--warmup-steps", "2", "--upper-images", "40", "--upper-steps", "6"]
UNFINISHED = 75


@pytest.fixture
def normalized(tiny_generator):
    images = reconstruct(tiny_generator, seeded_noise(list(range(21, 27)), tiny_generator.image_shape))
    return tiny_generator.normalize(images)


class KnownStart(InversionStart):
    """A start network whose answer is given: the exact solution's eps, or anything else a test needs."""

    def __init__(self, answer: torch.Tensor):
        super().__init__(InversionStartConfig(image_size=answer.shape[-1], unet_widths=[8, 16]))
        self.answer = answer

    def forward(self, normalized_images):
        return self.answer


def test_a_start_at_the_solution_costs_one_evaluation(tiny_generator, normalized):
    counter = CountingDenoiser(tiny_generator.unet)
    exact, _, naive_cost = solve_x0(counter, normalized, 10, tolerance=1e-7, iterations=60)
    assert counter.rows == int(naive_cost.sum()) and (naive_cost > 2).all()  # the naive start's evaluation is counted
    counter.rows = 0
    _, error, cost = solve_x0(counter, normalized, 10, x0_eps=exact)
    assert (cost == 1).all() and counter.rows == len(normalized)  # evaluated once, at the start, and within tolerance
    assert (error <= FIRST_STEP_WEIGHT * 8e-3).all()


def test_inversion_from_a_learned_start_counts_every_evaluation(tiny_generator, normalized):
    exact, _, _ = solve_x0(tiny_generator.unet, normalized, 10, tolerance=1e-7, iterations=60)
    counter = CountingDenoiser(tiny_generator.unet)
    learned = fixed_point_inversion(counter, normalized, 10, x0_eps=exact)
    assert int(learned.nfe.sum()) == counter.rows
    assert torch.equal(learned.nfe, learned.step_nfe.sum(1))  # no naive evaluation
    assert (learned.step_nfe[:, 0] == 1).all()
    naive = fixed_point_inversion(tiny_generator.unet, normalized, 10)
    assert torch.equal(naive.nfe, 1 + naive.step_nfe.sum(1))  # the naive start costs its own evaluation


def test_a_poor_start_still_stops_only_at_the_tolerance(tiny_generator, normalized):
    """The start moves where the x0 solve begins, never when it ends: every image still meets its tolerance."""
    poor = 3.0 * torch.randn(normalized.shape, generator=torch.Generator().manual_seed(1))
    _, error, cost = solve_x0(tiny_generator.unet, normalized, 10, x0_eps=poor)
    assert (error <= FIRST_STEP_WEIGHT * 8e-3).all() and (cost > 1).all()
    inversion = fixed_point_inversion(tiny_generator.unet, normalized, 10, x0_eps=poor, amplification_power=0.5)
    assert (inversion.step_errors[:, 0] <= FIRST_STEP_WEIGHT * 8e-3).all()


def test_bad_starts_are_refused(tiny_generator, normalized):
    with pytest.raises(ValueError, match="x0_eps"):
        fixed_point_inversion(tiny_generator.unet, normalized, 10, x0_eps=normalized[:2])
    with pytest.raises(ValueError, match="x0_eps"):
        fixed_point_inversion(tiny_generator.unet, normalized, 10, x0_eps=torch.full_like(normalized, float("nan")))
    with pytest.raises(ValueError, match="fixed_point_start"):
        embed(tiny_generator, tiny_generator.denormalize(normalized), "fixed_point", fixed_point_start="learned")
    wrong_steps = KnownStart(torch.zeros_like(normalized))
    wrong_steps.config.steps = 6
    with pytest.raises(ValueError, match="10"):
        embed(tiny_generator, tiny_generator.denormalize(normalized), "fixed_point", fixed_point_start=wrong_steps)


def test_embed_uses_the_given_start_and_the_check_still_guards(tiny_generator, normalized):
    images = tiny_generator.denormalize(normalized)
    exact, _, _ = solve_x0(tiny_generator.unet, normalized, 10, tolerance=1e-7, iterations=60)
    learned = embed(tiny_generator, images, "fixed_point", fixed_point_start=KnownStart(exact))
    naive = embed(tiny_generator, images, "fixed_point", fixed_point_start=None)
    assert (learned.psnr >= 40).all() and (naive.psnr >= 40).all()
    assert (learned.nfe_per_image < naive.nfe_per_image).all()
    auto = embed(tiny_generator, images, "fixed_point")  # nothing is shipped for a random generator: the naive start
    assert torch.equal(auto.seeds, naive.seeds) and torch.equal(auto.nfe_per_image, naive.nfe_per_image)
    counter = CountingDenoiser(tiny_generator.unet)
    def check(made, index):
        return (made - normalized[index]).pow(2).flatten(1).mean(1), made

    inversion = invert_to_target(counter, normalized, check, target=1e-6, steps=10, amplification_power=0.5, x0_eps=exact)
    assert int(inversion.nfe.sum()) == counter.rows - 10 * len(normalized)  # every evaluation but the final G(z)


def test_training_writes_a_start_tied_to_its_generator(tmp_path, tiny_generator):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    out = tmp_path / "start"
    assert main(["--generator", str(generator_path), "--out", str(out), "--steps", "6", *TINY]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["kind"] == "inversion-start" and config["inversion_start"]["generator_weights"] == weights_hash(generator_path)
    report = config["training"]["x0_evaluations"]
    assert report["learned_mean"] >= 1 and report["naive_mean"] >= 2  # the naive start's own evaluation is counted
    assert sorted(path.name for path in out.iterdir()) == ["config.json", "model.safetensors"]  # targets and state removed
    upper = config["upper_training"]["evaluations"]  # the upper starts, trained on inverted training images
    assert config["inversion_start"]["upper_states"] == [0, 1] and upper["all_learned_mean"] >= 10
    generator = load_generator(generator_path)
    start = load_inversion_start(out, generator)
    normalized = generator.normalize(torch.rand(3, 1, 8, 8))
    assert start(normalized).shape == (3, 1, 8, 8)
    states = list(fixed_point_inversion(generator.unet, normalized, 10).trajectory)
    assert start.eps_guess(0, normalized, states).shape == (3, 1, 8, 8) and start.eps_guess(5, normalized, states) is None
    other = save_generator(type(tiny_generator)(tiny_generator.config, [0.5], [0.01]), tmp_path / "other")
    with pytest.raises(CheckpointError, match="other generator weights"):
        load_inversion_start(out, load_generator(other))


def test_an_interrupted_run_continues_to_the_same_start(tmp_path, tiny_generator):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    common = ["--generator", str(generator_path), "--steps", "6", *TINY]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    assert main([*common, "--out", str(tmp_path / "parts"), "--max-steps", "3"]) == UNFINISHED
    assert (tmp_path / "parts" / "train_state.safetensors").is_file()
    assert (tmp_path / "parts" / "x0_targets.safetensors").is_file()
    assert main([*common, "--out", str(tmp_path / "parts")]) == 0
    # the upper stage stopped and continued: after an x0-only run, the same folder gets its upper starts added
    assert main([*common, "--out", str(tmp_path / "staged"), "--upper-states"]) == 0
    assert load_inversion_start(tmp_path / "staged").config.upper_states == []
    assert main([*common, "--out", str(tmp_path / "staged"), "--max-steps", "3"]) == UNFINISHED
    assert (tmp_path / "staged" / "trajectories.safetensors").is_file()
    assert main([*common, "--out", str(tmp_path / "staged")]) == 0
    whole, parts, staged = (load_inversion_start(tmp_path / name) for name in ("whole", "parts", "staged"))
    assert whole.config.upper_states == [0, 1] and list(whole.state_dict()) == list(staged.state_dict())
    for a, b, c in zip(whole.state_dict().values(), parts.state_dict().values(), staged.state_dict().values()):
        torch.testing.assert_close(a, b)
        torch.testing.assert_close(a, c)


def test_the_shipped_start_is_found_by_the_generators_weights(tmp_path, tiny_generator, monkeypatch):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    generator = load_generator(generator_path)
    start = InversionStart(InversionStartConfig(image_size=8, unet_widths=[8, 16], generator_weights=generator.weights_sha256))
    save_inversion_start(start, tmp_path / "starts" / "tiny")
    monkeypatch.setattr(inversion_start, "SHIPPED_STARTS", tmp_path / "starts")
    inversion_start._shipped_folder.cache_clear()
    inversion_start._load_shipped.cache_clear()
    try:
        found = shipped_inversion_start(generator)
        assert isinstance(found, InversionStart) and found.config.generator_weights == weights_hash(generator_path)
        assert shipped_inversion_start(generator, steps=6) is None  # trained for 10 sampler steps only
        assert shipped_inversion_start(tiny_generator) is None  # not loaded from a file: no weights hash to match
    finally:
        inversion_start._shipped_folder.cache_clear()
        inversion_start._load_shipped.cache_clear()



def test_a_guess_at_an_upper_solution_costs_one_evaluation_there(tiny_generator, normalized):
    """eps_guess replaces the extrapolation where it answers: a guess at the seed's exact solution costs that solve one
    evaluation, the solves below it are unchanged, and every evaluation is counted."""
    plain = fixed_point_inversion(tiny_generator.unet, normalized, 10, amplification_power=0.5)
    states = list(plain.trajectory)  # the seed re-solved tightly from the same x_{t_1}
    exact = fixed_point_inversion(tiny_generator.unet, normalized, 10, starts=states, kept=states, solve_from=0,
                                  tolerance=1e-7, iterations=60)
    calls = []

    def guess(j, images, trajectory):
        calls.append(j)
        return implied_eps(0, images, exact.trajectory) if j == 0 else None

    counter = CountingDenoiser(tiny_generator.unet)
    guided = fixed_point_inversion(counter, normalized, 10, amplification_power=0.5, eps_guess=guess)
    assert sorted(calls) == list(range(9)) and int(guided.nfe.sum()) == counter.rows
    assert (guided.step_nfe[:, -1] == 1).all() and (plain.step_nfe[:, -1] > 1).all()
    assert torch.equal(guided.step_nfe[:, :-1], plain.step_nfe[:, :-1])
    torch.testing.assert_close(guided.trajectory[1], plain.trajectory[1], rtol=0, atol=0)


def test_a_poor_upper_guess_still_stops_only_at_the_tolerance(tiny_generator, normalized):
    plain = fixed_point_inversion(tiny_generator.unet, normalized, 10)
    noise = torch.Generator().manual_seed(2)
    poor = fixed_point_inversion(tiny_generator.unet, normalized, 10,
                                 eps_guess=lambda j, images, trajectory: torch.randn(images.shape, generator=noise) if j < 2 else None)
    assert (poor.step_nfe[:, -2:] > plain.step_nfe[:, -2:]).all()
    limits = 8e-3 * torch.tensor(step_weights(10))
    assert (poor.step_errors <= limits).all()


def test_upper_starts_save_load_and_guess_the_extrapolation_until_trained(tmp_path, tiny_generator, normalized):
    start = InversionStart(InversionStartConfig(image_size=8, unet_widths=[8, 16], upper_states=[0, 1]))
    states = list(fixed_point_inversion(tiny_generator.unet, normalized, 10).trajectory)
    extrapolation = 2 * implied_eps(1, normalized, states) - implied_eps(2, normalized, states)
    torch.testing.assert_close(start.eps_guess(0, normalized, states), extrapolation)  # the correction starts at zero
    assert start.eps_guess(2, normalized, states) is None  # no learned start there: the solver extrapolates
    with torch.no_grad():
        start.upper["1"].output_conv.bias.fill_(0.25)
    save_inversion_start(start, tmp_path / "upper")
    loaded = load_inversion_start(tmp_path / "upper")
    torch.testing.assert_close(loaded.eps_guess(1, normalized, states), start.eps_guess(1, normalized, states), atol=1e-3, rtol=0)
    config = json.loads((tmp_path / "upper" / "config.json").read_text())
    config["inversion_start"]["upper_states"] = [0, 1, 2]
    (tmp_path / "upper" / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"upper starts.*missing \['2\."):  # the config names a correction the file lacks
        load_inversion_start(tmp_path / "upper")
    with pytest.raises(ValueError, match="upper_states"):
        InversionStartConfig(upper_states=[8])  # needs two solved states below it
