"""Semantic directions in seed space: class centroids of embedded training images.

Embed many labelled training images, average their seeds per class, and move a seed z of an
image of class a towards class b along the difference of centroids:

    z(s) = z + s * (centroid[b] - centroid[a])        (s = 0: unchanged; s = 1: the full shift)

CLI (writes one safetensors file; the demo's Directions tab reads it):
    python -m core.directions --generator assets/fashion --embedder assets/embedders/fashion-unet \\
        --per-class 600 --out assets/fashion/directions.safetensors
"""

from __future__ import annotations

import json
import numbers
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from core.checkpoint import (CONFIG_NAME, WEIGHTS_NAME, CheckpointError, load_generator, load_tensors, read_metadata, save_tensors,
                              weights_hash)
from core.cli_checks import ArgumentParser, CLIError, check_finite, check_output_file, cli_main, int_range, refuse_overlap
from core.data import FASHION_MNIST_CLASSES, load_dataset
from core.embedder import load_embedder
from core.embedding import embed
from core.generator import DiffusionGenerator


@dataclass
class ClassDirections:
    centroids: torch.Tensor  # (K, C, H, W): mean seed of each class
    counts: torch.Tensor  # (K,): images averaged per class
    class_names: list[str]
    method: str  # the embedding method whose seeds were averaged

    def index(self, name: str | int) -> int:
        """A class's position, from its name or its index (a Python, numpy or 0-d torch integer, e.g. an argmax)."""
        if isinstance(name, torch.Tensor) and name.numel() == 1 and not name.is_floating_point():
            name = int(name)
        if isinstance(name, bool):
            raise ValueError(f"a class is a name or an index, got {name!r}")
        if isinstance(name, numbers.Integral):
            if not 0 <= name < len(self.class_names):
                raise ValueError(f"class index {name} out of range 0..{len(self.class_names) - 1}")
            return int(name)
        if name not in self.class_names:
            raise ValueError(f"unknown class {name!r}; choose one of {self.class_names}")
        return self.class_names.index(name)

    def direction(self, source: str | int, target: str | int) -> torch.Tensor:
        """centroid[target] - centroid[source]: (C, H, W)."""
        return self.centroids[self.index(target)] - self.centroids[self.index(source)]

    def move(self, seeds: torch.Tensor, source: str | int, target: str | int, strengths: torch.Tensor | list[float]) -> torch.Tensor:
        """One seed (C, H, W) moved by each strength s: (S, C, H, W) = z + s * direction."""
        if not isinstance(seeds, torch.Tensor) or tuple(seeds.shape) != tuple(self.centroids.shape[1:]):
            raise ValueError(f"move takes one seed {tuple(self.centroids.shape[1:])}, got "
                             f"{getattr(seeds, 'shape', type(seeds).__name__)}" + (": move seeds[i] of a batch one at a time"
                                                                                  if getattr(seeds, "ndim", 0) == 4 else ""))
        strengths = torch.as_tensor(strengths, dtype=seeds.dtype).reshape(-1, 1, 1, 1)
        return seeds[None] + strengths * self.direction(source, target)[None]


def compute_class_directions(
    generator: DiffusionGenerator,
    images: torch.Tensor,
    labels: torch.Tensor,
    class_names: list[str],
    method: str = "network",
    embedder: torch.nn.Module | None = None,
    batch: int = 250,
) -> ClassDirections:
    """Embed images (N, C, H, W) with `method` and average their seeds per label (N,)."""
    if method == "network" and embedder is None:
        raise ValueError("method 'network' needs an embedder")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    total = torch.zeros((len(class_names), *generator.image_shape))
    counts = torch.zeros(len(class_names))
    for start in tqdm(range(0, len(images), batch), desc=f"embedding ({method})", unit="batch"):
        chunk_images = images[start:start + batch]
        if method == "network":  # skip embed()'s reconstruction: only the seeds are needed
            with torch.no_grad():
                seeds = embedder(chunk_images)
        else:
            seeds = embed(generator, chunk_images, method, embedder=embedder).seeds
        chunk = labels[start:start + batch]
        total.index_add_(0, chunk, seeds)
        counts += torch.bincount(chunk, minlength=len(class_names)).float()
    if (counts == 0).any():
        missing = [class_names[i] for i in torch.nonzero(counts == 0).flatten().tolist()]
        raise ValueError(f"no images of class {missing}")
    return ClassDirections(total / counts.reshape(-1, 1, 1, 1), counts, list(class_names), method)


def save_directions(path: str | os.PathLike, directions: ClassDirections, extra: dict | None = None) -> None:
    metadata = {"kind": "class_directions", "class_names": json.dumps(directions.class_names), "method": directions.method,
                "extra": json.dumps(extra or {})}
    save_tensors(path, {"centroids": directions.centroids, "counts": directions.counts}, metadata)


def load_directions(path: str | os.PathLike, image_shape: tuple[int, int, int] | None = None) -> ClassDirections:
    metadata = read_metadata(path)
    if metadata.get("kind") != "class_directions":
        raise CheckpointError(f"{path} is not a class-directions file (kind={metadata.get('kind')!r})")
    tensors = load_tensors(path)
    centroids, counts = tensors.get("centroids"), tensors.get("counts")
    try:
        names = json.loads(metadata.get("class_names", "[]"))
    except json.JSONDecodeError:
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise CheckpointError(f"{path}: the class names in its metadata are not a list of strings")
    if centroids is None or counts is None or centroids.ndim != 4 or len(centroids) != len(names) or len(counts) != len(names):
        raise CheckpointError(f"{path}: centroids, counts and class names do not match")
    if image_shape is not None and tuple(centroids.shape[1:]) != tuple(image_shape):
        raise CheckpointError(f"{path} holds seeds of shape {tuple(centroids.shape[1:])}, the generator needs {tuple(image_shape)}")
    return ClassDirections(centroids.float(), counts.float(), names, metadata.get("method", "?"))


MAX_PER_CLASS = 6000  # Fashion-MNIST has 6,000 training images per class


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m core.directions", description=__doc__)
    parser.add_argument("--generator", "--checkpoint", dest="generator", default="assets/fashion",
                        help="generator folder, from the project root (--checkpoint in core.sample, core.embed and core.study)")
    parser.add_argument("--embedder", default="assets/embedders/fashion-unet", help="used when --method is network or hybrid")
    parser.add_argument("--method", default="network", choices=["network", "fixed_point", "hybrid", "ddim_inversion"])
    parser.add_argument("--per-class", type=int_range(1, MAX_PER_CLASS), default=600,
                        help="training images per class (the first ones of each class)")
    parser.add_argument("--out", required=True, help="a .safetensors file")
    args = parser.parse_args(argv)
    out = check_output_file(args.out, "--out", (".safetensors",))
    generator = load_generator(args.generator)
    embedder = load_embedder(args.embedder) if args.method in ("network", "hybrid") else None
    if embedder is not None and embedder.image_shape != generator.image_shape:
        raise CLIError(f"embedder {args.embedder} makes seeds {embedder.image_shape}, generator {args.generator} needs {generator.image_shape}")
    inputs = [Path(folder) / name for folder in (args.generator, args.embedder if embedder else None) if folder
              for name in (CONFIG_NAME, WEIGHTS_NAME)]
    refuse_overlap(inputs, [out])
    images, labels = load_dataset("fashion", "train", image_size=generator.config.image_size, channels=generator.config.channels)
    chosen = torch.cat([torch.nonzero(labels == k).flatten()[:args.per_class] for k in range(len(FASHION_MNIST_CLASSES))])
    directions = compute_class_directions(generator, images[chosen], labels[chosen], FASHION_MNIST_CLASSES, args.method, embedder)
    check_finite(directions.centroids, "the class centroids")
    save_directions(out, directions, {"generator": args.generator, "embedder": args.embedder if embedder else None,
                                      "generator_weights": weights_hash(args.generator),
                                      "embedder_weights": weights_hash(args.embedder) if embedder else None,
                                      "per_class": args.per_class, "split": "train"})
    print(f"wrote {out}: {len(FASHION_MNIST_CLASSES)} centroids from {int(directions.counts.sum())} training images ({args.method})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
