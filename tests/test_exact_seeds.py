import json

import pytest
import torch

from core.checkpoint import load_tensors, read_metadata, save_generator, save_tensors
from core.data import load_dataset
from core.embedder import load_embedder
from core.embedder_training import main as train_main
from core.embedding import reconstruct
from core.exact_seeds import compute_exact_seeds, load_exact_seeds, main
from core.generator import DiffusionGenerator
from core.unet import get_preset


@pytest.fixture
def generator_path(tmp_path, tiny_generator):
    return str(save_generator(tiny_generator, tmp_path / "generator"))


def test_exact_seeds_reproduce_their_training_images_and_a_run_continues(tmp_path, tiny_generator, generator_path):
    out = tmp_path / "seeds.safetensors"
    first = compute_exact_seeds(generator_path, out, 7, dataset="digits", chunk=3)
    assert first["seeds"].shape == (7, 1, 8, 8) and first["nfe"].min() >= 1
    images, _ = load_dataset("digits", "train", image_size=8, channels=1)
    with torch.no_grad():
        mse = (reconstruct(tiny_generator, first["seeds"]) - images[:7]).pow(2).flatten(1).mean(1)
    torch.testing.assert_close(10 ** (-first["psnr"] / 10), mse, atol=1e-7, rtol=1e-2)  # the PSNR stored is G(z*)'s
    assert first["psnr"].min() > 30  # exact, unlike naive inversion
    more = compute_exact_seeds(generator_path, out, 10, dataset="digits", chunk=3)  # continues: the 7 seeds are kept
    assert len(more["seeds"]) == 10
    torch.testing.assert_close(more["seeds"][:7], first["seeds"], atol=0, rtol=0)
    with pytest.raises(ValueError, match="other settings"):
        compute_exact_seeds(generator_path, out, 12, dataset="digits", tolerance=0.5)


def test_exact_seeds_are_refused_for_other_weights_and_foreign_files(tmp_path, tiny_generator, generator_path):
    out = tmp_path / "seeds.safetensors"
    compute_exact_seeds(generator_path, out, 3, dataset="digits")
    assert len(load_exact_seeds(out, generator_path, "digits")["seeds"]) == 3
    with pytest.raises(ValueError, match="other weights or data"):
        load_exact_seeds(out, generator_path, "fashion")
    with torch.no_grad():
        tiny_generator.unet.output_conv.bias.add_(1.0)
    other = save_generator(tiny_generator, tmp_path / "other")
    with pytest.raises(ValueError, match="other weights"):
        load_exact_seeds(out, str(other), "digits")
    save_tensors(tmp_path / "foreign.safetensors", {"seeds": torch.zeros(1)})
    with pytest.raises(ValueError, match="not an exact-seeds file"):
        load_exact_seeds(tmp_path / "foreign.safetensors", generator_path, "digits")


def test_the_cli_reports_what_it_made(tmp_path, generator_path, capsys):
    out = tmp_path / "seeds.safetensors"
    assert main(["--generator", generator_path, "--dataset", "digits", "--count", "4", "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["images"] == 4 and report["psnr_min"] > 30
    with pytest.raises(SystemExit) as exit_info:
        main(["--generator", generator_path, "--dataset", "digits", "--count", "0", "--out", str(out)])
    assert exit_info.value.code == 2 and "--count" in capsys.readouterr().err


def test_phase_one_regresses_the_embedder_onto_exact_seeds(tmp_path):
    # the tiny generator's std of 0.01 makes the embedder's inputs +-50, too stiff to fit in a few steps
    generator = DiffusionGenerator(get_preset("tiny"), mean=[0.5], std=[0.3]).eval()
    generator_path = str(save_generator(generator, tmp_path / "generator"))
    seeds_file = tmp_path / "seeds.safetensors"
    compute_exact_seeds(generator_path, seeds_file, 24, dataset="digits")
    # the same file with a target that no generated pair suggests: phase 1 must learn it from the file
    target, psnr = torch.full((24, 1, 8, 8), 0.5), torch.full((24,), 50.0)
    psnr[:4] = 20.0  # unsolved: left out
    save_tensors(seeds_file, {**load_tensors(seeds_file), "seeds": target, "psnr": psnr},
                 {"exact_seeds": read_metadata(seeds_file)["exact_seeds"]})
    images, _ = load_dataset("digits", "train", image_size=8, channels=1)
    common = ["--generator", generator_path, "--dataset", "digits", "--architecture", "conv3", "--warm-batch", "8",
              "--finetune-steps", "0", "--eval-images", "8", "--warm-steps", "80", "--warm-lr", "1e-2"]
    assert train_main([*common, "--out", str(tmp_path / "generated"), "--pairs", "24"]) == 0
    assert train_main([*common, "--out", str(tmp_path / "exact"), "--pairs", "0", "--exact-seeds", str(seeds_file)]) == 0
    with torch.no_grad():
        errors = {name: (load_embedder(tmp_path / name)(images[:24]) - target).pow(2).mean().item() for name in ("generated", "exact")}
    assert errors["exact"] < 0.05 < errors["generated"], errors
    log = json.loads((tmp_path / "exact" / "config.json").read_text())["training"]
    assert log["settings"]["exact_count"] == 24 and log["settings"]["pairs"] == 0 and log["exact_pairs_used"] == 20


def test_exact_seed_options_are_checked(tmp_path, generator_path, capsys):
    seeds_file = tmp_path / "seeds.safetensors"
    compute_exact_seeds(generator_path, seeds_file, 4, dataset="digits")
    common = ["--generator", generator_path, "--dataset", "digits", "--architecture", "conv3", "--warm-steps", "2",
              "--finetune-steps", "0", "--eval-images", "8"]
    assert train_main([*common, "--out", str(tmp_path / "a"), "--pairs", "0"]) == 2
    assert "--exact-seeds" in capsys.readouterr().err
    assert train_main([*common, "--out", str(tmp_path / "b"), "--exact-count", "3"]) == 2
    assert train_main([*common, "--out", str(tmp_path / "c"), "--exact-seeds", str(seeds_file), "--exact-count", "5"]) == 2
    assert "holds 4 seeds" in capsys.readouterr().err
