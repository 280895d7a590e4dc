"""Frechet distance against the number of DDIM steps: how much of a generator's distance to the
data is the 10-step sampler's, and how much the network's.

    python -m benchmarks.sampler_steps --checkpoint assets/fashion-wide assets/fashion --steps 10 20 40 --samples 1000
    python -m benchmarks.sampler_steps --checkpoint assets/fashion-teacher --append   # add rows, keep the other generators'

Every row uses the same seeds (0 .. samples-1). G is defined with 10 steps; more steps follow the
probability-flow ODE more closely and end nearer t = 0, where the last x0 estimate is sharper.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from benchmarks.report import earlier_rows, write_report
from benchmarks.sample_quality import frechet_reference, generate_samples
from core.classifier import batched, features
from core.cli_checks import ArgumentParser
from core.metrics import frechet_distance


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.sampler_steps", description=__doc__)
    parser.add_argument("--checkpoint", nargs="+", default=["assets/fashion"])
    parser.add_argument("--steps", nargs="+", type=int, default=[10, 20, 40])
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--classifier", default="assets/classifier")
    parser.add_argument("--append", action="store_true", help="keep the earlier rows of the generators not measured now")
    args = parser.parse_args(argv)
    reference = frechet_reference(args.classifier, args.samples)
    classifier, test_features, floor = reference.classifier, reference.test_features, reference.floor
    rows = []
    for checkpoint in args.checkpoint:
        training = json.loads((Path(checkpoint) / "config.json").read_text()).get("training", {})
        for steps in args.steps:
            samples = generate_samples(checkpoint, args.samples, steps)
            distance = frechet_distance(features(classifier, samples), test_features)
            rows.append({"generator": f"`{checkpoint}`", "loss": training.get("loss", "?"), "DDIM steps": steps,
                         "Frechet distance": distance, "ratio to floor": distance / floor,
                         "mean classifier confidence": torch.softmax(batched(classifier, samples), 1).max(1).values.mean().item(),
                         "mean pixel": samples.mean().item()})
            print(rows[-1], flush=True)
    command = " ".join(["python -m benchmarks.sampler_steps", *(argv if argv is not None else sys.argv[1:])])
    notes = (f"{args.samples} samples (seeds 0-{args.samples - 1}) vs the 10,000 test images; floor: {args.samples} training "
             f"images vs test = {floor:.3f} (a Frechet distance from fewer samples is biased upwards: compare rows of one table).")
    if args.append:
        kept, earlier_notes = earlier_rows("sampler_steps", "generator", {row["generator"] for row in rows}, f"{args.samples} samples")
        rows, notes = kept + rows, f"{earlier_notes} {notes}" if kept else notes
    write_report("sampler_steps", "Sample quality against the number of DDIM steps", command, rows, notes)


if __name__ == "__main__":
    main()
