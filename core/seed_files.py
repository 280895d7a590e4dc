"""Seed files: (N, C, H, W) float arrays as .npy (never pickled) or .safetensors (key 'seeds')."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from core.atomic import atomic_path

SEED_FILE_SUFFIXES = (".npy", ".safetensors")


class SeedFileError(ValueError):
    """A seed file that cannot be read or does not fit the generator."""


def load_seed_file(path: str | os.PathLike, image_shape: tuple[int, int, int] | None = None) -> torch.Tensor:
    """Read seeds -> (N, C, H, W) float32; a single (C, H, W) seed becomes N = 1.
    Checks the shape against `image_shape` and rejects NaN or infinite values."""
    path = Path(path)
    if not path.is_file():
        raise SeedFileError(f"seed file not found: {path}")
    try:
        if path.suffix == ".npy":
            array = np.load(path, allow_pickle=False)
            if not np.issubdtype(array.dtype, np.number):
                raise SeedFileError(f"{path}: seeds must be numbers, found dtype {array.dtype}")
            seeds = torch.from_numpy(np.asarray(array, dtype=np.float32))
        elif path.suffix == ".safetensors":
            tensors = load_file(str(path))
            if "seeds" not in tensors:
                raise SeedFileError(f"{path} has no tensor named 'seeds' (found {sorted(tensors)[:5]})")
            seeds = tensors["seeds"].float()
        else:
            raise SeedFileError(f"{path}: seed files are {' or '.join(SEED_FILE_SUFFIXES)}")
    except (ValueError, OSError, SafetensorError) as error:
        if isinstance(error, SeedFileError):
            raise
        raise SeedFileError(f"cannot read seed file {path}: {error}") from None
    if seeds.ndim == 3:
        seeds = seeds.unsqueeze(0)
    if image_shape is not None and (seeds.ndim != 4 or tuple(seeds.shape[1:]) != tuple(image_shape)):
        raise SeedFileError(f"{path} holds seeds of shape {tuple(seeds.shape)}; this generator needs (N, {', '.join(map(str, image_shape))})")
    if not torch.isfinite(seeds).all():
        raise SeedFileError(f"{path} contains NaN or infinite values")
    return seeds


def save_seed_file(path: str | os.PathLike, seeds: torch.Tensor) -> None:
    """Write (N, C, H, W) seeds atomically as .npy or .safetensors (by suffix)."""
    path = Path(path)
    seeds = seeds.detach().float().cpu().contiguous()
    with atomic_path(path) as temporary:
        if path.suffix == ".npy":
            with open(temporary, "wb") as handle:
                np.save(handle, seeds.numpy())
        elif path.suffix == ".safetensors":
            save_file({"seeds": seeds}, str(temporary))
        else:
            raise SeedFileError(f"{path}: seed files are {' or '.join(SEED_FILE_SUFFIXES)}")
