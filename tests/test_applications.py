"""Projection (faithful <-> projected) and class directions on the tiny model."""

import json

import numpy as np
import pytest
import torch

from core.checkpoint import CheckpointError, read_metadata, save_generator, save_tensors, weights_hash
from core.directions import compute_class_directions, load_directions, save_directions
from core.directions import main as directions_main
from core.embedder import Embedder, EmbedderConfig
from core.embedding import reconstruct
from core.interpolation import blend_seeds
from core.projection import project
from core.seeds import seeded_noise


@pytest.fixture
def tiny_embedder(tiny_generator):
    c, s, _ = tiny_generator.image_shape
    torch.manual_seed(0)
    return Embedder(EmbedderConfig(architecture="conv3", image_size=s, channels=c, width=8)).eval()


@pytest.fixture
def targets(tiny_generator):
    return reconstruct(tiny_generator, seeded_noise([21, 22, 23], tiny_generator.image_shape))


def test_blend_seeds_ends_are_the_seeds():
    a, b = seeded_noise([1, 2], (1, 6, 6))
    for mode in ("spherical", "linear"):
        path = blend_seeds(a, b, [0.0, 0.5, 1.0], mode)
        torch.testing.assert_close(path[0], a)
        torch.testing.assert_close(path[2], b)
    middle = blend_seeds(a, b, [0.5])[0]  # slerp keeps the norm of equal-norm seeds; lerp shrinks it
    assert middle.norm() > blend_seeds(a, b, [0.5], "linear")[0].norm()


def test_projection_takes_any_float_dtype(tiny_generator, tiny_embedder, targets):
    """float64 images: converted before any work (they failed in the embedder after the whole fixed-point solve)."""
    half_way = project(tiny_generator, tiny_embedder, targets.double(), 0.5)
    assert half_way.seeds.dtype == torch.float32 and torch.isfinite(half_way.images).all()


def test_projection_fidelity_runs_from_network_to_exact(tiny_generator, tiny_embedder, targets):
    projected = project(tiny_generator, tiny_embedder, targets, 0.0)
    torch.testing.assert_close(projected.seeds, tiny_embedder(targets))
    assert projected.exact_seeds is None
    psnr = {f: project(tiny_generator, tiny_embedder, targets, f).psnr for f in (0.0, 0.5, 1.0)}
    assert psnr[1.0].min() > 40  # fully faithful: the fixed-point seed reproduces the input
    assert (psnr[1.0] > psnr[0.5]).all() and (psnr[0.5].mean() > psnr[0.0].mean())
    with pytest.raises(ValueError, match="fidelity"):
        project(tiny_generator, tiny_embedder, targets, 1.5)


def test_class_directions(tmp_path, tiny_generator, tiny_embedder):
    images = reconstruct(tiny_generator, seeded_noise(list(range(6)), tiny_generator.image_shape))
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    directions = compute_class_directions(tiny_generator, images, labels, ["a", "b", "c"], "network", tiny_embedder, batch=4)
    with torch.no_grad():
        seeds = tiny_embedder(images)
    torch.testing.assert_close(directions.centroids[1], seeds[2:4].mean(0))
    assert directions.counts.tolist() == [2, 2, 2]
    moved = directions.move(seeds[0], "a", "b", [0.0, 1.0])
    torch.testing.assert_close(moved[0], seeds[0])
    torch.testing.assert_close(moved[1], seeds[0] + directions.centroids[1] - directions.centroids[0])
    save_directions(tmp_path / "d.safetensors", directions)
    loaded = load_directions(tmp_path / "d.safetensors", tiny_generator.image_shape)
    assert loaded.class_names == ["a", "b", "c"] and torch.equal(loaded.centroids, directions.centroids)
    with pytest.raises(ValueError, match="unknown class"):
        directions.direction("a", "z")
    # an argmax index (numpy or torch) names a class; a batch of seeds is refused (it paired seed i with strength i)
    torch.testing.assert_close(directions.move(seeds[0], np.int64(0), torch.tensor(1), [1.0])[0], moved[1])
    with pytest.raises(ValueError, match="move takes one seed"):
        directions.move(seeds[:2], "a", "b", [0.0, 1.0])
    with pytest.raises(ValueError, match="a class is a name or an index"):
        directions.direction(True, "b")
    with pytest.raises(ValueError, match="no images of class"):
        compute_class_directions(tiny_generator, images, torch.zeros(6, dtype=torch.long), ["a", "b"], "network", tiny_embedder)
    with pytest.raises(CheckpointError, match="shape"):
        load_directions(tmp_path / "d.safetensors", (3, 8, 8))
    save_tensors(tmp_path / "other.safetensors", {"x": torch.zeros(1)}, {"kind": "generator"})
    with pytest.raises(CheckpointError, match="not a class-directions file"):
        load_directions(tmp_path / "other.safetensors")


def test_the_directions_file_names_the_weights_it_was_made_with(tmp_path, tiny_generator, monkeypatch):
    checkpoint = save_generator(tiny_generator, tmp_path / "generator")
    images = tiny_generator.generate(seeded_noise(list(range(20)), tiny_generator.image_shape)).detach()
    monkeypatch.setattr("core.directions.load_dataset", lambda *a, **k: (images, torch.arange(10).repeat(2)))
    out = tmp_path / "d.safetensors"
    assert directions_main(["--generator", str(checkpoint), "--method", "ddim_inversion", "--per-class", "2", "--out", str(out)]) == 0
    extra = json.loads(read_metadata(out)["extra"])
    assert extra["generator_weights"] == weights_hash(checkpoint) != "" and extra["embedder_weights"] is None
    assert load_directions(out, tiny_generator.image_shape).counts.tolist() == [2.0] * 10
