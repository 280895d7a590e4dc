"""Command line: generate images from seed numbers or a seed file.

    python -m core.sample --checkpoint assets/fashion --seeds 0-63 --out grid.png
    python -m core.sample --checkpoint assets/fashion --seed-file seeds.npy --out recon.png --each out/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from core.atomic import save_image
from core.checkpoint import CheckpointError, load_generator
from core.images import make_grid, to_pil
from core.seed_files import SeedFileError, load_seed_file
from core.seeds import parse_seed_list, seeded_noise

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "assets" / "fashion"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.sample", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="generator folder (config.json + model.safetensors)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--seeds", default="0-63", help="seed numbers, e.g. 0-63,100")
    source.add_argument("--seed-file", help=".npy or .safetensors file of (N, C, H, W) seeds")
    parser.add_argument("--steps", type=int, default=10, help="DDIM steps (any number; trained with continuous time)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--columns", type=int, default=None)
    parser.add_argument("--scale", type=int, default=2, help="pixel upscaling of the grid")
    parser.add_argument("--out", default="grid.png", help="grid image to write")
    parser.add_argument("--each", default=None, help="also write one PNG per image into this folder")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        generator = load_generator(args.checkpoint)
        if args.seed_file:
            noise, names = load_seed_file(args.seed_file, generator.image_shape), None
            names = [f"{Path(args.seed_file).stem}_{i:04d}" for i in range(len(noise))]
        else:
            seeds = parse_seed_list(args.seeds)
            noise, names = seeded_noise(seeds, generator.image_shape), [f"seed{s:06d}" for s in seeds]
        if args.steps < 1 or args.batch_size < 1:
            raise ValueError("--steps and --batch-size must be at least 1")
    except (CheckpointError, SeedFileError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    images = []
    with torch.no_grad():
        for start in tqdm(range(0, len(noise), args.batch_size), desc="sampling", unit="batch"):
            images.append(generator.generate(noise[start : start + args.batch_size], args.steps))
    images = torch.cat(images)
    save_image(args.out, make_grid(images, args.columns, scale=args.scale))
    if args.each:
        for name, image in zip(names, images):
            save_image(Path(args.each) / f"{name}.png", to_pil(image))
    print(f"wrote {len(images)} images to {args.out}" + (f" and {args.each}/" if args.each else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
