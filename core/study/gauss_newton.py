"""Gauss-Newton descent on the seed: the cloud's optimiser, much faster than Adam near emb_eps(x).

We want seeds z with MSE(clip(G(z)), x) <= eps. Write the residual r(z) = clip*(G(z)) - x (784
numbers for a 28x28 image, as many as z has) and its Jacobian J = dr/dz. A Levenberg-Marquardt step
solves the damped linear least-squares problem

    d = argmin |J d + r|^2 + lam |d|^2     <=>     (J^T J + lam I) d = -J^T r           (1)

by conjugate gradients (CG), which needs only products J v and J^T u, never J itself:
  1. J^T u: one backward pass through the sampler (the graph of the forward pass is kept and
     reused by every CG iteration);
  2. J v: a forward difference (G(z + h v) - G(z)) / h, one forward pass, about 3x cheaper than
     forward-mode autodiff here; CG tolerates its ~1e-4 relative error (inexact Newton), and the
     outer loop always measures the true residual.
A step that lowers the loss is taken and lam shrinks; otherwise lam grows and the seed stays.
A few CG iterations from d = 0 give a step in the span of the most sensitive directions of J
(its large singular values), so the seed moves as little as it must, as gradient descent from a
random start does: the cloud stays a sample of the article's emb(x), only found faster.

clip*: the membership test clips G(z) to [0, 1], so where the target is exactly 0 (Fashion-MNIST's
black background) any output <= 0 is already exact; the residual there is max(G(z), 0), and
likewise min(G(z), 1) - 1 where the target is 1. Elsewhere the output is not clipped, so that a
pixel stuck outside [0, 1] keeps its gradient.

Cost per outer iteration, per seed: 1 forward pass with its graph, then per CG iteration one
forward and one backward pass. Each seed is independent (the UNet has no batch coupling), so the
whole batch runs together and every seed leaves it once inside eps.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import vjp

from core.generator import DiffusionGenerator
from core.gradient_embedding import generate_differentiable

# trace(iteration, indices (a,), seeds (a, C, H, W)) after every outer iteration
Trace = Callable[[int, torch.Tensor, torch.Tensor], None]
# progress(outer iteration, max outer iterations, seeds inside so far, seeds in the batch)
Progress = Callable[[int, int, int, int], None]

FINITE_DIFFERENCE_STEP = 1e-3  # |h v| in seed space for J v; 1e-2 .. 1e-4 give the same steps here


def clip_aware_outputs(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """G(z) (n, C, H, W) as the clipped MSE sees it, where the target is 0 or 1; unchanged elsewhere."""
    outputs = torch.where(target <= 0, outputs.clamp_min(0), outputs)
    return torch.where(target >= 1, outputs.clamp_max(1), outputs)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-seed inner product of (n, C, H, W) tensors, shaped (n, 1, 1, 1) to broadcast."""
    return (a * b).flatten(1).sum(1).view(-1, *([1] * (a.ndim - 1)))


def gauss_newton_descent(
    generator: DiffusionGenerator,
    target: torch.Tensor,
    starts: torch.Tensor,
    eps: float,
    iterations: int = 60,
    cg_iterations: int = 10,
    damping: float = 1e-2,
    steps: int = 10,
    progress: Progress | None = None,
    trace: Trace | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Levenberg-Marquardt from `starts` (n, C, H, W) towards `target` (1, C, H, W) in [0, 1].

    Each seed stops once MSE(clip(G(z)), target) <= eps, or after `iterations` outer iterations.
    Returns (best seeds (n, C, H, W), their MSE on clipped pixels (n,), outer iterations used (n,)).
    Iteration 0 is the start itself (as for Adam's fp32 check before any step).
    """
    n = len(starts)
    generator.requires_grad_(False)  # gradients with respect to the seed only

    def forward(seeds: torch.Tensor) -> torch.Tensor:  # (a, C, H, W) -> clip-aware G(z) - x
        return clip_aware_outputs(generate_differentiable(generator, seeds, steps, checkpointing=False), target) - target

    seeds = starts.detach().clone().float()
    best_seeds, best_mse = seeds.clone(), torch.full((n,), float("inf"))
    used = torch.zeros(n, dtype=torch.long)
    lam = torch.full((n, 1, 1, 1), float(damping))
    active = torch.arange(n)
    residual, backward = vjp(forward, seeds)  # residual (n, C, H, W); backward(u) -> (J^T u,)
    for iteration in range(iterations + 1):
        residual = residual.detach()
        loss = residual.pow(2).flatten(1).mean(1)  # what the steps lower; >= the clipped MSE
        # clip(clip*(G(z))) = clip(G(z)): membership needs no extra pass
        mse = ((residual + target).clamp(0, 1) - target).pow(2).flatten(1).mean(1)
        better = mse < best_mse[active]
        best_mse[active[better]], best_seeds[active[better]] = mse[better], seeds[better]
        used[active] = iteration
        if trace:
            trace(iteration, active.clone(), seeds.clone())
        if progress:
            progress(iteration, iterations, int((best_mse <= eps).sum()), n)
        staying = best_mse[active] > eps
        if iteration == iterations or not staying.any():
            break
        if not staying.all():  # seeds inside eps leave; the rest are re-linearised (one forward pass)
            active, seeds, lam, loss = active[staying], seeds[staying], lam[staying], loss[staying]
            residual, backward = vjp(forward, seeds)
            residual = residual.detach()

        # (1) by CG from d = 0: b = -J^T r; each iteration q = (J^T J + lam) p
        (b,) = backward(-residual)
        step, cg_residual = torch.zeros_like(seeds), b
        direction, rr = b.clone(), _dot(b, b)
        for _ in range(cg_iterations):
            h = FINITE_DIFFERENCE_STEP / direction.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
            with torch.no_grad():
                jacobian_direction = (forward(seeds + h * direction) - residual) / h  # J p
            (q,) = backward(jacobian_direction)
            q = q + lam * direction
            alpha = rr / _dot(direction, q).clamp_min(1e-30)
            step, cg_residual = step + alpha * direction, cg_residual - alpha * q
            rr_next = _dot(cg_residual, cg_residual)
            direction, rr = cg_residual + (rr_next / rr.clamp_min(1e-30)) * direction, rr_next

        # 2. take the step where the loss falls (Levenberg-Marquardt's trust rule)
        trial = seeds + step
        trial_residual, trial_backward = vjp(forward, trial)
        trial_loss = trial_residual.detach().pow(2).flatten(1).mean(1)
        accepted = (trial_loss < loss) & torch.isfinite(trial_loss)
        lam = torch.where(accepted.view(-1, 1, 1, 1), lam * 0.3, lam * 4.0).clamp(1e-12, 1e6)
        if accepted.all():
            seeds, residual, backward = trial, trial_residual, trial_backward
        else:
            seeds = torch.where(accepted.view(-1, 1, 1, 1), trial, seeds)
            residual, backward = vjp(forward, seeds)
    return best_seeds, best_mse, used
