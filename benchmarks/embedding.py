"""Every embedding method on the same fixed Fashion-MNIST test images (the first N of the test
split): MSE, PSNR, SSIM (scikit-image), seconds per image, network evaluations, and a picture per
method (rows: original, seed, reconstruction). With --nfe-curve, also PSNR (mean and minimum)
against NFE for naive DDIM inversion, the fixed fixed-point schedule and the adaptive solver (plain, guarded, and guarded
from the learned x0 start, with and without the upper starts), as a
table (inversion_nfe.md), a plot (inversion_nfe.png) and the example photos.

    python -m benchmarks.embedding                      # all methods, 500 images (descent from random starts: fewer, stated)
    python -m benchmarks.embedding --methods fixed_point ddim_inversion --images 100
    python -m benchmarks.embedding --methods ddim_inversion fixed_point fixed_point_fixed --nfe-curve

Rows of methods not run are carried over from the previous results file, with the date they were
measured, when they were measured with the same generator weights (the file records each row's
weights hash); rows of other weights are dropped (git history keeps them).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from benchmarks.report import RESULTS, markdown_table, write_report
from core.atomic import atomic_path, save_image
from core.checkpoint import load_generator, weights_hash
from core.cli_checks import ArgumentParser
from core.data import load_fashion_mnist
from core.embedder import load_embedder
from core.embedding import DESCENT_RECIPE, HYBRID_ITERATIONS, POLISH_RECIPE, REFINE_RECIPE, embed
from core.gradient_embedding import ORIGINAL_RECIPE
from core.image_io import load_image_file
from core.images import make_grid, seed_to_display
from core.inversion import DEFAULT_TOLERANCE
from core.inversion_start import shipped_inversion_start
from core.metrics import ssim_per_image

EMBEDDERS = Path("assets/embedders")
EXAMPLES = Path("assets/examples")
TARGET_PSNR = 40.0
GUARDED_LABEL = "fixed_point (guarded, learned starts, 40 dB check; default)"
X0_START_LABEL = "fixed_point (guarded, learned x0 start only, 40 dB check; the default before the upper starts)"
NAIVE_START_LABEL = "fixed_point (guarded, naive x0 start, 40 dB check; the default before the learned start)"
ADAPTIVE_LABEL = "fixed_point (adaptive, naive x0 start, 40 dB check; default before 2026-12-06)"
FIXED_LABEL = "fixed_point (fixed 30 it/step; before)"


def x0_start_only(generator) -> dict:
    """embed() options for the shipped start without its upper corrections, or {} when it has none (nothing to compare)."""
    shipped = shipped_inversion_start(generator)
    return {"fixed_point_start": shipped.x0_only()} if shipped is not None and shipped.config.upper_states else {}


def method_runs(args, generator) -> list[tuple[str, dict, int]]:
    """(label, embed() keyword arguments, number of images) for each benchmarked variant."""
    runs = []
    for name in args.methods:
        if name == "ddim_inversion":
            runs.append(("ddim_inversion", {"method": "ddim_inversion"}, args.images))
        elif name == "fixed_point":
            runs.append((GUARDED_LABEL, {"method": "fixed_point", "fixed_point_mode": "guarded"}, args.images))
            if x0_start_only(generator):
                runs.append((X0_START_LABEL, {"method": "fixed_point", "fixed_point_mode": "guarded", **x0_start_only(generator)},
                             args.images))
            runs.append((NAIVE_START_LABEL, {"method": "fixed_point", "fixed_point_mode": "guarded", "fixed_point_start": None}, args.images))
            runs.append((ADAPTIVE_LABEL, {"method": "fixed_point", "fixed_point_mode": "adaptive", "fixed_point_tolerance": DEFAULT_TOLERANCE,
                                          "fixed_point_start": None}, args.images))
        elif name == "fixed_point_fixed":
            runs.append((FIXED_LABEL, {"method": "fixed_point", "fixed_point_mode": "fixed", "fixed_point_iterations": 30}, args.images))
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


def curve_runs(args, generator) -> list[tuple[str, str, dict]]:
    """(family, setting, embed() keyword arguments) for each point of the PSNR-vs-NFE curve."""
    runs = [("naive DDIM inversion", "10 steps", {"method": "ddim_inversion"})]
    for iterations in args.curve_fixed_iterations:
        runs.append(("fixed schedule (before)", f"{iterations} it/step",
                     {"method": "fixed_point", "fixed_point_mode": "fixed", "fixed_point_iterations": iterations}))
    for scale in args.curve_tolerance_scales:
        runs.append(("adaptive, no check", f"tolerance {scale:g}x",
                     {"method": "fixed_point", "fixed_point_mode": "adaptive", "fixed_point_target_psnr": None,
                      "fixed_point_tolerance": scale * DEFAULT_TOLERANCE, "fixed_point_start": None}))
    for scale in args.curve_check_scales:
        runs.append(("adaptive + 40 dB check", f"tolerance {scale:g}x",
                     {"method": "fixed_point", "fixed_point_mode": "adaptive", "fixed_point_tolerance": scale * DEFAULT_TOLERANCE,
                      "fixed_point_start": None}))
    runs.append(("guarded, no check", "tolerance 1x",
                 {"method": "fixed_point", "fixed_point_mode": "guarded", "fixed_point_target_psnr": None, "fixed_point_start": None}))
    runs.append(("guarded + 40 dB check", "tolerance 1x", {"method": "fixed_point", "fixed_point_mode": "guarded", "fixed_point_start": None}))
    if x0_start_only(generator):
        runs.append(("learned x0 start, guarded, no check", "tolerance 1x",
                     {"method": "fixed_point", "fixed_point_mode": "guarded", "fixed_point_target_psnr": None, **x0_start_only(generator)}))
        runs.append(("learned x0 start, guarded + 40 dB check", "tolerance 1x",
                     {"method": "fixed_point", "fixed_point_mode": "guarded", **x0_start_only(generator)}))
    runs.append(("learned starts, guarded, no check", "tolerance 1x",
                 {"method": "fixed_point", "fixed_point_mode": "guarded", "fixed_point_target_psnr": None}))
    runs.append(("learned starts, guarded + 40 dB check", "tolerance 1x (default)", {"method": "fixed_point", "fixed_point_mode": "guarded"}))
    return runs


def solved_again_note(label: str, checked: dict, first_pass: dict) -> str:
    """Percentiles of NFE per image with the check, and which images it sent back (their NFE differs from the first solve's)."""
    again = checked["nfe"] != first_pass["nfe"]  # the first solve does not depend on the batch
    p50, p90, p99 = np.percentile(checked["nfe"], [50, 90, 99])
    return (f"{label}: NFE per image median {p50:g}, 90th percentile {p90:g}, 99th {p99:g}, max {checked['nfe'].max()}, "
            f"above 30 on {int((checked['nfe'] > 30).sum())}; {int(again.sum())} of {len(again)} images were solved again (their NFE: "
            f"mean {checked['nfe'][again].mean() if again.any() else 0:.1f}), the others {checked['nfe'][~again].mean():.1f} "
            f"on average (max {checked['nfe'][~again].max()}). ")


def evaluate(generator, images: torch.Tensor, options: dict, batch: int, label: str = "") -> dict:
    """Embed in batches; per-image PSNR and NFE, seconds per image, seeds and reconstructions."""
    results = []
    with tqdm(total=len(images), desc=label, unit="image") as bar:
        # the descents take minutes per batch: show where embed() is inside the batch
        def report(done: int, total: int, message: str) -> None:
            bar.set_postfix_str(f"{message} {done}/{total}")

        for start in range(0, len(images), batch):
            bar.set_postfix_str("")  # not the previous batch's last message
            results.append(embed(generator, images[start : start + batch], **options, progress=report))
            bar.update(len(results[-1].seeds))
    nfe = torch.cat([r.nfe_per_image if r.nfe_per_image is not None else torch.full((len(r.seeds),), r.nfe) for r in results])
    return {"seeds": torch.cat([r.seeds for r in results]), "reconstructions": torch.cat([r.reconstructions for r in results]),
            "mse": torch.cat([r.mse for r in results]).numpy(), "psnr": torch.cat([r.psnr for r in results]).numpy(),
            "nfe": nfe.numpy(), "seconds": sum(r.seconds for r in results) / len(images)}


def picture(images: torch.Tensor, seeds: torch.Tensor, reconstructions: torch.Tensor, path: Path, count: int = 10) -> None:
    rows = torch.cat([images[:count], seed_to_display(seeds[:count]), reconstructions[:count]])
    save_image(path, make_grid(rows, columns=min(count, len(images)), scale=3))


def previous_rows(name: str, replaced: set[str], weights: str) -> list[dict]:
    """Rows of the last results file whose method family was not measured now, with their date; only
    rows measured with generator weights `weights` (a row of other weights, or of a file from before
    weights were recorded, describes another generator)."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return []
    data = json.loads(path.read_text())
    row_weights = data.get("generator_weights", {})
    kept = []
    for row in data["rows"]:
        if row["method"].split(" (")[0] in replaced or row_weights.get(row["method"]) != weights:
            continue
        row = dict(row)
        row.setdefault("measured", data["date"])
        row.setdefault("NFE max", row["NFE"])
        row.setdefault(f"images < {TARGET_PSNR:g} dB", "n/a")
        kept.append(row)
    return kept


def main_table(args, generator, test_images: torch.Tensor, stamp: str, cache: dict) -> None:
    rows = []
    for label, options, count in method_runs(args, generator):
        images = test_images[:count]
        measured = cache.get((json.dumps({k: str(v) for k, v in options.items()}, sort_keys=True), count))
        measured = measured or evaluate(generator, images, options, args.batch, label)
        psnr, nfe = measured["psnr"], measured["nfe"]
        rows.append({"method": label, "images": count, "MSE": float(measured["mse"].mean()), "PSNR mean (dB)": float(psnr.mean()),
                     "PSNR min (dB)": float(psnr.min()), f"images < {TARGET_PSNR:g} dB": int((psnr < TARGET_PSNR).sum()),
                     "SSIM": float(ssim_per_image(measured["reconstructions"], images).mean()),
                     "s/image": measured["seconds"], "images/s": 1 / measured["seconds"], "NFE": float(nfe.mean()),
                     "NFE max": int(nfe.max()), "seed std": float(measured["seeds"].std()), "measured": stamp})
        slug = label.split(" (")[0].replace(" ", "_")
        if options.get("hybrid_start") == "fixed_point":
            slug += "_fixed_point_start"
        if options.get("fixed_point_mode") in ("fixed", "adaptive"):  # the default (guarded) keeps the plain name
            slug += "_" + options["fixed_point_mode"]
        elif options.get("method") == "fixed_point" and "fixed_point_start" in options:
            slug += "_naive_start" if options["fixed_point_start"] is None else "_x0_start"
        picture(images, measured["seeds"], measured["reconstructions"], RESULTS / f"embedding_{slug}.png")
        print(rows[-1], flush=True)
    weights = weights_hash(Path(args.checkpoint))
    rows += previous_rows("embedding", {row["method"].split(" (")[0] for row in rows}, weights)
    order = ["network", "ddim_inversion", "fixed_point", "hybrid", "gd"]
    rows.sort(key=lambda row: next((i for i, o in enumerate(order) if row["method"].startswith(o)), len(order)))
    columns = [
        "method", "images", "MSE", "PSNR mean (dB)", "PSNR min (dB)", f"images < {TARGET_PSNR:g} dB", "SSIM", "s/image",
        "images/s", "NFE", "NFE max", "seed std", "measured"]
    rows = [{column: row[column] for column in columns} for row in rows]
    notes = ("Images: the first N test images of Fashion-MNIST (never used in training). Time and NFE count the work to find "
             "the seed, not the final G(z) that every method needs to show its reconstruction (10 evaluations); adaptive "
             "fixed_point uses that G(z) as its check (its time includes it), and counts the checks of images it solves again. "
             "NFE: UNet forward evaluations per image to find the seed, mean and max over the images (descent methods do as "
             "many backward passes too; the network method evaluates only the embedder, and 'network unet-refined' samples the "
             "UNet's seed once, 10, before its refiner's pass: core/refiner.py). PSNR on [0, 1] pixels, capped at "
             "120 dB (MSE floor 1e-12). Rows come from runs on different dates (column 'measured'): compare seconds only "
             "within one date, as the machine's load can differ between runs. "
             "Pictures: benchmarks/results/embedding_*.png (rows: original, seed shown as 0.5 + z/6, reconstruction).")
    write_report("embedding", "Embedding methods on Fashion-MNIST test images", args.command, rows, notes,
                 extra={"generator_weights": {row["method"]: weights for row in rows}})


def nfe_curve(args, generator, test_images: torch.Tensor, cache: dict) -> None:
    images = test_images[: args.curve_images]
    rows, points, by_setting = [], [], {}
    for family, setting, options in curve_runs(args, generator):
        started = time.perf_counter()
        measured = evaluate(generator, images, options, args.batch, f"{family}, {setting}")
        cache[(json.dumps({k: str(v) for k, v in options.items()}, sort_keys=True), len(images))] = measured
        psnr, nfe = measured["psnr"], measured["nfe"]
        rows.append({"method": family, "setting": setting, "images": len(images), "NFE mean": float(nfe.mean()), "NFE max": int(nfe.max()),
                     "PSNR mean (dB)": float(psnr.mean()), "PSNR min (dB)": float(psnr.min()),
                     f"images < {TARGET_PSNR:g} dB": int((psnr < TARGET_PSNR).sum()), "s/image": measured["seconds"]})
        points.append((family, float(nfe.mean()), float(psnr.mean()), float(psnr.min())))
        by_setting[(family, setting)] = measured
        print(rows[-1], f"({time.perf_counter() - started:.0f} s)", flush=True)
    examples = example_rows(args, generator)
    check_notes = ""
    for label, checked, first in (("Default (learned starts, guarded + check)",
                                   ("learned starts, guarded + 40 dB check", "tolerance 1x (default)"),
                                   ("learned starts, guarded, no check", "tolerance 1x")),
                                  ("Learned x0 start only, guarded + check", ("learned x0 start, guarded + 40 dB check", "tolerance 1x"),
                                   ("learned x0 start, guarded, no check", "tolerance 1x")),
                                  ("Guarded + check, naive start", ("guarded + 40 dB check", "tolerance 1x"), ("guarded, no check", "tolerance 1x")),
                                  ("Adaptive + check", ("adaptive + 40 dB check", "tolerance 1x"), ("adaptive, no check", "tolerance 1x"))):
        if checked in by_setting and first in by_setting:
            check_notes += solved_again_note(label, by_setting[checked], by_setting[first])
    notes = (f"The first {len(images)} Fashion-MNIST test images, the same for every row; NFE per image (UNet evaluations to find "
             "the seed; the final G(z) is not counted, as in the table above: the adaptive check is that G(z), and the checks of "
             "images solved again are counted). " + check_notes + "The fixed schedule runs a naive start and N Anderson iterations per step on every "
             "image. Adaptive: each image stops each step at a tolerance on its image-space error (0.008 normalized RMS times a "
             "weight per step, scaled by the factor in 'setting'; core/inversion.py); with the check, images below 40 dB are "
             "solved again, tighter, from the check's forward pass (round 1: only the states at t >= 0.4; at most 3 rounds, "
             "then by the fixed schedule). Guarded (the default since 2026-12-06): adaptive with the amplification guard (each step's "
             "tolerance divided by the square root of the product of the stretches that the solves of the steps below it measured, "
             "at least 0.5; core/inversion.py). Learned start (the default since 2026-12-06, for generators with a start "
             "network shipped under assets/inversion-starts): the guarded solver whose first solve, the x0 equation, starts from a "
             "small network's guess (core/inversion_start.py; its pass is not a generator evaluation and is not counted in NFE, its "
             "time is in s/image) instead of the naive guess, which costs one evaluation; learned starts (the default since "
             "2026-12-07): also the two solves nearest t = 1, the seed's and x_{t_1}'s, start from a learned correction of the "
             "solver's extrapolated eps (core/inversion_start.py, free as well), where the 'x0 start' rows extrapolate; the other "
             "rows start naively. "
             "s/image is wall time on a shared 2-core machine whose load changed during the run; compare NFE. "
             "Plot: benchmarks/results/inversion_nfe.png.\n\n"
             f"Example photos ({EXAMPLES}/*.png), one at a time as the demo does: fixed_point default (learned starts, guarded), the guarded solver from the naive start, and the fixed schedule:\n\n"
             + markdown_table(examples))
    write_report("inversion_nfe", "Fixed-point inversion: PSNR against network evaluations", args.command, rows, notes)
    plot_curve(points, RESULTS / "inversion_nfe.png")


def example_rows(args, generator) -> list[dict]:
    rows = []
    for path in sorted(EXAMPLES.glob("*.png")):
        image, _ = load_image_file(path, generator.image_shape)
        new = embed(generator, image[None], "fixed_point")
        naive = embed(generator, image[None], "fixed_point", fixed_point_start=None)
        old = embed(generator, image[None], "fixed_point", fixed_point_mode="fixed")
        rows.append({"image": path.name, "PSNR (dB)": float(new.psnr[0]), "NFE": new.nfe, "missed 40 dB": bool(new.missed[0]),
                     "PSNR naive start (dB)": float(naive.psnr[0]), "NFE naive start": naive.nfe,
                     "PSNR fixed 30 it/step (dB)": float(old.psnr[0]), "NFE fixed": old.nfe})
    return rows


def plot_curve(points: list[tuple[str, float, float, float]], path: Path) -> None:
    """PSNR mean (filled marks, solid) and minimum (open marks, dashed) against NFE, one colour per family."""
    width, height, left, right, top, bottom = 1000, 560, 70, 330, 40, 60
    max_nfe = max(nfe for _, nfe, _, _ in points) * 1.05
    max_psnr = max(80.0, max(mean for _, _, mean, _ in points) + 5)
    to_x = lambda nfe: left + (width - left - right) * nfe / max_nfe  # noqa: E731
    to_y = lambda db: height - bottom - (height - top - bottom) * db / max_psnr  # noqa: E731
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    for db in range(0, int(max_psnr) + 1, 10):
        draw.line([left - 4, to_y(db), left, to_y(db)], fill="black")
        draw.text((left - 30, to_y(db) - 8), f"{db}", fill="black", font=font)
    for nfe in range(0, int(max_nfe) + 1, 20):
        draw.line([to_x(nfe), height - bottom, to_x(nfe), height - bottom + 4], fill="black")
        draw.text((to_x(nfe) - 8, height - bottom + 6), f"{nfe}", fill="black", font=font)
    draw.line([left, to_y(TARGET_PSNR), width - right, to_y(TARGET_PSNR)], fill=(150, 150, 150))
    draw.line([to_x(30), top, to_x(30), height - bottom], fill=(150, 150, 150))
    draw.text((width - right - 110, to_y(TARGET_PSNR) - 18), "40 dB target", fill=(110, 110, 110), font=font)
    draw.text((to_x(30) + 4, top + 4), "30 NFE", fill=(110, 110, 110), font=font)
    draw.text((left + 150, height - 25), "network evaluations per image (mean)", fill="black", font=font)
    draw.text((8, top - 28), "PSNR (dB): mean (filled, solid), minimum (open, dashed)", fill="black", font=font)
    colours = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189), (255, 127, 14), (140, 86, 75), (227, 119, 194),
               (23, 190, 207)]
    families = list(dict.fromkeys(family for family, *_ in points))
    for index, family in enumerate(families):
        colour = colours[index % len(colours)]
        mine = sorted((nfe, mean, low) for f, nfe, mean, low in points if f == family)
        for column, dashed in ((1, False), (2, True)):
            xy = [(to_x(p[0]), to_y(p[column])) for p in mine]
            for a, b in zip(xy, xy[1:]):
                _line(draw, a, b, colour, dashed)
            for x, y in xy:
                draw.ellipse([x - 4, y - 4, x + 4, y + 4], fill=None if dashed else colour, outline=colour, width=2)
        y = top + 10 + 24 * index
        draw.line([width - right + 15, y + 8, width - right + 40, y + 8], fill=colour, width=3)
        draw.text((width - right + 46, y), family, fill="black", font=font)
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG")


def _line(draw: ImageDraw.ImageDraw, a: tuple[float, float], b: tuple[float, float], colour, dashed: bool) -> None:
    if not dashed:
        draw.line([a, b], fill=colour, width=2)
        return
    length = max(1.0, float(np.hypot(b[0] - a[0], b[1] - a[1])))
    for start in np.arange(0.0, length, 10.0):
        end = min(start + 6.0, length)
        draw.line([(a[0] + (b[0] - a[0]) * start / length, a[1] + (b[1] - a[1]) * start / length),
                   (a[0] + (b[0] - a[0]) * end / length, a[1] + (b[1] - a[1]) * end / length)], fill=colour, width=2)


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.embedding", description=__doc__)
    parser.add_argument("--checkpoint", default="assets/fashion")
    methods = ["network", "ddim_inversion", "fixed_point", "fixed_point_fixed", "hybrid", "gd", "gd_original"]
    parser.add_argument("--methods", nargs="+", choices=methods, default=methods,
                        help="rows to measure (checked before anything is loaded); the others keep their last results")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--hybrid-images", type=int, default=500)
    parser.add_argument("--hybrid-iterations", type=int, default=HYBRID_ITERATIONS)
    parser.add_argument("--polish-start-iterations", type=int, default=3, help="fixed-point iterations per step of the polished hybrid's start")
    parser.add_argument("--gd-images", type=int, default=20, help="our descent from a random start: 12 s per image, so fewer images")
    parser.add_argument("--gd-iterations", type=int, default=200)
    parser.add_argument("--original-images", type=int, default=4, help="the article's recipe: about 2 minutes per image here")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--nfe-curve", action="store_true", help="also the PSNR-vs-NFE table and plot of the inversion methods")
    parser.add_argument("--curve-images", type=int, default=500)
    parser.add_argument("--curve-fixed-iterations", type=int, nargs="+", default=[1, 2, 3, 5, 10, 30])
    parser.add_argument("--curve-tolerance-scales", type=float, nargs="+", default=[4, 2, 1, 0.5])
    parser.add_argument("--curve-check-scales", type=float, nargs="+", default=[1])
    args = parser.parse_args(argv)
    args.command = " ".join(["python -m benchmarks.embedding", *(argv if argv is not None else sys.argv[1:])])
    torch.set_num_threads(2)

    generator = load_generator(args.checkpoint)
    test_images, _ = load_fashion_mnist("test")
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    cache: dict = {}
    if args.nfe_curve:
        nfe_curve(args, generator, test_images, cache)
    main_table(args, generator, test_images, stamp, cache)


if __name__ == "__main__":
    main()
