"""The emb(x) probes on the tiny 8x8 generator: shapes, invariants and bad input."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from core.seeds import seeded_noise
from core.study.canonical import canonical_positions, in_convex_hull
from core.study.clouds import CloudConfig, descend_to_tolerance, sample_cloud
from core.gradient_embedding import generate_differentiable
from core.study.gauss_newton import FINITE_DIFFERENCE_STEP, clip_aware_outputs, conjugate_gradient, gauss_newton_descent
from core.study.connectivity import relaxed_path, segment_graph
from core.study.convergence import convergence_trace
from core.study.convexity import convex_combinations, share_with_interval
from core.study.intersection import cloud_separation, disjoint_by_triangle_inequality, segments_through_third
from core.study.local_geometry import check_ellipsoid, jacobian, local_geometry
from core.study.paths import path_profile
from core.study.tolerance import StudyInputError, mse_from_psnr, psnr_from_mse, reconstruction_mse

FAST_ADAM = CloudConfig(optimizer="adam", iterations=60, lr=5e-2, lr_final=1e-3, check_every=5, bf16=False)
FAST_GAUSS_NEWTON = CloudConfig(iterations=12, cg_iterations=6)
FAST = FAST_GAUSS_NEWTON  # the default optimiser, in the probes below
BOTH = pytest.mark.parametrize("config", [FAST_GAUSS_NEWTON, FAST_ADAM], ids=["gauss_newton", "adam"])


@pytest.fixture
def target(tiny_generator):
    """An image the generator makes exactly, its seed, and a tolerance of a quarter of the typical error."""
    seeds = seeded_noise([100, 101, 102, 103], tiny_generator.image_shape)
    images = tiny_generator.generate(seeds)
    typical = (images[1:] - images[0]).pow(2).flatten(1).mean(1).median().item()
    return images[0], seeds[0], typical / 4


def test_tolerance_conversions():
    assert mse_from_psnr(30) == pytest.approx(1e-3)
    assert float(psnr_from_mse(1e-4)) == pytest.approx(40.0)


@BOTH
def test_cloud_seeds_are_inside_and_errors_are_true(tiny_generator, target, config):
    image, _, eps = target
    cloud = sample_cloud(tiny_generator, image, 4, eps, config)
    assert cloud.seeds.shape == (4, *tiny_generator.image_shape)
    recomputed = reconstruction_mse(tiny_generator, cloud.seeds, image.unsqueeze(0))
    torch.testing.assert_close(recomputed, cloud.mse)
    assert cloud.inside.sum() >= 3  # descent reaches a quarter of the typical error from random starts
    assert (cloud.iterations[cloud.inside] < config.iterations).all()  # members left the batch early
    assert len(cloud.members) == int(cloud.inside.sum())
    # starts are seeded: the same call gives the same cloud
    again = sample_cloud(tiny_generator, image, 4, eps, config)
    torch.testing.assert_close(again.seeds, cloud.seeds)


def test_cloud_rejects_bad_input(tiny_generator, target):
    image, _, eps = target
    with pytest.raises(StudyInputError, match="at least 2"):
        sample_cloud(tiny_generator, image, 1, eps, FAST)
    with pytest.raises(StudyInputError, match="positive"):
        sample_cloud(tiny_generator, image, 4, 0.0, FAST)
    with pytest.raises(StudyInputError, match="positive"):
        sample_cloud(tiny_generator, image, 4, float("nan"), FAST)
    with pytest.raises(StudyInputError, match=r"below 1; got 30 \(a PSNR\? mse_from_psnr\(30\) = 0.001\)"):
        sample_cloud(tiny_generator, image, 4, 30, FAST)  # dB where an MSE belongs: every seed was 'inside'
    assert sample_cloud(tiny_generator, image, 2, np.float32(eps), FAST) is not None  # a numpy scalar is a number
    from core.study.intersection import disjoint_by_triangle_inequality
    with pytest.raises(StudyInputError, match=r"float images in \[0, 1\]"):
        disjoint_by_triangle_inequality(image * 255, image, eps)  # 0-255 pixels: 'disjoint' for any eps before
    with pytest.raises(StudyInputError, match="differ in shape"):
        disjoint_by_triangle_inequality(image, image[:, :4], eps)  # broadcast silently before
    with pytest.raises(StudyInputError, match="shape"):
        sample_cloud(tiny_generator, torch.zeros(1, 9, 9), 4, eps, FAST)
    with pytest.raises(StudyInputError, match=r"\[0, 1\]"):
        sample_cloud(tiny_generator, image * float("nan"), 4, eps, FAST)


@BOTH
def test_descent_keeps_each_seeds_best(tiny_generator, target, config):
    image, _, _ = target
    starts = seeded_noise([5, 6], tiny_generator.image_shape)
    seeds, mse, used = descend_to_tolerance(tiny_generator, image, starts, 1e-30, config)
    start_mse = reconstruction_mse(tiny_generator, starts, image.unsqueeze(0))
    assert (mse <= start_mse).all() and (mse < start_mse).any()
    torch.testing.assert_close(reconstruction_mse(tiny_generator, seeds, image.unsqueeze(0)), mse)
    assert (used == config.iterations).all()  # an unreachable tolerance: nobody stops early


def test_gauss_newton_beats_adam_at_the_same_cost(tiny_generator, target):
    """12 outer iterations of 6 CG steps cost 12 * 13 = 156 passes; Adam gets 80 steps of 2 passes."""
    image, _, _ = target
    starts = seeded_noise([5, 6, 7], tiny_generator.image_shape)
    _, newton_mse, _ = descend_to_tolerance(tiny_generator, image, starts, 1e-30, FAST_GAUSS_NEWTON)
    _, adam_mse, _ = descend_to_tolerance(tiny_generator, image, starts, 1e-30, replace(FAST_ADAM, iterations=80))
    assert (newton_mse < adam_mse / 10).all()


def test_gauss_newton_solves_a_linear_generator(tiny_generator, linear_denoiser):
    """With eps_hat = 0.5 x_t every DDIM step is linear, so G(z) = c z (denormalized): the Jacobian is
    c * std * I and one undamped Gauss-Newton step is exact; the damping only slows the first steps."""
    tiny_generator.unet = linear_denoiser
    truth, start = seeded_noise([1, 2], tiny_generator.image_shape)
    image = tiny_generator.generate(truth[None], clip=False)[0]
    assert 0 < image.min() and image.max() < 1  # unclipped, so G(truth) is the only exact seed
    seeds, mse, used = gauss_newton_descent(tiny_generator, image[None], start[None], 1e-14, iterations=30, cg_iterations=2)
    assert mse.item() <= 1e-14 and used.item() < 30
    torch.testing.assert_close(seeds[0], truth, atol=1e-3, rtol=0)


def test_clip_aware_outputs_match_the_clipped_error():
    target = torch.tensor([0.0, 0.0, 0.5, 1.0, 1.0, 0.3]).reshape(1, 1, 2, 3)
    outputs = torch.tensor([-0.4, 0.2, 1.3, 1.5, 0.7, -0.2]).reshape(1, 1, 2, 3)
    aware = clip_aware_outputs(outputs, target)
    assert aware.flatten().tolist() == pytest.approx([0.0, 0.2, 1.3, 1.0, 0.7, -0.2])
    # where the target is 0 or 1 the residual is exactly the clipped one; elsewhere it is at least as large
    clipped_error = (outputs.clamp(0, 1) - target).pow(2)
    aware_error = (aware - target).pow(2)
    edge = (target == 0) | (target == 1)
    assert torch.equal(aware_error[edge], clipped_error[edge]) and (aware_error >= clipped_error).all()


def test_bad_optimizer_settings_are_refused(tiny_generator, target):
    image, _, eps = target
    with pytest.raises(StudyInputError, match="optimizer"):
        sample_cloud(tiny_generator, image, 2, eps, CloudConfig(optimizer="sgd"))
    for bad in (CloudConfig(cg_iterations=0), CloudConfig(damping=0.0), CloudConfig(iterations=-1)):
        with pytest.raises(StudyInputError, match="need iterations"):
            sample_cloud(tiny_generator, image, 2, eps, bad)


def test_gauss_newton_reports_the_true_clipped_error_and_lets_members_leave(tiny_generator, target):
    image, seed, eps = target
    starts = torch.cat([seed[None], seeded_noise([11, 12], tiny_generator.image_shape)])  # the first is exact already
    seeds, mse, used = gauss_newton_descent(tiny_generator, image[None], starts, eps, iterations=8, cg_iterations=4)
    assert used[0] == 0 and mse[0] <= eps and torch.equal(seeds[0], seed)
    assert torch.equal(mse, reconstruction_mse(tiny_generator, seeds, image[None]))  # bit for bit, as membership is tested
    assert (used[1:] > 0).all()


def test_finite_difference_jacobian_product_matches_forward_mode(tiny_generator, target):
    """The J v that CG uses (a forward difference) against exact forward-mode autodiff."""
    image, seed, _ = target
    z = seeded_noise([3], tiny_generator.image_shape)
    direction = seeded_noise([4], tiny_generator.image_shape)
    generate = lambda v: generate_differentiable(tiny_generator, v, 10, checkpointing=False)  # noqa: E731
    _, exact = torch.func.jvp(generate, (z,), (direction,))
    h = FINITE_DIFFERENCE_STEP / direction.norm()
    with torch.no_grad():
        finite = (generate(z + h * direction) - generate(z)) / h
    assert (finite - exact).norm() / exact.norm() < 1e-2


def test_conjugate_gradient_solves_a_damped_system_and_stops_on_bad_curvature():
    torch.manual_seed(0)
    jacobian = torch.randn(2, 6, 6)  # one J per "seed"; seeds are (2, 1, 2, 3)
    as_seed = lambda m: m.reshape(2, 1, 2, 3)  # noqa: E731
    product = lambda v: as_seed(jacobian @ v.reshape(2, 6, 1))  # noqa: E731
    transpose = lambda u: as_seed(jacobian.transpose(1, 2) @ u.reshape(2, 6, 1))  # noqa: E731
    gradient, damping = torch.randn(2, 1, 2, 3), torch.full((2, 1, 1, 1), 0.5)
    update = conjugate_gradient(product, transpose, gradient, damping, iterations=6, relative_tolerance=1e-6)
    exact = torch.linalg.solve(jacobian.transpose(1, 2) @ jacobian + 0.5 * torch.eye(6), gradient.reshape(2, 6, 1))
    torch.testing.assert_close(update.reshape(2, 6, 1), exact, rtol=1e-3, atol=1e-4)
    # a negative-definite "J^T J" for seed 1 only: its CG stops at once with d = 0, seed 0 is unaffected
    flipped = lambda u: transpose(u) * torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)  # noqa: E731
    update = conjugate_gradient(product, flipped, gradient, torch.tensor([0.5, -0.5]).view(2, 1, 1, 1), 6, 1e-6)
    assert torch.equal(update[1], torch.zeros_like(update[1]))
    torch.testing.assert_close(update[0].reshape(6, 1), exact[0], rtol=1e-3, atol=1e-4)


def test_convergence_runs_every_seed_to_the_end_even_when_stuck(tiny_generator, target):
    """A start at the exact seed has error 0: every update is rejected and its damping reaches the cap after
    14 iterations (1e-2 * 4**14 > 1e6), where a cloud would drop it; the convergence trace must keep it."""
    image, seed, _ = target
    starts = torch.cat([seed[None], seeded_noise([8], tiny_generator.image_shape)])
    trace = convergence_trace(tiny_generator, image, seed, starts, replace(FAST_GAUSS_NEWTON, iterations=16, cg_iterations=2))
    assert trace.psnr.shape == (17, 2) and trace.distance_to_exact[-1, 0] < 1e-3  # round-off may move it a hair


def test_jacobian_matches_finite_differences(tiny_generator, target):
    _, seed, _ = target
    matrix = jacobian(tiny_generator, seed)
    assert matrix.shape == (64, 64)
    direction = torch.randn(seed.shape, generator=torch.Generator().manual_seed(0)) * 1e-3
    with torch.no_grad():
        plus = tiny_generator.generate((seed + direction)[None], clip=False).flatten()
        minus = tiny_generator.generate((seed - direction)[None], clip=False).flatten()
    finite_difference = (plus - minus) / 2
    error = (matrix @ direction.flatten() - finite_difference).norm() / finite_difference.norm()
    assert error < 1e-2


def test_first_order_ellipsoid_predicts_small_offsets(tiny_generator, target):
    image, seed, eps = target
    geometry = local_geometry(tiny_generator, seed)
    s = geometry.singular_values
    assert (np.diff(s) <= 1e-9).all() and s[-1] >= 0
    axes = geometry.half_axes(eps)
    assert axes == pytest.approx(np.sqrt(64 * eps) / s)
    # a point at a tenth of the most sensitive half-axis: first order predicts its error well
    offsets = torch.from_numpy(geometry.right_vectors[:3] * axes[:3, None] * 0.1).float().reshape(3, *seed.shape)
    seeds = seed + offsets
    with torch.no_grad():  # the first-order model is of the unclipped output (clipping can only lower the error)
        unclipped = tiny_generator.generate(torch.cat([seed[None], seeds]), clip=False)
    measured = (unclipped[1:] - unclipped[:1]).pow(2).flatten(1).mean(1)
    assert (reconstruction_mse(tiny_generator, seeds, image.unsqueeze(0)) <= measured + 1e-9).all()
    check = check_ellipsoid(geometry, seed, seeds, measured, eps)
    assert check.predicted_mse == pytest.approx(0.01 * eps, rel=1e-3)
    assert np.allclose(check.measured_mse, check.predicted_mse, rtol=0.3)
    with pytest.raises(StudyInputError):
        geometry.half_axes(-1.0)


def test_convergence_trace_shapes_and_progress(tiny_generator, target):
    image, seed, _ = target
    starts = seeded_noise([7, 8, 9], tiny_generator.image_shape)
    trace = convergence_trace(tiny_generator, image, seed, starts, replace(FAST_ADAM, iterations=40, check_every=10))
    assert trace.iterations.tolist() == [0, 10, 20, 30, 40]
    assert trace.distance_to_exact.shape == trace.psnr.shape == (5, 3)
    newton = convergence_trace(tiny_generator, image, seed, starts, replace(FAST_GAUSS_NEWTON, iterations=5))
    assert newton.iterations.tolist() == [0, 1, 2, 3, 4, 5]  # every outer iteration is recorded
    assert (newton.psnr[-1] > newton.psnr[0]).all()
    assert (trace.psnr[-1] >= trace.psnr[0]).all()
    first = (starts.flatten(1).double() - seed.flatten().double()).norm(dim=1).numpy()
    assert trace.distance_to_exact[0] == pytest.approx(first)


def test_path_from_a_seed_to_itself_has_constant_error(tiny_generator, target):
    image, seed, _ = target
    profile = path_profile(tiny_generator, seed, seed, image, frames=5)
    assert profile.mse_to_start_image == pytest.approx([profile.mse_to_start_image[0]] * 5, abs=1e-10)
    other = seeded_noise([42], tiny_generator.image_shape)[0]
    spherical = path_profile(tiny_generator, seed, other, image, frames=7, mode="spherical")
    assert spherical.images.shape == (7, *tiny_generator.image_shape)
    assert spherical.mse_to_start_image[0] == pytest.approx(0.0, abs=1e-9)  # the start is the image's own seed
    linear = path_profile(tiny_generator, seed, other, image, frames=7, mode="linear")
    assert linear.seed_norms[3] < spherical.seed_norms[3]  # a straight line dips toward the origin
    with pytest.raises(StudyInputError):
        path_profile(tiny_generator, seed, other, image, frames=1)


def test_convex_weights_sum_to_one_and_identical_seeds_stay_inside(tiny_generator, target):
    image, seed, eps = target
    cloud = seed.expand(5, *seed.shape).clone()
    result = convex_combinations(tiny_generator, cloud, image, eps, k=3, samples=10)
    assert result.weights.shape == (10, 3) and np.allclose(result.weights.sum(1), 1.0)
    assert (result.weights >= 0).all() and result.inside.all()
    assert result.summary()["share_inside"] == 1.0
    with pytest.raises(StudyInputError, match="k must be"):
        convex_combinations(tiny_generator, cloud, image, eps, k=6)
    with pytest.raises(StudyInputError, match="k must be"):
        convex_combinations(tiny_generator, cloud, image, eps, k=1)
    share, low, high = share_with_interval(8, 10)
    assert share == 0.8 and low < 0.8 < high


def test_segment_graph_components(tiny_generator, target):
    image, seed, eps = target
    near = seed + 1e-4 * seeded_noise([1, 2], tiny_generator.image_shape)
    far = seeded_noise([3], tiny_generator.image_shape)
    seeds = torch.cat([seed[None], near, far])
    graph = segment_graph(tiny_generator, seeds, image, eps, points=5)
    assert graph.adjacency[:3, :3].all()  # tiny offsets of z*: every segment stays inside
    assert not graph.adjacency[3, :3].any()  # a random seed is outside the set: no segment to it
    assert graph.summary()["components"] == 2 and graph.summary()["largest_component"] == 3
    assert (graph.worst_mse == graph.worst_mse.T).all()


def test_relaxed_path_between_close_members_exists(tiny_generator, target):
    image, seed, eps = target
    other = seed + 1e-3 * seeded_noise([4], tiny_generator.image_shape)[0]
    path = relaxed_path(tiny_generator, seed, other, image, eps, points=4, config=FAST)
    assert path.exists and path.seeds.shape == (4, *tiny_generator.image_shape)
    assert np.allclose(path.seeds[0], seed.numpy()) and np.allclose(path.seeds[-1], other.numpy())


def test_a_cloud_attributes_its_own_seeds_to_its_image():
    rng = torch.Generator().manual_seed(0)
    a = torch.randn(6, 1, 8, 8, generator=rng) * 0.1 + 3.0
    b = torch.randn(6, 1, 8, 8, generator=rng) * 0.1 - 3.0
    separation = cloud_separation({"a": a, "b": b})
    assert np.allclose(separation.attribution, np.eye(2))
    assert separation.summary()["between_distance_min"] > separation.summary()["within_distance_max"]
    assert len(separation.within["a"]) == 15 and len(separation.between["a|b"]) == 36
    with pytest.raises(StudyInputError):
        cloud_separation({"a": a[:1]})
    with pytest.raises(StudyInputError, match="finite torch tensor"):
        cloud_separation({"a": a.numpy(), "b": b})  # 'order must be str, not int' before
    with pytest.raises(StudyInputError, match="differ in shape"):
        cloud_separation({"a": a, "b": b[:, :, :2]})


def test_seeds_from_one_start_are_measured_apart_and_not_attributed():
    # two images' clouds from the same 4 starts: each descent ends near its start, so the nearest
    # seed of any seed is the other image's seed from its start; given the starts, it is left out
    # (the images differ along pixel 0 only, which the starts leave at 0: 4 apart, the starts about 11)
    rng = torch.Generator().manual_seed(0)
    starts = torch.randn(4, 1, 8, 8, generator=rng)
    starts[:, 0, 0, 0] = 0.0
    a, b = starts + 0.01 * torch.randn(4, 1, 8, 8, generator=rng), starts + 0.01 * torch.randn(4, 1, 8, 8, generator=rng)
    a[:, 0, 0, 0] += 2.0
    b[:, 0, 0, 0] -= 2.0
    ids = np.arange(4)
    naive = cloud_separation({"a": a, "b": b})
    assert np.allclose(naive.attribution, [[0, 1], [1, 0]])  # the shared starts decide
    paired = cloud_separation({"a": a, "b": b}, starts={"a": ids, "b": ids})
    assert np.allclose(np.diag(paired.attribution), 1.0)  # among other starts, each seed's nearest is its own image's
    assert len(paired.same_start["a|b"]) == 4 and len(paired.between["a|b"]) == 12
    summary = paired.summary()
    assert summary["same_start_pairs"] == 4
    assert summary["same_start_distance_mean"] < summary["within_distance_mean"]
    assert summary["between_distance_min"] > summary["same_start_distance_mean"]
    assert np.isnan(naive.summary()["same_start_distance_mean"]) and naive.summary()["same_start_pairs"] == 0
    # members that did not make a level keep their start's identity: partial overlap of starts
    partial = cloud_separation({"a": a[:3], "b": b[1:]}, starts={"a": ids[:3], "b": ids[1:]})
    assert len(partial.same_start["a|b"]) == 2 and len(partial.between["a|b"]) == 7
    with pytest.raises(StudyInputError, match="one start seed per seed"):
        cloud_separation({"a": a, "b": b}, starts={"a": ids, "b": ids[:3]})
    with pytest.raises(StudyInputError, match="a start seed repeats within a cloud"):
        cloud_separation({"a": a, "b": b}, starts={"a": np.zeros(4, int), "b": ids})


def test_triangle_inequality_and_third_set(tiny_generator, target):
    image, seed, eps = target
    assert disjoint_by_triangle_inequality(torch.zeros(1, 8, 8), torch.ones(1, 8, 8), 1e-3)
    assert not disjoint_by_triangle_inequality(image, image, 1e-3)
    # segments from z* to itself pass through emb_eps(image) at every point
    crossing = segments_through_third(tiny_generator, seed[None].repeat(2, 1, 1, 1), seed[None], image, eps, pairs=3, points=4)
    assert crossing.summary()["segments_entering_third_set"] == 3


def test_canonical_positions_and_hull():
    rng = torch.Generator().manual_seed(1)
    cloud = torch.randn(8, 1, 4, 4, generator=rng)
    inside = cloud.mean(0)
    outside = cloud.mean(0) + 100.0
    positions = canonical_positions(cloud, {"mean": (inside, 0.0), "far": (outside, 1.0)})
    assert positions[0].in_hull and not positions[1].in_hull
    assert positions[0].distance_to_cloud_mean == pytest.approx(0.0, abs=1e-6)
    assert in_convex_hull(np.eye(3), np.array([1 / 3, 1 / 3, 1 / 3]))
    assert not in_convex_hull(np.eye(3), np.array([1.0, 1.0, 0.0]))
