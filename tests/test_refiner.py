"""The refined embedder (core.refiner) and its training (core.refiner_training), on tiny models."""

import json

import pytest
import torch

from core.checkpoint import CheckpointError, save_generator, weights_hash
from core.embedder import Embedder, EmbedderConfig, load_embedder, save_embedder
from core.embedding import embed
from core.refiner import RefinedEmbedder, Refiner, RefinerConfig, load_refined_embedder
from core.refiner_training import learning_rate_factor, main

TINY = ["--unet-widths", "8", "16", "--batch", "4", "--eval-images", "8", "--dataset", "digits", "--warmup-steps", "2"]
UNFINISHED = 75  # the exit status of a stopped run


def _base(tmp_path, generator, seed: int = 0):
    """A saved generator and a plain (untrained) conv3 embedder recorded as trained through it."""
    generator_path = save_generator(generator, tmp_path / "generator")
    torch.manual_seed(seed)
    base = Embedder(EmbedderConfig(architecture="conv3", image_size=8, width=4, mean=[0.5], std=[0.01]))
    base_path = save_embedder(base, tmp_path / "base", {"training": {"generator_weights": weights_hash(generator_path)}})
    return generator_path, base_path


def test_a_fresh_refiner_changes_nothing(tiny_generator):
    """R's last convolution starts at zero: training starts from the base embedder's seeds."""
    base = Embedder(EmbedderConfig(architecture="conv3", image_size=8, width=4)).eval()
    refined = RefinedEmbedder(base, Refiner(RefinerConfig(unet_widths=[8, 16]), 1), tiny_generator)
    images = torch.rand(3, 1, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(refined(images), base(images))
        refined.refiner.net.output_conv.bias.fill_(0.1)  # a trained refiner corrects them
        torch.testing.assert_close(refined(images), base(images) + 0.1)
    assert refined.generator_evaluations == 10
    assert not any(name.startswith("_generator") for name in refined.state_dict())  # G is not part of the refiner's weights


def test_training_keeps_the_best_validated_refiner_and_reloads_it(tmp_path, tiny_generator):
    generator_path, base_path = _base(tmp_path, tiny_generator)
    out = tmp_path / "refined"
    assert main(["--generator", str(generator_path), "--base", str(base_path), "--out", str(out), "--steps", "4", *TINY]) == 0
    config = json.loads((out / "config.json").read_text())
    log = config["training"]
    assert config["refiner"]["base"] == "../base" and config["refiner"]["generator_weights"] == weights_hash(generator_path)
    assert log["generator_weights"] == weights_hash(generator_path) and log["best_step"] in (0, 4)
    assert log["validation_mse"] <= log["base_validation_mse"]  # the start is a candidate: never worse than E alone
    assert not (out / "train_state.safetensors").exists()
    refined = load_embedder(out)
    assert isinstance(refined, RefinedEmbedder) and refined.image_shape == (1, 8, 8)
    images = torch.rand(5, 1, 8, 8)
    result = embed(refined.generator, images, "network", embedder=refined)
    assert result.nfe == 10 and result.seeds.shape == (5, 1, 8, 8)
    torch.testing.assert_close(result.seeds, refined(images))


def test_an_interrupted_run_continues_exactly(tmp_path, tiny_generator, capsys):
    generator_path, base_path = _base(tmp_path, tiny_generator)
    common = ["--generator", str(generator_path), "--base", str(base_path), "--steps", "4", *TINY]
    assert main([*common, "--out", str(tmp_path / "whole")]) == 0
    assert main([*common, "--out", str(tmp_path / "resumed"), "--max-steps", "2"]) == UNFINISHED
    assert (tmp_path / "resumed" / "train_state.safetensors").is_file()
    # the state belongs to this command only
    assert main([*common, "--lr", "1e-3", "--out", str(tmp_path / "resumed")]) == 2
    assert "other settings (lr)" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "resumed")]) == 0
    whole, resumed = load_refined_embedder(tmp_path / "whole"), load_refined_embedder(tmp_path / "resumed")
    for (name, a), b in zip(whole.refiner.state_dict().items(), resumed.refiner.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_a_refiner_refuses_other_base_weights_and_a_missing_base(tmp_path, tiny_generator):
    generator_path, base_path = _base(tmp_path, tiny_generator)
    out = tmp_path / "refined"
    assert main(["--generator", str(generator_path), "--base", str(base_path), "--out", str(out), "--steps", "1", *TINY]) == 0
    _base(tmp_path, tiny_generator, seed=1)  # the base folder now holds other weights
    with pytest.raises(CheckpointError, match="other base weights"):
        load_embedder(out)
    for name in ("config.json", "model.safetensors"):
        (base_path / name).unlink()
    with pytest.raises(CheckpointError, match="missing"):
        load_embedder(out)


def test_training_refuses_a_base_trained_through_other_weights(tmp_path, tiny_generator, capsys):
    _, base_path = _base(tmp_path, tiny_generator)
    other = tiny_generator
    with torch.no_grad():
        other.unet.output_conv.bias.add_(1.0)
    other_path = save_generator(other, tmp_path / "other")
    out = str(tmp_path / "refined")
    assert main(["--generator", str(other_path), "--base", str(base_path), "--out", out, "--steps", "1", *TINY]) == 2
    assert "trained through other generator weights" in capsys.readouterr().err


def test_the_rate_warms_up_then_decays_to_zero():
    factors = [learning_rate_factor(step, 100, 10) for step in range(101)]
    assert factors[0] == pytest.approx(0.1, rel=1e-3) and max(factors) == pytest.approx(factors[9], rel=1e-2)
    assert factors[100] == pytest.approx(0.0, abs=1e-12) and all(a >= b for a, b in zip(factors[9:], factors[10:]))
