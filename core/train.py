"""Command line: train a DDIM generator.

    python -m core.train --dataset fashion --preset fashion --epochs 20 --out runs/fashion
    (add --bf16 only on a CPU with AVX512 or a GPU: where oneDNN emulates bf16, as on AVX2, it is about 10x slower)
    torchrun --nproc_per_node 2 -m core.train --dataset digits --preset digits --out runs/digits
    python -m core.train --dataset fashion --preset fashion-wide --distill-from assets/fashion --lr 1e-4 --out runs/distilled

Re-running the same command resumes from the run folder's last saved state.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import torch

from core.checkpoint import CONFIG_NAME, WEIGHTS_NAME
from core.cli_checks import (ArgumentParser, CLIError, check_output_dir, cli_main, float_range, int_range, non_negative_float,
                             non_negative_int, positive_float, positive_int, refuse_overlap)
from core.data import DATASETS
from core.precision import bf16_is_fast
from core.training import STATE_WEIGHTS, TrainConfig, train
from core.unet import PRESETS


def build_parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python -m core.train", description=__doc__)
    defaults = TrainConfig()
    parser.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    parser.add_argument("--data-path", default=None, help="IDX folder for fashion, image folder for folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=defaults.preset)
    parser.add_argument("--out", default=defaults.out, help="run folder (resumed if it holds a state)")
    parser.add_argument("--epochs", type=int_range(1, 100_000), default=defaults.epochs)
    parser.add_argument("--batch-size", type=int_range(1, 65_536), default=defaults.batch_size)
    parser.add_argument("--lr", type=float_range(0.0, 1.0, low_open=True), default=defaults.lr)
    parser.add_argument("--weight-decay", type=non_negative_float, default=defaults.weight_decay)
    parser.add_argument("--warmup-steps", type=non_negative_int, default=defaults.warmup_steps)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default=defaults.lr_schedule,
                        help="cosine: decay from --lr to --min-lr over all --epochs (after the warm-up)")
    parser.add_argument("--min-lr", type=float_range(0.0, 1.0), default=defaults.min_lr)
    parser.add_argument("--loss", choices=["l1", "mse"], default=defaults.loss)
    parser.add_argument("--ema-decay", type=float_range(0.0, 1.0, high_open=True), default=defaults.ema_decay)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--seed", type=int_range(0, 2**63 - 1), default=defaults.seed)
    parser.add_argument("--max-steps", type=positive_int, default=None)
    parser.add_argument("--max-minutes", type=positive_float, default=None)
    parser.add_argument("--save-every-minutes", type=positive_float, default=defaults.save_every_minutes)
    parser.add_argument("--val-images", type=positive_int, default=defaults.val_images)
    parser.add_argument("--sample-seeds", type=int_range(1, 1024), default=defaults.sample_seeds)
    parser.add_argument("--init-from", default=None, help="start from this generator checkpoint's weights (continue training a shipped model)")
    parser.add_argument("--distill-from", default=None,
                        help="teacher generator: step distillation (the student learns to take each of the sampler's steps "
                             "as --distill-substeps teacher steps would); the student starts from the teacher unless --init-from")
    parser.add_argument("--distill-steps", type=int_range(1, 1000), default=defaults.distill_steps,
                        help="sampler steps the student is distilled for")
    parser.add_argument("--distill-substeps", type=int_range(1, 64), default=defaults.distill_substeps,
                        help="teacher DDIM steps per student step")
    parser.add_argument("--distill-weighting", choices=["noise", "state"], default=defaults.distill_weighting,
                        help="noise: each step's noise error counts alike; state: the error of where each step lands")
    return parser


@cli_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = check_output_dir(args.out, "--out")
    if args.lr_schedule == "cosine" and args.min_lr > args.lr:
        raise CLIError(f"--min-lr {args.min_lr:g} is above --lr {args.lr:g}")
    init_from = args.init_from or args.distill_from
    if init_from and not (out / STATE_WEIGHTS).is_file():  # a resumed run ignores --init-from
        source = Path(init_from)
        source = source.parent if source.name == CONFIG_NAME else source
        refuse_overlap([source / CONFIG_NAME, source / WEIGHTS_NAME],
                       [out / "ema" / CONFIG_NAME, out / "ema" / WEIGHTS_NAME, out / STATE_WEIGHTS])
    if args.bf16 and not bf16_is_fast("cuda" if torch.cuda.is_available() else "cpu"):
        print("warning: --bf16 on a processor without native bfloat16: emulated, it is about 10x slower than fp32 here "
              "(core/precision.py); leave it out", file=sys.stderr)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    checkpoint = train(config)
    if not (checkpoint / CONFIG_NAME).is_file():
        raise CLIError(f"training ended without writing {checkpoint}")
    print(f"EMA checkpoint: {checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
