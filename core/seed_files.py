"""Seed files: (N, C, H, W) float arrays as .npy (never pickled) or .safetensors (key 'seeds')."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from core.atomic import atomic_path
from core.npy_files import NpyError, read_npy

SEED_FILE_SUFFIXES = (".npy", ".safetensors")
# |z| above this is not a noise sample (N(0, I) exceeds 10 about once in 10^23 draws); 1e30 overflowed to NaN images
MAX_SEED_MAGNITUDE = 1e3


class SeedFileError(ValueError):
    """A seed file that cannot be read or does not fit the generator."""


def _read_safetensors_seeds(path: Path, max_elements: int | None) -> torch.Tensor:
    try:
        with safe_open(str(path), framework="pt") as handle:
            if "seeds" not in handle.keys():
                raise SeedFileError(f"{path} has no tensor named 'seeds' (found {sorted(handle.keys())[:5]})")
            shape = handle.get_slice("seeds").get_shape()
            count = int(np.prod(shape, dtype=np.int64))
            if max_elements is not None and count > max_elements:
                raise SeedFileError(f"{path} holds {count:,} values of shape {tuple(shape)}; at most {max_elements:,} are accepted")
            seeds = handle.get_tensor("seeds")
    except (SafetensorError, OSError, RuntimeError) as error:
        raise SeedFileError(f"cannot read seed file {path}: {str(error).splitlines()[0] if str(error) else type(error).__name__}") from None
    if not seeds.is_floating_point() and seeds.dtype not in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        raise SeedFileError(f"{path}: seeds must be real numbers, found dtype {seeds.dtype}")
    return seeds.float()


def load_seed_file(path: str | os.PathLike, image_shape: tuple[int, int, int] | None = None,
                   max_count: int | None = None) -> torch.Tensor:
    """Read seeds -> (N, C, H, W) float32; a single (C, H, W) seed becomes N = 1.
    Checks the shape against `image_shape` and at most `max_count` seeds (both before reading
    the data, when given), and rejects NaN or infinite values."""
    path = Path(path)
    if path.is_dir():
        raise SeedFileError(f"{path} is a folder, not a seed file")
    if not path.is_file():
        raise SeedFileError(f"seed file not found: {path}")
    max_elements = None
    if image_shape is not None and max_count is not None:
        max_elements = max_count * int(np.prod(image_shape))
    if path.suffix == ".npy":
        try:
            seeds = torch.from_numpy(np.asarray(read_npy(path, max_elements), dtype=np.float32))
        except NpyError as error:
            raise SeedFileError(str(error)) from None
    elif path.suffix == ".safetensors":
        seeds = _read_safetensors_seeds(path, max_elements)
    else:
        raise SeedFileError(f"{path}: seed files are {' or '.join(SEED_FILE_SUFFIXES)}")
    stored = tuple(seeds.shape)  # as in the file, for the messages
    if seeds.ndim == 3:
        seeds = seeds.unsqueeze(0)
    if image_shape is not None and (seeds.ndim != 4 or tuple(seeds.shape[1:]) != tuple(image_shape)):
        raise SeedFileError(f"{path} holds an array of shape {stored}; this generator needs seeds of shape "
                            f"(N, {', '.join(map(str, image_shape))}) or one seed ({', '.join(map(str, image_shape))})")
    if seeds.ndim >= 1 and len(seeds) == 0:
        raise SeedFileError(f"{path} holds no seeds (shape {tuple(seeds.shape)})")
    if max_count is not None and len(seeds) > max_count:
        raise SeedFileError(f"{path} holds {len(seeds):,} seeds; at most {max_count:,} per run")
    if not torch.isfinite(seeds).all():
        raise SeedFileError(f"{path} contains NaN or infinite values")
    largest = float(seeds.abs().max()) if seeds.numel() else 0.0
    if largest > MAX_SEED_MAGNITUDE:  # seeds are N(0, I) noise; values this far out overflow the sampler
        raise SeedFileError(f"{path} holds values up to {largest:.3g} in size; seeds are standard normal noise "
                            f"(|z| rarely above 6), and this tool accepts up to {MAX_SEED_MAGNITUDE:g}")
    return seeds


def save_seed_file(path: str | os.PathLike, seeds: torch.Tensor) -> None:
    """Write (N, C, H, W) seeds atomically as .npy or .safetensors (by suffix); refuses NaN or infinite values."""
    path = Path(path)
    if path.suffix not in SEED_FILE_SUFFIXES:
        raise SeedFileError(f"{path}: seed files are {' or '.join(SEED_FILE_SUFFIXES)}")
    seeds = seeds.detach().float().cpu().contiguous()
    if not torch.isfinite(seeds).all():
        raise SeedFileError(f"refusing to write {path}: the seeds contain NaN or infinite values")
    with atomic_path(path) as temporary:
        if path.suffix == ".npy":
            with open(temporary, "wb") as handle:
                np.save(handle, seeds.numpy())
        else:
            save_file({"seeds": seeds}, str(temporary))
