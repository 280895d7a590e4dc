import json
import os
import signal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from core import embedder_training
from core.data import load_dataset
from core.checkpoint import read_metadata, save_generator, weights_hash
from core.embedder import Embedder, EmbedderConfig, deepened, load_embedder
from core.embedder_training import focused_batch, main, make_pairs, per_image_loss


def test_two_phase_training_on_digits(tmp_path, tiny_generator):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    out = tmp_path / "embedder"
    assert main(["--generator", str(generator_path), "--dataset", "digits", "--architecture", "conv3", "--out", str(out),
                 "--pairs", "64", "--warm-steps", "30", "--warm-batch", "16", "--finetune-steps", "3", "--finetune-batch", "4",
                 "--eval-images", "16", "--checkpointing", "--pairs-cache", str(tmp_path / "pairs.safetensors")]) == 0
    log = json.loads((out / "config.json").read_text())["training"]
    assert log["phase2_steps"] == 3 and log["phase1_validation_mse"] > 0
    embedder = load_embedder(out)
    assert embedder(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)


def test_pairs_cache_is_reused_only_for_the_same_generator(tmp_path, tiny_generator):
    cache = str(tmp_path / "pairs.safetensors")
    seeds, images = make_pairs(tiny_generator, 8, cache=cache)
    again_seeds, again_images = make_pairs(tiny_generator, 8, cache=cache)
    torch.testing.assert_close(again_images, images)
    with torch.no_grad():
        tiny_generator.unet.output_conv.bias.add_(1.0)  # other weights: the cache must not be used
    _, changed = make_pairs(tiny_generator, 8, cache=cache)
    assert not torch.allclose(changed, images)


def test_continue_from_an_embedder(tmp_path, tiny_generator):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    common = ["--generator", str(generator_path), "--dataset", "digits", "--architecture", "conv3", "--pairs", "32",
              "--warm-batch", "16", "--finetune-batch", "4", "--eval-images", "8"]
    assert main([*common, "--out", str(tmp_path / "a"), "--warm-steps", "5", "--finetune-steps", "0"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--warm-steps", "0", "--finetune-steps", "2", "--init-from", str(tmp_path / "a")]) == 0
    log = json.loads((tmp_path / "b" / "config.json").read_text())["training"]
    assert log["continued_from"]["phase1_validation_mse"] > 0 and log["phase2_steps"] == 2
    first, second = load_embedder(tmp_path / "a"), load_embedder(tmp_path / "b")
    x = torch.rand(2, 1, 8, 8)
    fresh = Embedder(first.config).eval()
    with torch.no_grad():
        # the loaded weights (or a few small steps from them), not a fresh network
        assert (first(x) - second(x)).abs().mean() < 0.5 * (first(x) - fresh(x)).abs().mean()


def test_a_wider_unet_embedder_is_trained_and_reloaded_with_its_shape(tmp_path, tiny_generator, capsys):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    common = ["--generator", str(generator_path), "--dataset", "digits", "--pairs", "32", "--warm-steps", "3",
              "--warm-batch", "8", "--finetune-steps", "0", "--eval-images", "8"]
    out = tmp_path / "wide"
    assert main([*common, "--architecture", "unet", "--unet-widths", "8", "16", "--unet-block-depth", "2", "--out", str(out)]) == 0
    embedder = load_embedder(out)
    assert embedder.config.unet_widths == [8, 16] and embedder.config.unet_block_depth == 2
    assert embedder(torch.rand(2, 1, 8, 8)).shape == (2, 1, 8, 8)
    default = Embedder(type(embedder.config)(image_size=8))
    assert sum(p.numel() for p in embedder.parameters()) != sum(p.numel() for p in default.parameters())
    # the shape options belong to the UNet only
    assert main([*common, "--architecture", "conv3", "--unet-widths", "8", "16", "--out", str(tmp_path / "c")]) == 2
    assert "--architecture unet" in capsys.readouterr().err


RESUMABLE = ["--dataset", "digits", "--architecture", "conv3", "--pairs", "32", "--warm-steps", "6", "--warm-batch", "8",
             "--finetune-steps", "3", "--finetune-batch", "4", "--eval-images", "8"]
UNFINISHED = 75  # the exit status of a stopped run


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def _assert_same_embedder(a, b):
    first, second = _weights(a), _weights(b)
    assert first.keys() == second.keys()
    for key in first:
        torch.testing.assert_close(second[key], first[key], rtol=0, atol=0, msg=key)
    log_a, log_b = (json.loads((folder / "config.json").read_text())["training"] for folder in (a, b))
    for key in ("phase1_validation_mse", "phase2_validation_mse", "phase2_best_step", "phase2_steps", "parameters"):
        assert log_a.get(key) == log_b.get(key), key


def test_a_stopped_run_continues_exactly(tmp_path, tiny_generator, capsys):
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path / "straight")]) == 0
    resumed = tmp_path / "resumed"
    # stops inside phase 1, exactly at the phase boundary, inside phase 2; then the plain command finishes
    for max_steps, phase in (("4", "warm"), ("6", "finetune"), ("8", "finetune")):
        assert main([*generator, *RESUMABLE, "--out", str(resumed), "--max-steps", max_steps]) == UNFINISHED
        state = resumed / "train_state.safetensors"
        assert json.loads(read_metadata(state)["state"])["progress"]["phase"] == phase
        if phase == "warm":
            assert not (resumed / "model.safetensors").exists()
    assert main([*generator, *RESUMABLE, "--out", str(resumed)]) == 0
    assert not state.exists()  # finished: nothing left to continue
    _assert_same_embedder(tmp_path / "straight", resumed)
    log = json.loads((resumed / "config.json").read_text())["training"]
    assert "unfinished" not in log and log["generator_weights"] == weights_hash(tmp_path / "generator") != ""


def test_a_continued_embedder_of_another_shape_resumes(tmp_path, tiny_generator):
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    common = [*generator, "--dataset", "digits", "--architecture", "unet", "--pairs", "32", "--warm-batch", "8", "--eval-images", "8"]
    assert main([*common, "--out", str(tmp_path / "first"), "--unet-widths", "8", "16", "--warm-steps", "2", "--finetune-steps", "0"]) == 0
    more = [*common, "--init-from", str(tmp_path / "first"), "--warm-steps", "4", "--finetune-steps", "0"]
    assert main([*more, "--out", str(tmp_path / "straight")]) == 0
    assert main([*more, "--out", str(tmp_path / "resumed"), "--max-steps", "2"]) == UNFINISHED
    assert main([*more, "--out", str(tmp_path / "resumed")]) == 0
    assert load_embedder(tmp_path / "resumed").config.unet_widths == [8, 16]
    _assert_same_embedder(tmp_path / "straight", tmp_path / "resumed")


def test_a_stopped_run_refuses_other_settings_or_another_generator(tmp_path, tiny_generator, capsys):
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path / "run"), "--max-steps", "2"]) == UNFINISHED
    other = [*RESUMABLE[:-1], "16"]  # --eval-images 16
    assert main([*generator, *other, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "other settings (eval_images)" in err and "another --out" in err
    with torch.no_grad():  # new weights under the same path, as when a new generator is shipped
        tiny_generator.unet.output_conv.bias.add_(0.1)
    save_generator(tiny_generator, tmp_path / "generator")
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path / "run")]) == 2
    assert "other settings (generator_weights)" in capsys.readouterr().err


def test_sigterm_saves_the_state_and_stops(tmp_path, tiny_generator, monkeypatch):
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    calls = []
    real_loss = embedder_training.F.mse_loss

    def loss_then_signal(*args, **kwargs):  # the third phase-1 step receives SIGTERM
        calls.append(1)
        if len(calls) == 3:
            os.kill(os.getpid(), signal.SIGTERM)
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(embedder_training.F, "mse_loss", loss_then_signal)
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path / "run")]) == UNFINISHED
    progress = json.loads(read_metadata(tmp_path / "run" / "train_state.safetensors")["state"])["progress"]
    assert progress == {**progress, "phase": "warm", "step": 3}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_phase_two_loss_is_chosen_and_recorded(tmp_path, tiny_generator, capsys):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    common = ["--generator", str(generator_path), "--dataset", "digits", "--architecture", "conv3", "--pairs", "16",
              "--warm-steps", "2", "--warm-batch", "8", "--finetune-steps", "2", "--finetune-batch", "4", "--eval-images", "8"]
    assert main([*common, "--out", str(tmp_path / "mse"), "--finetune-loss", "mse"]) == 0
    log = json.loads((tmp_path / "mse" / "config.json").read_text())["training"]
    assert log["settings"]["finetune_loss"] == "mse"
    assert main([*common, "--out", str(tmp_path / "mae")]) == 0
    assert json.loads((tmp_path / "mae" / "config.json").read_text())["training"]["settings"]["finetune_loss"] == "mae"
    outputs, images = torch.tensor([0.0, 0.5, 1.0]).view(1, 1, 1, 3), torch.tensor([0.1, 0.5, 0.5]).view(1, 1, 1, 3)
    torch.testing.assert_close(per_image_loss(outputs, images, "mae").mean(), torch.tensor(0.2))
    torch.testing.assert_close(per_image_loss(outputs, images, "mse").mean(), torch.tensor((0.01 + 0.25) / 3))
    try:
        main([*common, "--out", str(tmp_path / "bad"), "--finetune-loss", "l1"])
    except SystemExit as error:
        assert error.code == 2 and "--finetune-loss" in capsys.readouterr().err
    else:
        raise AssertionError("an unknown loss must be refused")


def test_a_deepened_unet_embedder_starts_as_the_same_function():
    torch.manual_seed(0)
    shallow = Embedder(EmbedderConfig(unet_widths=[8, 16, 32])).eval()
    with torch.no_grad():  # weights away from their initialization, so a wrong mapping shows
        for parameter in shallow.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    x = torch.rand(3, 1, 28, 28)
    for depth in (2, 3):
        deep = deepened(shallow, depth).eval()
        assert deep.config.unet_block_depth == depth
        assert sum(p.numel() for p in deep.parameters()) > sum(p.numel() for p in shallow.parameters())
        torch.testing.assert_close(deep(x), shallow(x), rtol=0, atol=1e-6)
    # the new blocks learn: their last convolution, zero at the start, gets a gradient
    deep = deepened(shallow, 2).train()
    deep(x).square().mean().backward()
    assert deep.net.middle[1].conv2.weight.grad.abs().sum() > 0
    for bad in (lambda: deepened(deep, 3), lambda: deepened(shallow, 1),
                lambda: deepened(Embedder(EmbedderConfig(architecture="conv3")), 2)):
        with pytest.raises(ValueError, match="deepen"):
            bad()


def test_init_from_with_a_larger_block_depth_continues_a_deepened_embedder(tmp_path, tiny_generator, capsys):
    generator_path = save_generator(tiny_generator, tmp_path / "generator")
    common = ["--generator", str(generator_path), "--dataset", "digits", "--architecture", "unet", "--pairs", "32",
              "--warm-batch", "8", "--finetune-batch", "4", "--eval-images", "8"]
    assert main([*common, "--out", str(tmp_path / "a"), "--unet-widths", "8", "16", "--warm-steps", "3", "--finetune-steps", "0"]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--init-from", str(tmp_path / "a"), "--unet-block-depth", "2",
                 "--warm-steps", "0", "--finetune-steps", "2"]) == 0
    shallow, deep = load_embedder(tmp_path / "a"), load_embedder(tmp_path / "b")
    assert deep.config.unet_block_depth == 2 and deep.config.unet_widths == [8, 16]
    log = json.loads((tmp_path / "b" / "config.json").read_text())["training"]
    assert log["deepened_from_depth"] == 1 and log["parameters"] > log["continued_from"]["parameters"]
    # the trained function carries over: with a vanishing rate, the deepened run computes what `a` computes
    assert main([*common, "--out", str(tmp_path / "b0"), "--init-from", str(tmp_path / "a"), "--unet-block-depth", "2",
                 "--warm-steps", "0", "--finetune-steps", "1", "--finetune-lr", "1e-12"]) == 0
    images = torch.rand(6, *shallow.image_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(load_embedder(tmp_path / "b0").eval()(images), shallow.eval()(images), rtol=0, atol=1e-3)
    # other widths cannot continue a trained embedder; a shallower depth cannot either
    assert main([*common, "--out", str(tmp_path / "c"), "--init-from", str(tmp_path / "a"), "--unet-widths", "16", "32",
                 "--warm-steps", "0", "--finetune-steps", "1"]) == 2
    assert "--unet-widths" in capsys.readouterr().err
    assert main([*common, "--out", str(tmp_path / "d"), "--init-from", str(tmp_path / "b"), "--unet-block-depth", "1",
                 "--warm-steps", "0", "--finetune-steps", "1"]) == 2
    assert "not made shallower" in capsys.readouterr().err


def _phase_two_from_a_trained_start(tmp_path, tiny_generator, monkeypatch, steps: int) -> tuple[list[str], Path, list[str]]:
    """(the --generator arguments, a phase-1 embedder's folder, the arguments of `steps` phase-2 steps
    continuing it). Every evaluation is made the best so far, so each run saves the weights it validates
    at its last step."""
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    start = tmp_path / "start"
    assert main([*generator, *RESUMABLE[:-6], "--eval-images", "8", "--out", str(start), "--finetune-steps", "0"]) == 0
    validation = iter(1.0 / (k + 2) for k in range(1000))
    monkeypatch.setattr(embedder_training, "evaluate", lambda *args: next(validation))
    phase_two = [*generator, *RESUMABLE[:-6], "--eval-images", "8", "--init-from", str(start), "--warm-steps", "0",
                 "--finetune-steps", str(steps), "--finetune-batch", "4", "--finetune-lr", "3e-3"]
    return generator, start, phase_two


def test_phase_two_ema_keeps_the_average_and_resumes_exactly(tmp_path, tiny_generator, monkeypatch, capsys):
    generator, start, phase_two = _phase_two_from_a_trained_start(tmp_path, tiny_generator, monkeypatch, steps=4)
    assert main([*phase_two, "--out", str(tmp_path / "last")]) == 0
    assert main([*phase_two, "--out", str(tmp_path / "ema"), "--finetune-ema", "0.9"]) == 0
    # 4 steps are short for an average over about 10: said, with how much of the start remains (0.9^4 = 66%)
    assert "still weighs the starting weights 66%" in capsys.readouterr().err
    w0, last, ema = (_weights(folder) for folder in (start, tmp_path / "last", tmp_path / "ema"))
    distance = lambda a, b: sum((a[k].float() - b[k].float()).square().sum() for k in a).sqrt()  # noqa: E731
    # the average lags the last iterate: a different network, nearer the start
    assert distance(ema, last) > 0 and distance(ema, w0) < distance(last, w0)
    assert json.loads((tmp_path / "ema" / "config.json").read_text())["training"]["settings"]["finetune_ema"] == 0.9
    # stopped inside phase 2, the average travels in the state and the run ends the same
    resumed = tmp_path / "resumed"
    assert main([*phase_two, "--out", str(resumed), "--finetune-ema", "0.9", "--max-steps", "2"]) == UNFINISHED
    assert any(k.startswith("ema.") for k in load_file(str(resumed / "train_state.safetensors")))
    assert main([*phase_two, "--out", str(resumed), "--finetune-ema", "0.9"]) == 0
    for key, value in ema.items():
        torch.testing.assert_close(_weights(resumed)[key], value, rtol=0, atol=0, msg=key)
    with pytest.raises(SystemExit):  # argparse: a decay of 1 would never move
        main([*phase_two, "--out", str(tmp_path / "bad"), "--finetune-ema", "1"])
    capsys.readouterr()
    assert main([*generator, *RESUMABLE[:-6], "--out", str(tmp_path / "bad"), "--finetune-steps", "0", "--finetune-ema", "0.9"]) == 2
    assert "--finetune-steps is 0" in capsys.readouterr().err


def test_focused_batches_replay_the_hard_images_seen_so_far():
    torch.manual_seed(0)
    scores = torch.zeros(1000)
    first = focused_batch(scores, 0.5, 4000)  # nothing seen yet: uniform over all images
    assert first.unique().numel() > 950
    scores[7], scores[8] = 0.03, 0.01  # two images seen: losses 3:1
    drawn = focused_batch(scores, 0.5, 40_000)
    share = lambda i: (drawn == i).float().mean().item()  # noqa: E731
    # half the batch replays the two seen images in proportion to their loss, the other half is uniform
    assert share(7) == pytest.approx(0.5 * 0.75 + 0.5 / 1000, abs=0.01)
    assert share(8) == pytest.approx(0.5 * 0.25 + 0.5 / 1000, abs=0.01)
    assert drawn.unique().numel() > 950  # the unseen still come, through the uniform share


def test_per_image_loss_is_each_images_mean_error():
    images, outputs = torch.zeros(2, 1, 2, 2), torch.zeros(2, 1, 2, 2)
    outputs[1, 0, 0, 0] = 0.4
    torch.testing.assert_close(per_image_loss(outputs, images, "mae"), torch.tensor([0.0, 0.1]))
    torch.testing.assert_close(per_image_loss(outputs, images, "mse"), torch.tensor([0.0, 0.04]))


def test_phase_two_focus_keeps_its_scores_and_resumes_exactly(tmp_path, tiny_generator, monkeypatch, capsys):
    generator, _, uniform_phase_two = _phase_two_from_a_trained_start(tmp_path, tiny_generator, monkeypatch, steps=6)
    phase_two = [*uniform_phase_two, "--finetune-focus", "0.9"]
    assert main([*phase_two, "--out", str(tmp_path / "straight")]) == 0
    log = json.loads((tmp_path / "straight" / "config.json").read_text())["training"]
    assert log["settings"]["finetune_focus"] == 0.9
    resumed = tmp_path / "resumed"
    assert main([*phase_two, "--out", str(resumed), "--max-steps", "3"]) == UNFINISHED
    scores = load_file(str(resumed / "train_state.safetensors"))["scores"]
    # one score per training image (less the 8 held out); three batches of 4 trained on: at most 12 have a loss
    assert scores.shape == (len(load_dataset("digits", "train", image_size=8, channels=1)[0]) - 8,)
    assert 0 < int((scores > 0).sum()) <= 12
    assert main([*phase_two, "--out", str(resumed)]) == 0
    for key, value in _weights(tmp_path / "straight").items():  # the batches drawn after the stop are the same
        torch.testing.assert_close(_weights(resumed)[key], value, rtol=0, atol=0, msg=key)
    uniform = tmp_path / "uniform"
    assert main([*uniform_phase_two, "--out", str(uniform)]) == 0
    focused, drawn_uniformly = _weights(resumed), _weights(uniform)
    assert any(not torch.equal(focused[k], drawn_uniformly[k]) for k in focused)  # the focus drew other batches
    capsys.readouterr()
    assert main([*generator, *RESUMABLE[:-6], "--out", str(tmp_path / "bad"), "--finetune-steps", "0", "--finetune-focus", "0.5"]) == 2
    assert "--finetune-steps is 0" in capsys.readouterr().err
