"""A small Fashion-MNIST CNN: the feature space of the project's Frechet distance, and a
judge of whether generated images look like garments.

    python -m core.classifier --out assets/classifier --epochs 4
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from core.checkpoint import load_matching_state, load_tensors, read_config, save_tensors
from core.atomic import write_json
from core.cli_checks import ArgumentParser, check_output_dir, cli_main, int_range
from core.data import FASHION_MNIST_CLASSES, load_fashion_mnist

CLASSIFIER_KIND = "fashion-classifier"
FEATURE_DIMS = 128


class FashionClassifier(nn.Module):
    """(N, 1, 28, 28) in [0, 1] -> logits (N, 10); `features` gives the (N, 128) penultimate layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),  # 7x7
        )
        self.fc = nn.Linear(64 * 7 * 7, FEATURE_DIMS)
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIMS, len(FASHION_MNIST_CLASSES))

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return F.relu(self.fc(self.conv((images - 0.286) / 0.353).flatten(1)))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(images)))


def save_classifier(model: FashionClassifier, directory: str | Path, extra: dict) -> None:
    directory = Path(directory)
    save_tensors(directory / "model.safetensors", {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()})
    write_json(directory / "config.json", {"kind": CLASSIFIER_KIND, "format_version": 1, **extra})


def load_classifier(directory: str | Path) -> FashionClassifier:
    read_config(directory, CLASSIFIER_KIND)
    model = FashionClassifier()
    load_matching_state(model, load_tensors(Path(directory) / "model.safetensors"), str(directory))
    return model.float().eval().requires_grad_(False)


@torch.no_grad()
def batched(fn, images: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    return torch.cat([fn(images[i : i + batch]) for i in range(0, len(images), batch)])


def accuracy(model: FashionClassifier, images: torch.Tensor, labels: torch.Tensor) -> float:
    return (batched(model, images).argmax(1) == labels).float().mean().item()


def features(model: FashionClassifier, images: torch.Tensor) -> np.ndarray:
    """(N, 1, 28, 28) in [0, 1] -> (N, 128) float64 features for the Frechet distance."""
    return batched(model.features, images).double().numpy()


def train_classifier(epochs: int = 4, batch_size: int = 128, lr: float = 2e-3, seed: int = 0, data_path=None) -> tuple[FashionClassifier, dict]:
    torch.manual_seed(seed)
    train_images, train_labels = load_fashion_mnist("train", data_path)
    test_images, test_labels = load_fashion_mnist("test", data_path)
    model = FashionClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * (len(train_images) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    started = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_images))
        progress = tqdm(range(len(train_images) // batch_size), desc=f"classifier epoch {epoch + 1}/{epochs}")
        for step in progress:
            index = order[step * batch_size : (step + 1) * batch_size]
            images = train_images[index]
            # light augmentation: horizontal flips and 2-pixel shifts
            images = torch.where(torch.rand(len(images), 1, 1, 1) < 0.5, images.flip(-1), images)
            images = torch.roll(images, shifts=tuple(torch.randint(-2, 3, (2,)).tolist()), dims=(2, 3))
            loss = F.cross_entropy(model(images), train_labels[index], label_smoothing=0.05)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            progress.set_postfix(loss=f"{loss.item():.3f}")
        model.eval()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, test_images, test_labels):.4f}")
    model.eval()
    report = {"test_accuracy": round(accuracy(model, test_images, test_labels), 4), "epochs": epochs,
              "train_minutes": round((time.time() - started) / 60, 2), "classes": FASHION_MNIST_CLASSES}
    return model, report


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m core.classifier", description=__doc__)
    parser.add_argument("--out", required=True, help="folder for the classifier (config.json + model.safetensors); the benchmarks "
                        "read assets/classifier, which this replaces if named")
    parser.add_argument("--epochs", type=int_range(1, 1000), default=4, help="training epochs over the 60,000 training images")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST IDX folder (default: the Debian package's)")
    args = parser.parse_args(argv)
    check_output_dir(args.out, "--out")  # before the training, not after it
    model, report = train_classifier(args.epochs, data_path=args.data_path)
    report["command"] = "python -m core.classifier " + " ".join(argv if argv is not None else sys.argv[1:])
    save_classifier(model, args.out, report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
