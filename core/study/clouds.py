"""Clouds: samples of emb_eps(x) found by descent from independent N(0, I) starts.

The article's way of sampling emb(x): start many seeds at random, descend on the image-space loss
through the whole sampler, keep the seeds that end within the tolerance. Here every seed leaves the
batch as soon as its (fp32) error is within eps, so the cloud holds the *first* points of emb_eps(x)
that descent reaches, and the work left goes to the seeds still outside.

Two optimisers: Gauss-Newton (Levenberg-Marquardt with conjugate gradients on Jacobian products,
`core.study.gauss_newton`; the default: it reaches 30 and 40 dB where Adam stalls at 14-26 dB), and
the article's Adam on the MAE. Adam is written out per seed (first/second moments per seed, one step
size schedule) so that the batch can shrink without disturbing the other seeds' optimizer state.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from core.generator import DiffusionGenerator
from core.gradient_embedding import generate_differentiable
from core.precision import bf16_is_fast
from core.study.gauss_newton import Progress, Trace, gauss_newton_descent
from core.study.tolerance import StudyInputError, check_image, check_tolerance, psnr_from_mse

CloudProgress = Progress  # progress(iteration, max_iterations, seeds inside so far, seeds in the cloud)


@dataclass
class CloudConfig:
    optimizer: Literal["gauss_newton", "adam"] = "gauss_newton"
    iterations: int = 60  # most iterations per seed: outer Gauss-Newton iterations, or Adam steps (~400 needed)
    steps: int = 10  # DDIM steps of G
    batch_size: int = 32
    # Gauss-Newton only: an outer iteration costs 2 + 2 * cg_iterations passes through the sampler (at most)
    cg_iterations: int = 10  # conjugate-gradient iterations per Levenberg-Marquardt step
    damping: float = 1e-2  # initial Levenberg-Marquardt damping (adapted per seed)
    # Adam only
    lr: float = 5e-2  # Adam step size, cosine-decayed to lr_final over `iterations`
    lr_final: float = 1e-4  # small final steps polish seeds into the tolerance
    loss: Literal["mae", "mse"] = "mae"  # on denormalized, unclipped pixels (the article: MAE)
    bf16: bool | None = None  # bfloat16 autocast for the descent (None: where the CPU runs it natively, core.precision)
    fp32_from: float = 0.7  # share of `iterations` after which the descent runs in fp32 (bf16 noise limits the polish)
    check_every: int = 10  # fp32 membership check of the whole batch every this many iterations


ADAM_CLOUD = CloudConfig(optimizer="adam", iterations=400)  # the previous default, kept for comparison


@dataclass
class Cloud:
    """n seeds of emb(x) (or the attempts that failed), with their errors and how they were found."""

    image: torch.Tensor  # (C, H, W) the target in [0, 1]
    eps: float  # the tolerance (MSE) the descent aimed for
    starts: torch.Tensor  # (n, C, H, W) the N(0, I) starts
    seeds: torch.Tensor  # (n, C, H, W) each start's best seed (inside emb_eps(x) when `inside`)
    mse: torch.Tensor  # (n,) fp32 MSE(G(seed), x) on [0, 1] pixels
    iterations: torch.Tensor  # (n,) descent iterations each seed took
    seconds: float
    start_seeds: list[int] = field(default_factory=list)  # torch seeds of the starts

    @property
    def inside(self) -> torch.Tensor:
        """(n,) bool: the seed is within the tolerance."""
        return self.mse <= self.eps

    @property
    def members(self) -> torch.Tensor:
        """(m, C, H, W) the seeds within the tolerance."""
        return self.seeds[self.inside]

    @property
    def psnr(self) -> torch.Tensor:
        return psnr_from_mse(self.mse)

    def summary(self) -> dict:
        psnr = self.psnr.numpy()
        return {"seeds": len(self.seeds), "inside": int(self.inside.sum()), "eps": self.eps,
                "target_psnr_db": float(psnr_from_mse(self.eps)), "psnr_mean_db": float(psnr.mean()),
                "psnr_min_db": float(psnr.min()), "iterations_mean": float(self.iterations.float().mean()),
                "iterations_max": int(self.iterations.max()), "seconds": self.seconds,
                # how far descent carried each seed from its random start, and how far apart the seeds are
                # (two independent N(0, I) seeds are ~sqrt(2 D) apart)
                "distance_from_start_mean": float((self.seeds - self.starts).flatten(1).norm(dim=1).mean()),
                "pairwise_distance_mean": float(torch.pdist(self.seeds.flatten(1).double()).mean()),
                "independent_seed_distance": float((2 * self.seeds[0].numel()) ** 0.5),
                "seconds_per_seed": self.seconds / max(1, len(self.seeds))}


def _cosine_lr(config: CloudConfig, iteration: int) -> float:
    progress = min(1.0, iteration / max(1, config.iterations))
    return config.lr_final + 0.5 * (config.lr - config.lr_final) * (1.0 + math.cos(math.pi * progress))


def descend_to_tolerance(
    generator: DiffusionGenerator,
    image: torch.Tensor,
    starts: torch.Tensor,
    eps: float,
    config: CloudConfig = CloudConfig(),
    progress: CloudProgress | None = None,
    trace: Trace | None = None,
    stop_inside: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Descend from `starts` (n, C, H, W) towards `image` (C, H, W); each seed stops once within eps
    (unless stop_inside=False: every seed runs all iterations, as the convergence probe needs).

    Returns (best seeds (n, C, H, W), their fp32 MSE (n,), iterations each used (n,)).
    `trace(iteration, indices (a,), seeds (a, C, H, W))` sees the active seeds after every Gauss-Newton
    iteration or Adam's fp32 check (the convergence probe records distances with it).
    """
    image = check_image(generator, image)
    eps = check_tolerance(eps)
    target = image.unsqueeze(0)  # (1, C, H, W)
    if config.optimizer not in ("gauss_newton", "adam"):
        raise StudyInputError(f"unknown optimizer {config.optimizer!r}: gauss_newton or adam")
    if config.iterations < 0 or (config.optimizer == "gauss_newton" and (config.cg_iterations < 1 or not config.damping > 0)):
        raise StudyInputError(f"need iterations >= 0, cg_iterations >= 1 and damping > 0, got {config.iterations}, "
                              f"{config.cg_iterations} and {config.damping}")
    if config.optimizer == "gauss_newton":
        return gauss_newton_descent(generator, target, starts, eps, iterations=config.iterations, cg_iterations=config.cg_iterations,
                                    damping=config.damping, steps=config.steps, stop_inside=stop_inside, progress=progress, trace=trace)
    bf16 = bf16_is_fast(starts.device.type) if config.bf16 is None else config.bf16
    n = len(starts)
    seeds = starts.detach().clone().float()
    first_moment, second_moment = torch.zeros_like(seeds), torch.zeros_like(seeds)
    best_seeds, best_mse = seeds.clone(), torch.full((n,), float("inf"))
    used = torch.zeros(n, dtype=torch.long)
    active = torch.arange(n)
    beta1, beta2, adam_eps = 0.9, 0.999, 1e-8

    def fp32_check(iteration: int) -> None:
        nonlocal active
        with torch.no_grad():
            mse = (generator.generate(seeds[active], config.steps) - target).pow(2).flatten(1).mean(1)
        better = mse < best_mse[active]
        best_mse[active[better]] = mse[better]
        best_seeds[active[better]] = seeds[active[better]]
        used[active] = iteration
        if trace:
            trace(iteration, active.clone(), seeds[active].clone())
        if stop_inside:
            active = active[best_mse[active] > eps]

    def use_bf16(iteration: int) -> bool:
        return bf16 and seeds.device.type == "cpu" and iteration <= config.fp32_from * config.iterations

    fp32_check(0)
    for iteration in range(1, config.iterations + 1):
        if len(active) == 0:
            break
        batch = seeds[active].requires_grad_(True)
        with torch.enable_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16(iteration)):
            outputs = generate_differentiable(generator, batch, config.steps, checkpointing=False).float()
            difference = outputs - target
            per_seed = difference.abs() if config.loss == "mae" else difference.pow(2)
            loss = per_seed.flatten(1).mean(1).sum()  # each seed's loss depends on that seed only
        (gradient,) = torch.autograd.grad(loss, batch)
        with torch.no_grad():  # Adam, per seed (bias-corrected with each seed's own step count)
            m = first_moment[active].mul_(beta1).add_(gradient, alpha=1 - beta1)
            v = second_moment[active].mul_(beta2).addcmul_(gradient, gradient, value=1 - beta2)
            first_moment[active], second_moment[active] = m, v
            # every active seed has been updated at every iteration so far: its step count is `iteration`
            m_hat, v_hat = m / (1 - beta1**iteration), v / (1 - beta2**iteration)
            seeds[active] = batch.detach() - _cosine_lr(config, iteration) * m_hat / (v_hat.sqrt() + adam_eps)
        if iteration % config.check_every == 0 or iteration == config.iterations:
            fp32_check(iteration)
            if progress:
                progress(iteration, config.iterations, n - len(active), n)
    return best_seeds, best_mse, used


def sample_cloud(
    generator: DiffusionGenerator,
    image: torch.Tensor,
    n: int,
    eps: float,
    config: CloudConfig = CloudConfig(),
    first_start_seed: int = 0,
    progress: CloudProgress | None = None,
) -> Cloud:
    """n seeds of emb_eps(image) by descent from N(0, I) starts with torch seeds first_start_seed + i."""
    if not isinstance(n, int) or n < 2:
        raise StudyInputError(f"a cloud needs at least 2 seeds, got {n!r}")
    image = check_image(generator, image)
    eps = check_tolerance(eps)
    from core.seeds import seeded_noise

    start_seeds = list(range(first_start_seed, first_start_seed + n))
    starts = seeded_noise(start_seeds, generator.image_shape)
    began = time.perf_counter()
    seeds, mse, used = [], [], []
    for offset in range(0, n, config.batch_size):
        chunk = starts[offset : offset + config.batch_size]
        s, m, u = descend_to_tolerance(generator, image, chunk, eps, config, progress=progress)
        seeds.append(s), mse.append(m), used.append(u)
    return Cloud(image=image, eps=eps, starts=starts, seeds=torch.cat(seeds), mse=torch.cat(mse),
                 iterations=torch.cat(used), seconds=time.perf_counter() - began, start_seeds=start_seeds)


def cloud_to_arrays(cloud: Cloud) -> dict[str, np.ndarray]:
    """The cloud as named numpy arrays (for an .npz next to a study's JSON)."""
    return {"image": cloud.image.numpy(), "starts": cloud.starts.numpy(), "seeds": cloud.seeds.numpy(),
            "mse": cloud.mse.numpy(), "iterations": cloud.iterations.numpy(), "eps": np.array(cloud.eps),
            "start_seeds": np.array(cloud.start_seeds)}
