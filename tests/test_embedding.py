import pytest
import torch

from core.embedder import ARCHITECTURES, Embedder, EmbedderConfig, load_embedder, save_embedder
from core.embedding import EmbeddingInputError, embed, reconstruct
from core.gradient_embedding import DescentConfig
from core.seeds import seeded_noise


@pytest.fixture
def targets(tiny_generator):
    """Images the tiny generator can make exactly: G(z) for known seeds (an exact inverse exists)."""
    return reconstruct(tiny_generator, seeded_noise([11, 12, 13, 14], tiny_generator.image_shape))


def random_seed_mse(generator, images):
    random = reconstruct(generator, seeded_noise([99, 98, 97, 96], generator.image_shape))
    return (random - images).pow(2).flatten(1).mean(1)


def test_fixed_point_is_near_exact(tiny_generator, targets):
    result = embed(tiny_generator, targets, "fixed_point", fixed_point_iterations=30)
    assert result.seeds.shape == targets.shape and result.reconstructions.shape == targets.shape
    assert result.psnr.min() > 40, result.psnr
    assert result.nfe > 10


def test_ddim_inversion_lowers_the_error(tiny_generator, targets):
    result = embed(tiny_generator, targets, "ddim_inversion")
    assert result.nfe == 10
    assert (result.mse < random_seed_mse(tiny_generator, targets)).all()


def test_gradient_descent_lowers_the_error(tiny_generator, targets):
    calls = []
    config = DescentConfig(iterations=40, lr=5e-2, loss="mse", seed_penalty=0.0)
    result = embed(tiny_generator, targets, "gd", descent=config, seeds_per_image=3,
                   progress=lambda done, total, message: calls.append(done))
    start_mse = random_seed_mse(tiny_generator, targets)
    assert (result.mse < start_mse).all()
    assert result.candidates.shape == (4, 3, *tiny_generator.image_shape)
    assert torch.allclose(result.candidate_mse.min(1).values, result.mse, atol=1e-3)
    assert calls == list(range(1, 41)) and result.nfe == 400


def test_gd_stops_at_target(tiny_generator, targets):
    config = DescentConfig(iterations=500, lr=5e-2, loss="mse", seed_penalty=0.0, target_mse=1.0)
    assert embed(tiny_generator, targets, "gd", descent=config).nfe == 10  # one iteration reaches MSE <= 1


def test_hybrid_improves_on_its_start(tiny_generator, targets):
    start = embed(tiny_generator, targets, "ddim_inversion")
    refined = embed(tiny_generator, targets, "hybrid", descent=DescentConfig(iterations=30, lr=2e-2, loss="mse", seed_penalty=0.0))
    assert refined.mse.mean() < start.mse.mean()
    assert refined.nfe == 10 + 30 * 10


def test_network_method_and_embedder_round_trip(tmp_path, tiny_generator, targets):
    c, s, _ = tiny_generator.image_shape
    for architecture in ARCHITECTURES:
        config = EmbedderConfig(architecture=architecture, image_size=s, channels=c, width=8, unet_widths=[8, 16], unet_block_depth=1)
        embedder = Embedder(config).eval()
        seeds = embedder(targets)
        assert seeds.shape == targets.shape
        torch.testing.assert_close(embedder(targets), seeds)  # deterministic
        result = embed(tiny_generator, targets, "network", embedder=embedder)
        torch.testing.assert_close(result.seeds, seeds)
    save_embedder(embedder, tmp_path)
    loaded = load_embedder(tmp_path)
    torch.testing.assert_close(loaded(targets), seeds, atol=5e-2, rtol=0)  # fp16 weights


@pytest.mark.parametrize("bad, message", [
    (torch.rand(2, 3, 8, 8), "shape"),
    (torch.rand(2, 1, 16, 16), "shape"),
    (torch.full((1, 1, 8, 8), float("nan")), "NaN"),
    (torch.full((1, 1, 8, 8), 3.0), r"\[0, 1\]"),
])
def test_bad_images(tiny_generator, bad, message):
    with pytest.raises(EmbeddingInputError, match=message):
        embed(tiny_generator, bad, "ddim_inversion")


def test_bad_method_and_options(tiny_generator, targets):
    with pytest.raises(ValueError, match="unknown method"):
        embed(tiny_generator, targets, "magic")
    with pytest.raises(ValueError, match="needs an embedder"):
        embed(tiny_generator, targets, "network")
    with pytest.raises(ValueError, match="deterministic"):
        embed(tiny_generator, targets, "fixed_point", seeds_per_image=2)
    with pytest.raises(ValueError, match="positive PSNR"):
        embed(tiny_generator, targets, "fixed_point", fixed_point_target_psnr=float("nan"))  # 'nothing missed' before
    for typo in ({"loss": "l2"}, {"lr_schedule": "cos"}, {"lr": 0.0}):  # ran as MSE, as constant, as nothing
        with pytest.raises(ValueError, match="DescentConfig"):
            DescentConfig(**typo)


def test_fixed_point_from_a_start_counts_every_evaluation(tiny_generator, targets):
    calls = []
    unet = tiny_generator.unet
    original = unet.forward
    unet.forward = lambda *a: (calls.append(1), original(*a))[1]
    try:
        result = embed(tiny_generator, targets, "fixed_point", start=torch.randn_like(targets), fixed_point_iterations=3, steps=4)
    finally:
        del unet.forward
    assert result.nfe == len(calls) - 4  # all but the final reconstruction's 4 evaluations


def test_gd_several_seeds_from_one_start_differ(tiny_generator, targets):
    config = DescentConfig(iterations=2, lr=1e-2)
    result = embed(tiny_generator, targets, "gd", descent=config, seeds_per_image=2, start=torch.zeros_like(targets))
    assert not torch.allclose(result.candidates[:, 0], result.candidates[:, 1])


def test_hybrid_from_a_few_fixed_point_iterations(tiny_generator, targets):
    from core.embedding import POLISH_RECIPE
    start = embed(tiny_generator, targets, "fixed_point", fixed_point_iterations=1, fixed_point_mode="fixed")
    polished = embed(tiny_generator, targets, "hybrid", hybrid_start="fixed_point", fixed_point_iterations=1, descent=POLISH_RECIPE)
    assert (polished.mse <= start.mse + 1e-9).all() and polished.mse.mean() < start.mse.mean()
    assert polished.nfe == start.nfe + POLISH_RECIPE.iterations * 10
    with pytest.raises(ValueError, match="unknown hybrid_start"):
        embed(tiny_generator, targets, "hybrid", hybrid_start="magic")


def test_images_from_a_graph_and_numpy_arrays(tiny_generator, targets):
    """Images that carry a graph are embedded as values (gd failed: 'backward through the graph a second time'),
    and a numpy array is named as such (the message showed its correct shape as if that were the problem)."""
    attached = targets.clone().requires_grad_(True)
    for method in ("gd", "ddim_inversion"):
        result = embed(tiny_generator, attached, method, descent=DescentConfig(iterations=2))
        assert result.mse.grad_fn is None and torch.isfinite(result.seeds).all()
    with pytest.raises(EmbeddingInputError, match=r"must be a torch tensor .*got ndarray \(torch.from_numpy"):
        embed(tiny_generator, targets.numpy(), "ddim_inversion")


def test_generate_checks_its_seeds(tiny_generator):
    seeds = seeded_noise([0, 1], tiny_generator.image_shape)
    torch.testing.assert_close(tiny_generator.generate(seeds.double()), tiny_generator.generate(seeds))  # converted
    for bad, error, words in [(seeds[0], ValueError, r"shape \(1, 8, 8\); this generator takes \(N, 1, 8, 8\)"),
                              (seeds.numpy(), TypeError, "must be a torch tensor"),
                              (seeds.to(torch.uint8), TypeError, "floating-point"),
                              (seeds * float("nan"), ValueError, "NaN")]:
        with pytest.raises(error, match=words):
            tiny_generator.generate(bad)
    with pytest.raises(ValueError, match="steps must be a whole number"):
        tiny_generator.generate(seeds, steps=2.5)
