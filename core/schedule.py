"""The continuous cosine-angle diffusion schedule of the Keras DDIM example.

angle(t) = acos(max_signal) + t * (acos(min_signal) - acos(max_signal))
signal_rate = cos(angle), noise_rate = sin(angle), so signal**2 + noise**2 = 1 and
x_t = signal_rate * x0 + noise_rate * eps.
"""

from __future__ import annotations

import math

import torch

MAX_SIGNAL_RATE = 0.95  # at t = 0 (least noise)
MIN_SIGNAL_RATE = 0.02  # at t = 1 (almost pure noise)


def diffusion_schedule(diffusion_times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Map times in [0, 1] (any shape) to (noise_rates, signal_rates) of the same shape."""
    start_angle = math.acos(MAX_SIGNAL_RATE)
    end_angle = math.acos(MIN_SIGNAL_RATE)
    diffusion_angles = start_angle + diffusion_times * (end_angle - start_angle)
    return torch.sin(diffusion_angles), torch.cos(diffusion_angles)
