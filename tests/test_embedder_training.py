import json
import os
import signal

import torch
from safetensors.torch import load_file

from core import embedder_training
from core.checkpoint import read_metadata, save_generator
from core.embedder import Embedder, load_embedder
from core.embedder_training import main, make_pairs


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


def _weights(folder):
    return load_file(str(folder / "model.safetensors"))


def test_a_stopped_run_continues_exactly(tmp_path, tiny_generator, capsys):
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path / "straight")]) == 0
    resumed = tmp_path / "resumed"
    assert main([*generator, *RESUMABLE, "--out", str(resumed), "--max-steps", "4"]) == 0  # inside phase 1
    state = resumed / "train_state.safetensors"
    assert state.is_file() and not (resumed / "model.safetensors").exists()
    assert main([*generator, *RESUMABLE, "--out", str(resumed), "--max-steps", "8"]) == 0  # inside phase 2
    assert json.loads(read_metadata(state)["state"])["progress"]["phase"] == "finetune"
    assert main([*generator, *RESUMABLE, "--out", str(resumed)]) == 0
    assert not state.exists()  # finished: nothing left to continue
    straight, continued = _weights(tmp_path / "straight"), _weights(resumed)
    assert straight.keys() == continued.keys()
    for key in straight:
        torch.testing.assert_close(continued[key], straight[key], rtol=0, atol=0, msg=key)
    log = json.loads((resumed / "config.json").read_text())["training"]
    assert log["phase2_steps"] == 3 and "unfinished" not in log


def test_a_stopped_run_refuses_other_settings(tmp_path, tiny_generator, capsys):
    generator = ["--generator", str(save_generator(tiny_generator, tmp_path / "generator"))]
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path), "--max-steps", "2"]) == 0
    other = [*RESUMABLE[:-1], "16"]  # --eval-images 16
    assert main([*generator, *other, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "other settings (eval_images)" in err and "another --out" in err


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
    assert main([*generator, *RESUMABLE, "--out", str(tmp_path / "run")]) == 0
    progress = json.loads(read_metadata(tmp_path / "run" / "train_state.safetensors")["state"])["progress"]
    assert progress == {**progress, "phase": "warm", "step": 3}
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
