"""Copy a training run's EMA checkpoint into assets/NAME with its training log and a sample
grid, and write benchmarks/results/shipped.md (the README's table of shipped models).

    python scripts/ship_generator.py runs/fashion fashion "python -m core.train --dataset fashion ..."
"""

import json
import shutil
import sys
from pathlib import Path

import torch

from core.atomic import atomic_path, save_image
from core.checkpoint import load_generator
from core.data import load_dataset
from core.images import make_grid
from core.seeds import seeded_noise
from core.training import TrainConfig, validation_kind, validation_losses

ROOT = Path(__file__).resolve().parent.parent


def ship(run: Path, name: str, command: str, assets: Path = ROOT / "assets") -> None:
    target = assets / name
    target.mkdir(parents=True, exist_ok=True)
    for file in ("config.json", "model.safetensors"):
        shutil.copy2(run / "ema" / file, target / file)
    shutil.copy2(run / "log.jsonl", target / "training_log.jsonl")
    config = json.loads((target / "config.json").read_text())
    config["training"]["command"] = command
    (target / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    generator = load_generator(target)
    _validate_if_stopped_mid_epoch(generator, config["training"], target / "training_log.jsonl")
    with torch.no_grad():
        samples = generator.generate(seeded_noise(list(range(64)), generator.image_shape))
    save_image(target / "samples.png", make_grid(samples, scale=max(1, 112 // generator.config.image_size)))


def _validate_if_stopped_mid_epoch(generator, training: dict, log_path: Path) -> None:
    """A run stopped mid-epoch ships weights newer than its last log record: log their validation loss too."""
    log = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    if log and log[-1]["step"] == training["steps"]:
        return
    count = TrainConfig().val_images  # the first test images, as in training
    images, _ = load_dataset(training["dataset"], "test", None, generator.config.image_size, generator.config.channels)
    record = {"epoch": training["epochs_done"], "step": training["steps"], "train_loss": None,
              "train_minutes": training["train_minutes"], "note": "validation of the shipped weights (stopped mid-epoch)",
              **validation_losses(generator, generator.normalize(images[:count]), validation_kind(training)),
              "val_kind": validation_kind(training)}
    with open(log_path, "a") as file:
        file.write(json.dumps(record) + "\n")


def _loss(value: float | None) -> str:
    return "n/a (mid-epoch)" if value is None else f"{value:.4f}"


def table(assets: Path = ROOT / "assets") -> str:
    """The markdown table of every generator under `assets` that has a training log, and the classifier."""
    rows = ["| model | preset | parameters | epochs | steps | training minutes | final train loss | final val loss (by t: 0-0.2 ... 0.8-1) | command |",
            "|---|---|---|---|---|---|---|---|---|"]
    for config_path in sorted(assets.glob("*/config.json")):
        config = json.loads(config_path.read_text())
        if config.get("kind") != "ddim-generator" or not (config_path.parent / "training_log.jsonl").is_file():
            continue
        log = [json.loads(line) for line in (config_path.parent / "training_log.jsonl").read_text().splitlines() if line.strip()]
        last, training = log[-1], config["training"]
        params = sum(t.numel() for t in load_generator(config_path.parent).unet.parameters())
        by_t = " / ".join(f"{v:.3f}" for v in last["val_loss_by_t"].values())
        rows.append(f"| `assets/{config_path.parent.name}` | {training['preset']} | {params / 1e6:.2f}M | {training['epochs_done']} | "
                    f"{training['steps']} | {training['train_minutes']} | {_loss(last['train_loss'])} | {last['val_loss']:.4f} ({by_t}) | "
                    f"`{training.get('command', '')}` |")
    classifier = assets / "classifier" / "config.json"
    if classifier.is_file():
        report = json.loads(classifier.read_text())
        rows.append(f"\nClassifier `assets/classifier` (feature space of the Frechet distance): test accuracy "
                    f"**{report['test_accuracy']:.2%}** on the 10,000 test images, {report['epochs']} epochs, "
                    f"{report['train_minutes']} minutes: `{report.get('command', 'python -m core.classifier')}`.")
    rows.append("\nTraining logs (one JSON line per epoch, with validation loss per noise level) sit beside the weights as "
                "`training_log.jsonl`; the sample grids as `samples.png`.")
    return "\n".join(rows)


def write_table(root: Path = ROOT) -> str:
    """Rewrite root/benchmarks/results/shipped.md from the folders under root/assets; -> the table."""
    text = table(root / "assets")
    with atomic_path(root / "benchmarks" / "results" / "shipped.md") as temporary:
        temporary.write_text(text + "\n")
    return text


if __name__ == "__main__":
    if len(sys.argv) == 4:
        ship(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
    print(write_table())
