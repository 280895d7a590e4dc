"""Training the learned start of fixed-point inversion's x0 solve (core.inversion_start) for one generator.

1. Targets: the x0 equation of `--images` training images, solved per image to a quarter of the default
   tolerance (core.inversion.solve_x0, about 16 evaluations each; 8,000 images take about 14 minutes on 2
   cores). They are written to the output folder in chunks, so a stopped run keeps what it solved.
2. Training: the start network P regresses the solved eps (mean squared error), Adam with a linear warm-up
   and a cosine decay; every 250 steps the validation MSE on the last `--eval-images` training images
   (held out) picks the best weights.
3. The report: from P's start and from the naive start, the evaluations the x0 solve needs on the
   held-out images at the default tolerance.

Long runs save a resumable state every few minutes (and on SIGTERM/SIGINT or after --max-steps, then exit
with status 75); the same command continues them.

    python -m core.inversion_start_training --generator assets/fashion --out assets/inversion-starts/fashion
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from core.checkpoint import load_generator, load_tensors, save_tensors, weights_hash
from core.cli_checks import ArgumentParser, check_output_dir, cli_main, float_range, int_range, positive_int, refuse_overlap
from core.data import load_dataset
from core.inversion import DEFAULT_TOLERANCE, solve_x0
from core.inversion_start import InversionStart, InversionStartConfig, save_inversion_start
from core.refiner_training import learning_rate_factor
from core.training_state import (STATE_FILE, UNFINISHED, add_run_arguments, resume_or_start, run_steps, save_state,
                                 TrainingProgress, TrainingRun)

TARGETS_FILE = "x0_targets.safetensors"
TARGET_TOLERANCE = 0.25  # targets are solved to this fraction of the default tolerance
TARGET_ITERATIONS = 25  # the most evaluations per target solve (they take about 16)
TARGET_BATCH = 200  # images per chunk of target solves
VALIDATE_EVERY = 250


def solve_targets(generator, images: torch.Tensor, steps: int, path: Path, run: TrainingRun) -> torch.Tensor | None:
    """eps at the x0 solution of each normalized image (N, C, H, W), fp16, continuing the chunks saved in `path`;
    None if the run was asked to stop first (what was solved is saved)."""
    solved = list(load_tensors(path).values()) if path.is_file() else []
    done = sum(len(chunk) for chunk in solved)
    bar = tqdm(total=len(images), initial=done, desc="solving x0 targets", unit="image")
    while done < len(images):
        if run.requested:
            return None
        chunk = images[done:done + TARGET_BATCH]
        with torch.no_grad():
            eps, _, _ = solve_x0(generator.unet, generator.normalize(chunk), steps,
                                 tolerance=TARGET_TOLERANCE * DEFAULT_TOLERANCE, iterations=TARGET_ITERATIONS)
        solved.append(eps.half())
        done += len(chunk)
        save_tensors(path, {f"chunk{i:04d}": t for i, t in enumerate(solved)})
        bar.update(len(chunk))
    bar.close()
    return torch.cat(solved)


def x0_evaluations(generator, start: InversionStart | None, images: torch.Tensor, steps: int) -> torch.Tensor:
    """Evaluations (N,) the x0 solve needs at the default tolerance, from `start` (None: the naive start)."""
    normalized = generator.normalize(images)
    with torch.no_grad():
        return solve_x0(generator.unet, normalized, steps, x0_eps=start(normalized) if start is not None else None)[2]


def train_inversion_start(
    generator_path: str, out: str, images: int = 8000, steps: int = 3000, batch: int = 64, lr: float = 1e-3,
    warmup_steps: int = 100, unet_widths: list[int] | None = None, unet_block_depth: int = 1, eval_images: int = 200,
    sampler_steps: int = 10, seed: int = 0, dataset: str = "fashion", max_steps: int | None = None,
    save_every_minutes: float = 5.0,
) -> dict:
    """Solve the targets and train the start (or continue: `out` holds an unfinished run with the same settings);
    writes the start to `out`. Returns the training log; log["unfinished"] says where a stopped run is."""
    torch.manual_seed(seed)
    generator = load_generator(generator_path)
    c, size, _ = generator.image_shape
    widths = list(unet_widths or InversionStartConfig().unet_widths)
    config = InversionStartConfig(channels=c, image_size=size, unet_widths=widths,
                                  unet_block_depth=unet_block_depth, steps=sampler_steps,
                                  generator_weights=weights_hash(generator_path))
    start = InversionStart(config)
    settings = {"generator_weights": config.generator_weights, "images": images, "steps": steps, "batch": batch, "lr": lr,
                "warmup_steps": warmup_steps, "unet_widths": config.unet_widths, "unet_block_depth": unet_block_depth,
                "eval_images": eval_images, "sampler_steps": sampler_steps, "seed": seed, "dataset": dataset}
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    state_path = out_dir / STATE_FILE
    all_images, _ = load_dataset(dataset, "train", image_size=size, channels=c)
    if images + eval_images > len(all_images):
        raise ValueError(f"--images {images} + --eval-images {eval_images} exceed the {len(all_images)} training images")
    train_images, validation_images = all_images[:images], all_images[-eval_images:]
    optimizer = torch.optim.Adam(start.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, steps, warmup_steps))
    progress, best_state = resume_or_start(state_path, settings, start, optimizer, scheduler, TrainingProgress(
        phase="start", log={"generator": str(generator_path), "parameters": sum(p.numel() for p in start.parameters())}))
    log, earlier_seconds = progress.log, progress.elapsed_seconds

    def minutes() -> float:
        return round((earlier_seconds + time.time() - run.started) / 60, 2)

    def save() -> None:
        progress.elapsed_seconds = earlier_seconds + time.time() - run.started
        save_state(state_path, settings, progress, start, optimizer, scheduler, best_state)

    with TrainingRun(max_steps, save_every_minutes) as run:
        targets = solve_targets(generator, train_images, sampler_steps, out_dir / TARGETS_FILE, run)
        validation_targets = solve_targets(generator, validation_images, sampler_steps, out_dir / ("validation_" + TARGETS_FILE),
                                           run)
        if targets is None or validation_targets is None:
            tqdm.write(f"stopped while solving targets; the same command continues from {out_dir}")
            return {**log, "unfinished": {"step": 0, "state": str(out_dir / TARGETS_FILE)}}
        normalized_train, normalized_validation = generator.normalize(train_images), generator.normalize(validation_images)

        def keep_best() -> None:
            nonlocal best_state
            start.eval()
            with torch.no_grad():
                mse = (start(normalized_validation) - validation_targets.float()).pow(2).mean().item()
            start.train()
            tqdm.write(f"step {progress.step}: validation MSE {mse:.5f}")
            if progress.best_mse is None or mse < progress.best_mse:
                progress.best_mse, best_state = mse, {k: v.clone() for k, v in start.state_dict().items()}
                log["best_step"], log["validation_mse"], log["total_minutes"] = progress.step, mse, minutes()

        bar = tqdm(total=steps, initial=progress.step, desc="inversion start: MSE to the solved eps")
        start.train()

        def loss() -> torch.Tensor:
            index = torch.randint(0, len(train_images), (batch,))
            return (start(normalized_train[index]) - targets[index].float()).pow(2).mean()

        if not run_steps(run, progress, steps, loss, optimizer, scheduler, bar, VALIDATE_EVERY, keep_best, save):
            tqdm.write(f"stopped at step {progress.step}; the same command continues from {state_path}")
            return {**log, "unfinished": {"step": progress.step, "state": str(state_path)}}
        bar.close()
    start.load_state_dict(best_state)
    start.eval()
    learned = x0_evaluations(generator, start, validation_images, sampler_steps)
    naive = x0_evaluations(generator, None, validation_images, sampler_steps)
    log["x0_evaluations"] = {"learned_mean": round(learned.float().mean().item(), 3), "learned_max": int(learned.max()),
                             "naive_mean": round(naive.float().mean().item(), 3), "naive_max": int(naive.max()),
                             "images": f"the last {eval_images} training images (held out)"}
    tqdm.write(f"x0 solve on the held-out images: {log['x0_evaluations']}")
    log["total_minutes"] = minutes()
    log["settings"] = {k: v for k, v in settings.items() if not k.endswith("_weights")}
    save_inversion_start(start, out_dir, {"training": log})
    for leftover in (state_path, out_dir / TARGETS_FILE, out_dir / ("validation_" + TARGETS_FILE)):
        leftover.unlink(missing_ok=True)  # finished: only the start's config and weights stay
    return log


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m core.inversion_start_training", description=__doc__)
    parser.add_argument("--generator", "--checkpoint", dest="generator", default="assets/fashion", help="generator folder")
    parser.add_argument("--out", required=True,
                        help="folder of the start (and of the targets and resumable state while it trains)")
    parser.add_argument("--dataset", default="fashion", choices=["fashion", "digits"])
    parser.add_argument("--images", type=positive_int, default=8000, help="training images whose x0 equation is solved")
    parser.add_argument("--steps", type=positive_int, default=3000, help="optimizer steps")
    parser.add_argument("--batch", type=int_range(1, 65_536), default=64)
    parser.add_argument("--lr", type=float_range(0.0, 1.0, low_open=True), default=1e-3)
    parser.add_argument("--warmup-steps", type=int_range(0, 1_000_000), default=100)
    parser.add_argument("--unet-widths", type=int_range(1, 1024), nargs="+", default=None,
                        help=f"channels per level (default {InversionStartConfig().unet_widths})")
    parser.add_argument("--unet-block-depth", type=int_range(1, 8), default=1, help="residual blocks per level")
    parser.add_argument("--eval-images", type=int_range(1, 10_000), default=200, help="training images held out for validation")
    parser.add_argument("--sampler-steps", type=int_range(2, 1000), default=10,
                        help="the sampler steps whose x0 equation it learns")
    parser.add_argument("--seed", type=int_range(0, 2**31 - 1), default=0)
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    refuse_overlap([Path(args.generator) / name for name in ("config.json", "model.safetensors")],
                   [out / "config.json", out / "model.safetensors"])
    log = train_inversion_start(args.generator, args.out, args.images, args.steps, args.batch, args.lr, args.warmup_steps,
                                args.unet_widths, args.unet_block_depth, args.eval_images, args.sampler_steps, args.seed,
                                args.dataset, args.max_steps, args.save_every_minutes)
    log["command"] = "python -m core.inversion_start_training " + " ".join(argv if argv is not None else sys.argv[1:])
    print(json.dumps(log, indent=2))
    return UNFINISHED if "unfinished" in log else 0


if __name__ == "__main__":
    sys.exit(main())
