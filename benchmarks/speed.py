"""Speed of the shipped generator on this machine: training and 10-step sampling images/s,
fp32 and bf16 autocast, beside the model's FLOPs per image and the GFLOP/s achieved.

    python -m benchmarks.speed [--checkpoint assets/fashion]
"""

from __future__ import annotations

import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.report import write_report
from core.checkpoint import load_generator
from core.cli_checks import ArgumentParser
from core.training import diffusion_loss


def forward_flops(generator, batch: int = 1) -> int:
    x = torch.randn(batch, *generator.image_shape)
    with FlopCounterMode(display=False) as counter:
        generator.unet(x, torch.full((batch,), 0.5))
    return counter.get_total_flops() // batch


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of a large square matmul: what this machine's cores reach on the best-shaped work."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    seconds = time_it(lambda: a @ b, repeats)
    return 2 * size**3 / seconds / 1e9


def time_it(fn, repeats: int) -> float:
    fn()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - started) / repeats


def main(argv: list[str] | None = None) -> None:
    parser = ArgumentParser(prog="python -m benchmarks.speed", description=__doc__)
    parser.add_argument("--checkpoint", default="assets/fashion")
    parser.add_argument("--train-batch", type=int, default=128)
    parser.add_argument("--sample-batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)

    generator = load_generator(args.checkpoint)
    flops = forward_flops(generator)
    params = sum(p.numel() for p in generator.unet.parameters())
    rows = []
    peaks = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    for precision in ("fp32", "bf16"):
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")
        trainable = load_generator(args.checkpoint).train().requires_grad_(True)
        optimizer = torch.optim.AdamW(trainable.unet.parameters(), lr=1e-4)
        images = torch.randn(args.train_batch, *generator.image_shape)

        def train_step():
            with autocast:
                loss = diffusion_loss(trainable.unet, images, torch.rand(len(images)), torch.randn_like(images), "l1").mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        seconds = time_it(train_step, args.repeats)
        per_image = 3 * flops  # forward + backward ~ 3 forwards
        rows.append({"task": "training step", "precision": precision, "batch": args.train_batch,
                     "images/s": args.train_batch / seconds, "GFLOP/image": per_image / 1e9,
                     "GFLOP/s": args.train_batch * per_image / seconds / 1e9})
        rows[-1]["% of matmul peak"] = 100 * rows[-1]["GFLOP/s"] / peaks[precision]

        noise = torch.randn(args.sample_batch, *generator.image_shape)

        def sample():
            with torch.no_grad(), autocast:
                generator.generate(noise, steps=10)

        seconds = time_it(sample, max(1, args.repeats // 2))
        per_image = 10 * flops
        rows.append({"task": "10-step sampling", "precision": precision, "batch": args.sample_batch,
                     "images/s": args.sample_batch / seconds, "GFLOP/image": per_image / 1e9,
                     "GFLOP/s": args.sample_batch * per_image / seconds / 1e9})
        rows[-1]["% of matmul peak"] = 100 * rows[-1]["GFLOP/s"] / peaks[precision]
    notes = (f"Model: {params / 1e6:.2f}M parameters, {flops / 1e6:.1f} MFLOP per UNet forward per image "
             "(torch.utils.flop_counter; a multiply-add counts 2). Training FLOPs are taken as 3 forwards. "
             f"Matmul peak (2048x2048, same threads): fp32 {peaks['fp32']:.0f} GFLOP/s, bf16 {peaks['bf16']:.0f} GFLOP/s; "
             "the UNet's small 28x28 convolutions and GroupNorm/elementwise work reach a fraction of it.")
    write_report("speed", "Speed: training and sampling", "python -m benchmarks.speed", rows, notes)


if __name__ == "__main__":
    main()
