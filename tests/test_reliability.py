"""Issue 11: the CLIs never destroy input, never emit garbage silently, and fail fast with one
clear line. Every case asserts the exact outcome: exit status 2, one `error:` line naming the
problem, no traceback, inputs byte-identical afterwards, no output file left behind."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from core import cli_checks
from core.atomic import all_or_nothing, save_image
from core.checkpoint import CONFIG_HASH_KEY, HASH_KEY, CheckpointError, load_generator, read_metadata, save_generator
from core.classifier import main as classifier_main
from core.directions import main as directions_main
from core.embed import main as embed_main
from core.embedder_training import main as embedder_training_main
from core.sample import main as sample_main
from core.seed_files import SeedFileError, load_seed_file
from core.seeds import seeded_noise
from core.train import main as train_main
from core.training import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent


# ---- helpers ----

def snapshot(*folders: Path) -> dict[str, str]:
    """SHA-256 of every file under the folders: equal snapshots = nothing written, changed or left behind."""
    files = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                files[str(path)] = "folder"
    return files


def run(main, argv: list[str], capsys) -> tuple[int, str]:
    """Run a CLI's main in-process -> (exit status, stderr); argparse's SystemExit counts as a status."""
    try:
        code = main(argv)
    except SystemExit as exit_info:
        code = exit_info.code
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, *words: str) -> str:
    """Exit 2, exactly one error line, naming the problem (`words`), and no traceback."""
    assert code == 2, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def checkpoint(tmp_path, tiny_generator) -> Path:
    return save_generator(tiny_generator, tmp_path / "generator")


def image_folder(folder: Path, checkpoint: Path, count: int = 2) -> Path:
    """PNG images the tiny generator made (so fixed-point inversion is exact and fast)."""
    folder.mkdir(parents=True)
    generator = load_generator(checkpoint)
    images = generator.generate(seeded_noise(list(range(count)), generator.image_shape))
    for i, image in enumerate(images):
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).save(folder / f"img{i}.png")
    return folder


def edit_config(checkpoint: Path, change) -> None:
    config = json.loads((checkpoint / "config.json").read_text())
    change(config)
    (checkpoint / "config.json").write_text(json.dumps(config))


# ---- 1. data loss: an output never replaces an input ----

@pytest.mark.parametrize("spelling", ["same", "dot", "dotdot", "symlink", "relative"])
def test_embed_refuses_to_overwrite_its_inputs_whatever_the_spelling(tmp_path, checkpoint, capsys, monkeypatch, spelling):
    folder = image_folder(tmp_path / "images", checkpoint)
    (tmp_path / "link").symlink_to(folder)
    monkeypatch.chdir(tmp_path)
    out = {"same": str(folder), "dot": f"{folder}/.", "dotdot": f"{folder}/../images", "symlink": str(tmp_path / "link"),
           "relative": "images"}[spelling]
    before = snapshot(folder)
    code, err = run(embed_main, [str(folder), "--out", out, "--checkpoint", str(checkpoint)], capsys)
    assert_refused(code, err, "refusing to overwrite the input", "img0.png")
    assert snapshot(folder) == before


def test_embed_refuses_a_hard_link_and_a_bad_input(tmp_path, checkpoint, capsys):
    folder = image_folder(tmp_path / "images", checkpoint, count=1)
    out = tmp_path / "out"
    out.mkdir()
    os.link(folder / "img0.png", out / "img0.png")  # the same file under another name
    (folder / "broken.png").write_bytes(b"not a png")  # a bad input is protected too
    np.save(out / "x.npy", np.zeros((8, 8), np.float32))
    before = snapshot(folder, out)
    code, err = run(embed_main, [str(folder), str(out / "x.npy"), "--out", str(out), "--checkpoint", str(checkpoint)], capsys)
    assert_refused(code, err, "refusing to overwrite the input")
    assert snapshot(folder, out) == before


def test_embed_writes_beside_inputs_it_does_not_replace(tmp_path, checkpoint, capsys):
    folder = tmp_path / "arrays"
    folder.mkdir()
    np.save(folder / "a.npy", np.full((8, 8), 0.5, np.float32))
    before = snapshot(folder)
    code, _ = run(embed_main, [str(folder), "--out", str(folder), "--checkpoint", str(checkpoint)], capsys)
    assert code == 0
    after = snapshot(folder)
    assert after[str(folder / "a.npy")] == before[str(folder / "a.npy")]
    assert {Path(p).name for p in after} == {"a.npy", "a.seed.npy", "a.png", "seeds.npy", "summary.csv"}


def test_directions_and_embedder_training_never_overwrite_a_checkpoint(tmp_path, checkpoint, capsys):
    before = snapshot(checkpoint)
    code, err = run(directions_main, ["--generator", str(checkpoint), "--method", "ddim_inversion",
                                      "--out", str(checkpoint / "model.safetensors")], capsys)
    assert_refused(code, err, "refusing to overwrite the input", "model.safetensors")
    code, err = run(embedder_training_main, ["--generator", str(checkpoint), "--dataset", "digits", "--out", str(checkpoint)], capsys)
    assert_refused(code, err, "refusing to overwrite the input")
    assert snapshot(checkpoint) == before


# ---- 2. silent garbage: loading verifies; results are checked ----

def overwrite_weight_bytes(path: Path, data: bytes, at: int = 64) -> None:
    raw = bytearray(path.read_bytes())
    header = 8 + struct.unpack("<Q", raw[:8])[0]
    raw[header + at : header + at + len(data)] = data
    path.write_bytes(bytes(raw))


def strip_hash(path: Path) -> None:
    """Re-save a weights file (and its config) without the content hash, as written before hashes existed."""
    metadata = {k: v for k, v in read_metadata(path).items() if k != HASH_KEY}
    save_file(load_file(str(path)), str(path), metadata=metadata or None)
    edit_config(path.parent, lambda c: c.pop(CONFIG_HASH_KEY))


def test_save_records_a_content_hash_and_load_checks_it(tmp_path, checkpoint, capsys):
    assert len(read_metadata(checkpoint / "model.safetensors")[HASH_KEY]) == 64
    overwrite_weight_bytes(checkpoint / "model.safetensors", bytes(64))  # zeros: finite, so only the hash can tell
    with pytest.raises(CheckpointError, match="fails its content check"):
        load_generator(checkpoint)
    out = tmp_path / "grid.png"
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-3", "--out", str(out)], capsys)
    assert_refused(code, err, "content check", "model.safetensors")
    assert not out.exists()


def test_weights_swapped_between_checkpoints_are_refused(tmp_path, checkpoint):
    from conftest import make_tiny_generator

    other = save_generator(make_tiny_generator(seed=1), tmp_path / "other")
    (checkpoint / "model.safetensors").write_bytes((other / "model.safetensors").read_bytes())  # valid, hashed, same shapes
    with pytest.raises(CheckpointError, match="differs from weights_sha256 in config.json"):
        load_generator(checkpoint)


@pytest.mark.parametrize("hashed", [True, False])
def test_nan_weights_are_refused_with_or_without_a_hash(tmp_path, checkpoint, capsys, hashed):
    if not hashed:
        strip_hash(checkpoint / "model.safetensors")
    tensors = load_file(str(checkpoint / "model.safetensors"))
    tensors["output_conv.weight"][0, 0, 0, 0] = float("nan")
    save_file(tensors, str(checkpoint / "model.safetensors"), metadata=read_metadata(checkpoint / "model.safetensors") or None)
    out = tmp_path / "grid.png"
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-3", "--out", str(out)], capsys)
    assert_refused(code, err, "content check" if hashed else "NaN or infinite weights")
    assert not out.exists()


def test_an_old_checkpoint_without_a_hash_still_loads(checkpoint, tiny_generator):
    strip_hash(checkpoint / "model.safetensors")
    assert HASH_KEY not in read_metadata(checkpoint / "model.safetensors")
    z = seeded_noise([0], tiny_generator.image_shape)
    torch.testing.assert_close(load_generator(checkpoint).generate(z), tiny_generator.generate(z), atol=2e-2, rtol=0)


@pytest.mark.parametrize("normalization, words", [
    ({"mean": [float("nan")], "std": [0.5]}, "mean [nan] is not finite"),
    ({"mean": [0.5], "std": [0.0]}, "std [0.0] must be > 0"),
    ({"mean": [0.5], "std": [-1.0]}, "must be > 0"),
    ({"mean": [0.5, 0.5], "std": [0.5]}, "list of 1 number"),
    (None, '"normalization" must be an object'),
])
def test_bad_normalization_is_refused(tmp_path, checkpoint, capsys, normalization, words):
    edit_config(checkpoint, lambda c: c.__setitem__("normalization", normalization))
    out = tmp_path / "grid.png"
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-3", "--out", str(out)], capsys)
    assert_refused(code, err, words)
    assert not out.exists()


def test_saving_refuses_non_finite_weights(tmp_path, tiny_generator):
    with torch.no_grad():
        tiny_generator.unet.output_conv.bias.fill_(float("inf"))
    with pytest.raises(CheckpointError, match="refusing to write"):
        save_generator(tiny_generator, tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.safetensors").exists() and not (tmp_path / "bad" / "config.json").exists()


def nan_generate(self, noise, steps=10, clip=True):
    return torch.full_like(noise, float("nan"))


def test_sample_refuses_non_finite_images(tmp_path, checkpoint, capsys, monkeypatch):
    monkeypatch.setattr("core.generator.DiffusionGenerator.generate", nan_generate)
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-3", "--out", str(tmp_path / "g.png"),
                                  "--each", str(tmp_path / "each")], capsys)
    assert_refused(code, err, "the generated images contain", "NaN")
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "each").exists()


def test_embed_refuses_non_finite_embeddings(tmp_path, checkpoint, capsys, monkeypatch):
    folder = image_folder(tmp_path / "images", checkpoint)
    # a network that returns NaN: fixed-point inversion (the default) evaluates it, not G.generate
    monkeypatch.setattr("core.unet.UNet.forward", lambda self, noisy_images, noise_variances: torch.full_like(noisy_images, float("nan")))
    out = tmp_path / "out"
    code, err = run(embed_main, [str(folder), "--out", str(out), "--checkpoint", str(checkpoint)], capsys)
    assert_refused(code, err, "no image gave a finite embedding")
    assert err.count("the embedding gave NaN or infinite values") == 2
    assert not out.exists()


def test_directions_refuse_non_finite_centroids(tmp_path, checkpoint, capsys, monkeypatch):
    labels = torch.arange(10).repeat(2)
    monkeypatch.setattr("core.directions.load_dataset", lambda *a, **k: (torch.full((20, 1, 8, 8), 0.5), labels))
    monkeypatch.setattr("core.generator.DiffusionGenerator.generate_normalized", lambda self, z, steps=10: z * float("nan"))
    monkeypatch.setattr("core.directions.embed", lambda g, x, m, **k: type("R", (), {"seeds": torch.full_like(x, float("nan"))})())
    out = tmp_path / "d.safetensors"
    code, err = run(directions_main, ["--generator", str(checkpoint), "--method", "ddim_inversion", "--per-class", "2",
                                      "--out", str(out)], capsys)
    assert_refused(code, err, "class centroids contain", "NaN")
    assert not out.exists()


def test_demo_refuses_non_finite_results(monkeypatch):
    gradio = pytest.importorskip("gradio")
    import demo_app

    monkeypatch.setattr(demo_app.GENERATORS["fashion"], "generate", lambda noise, steps=10: torch.full_like(noise, float("nan")))
    with pytest.raises(gradio.Error, match="NaN or infinite"):
        demo_app.generate("fashion", "0-3", 10)


# ---- 3. hangs and unbounded work: ranges and bounds up front ----

@pytest.mark.parametrize("per_class, words", [("-2", "between 1 and 6,000, got -2"), ("0", "got 0"), ("x", "expected a whole number")])
def test_directions_per_class_range(tmp_path, capsys, per_class, words):
    started = time.time()
    code, err = run(directions_main, ["--per-class", per_class, "--out", str(tmp_path / "d.safetensors")], capsys)
    assert_refused(code, err, "--per-class", words)
    assert time.time() - started < 5 and not list(tmp_path.iterdir())


def test_sample_bounds_the_seed_count_before_allocating(tmp_path, checkpoint, capsys):
    started = time.time()
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-99999999", "--out", str(tmp_path / "g.png")], capsys)
    assert_refused(code, err, "100,000,000 seeds asked; at most 10,000")
    assert time.time() - started < 5 and not (tmp_path / "g.png").exists()
    np.save(tmp_path / "many.npy", np.zeros((10_001, 1, 8, 8), np.float32))
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seed-file", str(tmp_path / "many.npy"), "--out", str(tmp_path / "g.png")], capsys)
    assert_refused(code, err, "at most")


@pytest.mark.parametrize("field, value, words", [
    ("image_size", 10**6, "image_size must be a whole number from 1 to 1024"),
    ("widths", [100_000, 16], "widths must be a list"),
    ("block_depth", 10**4, "block_depth"),
])
def test_huge_configs_are_refused_before_allocating(tmp_path, checkpoint, capsys, field, value, words):
    edit_config(checkpoint, lambda c: c["unet"].__setitem__(field, value))
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--out", str(tmp_path / "g.png")], capsys)
    assert_refused(code, err, words)


def test_a_large_image_size_bounds_the_grid(tmp_path, checkpoint, capsys):
    edit_config(checkpoint, lambda c: c["unet"].__setitem__("image_size", 1024))  # valid, and the weights fit any size
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-63", "--out", str(tmp_path / "g.png")], capsys)
    assert_refused(code, err, "the grid would have", "pixels")
    assert not (tmp_path / "g.png").exists()


@pytest.mark.parametrize("main, argv, words", [
    (sample_main, ["--steps", "0"], "--steps"),
    (sample_main, ["--steps", "100000"], "--steps"),
    (sample_main, ["--batch-size", "-1"], "--batch-size"),
    (sample_main, ["--scale", "0"], "--scale"),
    (sample_main, ["--columns", "0"], "--columns"),
    (embed_main, ["x.png", "--out", "o", "--lr", "nan"], "--lr"),
    (embed_main, ["x.png", "--out", "o", "--target-mse", "-1"], "--target-mse"),
    (embed_main, ["x.png", "--out", "o", "--start-iterations", "0"], "--start-iterations"),
    (train_main, ["--epochs", "0"], "--epochs"),
    (train_main, ["--lr", "0"], "--lr"),
    (train_main, ["--ema-decay", "1"], "--ema-decay"),
    (train_main, ["--batch-size", "0"], "--batch-size"),
    (train_main, ["--max-minutes", "-5"], "--max-minutes"),
    (classifier_main, ["--epochs", "-1"], "--epochs"),
    (embedder_training_main, ["--out", "o", "--pairs", "0"], "--pairs"),
    (embedder_training_main, ["--out", "o", "--finetune-lr", "inf"], "--finetune-lr"),
])
def test_numeric_options_are_range_checked(tmp_path, capsys, monkeypatch, main, argv, words):
    monkeypatch.chdir(tmp_path)
    code, err = run(main, argv, capsys)
    assert_refused(code, err, words)
    assert len(err.strip().splitlines()) == 1  # argparse's usage block is not printed
    assert not list(tmp_path.iterdir())


# ---- 4. failing late: outputs are checked before any compute ----

def test_sample_output_checks_come_before_loading(tmp_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "folder.png").mkdir()
    missing = str(tmp_path / "no-checkpoint")  # would fail later: the output error must come first
    cases = [
        (["--out", str(tmp_path / "file.txt" / "g.png")], "is a file, not a folder"),
        (["--out", "/sys/g.png"], "cannot write in /sys"),
        (["--out", str(tmp_path / "folder.png")], "is an existing folder"),
        (["--out", str(tmp_path / "g.png"), "--each", str(tmp_path / "file.txt")], "--each", ),
        (["--out", str(tmp_path / "grid.txt")], "must end in .png"),
    ]
    before = snapshot(tmp_path)
    for argv, *words in cases:
        code, err = run(sample_main, ["--checkpoint", missing, *argv], capsys)
        assert_refused(code, err, *words)
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("main, argv, words", [
    (embed_main, ["in.png", "--out", "{file}"], "is an existing file; give a folder"),
    (directions_main, ["--out", "{folder}"], "must end in .safetensors"),
    (directions_main, ["--out", "{folder}/x.safetensors/"], "is an existing folder"),
    (train_main, ["--out", "{file}"], "is an existing file"),
    (train_main, ["--out", "/sys/run"], "cannot write in /sys"),
    (classifier_main, ["--out", "{file}"], "is an existing file"),
    (embedder_training_main, ["--out", "{file}/sub"], "is a file, not a folder"),
])
def test_other_commands_check_outputs_first(tmp_path, capsys, main, argv, words):
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "x.safetensors").mkdir()
    before = snapshot(tmp_path)
    argv = [a.format(file=tmp_path / "file", folder=tmp_path / "folder") for a in argv]
    code, err = run(main, argv, capsys)
    assert_refused(code, err, words)
    assert snapshot(tmp_path) == before


def test_sample_each_is_all_or_nothing(tmp_path, checkpoint, capsys, monkeypatch):
    calls = []

    def failing_save(target, image, **kwargs):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(target))
        save_image(target, image, **kwargs)

    monkeypatch.setattr("core.sample.save_image", failing_save)
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seeds", "0-3", "--out", str(tmp_path / "g.png"),
                                  "--each", str(tmp_path / "each" / "deep")], capsys)
    assert_refused(code, err, "No space left on device")
    assert len(calls) == 3
    assert not (tmp_path / "g.png").exists() and not (tmp_path / "each").exists()  # nothing, not even the folders it made
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_full_disk_is_named_with_the_file(tmp_path, checkpoint):
    """A write that the file-size limit cuts short (as a full disk would): one line naming the file, nothing left."""
    import subprocess
    import sys

    command = (f"ulimit -f 2; exec {sys.executable} -m core.sample --checkpoint {checkpoint} --seeds 0-63 --scale 8 "
               f"--out {tmp_path / 'out' / 'grid.png'}")
    result = subprocess.run(["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: could not write {tmp_path / 'out' / 'grid.png'} (File too large); is the disk full"), last
    assert not (tmp_path / "out").exists()  # no grid, no temporary file, not even the folder made for them


def test_all_or_nothing_commits_together(tmp_path):
    with all_or_nothing():
        save_image(tmp_path / "a.png", Image.new("L", (2, 2)))
        assert not (tmp_path / "a.png").exists()  # not visible before the block ends
    assert (tmp_path / "a.png").is_file()


# ---- 5. tracebacks where a line is due ----

@pytest.mark.parametrize("content, words", [
    (b"", "is empty (0 bytes)"),
    (b"just some text\n", "is not a .npy file"),
    (b"\x93NUMPY\x01\x00garbage", "broken .npy header"),
])
def test_bad_seed_files_get_one_line(tmp_path, checkpoint, capsys, content, words):
    (tmp_path / "seeds.npy").write_bytes(content)
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--seed-file", str(tmp_path / "seeds.npy"),
                                  "--out", str(tmp_path / "g.png")], capsys)
    assert_refused(code, err, words, "seeds.npy")
    assert not (tmp_path / "g.png").exists()


def test_seed_file_edge_cases(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SeedFileError, match="pickled data"):
        load_seed_file(tmp_path / "objects.npy", (1, 8, 8))
    full = tmp_path / "full.npy"
    np.save(full, np.zeros((4, 1, 8, 8), np.float32))
    (tmp_path / "cut.npy").write_bytes(full.read_bytes()[:-10])
    with pytest.raises(SeedFileError, match="truncated"):
        load_seed_file(tmp_path / "cut.npy", (1, 8, 8))
    np.save(tmp_path / "complex.npy", np.zeros((1, 1, 8, 8), np.complex64))
    with pytest.raises(SeedFileError, match="not real numbers"):
        load_seed_file(tmp_path / "complex.npy", (1, 8, 8))
    np.save(tmp_path / "none.npy", np.zeros((0, 1, 8, 8), np.float32))
    with pytest.raises(SeedFileError, match="holds no seeds"):
        load_seed_file(tmp_path / "none.npy", (1, 8, 8))
    (tmp_path / "dir.npy").mkdir()
    with pytest.raises(SeedFileError, match="is a folder"):
        load_seed_file(tmp_path / "dir.npy", (1, 8, 8))


@pytest.mark.parametrize("change, words", [
    (lambda c: c.__setitem__("unet", None), '"unet" must be an object'),
    (lambda c: c["unet"].__setitem__("widths", [-8, 16]), "widths must be a list"),
    (lambda c: c["unet"].__setitem__("image_size", 0), "image_size must be a whole number from 1"),
    (lambda c: c["unet"].__setitem__("image_size", 9), "not divisible by 2**1"),
    (lambda c: c["unet"].__setitem__("channels", "1"), "channels must be"),
    (lambda c: c["unet"].__setitem__("embedding_max_frequency", float("inf")), "embedding_max_frequency"),
    (lambda c: c["unet"].__setitem__("colour", 1), "unknown UNet config keys"),
    (lambda c: c.__setitem__("format_version", 99), "format version 99"),
])
def test_broken_configs_get_one_line(tmp_path, checkpoint, capsys, change, words):
    edit_config(checkpoint, change)
    code, err = run(sample_main, ["--checkpoint", str(checkpoint), "--out", str(tmp_path / "g.png")], capsys)
    assert_refused(code, err, words)
    assert not (tmp_path / "g.png").exists()


def test_directions_with_a_bad_generator_or_embedder(tmp_path, checkpoint, capsys):
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / "config.json").write_text("{}")
    code, err = run(directions_main, ["--generator", str(garbage), "--out", str(tmp_path / "d.safetensors")], capsys)
    assert_refused(code, err, "expected 'ddim-generator'")
    code, err = run(directions_main, ["--generator", str(checkpoint), "--embedder", str(tmp_path / "none"),
                                      "--out", str(tmp_path / "d.safetensors")], capsys)
    assert_refused(code, err, "checkpoint folder not found")
    code, err = run(directions_main, ["--generator", str(checkpoint), "--embedder", str(checkpoint),
                                      "--out", str(tmp_path / "d.safetensors")], capsys)
    assert_refused(code, err, "expected 'embedder'")
    assert not (tmp_path / "d.safetensors").exists()


def test_training_zero_epochs_is_refused(tmp_path):
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        Trainer(TrainConfig(dataset="digits", preset="tiny", out=str(tmp_path / "run"), epochs=0, batch_size=32))
    assert not (tmp_path / "run").exists()


# ---- 6. minor ----

def test_text_file_as_seed_npy_is_not_called_pickled(tmp_path):
    (tmp_path / "s.npy").write_text("0.1 0.2 0.3\n")
    with pytest.raises(SeedFileError) as error:
        load_seed_file(tmp_path / "s.npy", (1, 8, 8))
    assert "not a .npy file" in str(error.value) and "pickle" not in str(error.value)


# ---- end to end: `python -m`, as a user runs them ----

@pytest.mark.parametrize("argv, words", [
    (["core.sample", "--seeds", "0-99999999", "--out", "{tmp}/g.png"], "at most 10,000"),
    (["core.directions", "--per-class", "-2", "--out", "{tmp}/d.safetensors"], "--per-class"),
    (["core.embed", "{tmp}", "--out", "{tmp}"], "refusing to overwrite the input"),
])
def test_python_dash_m_prints_one_line(tmp_path, argv, words):
    Image.new("L", (8, 8)).save(tmp_path / "x.png")
    before = snapshot(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", *[a.format(tmp=tmp_path) for a in argv]], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert words in result.stderr
    assert snapshot(tmp_path) == before


# ---- the layer's API, for the commands to come (core.study) ----

def test_cli_checks_api(tmp_path):
    import argparse

    assert cli_checks.positive_int("3") == 3 and cli_checks.non_negative_int("0") == 0
    assert cli_checks.float_range(0, 1)("0.5") == 0.5
    for parse, text in ((cli_checks.positive_int, "0"), (cli_checks.positive_float, "-1"), (cli_checks.positive_float, "nan"),
                        (cli_checks.int_range(1, 5), "6"), (cli_checks.float_range(0, 1, high_open=True), "1")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(text)
    assert cli_checks.check_output_file(tmp_path / "new" / "a.png", suffixes=(".png",)) == tmp_path / "new" / "a.png"
    assert not (tmp_path / "new").exists()  # checking writes nothing
    cli_checks.refuse_overlap([tmp_path / "missing"], [tmp_path / "x"])  # nothing to protect, nothing raised
    with pytest.raises(cli_checks.CLIError):
        cli_checks.check_finite(torch.tensor([1.0, float("inf")]), "values")



def test_help_names_every_default_in_groups_too():
    parser = cli_checks.ArgumentParser(prog="python -m core.x")
    parser.add_argument("--plain", default=3)
    parser.add_argument("--flag", action="store_true")
    group = parser.add_argument_group("advanced")
    group.add_argument("--bare", default=5)  # no help text: argparse alone prints no line for it
    group.add_argument("--said", default=7, help="how many")
    parser.add_argument("--zero", type=float, default=0.0, help="a rate")  # 0.0 == False: an `in` test hid it
    text = parser.format_help()
    assert "a rate (default: 0.0)" in text
    assert "--plain PLAIN  (default: 3)" in text and "--bare BARE    (default: 5)" in text
    assert "how many (default: 7)" in text and "default: False" not in text


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py") if p.stem not in ("__init__", "report")))
def test_benchmark_help_names_the_command_a_user_types(module):
    import importlib

    parser_help = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--help"], cwd=ROOT, capture_output=True,
                                 text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"})
    assert parser_help.returncode == 0, parser_help.stderr
    assert parser_help.stdout.startswith(f"usage: python -m benchmarks.{module} "), parser_help.stdout[:80]
    assert importlib.import_module(f"benchmarks.{module}").__doc__.splitlines()[0] in parser_help.stdout


# ---- fuzz: many malformed images, seed files, configs and weights files ----

def _one_line(error: BaseException, name: str) -> None:
    message = str(error)
    assert "\n" not in message and name in message, message


def _png_bytes(image: Image.Image, format: str = "PNG") -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format=format)
    return buffer.getvalue()


def malformed_inputs(folder: Path, rng: np.random.Generator) -> list[Path]:
    """~120 files: random bytes, truncated and corrupted images, odd modes and sizes, odd arrays."""
    folder.mkdir()
    files: dict[str, bytes] = {}
    valid_png = _png_bytes(Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)))
    for i, suffix in enumerate([".png", ".jpg", ".gif", ".bmp", ".webp", ".tiff"] * 2):
        files[f"random{i}{suffix}"] = rng.bytes(int(rng.integers(0, 300)))
    for i in range(8):
        files[f"truncated{i}.png"] = valid_png[: int(rng.integers(0, len(valid_png)))]
        corrupted = bytearray(valid_png)
        for at in rng.integers(0, len(corrupted), 4):
            corrupted[at] = int(rng.integers(0, 256))
        files[f"corrupted{i}.png"] = bytes(corrupted)
    for suffix in (".png", ".jpg", ".npy"):
        files[f"empty{suffix}"] = b""
    for i, (mode, size) in enumerate([("1", (8, 8)), ("L", (1, 1)), ("LA", (30, 9)), ("P", (8, 8)), ("RGB", (1, 300)),
                                      ("RGBA", (300, 1)), ("I", (8, 8)), ("I;16", (16, 16)), ("F", (8, 8))]):
        tiff = mode in ("I", "F")  # Pillow writes these as TIFF (PNG of mode I is deprecated)
        files[f"mode{i}.tiff" if tiff else f"mode{i}.png"] = _png_bytes(Image.new(mode, size), "TIFF" if tiff else "PNG")
    files["cmyk.jpg"] = _png_bytes(Image.new("CMYK", (12, 12), (0, 50, 100, 0)), "JPEG")
    for i in range(30):
        shape = [(8, 8), (1, 8, 8), (8, 8, 1), (3, 8, 8), (), (0,), (8,), (2, 1, 8, 8), (9, 9), (0, 8)][i % 10]
        dtype = [np.uint8, np.int8, np.int64, np.float16, np.float32, np.float64, np.bool_, np.complex64][i % 8]
        with np.errstate(over="ignore", invalid="ignore"):  # 1e30 overflows small dtypes: that is the point
            array = (rng.random(shape) * [1, 255, -3, 1e30][i % 4]).astype(dtype)
        if i % 7 == 3 and array.size and np.issubdtype(dtype, np.floating):
            array.flat[0] = [np.nan, np.inf][i % 2]
        import io

        buffer = io.BytesIO()
        np.save(buffer, array)
        files[f"array{i}.npy"] = buffer.getvalue()
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([None, 1], dtype=object), allow_pickle=True)
    files["objects.npy"] = buffer.getvalue()
    files["text.npy"] = b"1 2 3\n"
    files["header_only.npy"] = files["array1.npy"][:60]
    for name, data in files.items():
        (folder / name).write_bytes(data)
    Image.new("L", (6400, 6400)).save(folder / "huge.png")  # 41 megapixels: over the limit, small on disk
    return sorted(folder.iterdir())


def test_fuzz_images(tmp_path, checkpoint, capsys):
    from core.image_io import ImageInputError, load_image_file

    files = malformed_inputs(tmp_path / "in", np.random.default_rng(11))
    good, bad = [], []
    for path in files:
        try:
            image, note = load_image_file(path, (1, 8, 8))
        except ImageInputError as error:
            _one_line(error, path.name)
            bad.append(path)
        else:
            assert image.shape == (1, 8, 8) and torch.isfinite(image).all() and 0 <= image.min() and image.max() <= 1, path
            good.append(path)
    assert len(good) >= 10 and len(bad) >= 60  # both kinds are exercised
    before = snapshot(tmp_path / "in")
    out = tmp_path / "out"
    code, err = run(embed_main, [str(tmp_path / "in"), "--out", str(out), "--checkpoint", str(checkpoint), "--method", "ddim_inversion"], capsys)
    assert code == 1 and "Traceback" not in err
    assert err.count("skipped:") == len(bad)
    assert snapshot(tmp_path / "in") == before  # inputs byte-identical
    assert np.load(out / "seeds.npy").shape == (len(good), 1, 8, 8)


def test_fuzz_seed_files(tmp_path):
    rng = np.random.default_rng(12)
    import io

    cases: dict[str, bytes] = {}
    for i in range(10):
        cases[f"random{i}.npy"] = rng.bytes(int(rng.integers(0, 200)))
        cases[f"random{i}.safetensors"] = rng.bytes(int(rng.integers(0, 200)))
    for i in range(24):
        shape = [(1, 8, 8), (3, 1, 8, 8), (8, 8), (2, 1, 8, 9), (0, 1, 8, 8), ()][i % 6]
        dtype = [np.float32, np.float16, np.int32, np.bool_][i % 4]
        array = rng.standard_normal(shape).astype(dtype)
        if i % 5 == 2 and array.size and np.issubdtype(dtype, np.floating):
            array.flat[-1] = np.nan
        buffer = io.BytesIO()
        np.save(buffer, array)
        cases[f"array{i}.npy"] = buffer.getvalue()
        cases[f"cut{i}.npy"] = buffer.getvalue()[: int(rng.integers(1, len(buffer.getvalue())))]
        tensors = {"seeds" if i % 3 else "other": torch.from_numpy(np.ascontiguousarray(array))}
        save_file(tensors, str(tmp_path / "tmp.safetensors"))
        cases[f"tensor{i}.safetensors"] = (tmp_path / "tmp.safetensors").read_bytes()
    (tmp_path / "tmp.safetensors").unlink()
    accepted = 0
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        try:
            seeds = load_seed_file(tmp_path / name, (1, 8, 8), max_count=100)
        except SeedFileError as error:
            _one_line(error, name)
        else:
            assert seeds.ndim == 4 and seeds.shape[1:] == (1, 8, 8) and 1 <= len(seeds) <= 100 and torch.isfinite(seeds).all(), name
            accepted += 1
    assert 3 <= accepted < len(cases) // 2


NASTY = [None, True, -1, 0, 1, 3, 2**40, 1e300, float("nan"), float("inf"), "8", [], [8], [0], [-8, 16], [8, 16], {}, 1.5]


def test_fuzz_configs(tmp_path, checkpoint):
    original = json.loads((checkpoint / "config.json").read_text())
    loaded = refused = 0
    targets = [("unet", key) for key in original["unet"]] + [("normalization", "mean"), ("normalization", "std")] + \
              [(None, key) for key in ("unet", "normalization", "kind", "format_version")]
    for section, key in targets:
        for value in NASTY + ["<deleted>"]:
            config = json.loads(json.dumps(original))
            place = config if section is None else config[section]
            if value == "<deleted>":
                del place[key]
            else:
                place[key] = value
            (checkpoint / "config.json").write_text(json.dumps(config))
            try:
                generator = load_generator(checkpoint)
            except CheckpointError as error:
                assert "\n" not in str(error), (section, key, value)
                refused += 1
            else:
                assert generator.image_shape[1] <= 1024, (section, key, value)
                loaded += 1
    assert refused > 150 and loaded >= 5  # mostly refused; a few harmless values load


def test_fuzz_weights_files(tmp_path, checkpoint, tiny_generator):
    rng = np.random.default_rng(13)
    weights = checkpoint / "model.safetensors"
    pristine = weights.read_bytes()
    z = seeded_noise([0, 1], tiny_generator.image_shape)
    expected = load_generator(checkpoint).generate(z)
    outcomes = {"refused": 0, "identical": 0}
    for trial in range(60):
        data = bytearray(pristine)
        if trial % 3 == 0:
            data = data[: int(rng.integers(0, len(data)))]
        else:
            for at in rng.integers(0, len(data), int(rng.integers(1, 4))):
                data[at] = (data[at] + int(rng.integers(1, 256))) % 256  # a real change
        weights.write_bytes(bytes(data))
        try:
            generator = load_generator(checkpoint)
        except CheckpointError as error:
            assert "\n" not in str(error)
            outcomes["refused"] += 1
        else:  # only a change the weights do not depend on (e.g. header padding) may load
            assert torch.equal(generator.generate(z), expected), trial
            outcomes["identical"] += 1
    assert outcomes["refused"] >= 50
