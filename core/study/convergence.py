"""Convergence: does descent from a random start approach z* as it runs longer?

If every long descent ends at z*, the spread of a cloud is an artefact of stopping at eps; if
descents settle at distinct seeds with the same image, emb(x) holds distant seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.generator import DiffusionGenerator
from core.study.clouds import CloudConfig, CloudProgress, descend_to_tolerance
from core.study.tolerance import check_image, check_seeds, psnr_from_mse


@dataclass
class ConvergenceTrace:
    iterations: np.ndarray  # (T,) descent iterations at which the seeds were recorded
    distance_to_exact: np.ndarray  # (T, n) |z_j(t) - z*|
    distance_to_mean: np.ndarray  # (T, n) |z_j(t) - mean_j z_j(t)|
    psnr: np.ndarray  # (T, n) PSNR of G(z_j(t)) to x
    exact_norm: float  # |z*|, for scale

    def summary(self) -> dict:
        first, last = self.distance_to_exact[0], self.distance_to_exact[-1]
        return {"seeds": self.distance_to_exact.shape[1], "iterations": int(self.iterations[-1]),
                "distance_to_exact_start_mean": float(first.mean()), "distance_to_exact_end_mean": float(last.mean()),
                "distance_to_exact_end_min": float(last.min()), "distance_to_exact_end_max": float(last.max()),
                "distance_to_mean_end_mean": float(self.distance_to_mean[-1].mean()),
                "psnr_end_mean_db": float(self.psnr[-1].mean()), "psnr_end_min_db": float(self.psnr[-1].min()),
                "exact_seed_norm": self.exact_norm}


def convergence_trace(
    generator: DiffusionGenerator,
    image: torch.Tensor,
    exact_seed: torch.Tensor,
    starts: torch.Tensor,
    config: CloudConfig = CloudConfig(iterations=40),
    progress: CloudProgress | None = None,
) -> ConvergenceTrace:
    """Run descent from `starts` (n, C, H, W) for all `config.iterations` (no early stop) and record, after every
    Gauss-Newton iteration (every `config.check_every` Adam iterations), each seed's distance to z* (C, H, W) and to the seeds' mean, and its PSNR."""
    image = check_image(generator, image)
    starts = check_seeds(generator, starts, minimum=1, name="starts")
    exact = exact_seed.reshape(1, -1).double()
    target = image.unsqueeze(0)
    records: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def trace(iteration: int, indices: torch.Tensor, seeds: torch.Tensor) -> None:
        flat = seeds.flatten(1).double()
        with torch.no_grad():
            mse = (generator.generate(seeds, config.steps) - target).pow(2).flatten(1).mean(1)
        records[iteration] = ((flat - exact).norm(dim=1).numpy(), (flat - flat.mean(0)).norm(dim=1).numpy(),
                              psnr_from_mse(mse).numpy())

    # no early stop: the trace sees every seed at every check (the tolerance is then never used)
    descend_to_tolerance(generator, image, starts, 1e-30, config, progress, trace, stop_inside=False)
    steps = sorted(records)
    return ConvergenceTrace(iterations=np.array(steps), distance_to_exact=np.stack([records[s][0] for s in steps]),
                            distance_to_mean=np.stack([records[s][1] for s in steps]),
                            psnr=np.stack([records[s][2] for s in steps]), exact_norm=float(exact.norm()))
