"""Sample quality of Fashion-MNIST generators: Frechet distance in the shipped classifier's 128-d
feature space between 5,000 samples (seeds 0-4999, 10 DDIM steps) and the 10,000 test images,
beside the floor (5,000 training images vs the test set). Several checkpoints share one table, so
a retrained generator is shown beside the one it replaces.

    python -m benchmarks.sample_quality
    python -m benchmarks.sample_quality --checkpoint assets/fashion runs/fashion-cont/ema
    python -m benchmarks.sample_quality --checkpoint runs/new/ema --append   # add a row, keep the earlier ones

--append keeps the rows of the previous results file (benchmarks/results/sample_quality.json) whose
checkpoints are not measured again, when they used the same number of samples and steps. Every
generator row carries the date it was measured, so rows appended over several runs keep their own.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.report import RESULTS, write_report
from core.checkpoint import load_generator
from core.classifier import batched, features, load_classifier
from core.cli_checks import ArgumentParser
from core.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from core.metrics import frechet_distance
from core.seeds import seeded_noise


@dataclass
class FrechetReference:
    """What every sample-quality benchmark compares against: the classifier, the test set's features
    and the floor (as many training images as samples, a fixed subset, vs the test set)."""

    classifier: torch.nn.Module
    test_images: torch.Tensor  # (10000, 1, 28, 28) in [0, 1]
    test_features: torch.Tensor  # (10000, 128)
    floor_images: torch.Tensor  # (count, 1, 28, 28)
    floor: float


def frechet_reference(classifier_path: str, floor_count: int) -> FrechetReference:
    classifier = load_classifier(classifier_path)
    test_images, _ = load_fashion_mnist("test")
    train_images, _ = load_fashion_mnist("train")
    test_features = features(classifier, test_images)
    floor_images = train_images[torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[:floor_count]]
    return FrechetReference(classifier, test_images, test_features, floor_images,
                            frechet_distance(features(classifier, floor_images), test_features))


def generate_samples(checkpoint: str, count: int, steps: int) -> torch.Tensor:
    """G(seed) for seeds 0..count-1: (count, 1, 28, 28) in [0, 1]."""
    generator = load_generator(checkpoint)
    samples = []
    with torch.no_grad():
        for start in tqdm(range(0, count, 250), desc=f"sampling {checkpoint}"):
            seeds = list(range(start, min(start + 250, count)))
            samples.append(generator.generate(seeded_noise(seeds, generator.image_shape), steps=steps))
    return torch.cat(samples)


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.sample_quality", description=__doc__)
    parser.add_argument("--checkpoint", nargs="+", default=["assets/fashion"], help="generator folders, one row each")
    parser.add_argument("--classifier", default="assets/classifier")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--append", action="store_true", help="keep the earlier rows of the results file")
    args = parser.parse_args(argv)

    reference = frechet_reference(args.classifier, args.samples)
    classifier, test_images, test_features = reference.classifier, reference.test_images, reference.test_features
    floor_subset, fd_floor = reference.floor_images, reference.floor

    rows, notes = [], []
    measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for checkpoint in args.checkpoint:
        samples = generate_samples(checkpoint, args.samples, args.steps)
        fd_samples = frechet_distance(features(classifier, samples), test_features)
        probabilities = torch.softmax(batched(classifier, samples), dim=1)
        histogram = np.bincount(probabilities.argmax(1).numpy(), minlength=10) / len(samples)
        trained = json.loads((Path(checkpoint) / "config.json").read_text()).get("training", {})
        rows.append({"set vs test": f"{args.samples} generated ({args.steps} steps), `{checkpoint}`",
                     "epochs": trained.get("epochs_done", "?"), "training minutes": trained.get("train_minutes", "?"),
                     "Frechet distance": fd_samples, "ratio to floor": fd_samples / fd_floor,
                     "mean classifier confidence": probabilities.max(1).values.mean().item(),
                     "largest / smallest class share": float(histogram.max() / max(histogram.min(), 1e-9)),
                     "mean pixel": samples.mean().item(), "measured": measured})
        share = ", ".join(f"{name} {value:.1%}" for name, value in zip(FASHION_MNIST_CLASSES, histogram))
        notes.append(f"Classes of the samples of `{checkpoint}` (shipped classifier): {share}.")
    rows.append({"set vs test": f"{args.samples} train images (floor)", "epochs": "", "training minutes": "",
                 "Frechet distance": fd_floor, "ratio to floor": 1.0,
                 "mean classifier confidence": torch.softmax(batched(classifier, floor_subset), 1).max(1).values.mean().item(),
                 "largest / smallest class share": "", "mean pixel": floor_subset.float().mean().item(),
                 "measured": measured})
    notes.append(f"Mean pixel of the 10,000 test images: {test_images.float().mean().item():.4f}. A generator whose samples are "
                 "darker than the data on average has learned a biased noise prediction (the L1 loss's per-pixel median).")
    command = "python -m benchmarks.sample_quality" + "".join(f" {a}" for a in (argv if argv is not None else sys.argv[1:]))
    if args.append:
        rows, notes = _with_earlier_rows(rows, notes, args.samples, args.steps)
    write_report("sample_quality", "Sample quality: Frechet distance in classifier features", command, rows, "\n\n".join(notes))


def _with_earlier_rows(rows: list[dict], notes: list[str], samples: int, steps: int) -> tuple[list[dict], list[str]]:
    """Earlier generator rows (same samples and steps, not measured again) first, then the new ones and the floor."""
    previous = RESULTS / "sample_quality.json"
    if not previous.is_file():
        return rows, notes
    earlier = json.loads(previous.read_text())
    prefix = f"{samples} generated ({steps} steps), "
    measured = {row["set vs test"] for row in rows}
    kept = [row for row in earlier["rows"] if row["set vs test"].startswith(prefix) and row["set vs test"] not in measured]
    if not kept:
        return rows, notes
    kept_notes = [note for note in earlier["notes"].split("\n\n")
                  if note.startswith("Classes of the samples of") and any(f"`{_checkpoint(row)}`" in note for row in kept)]
    # rows from before the measured column existed get the date of the file they came from
    kept = [{**row, "measured": row.get("measured", earlier["date"])} for row in kept]
    names = ", ".join(f"`{_checkpoint(row)}`" for row in kept)
    provenance = (f"Rows {names}: earlier runs of this benchmark with the same samples and steps, each on the date in its "
                  f"measured column (`python -m benchmarks.sample_quality --checkpoint FOLDER --append`; a row keeps the "
                  f"date when its folder was later renamed).")
    return kept + rows, [provenance, *kept_notes, *notes]


def _checkpoint(row: dict) -> str:
    return row["set vs test"].rsplit("`", 2)[-2]


if __name__ == "__main__":
    main()
