"""Frechet distance against training time: how sample quality moved over the shipped
generator's epochs (EMA snapshots saved during the run), to judge what more training gives.

    python -m benchmarks.quality_trend runs/fashion_epochs/epoch_* --samples 2000
    python -m benchmarks.quality_trend assets/fashion-10ep --append   # add a row, keep the earlier ones

--append keeps the rows of the previous results file (benchmarks/results/quality_trend.json) whose
checkpoints are not measured again, so snapshots that no longer exist stay in the table.
"""

from __future__ import annotations

import sys
import json
from pathlib import Path

from benchmarks.report import earlier_rows, write_report
from benchmarks.sample_quality import frechet_reference, generate_samples
from core.classifier import features
from core.cli_checks import ArgumentParser
from core.metrics import frechet_distance

def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.quality_trend", description=__doc__)
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--classifier", default="assets/classifier")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--append", action="store_true", help="keep the earlier rows of the results file")
    args = parser.parse_args(argv)
    reference = frechet_reference(args.classifier, args.samples)
    classifier, test_images, test_features, floor = reference.classifier, reference.test_images, reference.test_features, reference.floor
    rows = []
    for path in args.checkpoints:
        training = json.loads((Path(path) / "config.json").read_text()).get("training", {})
        samples = generate_samples(path, args.samples, steps=10)
        distance = frechet_distance(features(classifier, samples), test_features)
        folder = Path(path)
        # a training run's epoch snapshot (runs/RUN/epochs/epoch_NNN) is named with its run
        label = f"{folder.parent.parent.name}/{folder.name}" if folder.parent.name == "epochs" else folder.name
        rows.append({"checkpoint": label, "steps": training.get("steps"), "training minutes": training.get("train_minutes"),
                     "Frechet distance": distance, "ratio to floor": distance / floor,
                     # an eps-network trained with the L1 loss learns the per-pixel median, not the mean that
                     # DDIM needs: its samples come out darker than the data (the notes give the test images' mean)
                     "mean pixel": samples.mean().item()})
        print(rows[-1], flush=True)
    command = " ".join(["python -m benchmarks.quality_trend", *(argv if argv is not None else sys.argv[1:])])
    notes = f"{args.samples} samples (seeds 0-{args.samples - 1}) vs the 10,000 test images; floor: {args.samples} training images vs test = {floor:.3f}; mean pixel of the test images {test_images.float().mean().item():.4f}."
    if args.append:
        kept, earlier_notes = earlier_rows("quality_trend", "checkpoint", {row["checkpoint"] for row in rows}, f"{args.samples} samples")
        rows, notes = kept + rows, f"{earlier_notes} {notes}" if kept else notes
    rows.sort(key=lambda row: row["steps"] or 0)
    write_report("quality_trend", "Sample quality over training", command, rows, notes)

if __name__ == "__main__":
    main()
