"""Command line: run the emb(x) study for chosen images and write JSON, figures and a markdown report.

    python -m core.study examples --out assets/study                  # the ten example test images + two photos
    python -m core.study test:0 test:5-7 photo.png --out runs/study    # test-set indices and files
    python -m core.study test:0 --out runs/quick --cloud-size 4 --psnr 25 --no-umap --convergence-seeds 0

Inputs: `test:N` or `test:A-B` (Fashion-MNIST test indices, never seen in training), image or .npy
files, or `examples` (the shipped example images: ten test images, one per class, and two photos).
Writes DIR/study.json, DIR/arrays.npz, DIR/figures/*.png and DIR/report.md (atomically). Each image's
results are also kept in DIR/cache/, so a stopped run, or a rerun with more images or another
--twin, recomputes only what changed.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from pathlib import Path

import torch

from core.checkpoint import load_generator, weights_hash
from core.cli_checks import ArgumentParser, CLIError, check_output_dir, cli_main, float_range, int_range, refuse_overlap
from core.data import load_fashion_mnist
from core.embedder import load_embedder
from core.image_io import load_image_file
from core.photos import lfw_faces, scikit_image_photos
from core.study.clouds import ADAM_CLOUD, CloudConfig
from core.study.report import ARRAYS_NAME, FIGURES_DIR, REPORT_NAME, SUMMARY_NAME, write_study
from core.study.run import StudyConfig, StudyImage, run_study

ASSETS = Path(__file__).resolve().parents[2] / "assets"
DEFAULT_CHECKPOINT = ASSETS / "fashion"
DEFAULT_EMBEDDER = ASSETS / "embedders" / "fashion-unet"
DEFAULT_TWIN = ASSETS / "fashion-small-twin"
# the generator DEFAULT_TWIN was trained to match (same recipe, another initialization)
DEFAULT_TWIN_OF = ASSETS / "fashion-small"
EXAMPLE_PHOTOS = ("ood_astronaut.png", "ood_camera.png")
MAX_IMAGES = 64


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m core.study", description=__doc__)
    parser.add_argument("inputs", nargs="+", help="test:N, test:A-B, image/.npy files, 'examples' (the ten test images and two "
                                                  "photos of assets/examples), 'examples:test' or 'examples:photos'")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT), help="generator folder")
    parser.add_argument("--embedder", default=None, help=f"embedding network folder ('none' to skip; default {DEFAULT_EMBEDDER} if it matches)")
    parser.add_argument("--twin", default=None, help=f"second generator of the same recipe ('none' to skip; default {DEFAULT_TWIN} if present)")
    parser.add_argument("--twin-of", default=None,
                        help="the generator --twin shares its recipe with, when that is not --checkpoint: the independence "
                             f"probe then compares this pair (default: --checkpoint with --twin; {DEFAULT_TWIN_OF} with the default twin)")
    parser.add_argument("--data-path", default=None, help="Fashion-MNIST IDX folder (for test:N inputs and the OOD test images)")
    parser.add_argument("--psnr", type=float_range(1.0, 119.0), nargs="+", default=[30.0, 40.0], help="tolerances as PSNR (dB)")
    parser.add_argument("--cloud-size", type=int_range(2, 256), default=16, help="descent starts per image")
    parser.add_argument("--optimizer", choices=["gauss_newton", "adam"], default=CloudConfig().optimizer,
                        help="the clouds' descent (and the convergence probe's): Gauss-Newton (default) or the article's Adam; "
                             "the 40 dB polish and relaxed paths always use Gauss-Newton")
    parser.add_argument("--iterations", type=int_range(1, 20_000), default=None,
                        help=f"most iterations per cloud seed (default {CloudConfig().iterations} Gauss-Newton, {ADAM_CLOUD.iterations} Adam)")
    parser.add_argument("--convexity-samples", type=int_range(1, 10_000), default=32)
    parser.add_argument("--segment-points", type=int_range(2, 100), default=7)
    parser.add_argument("--convergence-seeds", type=int_range(0, 64), default=4, help="long descents for the convergence probe (0: skip)")
    parser.add_argument("--convergence-iterations", type=int_range(1, 20_000), default=None,
                        help=f"iterations of the convergence probe's descents, run in full (default {StudyConfig().convergence_iterations} "
                             f"Gauss-Newton, {ADAM_CONVERGENCE_ITERATIONS} Adam)")
    parser.add_argument("--ood-test-images", type=int_range(0, 5000), default=200, help="held-out test images for the OOD AUROC (0: skip)")
    parser.add_argument("--ood-photos", type=int_range(0, 219), default=200, help="scikit-image photos + LFW faces for the OOD AUROC (0: skip)")
    parser.add_argument("--random-reference", type=int_range(2, 10_000), default=200, help="N(0, I) seeds for statistics and independence")
    parser.add_argument("--no-umap", action="store_true", help="PCA only (UMAP compiles with numba for ~30 s on first use)")
    parser.add_argument("--steps", type=int_range(1, 1000), default=10)
    parser.add_argument("--no-cache", action="store_true", help="do not keep per-image results in DIR/cache (a rerun then recomputes them)")
    parser.add_argument("--threads", type=int_range(1, 256), default=None, help="torch threads (default: all cores)")
    return parser


def parse_inputs(tokens: list[str], image_shape: tuple[int, int, int], data_path: str | None) -> list[StudyImage]:
    """Turn the command line's inputs into named images; raises CLIError / ImageInputError / DatasetError."""
    items: list[StudyImage] = []
    test_images = None
    for token in tokens:
        if token in ("examples", "examples:test", "examples:photos"):
            folder = ASSETS / "examples"
            tests = sorted(folder.glob("test*.png")) if token != "examples:photos" else []
            photos = [folder / name for name in EXAMPLE_PHOTOS] if token != "examples:test" else []
            for path in tests + photos:
                image, note = load_image_file(path, image_shape)
                kind = "photo" if path.name.startswith("ood_") else "test"
                items.append(StudyImage(path.stem.replace("ood_", "photo_"), image, f"{path.relative_to(ASSETS.parent)} ({note})", kind))
        elif token.startswith("test:"):
            if test_images is None:
                test_images, _ = load_fashion_mnist("test", data_path)
                if tuple(test_images.shape[1:]) != image_shape:
                    raise CLIError(f"test:N inputs are Fashion-MNIST images {tuple(test_images.shape[1:])}; the generator makes {image_shape}")
            for index in _index_range(token[5:], len(test_images)):
                items.append(StudyImage(f"test{index:04d}", test_images[index], f"Fashion-MNIST test image {index}", "test"))
        else:
            path = Path(token)
            image, note = load_image_file(path, image_shape)
            items.append(StudyImage(path.stem, image, f"{path} ({note})", "file"))
    names: dict[str, int] = {}
    for item in items:  # unique names (two files called the same in different folders)
        count = names.get(item.name, 0)
        names[item.name] = count + 1
        if count:
            item.name = f"{item.name}_{count}"
    if not items:
        raise CLIError("no images to study")
    if len(items) > MAX_IMAGES:
        raise CLIError(f"{len(items)} images: the study is limited to {MAX_IMAGES} per run (each costs minutes)")
    return items


def _index_range(text: str, size: int) -> list[int]:
    try:
        if "-" in text:
            low, high = (int(part) for part in text.split("-", 1))
        else:
            low = high = int(text)
    except ValueError:
        raise CLIError(f"bad test index {text!r}: use test:N or test:A-B") from None
    if not 0 <= low <= high < size:
        raise CLIError(f"test indices must be within 0-{size - 1} (and A <= B), got {text!r}")
    return list(range(low, high + 1))


def _optional_model(value: str | None, default: Path, loader, what: str):
    if value is not None and value.lower() == "none":
        return None, None
    path = Path(value) if value else default
    if value is None and not path.exists():
        return None, None
    return loader(path), str(path)


def _twin_of(args, twin_path: str | None):
    """The first half of the independence pair, or (None, None) when it is --checkpoint itself."""
    if twin_path is None:
        if args.twin_of:
            raise CLIError("--twin-of needs a twin (--twin, or the default twin on this machine)")
        return None, None
    if args.twin_of:
        path = Path(args.twin_of)
    elif args.twin is None and DEFAULT_TWIN_OF.is_dir():
        path = DEFAULT_TWIN_OF
    else:
        return None, None
    if path.resolve() == Path(args.checkpoint).resolve():
        return None, None
    return load_generator(path), str(path)


ADAM_CONVERGENCE_ITERATIONS = 1000  # an Adam step costs ~1/20 of a Gauss-Newton iteration


def _cloud_config(optimizer: str, iterations: int | None) -> CloudConfig:
    """The clouds' optimiser with its own default iteration count (an Adam step is ~20x cheaper)."""
    config = ADAM_CLOUD if optimizer == "adam" else CloudConfig()
    return config if iterations is None else dataclasses.replace(config, iterations=iterations)


def _shown(path: str | None) -> str | None:
    """A path as the user would type it from the project root (relative when inside it)."""
    if path is None:
        return None
    resolved = Path(path).resolve()
    root = ASSETS.parent
    return str(resolved.relative_to(root)) if resolved.is_relative_to(root) else str(resolved)


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = check_output_dir(args.out)
    written = [out / name for name in (SUMMARY_NAME, ARRAYS_NAME, REPORT_NAME)] + sorted((out / FIGURES_DIR).glob("*.png"))
    refuse_overlap([t for t in args.inputs if t != "examples" and not t.startswith("test:")], written)
    if args.threads:
        torch.set_num_threads(args.threads)
    generator = load_generator(args.checkpoint)
    embedder, embedder_path = _optional_model(args.embedder, DEFAULT_EMBEDDER, load_embedder, "embedder")
    if embedder is not None and embedder.image_shape != generator.image_shape:
        if args.embedder:
            raise CLIError(f"the embedder makes seeds {embedder.image_shape}, the generator needs {generator.image_shape}")
        embedder, embedder_path = None, None
    twin, twin_path = _optional_model(args.twin, DEFAULT_TWIN, load_generator, "twin")
    twin_of, twin_of_path = _twin_of(args, twin_path)
    if twin is not None and twin.image_shape != (twin_of or generator).image_shape:
        raise CLIError(f"the twin generator makes {twin.image_shape}, the generator it is compared with {(twin_of or generator).image_shape}")
    images = parse_inputs(args.inputs, generator.image_shape, args.data_path)
    ood_in = ood_out = None
    if args.ood_test_images and args.ood_photos and generator.image_shape == (1, 28, 28):
        test_images, _ = load_fashion_mnist("test", args.data_path)
        ood_in = test_images[5000 : 5000 + args.ood_test_images]  # away from the study's own examples (indices < 20)
        photos, _ = scikit_image_photos(generator.image_shape)
        ood_out = torch.cat([photos, lfw_faces(generator.image_shape)])[: args.ood_photos]
    config = StudyConfig(psnr_levels=tuple(sorted(set(args.psnr))), cloud_size=args.cloud_size,
                         cloud=_cloud_config(args.optimizer, args.iterations), convexity_samples=args.convexity_samples,
                         segment_points=args.segment_points, convergence_seeds=args.convergence_seeds,
                         convergence_iterations=args.convergence_iterations or (
                             ADAM_CONVERGENCE_ITERATIONS if args.optimizer == "adam" else StudyConfig().convergence_iterations), random_reference=args.random_reference,
                         umap=not args.no_umap, steps=args.steps)
    result = run_study(generator, images, config, embedder=embedder, twin=twin, twin_of=twin_of, ood_in=ood_in, ood_out=ood_out,
                       cache_dir=None if args.no_cache else out / "cache")
    result.summary.update({"generator": _shown(args.checkpoint), "embedder": _shown(embedder_path), "twin": _shown(twin_path),
                           # which weights: a shipped study is checked against the shipped generator by these
                           "generator_weights": weights_hash(args.checkpoint),
                           "embedder_weights": weights_hash(embedder_path) if embedder_path else None,
                           "twin_of": _shown(twin_of_path or (args.checkpoint if twin is not None else None)),
                           "command": "python -m core.study " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])),
                           "torch_threads": torch.get_num_threads(), "machine": f"{os.cpu_count()} CPU cores"})
    report = write_study(result, out, title="The shape of emb(x)")
    print(f"wrote {report} ({len(images)} images, {result.summary['seconds'] / 60:.1f} minutes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
