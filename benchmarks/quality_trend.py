"""Frechet distance against training time: how sample quality moved over the shipped
generator's epochs (EMA snapshots saved during the run), to judge what more training gives.

    python -m benchmarks.quality_trend runs/fashion_epochs/epoch_* --samples 2000
"""

from __future__ import annotations

import argparse
import sys
import json
from pathlib import Path

import torch

from benchmarks.report import write_report
from core.checkpoint import load_generator
from core.classifier import features, load_classifier
from core.data import load_fashion_mnist
from core.metrics import frechet_distance
from core.seeds import seeded_noise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--classifier", default="assets/classifier")
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args(argv)
    classifier = load_classifier(args.classifier)
    test_images, _ = load_fashion_mnist("test")
    train_images, _ = load_fashion_mnist("train")
    test_features = features(classifier, test_images)
    floor_subset = train_images[torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[: args.samples]]
    floor = frechet_distance(features(classifier, floor_subset), test_features)
    rows = []
    for path in args.checkpoints:
        generator = load_generator(path)
        training = json.loads((Path(path) / "config.json").read_text()).get("training", {})
        with torch.no_grad():
            samples = torch.cat([generator.generate(seeded_noise(list(range(s, min(s + 250, args.samples))), generator.image_shape))
                                 for s in range(0, args.samples, 250)])
        distance = frechet_distance(features(classifier, samples), test_features)
        rows.append({"checkpoint": Path(path).name, "steps": training.get("steps"), "training minutes": training.get("train_minutes"),
                     "Frechet distance": distance, "ratio to floor": distance / floor})
        print(rows[-1], flush=True)
    rows.sort(key=lambda row: row["steps"] or 0)
    notes = f"{args.samples} samples (seeds 0-{args.samples - 1}) vs the 10,000 test images; floor: {args.samples} training images vs test = {floor:.3f}."
    write_report("quality_trend", "Sample quality over training", " ".join(["python -m benchmarks.quality_trend", *(argv if argv is not None else sys.argv[1:])]), rows, notes)


if __name__ == "__main__":
    main()
