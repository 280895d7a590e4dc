"""Inverting the DDIM generator step by step: naive DDIM inversion and fixed-point inversion.

Generation visits times t_0 = 1 > t_1 > ... > t_{S-1} > 0 and returns x0_hat(x_{t_{S-1}}).
Inverting it means, from the target image x (normalized):
  1. find y = x_{t_{S-1}} with x0_hat(y) = x, i.e. y = s x + n eps(y)         (s, n: rates at t_{S-1})
  2. for k = S-1 .. 1, find x = x_{t_{k-1}} whose DDIM step lands on x_{t_k}:
        x_{t_k} = s' (x - n eps(x)) / s + n' eps(x)
     <=> x = (s / s') x_{t_k} + (n - s n' / s') eps(x)                      (s, n at t_{k-1}; s', n' at t_k)
  3. the seed is z = x_{t_0}.
Each equation has the form x = g(x) = base + coefficient * eps(x). Naive DDIM inversion (Song et
al.; diffusers' DDIMInverseScheduler) replaces eps(x) by eps at the point already known, one network
evaluation per step. Fixed-point inversion iterates each equation, accelerated by Anderson mixing,
and keeps each image's best iterate.

How a step's residual reaches the image. If x solves step k's equation up to r = g(x) - x, the
forward DDIM step from x misses x_{t_k} by (s' / s) r, and an error d in x_{t_j} moves the final
x0 estimate by about d / s_{t_j}. Both give the same yardstick: a residual r in the equation for
x_{t_j} costs about |r| / s_{t_j} in the (normalized) image. Step 1 is exact in this respect:
x0_hat(y) = x - r / s. So the adaptive solver stops each image at |r|_rms <= tolerance * w_j * s_{t_j}
(w_j a weight per step), which asks 48x more of the last solve (s = 0.02 at t = 1) than of the first
(s = 0.90 at t = 0.1). The yardstick is rough: measured, the image error of a step was 0.1 to 13
times it, so no per-step tolerance guarantees the image; `invert_to_target` checks G(z) instead.

Free warm starts. The solve of x_{t_k} ends with eps(x_{t_k}) already computed, so the naive
start of the next equation costs no evaluation; and eps along the path changes smoothly in t, so
eps(x_{t_{k-1}}) ~ 2 eps(x_{t_k}) - eps(x_{t_{k+1}}) (linear extrapolation, the idea of IFE,
arXiv 2512.08547) starts each step closer still. Each solve also returns one step more than it
evaluated (the Anderson mix of its history), which on the shipped model is 2-5x closer than its best
evaluated iterate. At t = 1 the map is nearly c/n times the identity (eps(z) ~ z), a contraction of
0.86 per iteration; relaxing by 1 / (1 - c/n) removes that part.

Where the evaluations go (shipped Fashion-MNIST model, per image): the x0 equation at t_{S-1} is
ill-conditioned (the denoiser barely responds to the high frequencies that an exact reconstruction
needs; arXiv 2602.02193 on the singularity near t = 0; Anderson gains only about 20% per iteration
there), about 7 evaluations plus the naive start's 1; t = 1 about 5, t = 0.9 about 3, the others about
1 each. A learned start (`x0_eps`, core.inversion_start) puts the x0 solve's first iterate near its
solution at no evaluation. `invert_to_target` then checks G(z) and re-solves only the images
that missed, tighter. The check is a forward pass from z, and it is the best warm start there is:
its states satisfy every step's equation (each is the previous one's DDIM step, up to rounding), only the image
differs, and the eps it evaluated make each re-solve's first map value free. So a re-solve starts
there, and its first round re-solves only the states near t = 1 (keeping the inverted ones nearer
t = 0), where the residuals that the sampler amplifies were left: on the shipped model an image
solved again cost 56 evaluations on average (26 + 10 for the check + the re-solve) instead of 70.

The amplification guard (`amplification_power` > 0, the "guarded" mode of core.embedding, its default). The
yardstick assumes each later sampler step scales a deviation by its signal-rate ratio; along some
images' paths the steps stretch it far more (1.9x to 143x from t = 0.9 to 0.1 on the images that
missed 40 dB, benchmarks/inversion_where_lost.py), which the backward solves never see directly. But
each solve's iterates do probe its step: for two iterates of the equation x = g(x), the forward step's
change is (s'/s) (dx - dg), so |d(g - x)| / |dx| is that step's gain relative to the yardstick (at
the x0 step likewise, relative to 1/s), the stretch. It is taken from the first two iterates, the
move away from the warm start: later pairs, which Anderson's mixing concentrates on the slowly
converging directions, tightened more steps for no fewer lost images (docs/inversion.md). The solves run from t_{S-1} up to t_0 = 1, so when x_{t_j}
is solved, the stretches of every step below it, the ones that will carry its residual to the image,
are known: its tolerance is divided by their product (at least AMPLIFICATION_FLOOR, raised to the
power). The x0 solve then returns its best evaluated iterate, whose error in the image is known
exactly (r / s), not Anderson's unevaluated extra step, which missed 40 dB on its own for three of
the nine images lost on test images 0-199.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch

from core.sampling import Denoiser, ddim_step, forward_pass, step_times
from core.schedule import diffusion_schedule

# Per-step tolerance on the image-space error |r|_rms / s_{t_j}, normalized units (the shipped model's
# std is 0.353, so 40 dB PSNR is 0.028), times a weight per step: step 1's error reaches the image
# unchanged (2.5x); x_{t_1} and the seed (1x) are where a looser tolerance cost the most PSNR per
# evaluation saved; the rest 2x. Calibrated on test images 0-199 (benchmarks/embedding.py --nfe-curve).
DEFAULT_TOLERANCE = 8e-3
FIRST_STEP_WEIGHT, MIDDLE_WEIGHT, LAST_STEPS_WEIGHT = 2.5, 2.0, 1.0
DEFAULT_ITERATIONS = 30  # most evaluations per image per step (adaptive); iterations per step (fixed)
TIGHTEN = 0.3  # each re-solve multiplies the tolerances by this
# A check's first re-solve covers x_{t_0} .. x_{t_j}, j = UPPER_FRACTION * S: on the shipped model, the
# images that missed 40 dB were lost (generation from their inverted state first missed) at t >= 0.5,
# bar one at the x0 step (benchmarks/inversion_where_lost.py); round 2 re-solves everything.
UPPER_FRACTION = 0.6
# The amplification guard (module docstring): each tolerance / max(floor, product of the stretches below) ** power.
# Power chosen on test images 1000-1999 (outside the benchmark's 0-999), first solve without the check, counting the
# images that the check would make cost over 30 NFE (above 30 already, or below 40 dB): no guard 65 (47 below 40 dB,
# 25.2 NFE per image), power 0.25: 46, 0.35: 43, 0.5: 44 (16 below, 24.7 NFE), 0.75: 53. Floor 0.5: looser where the
# steps below contract. docs/inversion.md has the trials.
AMPLIFICATION_POWER, AMPLIFICATION_FLOOR = 0.5, 0.5
WarmStart = Literal["naive", "extrapolate"]

# fixed_map(x (A, C, H, W), index (A,) of the images in the full batch) -> (g(x), eps(x)), each (A, C, H, W)
FixedMap = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
# eps_guess(j, images (N, C, H, W), trajectory: x_{t_0} .. x_{t_{S-1}}, solved for t_{j+1} and below) -> a guess
# of eps at x_{t_j} (N, C, H, W), or None for the default warm start
EpsGuess = Callable[[int, torch.Tensor, list[torch.Tensor]], "torch.Tensor | None"]
# check(G(z) normalized (A, C, H, W), index (A,)) -> (error (A,), output (A, ...)), e.g. (MSE, G(z) in [0, 1])
Check = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass
class Inversion:
    """What fixed-point inversion found, per image. Steps are in solve order: t_{S-1} first, the seed last."""

    seeds: torch.Tensor  # (N, C, H, W): x_{t_0}
    nfe: torch.Tensor  # (N,) int64: network evaluations spent on each image
    step_errors: torch.Tensor  # (N, S): each solve's best evaluated residual RMS / signal rate
    step_nfe: torch.Tensor  # (N, S) int64: evaluations of each solve (of the latest solve, after re-solves)
    trajectory: list[torch.Tensor]  # S tensors (N, C, H, W): x_{t_0} (the seed), ..., x_{t_{S-1}}
    check_error: torch.Tensor | None = None  # (N,): the check's error of the returned seed (invert_to_target)
    outputs: torch.Tensor | None = None  # (N, ...): the check's output for the returned seed, e.g. G(z)
    missed: torch.Tensor | None = None  # (N,) bool: still above the target after every re-solve
    solves: torch.Tensor | None = None  # (N,) int64: how many times each image was solved (1 = no re-solve)
    # (N, S): each solve's stretch, its step's gain |d(g - x)| / |dx| between its first two iterates (1: one evaluation, unknown)
    stretches: torch.Tensor | None = None


def step_weights(steps: int) -> list[float]:
    """The default tolerance weight of each of the `steps` solves, t_{S-1} first."""
    return [FIRST_STEP_WEIGHT if k == 0 else LAST_STEPS_WEIGHT if k >= steps - 2 else MIDDLE_WEIGHT for k in range(steps)]


def _rates(time: float, like: torch.Tensor) -> tuple[float, float]:
    noise_rate, signal_rate = diffusion_schedule(torch.tensor(float(time), dtype=torch.float64))
    return float(noise_rate), float(signal_rate)


def implied_eps(j: int, images: torch.Tensor, trajectory: Sequence[torch.Tensor]) -> torch.Tensor:
    """eps at x_{t_j} implied by the states (no evaluation): each equation is x = base + c eps(x), so a solved
    x_{t_j} gives eps = (x_{t_j} - base) / c, base from x_{t_{j+1}} (from the image at the x0 step, j = S-1).
    images: normalized (N, C, H, W); trajectory: x_{t_0} .. x_{t_{S-1}}, each (N, C, H, W) -> (N, C, H, W)."""
    steps = len(trajectory)
    times = step_times(steps).tolist()
    noise_rate, signal_rate = _rates(times[j], images)
    if j == steps - 1:
        return (trajectory[j] - signal_rate * images) / noise_rate
    next_noise, next_signal = _rates(times[j + 1], images)
    coefficient = noise_rate - signal_rate * next_noise / next_signal
    return (trajectory[j] - (signal_rate / next_signal) * trajectory[j + 1]) / coefficient


def _eps(denoiser: Denoiser, x: torch.Tensor, noise_rate: float) -> torch.Tensor:
    return denoiser(x, torch.full((x.shape[0],), noise_rate**2, dtype=x.dtype, device=x.device))


def ddim_invert(denoiser: Denoiser, images: torch.Tensor, steps: int = 10) -> torch.Tensor:
    """Naive DDIM inversion: normalized images (N, C, H, W) -> seeds (N, C, H, W); `steps` NFE."""
    times = step_times(steps).tolist()[:-1]  # t_0 = 1, ..., t_{S-1}
    # Step 1, naive: eps evaluated at the clean image with the noise level of t = 0.
    noise_rate, _ = _rates(0.0, images)
    eps = _eps(denoiser, images, noise_rate)
    last_noise, last_signal = _rates(times[-1], images)
    x = last_signal * images + last_noise * eps
    # Step 2, naive: eps at the known x_{t_k} stands in for eps(x_{t_{k-1}}).
    for k in range(len(times) - 1, 0, -1):
        noise_rate, signal_rate = _rates(times[k], images)
        prev_noise, prev_signal = _rates(times[k - 1], images)
        eps = _eps(denoiser, x, noise_rate)
        pred_images = (x - noise_rate * eps) / signal_rate
        x = prev_signal * pred_images + prev_noise * eps
    return x


def _anderson_mix(xs: list[torch.Tensor], gs: list[torch.Tensor], damping: float | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Next iterate from histories of (A, D) iterates and map values, and its predicted residual RMS (A,).

    damping: a float or (A, 1) per image.

    Anderson type II: minimise ||sum_j alpha_j f_j|| over sum alpha = 1 (f_j = g_j - x_j); the
    minimum is what a linear map would leave, so it predicts the residual at the mixed point.
    """
    if len(xs) == 1:
        return xs[0] + damping * (gs[0] - xs[0]), (gs[0] - xs[0]).pow(2).mean(1).sqrt()
    residuals = torch.stack([gj - xj for xj, gj in zip(xs, gs)], dim=2)  # (A, D, m)
    d_residuals = residuals[:, :, 1:] - residuals[:, :, :-1]  # (A, D, m-1)
    driver = "gelsd" if d_residuals.device.type == "cpu" else "gels"  # CUDA supports only gels
    # LAPACK fails on NaN or inf (a broken network): such images get gamma = 0, i.e. plain iteration
    usable = torch.isfinite(residuals).all(dim=(1, 2))
    if usable.all():
        gamma = torch.linalg.lstsq(d_residuals, residuals[:, :, -1:], driver=driver).solution  # (A, m-1, 1)
    else:
        gamma = torch.zeros(residuals.shape[0], residuals.shape[2] - 1, 1, dtype=residuals.dtype, device=residuals.device)
        if usable.any():
            gamma[usable] = torch.linalg.lstsq(d_residuals[usable], residuals[usable, :, -1:], driver=driver).solution
    g_stack, x_stack = torch.stack(gs, dim=2), torch.stack(xs, dim=2)
    mixed_g = gs[-1] - ((g_stack[:, :, 1:] - g_stack[:, :, :-1]) @ gamma).squeeze(2)
    mixed_x = xs[-1] - ((x_stack[:, :, 1:] - x_stack[:, :, :-1]) @ gamma).squeeze(2)
    new_x = mixed_x + damping * (mixed_g - mixed_x)
    predicted = (mixed_g - mixed_x).pow(2).mean(1).sqrt()
    finite = torch.isfinite(new_x).all(1) & torch.isfinite(predicted)
    # a singular solve falls back to plain iteration
    return torch.where(finite[:, None], new_x, gs[-1]), torch.where(finite, predicted, float("inf"))


def anderson_solve(
    fixed_map: Callable[[torch.Tensor], torch.Tensor],
    start: torch.Tensor,
    iterations: int,
    memory: int = 5,
    damping: float = 1.0,
    tolerance: float = 1e-6,
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Solve x = fixed_map(x) per image with Anderson acceleration (Walker & Ni 2011), whole batch together.

    start: (N, ...). Returns (best x, its residual RMS (N,), evaluations used). Every image keeps the
    iterate with the smallest residual ||g(x) - x||, which guards against divergence. This is the
    fixed-iteration solver of `fixed_point_invert(..., tolerance=None)`; `solve_per_image` is the adaptive one.
    """
    n = start.shape[0]
    x = start
    best_x, best_residual = start.clone(), torch.full((n,), float("inf"), device=start.device)
    xs, gs = [], []  # histories of (N, D) iterates and map values
    evaluations = 0
    converged = False
    for _ in range(iterations):
        g = fixed_map(x)
        evaluations += 1
        residual_rms = (g - x).flatten(1).pow(2).mean(1).sqrt()
        improved = residual_rms < best_residual
        best_x[improved], best_residual[improved] = x[improved], residual_rms[improved]
        if (best_residual < tolerance).all():
            converged = True
            break
        xs.append(x.flatten(1))
        gs.append(g.flatten(1))
        xs, gs = xs[-memory:], gs[-memory:]
        x = _anderson_mix(xs, gs, damping)[0].reshape(start.shape).detach()
    if converged:
        return best_x, best_residual, evaluations
    # evaluate the last iterate too
    g = fixed_map(x)
    evaluations += 1
    residual_rms = (g - x).flatten(1).pow(2).mean(1).sqrt()
    improved = residual_rms < best_residual
    best_x[improved], best_residual[improved] = x[improved], residual_rms[improved]
    return best_x, best_residual, evaluations


def solve_per_image(
    fixed_map: FixedMap,
    start: torch.Tensor,
    tolerance: torch.Tensor,
    iterations: int,
    memory: int = 5,
    damping: float = 1.0,
    first_value: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solve x = fixed_map(x) with Anderson acceleration; each image leaves the batch at its tolerance.

    start: (N, ...); tolerance: (N,) residual RMS at which an image is done; iterations: the most
    map evaluations per image; damping: the relaxation of each Anderson step, dropped to 1 for an
    image whose residual grows. Returns (estimate, best x, eps(best x), best residual RMS (N,),
    evaluations (N,)). Each image keeps its iterate with the smallest residual, best x, and is counted
    only while in the batch. The estimate is one step further for free: the Anderson mix of the
    image's history when it predicts a smaller residual than the best iterate's, else g(best x).
    The sixth value, the stretch (N,), is |d(g - x)| / |dx| between the first two evaluated iterates of
    each image (how much the map's step stretches a change; 1 where one evaluation gives no pair).
    first_value: (g(start), eps(start)) when already known, e.g. from a forward pass: the first
    iteration then uses it and is not counted (it still takes one of the `iterations`).
    """
    n, shape = start.shape[0], start.shape[1:]
    x = start.flatten(1)  # (A, D) for the A images still active
    best_x, best_g, best_eps, estimate = x.clone(), x.clone(), x.clone(), x.clone()
    best_residual = torch.full((n,), float("inf"), device=start.device)
    evaluations = torch.zeros(n, dtype=torch.long, device=start.device)
    active = torch.arange(n, device=start.device)
    relaxation = torch.full((n, 1), float(damping), device=start.device)  # per active image
    last_residual = torch.full((n,), float("inf"), device=start.device)
    xs: list[torch.Tensor] = []
    gs: list[torch.Tensor] = []
    stretch = torch.zeros(n, device=start.device)
    for iteration in range(iterations):
        if iteration == 0 and first_value is not None:
            g, eps = first_value[0].flatten(1), first_value[1].flatten(1)
        else:
            g, eps = fixed_map(x.reshape(-1, *shape), active)
            g, eps = g.flatten(1), eps.flatten(1)
            evaluations[active] += 1
        residual_rms = (g - x).pow(2).mean(1).sqrt()
        improved = residual_rms < best_residual[active]
        chosen = active[improved]
        best_x[chosen], best_g[chosen], best_eps[chosen], best_residual[chosen] = x[improved], g[improved], eps[improved], residual_rms[improved]
        if iteration == 1:  # the first two evaluations probe the step along the first move from the warm start
            stretch[active] = ((g - x) - (gs[0] - xs[0])).norm(dim=1) / (x - xs[0]).norm(dim=1).clamp_min(1e-12)
        relaxation[residual_rms > last_residual] = 1.0  # the relaxation overshoots for this image
        last_residual = residual_rms
        xs, gs = (xs + [x])[-memory:], (gs + [g])[-memory:]
        next_x, predicted = _anderson_mix(xs, gs, relaxation)
        leaving = best_residual[active] <= tolerance[active]
        if iteration == iterations - 1:
            leaving[:] = True
        if leaving.any():
            done = active[leaving]
            trusted = predicted[leaving] < best_residual[done]
            estimate[done] = torch.where(trusted[:, None], next_x[leaving], best_g[done])
            keep = ~leaving
            active, xs, gs, next_x = active[keep], [h[keep] for h in xs], [h[keep] for h in gs], next_x[keep]
            relaxation, last_residual = relaxation[keep], last_residual[keep]
            if len(active) == 0:
                break
        x = next_x.detach()
    stretch[stretch == 0] = 1.0
    return (estimate.reshape(start.shape), best_x.reshape(start.shape), best_eps.reshape(start.shape), best_residual, evaluations,
            stretch)


def solve_x0(
    denoiser: Denoiser,
    images: torch.Tensor,
    steps: int = 10,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    iterations: int = DEFAULT_ITERATIONS,
    memory: int = 5,
    x0_eps: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Solve only the x0 equation y = s x + n eps(y) at t_{S-1}: normalized images (N, C, H, W) ->
    ((y - s x) / n at each image's best evaluated iterate y (N, C, H, W): the x0_eps that starts a solve exactly there,
    its image error |r|_rms / s (N,), evaluations (N,)).

    Each image stops at tolerance * FIRST_STEP_WEIGHT (the first solve's tolerance in `fixed_point_inversion`),
    from `x0_eps` if given, else from the naive guess (whose evaluation is counted). The solution is the target a
    learned start learns (core.inversion_start_training) and the yardstick of its validation.
    """
    times = step_times(steps).tolist()[:-1]
    noise_rate, signal_rate = _rates(times[-1], images)
    base = signal_rate * images
    evaluations = torch.zeros(images.shape[0], dtype=torch.long, device=images.device)
    if x0_eps is None:
        x0_eps = _eps(denoiser, images, _rates(0.0, images)[0])
        evaluations += 1

    def fixed_map(v: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        eps = _eps(denoiser, v, noise_rate)
        return base[index] + noise_rate * eps, eps

    limit = torch.full((images.shape[0],), FIRST_STEP_WEIGHT * tolerance * signal_rate, device=images.device)
    _, best, _, residual, used, _ = solve_per_image(fixed_map, base + noise_rate * x0_eps, limit, iterations, memory)
    return (best - base) / noise_rate, residual / signal_rate, evaluations + used


def fixed_point_inversion(
    denoiser: Denoiser,
    images: torch.Tensor,
    steps: int = 10,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    weights: Sequence[float] | None = None,
    iterations: int = DEFAULT_ITERATIONS,
    memory: int = 5,
    warm_start: WarmStart = "extrapolate",
    start: torch.Tensor | None = None,
    starts: Sequence[torch.Tensor] | None = None,
    start_eps: Sequence[torch.Tensor] | None = None,
    solve_from: int | None = None,
    kept: Sequence[torch.Tensor] | None = None,
    amplification_power: float = 0.0,
    x0_eps: torch.Tensor | None = None,
    eps_guess: EpsGuess | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Inversion:
    """Adaptive fixed-point inversion: normalized images (N, C, H, W) -> Inversion (seeds, per-image NFE).

    Each image stops each step's solve once its residual RMS is at most tolerance * weight * s_{t_j}
    (about tolerance * weight in the normalized image; `weights` per solve, t_{S-1} first, default
    `step_weights`), after at most `iterations` evaluations. Warm starts cost no evaluation after
    step 1's naive guess: "extrapolate" (default) or "naive" (module docstring). `start`: a seed whose
    forward trajectory warm-starts every step instead (S - 1 evaluations); `starts`: such a
    trajectory given directly, S tensors x_{t_0} .. x_{t_{S-1}} (e.g. a previous Inversion's, free);
    `start_eps`: eps at each of `starts` (e.g. from `forward_pass`), which makes each solve's first
    map value free. `solve_from` = j solves only x_{t_j}, ..., x_{t_0}, taking x_{t_{j+1}} .. x_{t_{S-1}}
    from `kept` (S tensors, e.g. a previous Inversion's trajectory, whose tensors the returned one then
    holds); the other steps' step_nfe are 0. `amplification_power` > 0 turns on the amplification
    guard (module docstring): each tolerance divided by max(AMPLIFICATION_FLOOR, product of the
    stretches of the steps solved before it) to this power, and the x0 solve returns its best
    evaluated iterate; 0 (default) leaves the tolerances as they are. `x0_eps` (N, C, H, W): a guess of eps
    at the x0 equation's solution (a learned start, core.inversion_start), which starts that solve at no
    evaluation instead of the naive guess (1 evaluation); the solve still stops only at its tolerance.
    `eps_guess(j, images, trajectory)`: a guess of eps at x_{t_j} for the later solves (a learned start's upper
    corrections, `InversionStart.eps_guess`), used where it returns one instead of the extrapolation; free as well.
    """
    if tolerance <= 0 or iterations < 1:
        raise ValueError(f"tolerance must be > 0 and iterations >= 1, got {tolerance} and {iterations}")
    if not 0 <= amplification_power < float("inf"):
        raise ValueError(f"amplification_power must be >= 0, got {amplification_power}")
    times = step_times(steps).tolist()[:-1]
    weights = list(weights) if weights is not None else step_weights(len(times))
    if len(weights) != len(times):
        raise ValueError(f"weights needs one value per step ({len(times)}), got {len(weights)}")
    top = len(times) - 1 if solve_from is None else solve_from
    if not 0 <= top < len(times) or (top < len(times) - 1 and (kept is None or starts is None)):
        raise ValueError(f"solve_from must be in 0..{len(times) - 1} and needs `kept` and `starts` below {len(times) - 1}, got {solve_from}")
    if x0_eps is not None and (tuple(x0_eps.shape) != tuple(images.shape) or start is not None or starts is not None
                               or not torch.isfinite(x0_eps).all()):
        raise ValueError(f"x0_eps must be finite with the images' shape {tuple(images.shape)} and exclude `start` and `starts`")
    if start_eps is not None and (starts is None or start is not None):
        raise ValueError("start_eps are the eps at `starts`: give `starts`, and no `start`")
    for name, given in (("starts", starts), ("start_eps", start_eps), ("kept", kept)):
        if given is not None and len(given) != len(times):
            raise ValueError(f"{name} needs one tensor per state ({len(times)}), got {len(given)}")
    n = images.shape[0]
    nfe = torch.zeros(n, dtype=torch.long, device=images.device)
    step_errors = torch.zeros(n, len(times), device=images.device)
    step_nfe = torch.zeros(n, len(times), dtype=torch.long, device=images.device)
    stretches = torch.ones(n, len(times), device=images.device)
    amplification = torch.ones(n, device=images.device)  # product of the stretches of the steps solved so far
    if start is not None:
        starts = _forward_trajectory(denoiser, start, times)
        nfe += len(times) - 1
    trajectory: list[torch.Tensor] = list(kept) if kept is not None else [images] * len(times)
    solved_eps: list[torch.Tensor] = []  # eps at the solutions found so far, nearest t = 0 first
    x_next = images if top == len(times) - 1 else kept[top + 1]
    for j in range(top, -1, -1):  # solve for x_{t_j}, back to t_0 = 1
        order = len(times) - 1 - j
        noise_rate, signal_rate = _rates(times[j], images)
        if order == 0:  # step 1: y = s x + n eps(y)
            base, coefficient = signal_rate * images, noise_rate
        else:  # step 2: x = (s / s') x_{t_{j+1}} + (n - s n' / s') eps(x)
            next_noise, next_signal = _rates(times[j + 1], images)
            base, coefficient = (signal_rate / next_signal) * x_next, noise_rate - signal_rate * next_noise / next_signal
        if starts is not None:
            initial = starts[j]
        elif order == 0 and x0_eps is not None:  # the learned guess: no evaluation
            initial = base + coefficient * x0_eps
        elif order == 0:  # the naive guess: eps at the clean image, noise level of t = 0 (1 evaluation)
            initial = base + coefficient * _eps(denoiser, images, _rates(0.0, images)[0])
            nfe += 1
        elif eps_guess is not None and (guess := eps_guess(j, images, trajectory)) is not None:
            initial = base + coefficient * guess
        elif warm_start == "extrapolate" and len(solved_eps) >= 2:
            initial = base + coefficient * (2 * solved_eps[-1] - solved_eps[-2])
        else:
            initial = base + coefficient * solved_eps[-1]
        first_value = (base + coefficient * start_eps[j], start_eps[j]) if start_eps is not None else None

        def fixed_map(v: torch.Tensor, index: torch.Tensor, base=base, coefficient=coefficient, noise_rate=noise_rate):
            eps = _eps(denoiser, v, noise_rate)
            return base[index] + coefficient * eps, eps

        # At t = 1, relax by 1 / (1 - c/n): g is there about (c/n) x plus a small part (module docstring).
        damping = 1.0 / (1.0 - coefficient / noise_rate) if j == 0 and order > 0 else 1.0
        limit = torch.full((n,), weights[order] * tolerance * signal_rate, device=images.device)
        if amplification_power > 0:
            limit = limit / amplification.clamp_min(AMPLIFICATION_FLOOR) ** amplification_power
        x, best_x, eps, residual, used, stretch = solve_per_image(fixed_map, initial, limit, iterations, memory, damping, first_value)
        if amplification_power > 0 and order == 0:
            x = best_x  # its image error is exactly residual / s; eps is the eps at best_x
        nfe += used
        step_errors[:, order], step_nfe[:, order], stretches[:, order] = residual / signal_rate, used, stretch
        amplification = amplification * stretch
        solved_eps.append(eps)
        trajectory[j] = x_next = x
        if progress:
            progress(top - j + 1, top + 1)
    return Inversion(x_next.clone(), nfe, step_errors, step_nfe, trajectory, stretches=stretches)


def invert_to_target(
    denoiser: Denoiser,
    images: torch.Tensor,
    check: Check,
    target: float,
    steps: int = 10,
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    iterations: int = DEFAULT_ITERATIONS,
    rounds: int = 3,
    fallback: bool = True,
    memory: int = 5,
    warm_start: WarmStart = "extrapolate",
    start: torch.Tensor | None = None,
    amplification_power: float = 0.0,
    x0_eps: torch.Tensor | None = None,
    eps_guess: EpsGuess | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> Inversion:
    """Adaptive inversion with a guarantee: check every seed, re-solve only the images above `target`.

    check(outputs, index) -> (error (A,), reported output): outputs are G(z) for images[index],
    normalized (A, C, H, W); e.g. the MSE of the denormalized outputs to the images. The G(z) that
    the check needs is a `forward_pass`, whose states and eps warm-start the re-solves: each solve's
    first map value is free. An image above target is solved again, every tolerance times
    TIGHTEN ** round: in round 1 only the states x_{t_j} with j <= `upper_steps(steps)` (t >= 0.4 at
    S = 10, where the sampler's amplification of a residual starts; the later states are kept),
    from round 2 every state; up to `rounds` rounds; then, with `fallback`, by the fixed schedule
    (`fixed_point_invert(..., tolerance=None)`), so the result is never worse than that full solve
    where the target is missed. Each image keeps its best seed by the check; `missed` says which are
    still above target. NFE per image counts every solve, plus `steps` for each check but the last
    of that image: the last one's G(z) is the reconstruction that every method needs, and
    `outputs` returns it (as the check reports it). `progress(done, total, stage)` follows the steps
    of the first solve and of each re-solve, `stage` saying which. `amplification_power`: the
    amplification guard of every solve (`fixed_point_inversion`; a re-solve's guard counts only the
    stretches of the steps it solves). `x0_eps`, `eps_guess`: the first solve's learned starts (`fixed_point_inversion`).
    """
    def staged(stage: str) -> Callable[[int, int], None] | None:
        return (lambda done, total: progress(done, total, stage)) if progress else None

    inversion = fixed_point_inversion(denoiser, images, steps, tolerance=tolerance, iterations=iterations,
                                      memory=memory, warm_start=warm_start, start=start, amplification_power=amplification_power,
                                      x0_eps=x0_eps, eps_guess=eps_guess, progress=staged("inverting steps"))
    index = torch.arange(images.shape[0], device=images.device)
    forward = forward_pass(denoiser, inversion.seeds, steps)
    error, outputs = check(forward.output, index)
    inversion.check_error, inversion.outputs = error.clone(), outputs.clone()
    inversion.solves = torch.ones_like(inversion.nfe)
    weights = step_weights(len(inversion.trajectory))
    pending = index[error > target]
    for round_ in range(1, rounds + (1 if fallback else 0) + 1):
        if len(pending) == 0:
            break
        inversion.nfe[pending] += steps  # the check that sent these images back
        inversion.solves[pending] += 1
        report = staged(f"{len(pending)} image(s) below the target: solving again, "
                        + (f"round {round_} of {rounds}" if round_ <= rounds else "by the fixed schedule"))
        if round_ <= rounds:
            solve_from = upper_steps(steps) if round_ == 1 else steps - 1
            again = fixed_point_inversion(denoiser, images[pending], steps, tolerance=tolerance,
                                          weights=[w * TIGHTEN**round_ for w in weights], iterations=iterations,
                                          memory=memory, starts=[state[pending] for state in forward.states],
                                          start_eps=[eps[pending] for eps in forward.eps], solve_from=solve_from,
                                          kept=[state[pending] for state in inversion.trajectory],
                                          amplification_power=amplification_power, progress=report)
            seeds, used = again.seeds, again.nfe
        else:  # the fixed schedule from scratch, the same computation as a plain full solve
            seeds, evaluations = fixed_point_invert(denoiser, images[pending], steps, iterations, memory, tolerance=None, progress=report)
            used = torch.full_like(pending, evaluations)
        inversion.nfe[pending] += used
        again_forward = forward_pass(denoiser, seeds, steps)
        error, outputs = check(again_forward.output, pending)
        better = error < inversion.check_error[pending]
        chosen = pending[better]
        inversion.seeds[chosen], inversion.check_error[chosen], inversion.outputs[chosen] = seeds[better], error[better], outputs[better]
        for states, new_states in ((forward.states, again_forward.states), (forward.eps, again_forward.eps)):
            for state, new_state in zip(states, new_states):
                state[chosen] = new_state[better]  # the best seed's forward pass starts the next round
        if round_ <= rounds:
            solved = slice(steps - 1 - solve_from, steps)  # solve order: t_{S-1} first
            inversion.step_errors[chosen, solved] = again.step_errors[better, solved]
            inversion.step_nfe[chosen, solved] = again.step_nfe[better, solved]
            inversion.stretches[chosen, solved] = again.stretches[better, solved]
            for state, new_state in zip(inversion.trajectory, again.trajectory):
                state[chosen] = new_state[better]
        else:  # the fixed schedule's seed: its trajectory is where G goes from it
            for state, new_state in zip(inversion.trajectory, again_forward.states):
                state[chosen] = new_state[better]
        pending = pending[inversion.check_error[pending] > target]
    inversion.missed = inversion.check_error > target
    return inversion


def upper_steps(steps: int) -> int:
    """The last state index j re-solved in a check's first round: t_j >= 0.4 (j <= 6 at S = 10)."""
    return max(0, min(steps - 2, int(UPPER_FRACTION * steps)))


def fixed_point_invert(
    denoiser: Denoiser,
    images: torch.Tensor,
    steps: int = 10,
    iterations: int = DEFAULT_ITERATIONS,
    memory: int = 5,
    start: torch.Tensor | None = None,
    progress: Callable[[int, int], None] | None = None,
    tolerance: float | None = DEFAULT_TOLERANCE,
) -> tuple[torch.Tensor, int]:
    """Near-exact inversion: normalized images (N, C, H, W) -> (seeds (N, C, H, W), NFE: the largest per image).

    Default: the adaptive solve of `fixed_point_inversion` (each image stops each step at its
    tolerance, at most `iterations` evaluations per step; no check, see `invert_to_target`).
    tolerance=None: the original fixed schedule, a naive start plus `iterations` Anderson
    iterations per step for the whole batch (stopping early only when every image is below 1e-6),
    123 NFE on average at iterations=30 on the shipped generator (benchmarks.embedding). `start`: a
    seed whose forward trajectory warm-starts every step.
    """
    if tolerance is not None:
        inversion = fixed_point_inversion(denoiser, images, steps, tolerance=tolerance, iterations=iterations,
                                          memory=memory, start=start, progress=progress)
        return inversion.seeds, int(inversion.nfe.max())
    times = step_times(steps).tolist()[:-1]
    total_evaluations = 0
    warm_starts = _forward_trajectory(denoiser, start, times) if start is not None else None
    if warm_starts is not None:
        total_evaluations += len(times) - 1

    # Step 1: y = s x + n eps(y) at t_{S-1}.
    noise_rate, signal_rate = _rates(times[-1], images)
    if warm_starts is not None:
        initial = warm_starts[-1]
    else:  # naive start: eps at the clean image, noise level of t = 0
        initial = signal_rate * images + noise_rate * _eps(denoiser, images, _rates(0.0, images)[0])
        total_evaluations += 1
    x, _, used = anderson_solve(lambda y: signal_rate * images + noise_rate * _eps(denoiser, y, noise_rate), initial, iterations, memory)
    total_evaluations += used
    if progress:
        progress(1, len(times))
    # Step 2: x_{t_{k-1}} = (s / s') x_{t_k} + (n - s n' / s') eps(x_{t_{k-1}}).
    for k in range(len(times) - 1, 0, -1):
        next_noise, next_signal = _rates(times[k], images)
        noise_rate, signal_rate = _rates(times[k - 1], images)
        x_next = x
        eps_coefficient = noise_rate - signal_rate * next_noise / next_signal
        if warm_starts is not None:
            initial = warm_starts[k - 1]
        else:  # naive DDIM inversion step from the known point
            eps = _eps(denoiser, x_next, next_noise)
            initial = noise_rate * eps + signal_rate * (x_next - next_noise * eps) / next_signal
            total_evaluations += 1
        x, _, used = anderson_solve(
            lambda v: (signal_rate / next_signal) * x_next + eps_coefficient * _eps(denoiser, v, noise_rate),
            initial, iterations, memory,
        )
        total_evaluations += used
        if progress:
            progress(len(times) - k + 1, len(times))
    return x, total_evaluations


def _forward_trajectory(denoiser: Denoiser, seeds: torch.Tensor, times: list[float]) -> list[torch.Tensor]:
    """The states x_{t_0}, ..., x_{t_{S-1}} that generation from `seeds` visits (S - 1 evaluations:
    `forward_pass` without the last one, which only the image needs)."""
    states = [seeds]
    for time, next_time in zip(times[:-1], times[1:]):
        states.append(ddim_step(denoiser, states[-1], time, next_time)[0])
    return states
