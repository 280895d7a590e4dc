"""Every embedding method on the same fixed Fashion-MNIST test images (the first N of the test
split): MSE, PSNR, SSIM (scikit-image), seconds per image, network evaluations, and a picture per
method (rows: original, seed, reconstruction).

    python -m benchmarks.embedding                      # all methods, 500 images (descent from random starts: fewer, stated)
    python -m benchmarks.embedding --methods fixed_point ddim_inversion --images 100
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.report import RESULTS, write_report
from core.atomic import save_image
from core.checkpoint import load_generator
from core.data import load_fashion_mnist
from core.embedder import load_embedder
from core.embedding import DESCENT_RECIPE, POLISH_RECIPE, REFINE_RECIPE, embed
from core.gradient_embedding import ORIGINAL_RECIPE
from core.images import make_grid, seed_to_display
from core.metrics import ssim_per_image

EMBEDDERS = Path("assets/embedders")


def method_runs(args) -> list[tuple[str, dict, int]]:
    """(label, embed() keyword arguments, number of images) for each benchmarked variant."""
    runs = []
    for name in args.methods:
        if name == "ddim_inversion":
            runs.append(("ddim_inversion", {"method": "ddim_inversion"}, args.images))
        elif name == "fixed_point":
            runs.append(("fixed_point (30 it/step)", {"method": "fixed_point", "fixed_point_iterations": 30}, args.images))
        elif name == "network":
            for folder in sorted(EMBEDDERS.glob("fashion-*")):
                runs.append((f"network {folder.name.removeprefix('fashion-')}", {"method": "network", "embedder": load_embedder(folder)}, args.images))
        elif name == "hybrid":
            unet = EMBEDDERS / "fashion-unet"
            start = {"embedder": load_embedder(unet)} if unet.is_dir() else {}
            label = "unet" if start else "ddim_inversion"
            runs.append((f"hybrid ({label} + {args.hybrid_iterations} descent it)",
                         {"method": "hybrid", "descent": replace(REFINE_RECIPE, iterations=args.hybrid_iterations), **start}, args.hybrid_images))
            runs.append((f"hybrid (fixed point {args.polish_start_iterations} it/step + {POLISH_RECIPE.iterations} descent it)",
                         {"method": "hybrid", "hybrid_start": "fixed_point", "fixed_point_iterations": args.polish_start_iterations,
                          "descent": POLISH_RECIPE}, args.images))
        elif name == "gd":
            runs.append((f"gd ours ({args.gd_iterations} it, MAE, cosine lr 5e-2)",
                         {"method": "gd", "descent": replace(DESCENT_RECIPE, iterations=args.gd_iterations)}, args.gd_images))
        elif name == "gd_original":
            runs.append((f"gd original recipe ({ORIGINAL_RECIPE.iterations} it)", {"method": "gd", "descent": ORIGINAL_RECIPE}, args.original_images))
        else:
            raise SystemExit(f"unknown method {name}")
    return runs


def picture(images: torch.Tensor, seeds: torch.Tensor, reconstructions: torch.Tensor, path: Path, count: int = 10) -> None:
    rows = torch.cat([images[:count], seed_to_display(seeds[:count]), reconstructions[:count]])
    save_image(path, make_grid(rows, columns=min(count, len(images)), scale=3))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="assets/fashion")
    parser.add_argument("--methods", nargs="+", default=["network", "ddim_inversion", "fixed_point", "hybrid", "gd", "gd_original"])
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--hybrid-images", type=int, default=500)
    parser.add_argument("--hybrid-iterations", type=int, default=30)
    parser.add_argument("--polish-start-iterations", type=int, default=3, help="fixed-point iterations per step of the polished hybrid's start")
    parser.add_argument("--gd-images", type=int, default=20, help="our descent from a random start: 12 s per image, so fewer images")
    parser.add_argument("--gd-iterations", type=int, default=200)
    parser.add_argument("--original-images", type=int, default=4, help="the article's recipe: about 2 minutes per image here")
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args(argv)

    generator = load_generator(args.checkpoint)
    test_images, _ = load_fashion_mnist("test")
    rows = []
    for label, options, count in method_runs(args):
        images = test_images[:count]
        results = [embed(generator, images[i : i + args.batch], **options) for i in range(0, count, args.batch)]
        seeds = torch.cat([r.seeds for r in results])
        reconstructions = torch.cat([r.reconstructions for r in results])
        mse = torch.cat([r.mse for r in results]).numpy()
        psnr = torch.cat([r.psnr for r in results]).numpy()
        seconds = sum(r.seconds for r in results) / count
        rows.append({"method": label, "images": count, "MSE": float(mse.mean()), "PSNR mean (dB)": float(psnr.mean()),
                     "PSNR min (dB)": float(psnr.min()), "SSIM": float(ssim_per_image(reconstructions, images).mean()),
                     "s/image": seconds, "images/s": 1 / seconds, "NFE": results[0].nfe,
                     "seed std": float(seeds.std())})
        slug = label.split(" (")[0].replace(" ", "_")
        if options.get("hybrid_start") == "fixed_point":
            slug += "_fixed_point_start"
        picture(images, seeds, reconstructions, RESULTS / f"embedding_{slug}.png")
        print(rows[-1], flush=True)
    notes = ("Images: the first N test images of Fashion-MNIST (never used in training). Time and NFE count the work to find "
             "the seed, not the final G(z) that every method needs to show its reconstruction (10 evaluations). NFE: UNet forward evaluations per image "
             "to find the seed (descent methods do as many backward passes too; the network method evaluates only the embedder). "
             "PSNR on [0, 1] pixels, capped at 120 dB (MSE floor 1e-12). Pictures: benchmarks/results/embedding_*.png "
             "(rows: original, seed shown as 0.5 + z/6, reconstruction).")
    write_report("embedding", "Embedding methods on Fashion-MNIST test images", " ".join(["python -m benchmarks.embedding", *(argv if argv is not None else sys.argv[1:])]), rows, notes)


if __name__ == "__main__":
    main()
