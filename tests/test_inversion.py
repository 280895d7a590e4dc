"""Adaptive fixed-point inversion on the tiny model: NFE accounting, early stopping, re-solves, batch independence."""

import pytest
import torch

from core.embedding import embed, reconstruct
from core.inversion import (
    AMPLIFICATION_FLOOR,
    AMPLIFICATION_POWER,
    fixed_point_inversion,
    fixed_point_invert,
    invert_to_target,
    solve_per_image,
    step_weights,
    upper_steps,
)
from core.sampling import ddim_generate, ddim_step, forward_pass, step_times
from core.seeds import seeded_noise


class CountingDenoiser(torch.nn.Module):
    """Wraps a denoiser and counts calls and rows (one row = one image evaluated once)."""

    def __init__(self, denoiser):
        super().__init__()
        self.denoiser, self.calls, self.rows = denoiser, 0, 0

    def forward(self, noisy_images, noise_variances):
        self.calls += 1
        self.rows += noisy_images.shape[0]
        return self.denoiser(noisy_images, noise_variances)


@pytest.fixture
def normalized(tiny_generator):
    """Six images the tiny generator can make (G(z) for known seeds), normalized."""
    images = reconstruct(tiny_generator, seeded_noise(list(range(11, 17)), tiny_generator.image_shape))
    return tiny_generator.normalize(images)


@pytest.fixture
def unreachable():
    """Six normalized images that the random tiny generator cannot make exactly: errors well above rounding."""
    return torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_nfe_equals_the_evaluations_made(tiny_generator, normalized):
    counter = CountingDenoiser(tiny_generator.unet)
    inversion = fixed_point_inversion(counter, normalized, steps=10, tolerance=1e-4, iterations=8)
    assert int(inversion.nfe.sum()) == counter.rows  # images that left the batch were not evaluated further
    assert len(set(inversion.nfe.tolist())) > 1  # the images did stop at different counts
    assert torch.equal(inversion.nfe, 1 + inversion.step_nfe.sum(1))  # the naive start of step 1, then each solve
    assert (inversion.step_nfe >= 1).all() and (inversion.step_nfe <= 8).all()


def test_nfe_with_checks_and_re_solves(tiny_generator, normalized):
    counter = CountingDenoiser(tiny_generator.unet)

    def check(made, index):
        return (made - normalized[index]).pow(2).flatten(1).mean(1), made

    # an unreachable target: every image is re-solved (3 rounds) and then solved by the fixed schedule
    heard = []
    inversion = invert_to_target(counter, normalized, check, target=1e-12, steps=10, iterations=4,
                                 progress=lambda done, total, stage: heard.append((done, total, stage)))
    assert (inversion.solves == 5).all() and inversion.missed.all()
    # the progress follows the first solve and every re-solve, each saying which it is, each to its end
    stages = list(dict.fromkeys(stage for _, _, stage in heard))
    n = len(normalized)
    assert stages == ["inverting steps"] + [f"{n} image(s) below the target: solving again, round {r} of 3" for r in (1, 2, 3)] + [
        f"{n} image(s) below the target: solving again, by the fixed schedule"]
    assert all(max(d for d, t, s in heard if s == stage) == next(t for _, t, s in heard if s == stage) for stage in stages)
    # each image's last check is its reconstruction and is not counted; all other evaluations are
    assert int(inversion.nfe.sum()) == counter.rows - 10 * len(normalized)
    torch.testing.assert_close(inversion.outputs, ddim_generate(tiny_generator.unet, inversion.seeds, 10))


def test_early_stop_never_worse_than_the_full_solve(tiny_generator, unreachable):
    noise_rate = 0.9

    def fixed_map(v, index):
        eps = tiny_generator.unet(v, torch.full((len(v),), noise_rate**2))
        return 0.8 * unreachable[index] + 2 * noise_rate * eps, eps

    start = 0.8 * unreachable
    tolerance = torch.full((len(unreachable),), 1e-3)
    _, early_x, _, early_residual, early_nfe, _ = solve_per_image(fixed_map, start, tolerance, iterations=12)
    _, full_x, _, full_residual, full_nfe, _ = solve_per_image(fixed_map, start, torch.zeros_like(tolerance), iterations=12)
    assert (full_nfe == 12).all() and (early_nfe < 12).any()
    assert (early_residual <= torch.maximum(tolerance, full_residual) * (1 + 1e-5)).all()
    stopped = early_nfe < 12
    assert (early_residual[stopped] <= tolerance[stopped]).all()


def test_re_solves_never_worse_than_the_fixed_schedule(tiny_generator, unreachable):
    def check(made, index):
        return (made - unreachable[index]).pow(2).flatten(1).mean(1), made

    fixed_seeds, _ = fixed_point_invert(tiny_generator.unet, unreachable, 10, 30, tolerance=None)
    fixed_error = check(ddim_generate(tiny_generator.unet, fixed_seeds, 10), torch.arange(len(unreachable)))[0]
    target = float(fixed_error.median())  # about half the images miss it
    inversion = invert_to_target(tiny_generator.unet, unreachable, check, target, steps=10)
    assert (inversion.check_error <= torch.maximum(torch.tensor(target), fixed_error) * (1 + 1e-4)).all()
    assert torch.equal(inversion.missed, inversion.check_error > target)
    assert (inversion.solves > 1).any()
    assert torch.equal(inversion.trajectory[0], inversion.seeds)  # re-solved or not, the trajectory is the seed's


def test_an_image_does_not_depend_on_its_batch_mates(tiny_generator, normalized):
    alone = fixed_point_inversion(tiny_generator.unet, normalized[:1], tolerance=1e-4, iterations=8)
    together = fixed_point_inversion(tiny_generator.unet, normalized, tolerance=1e-4, iterations=8)
    torch.testing.assert_close(together.seeds[:1], alone.seeds, atol=1e-4, rtol=1e-4)
    assert int(together.nfe[0]) == int(alone.nfe[0])


def test_inverts_a_closed_form_denoiser(linear_denoiser):
    images = torch.linspace(-1, 1, 2 * 16).reshape(2, 1, 4, 4)
    inversion = fixed_point_inversion(linear_denoiser, images, steps=5, tolerance=1e-5)
    torch.testing.assert_close(ddim_generate(linear_denoiser, inversion.seeds, 5), images, atol=1e-3, rtol=0)
    assert inversion.step_errors.max() <= 1e-5 * max(step_weights(5))


def test_embed_reports_per_image_nfe_and_misses(tiny_generator):
    images = reconstruct(tiny_generator, seeded_noise([21, 22, 23], tiny_generator.image_shape))
    result = embed(tiny_generator, images, "fixed_point")
    assert result.missed is not None and not result.missed.any() and result.psnr.min() >= 40
    assert result.nfe == int(result.nfe_per_image.max())
    unreachable = embed(tiny_generator, images, "fixed_point", fixed_point_target_psnr=200.0, fixed_point_iterations=3)
    assert unreachable.missed.all()
    assert (unreachable.nfe_per_image > result.nfe_per_image).all()  # the misses were solved again
    old = embed(tiny_generator, images, "fixed_point", fixed_point_mode="fixed", fixed_point_iterations=3, steps=4)
    old_seeds, old_nfe = fixed_point_invert(tiny_generator.unet, tiny_generator.normalize(images), 4, 3, tolerance=None)
    assert old.nfe_per_image is None and old.nfe == old_nfe and torch.equal(old.seeds, old_seeds)


def test_bad_options(tiny_generator, normalized):
    with pytest.raises(ValueError, match="weights"):
        fixed_point_inversion(tiny_generator.unet, normalized, steps=4, weights=[1.0, 1.0])
    with pytest.raises(ValueError, match="tolerance"):
        fixed_point_inversion(tiny_generator.unet, normalized, tolerance=0.0)
    images = tiny_generator.denormalize(normalized).clamp(0, 1)
    with pytest.raises(ValueError, match="fixed_point_mode"):
        embed(tiny_generator, images, "fixed_point", fixed_point_mode="fast")


def test_forward_pass_is_the_generator(tiny_generator, normalized):
    seeds = seeded_noise([3, 4], tiny_generator.image_shape)
    forward = forward_pass(tiny_generator.unet, seeds, 6)
    assert torch.equal(forward.output, ddim_generate(tiny_generator.unet, seeds, 6))
    assert len(forward.states) == len(forward.eps) == 6 and torch.equal(forward.states[0], seeds)


def test_a_known_first_map_value_is_used_and_not_counted(tiny_generator, unreachable):
    def fixed_map(v, index):
        eps = tiny_generator.unet(v, torch.full((len(v),), 0.5))
        return 0.8 * unreachable[index] + 0.3 * eps, eps

    start, tolerance = 0.8 * unreachable, torch.full((len(unreachable),), 1e-4)
    plain = solve_per_image(fixed_map, start, tolerance, iterations=10)
    known = solve_per_image(fixed_map, start, tolerance, iterations=10, first_value=fixed_map(start, torch.arange(6)))
    torch.testing.assert_close(known[0], plain[0])
    assert torch.equal(known[4], plain[4] - 1)


def test_a_partial_re_solve_keeps_the_later_states(tiny_generator, normalized):
    first = fixed_point_inversion(tiny_generator.unet, normalized, steps=10, tolerance=1e-3)
    forward = forward_pass(tiny_generator.unet, first.seeds, 10)
    counter = CountingDenoiser(tiny_generator.unet)
    again = fixed_point_inversion(counter, normalized, steps=10, tolerance=1e-4, starts=forward.states,
                                  start_eps=forward.eps, solve_from=6, kept=first.trajectory)
    assert int(again.nfe.sum()) == counter.rows
    for j in range(7, 10):
        assert torch.equal(again.trajectory[j], first.trajectory[j])
    assert (again.step_nfe[:, :3] == 0).all()  # solve order: x_{t_9}, x_{t_8}, x_{t_7} were kept
    # the re-solved x_{t_6} lands its DDIM step on the kept x_{t_7}, up to the tolerance (weight 2 at most)
    step, _ = ddim_step(tiny_generator.unet, again.trajectory[6], 0.4, 0.3)
    assert (step - again.trajectory[7]).pow(2).flatten(1).mean(1).sqrt().max() < 2 * 1e-4
    with pytest.raises(ValueError, match="kept"):
        fixed_point_inversion(tiny_generator.unet, normalized, steps=10, solve_from=6)
    with pytest.raises(ValueError, match="start_eps"):
        fixed_point_inversion(tiny_generator.unet, normalized, steps=10, start_eps=forward.eps)
    with pytest.raises(ValueError, match="one tensor per state"):
        fixed_point_inversion(tiny_generator.unet, normalized, steps=10, starts=forward.states[:5])


def test_the_first_re_solve_covers_the_upper_steps():
    assert upper_steps(10) == 6  # x_{t_0} .. x_{t_6}: t = 1.0 .. 0.4
    assert [upper_steps(s) for s in (1, 2, 3)] == [0, 0, 1]  # always a valid state index, below S - 1 where there is one


def test_a_start_seeds_trajectory_is_its_forward_pass(tiny_generator):
    from core.inversion import _forward_trajectory

    seeds = torch.randn(3, *tiny_generator.image_shape)
    states = _forward_trajectory(tiny_generator.unet, seeds, step_times(10).tolist()[:-1])
    forward = forward_pass(tiny_generator.unet, seeds, 10)
    assert len(states) == 10
    for state, expected in zip(states, forward.states):
        torch.testing.assert_close(state, expected, rtol=0, atol=0)


def test_the_stretch_is_the_gain_of_a_linear_step():
    # g(x) = b + a x per image: every pair of iterates gives |d(g - x)| / |dx| = |a - 1| exactly
    slopes = torch.tensor([0.5, -0.8, 0.9])
    base = torch.randn(3, 1, 4, 4, generator=torch.Generator().manual_seed(1))

    def fixed_map(v, index):
        return base[index] + slopes[index, None, None, None] * v, v

    start = torch.zeros_like(base)
    *_, evaluations, stretch = solve_per_image(fixed_map, start, torch.full((3,), 1e-9), iterations=4, memory=1)
    assert (evaluations >= 2).all()
    torch.testing.assert_close(stretch, (slopes - 1).abs())
    # one evaluation gives no pair: the stretch is 1, the yardstick, not 0
    *_, evaluations, stretch = solve_per_image(fixed_map, start, torch.full((3,), 1e9), iterations=4)
    assert (evaluations == 1).all() and torch.equal(stretch, torch.ones(3))


def test_the_guard_divides_each_tolerance_by_the_stretch_below(tiny_generator, unreachable):
    tolerance, power, iterations = 1e-3, 1.5, 30
    guarded = fixed_point_inversion(tiny_generator.unet, unreachable, steps=6, tolerance=tolerance, iterations=iterations,
                                    amplification_power=power)
    plain = fixed_point_inversion(tiny_generator.unet, unreachable, steps=6, tolerance=tolerance, iterations=iterations)
    weights = torch.tensor(step_weights(6))
    below = torch.cat([torch.ones(6, 1), guarded.stretches.cumprod(1)[:, :-1]], dim=1)  # product of the solves before each
    limit = weights * tolerance / below.clamp_min(AMPLIFICATION_FLOOR) ** power  # on residual / s, as step_errors
    stopped_early = guarded.step_nfe < iterations
    assert (guarded.step_errors[stopped_early] <= limit[stopped_early] * (1 + 1e-5)).all()
    assert (limit < weights * tolerance).any()  # the tiny model does stretch some steps: the guard had work to do
    assert guarded.nfe.sum() > plain.nfe.sum()
    # the plain solve does not meet the guarded limits: the test above can fail
    assert (plain.step_errors[stopped_early] > limit[stopped_early] * (1 + 1e-5)).any()


def test_the_guarded_x0_solve_returns_an_evaluated_iterate(tiny_generator, unreachable):
    guarded = fixed_point_inversion(tiny_generator.unet, unreachable, steps=6, tolerance=2e-2, amplification_power=1.0)
    plain = fixed_point_inversion(tiny_generator.unet, unreachable, steps=6, tolerance=2e-2)
    time = step_times(6).tolist()[-2]  # t_{S-1}, the x0 step's state
    for inversion, exact in ((guarded, True), (plain, False)):
        state = inversion.trajectory[-1]
        _, prediction = ddim_step(tiny_generator.unet, state, time, 0.0)  # x0_hat(y) = x - r / s
        error = (prediction - unreachable).flatten(1).pow(2).mean(1).sqrt()
        # the guarded state's image error is exactly the recorded residual / s; Anderson's extra step's is not
        assert torch.allclose(error, inversion.step_errors[:, 0], rtol=1e-4) == exact


def test_guarded_mode_counts_every_evaluation(tiny_generator, normalized):
    counter = CountingDenoiser(tiny_generator.unet)
    result = embed(tiny_generator, tiny_generator.denormalize(normalized), "fixed_point", fixed_point_mode="guarded")
    assert result.nfe_per_image is not None and (result.psnr >= 40).all()
    inversion = invert_to_target(counter, normalized, lambda made, index: ((made - normalized[index]).pow(2).flatten(1).mean(1), made),
                                 target=1e-6, steps=10, amplification_power=AMPLIFICATION_POWER)
    assert int(inversion.nfe.sum()) == counter.rows - 10 * len(normalized)


def test_the_default_fixed_point_mode_is_guarded(tiny_generator, normalized):
    images = tiny_generator.denormalize(normalized)
    default = embed(tiny_generator, images, "fixed_point", fixed_point_target_psnr=None)
    guarded = embed(tiny_generator, images, "fixed_point", fixed_point_mode="guarded", fixed_point_target_psnr=None)
    adaptive = embed(tiny_generator, images, "fixed_point", fixed_point_mode="adaptive", fixed_point_target_psnr=None)
    assert torch.equal(default.seeds, guarded.seeds) and torch.equal(default.nfe_per_image, guarded.nfe_per_image)
    assert not torch.equal(guarded.seeds, adaptive.seeds)  # the two modes differ here, so the test above can fail
