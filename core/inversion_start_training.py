"""Training the learned starts of fixed-point inversion (core.inversion_start) for one generator.

1. Targets: the x0 equation of `--images` training images, solved per image to a quarter of the default
   tolerance (core.inversion.solve_x0, about 16 evaluations each; 8,000 images take about 14 minutes on 2
   cores). They are written to the output folder in chunks, so a stopped run keeps what it solved.
2. Training: the start network P regresses the solved eps (mean squared error), Adam with a linear warm-up
   and a cosine decay; every 250 steps the validation MSE on the last `--eval-images` training images
   (held out) picks the best weights.
3. The report: from P's start and from the naive start, the evaluations the x0 solve needs on the
   held-out images at the default tolerance.

4. The upper starts (`--upper-states`, default 0 and 1: the seed's and x_{t_1}'s solves), once the x0 start is
   written: `--upper-images` training images are inverted by the default adaptive solver from the new x0 start
   (saved in chunks, about 14 minutes for 6,000), and a correction network per state regresses the eps at the
   solved state minus the solver's extrapolation, each state's squared error relative to the extrapolation's, on
   the same schedule; the report: each solve's evaluations on the held-out images with and without them. A folder
   that already holds a finished x0 start only gets its upper starts added.

Long runs save a resumable state every few minutes (and on SIGTERM/SIGINT or after --max-steps, then exit
with status 75); the same command continues them.

    python -m core.inversion_start_training --generator assets/fashion --out assets/inversion-starts/fashion
"""

from __future__ import annotations

import json
from dataclasses import replace
import sys
from pathlib import Path
from typing import Callable

import torch
from tqdm import tqdm

from core.checkpoint import load_generator, load_tensors, read_config, save_tensors, weights_hash
from core.cli_checks import ArgumentParser, check_output_dir, cli_main, float_range, int_range, positive_int, refuse_overlap
from core.data import load_dataset
from core.inversion import AMPLIFICATION_POWER, DEFAULT_TOLERANCE, fixed_point_inversion, implied_eps, solve_x0
from core.inversion_start import (INVERSION_START_KIND, InversionStart, InversionStartConfig, load_inversion_start,
                                 save_inversion_start)
from core.refiner_training import learning_rate_factor
from core.training_state import (STATE_FILE, UNFINISHED, add_run_arguments, resume_or_start, run_steps, save_state,
                                 weights_if_best, TrainingProgress, TrainingRun)

TARGETS_FILE = "x0_targets.safetensors"
TRAJECTORIES_FILE = "trajectories.safetensors"
TARGET_TOLERANCE = 0.25  # targets are solved to this fraction of the default tolerance
TARGET_ITERATIONS = 25  # the most evaluations per target solve (they take about 16)
TARGET_BATCH = 200  # images per chunk of target solves
VALIDATE_EVERY = 250


def solve_in_chunks(images: torch.Tensor, path: Path, run: TrainingRun, description: str,
                    solve: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
    """solve(chunk of images) for every TARGET_BATCH images, continuing the chunks saved in `path`; the results
    concatenated, or None if the run was asked to stop first (what was solved is saved)."""
    solved = list(load_tensors(path).values()) if path.is_file() else []
    done = sum(len(chunk) for chunk in solved)
    bar = tqdm(total=len(images), initial=done, desc=description, unit="image")
    while done < len(images):
        if run.requested:
            return None
        chunk = images[done:done + TARGET_BATCH]
        with torch.no_grad():
            solved.append(solve(chunk))
        done += len(chunk)
        save_tensors(path, {f"chunk{i:04d}": t for i, t in enumerate(solved)})
        bar.update(len(chunk))
    bar.close()
    return torch.cat(solved)


def solve_targets(generator, images: torch.Tensor, steps: int, path: Path, run: TrainingRun) -> torch.Tensor | None:
    """eps at the x0 solution of each image (N, C, H, W), fp16, to a quarter of the default tolerance (solve_in_chunks)."""
    def solve(chunk: torch.Tensor) -> torch.Tensor:
        return solve_x0(generator.unet, generator.normalize(chunk), steps,
                        tolerance=TARGET_TOLERANCE * DEFAULT_TOLERANCE, iterations=TARGET_ITERATIONS)[0].half()
    return solve_in_chunks(images, path, run, "solving x0 targets", solve)


def x0_evaluations(generator, start: InversionStart | None, images: torch.Tensor, steps: int) -> torch.Tensor:
    """Evaluations (N,) the x0 solve needs at the default tolerance, from `start` (None: the naive start)."""
    normalized = generator.normalize(images)
    with torch.no_grad():
        return solve_x0(generator.unet, normalized, steps, x0_eps=start(normalized) if start is not None else None)[2]


def training_split(dataset: str, size: int, channels: int, images: int, eval_images: int, flag: str
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """The first `images` training images and the last `eval_images` (held out for validation)."""
    all_images, _ = load_dataset(dataset, "train", image_size=size, channels=channels)
    if images + eval_images > len(all_images):
        raise ValueError(f"{flag} {images} + --eval-images {eval_images} exceed the {len(all_images)} training images")
    return all_images[:images], all_images[-eval_images:]


def adam_with_schedule(parameters, lr: float, steps: int, warmup_steps: int):
    """Adam with a linear warm-up then a cosine decay over `steps` (learning_rate_factor): (optimizer, scheduler)."""
    optimizer = torch.optim.Adam(parameters, lr=lr)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, steps, warmup_steps))


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
    train_images, validation_images = training_split(dataset, size, c, images, eval_images, "--images")
    optimizer, scheduler = adam_with_schedule(start.parameters(), lr, steps, warmup_steps)
    progress, best_state = resume_or_start(state_path, settings, start, optimizer, scheduler, TrainingProgress(
        phase="start", log={"generator": str(generator_path), "parameters": sum(p.numel() for p in start.parameters())}))
    log = progress.log

    def save() -> None:
        progress.elapsed_seconds = run.seconds()
        save_state(state_path, settings, progress, start, optimizer, scheduler, best_state)

    with TrainingRun(max_steps, save_every_minutes, progress.elapsed_seconds) as run:
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
            best_state = weights_if_best(progress, mse, start, log, run, validation_mse=mse) or best_state

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
    log["total_minutes"] = run.minutes()
    log["settings"] = {k: v for k, v in settings.items() if not k.endswith("_weights")}
    save_inversion_start(start, out_dir, {"training": log})
    for leftover in (state_path, out_dir / TARGETS_FILE, out_dir / ("validation_" + TARGETS_FILE)):
        leftover.unlink(missing_ok=True)  # finished: only the start's config and weights stay
    return log


def solve_trajectories(generator, start: InversionStart, images: torch.Tensor, steps: int, path: Path,
                       run: TrainingRun) -> torch.Tensor | None:
    """The states x_{t_0} .. x_{t_{S-1}} of each image's default adaptive inversion from the x0 start (N, S, C, H, W),
    the data of the upper corrections (solve_in_chunks)."""
    def solve(chunk: torch.Tensor) -> torch.Tensor:
        normalized = generator.normalize(chunk)
        inversion = fixed_point_inversion(generator.unet, normalized, steps, amplification_power=AMPLIFICATION_POWER,
                                          x0_eps=start(normalized))
        return torch.stack(inversion.trajectory, 1)
    return solve_in_chunks(images, path, run, "inverting images for the upper starts", solve)


def upper_examples(start: InversionStart, normalized: torch.Tensor, trajectories: torch.Tensor
                   ) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
    """Per upper state j: (the correction's inputs (N, 3C, H, W), its target: eps at the solved x_{t_j} minus the
    extrapolation (N, C, H, W))."""
    states = list(trajectories.unbind(1))
    examples = {}
    for j in start.config.upper_states:
        features, extrapolation = start.upper_features(j, normalized, states)
        examples[j] = (features, implied_eps(j, normalized, states) - extrapolation)
    return examples


def upper_evaluations(generator, start: InversionStart, images: torch.Tensor, steps: int, learned: bool) -> torch.Tensor:
    """Evaluations (N, S) of each solve of the default adaptive inversion from the x0 start, t_{S-1} first, with the
    learned upper starts or the solver's extrapolation."""
    normalized = generator.normalize(images)
    with torch.no_grad():
        return fixed_point_inversion(generator.unet, normalized, steps, amplification_power=AMPLIFICATION_POWER,
                                     x0_eps=start(normalized), eps_guess=start.eps_guess if learned else None).step_nfe


def train_upper_starts(
    generator_path: str, out: str, upper_states: list[int], images: int = 6000, steps: int = 1500, batch: int = 64,
    lr: float = 1e-3, warmup_steps: int = 100, eval_images: int = 200, seed: int = 0, dataset: str = "fashion",
    max_steps: int | None = None, save_every_minutes: float = 5.0,
) -> dict:
    """Add learned warm starts for the solves of `upper_states` (0: the seed at t = 1) to the finished x0 start in `out`
    (or continue: `out` holds an unfinished run with the same settings). Returns the log; log["unfinished"] says where
    a stopped run is."""
    torch.manual_seed(seed)
    generator = load_generator(generator_path)
    out_dir = Path(out)
    finished = load_inversion_start(out_dir, generator)
    existing = read_config(out_dir, INVERSION_START_KIND)
    start = InversionStart(replace(finished.config, upper_states=list(upper_states)))
    start.net.load_state_dict(finished.net.state_dict())
    start.net.requires_grad_(False)
    sampler_steps, (c, size, _) = start.config.steps, generator.image_shape
    settings = {"stage": "upper", "generator_weights": start.config.generator_weights, "upper_states": list(upper_states),
                "images": images, "steps": steps, "batch": batch, "lr": lr, "warmup_steps": warmup_steps,
                "eval_images": eval_images, "seed": seed, "dataset": dataset}
    state_path = out_dir / STATE_FILE
    train_images, validation_images = training_split(dataset, size, c, images, eval_images, "--upper-images")
    optimizer, scheduler = adam_with_schedule(start.upper.parameters(), lr, steps, warmup_steps)
    progress, best_state = resume_or_start(state_path, settings, start, optimizer, scheduler, TrainingProgress(
        phase="upper", log={"parameters": sum(p.numel() for p in start.upper.parameters())}))
    log = progress.log

    def save() -> None:
        progress.elapsed_seconds = run.seconds()
        save_state(state_path, settings, progress, start, optimizer, scheduler, best_state)

    with TrainingRun(max_steps, save_every_minutes, progress.elapsed_seconds) as run:
        trajectories = solve_trajectories(generator, start, train_images, sampler_steps, out_dir / TRAJECTORIES_FILE, run)
        validation_trajectories = solve_trajectories(generator, start, validation_images, sampler_steps,
                                                     out_dir / ("validation_" + TRAJECTORIES_FILE), run)
        if trajectories is None or validation_trajectories is None:
            tqdm.write(f"stopped while inverting images; the same command continues from {out_dir}")
            return {**log, "unfinished": {"step": 0, "state": str(out_dir / TRAJECTORIES_FILE)}}
        train = upper_examples(start, generator.normalize(train_images), trajectories)
        validation = upper_examples(start, generator.normalize(validation_images), validation_trajectories)
        # Each state's loss relative to its extrapolation's (the correction's target), so both states count alike.
        scale = {j: goal.pow(2).mean().item() for j, (_, goal) in train.items()}

        def relative_mse(examples: dict, index: torch.Tensor | slice) -> dict[int, torch.Tensor]:
            return {j: (start.upper[str(j)](features[index]) - goal[index]).pow(2).mean() / scale[j]
                    for j, (features, goal) in examples.items()}

        def keep_best() -> None:
            nonlocal best_state
            start.eval()
            with torch.no_grad():
                ratios = {j: round(value.item() ** 0.5, 4) for j, value in relative_mse(validation, slice(None)).items()}
            start.train()
            total = sum(ratio ** 2 for ratio in ratios.values())
            tqdm.write(f"step {progress.step}: validation error / the extrapolation's, per state {ratios}")
            best_state = weights_if_best(progress, total, start, log, run, validation_error_ratio=ratios) or best_state

        bar = tqdm(total=steps, initial=progress.step, desc="upper starts: error relative to the extrapolation")
        start.train()

        def loss() -> torch.Tensor:
            return sum(relative_mse(train, torch.randint(0, len(train_images), (batch,))).values())

        if not run_steps(run, progress, steps, loss, optimizer, scheduler, bar, VALIDATE_EVERY, keep_best, save):
            tqdm.write(f"stopped at step {progress.step}; the same command continues from {state_path}")
            return {**log, "unfinished": {"step": progress.step, "state": str(state_path)}}
        bar.close()
    start.load_state_dict(best_state)
    start.eval()
    learned = upper_evaluations(generator, start, validation_images, sampler_steps, learned=True)
    extrapolated = upper_evaluations(generator, start, validation_images, sampler_steps, learned=False)
    log["evaluations"] = {f"state {j}": {"learned_mean": round(learned[:, -1 - j].float().mean().item(), 3),
                                         "extrapolated_mean": round(extrapolated[:, -1 - j].float().mean().item(), 3)}
                          for j in upper_states}
    log["evaluations"].update({"all_learned_mean": round(learned.sum(1).float().mean().item(), 3),
                               "all_extrapolated_mean": round(extrapolated.sum(1).float().mean().item(), 3),
                               "images": f"the last {eval_images} training images (held out)"})
    tqdm.write(f"inversion on the held-out images: {log['evaluations']}")
    log["total_minutes"] = run.minutes()
    log["settings"] = {k: v for k, v in settings.items() if not k.endswith("_weights")}
    save_inversion_start(start, out_dir, {"training": existing.get("training"), "upper_training": log})
    for leftover in (state_path, out_dir / TRAJECTORIES_FILE, out_dir / ("validation_" + TRAJECTORIES_FILE)):
        leftover.unlink(missing_ok=True)
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
    parser.add_argument("--upper-states", type=int_range(0, 997), nargs="*", default=[0, 1],
                        help="states x_{t_j} whose solves get a learned warm start too (0: the seed at t = 1, 1: t_1; "
                             "none: the x0 start only)")
    parser.add_argument("--upper-images", type=positive_int, default=6000,
                        help="training images inverted to train the upper starts")
    parser.add_argument("--upper-steps", type=positive_int, default=1500, help="optimizer steps of the upper starts")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    refuse_overlap([Path(args.generator) / name for name in ("config.json", "model.safetensors")],
                   [out / "config.json", out / "model.safetensors"])
    if not (out / "config.json").is_file():  # the x0 start is written last, once it is finished
        log = train_inversion_start(args.generator, args.out, args.images, args.steps, args.batch, args.lr, args.warmup_steps,
                                    args.unet_widths, args.unet_block_depth, args.eval_images, args.sampler_steps, args.seed,
                                    args.dataset, args.max_steps, args.save_every_minutes)
    else:
        log = {"x0 start": f"already trained in {out}"}
    if "unfinished" not in log and args.upper_states:
        finished = load_inversion_start(out)
        if sorted(finished.config.upper_states) == sorted(args.upper_states):
            log["upper starts"] = f"already trained in {out} for states {finished.config.upper_states}"
        else:
            log["upper_training"] = train_upper_starts(args.generator, args.out, args.upper_states, args.upper_images,
                                                       args.upper_steps, args.batch, args.lr, args.warmup_steps,
                                                       args.eval_images, args.seed, args.dataset, args.max_steps,
                                                       args.save_every_minutes)
            if "unfinished" in log["upper_training"]:
                log["unfinished"] = log["upper_training"]["unfinished"]
    log["command"] = "python -m core.inversion_start_training " + " ".join(argv if argv is not None else sys.argv[1:])
    print(json.dumps(log, indent=2))
    return UNFINISHED if "unfinished" in log else 0


if __name__ == "__main__":
    sys.exit(main())
