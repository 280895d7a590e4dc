"""Benchmark: where an embedding network's error lies. The mean MSE of G(E(x)) that the embedding
table reports hides how it is spread; this gives the median, the tail and the worst image on the
same benchmark images (the first --images test images), for one or more embedders.

    python -m benchmarks.embedder_tail                                   # the shipped UNet embedder
    python -m benchmarks.embedder_tail assets/embedders/fashion-unet runs/emb-focus runs/emb-uniform
    python -m benchmarks.embedder_tail assets/embedders/fashion-unet-refined --append   # add a row, keep the earlier ones
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from benchmarks.report import earlier_rows, write_report
from core.checkpoint import load_generator
from core.cli_checks import ArgumentParser
from core.data import load_dataset
from core.embedder import load_embedder
from core.embedder_training import per_image_loss
from core.embedding import reconstruct

QUANTILES = {"median": 0.5, "90th pct": 0.9, "99th pct": 0.99}


@torch.no_grad()
def per_image_mse(generator, embedder: torch.nn.Module, images: torch.Tensor, batch: int = 100) -> torch.Tensor:
    """(N,) MSE of G(E(x)) against x for each image x of `images` (N, C, H, W) in [0, 1]."""
    errors = [per_image_loss(reconstruct(generator, embedder(chunk)), chunk, "mse")
              for chunk in tqdm(images.split(batch), desc="G(E(x))", leave=False)]
    return torch.cat(errors)


def error_distribution(errors: torch.Tensor) -> dict[str, float]:
    """Mean, quantiles and worst of per-image errors (N,)."""
    quantiles = torch.quantile(errors.double(), torch.tensor(list(QUANTILES.values()), dtype=torch.float64))
    return {"MSE mean": errors.double().mean().item(), **{name: q.item() for name, q in zip(QUANTILES, quantiles)},
            "worst": errors.max().item(), "worst image": int(errors.argmax())}


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.embedder_tail", description=__doc__)
    parser.add_argument("embedders", nargs="*", default=["assets/embedders/fashion-unet"], help="embedder folders")
    parser.add_argument("--generator", default="assets/fashion")
    parser.add_argument("--images", type=int, default=500, help="the first N Fashion-MNIST test images (the embedding table's)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--append", action="store_true", help="keep the earlier rows of the results file (other embedders)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    generator = load_generator(args.generator)
    images = load_dataset("fashion", "test", image_size=generator.image_shape[-1], channels=generator.image_shape[0])[0][: args.images]
    rows = []
    for folder in args.embedders:
        embedder = load_embedder(folder).eval()
        training = embedder_training_log(folder)
        rows.append({"embedder": f"`{folder}`", "images": len(images),
                     # a refined embedder's log (core.refiner_training) has one phase: "validation_mse"
                     "validation MSE (training)": training.get("phase2_validation_mse", training.get("validation_mse",
                                                                                                   training.get("phase1_validation_mse"))),
                     **error_distribution(per_image_mse(generator, embedder, images))})
    command = "python -m benchmarks.embedder_tail " + " ".join(argv if argv is not None else sys.argv[1:])
    notes = (f"Per-image MSE of G(E(x)) against x on [0, 1] pixels, through `{args.generator}` (10 steps, fp32), on the first "
             f"{len(images)} Fashion-MNIST test images; 'worst image' is its test index. 'validation MSE (training)': the best "
             "phase-2 validation MSE in the embedder's training log (200 held-out training images). A refined embedder "
             "(core/refiner.py) gives E(x) corrected after one sampling of it.")
    if args.append:
        kept, earlier_notes = earlier_rows("embedder_tail", "embedder", {row["embedder"] for row in rows},
                                           f"first {len(images)} Fashion-MNIST test images")
        if kept:  # the notes are the same text: add only where the kept rows came from (earlier_rows' last paragraph)
            rows, notes = kept + rows, f"{notes}\n\n{earlier_notes.rsplit(chr(10) * 2, 1)[-1]}"
    write_report("embedder_tail", "Where the embedding networks' error lies", command.strip(), rows, notes)


def embedder_training_log(folder: str) -> dict:
    """The training log saved in an embedder's config.json ({} if it has none)."""
    return json.loads((Path(folder) / "config.json").read_text()).get("training", {})


if __name__ == "__main__":
    main()
