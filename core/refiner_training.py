"""Training the refiner R of a refined embedder (core.refiner) through the frozen generator.

Each step draws training images x, computes z1 = E(x) and G(z1) without gradients (E and G are
frozen), and minimises the squared error of G(z1 + R(x, G(z1) - x, z1)) against x, backpropagating
through the 10-step sampler into R only. R starts as "no correction", so the refined embedder starts
at E's validation error and the best validated weights are kept. Linear warm-up, then a cosine decay
of the rate. Long runs save a resumable state every few minutes (and on SIGTERM/SIGINT or after
--max-steps, then exit with status 75); the same command continues them exactly.

    python -m core.refiner_training --base assets/embedders/fashion-unet --generator assets/fashion \\
        --out assets/embedders/fashion-unet-refined --steps 1500
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import torch
from tqdm import tqdm

from core.checkpoint import load_generator, weights_hash
from core.cli_checks import (ArgumentParser, check_output_dir, cli_main, float_range, int_range, positive_int, refuse_overlap)
from core.data import load_dataset
from core.embedder import Embedder, load_embedder, trained_through
from core.embedder_training import evaluate
from core.gradient_embedding import generate_differentiable
from core.refiner import RefinedEmbedder, Refiner, RefinerConfig, save_refined_embedder
from core.training_state import (STATE_FILE, UNFINISHED, add_run_arguments, resume_or_start, run_steps, save_state,
                                 weights_if_best, TrainingProgress, TrainingRun)

VALIDATE_EVERY = 100  # steps between validations (200 images: about 25 s here)


def learning_rate_factor(step: int, steps: int, warmup_steps: int) -> float:
    """The rate's factor at `step`: linear warm-up over `warmup_steps`, then a cosine decay to 0 at `steps`."""
    warmup = min(1.0, (step + 1) / warmup_steps) if warmup_steps else 1.0
    return warmup * 0.5 * (1 + math.cos(math.pi * min(step, steps) / steps))


def train_refiner(
    generator_path: str, base_path: str, out: str, steps: int = 1500, batch: int = 16, lr: float = 2e-4,
    warmup_steps: int = 50, unet_widths: list[int] | None = None, unet_block_depth: int = 1, eval_images: int = 200,
    seed: int = 0, dataset: str = "fashion", checkpointing: bool = False, max_steps: int | None = None,
    save_every_minutes: float = 5.0,
) -> dict:
    """Train (or continue: `out` holds the state of an unfinished run with the same settings) the refiner of the
    plain embedder at `base_path` for the generator at `generator_path`; writes the refined embedder to `out`.

    Returns the training log; log["unfinished"] says where a stopped run is. Model selection uses the last
    `eval_images` training images, held out (the test split stays untouched for benchmarks)."""
    torch.manual_seed(seed)
    generator = load_generator(generator_path)
    base = load_embedder(base_path)
    if not isinstance(base, Embedder):
        raise ValueError(f"{base_path} is a refined embedder already; refine a plain one")
    if trained_through(base_path) and trained_through(base_path) != weights_hash(generator_path):
        raise ValueError(f"{base_path} was trained through other generator weights ({trained_through(base_path)[:12]}) than "
                         f"{generator_path} ({weights_hash(generator_path)[:12]}): its seeds are not worth refining for it")
    config = RefinerConfig(unet_widths=list(unet_widths or RefinerConfig().unet_widths), unet_block_depth=unet_block_depth)
    refiner = Refiner(config, base.config.channels)
    settings = {"generator_weights": weights_hash(generator_path), "base_weights": weights_hash(base_path), "steps": steps,
                "batch": batch, "lr": lr, "warmup_steps": warmup_steps, "unet_widths": config.unet_widths,
                "unet_block_depth": unet_block_depth, "eval_images": eval_images, "seed": seed, "dataset": dataset,
                "checkpointing": checkpointing}
    state_path = Path(out) / STATE_FILE
    optimizer = torch.optim.Adam(refiner.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: learning_rate_factor(step, steps, warmup_steps))
    progress, best_state = resume_or_start(state_path, settings, refiner, optimizer, scheduler, TrainingProgress(
        phase="refine", log={"generator": str(generator_path), "base": str(base_path),
                             "parameters": sum(p.numel() for p in refiner.parameters())}))
    embedder = RefinedEmbedder(base, refiner.train(), generator)
    c, s, _ = generator.image_shape
    train_images, _ = load_dataset(dataset, "train", image_size=s, channels=c)
    train_images, validation_images = train_images[:-eval_images], train_images[-eval_images:]
    log = progress.log

    def save() -> None:
        progress.elapsed_seconds = run.seconds()
        save_state(state_path, settings, progress, refiner, optimizer, scheduler, best_state)

    def keep_best() -> None:
        refiner.eval()
        mse = evaluate(generator, embedder, validation_images)  # G(z) with the refined seeds z
        refiner.train()
        tqdm.write(f"step {progress.step}: validation MSE {mse:.5f}")
        nonlocal best_state
        best_state = weights_if_best(progress, mse, refiner, log, run, validation_mse=mse) or best_state

    with TrainingRun(max_steps, save_every_minutes, progress.elapsed_seconds) as run:
        if best_state is None:  # the start: E's seeds (R is zero), the error to beat
            keep_best()
            log["base_validation_mse"] = progress.best_mse
        bar = tqdm(total=steps, initial=progress.step, desc="refiner: MSE(G(z1 + R), x)")

        def loss() -> torch.Tensor:
            images = train_images[torch.randint(0, len(train_images), (batch,))]
            return (generate_differentiable(generator, embedder(images), config.steps, checkpointing) - images).pow(2).mean()

        if not run_steps(run, progress, steps, loss, optimizer, scheduler, bar, VALIDATE_EVERY, keep_best, save):
            tqdm.write(f"stopped at step {progress.step}; the same command continues from {state_path}")
            return {**log, "unfinished": {"step": progress.step, "state": str(state_path)}}
        bar.close()
    refiner.load_state_dict(best_state)
    log["total_minutes"] = run.minutes()
    log["generator_weights"] = settings["generator_weights"]  # the weights it was trained through (embedder.trained_through)
    log["settings"] = {k: v for k, v in settings.items() if not k.endswith("_weights")}
    save_refined_embedder(embedder, out, base_path, generator_path, {"training": log})
    state_path.unlink(missing_ok=True)  # finished: the checkpoint is complete, nothing to continue
    return log


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m core.refiner_training", description=__doc__)
    parser.add_argument("--generator", "--checkpoint", dest="generator", default="assets/fashion", help="generator folder")
    parser.add_argument("--base", default="assets/embedders/fashion-unet",
                        help="the plain embedder whose seeds the refiner corrects (trained through --generator)")
    parser.add_argument("--out", required=True,
                        help="folder of the refined embedder (and of the resumable state while it trains)")
    parser.add_argument("--dataset", default="fashion", choices=["fashion", "digits"])
    parser.add_argument("--steps", type=positive_int, default=1500)
    parser.add_argument("--batch", type=int_range(1, 65_536), default=16)
    parser.add_argument("--lr", type=float_range(0.0, 1.0, low_open=True), default=2e-4)
    parser.add_argument("--warmup-steps", type=int_range(0, 1_000_000), default=50)
    parser.add_argument("--unet-widths", type=int_range(1, 1024), nargs="+", default=None,
                        help=f"the refiner's channels per level (default {RefinerConfig().unet_widths})")
    parser.add_argument("--unet-block-depth", type=int_range(1, 8), default=1, help="residual blocks per level")
    parser.add_argument("--eval-images", type=int_range(1, 10_000), default=200, help="training images held out for validation")
    parser.add_argument("--seed", type=int_range(0, 2**31 - 1), default=0)
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing through the sampler")
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    inputs = [Path(folder) / name for folder in (args.generator, args.base) for name in ("config.json", "model.safetensors")]
    refuse_overlap(inputs, [out / "config.json", out / "model.safetensors"])
    log = train_refiner(args.generator, args.base, args.out, args.steps, args.batch, args.lr, args.warmup_steps, args.unet_widths,
                        args.unet_block_depth, args.eval_images, args.seed, args.dataset, args.checkpointing, args.max_steps,
                        args.save_every_minutes)
    log["command"] = "python -m core.refiner_training " + " ".join(argv if argv is not None else sys.argv[1:])
    print(json.dumps(log, indent=2))
    return UNFINISHED if "unfinished" in log else 0


if __name__ == "__main__":
    sys.exit(main())
