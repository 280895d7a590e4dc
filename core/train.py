"""Command line: train a DDIM generator.

    python -m core.train --dataset fashion --preset fashion --epochs 20 --bf16 --out runs/fashion
    torchrun --nproc_per_node 2 -m core.train --dataset digits --preset digits --out runs/digits

Re-running the same command resumes from the run folder's last saved state.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from core.data import DATASETS, DatasetError
from core.training import TrainConfig, train
from core.unet import PRESETS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core.train", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    defaults = TrainConfig()
    parser.add_argument("--dataset", choices=DATASETS, default=defaults.dataset)
    parser.add_argument("--data-path", default=None, help="IDX folder for fashion, image folder for folder")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=defaults.preset)
    parser.add_argument("--out", default=defaults.out, help="run folder (resumed if it holds a state)")
    parser.add_argument("--epochs", type=int, default=defaults.epochs)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--weight-decay", type=float, default=defaults.weight_decay)
    parser.add_argument("--warmup-steps", type=int, default=defaults.warmup_steps)
    parser.add_argument("--lr-schedule", choices=["constant", "cosine"], default=defaults.lr_schedule,
                        help="cosine: decay from --lr to --min-lr over all --epochs (after the warm-up)")
    parser.add_argument("--min-lr", type=float, default=defaults.min_lr)
    parser.add_argument("--loss", choices=["l1", "mse"], default=defaults.loss)
    parser.add_argument("--ema-decay", type=float, default=defaults.ema_decay)
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--save-every-minutes", type=float, default=defaults.save_every_minutes)
    parser.add_argument("--val-images", type=int, default=defaults.val_images)
    parser.add_argument("--sample-seeds", type=int, default=defaults.sample_seeds)
    parser.add_argument("--init-from", default=None, help="start from this generator checkpoint's weights (continue training a shipped model)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    try:
        checkpoint = train(config)
    except (DatasetError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"EMA checkpoint: {checkpoint}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
