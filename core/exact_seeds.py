"""Exact seeds of training images: z* with G(z*) = x, by adaptive fixed-point inversion.

They are targets for the embedding network (core.embedder_training --exact-seeds): regressing
E(x) onto z* teaches the inverse on *real* images at the cost of a forward pass per step, where
the image-space objective must backpropagate through the 10-step sampler. Measured (docs/embedders.md, "Regressing
the embedder onto exact seeds"): on the default generator this made the shipped UNet embedder worse,
so the option is there for experiments, not in the shipped recipe.

The file grows in chunks (one atomic write each), so a stopped run continues where it was:

    python -m core.exact_seeds --generator assets/fashion --count 20000 --out runs/exact-seeds.safetensors

It holds `seeds` (N, C, H, W) for training images 0 .. N-1 (in load_dataset order), their
reconstruction PSNR (N,) and NFE (N,); its metadata names the generator weights and the settings.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from core.checkpoint import load_generator, load_tensors, read_metadata, save_tensors, weights_hash
from core.cli_checks import ArgumentParser, check_output_file, cli_main, float_range, int_range, refuse_overlap
from core.data import load_dataset
from core.embedding import reconstruct
from core.inversion import DEFAULT_TOLERANCE, fixed_point_inversion
from core.stop_signal import StopSignal


def _settings(generator_path: str, dataset: str, tolerance: float) -> dict:
    return {"generator_weights": weights_hash(generator_path), "dataset": dataset, "tolerance": tolerance, "steps": 10}


def load_exact_seeds(path: str | Path, generator_path: str, dataset: str = "fashion") -> dict[str, torch.Tensor]:
    """The tensors of an exact-seeds file made for these generator weights and this dataset; refuses others."""
    meta = read_metadata(path).get("exact_seeds")
    if meta is None:
        raise ValueError(f"{path} is not an exact-seeds file (python -m core.exact_seeds)")
    settings = json.loads(meta)
    expected = weights_hash(generator_path)
    if settings["generator_weights"] != expected or settings["dataset"] != dataset:
        raise ValueError(f"{path} holds seeds for other weights or data ({settings['dataset']}, weights "
                         f"{settings['generator_weights'][:12]}), not {dataset} with {generator_path} ({expected[:12]})")
    return load_tensors(path)


def compute_exact_seeds(generator_path: str, out: str | Path, count: int, dataset: str = "fashion",
                        tolerance: float = DEFAULT_TOLERANCE, chunk: int = 250) -> dict[str, torch.Tensor]:
    """Seeds of training images 0 .. count-1, continuing the file `out` if it holds fewer for the same settings."""
    generator = load_generator(generator_path)
    c, s, _ = generator.image_shape
    settings = _settings(generator_path, dataset, tolerance)
    out = Path(out)
    done: dict[str, torch.Tensor] = {"seeds": torch.empty(0, c, s, s), "psnr": torch.empty(0), "nfe": torch.empty(0)}
    if out.is_file():
        stored = read_metadata(out).get("exact_seeds")
        if stored is None or json.loads(stored) != settings:
            raise ValueError(f"{out} holds seeds made with other settings or weights: move it away or use another --out")
        done = load_tensors(out)
    images, _ = load_dataset(dataset, "train", image_size=s, channels=c)
    if count > len(images):
        raise ValueError(f"--count {count} is more than the {len(images)} training images")
    first = len(done["seeds"])
    bar = tqdm(total=count, initial=min(first, count), desc="exact seeds", unit="img")
    with StopSignal() as stop, torch.no_grad():
        for start in range(first, count, chunk):
            if stop.requested:
                tqdm.write(f"stopped at {start} images; the same command continues from {out}")
                break
            batch = images[start : min(start + chunk, count)]
            inversion = fixed_point_inversion(generator.unet, generator.normalize(batch), 10, tolerance=tolerance)
            mse = (reconstruct(generator, inversion.seeds) - batch).pow(2).flatten(1).mean(1)
            psnr = -10 * torch.log10(mse.clamp_min(1e-12))
            done = {"seeds": torch.cat([done["seeds"], inversion.seeds]), "psnr": torch.cat([done["psnr"], psnr]),
                    "nfe": torch.cat([done["nfe"], inversion.nfe.float()])}
            save_tensors(out, done, {"exact_seeds": json.dumps(settings)})  # atomic: a stop loses one chunk at most
            bar.update(len(batch))
            bar.set_postfix(psnr_min=f"{done['psnr'].min():.1f}", nfe=f"{done['nfe'].mean():.1f}")
    bar.close()
    return done


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m core.exact_seeds", description=__doc__)
    parser.add_argument("--generator", "--checkpoint", dest="generator", default="assets/fashion",
                        help="generator folder, from the project root (--checkpoint in core.sample, core.embed and core.study)")
    parser.add_argument("--dataset", default="fashion", choices=["fashion", "digits"])
    parser.add_argument("--count", type=int_range(1, 1_000_000), required=True, help="training images 0 .. count-1")
    parser.add_argument("--out", required=True, help="safetensors file; an existing one with the same settings is continued")
    parser.add_argument("--tolerance", type=float_range(0.0, 1.0, low_open=True), default=DEFAULT_TOLERANCE,
                        help="fixed-point tolerance per step (core.inversion)")
    parser.add_argument("--chunk", type=int_range(1, 100_000), default=250, help="images per solve and per save")
    args = parser.parse_args(argv)
    out = check_output_file(args.out, "--out", (".safetensors",))
    refuse_overlap([Path(args.generator) / "model.safetensors"], [out])
    done = compute_exact_seeds(args.generator, out, args.count, args.dataset, args.tolerance, args.chunk)
    print(json.dumps({"images": len(done["seeds"]), "psnr_min": round(float(done["psnr"].min()), 2),
                      "psnr_mean": round(float(done["psnr"].mean()), 2), "nfe_mean": round(float(done["nfe"].mean()), 2)}))
    return 0 if len(done["seeds"]) >= args.count else 75


if __name__ == "__main__":
    sys.exit(main())
