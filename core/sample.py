"""Command line: generate images from seed numbers or a seed file.

    python -m core.sample --checkpoint assets/fashion --seeds 0-63 --out grid.png
    python -m core.sample --checkpoint assets/fashion --seed-file seeds.npy --out recon.png --each out/

Everything is checked before the sampling starts (numbers, output paths, the seed count, the
grid size); the grid and the --each files are written together or not at all.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from core.atomic import all_or_nothing, save_image
from core.checkpoint import CONFIG_NAME, WEIGHTS_NAME, load_generator
from core.cli_checks import (IMAGE_OUTPUT_SUFFIXES, MAX_BATCH, MAX_GRID_PIXELS, MAX_SEEDS, MAX_STEPS, ArgumentParser, CLIError,
                             check_count, check_finite, check_output_dir, check_output_file, cli_main, int_range, refuse_overlap)
from core.images import make_grid, to_pil
from core.seed_files import load_seed_file
from core.seeds import count_seed_list, parse_seed_list, seeded_noise

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "fashion"
PIXELS_PER_BATCH = 256 * 64 * 64  # caps the batch for large images (memory), whatever --batch-size says
GRID_PADDING = 2


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m core.sample", description=__doc__)
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="generator folder (config.json + model.safetensors)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--seeds", default="0-63", help=f"seed numbers, e.g. 0-63,100 (at most {MAX_SEEDS:,})")
    source.add_argument("--seed-file", help=".npy or .safetensors file of (N, C, H, W) seeds")
    parser.add_argument("--steps", type=int_range(1, MAX_STEPS), default=10, help="DDIM steps (any number; trained with continuous time)")
    parser.add_argument("--batch-size", type=int_range(1, MAX_BATCH), default=256)
    parser.add_argument("--columns", type=int_range(1, MAX_SEEDS), default=None)
    parser.add_argument("--scale", type=int_range(1, 32), default=2, help="pixel upscaling of the grid")
    parser.add_argument("--out", default="grid.png", help=f"grid image to write ({', '.join(IMAGE_OUTPUT_SUFFIXES)})")
    parser.add_argument("--each", default=None, help="also write one PNG per image into this folder")
    return parser


def grid_pixels(count: int, image_size: int, columns: int | None, scale: int) -> int:
    """Pixels of make_grid's output for `count` square images."""
    columns = columns or math.ceil(math.sqrt(count))
    rows = -(-count // columns)
    return (rows * (image_size + GRID_PADDING) + GRID_PADDING) * (columns * (image_size + GRID_PADDING) + GRID_PADDING) * scale**2


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = check_output_file(args.out, "--out", IMAGE_OUTPUT_SUFFIXES)
    each = check_output_dir(args.each, "--each") if args.each else None
    generator = load_generator(args.checkpoint)
    if args.seed_file:
        noise = load_seed_file(args.seed_file, generator.image_shape, max_count=MAX_SEEDS)
        names = [f"{Path(args.seed_file).stem}_{i:04d}" for i in range(len(noise))]
    else:
        check_count(count_seed_list(args.seeds), MAX_SEEDS, "seeds", "split the list over several runs")  # before expanding
        seeds = parse_seed_list(args.seeds)
        noise, names = seeded_noise(seeds, generator.image_shape), [f"seed{s:06d}" for s in seeds]
    pixels = grid_pixels(len(noise), generator.config.image_size, args.columns, args.scale)
    if pixels > MAX_GRID_PIXELS:
        raise CLIError(f"the grid would have {pixels:,} pixels (limit {MAX_GRID_PIXELS:,}); use fewer seeds or a smaller --scale")
    outputs = [out] + ([each / f"{name}.png" for name in names] if each else [])
    if each and out.resolve() in {path.resolve() for path in outputs[1:]}:  # the --each file would replace the grid
        raise CLIError(f"--out {out} is also the --each file of one image; give the grid another name or --each another folder")
    checkpoint = Path(args.checkpoint)
    refuse_overlap([args.seed_file, checkpoint / CONFIG_NAME, checkpoint / WEIGHTS_NAME], outputs)

    batch = max(1, min(args.batch_size, PIXELS_PER_BATCH // (generator.config.image_size**2 * generator.config.channels)))
    images = []
    with torch.no_grad():
        for start in tqdm(range(0, len(noise), batch), desc="sampling", unit="batch"):
            images.append(generator.generate(noise[start : start + batch], args.steps))
    images = check_finite(torch.cat(images), "the generated images")
    with all_or_nothing():  # the grid and every --each file, or none of them
        save_image(out, make_grid(images, args.columns, padding=GRID_PADDING, scale=args.scale))
        if each:
            for name, image in zip(names, images):
                save_image(each / f"{name}.png", to_pil(image))
    print(f"wrote {len(images)} image{'s' if len(images) > 1 else ''} to {out}" + (f" and {each}/" if each else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
