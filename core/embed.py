"""Command line: embed image files or folders (png, jpg, npy) into seeds of a generator.

    python -m core.embed photo.png shirts/ --out embedded/ --method fixed_point
    python -m core.embed x.npy --out out/ --method gd --seeds-per-image 4 --iterations 300
    python -m core.sample --seed-file out/seeds.npy --out recon.png     # seeds back to images
    torchrun --nproc_per_node 4 -m core.embed big_folder/ --out out/   # sharded over 4 processes

Writes, atomically, per input <name>.seed.npy ((K, C, H, W)) and <name>.png (reconstruction), plus
seeds.npy (best seed of every image, in order), summary.csv and a printed table. A bad file is
reported and skipped; the others are still processed (exit code 1 if any failed). Outputs never
replace an input (checked before any compute), an image whose embedding is not finite is
skipped, and the files of a run appear together or not at all.

Under torchrun (one machine or several), each process reads and embeds a contiguous shard of
the input files; rank 0 gathers the results and writes the same seeds.npy, summary.csv and
per-image files one process would: byte-identical (but the seconds column) with --batch-size 1;
with larger batches a shard groups other images together, which can move the last digits of
seeds that did not converge. Every process must see the inputs at the same paths; the outputs
are written on rank 0's machine.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from core.atomic import all_or_nothing, atomic_path, save_image
from core.checkpoint import load_generator, weights_hash
from core.cli_checks import (MAX_BATCH, MAX_STEPS, ArgumentParser, CLIError, check_output_dir, cli_main, float_range, int_range,
                             refuse_overlap)
from core.embedder import load_embedder, trained_through
from core.embedding import DESCENT_RECIPE, FIXED_POINT_MODES, METHODS, POLISH_RECIPE, REFINE_RECIPE, embed
from core.gradient_embedding import ORIGINAL_RECIPE
from core.image_io import ImageInputError, expand_inputs, load_image_file
from core.inversion_start import load_inversion_start
from core.images import to_pil
from core.sample import DEFAULT_CHECKPOINT
from core.seed_files import save_seed_file

DEFAULT_EMBEDDER = DEFAULT_CHECKPOINT.parent / "embedders" / "fashion-unet"
SEEDS_NAME = "seeds.npy"
SUMMARY_NAME = "summary.csv"
SUMMARY_FIELDS = ["input", "name", "conversion", "mse", "psnr_db", "nfe", "missed_target", "seconds"]
MAX_SEEDS_PER_IMAGE = 256
MAX_ITERATIONS = 100_000


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m core.embed", description=__doc__)
    parser.add_argument("inputs", nargs="+", help="image files (png, jpg, ...), .npy arrays or folders")
    parser.add_argument("--out", required=True, help="output folder (never one holding an input it would overwrite; one holding "
                        "files this run would write needs --overwrite)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an earlier run's results in --out; its images that this run does not write are removed, "
                             "so the folder holds one run")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="generator folder")
    parser.add_argument("--method", choices=METHODS, default="fixed_point")
    parser.add_argument("--embedder", default=None, help=f"embedder folder for network/hybrid (default for network: {DEFAULT_EMBEDDER})")
    parser.add_argument("--seeds-per-image", type=int_range(1, MAX_SEEDS_PER_IMAGE), default=1, help="gd/hybrid: independent seeds per image")
    parser.add_argument("--iterations", type=int_range(1, MAX_ITERATIONS), default=None,
                        help="gd/hybrid descent iterations; fixed_point: the most evaluations per step of each solve (guarded, adaptive: an "
                             "image below --target-psnr is solved again, up to 3 rounds and then by the fixed schedule, so its total "
                             "can exceed 10 x this) or per step (fixed)")
    parser.add_argument("--fixed-point-mode", choices=FIXED_POINT_MODES, default="guarded",
                        help="fixed_point: guarded (default: each image stops each step at its tolerance, tightened by the "
                             "amplification that the steps below it showed, and is checked against --target-psnr; docs/inversion.md), "
                             "adaptive (the same without the amplification guard; more images solved again) or fixed (the original "
                             "schedule: --iterations per step for the whole batch, stopping early only once every image is below 1e-6; "
                             "123 NFE on average)")
    parser.add_argument("--target-psnr", type=float_range(0.0, 200.0, low_open=True), default=40.0,
                        help="guarded and adaptive fixed_point: images below this PSNR are solved again, tighter (summary.csv's missed_target column)")
    parser.add_argument("--x0-start", default="auto",
                        help="guarded and adaptive fixed_point: where the solves start: auto (default: the learned start shipped "
                             "for this generator under assets/inversion-starts, for the first solve (the x0 equation) and, where it "
                             "has them, the seed's and x_{t_1}'s; else naive), naive (eps at the clean image, one evaluation more and "
                             "a slower solve, then the solver's extrapolation: the setting before 2026-12-06) or a start folder "
                             "(python -m core.inversion_start_training)")
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


def _earlier_run_names(out: Path) -> list[str]:
    """The image names in an earlier core.embed run's summary.csv in `out`; none if there is no such file (a csv
    with other columns is someone else's, and names nothing to remove)."""
    try:
        with open(out / SUMMARY_NAME, newline="") as handle:
            reader = csv.DictReader(handle)
            if reader.fieldnames != SUMMARY_FIELDS:
                return []
            names = [row.get("name") or "" for row in reader]
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    return [name for name in names if name and Path(name).name == name and name not in (".", "..")]  # plain names only


def _remove_stale(out: Path, earlier: list[str], written: set[str], inputs: list[Path]) -> None:
    """--overwrite: remove the files of an earlier run's images that this run did not write again; only pairs
    NAME.seed.npy + NAME.png as core.embed writes them, and never an input of this run."""
    protected = {path.resolve() for path in inputs}
    for name in earlier:
        pair = [out / f"{name}.seed.npy", out / f"{name}.png"]
        if name in written or not all(path.is_file() for path in pair) or any(path.resolve() in protected for path in pair):
            continue
        for path in pair:
            path.unlink(missing_ok=True)


def _shard(count: int, rank: int, world: int) -> range:
    """Contiguous block `rank` of `world` over `count` items: concatenated in rank order they are the items in order."""
    return range(count * rank // world, count * (rank + 1) // world)


def _gather(items: list, world: int, everyone: bool) -> list:
    """Concatenate every rank's list in rank order (on every rank, or on rank 0 only: others get [])."""
    if world == 1:
        return items
    parts = [None] * world
    if everyone:
        dist.all_gather_object(parts, items)
    else:
        dist.gather_object(items, parts if dist.get_rank() == 0 else None, dst=0)
        if dist.get_rank() != 0:
            return []
    return [item for part in parts for item in part]


def _load_inputs(args, generator, rank: int = 0, world: int = 1) -> tuple[list[Path], list[tuple[Path, str, str]], dict[int, torch.Tensor], list[str]]:
    """-> (every input file found, [(path, conversion note, output name)] of the usable ones in
    order, {position in that list: image (C, H, W)} for this rank's shard, problems).

    Each rank reads only its shard of the files; what every file gave (a note or an error) is
    shared, so all ranks name the outputs and judge overlaps identically."""
    files, problems = expand_inputs(args.inputs)
    shard = _shard(len(files), rank, world)
    outcomes, images = [], {}
    for index in shard:
        try:
            image, note = load_image_file(files[index], generator.image_shape)
        except ImageInputError as error:
            outcomes.append((index, None, str(error)))
            continue
        outcomes.append((index, note, None))
        images[index] = image
    loaded, positions, taken = [], {}, set()
    for index, note, error in _gather(outcomes, world, everyone=True):
        if error is not None:
            problems.append(error)
        else:
            positions[index] = len(loaded)
            loaded.append((files[index], note, _unique_name(files[index], taken)))
    if rank == 0:
        for problem in problems:
            print(f"skipped: {problem}", file=sys.stderr)
    return files, loaded, {positions[index]: image for index, image in images.items()}, problems


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
                       fixed_point_iterations=args.start_iterations if args.method == "hybrid" else args.iterations or 30,
                       fixed_point_mode=args.fixed_point_mode, fixed_point_target_psnr=args.target_psnr,
                       fixed_point_start=args.fixed_point_start)
        for i in range(len(batch)):  # clones: a view would carry (and gather) its whole batch's storage
            records.append({"seeds": (result.candidates[i] if result.candidates is not None else result.seeds[i : i + 1]).clone(),
                            "seed": result.seeds[i].clone(), "reconstruction": result.reconstructions[i].clone(), "mse": float(result.mse[i]),
                            "psnr": float(result.psnr[i]), "seconds": result.seconds_per_image,
                            "nfe": int(result.nfe_per_image[i]) if result.nfe_per_image is not None else result.nfe,
                            "missed": bool(result.missed[i]) if result.missed is not None else ""})
        if progress is not None:
            progress.update(len(batch))
    return records


def _is_finite(record: dict) -> bool:
    return bool(torch.isfinite(record["seeds"]).all() and torch.isfinite(record["reconstruction"]).all() and math.isfinite(record["mse"]))


def _write_outputs(out: Path, loaded: list, records: list[dict]) -> list[dict]:
    """All files of the run, together or none (core.atomic.all_or_nothing); returns the summary rows."""
    rows = []
    with all_or_nothing():
        for (path, note, name), record in zip(loaded, records):
            save_seed_file(out / f"{name}.seed.npy", record["seeds"])
            save_image(out / f"{name}.png", to_pil(record["reconstruction"]))
            rows.append(dict(zip(SUMMARY_FIELDS, [str(path), name, note, f"{record['mse']:.6f}", f"{record['psnr']:.2f}",
                                                  record["nfe"], record["missed"], f"{record['seconds']:.3f}"])))
        save_seed_file(out / SEEDS_NAME, torch.stack([record["seed"] for record in records]))
        with atomic_path(out / SUMMARY_NAME) as temporary:
            with open(temporary, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=SUMMARY_FIELDS)
                writer.writeheader()
                writer.writerows(rows)
    return rows


def _init_distributed() -> tuple[int, int]:
    """(rank, world size): under torchrun (WORLD_SIZE > 1) join the process group (gloo: the
    tensors gathered are small and on the CPU) and share the cores between the local processes."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group("gloo")
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    return dist.get_rank(), world


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = check_output_dir(args.out, "--out")
    if args.seeds_per_image > 1 and args.method not in ("gd", "hybrid"):
        raise CLIError(f"--seeds-per-image > 1 needs --method gd or hybrid ({args.method} is deterministic)")
    rank, world = _init_distributed()
    try:
        status = _run(args, out, rank, world)
        if world > 1:  # leave together: a rank that tears the group down while rank 0 still writes can abort in gloo
            dist.barrier()  # (a rank that fails instead is stopped with the others by torchrun)
        return status
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _run(args, out: Path, rank: int, world: int) -> int:
    """Embed this rank's shard; rank 0 gathers every record and writes what one process would."""
    generator = load_generator(args.checkpoint)
    if args.x0_start in ("auto", "naive"):
        args.fixed_point_start = "auto" if args.x0_start == "auto" else None
    else:  # a folder: checked to be a start trained for this generator
        args.fixed_point_start = load_inversion_start(args.x0_start, generator)
    # the embedder is loaded (and checked against the generator) only where the method uses it
    uses_embedder = args.method == "network" or (args.method == "hybrid" and args.hybrid_start in ("auto", "network"))
    embedder_path = (args.embedder or (str(DEFAULT_EMBEDDER) if args.method == "network" else None)) if uses_embedder else None
    embedder = load_embedder(embedder_path) if embedder_path else None
    if embedder is not None and embedder.image_shape != generator.image_shape:
        raise CLIError(f"embedder makes seeds {embedder.image_shape}, generator needs {generator.image_shape}")
    if embedder is not None:
        expected, actual = trained_through(embedder_path), weights_hash(args.checkpoint)
        if expected and actual and expected != actual:  # same shapes, other weights: its seeds would silently miss
            raise CLIError(f"{embedder_path} was trained through other generator weights ({expected[:12]}) than "
                           f"{args.checkpoint} ({actual[:12]}); its seeds do not fit this generator: give an --embedder "
                           f"trained for it (python -m core.embedder_training --generator {args.checkpoint}) or another --method")

    files, loaded, images, problems = _load_inputs(args, generator, rank, world)
    if not loaded:
        raise CLIError("no usable input images")
    # Checked before any compute: no output may replace an input (a bad input included).
    outputs = output_paths(out, [item[2] for item in loaded])
    refuse_overlap(files + [Path(p) for p in args.inputs if Path(p).is_file()], outputs)
    existing = [path.name for path in outputs if path.exists()]
    if existing and not args.overwrite:
        raise CLIError(f"{out} already holds {len(existing)} file(s) this run would replace ({', '.join(existing[:3])}"
                       f"{', ...' if len(existing) > 3 else ''}): choose a new --out, or pass --overwrite to replace that run")
    earlier = _earlier_run_names(out) if args.overwrite else []

    mine = sorted(images)  # this rank's positions among the usable images, contiguous
    label = f"embedding ({args.method})" + (f" [rank {rank}/{world}]" if world > 1 else "")
    progress = tqdm(total=len(mine), desc=label, unit="image", disable=rank != 0)
    records = _embed_images(args, generator, embedder, torch.stack([images[i] for i in mine]), progress) if mine else []
    progress.close()
    records = _gather(records, world, everyone=False)
    if rank != 0:
        return 0
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
    _remove_stale(out, earlier, {row["name"] for row in rows}, files)
    print(_table(rows))
    psnr = np.array([float(r["psnr_db"]) for r in rows])
    print(f"{len(rows)} embedded, {len(problems)} skipped; PSNR mean {psnr.mean():.2f} dB, min {psnr.min():.2f} dB; outputs in {out}/")
    missed = [row["name"] for row in rows if row["missed_target"] is True]
    if missed:  # the seeds are written (each the best found), but the guarantee asked for does not hold: say so
        print(f"warning: {len(missed)} image(s) stayed below --target-psnr {args.target_psnr:g} dB after every re-solve: "
              f"{', '.join(missed[:5])}{', ...' if len(missed) > 5 else ''} (their best seeds are written; summary.csv: missed_target)",
              file=sys.stderr)
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
