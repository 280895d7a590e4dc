"""Command line: embed image files or folders (png, jpg, npy) into seeds of a generator.

    python -m core.embed photo.png shirts/ --out embedded/ --method fixed_point
    python -m core.embed x.npy --out out/ --method gd --seeds-per-image 4 --iterations 300
    python -m core.sample --seed-file out/seeds.npy --out recon.png     # seeds back to images

Writes, atomically, per input <name>.seed.npy ((K, C, H, W)) and <name>.png (reconstruction), plus
seeds.npy (best seed of every image, in order), summary.csv and a printed table. A bad file is
reported and skipped; the others are still processed (exit code 1 if any failed). Outputs never
replace an input (checked before any compute), an image whose embedding is not finite is
skipped, and the files of a run appear together or not at all.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.atomic import all_or_nothing, atomic_path, save_image
from core.checkpoint import load_generator
from core.cli_checks import (MAX_BATCH, MAX_STEPS, ArgumentParser, CLIError, check_output_dir, cli_main, float_range, int_range,
                             refuse_overlap)
from core.embedder import load_embedder
from core.embedding import DESCENT_RECIPE, METHODS, POLISH_RECIPE, REFINE_RECIPE, embed
from core.gradient_embedding import ORIGINAL_RECIPE
from core.image_io import ImageInputError, expand_inputs, load_image_file
from core.images import to_pil
from core.sample import DEFAULT_CHECKPOINT
from core.seed_files import save_seed_file

DEFAULT_EMBEDDER = DEFAULT_CHECKPOINT.parent / "embedders" / "fashion-unet"
SEEDS_NAME = "seeds.npy"
SUMMARY_NAME = "summary.csv"
MAX_SEEDS_PER_IMAGE = 256
MAX_ITERATIONS = 100_000


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m core.embed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="image files (png, jpg, ...), .npy arrays or folders")
    parser.add_argument("--out", required=True, help="output folder (never one holding an input it would overwrite)")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="generator folder")
    parser.add_argument("--method", choices=METHODS, default="fixed_point")
    parser.add_argument("--embedder", default=None, help=f"embedder folder for network/hybrid (default for network: {DEFAULT_EMBEDDER})")
    parser.add_argument("--seeds-per-image", type=int_range(1, MAX_SEEDS_PER_IMAGE), default=1, help="gd/hybrid: independent seeds per image")
    parser.add_argument("--iterations", type=int_range(1, MAX_ITERATIONS), default=None,
                        help="gd/hybrid descent iterations; fixed_point iterations per step")
    parser.add_argument("--recipe", choices=["ours", "original"], default="ours",
                        help="gd settings: ours (MAE, cosine lr 5e-2, 300 it) or the article's (MAE + 0.005 mean z^2, lr 1e-2, 1500 it)")
    parser.add_argument("--hybrid-start", choices=["auto", "network", "ddim_inversion", "fixed_point"], default="auto",
                        help="hybrid: the start (auto = network with --embedder, else DDIM inversion); fixed_point is then polished by small steps")
    parser.add_argument("--start-iterations", type=int_range(1, 1000), default=3, help="hybrid from fixed_point: fixed-point iterations per step")
    parser.add_argument("--lr", type=float_range(0.0, 10.0, low_open=True), default=None, help="descent learning rate")
    parser.add_argument("--target-mse", type=float_range(0.0, 1.0), default=None, help="gd/hybrid: stop when every image is below this MSE")
    parser.add_argument("--steps", type=int_range(1, MAX_STEPS), default=10, help="DDIM steps of the generator")
    parser.add_argument("--batch-size", type=int_range(1, MAX_BATCH), default=32)
    return parser


def _unique_name(path: Path, taken: set[str]) -> str:
    name, counter = path.stem, 1
    while name in taken:
        name, counter = f"{path.stem}_{counter}", counter + 1
    taken.add(name)
    return name


def output_paths(out: Path, names: list[str]) -> list[Path]:
    """Every file a run writes into `out` for images named `names`."""
    return [out / SEEDS_NAME, out / SUMMARY_NAME] + [out / f"{name}{suffix}" for name in names for suffix in (".seed.npy", ".png")]


def _load_inputs(args, generator) -> tuple[list[Path], list[tuple[Path, torch.Tensor, str, str]], list[str]]:
    """-> (every input file found, [(path, image (C, H, W), conversion note, output name)], problems)."""
    files, problems = expand_inputs(args.inputs)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    loaded, taken = [], set()
    for path in files:
        try:
            image, note = load_image_file(path, generator.image_shape)
        except ImageInputError as error:
            problems.append(str(error))
            print(f"skipped: {error}", file=sys.stderr)
            continue
        loaded.append((path, image, note, _unique_name(path, taken)))
    return files, loaded, problems


def _embed_images(args, generator, embedder, images: torch.Tensor, progress: tqdm | None = None) -> list[dict]:
    """Images (N, C, H, W) -> one record per image: every seed found ("seeds", (K, C, H, W)), the best
    ("seed"), the reconstruction, MSE, PSNR, NFE and seconds per image."""
    descent = None
    if args.method in ("gd", "hybrid"):
        if args.method == "gd":
            descent = ORIGINAL_RECIPE if args.recipe == "original" else DESCENT_RECIPE
        else:
            descent = POLISH_RECIPE if args.hybrid_start == "fixed_point" else REFINE_RECIPE
        descent = replace(descent, **{k: v for k, v in {"iterations": args.iterations, "lr": args.lr, "target_mse": args.target_mse}.items() if v is not None})
    records = []
    for start in range(0, len(images), args.batch_size):
        batch = images[start : start + args.batch_size]
        result = embed(generator, batch, args.method, steps=args.steps, seeds_per_image=args.seeds_per_image, embedder=embedder,
                       descent=descent, hybrid_start=args.hybrid_start,
                       fixed_point_iterations=args.start_iterations if args.method == "hybrid" else args.iterations or 30)
        for i in range(len(batch)):
            records.append({"seeds": result.candidates[i] if result.candidates is not None else result.seeds[i : i + 1],
                            "seed": result.seeds[i], "reconstruction": result.reconstructions[i], "mse": float(result.mse[i]),
                            "psnr": float(result.psnr[i]), "nfe": result.nfe, "seconds": result.seconds_per_image})
        if progress is not None:
            progress.update(len(batch))
    return records


def _is_finite(record: dict) -> bool:
    return bool(torch.isfinite(record["seeds"]).all() and torch.isfinite(record["reconstruction"]).all() and math.isfinite(record["mse"]))


def _write_outputs(out: Path, loaded: list, records: list[dict]) -> list[dict]:
    """All files of the run, together or none (core.atomic.all_or_nothing); returns the summary rows."""
    rows = []
    with all_or_nothing():
        for (path, _, note, name), record in zip(loaded, records):
            save_seed_file(out / f"{name}.seed.npy", record["seeds"])
            save_image(out / f"{name}.png", to_pil(record["reconstruction"]))
            rows.append({"input": str(path), "name": name, "conversion": note, "mse": f"{record['mse']:.6f}",
                         "psnr_db": f"{record['psnr']:.2f}", "nfe": record["nfe"], "seconds": f"{record['seconds']:.3f}"})
        save_seed_file(out / SEEDS_NAME, torch.stack([record["seed"] for record in records]))
        with atomic_path(out / SUMMARY_NAME) as temporary:
            with open(temporary, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
    return rows


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = check_output_dir(args.out, "--out")
    if args.seeds_per_image > 1 and args.method not in ("gd", "hybrid"):
        raise CLIError(f"--seeds-per-image > 1 needs --method gd or hybrid ({args.method} is deterministic)")
    generator = load_generator(args.checkpoint)
    embedder_path = args.embedder or (str(DEFAULT_EMBEDDER) if args.method == "network" else None)
    embedder = load_embedder(embedder_path) if embedder_path else None
    if embedder is not None and embedder.image_shape != generator.image_shape:
        raise CLIError(f"embedder makes seeds {embedder.image_shape}, generator needs {generator.image_shape}")

    files, loaded, problems = _load_inputs(args, generator)
    if not loaded:
        raise CLIError("no usable input images")
    # Checked before any compute: no output may replace an input (a bad input included).
    refuse_overlap(files + [Path(p) for p in args.inputs if Path(p).is_file()], output_paths(out, [item[3] for item in loaded]))

    progress = tqdm(total=len(loaded), desc=f"embedding ({args.method})", unit="image")
    records = _embed_images(args, generator, embedder, torch.stack([item[1] for item in loaded]), progress)
    progress.close()
    kept = []
    for item, record in zip(loaded, records):
        if _is_finite(record):
            kept.append((item, record))
        else:
            problems.append(f"{item[0]}: the embedding gave NaN or infinite values")
            print(f"skipped: {problems[-1]}", file=sys.stderr)
    if not kept:
        raise CLIError("no image gave a finite embedding (is the checkpoint sound?); nothing written")
    rows = _write_outputs(out, [item for item, _ in kept], [record for _, record in kept])
    print(_table(rows))
    psnr = np.array([float(r["psnr_db"]) for r in rows])
    print(f"{len(rows)} embedded, {len(problems)} skipped; PSNR mean {psnr.mean():.2f} dB, min {psnr.min():.2f} dB; outputs in {out}/")
    return 1 if problems else 0


def _table(rows: list[dict]) -> str:
    columns = ["name", "conversion", "psnr_db", "mse", "nfe", "seconds"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    buffer = io.StringIO()
    buffer.write("  ".join(c.ljust(widths[c]) for c in columns) + "\n")
    for row in rows:
        buffer.write("  ".join(str(row[c]).ljust(widths[c]) for c in columns) + "\n")
    return buffer.getvalue().rstrip()


if __name__ == "__main__":
    sys.exit(main())
