"""Sample quality of the shipped Fashion-MNIST generator: Frechet distance in the shipped
classifier's 128-d feature space between 5,000 samples (seeds 0-4999, 10 DDIM steps) and the
10,000 test images, beside the floor (5,000 training images vs the test set).

    python -m benchmarks.sample_quality
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.report import write_report
from core.checkpoint import load_generator
from core.classifier import batched, features, load_classifier
from core.data import FASHION_MNIST_CLASSES, load_fashion_mnist
from core.metrics import frechet_distance
from core.seeds import seeded_noise


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="assets/fashion")
    parser.add_argument("--classifier", default="assets/classifier")
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)

    generator = load_generator(args.checkpoint)
    classifier = load_classifier(args.classifier)
    test_images, _ = load_fashion_mnist("test")
    train_images, _ = load_fashion_mnist("train")
    floor_subset = train_images[torch.randperm(len(train_images), generator=torch.Generator().manual_seed(0))[: args.samples]]

    samples = []
    with torch.no_grad():
        for start in tqdm(range(0, args.samples, 250), desc="sampling"):
            seeds = list(range(start, min(start + 250, args.samples)))
            samples.append(generator.generate(seeded_noise(seeds, generator.image_shape), steps=args.steps))
    samples = torch.cat(samples)

    test_features = features(classifier, test_images)
    fd_samples = frechet_distance(features(classifier, samples), test_features)
    fd_floor = frechet_distance(features(classifier, floor_subset), test_features)
    probabilities = torch.softmax(batched(classifier, samples), dim=1)
    predicted = probabilities.argmax(1)
    histogram = np.bincount(predicted.numpy(), minlength=10) / len(samples)
    rows = [
        {"set vs test": f"{args.samples} generated ({args.steps} steps)", "Frechet distance": fd_samples, "ratio to floor": fd_samples / fd_floor,
         "mean classifier confidence": probabilities.max(1).values.mean().item()},
        {"set vs test": f"{args.samples} train images (floor)", "Frechet distance": fd_floor, "ratio to floor": 1.0,
         "mean classifier confidence": torch.softmax(batched(classifier, floor_subset), 1).max(1).values.mean().item()},
    ]
    class_share = ", ".join(f"{name} {share:.1%}" for name, share in zip(FASHION_MNIST_CLASSES, histogram))


    trained = json.loads((Path(args.checkpoint) / "config.json").read_text()).get("training", {})
    notes = (f"Classes of the generated samples (shipped classifier): {class_share}.\n\n"
             f"Generator: {trained.get('epochs_done', '?')} epochs, {trained.get('steps', '?')} steps, "
             f"{trained.get('train_minutes', '?')} training minutes.")
    write_report("sample_quality", "Sample quality: Frechet distance in classifier features", "python -m benchmarks.sample_quality", rows, notes)


if __name__ == "__main__":
    main()
