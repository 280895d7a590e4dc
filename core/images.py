"""Tensor <-> PIL helpers: grids of samples, seeds shown as images."""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image


def to_pil(image: torch.Tensor) -> Image.Image:
    """(C, H, W) in [0, 1] -> PIL 'L' or 'RGB'."""
    array = (image.detach().float().clamp(0, 1).cpu().numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array[0], "L") if array.shape[0] == 1 else Image.fromarray(array.transpose(1, 2, 0), "RGB")


def make_grid(images: torch.Tensor, columns: int | None = None, padding: int = 2, scale: int = 1) -> Image.Image:
    """(N, C, H, W) in [0, 1] -> one PIL image, `columns` per row (default: square-ish)."""
    n, c, h, w = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = torch.ones(c, rows * (h + padding) + padding, columns * (w + padding) + padding)
    for i in range(n):
        top, left = padding + (i // columns) * (h + padding), padding + (i % columns) * (w + padding)
        canvas[:, top : top + h, left : left + w] = images[i].detach().float().cpu()
    grid = to_pil(canvas)
    return grid.resize((grid.width * scale, grid.height * scale), Image.NEAREST) if scale > 1 else grid


def seed_to_display(seed: torch.Tensor) -> torch.Tensor:
    """A seed (C, H, W) ~ N(0, 1) -> [0, 1] for display (+-3 standard deviations)."""
    return (seed / 6.0 + 0.5).clamp(0, 1)


def difference_image(after: torch.Tensor, before: torch.Tensor) -> torch.Tensor:
    """Signed change of two images (C, H, W) in [0, 1] -> an RGB map (3, H, W): red brighter, blue darker, black unchanged."""
    change = (after - before).mean(0)  # (H, W), in [-1, 1]
    gain = 1.0 / max(change.abs().max().item(), 0.25)  # small edits stay visible, big ones do not saturate
    return torch.stack([(change * gain).clamp(0, 1), torch.zeros_like(change), (-change * gain).clamp(0, 1)])
