"""Command line: embed image files or folders (png, jpg, npy) into seeds of a generator.

    python -m core.embed photo.png shirts/ --out embedded/ --method fixed_point
    python -m core.embed x.npy --out out/ --method gd --seeds-per-image 4 --iterations 300
    python -m core.sample --seed-file out/seeds.npy --out recon.png     # seeds back to images

Writes, atomically, per input <name>.seed.npy ((K, C, H, W)) and <name>.png (reconstruction), plus
seeds.npy (best seed of every image, in order), summary.csv and a printed table. A bad file is
reported and skipped; the others are still processed (exit code 1 if any failed).
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from core.atomic import atomic_path, save_image
from core.checkpoint import CheckpointError, load_generator
from core.embedder import load_embedder
from core.embedding import DESCENT_RECIPE, METHODS, POLISH_RECIPE, REFINE_RECIPE, embed
from core.gradient_embedding import ORIGINAL_RECIPE
from core.image_io import ImageInputError, expand_inputs, load_image_file
from core.images import to_pil
from core.sample import DEFAULT_CHECKPOINT
from core.seed_files import save_seed_file

DEFAULT_EMBEDDER = DEFAULT_CHECKPOINT.parent / "embedders" / "fashion-unet"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.embed", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", help="image files (png, jpg, ...), .npy arrays or folders")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="generator folder")
    parser.add_argument("--method", choices=METHODS, default="fixed_point")
    parser.add_argument("--embedder", default=None, help=f"embedder folder for network/hybrid (default for network: {DEFAULT_EMBEDDER})")
    parser.add_argument("--seeds-per-image", type=int, default=1, help="gd/hybrid: independent seeds per image")
    parser.add_argument("--iterations", type=int, default=None, help="gd/hybrid descent iterations; fixed_point iterations per step")
    parser.add_argument("--recipe", choices=["ours", "original"], default="ours",
                        help="gd settings: ours (MAE, cosine lr 5e-2, 300 it) or the article's (MAE + 0.005 mean z^2, lr 1e-2, 1500 it)")
    parser.add_argument("--hybrid-start", choices=["auto", "network", "ddim_inversion", "fixed_point"], default="auto",
                        help="hybrid: the start (auto = network with --embedder, else DDIM inversion); fixed_point is then polished by small steps")
    parser.add_argument("--start-iterations", type=int, default=3, help="hybrid from fixed_point: fixed-point iterations per step")
    parser.add_argument("--lr", type=float, default=None, help="descent learning rate")
    parser.add_argument("--target-mse", type=float, default=None, help="gd/hybrid: stop when every image is below this MSE")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps of the generator")
    parser.add_argument("--batch-size", type=int, default=32)
    return parser


def _unique_name(path: Path, taken: set[str]) -> str:
    name, counter = path.stem, 1
    while name in taken:
        name, counter = f"{path.stem}_{counter}", counter + 1
    taken.add(name)
    return name


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        generator = load_generator(args.checkpoint)
        embedder_path = args.embedder or (str(DEFAULT_EMBEDDER) if args.method == "network" else None)
        embedder = load_embedder(embedder_path) if embedder_path else None
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if embedder is not None and embedder.image_shape != generator.image_shape:
        print(f"error: embedder makes seeds {embedder.image_shape}, generator needs {generator.image_shape}", file=sys.stderr)
        return 2
    for flag, value in (("--steps", args.steps), ("--batch-size", args.batch_size), ("--seeds-per-image", args.seeds_per_image)):
        if value < 1:
            print(f"error: {flag} must be at least 1", file=sys.stderr)
            return 2
    if args.iterations is not None and args.iterations < 1:
        print("error: --iterations must be at least 1", file=sys.stderr)
        return 2
    if args.seeds_per_image > 1 and args.method not in ("gd", "hybrid"):
        print(f"error: --seeds-per-image > 1 needs --method gd or hybrid ({args.method} is deterministic)", file=sys.stderr)
        return 2

    files, problems = expand_inputs(args.inputs)
    for problem in problems:
        print(f"skipped: {problem}", file=sys.stderr)
    loaded, notes, names, taken = [], [], [], set()
    for path in files:
        try:
            image, note = load_image_file(path, generator.image_shape)
        except ImageInputError as error:
            problems.append(str(error))
            print(f"skipped: {error}", file=sys.stderr)
            continue
        loaded.append((path, image))
        notes.append(note)
        names.append(_unique_name(path, taken))
    if not loaded:
        print("error: no usable input images", file=sys.stderr)
        return 2

    descent = None
    if args.method in ("gd", "hybrid"):
        if args.method == "gd":
            descent = ORIGINAL_RECIPE if args.recipe == "original" else DESCENT_RECIPE
        else:
            descent = POLISH_RECIPE if args.hybrid_start == "fixed_point" else REFINE_RECIPE
        descent = replace(descent, **{k: v for k, v in {"iterations": args.iterations, "lr": args.lr, "target_mse": args.target_mse}.items() if v is not None})
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, best_seeds = [], []
    progress = tqdm(total=len(loaded), desc=f"embedding ({args.method})", unit="image")
    for start in range(0, len(loaded), args.batch_size):
        batch = loaded[start : start + args.batch_size]
        images = torch.stack([image for _, image in batch])
        result = embed(generator, images, args.method, steps=args.steps, seeds_per_image=args.seeds_per_image, embedder=embedder,
                       descent=descent, hybrid_start=args.hybrid_start,
                       fixed_point_iterations=args.start_iterations if args.method == "hybrid" else args.iterations or 30)
        for i, (path, _) in enumerate(batch):
            name = names[start + i]
            seeds = result.candidates[i] if result.candidates is not None else result.seeds[i : i + 1]
            save_seed_file(out / f"{name}.seed.npy", seeds)
            save_image(out / f"{name}.png", to_pil(result.reconstructions[i]))
            best_seeds.append(result.seeds[i])
            rows.append({"input": str(path), "name": name, "conversion": notes[start + i], "mse": f"{result.mse[i]:.6f}",
                         "psnr_db": f"{result.psnr[i]:.2f}", "nfe": result.nfe, "seconds": f"{result.seconds_per_image:.3f}"})
        progress.update(len(batch))
    progress.close()
    save_seed_file(out / "seeds.npy", torch.stack(best_seeds))
    with atomic_path(out / "summary.csv") as temporary:
        with open(temporary, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
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
