"""Shared fixtures: tiny random models and closed-form denoisers; no trained weights needed."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.generator import DiffusionGenerator  # noqa: E402
from core.unet import get_preset  # noqa: E402


def make_tiny_generator(seed: int = 0) -> DiffusionGenerator:
    """A random 8x8 grey generator whose output layer is not zero (so eps_hat depends on x_t)."""
    torch.manual_seed(seed)
    generator = DiffusionGenerator(get_preset("tiny"), mean=[0.5], std=[0.01])  # random G(z) stays mostly unclipped
    torch.nn.init.normal_(generator.unet.output_conv.weight, std=0.3)
    return generator.eval().requires_grad_(False)


@pytest.fixture
def tiny_generator() -> DiffusionGenerator:
    return make_tiny_generator()


class LinearDenoiser(torch.nn.Module):
    """Closed-form dummy: eps_hat = scale * x_t, independent of the noise level."""

    def __init__(self, scale: float = 0.5):
        super().__init__()
        self.scale = scale

    def forward(self, noisy_images: torch.Tensor, noise_variances: torch.Tensor) -> torch.Tensor:
        return self.scale * noisy_images


@pytest.fixture
def linear_denoiser() -> LinearDenoiser:
    return LinearDenoiser()
