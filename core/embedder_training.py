"""Training an embedding network E(x) -> z for a frozen generator G.

Phase 1 (warm start, cheap): regress E(x) onto z over pairs with G(z) = x; no backpropagation
through G. The pairs are generated (z, G(z)) and, with --exact-seeds, real training images with
their exact seeds (core.exact_seeds): the inverse on the data the embedder is used on.
Phase 2 (the article's objective): minimise MAE(G(E(x)), x) on real training images,
backpropagating through the frozen 10-step sampler (optionally with gradient checkpointing
and bf16 autocast); --finetune-loss mse minimises the squared error the benchmark reports instead,
--finetune-ema keeps an average of the weights, --finetune-focus replays the hard images more often.
Long runs save a resumable state every few minutes (and on SIGTERM/SIGINT or after --max-steps,
then exit with status 75); running the same command again continues them exactly.

    python -m core.embedder_training --generator assets/fashion --architecture unet \\
        --out assets/embedders/fashion-unet --pairs 20000 --warm-steps 3000 --finetune-steps 400
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
from torch.nn import functional as F
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm import tqdm

from core.checkpoint import content_hash, load_generator, load_tensors, read_metadata, save_tensors, weights_hash
from core.cli_checks import (ArgumentParser, CLIError, check_output_dir, check_output_file, cli_main, float_range, int_range,
                             non_negative_int, refuse_overlap)
from core.data import load_dataset
from core.embedder import ARCHITECTURES, Embedder, EmbedderConfig, deepened, load_embedder, save_embedder
from core.embedding import reconstruct
from core.exact_seeds import load_exact_seeds
from core.gradient_embedding import generate_differentiable
from core.seeds import seeded_noise
from core.training_state import (STATE_FILE, UNFINISHED, add_run_arguments, load_state, prefixed, restore_optimizer,
                                 save_state, TrainingProgress, TrainingRun)


@torch.no_grad()
def make_pairs(generator, count: int, first_seed: int = 10**6, batch: int = 250, bf16: bool = False,
               cache: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(z, G(z)) for seeds first_seed.. (kept away from the seeds used for evaluation).
    `cache`: a safetensors file reused when it holds the same count for the same generator weights."""
    fingerprint = f"{count}:{first_seed}:{bf16}:{float(sum(p.double().sum() for p in generator.parameters())):.10e}"
    if cache and Path(cache).is_file() and read_metadata(cache).get("fingerprint") == fingerprint:
        tensors = load_tensors(cache)
        return tensors["seeds"], tensors["images"]
    seeds = seeded_noise(list(range(first_seed, first_seed + count)), generator.image_shape)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        images = torch.cat([generator.generate(seeds[i : i + batch]).float() for i in tqdm(range(0, count, batch), desc="pairs (z, G(z))")])
    if cache:
        save_tensors(cache, {"seeds": seeds, "images": images}, {"fingerprint": fingerprint})
    return seeds, images


def per_image_loss(outputs: torch.Tensor, images: torch.Tensor, kind: str) -> torch.Tensor:
    """(N,) phase 2's loss of each image x against G(E(x)), both (N, C, H, W) in [0, 1]: the mean absolute
    ("mae") or squared ("mse") error over its pixels. Phase 2 minimises the batch mean."""
    error = outputs - images
    return (error.abs() if kind == "mae" else error.pow(2)).flatten(1).mean(1)


def focused_batch(scores: torch.Tensor, focus: float, size: int) -> torch.Tensor:
    """(size,) indices into the N training images, drawn with probability (1 - focus)/N + focus *
    score_i / sum(scores), where score_i is image i's loss when last trained on (0 while unseen):
    a share `focus` of each batch replays the images seen so far in proportion to their loss.
    (Scoring all images first would cost a 10-step sampling of each: 80 minutes for Fashion-MNIST here.)"""
    total = scores.sum()
    if total == 0:  # nothing seen yet
        return torch.randint(0, len(scores), (size,))
    probabilities = (1 - focus) / len(scores) + focus * scores / total
    return torch.multinomial(probabilities, size, replacement=True)


@torch.no_grad()
def evaluate(generator, embedder, images: torch.Tensor) -> float:
    """Mean MSE of G(E(x)) against x on [0, 1] pixels."""
    return (reconstruct(generator, embedder(images)) - images).pow(2).mean().item()


# Exact seeds whose G(z*) is below this PSNR (a first solve without the check misses now and then:
# 13 dB on one of the first 750 Fashion-MNIST training images) are left out of phase 1.
EXACT_MIN_PSNR = 30.0
FINETUNE_LOSSES = ("mae", "mse")


def train_embedder(
    generator_path: str, architecture: str, out: str, pairs: int = 20000, warm_steps: int = 3000,
    finetune_steps: int = 400, warm_batch: int = 128, finetune_batch: int = 16, warm_lr: float = 1e-3,
    finetune_lr: float = 1e-4, bf16: bool = False, checkpointing: bool = False, eval_images: int = 200, seed: int = 0,
    dataset: str = "fashion", pairs_cache: str | None = None, init_from: str | None = None,
    unet_widths: list[int] | None = None, unet_block_depth: int | None = None,
    max_steps: int | None = None, save_every_minutes: float = 5.0, exact_seeds: str | None = None,
    exact_count: int | None = None, finetune_loss: str = "mae", finetune_ema: float = 0.0, finetune_focus: float = 0.0,
) -> dict:
    """Train (or continue: `out` holds the state of an unfinished run with the same settings) an embedder.

    Saves a resumable state to out/train_state.safetensors every `save_every_minutes`, and when it
    stops early: after `max_steps` steps of both phases together, or on SIGTERM/SIGINT. The same call
    continues it exactly (same weights as an uninterrupted run); the finished run deletes the state.
    Returns the training log; log["unfinished"] says where a stopped run is.
    `exact_seeds`: a core.exact_seeds file; its first `exact_count` (default all) seeds and training
    images join phase 1's pairs (`pairs` may then be 0). `finetune_loss`: phase 2's image loss, "mae"
    (the article's) or "mse" (the benchmark's measure). `finetune_ema`: with a decay in (0, 1), phase 2
    validates, keeps and saves an exponential moving average of the weights (torch.optim.swa_utils) instead
    of the last step's: batch-16 steps through the sampler are noisy (validation MSE jumps by 30% between
    evaluations), and the average is smoother than any single iterate. `finetune_focus` in [0, 1): the
    share of each phase-2 batch that replays the training images seen so far, in proportion to their loss
    when last trained on, so that the hard images, which hold up the mean error, are trained on more
    often (hard-example replay); 0 draws uniformly.
    """
    if not 0.0 <= finetune_ema < 1.0:
        raise ValueError(f"finetune_ema must be in [0, 1), got {finetune_ema}")
    if not 0.0 <= finetune_focus < 1.0:
        raise ValueError(f"finetune_focus must be in [0, 1), got {finetune_focus}")
    if finetune_loss not in FINETUNE_LOSSES:
        raise ValueError(f"finetune_loss must be one of {FINETUNE_LOSSES}, got {finetune_loss!r}")
    torch.manual_seed(seed)
    generator = load_generator(generator_path)
    exact: dict[str, torch.Tensor] | None = None
    if exact_seeds:
        exact = load_exact_seeds(exact_seeds, generator_path, dataset)
        available = len(exact["seeds"])
        exact_count = available if exact_count is None else exact_count
        if not 0 < exact_count <= available:
            raise ValueError(f"{exact_seeds} holds {available} seeds; asked for {exact_count}")
        exact = {"seeds": exact["seeds"][:exact_count], "psnr": exact["psnr"][:exact_count]}
    elif exact_count is not None:
        raise ValueError("exact_count needs exact_seeds")
    if pairs == 0 and exact is None and warm_steps > 0:
        raise ValueError("phase 1 needs pairs: generated ones (pairs > 0) or exact seeds of training images")
    c, s, _ = generator.image_shape
    config = EmbedderConfig(architecture=architecture, image_size=s, channels=c,
                            mean=generator.mean.flatten().tolist(), std=generator.std.flatten().tolist())
    if unet_widths is not None:
        config.unet_widths = list(unet_widths)
    if unet_block_depth is not None:
        config.unet_block_depth = unet_block_depth
    embedder = Embedder(config)
    # what the run depends on: a state saved with other settings, or for other weights, is refused
    settings = {"generator_weights": weights_hash(generator_path), "architecture": architecture, "pairs": pairs, "warm_steps": warm_steps,
                "finetune_steps": finetune_steps, "warm_batch": warm_batch, "finetune_batch": finetune_batch, "warm_lr": warm_lr,
                "finetune_lr": finetune_lr, "bf16": bf16, "checkpointing": checkpointing, "eval_images": eval_images, "seed": seed,
                "dataset": dataset, "init_from_weights": weights_hash(init_from) if init_from else None,
                "unet_widths": list(unet_widths) if unet_widths is not None else None, "unet_block_depth": unet_block_depth,
                "exact_seeds": content_hash(exact) if exact else None, "exact_count": exact_count, "finetune_loss": finetune_loss}
    if finetune_ema:  # only when used, so that states saved before the option existed still resume
        settings["finetune_ema"] = finetune_ema
    if finetune_focus:
        settings["finetune_focus"] = finetune_focus
    state_path = Path(out) / STATE_FILE
    resumed: tuple[dict, dict[str, torch.Tensor]] | None = None
    if state_path.is_file():
        progress, meta, tensors = load_state(state_path, settings)
        embedder = Embedder(EmbedderConfig(**meta["embedder"]))  # the shape saved (e.g. that of --init-from)
        embedder.load_state_dict(prefixed(tensors, "model."))
        embedder.train()
        resumed = (meta, tensors)
        tqdm.write(f"resumed {out}: phase {progress.phase}, step {progress.step} ({progress.elapsed_seconds / 60:.1f} min trained)")
    else:
        progress = TrainingProgress(log={"architecture": architecture, "generator": str(generator_path)})
        if init_from:  # continue an earlier, finished run: its weights and its log
            previous = load_embedder(init_from)
            if previous.config.architecture != architecture or previous.image_shape != embedder.image_shape:
                raise ValueError(f"--init-from {init_from} is a {previous.config.architecture} embedder for {previous.image_shape}")
            embedder = previous.train().requires_grad_(True)
            if unet_block_depth is not None and unet_block_depth != previous.config.unet_block_depth:
                if unet_block_depth < previous.config.unet_block_depth:
                    raise ValueError(f"--init-from {init_from} has {previous.config.unet_block_depth} blocks per level; a UNet "
                                     f"embedder can be deepened but not made shallower (drop --unet-block-depth to continue it)")
                embedder = deepened(embedder, unet_block_depth)  # same function, more blocks (raises if not from depth 1)
                progress.log["deepened_from_depth"] = previous.config.unet_block_depth
            progress.log["continued_from"] = json.loads((Path(init_from) / "config.json").read_text()).get("training", {})
        progress.log["parameters"] = sum(p.numel() for p in embedder.parameters())
    log = progress.log
    train_images, _ = load_dataset(dataset, "train", image_size=s, channels=c)
    # Model selection uses held-out *training* images: the test split stays untouched for benchmarks.
    train_images, validation_images = train_images[:-eval_images], train_images[-eval_images:]
    if exact is not None and exact_count > len(train_images):
        raise ValueError(f"exact seeds of {exact_count} training images reach the {eval_images} held out for validation "
                         f"(the last ones): use at most {len(train_images)}")

    def save(optimizer=None, scheduler=None, best_state=None, averaged=None, scores=None) -> None:
        progress.elapsed_seconds = run.seconds()
        save_state(state_path, settings, progress, embedder, optimizer, scheduler, best_state,
                    averaged.state_dict() if averaged is not None else None, scores)

    def stopped() -> dict:
        if run.requested:
            tqdm.write("signal received: the state is saved")
        tqdm.write(f"stopped in phase {progress.phase} at step {progress.step}; the same command continues from {state_path}")
        return {**log, "unfinished": {"phase": progress.phase, "step": progress.step, "state": str(state_path)}}

    with TrainingRun(max_steps, save_every_minutes, progress.elapsed_seconds) as run:
        # Phase 1: (z, G(z)) regression.
        if progress.phase == "warm" and warm_steps > 0:
            seeds, images = (make_pairs(generator, pairs, bf16=bf16, cache=pairs_cache) if pairs > 0
                             else (torch.empty(0, *generator.image_shape), torch.empty(0, *generator.image_shape)))
            if exact is not None:  # real images with their exact seeds; the rare unsolved one is no target
                solved = exact["psnr"] >= EXACT_MIN_PSNR
                seeds, images = torch.cat([seeds, exact["seeds"][solved]]), torch.cat([images, train_images[:exact_count][solved]])
                log["exact_pairs_used"] = int(solved.sum())
            optimizer = torch.optim.AdamW(embedder.parameters(), lr=warm_lr, weight_decay=1e-4)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, warm_steps)
            if resumed:
                restore_optimizer(optimizer, scheduler, *resumed)
            bar = tqdm(total=warm_steps, initial=progress.step, desc="phase 1: E(x) -> z")
            while progress.step < warm_steps:
                if run.should_stop(progress.step):
                    save(optimizer, scheduler)
                    return stopped()
                index = torch.randint(0, len(seeds), (warm_batch,))
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    predicted = embedder(images[index])
                loss = F.mse_loss(predicted.float(), seeds[index])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                if progress.step % 50 == 0:
                    bar.set_postfix(seed_mse=f"{loss.item():.4f}")
                progress.step += 1
                bar.update(1)
                if run.time_to_save():
                    save(optimizer, scheduler)
            bar.close()
            embedder.eval()
            log["phase1_validation_mse"] = evaluate(generator, embedder, validation_images)
            log["phase1_minutes"] = run.minutes()
            tqdm.write(f"phase 1 done: validation MSE of G(E(x)) {log['phase1_validation_mse']:.5f}")
            save_embedder(embedder, out, {"training": log})
            resumed = None
        if progress.phase == "warm":  # phase 1 done (or skipped): a stop from here on keeps it
            progress.phase, progress.step = "finetune", 0
            if finetune_steps > 0:
                save()
                if run.requested:
                    return stopped()
        done_before = warm_steps

        # Phase 2: image-space MAE through the frozen sampler.
        if finetune_steps > 0:
            embedder.train()
            generator.requires_grad_(False)
            optimizer = torch.optim.Adam(embedder.parameters(), lr=finetune_lr)
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, finetune_steps)
            averaged = (AveragedModel(embedder, multi_avg_fn=get_ema_multi_avg_fn(finetune_ema), use_buffers=True)
                         if finetune_ema else None)
            if resumed:
                restore_optimizer(optimizer, scheduler, *resumed)
                if averaged is not None and resumed[0]["scheduler"] is not None:  # saved inside phase 2: its average too
                    ema = prefixed(resumed[1], "ema.")
                    if not ema:
                        raise ValueError(f"{state_path} was saved in phase 2 without the EMA weights that "
                                         "--finetune-ema needs; it is not this run's state")
                    averaged.load_state_dict(ema)
            validated = averaged.module if averaged is not None else embedder  # the weights validated and kept
            if progress.best_mse is None:
                embedder.eval()
                progress.best_mse = evaluate(generator, embedder, validation_images)
                best_state = {k: v.clone() for k, v in embedder.state_dict().items()}
                embedder.train()
            else:
                best_state = prefixed(resumed[1], "best.")
            scores = None
            if finetune_focus:  # each training image's loss when last trained on (0: not yet), kept in the state
                scores = resumed[1]["scores"] if resumed and "scores" in resumed[1] else torch.zeros(len(train_images))
            bar = tqdm(total=finetune_steps, initial=progress.step, desc=f"phase 2: {finetune_loss.upper()}(G(E(x)), x)")
            while progress.step < finetune_steps:
                if run.should_stop(done_before + progress.step):
                    save(optimizer, scheduler, best_state, averaged, scores)
                    return stopped()
                index = (focused_batch(scores, finetune_focus, finetune_batch) if scores is not None
                         else torch.randint(0, len(train_images), (finetune_batch,)))
                images = train_images[index]
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    outputs = generate_differentiable(generator, embedder(images), 10, checkpointing)
                losses = per_image_loss(outputs.float(), images, finetune_loss)
                loss = losses.mean()
                if scores is not None:
                    scores[index] = losses.detach()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                if averaged is not None:
                    averaged.update_parameters(embedder)
                progress.step += 1
                bar.update(1)
                bar.set_postfix({finetune_loss: f"{loss.item():.4f}"})
                if progress.step % 100 == 0 or progress.step == finetune_steps:
                    validated.eval()
                    log["phase2_steps"] = progress.step
                    mse = evaluate(generator, validated, validation_images)
                    tqdm.write(f"phase 2 step {progress.step}: validation MSE {mse:.5f}{' (EMA weights)' if averaged else ''}")
                    if mse < progress.best_mse:  # keep the best weights seen on the validation images
                        progress.best_mse, best_state = mse, {k: v.clone() for k, v in validated.state_dict().items()}
                        log["phase2_best_step"], log["phase2_validation_mse"] = progress.step, mse
                        log["total_minutes"] = run.minutes()
                        save_embedder(validated, out, {"training": log})
                    embedder.train()
                if run.time_to_save():
                    save(optimizer, scheduler, best_state, averaged, scores)
            bar.close()
            embedder.load_state_dict(best_state)
        embedder.eval()
        log["total_minutes"] = run.minutes()
        log["generator_weights"] = settings["generator_weights"]  # which weights it was trained through
        log["settings"] = {k: settings[k] for k in ("pairs", "exact_count", "warm_steps", "finetune_steps", "warm_batch", "finetune_batch",
                                                    "warm_lr", "finetune_lr", "finetune_loss", "bf16", "checkpointing")}
        log["settings"]["finetune_ema"] = finetune_ema
        log["settings"]["finetune_focus"] = finetune_focus
        save_embedder(embedder, out, {"training": log})
        state_path.unlink(missing_ok=True)  # finished: the checkpoint is complete, nothing to continue
    return log


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m core.embedder_training", description=__doc__)
    parser.add_argument("--generator", "--checkpoint", dest="generator", default="assets/fashion",
                        help="generator folder, from the project root (--checkpoint in core.sample, core.embed and core.study)")
    parser.add_argument("--dataset", default="fashion", choices=["fashion", "digits"])
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="unet")
    parser.add_argument("--out", required=True)
    parser.add_argument("--pairs", type=int_range(0, 1_000_000), default=20000, help="generated (z, G(z)) pairs for phase 1")
    parser.add_argument("--exact-seeds", default=None,
                        help="a python -m core.exact_seeds file: training images with their exact seeds join phase 1's pairs")
    parser.add_argument("--exact-count", type=int_range(1, 1_000_000), default=None, help="use the file's first N seeds (default all)")
    parser.add_argument("--warm-steps", type=non_negative_int, default=3000)
    parser.add_argument("--finetune-steps", type=non_negative_int, default=400)
    parser.add_argument("--warm-batch", type=int_range(1, 65_536), default=128)
    parser.add_argument("--finetune-batch", type=int_range(1, 65_536), default=16)
    parser.add_argument("--warm-lr", type=float_range(0.0, 1.0, low_open=True), default=1e-3)
    parser.add_argument("--finetune-loss", choices=FINETUNE_LOSSES, default="mae",
                        help="phase 2's image loss: mae (the article's) or mse (what the benchmark measures)")
    parser.add_argument("--finetune-ema", type=float_range(0.0, 1.0, high_open=True), default=0.0, metavar="DECAY",
                        help="phase 2: validate and keep an exponential moving average of the weights with this decay "
                             "(e.g. 0.998; 0, the default, keeps the last step's weights). It averages over about "
                             "1/(1 - DECAY) steps and starts from the initial weights: give phase 2 several times that")
    parser.add_argument("--finetune-focus", type=float_range(0.0, 1.0, high_open=True), default=0.0, metavar="SHARE",
                        help="phase 2: this share of each batch replays the training images seen so far, in proportion "
                             "to their loss when last trained on, so the hard images are trained on more often; the rest "
                             "is drawn uniformly (0, the default: all of it)")
    parser.add_argument("--finetune-lr", type=float_range(0.0, 1.0, low_open=True), default=1e-4)
    parser.add_argument("--unet-widths", type=int_range(1, 1024), nargs="+", default=None,
                        help=f"UNet embedder: channels per level (default {EmbedderConfig().unet_widths})")
    parser.add_argument("--unet-block-depth", type=int_range(1, 8), default=None,
                        help=f"UNet embedder: residual blocks per level (default {EmbedderConfig().unet_block_depth}); "
                             "with --init-from, deepens that one-block-per-level UNet (new blocks start as the identity)")
    parser.add_argument("--bf16", action="store_true",
                        help="bf16 autocast (pairs, phase 1, phase 2). Phase 2 through a bf16 generator fits the embedder to bf16's "
                             "rounding, which the fp32 generator used everywhere else does not share: measured worse (docs/embedders.md)")
    parser.add_argument("--checkpointing", action="store_true", help="gradient checkpointing through the sampler")
    parser.add_argument("--eval-images", type=int_range(1, 10_000), default=200, help="training images held out for validation")
    parser.add_argument("--pairs-cache", default=None, help="safetensors file to reuse generated (z, G(z)) pairs across runs")
    parser.add_argument("--init-from", default=None, help="continue from this embedder checkpoint (use --warm-steps 0 to skip phase 1)")
    add_run_arguments(parser, "steps of both phases together")
    args = parser.parse_args(argv)
    out = check_output_dir(args.out, "--out")
    if (args.unet_widths or args.unet_block_depth) and args.architecture != "unet":
        raise CLIError("--unet-widths and --unet-block-depth shape the UNet embedder only (--architecture unet)")
    if args.init_from and args.unet_widths:
        raise CLIError("--init-from continues an embedder with its own widths; drop --unet-widths "
                       "(--unet-block-depth N deepens a one-block-per-level UNet, starting from the same function)")
    if args.exact_count and not args.exact_seeds:
        raise CLIError("--exact-count needs --exact-seeds")
    if args.pairs == 0 and not args.exact_seeds and args.warm_steps > 0:
        raise CLIError("--pairs 0 leaves phase 1 without data: give --exact-seeds, or --warm-steps 0")
    if args.bf16 and args.finetune_steps > 0:
        # measured 2026-12-03: 600 steps from the shipped UNet took its validation MSE through the fp32 generator from
        # 0.0042 to 0.0055, while through the bf16 generator it fell to 0.0047
        print("warning: --bf16 phase 2 fits the embedder to the bf16 generator; through the fp32 generator that the "
              "benchmarks and the demo use it reconstructs worse (docs/embedders.md)", file=sys.stderr)
    if args.finetune_ema and args.finetune_steps == 0:
        raise CLIError("--finetune-ema averages phase 2's weights, but --finetune-steps is 0")
    if args.finetune_ema and args.finetune_steps < 3 / (1 - args.finetune_ema):
        print(f"warning: --finetune-ema {args.finetune_ema:g} averages over about {1 / (1 - args.finetune_ema):.0f} steps; "
              f"after {args.finetune_steps} phase-2 steps the average still weighs the starting weights "
              f"{args.finetune_ema ** args.finetune_steps:.0%}", file=sys.stderr)
    if args.finetune_focus and args.finetune_steps == 0:
        raise CLIError("--finetune-focus chooses phase 2's batches, but --finetune-steps is 0")
    if args.warm_steps + args.finetune_steps == 0:
        raise CLIError("--warm-steps and --finetune-steps are both 0: nothing to train")
    if args.pairs_cache:
        check_output_file(args.pairs_cache, "--pairs-cache", (".safetensors",))
    inputs = [Path(folder) / name for folder in (args.generator, args.init_from) if folder for name in ("config.json", "model.safetensors")]
    inputs += [Path(args.exact_seeds)] if args.exact_seeds else []
    refuse_overlap(inputs, [out / "config.json", out / "model.safetensors"] + ([Path(args.pairs_cache)] if args.pairs_cache else []))
    log = train_embedder(args.generator, args.architecture, args.out, args.pairs, args.warm_steps, args.finetune_steps,
                         args.warm_batch, args.finetune_batch, args.warm_lr, args.finetune_lr, args.bf16, args.checkpointing,
                         args.eval_images, dataset=args.dataset, pairs_cache=args.pairs_cache, init_from=args.init_from,
                         unet_widths=args.unet_widths, unet_block_depth=args.unet_block_depth, max_steps=args.max_steps,
                         save_every_minutes=args.save_every_minutes, exact_seeds=args.exact_seeds, exact_count=args.exact_count,
                         finetune_loss=args.finetune_loss, finetune_ema=args.finetune_ema, finetune_focus=args.finetune_focus)
    log["command"] = "python -m core.embedder_training " + " ".join(argv if argv is not None else sys.argv[1:])
    print(json.dumps(log, indent=2))
    return UNFINISHED if "unfinished" in log else 0


if __name__ == "__main__":
    sys.exit(main())
