"""Gauss-Newton descent on the seed: the cloud's optimiser, much faster than Adam near emb_eps(x).

We want seeds z with MSE(clip(G(z)), x) <= eps. Write the residual r(z) = clip*(G(z)) - x (784
numbers for a 28x28 image, as many as z has) and its Jacobian J = dr/dz. A Levenberg-Marquardt
update solves the damped linear least-squares problem

    d = argmin |J d + r|^2 + lam |d|^2     <=>     (J^T J + lam I) d = -J^T r           (1)

by conjugate gradients (CG), which needs only products J v and J^T u, never J itself:
  1. J^T u: one backward pass through the sampler (the graph of the forward pass is kept and
     reused by every CG iteration);
  2. J v: a forward difference (G(z + h v) - G(z)) / h, one forward pass, about 3x cheaper than
     forward-mode autodiff here. Its error is largest along the directions G barely responds to,
     which CG reaches last; the outer loop always measures the true residual (inexact Newton).
A seed's CG stops once its residual is a tenth of where it began, or if the curvature p^T q
turns non-positive (finite-difference noise), keeping the iterate reached so far (Steihaug).
An update that lowers the loss is taken and lam shrinks; otherwise lam grows and the seed stays.
CG from d = 0 moves along the most sensitive directions of J first (its large singular values),
so the seed moves as little as it must, as gradient descent from a random start does: the cloud
stays a sample of the article's emb(x), only found faster.

clip*: the membership test clips G(z) to [0, 1], so where the target is exactly 0 (Fashion-MNIST's
black background) any output <= 0 is already exact; the residual there is max(G(z), 0), and
likewise min(G(z), 1) - 1 where the target is 1. Elsewhere the output is not clipped, so that a
pixel stuck outside [0, 1] keeps its gradient.

Cost per outer iteration, per seed, in passes through the 10-step sampler: 1 forward pass that
keeps its graph, 1 backward pass for J^T r, and per CG iteration 1 forward and 1 backward pass
(a backward pass costs about two forward passes). Seeds are independent (the UNet has no batch
coupling), so the batch runs together and each seed leaves it once inside eps, or once its
damping reaches MAX_DAMPING (no update lowers its loss any more: a stuck seed).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch.func import vjp

from core.generator import DiffusionGenerator
from core.gradient_embedding import generate_differentiable

# trace(iteration, indices (a,) of the seeds in the batch, their seeds (a, C, H, W))
Trace = Callable[[int, torch.Tensor, torch.Tensor], None]
# progress(iteration, max iterations, seeds inside so far, seeds in all)
Progress = Callable[[int, int, int, int], None]
# J^T u for u (a, C, H, W)
Backward = Callable[[torch.Tensor], torch.Tensor]

FINITE_DIFFERENCE_STEP = 1e-3  # |h v| in seed space for J v; 1e-2 .. 1e-4 give the same updates here
CG_RELATIVE_TOLERANCE = 0.1  # a seed's CG stops at this fraction of its initial residual (inexact Newton)
DAMPING_UP, DAMPING_DOWN = 4.0, 0.3  # lam after a rejected / accepted update
MIN_DAMPING, MAX_DAMPING = 1e-12, 1e6  # a seed whose lam reaches MAX_DAMPING is stuck and leaves


def clip_aware_outputs(outputs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """G(z) (n, C, H, W) as the clipped MSE sees it, where the target is 0 or 1; unchanged elsewhere."""
    outputs = torch.where(target <= 0, outputs.clamp_min(0), outputs)
    return torch.where(target >= 1, outputs.clamp_max(1), outputs)


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-seed inner product of (n, C, H, W) tensors, shaped (n, 1, 1, 1) to broadcast."""
    return (a * b).flatten(1).sum(1).view(-1, *([1] * (a.ndim - 1)))


def conjugate_gradient(
    jacobian_product: Callable[[torch.Tensor], torch.Tensor],
    backward: Backward,
    gradient: torch.Tensor,
    damping: torch.Tensor,
    iterations: int,
    relative_tolerance: float = CG_RELATIVE_TOLERANCE,
) -> torch.Tensor:
    """Solve (J^T J + damping I) d = gradient per seed by CG from d = 0; returns d (a, C, H, W).

    jacobian_product(v) = J v and backward(u) = J^T u, batched over seeds; gradient = -J^T r (a, C, H, W);
    damping (a, 1, 1, 1). Each seed stops on its own (relative residual, or non-positive curvature)
    and keeps its iterate; the batch stops when every seed has.
    """
    update, residual = torch.zeros_like(gradient), gradient
    direction, rr = gradient.clone(), _dot(gradient, gradient)
    stop_at = relative_tolerance**2 * rr
    running = (rr > 0).flatten()
    for _ in range(iterations):
        if not running.any():
            break
        q = backward(jacobian_product(direction)) + damping * direction  # (J^T J + lam) p
        curvature = _dot(direction, q)
        running = running & (curvature.flatten() > 0)
        go = running.view(-1, 1, 1, 1)
        alpha = torch.where(go, rr / curvature.clamp_min(1e-30), torch.zeros_like(rr))
        update, residual = update + alpha * direction, residual - alpha * q
        rr_next = _dot(residual, residual)
        direction = torch.where(go, residual + (rr_next / rr.clamp_min(1e-30)) * direction, direction)
        rr = torch.where(go, rr_next, rr)
        running = running & (rr > stop_at).flatten()
    return update


def gauss_newton_descent(
    generator: DiffusionGenerator,
    target: torch.Tensor,
    starts: torch.Tensor,
    eps: float,
    iterations: int = 60,
    cg_iterations: int = 10,
    damping: float = 1e-2,
    steps: int = 10,
    stop_inside: bool = True,
    progress: Progress | None = None,
    trace: Trace | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Levenberg-Marquardt from `starts` (n, C, H, W) towards `target` (1, C, H, W) in [0, 1].

    A seed stops once MSE(clip(G(z)), target) <= eps, when it is stuck, or after `iterations` outer
    iterations; stop_inside=False runs every seed to the end (the convergence probe).
    Returns (best seeds (n, C, H, W), their MSE on clipped pixels (n,), outer iterations used (n,)).
    Iteration 0 is the start itself. Gradients flow to the seeds only, whatever the generator's flags.
    """
    if iterations < 0 or cg_iterations < 1 or not damping > 0:
        raise ValueError(f"need iterations >= 0, cg_iterations >= 1 and damping > 0; got {iterations}, {cg_iterations}, {damping}")
    n, device = len(starts), starts.device
    seeds = starts.detach().clone().float()
    best_seeds, best_mse = seeds.clone(), torch.full((n,), float("inf"), device=device)
    used = torch.zeros(n, dtype=torch.long, device=device)
    if n == 0:
        return best_seeds, best_mse, used
    parameters = dict(generator.named_parameters())

    def forward(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # (a, C, H, W) -> (clip*(G(z)) - x, G(z))
        outputs = generate_differentiable(generator, z, steps, checkpointing=False)
        return clip_aware_outputs(outputs, target) - target, outputs.detach()

    def linearise(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, Backward]:
        """(residual, clipped MSE as reconstruction_mse computes it, J^T u) at z."""
        residual, backward, outputs = vjp(forward, z, has_aux=True)
        mse = (outputs.clamp(0, 1) - target).pow(2).flatten(1).mean(1)
        return residual.detach(), mse, lambda u: backward(u, create_graph=False)[0]

    lam = torch.full((n, 1, 1, 1), float(damping), device=device)
    active = torch.arange(n, device=device)
    with torch.no_grad():  # no graph of the generator's weights, only of the seeds (vjp enables grad for them)
        frozen = {name: p.requires_grad for name, p in parameters.items()}
        generator.requires_grad_(False)
        try:
            residual, mse, backward = linearise(seeds)
            for iteration in range(iterations + 1):
                loss = residual.pow(2).flatten(1).mean(1)  # what updates lower; >= the clipped MSE
                better = mse < best_mse[active]
                best_mse[active[better]], best_seeds[active[better]] = mse[better], seeds[better]
                used[active] = iteration
                if trace:
                    trace(iteration, active.clone(), seeds.clone())
                if progress:
                    progress(iteration, iterations, int((best_mse <= eps).sum()), n)
                staying = torch.ones_like(active, dtype=torch.bool)
                if stop_inside:  # else every seed stays to the end, stuck or not (the convergence probe traces all)
                    staying = (best_mse[active] > eps) & (lam.flatten() < MAX_DAMPING)
                if iteration == iterations or not staying.any():
                    break
                if not staying.all():  # leavers go; the rest are linearised again below (one forward pass)
                    active, seeds, lam, loss = active[staying], seeds[staying], lam[staying], loss[staying]
                    backward = None
                if backward is None:
                    residual, mse, backward = linearise(seeds)

                # (1) by CG, J v by a forward difference from the residual at the seeds
                def jacobian_product(direction: torch.Tensor) -> torch.Tensor:
                    h = FINITE_DIFFERENCE_STEP / direction.flatten(1).norm(dim=1).clamp_min(1e-30).view(-1, 1, 1, 1)
                    return (forward(seeds + h * direction)[0] - residual) / h

                update = conjugate_gradient(jacobian_product, backward, -backward(residual), lam, cg_iterations)

                # Levenberg-Marquardt's rule: take the update where the loss falls
                trial = seeds + update
                backward = None  # free its graph before the trial's
                trial_residual, trial_mse, trial_backward = linearise(trial)
                accepted = (trial_residual.pow(2).flatten(1).mean(1) < loss) & torch.isfinite(trial_mse)
                lam = torch.where(accepted.view(-1, 1, 1, 1), lam * DAMPING_DOWN, lam * DAMPING_UP).clamp(MIN_DAMPING, MAX_DAMPING)
                if accepted.all():
                    seeds, residual, mse, backward = trial, trial_residual, trial_mse, trial_backward
                else:  # mixed: values are known, the graph is rebuilt only if another iteration needs it
                    trial_backward = None
                    keep = accepted.view(-1, 1, 1, 1)
                    seeds, residual = torch.where(keep, trial, seeds), torch.where(keep, trial_residual, residual)
                    mse = torch.where(accepted, trial_mse, mse)
        finally:
            for name, p in parameters.items():
                p.requires_grad_(frozen[name])
    return best_seeds, best_mse, used
