"""One API for every embedding method: images x -> seeds z with G(z) ~ x.

    result = embed(generator, images, "fixed_point")
    result.seeds, result.reconstructions, result.mse, result.psnr, result.nfe, result.seconds

Methods
- "gd": gradient descent on z through the sampler (the article's recipe by default);
- "network": an embedding network E(x) -> z in one forward pass (needs `embedder=`); a refined embedder
  (core.refiner) adds one sampling of that seed and one pass of its refiner (10 NFE);
- "ddim_inversion": the deterministic update run backwards (S evaluations);
- "fixed_point": each DDIM step inverted by Anderson-accelerated fixed-point iteration. Default
  "guarded": each image stops each step at a tolerance, divided by how much the sampler steps below
  it stretch a deviation (as their own solves measured: the amplification guard of core.inversion);
  the first solve (the x0 equation) starts from the learned start shipped for the generator, if any
  (core.inversion_start); G(z) is checked and only the images below `fixed_point_target_psnr` are
  solved again (core.inversion.invert_to_target; every benchmark test image >= 40 dB, the README's
  NFE table); "adaptive": the same without the guard (more images solved again; docs/inversion.md);
  "fixed": the original
  schedule of `fixed_point_iterations` (30) iterations per step for the whole batch, stopping early
  only once every image is below 1e-6 (123 NFE on average);
- "hybrid": a network (or DDIM-inversion) start refined by a few descent steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Literal

import torch

from core.generator import DiffusionGenerator
from core.gradient_embedding import ORIGINAL_RECIPE, DescentConfig, descend
from core.inversion import AMPLIFICATION_POWER, DEFAULT_TOLERANCE, ddim_invert, fixed_point_inversion, fixed_point_invert, invert_to_target
from core.inversion_start import InversionStart, shipped_inversion_start

Method = Literal["gd", "network", "ddim_inversion", "fixed_point", "hybrid"]
FixedPointMode = Literal["adaptive", "guarded", "fixed"]
FIXED_POINT_MODES: tuple[str, ...] = ("adaptive", "guarded", "fixed")
METHODS: tuple[str, ...] = ("gd", "network", "ddim_inversion", "fixed_point", "hybrid")

# Our defaults. From a random start: a 5x larger, cosine-decayed step and no seed penalty
# (on 4 test images, 100 iterations: 20.9 dB vs 19.6 dB for the article's recipe).
# From a good start (hybrid): the same loss with the article's step size, decayed.
DESCENT_RECIPE = DescentConfig(iterations=300, lr=5e-2, loss="mae", seed_penalty=0.0, lr_schedule="cosine")
REFINE_RECIPE = DescentConfig(iterations=50, lr=1e-2, loss="mae", seed_penalty=0.0, lr_schedule="cosine")
HYBRID_ITERATIONS = 30  # descent iterations of the network-start hybrid that benchmarks.embedding measures and the demo runs
# From a near-exact start (a few fixed-point iterations): small steps that only polish.
POLISH_RECIPE = DescentConfig(iterations=20, lr=1e-3, loss="mae", seed_penalty=0.0, lr_schedule="cosine")
HybridStart = Literal["auto", "network", "ddim_inversion", "fixed_point"]

# progress(done, total, message)
Progress = Callable[[int, int, str], None]


@dataclass
class EmbeddingResult:
    method: str
    seeds: torch.Tensor  # (N, C, H, W): the best seed per image
    reconstructions: torch.Tensor  # (N, C, H, W) in [0, 1]: G(seeds)
    mse: torch.Tensor  # (N,) on [0, 1] pixels
    nfe: int  # UNet forward evaluations per image spent finding the seed, the largest in the batch (descent adds as many backward passes)
    seconds: float  # wall time to find the seeds of the whole batch (the final reconstruction excluded, as in nfe,
    #                 except for adaptive fixed_point, whose check is that reconstruction)
    candidates: torch.Tensor | None = None  # (N, K, C, H, W) every seed found, when K > 1
    candidate_mse: torch.Tensor | None = None  # (N, K)
    nfe_per_image: torch.Tensor | None = None  # (N,) int64 where it differs per image (adaptive fixed_point)
    missed: torch.Tensor | None = None  # (N,) bool, fixed_point: PSNR below fixed_point_target_psnr

    @property
    def psnr(self) -> torch.Tensor:
        """(N,) PSNR in dB on [0, 1] pixels."""
        return 10.0 * torch.log10(1.0 / self.mse.clamp_min(1e-12))

    @property
    def seconds_per_image(self) -> float:
        return self.seconds / max(1, len(self.seeds))


class EmbeddingInputError(ValueError):
    """Images that the generator cannot embed (wrong shape, NaN, outside [0, 1])."""


def check_images(generator: DiffusionGenerator, images: torch.Tensor) -> torch.Tensor:
    """The images to embed as float32 in [0, 1], detached from any graph of the caller; EmbeddingInputError if unusable."""
    if not isinstance(images, torch.Tensor):
        raise EmbeddingInputError(f"images must be a torch tensor (N, C, H, W), got {type(images).__name__}"
                                  + (" (torch.from_numpy converts an array)" if hasattr(images, "__array__") else ""))
    if images.ndim != 4:
        raise EmbeddingInputError(f"images must be a (N, C, H, W) tensor, got shape {tuple(images.shape)}")
    if len(images) == 0:
        raise EmbeddingInputError("no images to embed (empty batch)")
    if tuple(images.shape[1:]) != generator.image_shape:
        raise EmbeddingInputError(f"images have shape {tuple(images.shape[1:])}, the generator makes {generator.image_shape}")
    if not torch.isfinite(images).all():
        raise EmbeddingInputError("images contain NaN or infinite values")
    if images.min() < -1e-4 or images.max() > 1 + 1e-4:
        raise EmbeddingInputError(f"pixel values must be in [0, 1], got [{images.min():.3g}, {images.max():.3g}]")
    return images.detach().float().clamp(0, 1)  # detached: the descents backpropagate through their own graph only


@torch.no_grad()
def embedder_evaluations(embedder: torch.nn.Module) -> int:
    """Generator evaluations per image that the embedder spends: 0 for a plain one, one sampling for a refined one."""
    return int(getattr(embedder, "generator_evaluations", 0))


def reconstruct(generator: DiffusionGenerator, seeds: torch.Tensor, steps: int = 10, batch: int = 500) -> torch.Tensor:
    return torch.cat([generator.generate(seeds[i : i + batch], steps) for i in range(0, len(seeds), batch)])


def embed(
    generator: DiffusionGenerator,
    images: torch.Tensor,
    method: Method = "fixed_point",
    *,
    steps: int = 10,
    seeds_per_image: int = 1,
    start: torch.Tensor | None = None,
    embedder: torch.nn.Module | None = None,
    descent: DescentConfig | None = None,
    fixed_point_iterations: int = 30,
    fixed_point_mode: FixedPointMode = "guarded",
    fixed_point_target_psnr: float | None = 40.0,
    fixed_point_tolerance: float = DEFAULT_TOLERANCE,
    fixed_point_start: InversionStart | Literal["auto"] | None = "auto",
    hybrid_start: HybridStart = "auto",
    random_seed: int = 0,
    progress: Progress | None = None,
) -> EmbeddingResult:
    """Embed images (N, C, H, W) in [0, 1]; see the module docstring for the methods.

    seeds_per_image > 1 (gd, hybrid): K independent starts per image; the best is returned and all
    are in `candidates`. gd's random starts are one draw for the batch from `random_seed` (image i
    takes row i), so an image's gd seed depends on its place in the batch, unlike the deterministic
    methods; `start` (N, C, H, W) replaces that random start. `descent` overrides
    the descent settings (gd: the article's recipe; hybrid: REFINE_RECIPE). `hybrid_start`: where
    hybrid starts ("auto": the network if `embedder` is given, else DDIM inversion; "fixed_point"
    runs `fixed_point_iterations` per step, pair it with POLISH_RECIPE).
    fixed_point: `fixed_point_mode` "guarded" (default: adaptive with the amplification guard,
    core.inversion.AMPLIFICATION_POWER), "adaptive" (at most `fixed_point_iterations` evaluations per
    step, each step stopped at `fixed_point_tolerance` times its weight, see core.inversion; with a
    `fixed_point_target_psnr`, images below it are solved again) or "fixed" (the original:
    `fixed_point_iterations` per step, stopping early only once every image is below 1e-6).
    `missed` flags images below the target. `fixed_point_start` (adaptive and guarded): the learned start of
    the x0 solve (core.inversion_start); "auto" (default) uses the one shipped for this generator if there is
    one, None the naive start (one evaluation more, and a slower solve).
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {list(METHODS)}")
    images = check_images(generator, images)
    n, k = len(images), int(seeds_per_image)
    if k < 1:
        raise ValueError("seeds_per_image must be >= 1")
    if fixed_point_mode not in FIXED_POINT_MODES:
        raise ValueError(f"unknown fixed_point_mode {fixed_point_mode!r}; choose one of {list(FIXED_POINT_MODES)}")
    if fixed_point_iterations < 1:
        raise ValueError(f"fixed_point_iterations must be >= 1, got {fixed_point_iterations}")
    if fixed_point_target_psnr is not None and not 0 < float(fixed_point_target_psnr) < float("inf"):
        raise ValueError(f"fixed_point_target_psnr must be a positive PSNR in dB (or None), got {fixed_point_target_psnr}")
    if method in ("ddim_inversion", "fixed_point", "network") and k != 1:
        raise ValueError(f"{method} is deterministic: it gives one seed per image (seeds_per_image=1)")
    if start is not None and (tuple(start.shape) != tuple(images.shape) or not torch.isfinite(start).all()):
        raise EmbeddingInputError(f"start seeds must be finite with the images' shape {tuple(images.shape)}, got {tuple(start.shape)}")
    if fixed_point_start is not None and fixed_point_start != "auto" and not isinstance(fixed_point_start, InversionStart):
        raise ValueError(f"fixed_point_start must be 'auto', None or an InversionStart, got {fixed_point_start!r}")
    device = generator.mean.device
    images = images.to(device)
    start = start.float().to(device) if start is not None else None
    started = time.perf_counter()
    normalized = generator.normalize(images)
    candidates = candidate_mse = nfe_per_image = reconstructions = None

    if method == "ddim_inversion":
        with torch.no_grad():
            seeds = ddim_invert(generator.unet, normalized, steps)
        nfe = steps
    elif method == "fixed_point":
        report = (lambda done, total: progress(done, total, "inverting steps")) if progress else None
        amplification_power = AMPLIFICATION_POWER if fixed_point_mode == "guarded" else 0.0
        x0_start = shipped_inversion_start(generator, steps) if fixed_point_start == "auto" else fixed_point_start
        if x0_start is not None and fixed_point_start != "auto":
            x0_start.check_fits(generator, steps)
        use_x0_start = x0_start is not None and fixed_point_mode != "fixed" and start is None
        with torch.no_grad():
            x0_eps = x0_start(normalized) if use_x0_start else None
            eps_guess = x0_start.eps_guess if use_x0_start else None  # the upper states' learned starts, if it has them
            if fixed_point_mode == "fixed":
                seeds, nfe = fixed_point_invert(generator.unet, normalized, steps, fixed_point_iterations, start=start,
                                                progress=report, tolerance=None)
            elif fixed_point_target_psnr is None:
                inversion = fixed_point_inversion(generator.unet, normalized, steps, tolerance=fixed_point_tolerance,
                                                  iterations=fixed_point_iterations, start=start,
                                                  amplification_power=amplification_power, x0_eps=x0_eps, eps_guess=eps_guess,
                                                  progress=report)
                seeds, nfe_per_image = inversion.seeds, inversion.nfe
            else:
                def check(generated: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
                    made = generator.denormalize(generated).clamp(0.0, 1.0)  # G(z) as `reconstruct` makes it
                    return (made - images[index]).pow(2).flatten(1).mean(1), made

                target_mse = 10.0 ** (-float(fixed_point_target_psnr) / 10.0)
                inversion = invert_to_target(generator.unet, normalized, check, target_mse, steps, tolerance=fixed_point_tolerance,
                                             iterations=fixed_point_iterations, start=start,
                                             amplification_power=amplification_power, x0_eps=x0_eps, eps_guess=eps_guess,
                                             progress=progress)
                seeds, nfe_per_image, reconstructions = inversion.seeds, inversion.nfe, inversion.outputs
        if nfe_per_image is not None:
            nfe = int(nfe_per_image.max())
    elif method == "network":
        if embedder is None:
            raise ValueError("method 'network' needs an embedder (core.embedder.load_embedder)")
        with torch.no_grad():
            seeds = embedder(images)
        nfe = embedder_evaluations(embedder)
    else:  # gd, hybrid
        config = descent or (ORIGINAL_RECIPE if method == "gd" else REFINE_RECIPE)
        config = replace(config, steps=steps)
        if method == "hybrid":
            if hybrid_start == "auto":
                hybrid_start = "network" if embedder is not None else "ddim_inversion"
            with torch.no_grad():
                if hybrid_start == "network":
                    if embedder is None:
                        raise ValueError("hybrid_start='network' needs an embedder")
                    initial, nfe = embedder(images), embedder_evaluations(embedder)
                elif hybrid_start == "ddim_inversion":
                    initial, nfe = ddim_invert(generator.unet, normalized, steps), steps
                elif hybrid_start == "fixed_point":  # a few iterations of the fixed schedule, then descent
                    initial, nfe = fixed_point_invert(generator.unet, normalized, steps, fixed_point_iterations, tolerance=None)
                else:
                    raise ValueError(f"unknown hybrid_start {hybrid_start!r}; choose auto, network, ddim_inversion or fixed_point")
            initial = _jittered(initial, k, random_seed)
        else:
            nfe = 0
            if start is not None:
                initial = _jittered(start, k, random_seed)
            else:
                initial = torch.randn((n * k, *generator.image_shape), generator=torch.Generator().manual_seed(random_seed)).to(device)
        report = (lambda it, mse: progress(it, config.iterations, f"descent, mean MSE {mse.mean():.2e}")) if progress else None
        all_seeds, all_mse, iterations = descend(generator, images.repeat_interleave(k, 0), initial, config, report)
        nfe += iterations * steps
        all_seeds, all_mse = all_seeds.reshape(n, k, *generator.image_shape), all_mse.reshape(n, k)
        best = all_mse.argmin(1)
        seeds = all_seeds[torch.arange(n), best]
        if k > 1:
            candidates, candidate_mse = all_seeds, all_mse

    seconds = time.perf_counter() - started
    if reconstructions is None:  # adaptive fixed_point's check already made them
        reconstructions = reconstruct(generator, seeds, steps)
    mse = (reconstructions - images).pow(2).flatten(1).mean(1)
    missed = None
    if method == "fixed_point" and fixed_point_target_psnr is not None:
        missed = mse > 10.0 ** (-float(fixed_point_target_psnr) / 10.0)
    return EmbeddingResult(method, seeds.detach(), reconstructions, mse, int(nfe), seconds, candidates, candidate_mse,
                           nfe_per_image, missed)


def _jittered(starts: torch.Tensor, k: int, random_seed: int, scale: float = 0.1) -> torch.Tensor:
    """(N, C, H, W) -> (N * K, C, H, W): each start K times; all but the first copy perturbed so the K runs differ."""
    repeated = starts.repeat_interleave(k, 0)
    if k == 1:
        return repeated
    noise = torch.randn(repeated.shape, generator=torch.Generator().manual_seed(random_seed)).to(repeated.device)
    keep_first = (torch.arange(len(repeated), device=repeated.device) % k != 0).float().reshape(-1, 1, 1, 1)
    return repeated + scale * noise * keep_first

