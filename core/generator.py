"""G: seed z -> image in [0, 1]. The UNet, the DDIM sampler and the data normalization together."""

from __future__ import annotations

import numbers

import torch
from torch import nn

from core.sampling import ddim_generate
from core.unet import UNet, UNetConfig


class DiffusionGenerator(nn.Module):
    """Wraps a denoiser with the per-channel normalization it was trained with.

    `generate(z)` is the deterministic G of the paper: (N, C, H, W) noise -> (N, C, H, W) in [0, 1].
    """

    def __init__(self, config: UNetConfig, mean: list[float], std: list[float]):
        super().__init__()
        if len(mean) != config.channels or len(std) != config.channels:
            raise ValueError(f"normalization needs {config.channels} channel(s), got mean={mean} std={std}")
        self.config = config
        self.unet = UNet(config)
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.weights_sha256 = ""  # the content hash of the weights it was loaded from (core.checkpoint.load_generator)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, self.config.image_size, self.config.image_size)

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def denormalize(self, images: torch.Tensor) -> torch.Tensor:
        return images * self.std + self.mean

    def generate_normalized(self, initial_noise: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """Differentiable G without clipping, in normalized space: (N, C, H, W) -> (N, C, H, W)."""
        return ddim_generate(self.unet, initial_noise, steps)

    def generate(self, initial_noise: torch.Tensor, steps: int = 10, clip: bool = True) -> torch.Tensor:
        """(N, C, H, W) seeds -> (N, C, H, W) images in [0, 1] (clipped unless clip=False).

        Seeds of another floating dtype are converted to the weights' dtype; anything else that cannot be a seed
        batch of this generator (another shape, integers, NaN, a numpy array) is a TypeError or ValueError."""
        images = self.denormalize(self.generate_normalized(self.validate_seeds(initial_noise, steps), steps))
        return images.clamp(0.0, 1.0) if clip else images

    def validate_seeds(self, seeds: torch.Tensor, steps: int = 10) -> torch.Tensor:
        """`seeds` as this generator takes them, (N, C, H, W) in the weights' dtype, or a clear error."""
        if not isinstance(seeds, torch.Tensor):
            raise TypeError(f"seeds must be a torch tensor (N, {', '.join(map(str, self.image_shape))}), got {type(seeds).__name__}")
        if seeds.ndim != 4 or tuple(seeds.shape[1:]) != self.image_shape:
            raise ValueError(f"seeds have shape {tuple(seeds.shape)}; this generator takes (N, {', '.join(map(str, self.image_shape))})")
        if not seeds.is_floating_point():
            raise TypeError(f"seeds are noise, a floating-point tensor; got {seeds.dtype}")
        if not torch.isfinite(seeds).all():
            raise ValueError("seeds contain NaN or infinite values")
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
        return seeds.to(self.mean.dtype)
