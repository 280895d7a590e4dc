"""Checkpoints: safetensors weights + a JSON config, the diffusers `from_pretrained` shape.

A generator checkpoint is a folder with `config.json` and `model.safetensors` (EMA weights,
fp16). Nothing here unpickles: only safetensors and JSON are ever read.

Integrity: every safetensors file this project writes records `content_sha256` in its header
metadata (SHA-256 over each tensor's name, dtype, shape and bytes, in name order; a generator's
config.json holds the same hash as `weights_sha256`, a second record), and every load checks
each hash present, refuses NaN or infinite weights and, for generators, a config out of range
or a normalization with a non-finite mean or a std <= 0. A file written before hashes existed
(no hash anywhere) gets every check but the hash; `scripts/add_content_hashes.py` adds the
hashes without changing a single weight byte.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from core.atomic import all_or_nothing, atomic_path, write_json
from core.generator import DiffusionGenerator
from core.unet import UNet, UNetConfig

GENERATOR_KIND = "ddim-generator"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
HASH_KEY = "content_sha256"  # in the safetensors metadata
CONFIG_HASH_KEY = "weights_sha256"  # the same hash in a generator's config.json: a second, independent record
# Sanity bounds of a generator config (the shipped models: 8 or 28 pixels, widths <= 384).
MAX_IMAGE_SIZE = 1024
MAX_CHANNELS = 4
MAX_WIDTH = 4096
MAX_LEVELS = 8
MAX_BLOCK_DEPTH = 16


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, foreign or does not match its config."""


def content_hash(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 hex digest over each tensor's name, dtype, shape and raw bytes, in name order."""
    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(json.dumps([name, str(tensor.dtype), list(tensor.shape)]).encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()


def _all_finite(tensor: torch.Tensor) -> bool:
    if not tensor.is_floating_point():
        return True
    if tensor.dtype == torch.bfloat16:  # NumPy has no bfloat16
        tensor = tensor.float()
    return bool(np.isfinite(tensor.numpy()).all())  # NumPy: torch.isfinite on many small fp16 tensors is ~500x slower on CPU


def _non_finite(tensors: dict[str, torch.Tensor]) -> list[str]:
    return [name for name, tensor in sorted(tensors.items()) if not _all_finite(tensor)]


def save_tensors(target: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write tensors atomically with their content hash in the metadata; refuses NaN or infinite values."""
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    bad = _non_finite(tensors)
    if bad:
        raise CheckpointError(f"refusing to write {target}: NaN or infinite values in {bad[:5]}{' ...' if len(bad) > 5 else ''}")
    metadata = {**(metadata or {}), HASH_KEY: content_hash(tensors)}
    with atomic_path(target) as temporary:
        save_file(tensors, str(temporary), metadata=metadata)


def weights_hash(checkpoint: str | os.PathLike) -> str:
    """The content hash that a checkpoint folder's weights file carries ("" if none): the identity of its weights."""
    folder = Path(checkpoint)
    folder = folder.parent if folder.is_file() else folder  # a checkpoint may be named by its config.json
    return read_metadata(folder / WEIGHTS_NAME).get(HASH_KEY, "")


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file header."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None


def load_tensors(path: str | os.PathLike, expected_sha256: str | None = None) -> dict[str, torch.Tensor]:
    """Read a safetensors file, verifying its content hash (the one in its metadata and
    `expected_sha256`, each if present) and that every float is finite."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None
    recorded = read_metadata(path).get(HASH_KEY)
    actual = content_hash(tensors) if recorded is not None or expected_sha256 is not None else None
    if recorded is not None and recorded != actual:
        raise CheckpointError(f"{path} fails its content check (SHA-256 differs from the one recorded at save time): "
                              "the file was modified or corrupted")
    if expected_sha256 is not None and expected_sha256 != actual:
        raise CheckpointError(f"{path} fails its content check (SHA-256 differs from {CONFIG_HASH_KEY} in {CONFIG_NAME}): "
                              "the weights were modified, corrupted or swapped")
    bad = _non_finite(tensors)
    if bad:
        raise CheckpointError(f"{path} holds NaN or infinite weights in {bad[:5]}{' ...' if len(bad) > 5 else ''}")
    return tensors


def read_config(directory: str | os.PathLike, kind: str) -> dict:
    """Read and check `config.json` of a checkpoint folder of the given kind."""
    directory = Path(directory)
    if directory.is_file() and directory.name == CONFIG_NAME:
        directory = directory.parent
    config_path = directory / CONFIG_NAME
    if directory.is_file():
        raise CheckpointError(f"{directory} is a file; give the checkpoint folder that holds it (with {CONFIG_NAME})")
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {directory}")
    if not config_path.is_file():
        raise CheckpointError(f"{directory} has no {CONFIG_NAME}: not a checkpoint folder")
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{config_path} is not valid JSON ({error})") from None
    if not isinstance(config, dict) or "kind" not in config:
        raise CheckpointError(f"{config_path} has no \"kind\": not a checkpoint of this project (expected {kind!r})")
    if config.get("kind") != kind:
        raise CheckpointError(f"{directory} holds a {config.get('kind')!r} checkpoint, expected {kind!r}")
    if not isinstance(config.get("format_version", 0), int):
        raise CheckpointError(f"{directory}: format_version must be an integer")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{directory} has format version {config['format_version']}; this code reads <= {FORMAT_VERSION}")
    return config


def load_matching_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str, shapes_only: bool = False) -> None:
    """Load `tensors` into `module`, naming every missing, unexpected or mis-shaped tensor
    (shapes_only: check, do not load)."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    mis_shaped = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tensors[k].shape != v.shape
    ]
    if missing or unexpected or mis_shaped:
        details = []
        if missing:
            details.append(f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            details.append(f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if mis_shaped:
            details.append(f"wrong shape {mis_shaped[:5]}")
        raise CheckpointError(f"weights in {source} do not match the config: " + "; ".join(details))
    if shapes_only:
        return
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def save_generator(generator: DiffusionGenerator, directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write `config.json` + fp16 `model.safetensors` (the generator's UNet, with its content hash)
    into `directory`, both or neither. Refuses non-finite weights or normalization (CheckpointError)."""
    directory = Path(directory)
    check_normalization({"mean": generator.mean.flatten().tolist(), "std": generator.std.flatten().tolist()},
                        generator.config.channels, f"refusing to write {directory}")
    weights = {k: v.detach().half().contiguous().cpu() for k, v in generator.unet.state_dict().items()}
    config = {
        "kind": GENERATOR_KIND,
        "format_version": FORMAT_VERSION,
        "unet": generator.config.to_dict(),
        "normalization": {"mean": generator.mean.flatten().tolist(), "std": generator.std.flatten().tolist()},
        **(extra or {}),
        CONFIG_HASH_KEY: content_hash(weights),
    }
    with all_or_nothing():
        save_tensors(directory / WEIGHTS_NAME, weights)
        write_json(directory / CONFIG_NAME, config)
    return directory


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_unet_config(values, source: str) -> UNetConfig:
    """A generator config's "unet" entry -> UNetConfig, every field type- and range-checked
    (a huge image_size or width would otherwise allocate gigabytes before anything fails)."""
    if not isinstance(values, dict):
        raise CheckpointError(f"{source}: \"unet\" must be an object of UNet settings, got {json.dumps(values)}")
    try:
        config = UNetConfig.from_dict(values)
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{source}: {error}") from None
    problems = []
    if not _is_int(config.image_size) or not 1 <= config.image_size <= MAX_IMAGE_SIZE:
        problems.append(f"image_size must be a whole number from 1 to {MAX_IMAGE_SIZE}, got {config.image_size!r}")
    if not _is_int(config.channels) or not 1 <= config.channels <= MAX_CHANNELS:
        problems.append(f"channels must be a whole number from 1 to {MAX_CHANNELS}, got {config.channels!r}")
    widths = config.widths
    if (not isinstance(widths, list) or not 1 <= len(widths) <= MAX_LEVELS
            or not all(_is_int(w) and 1 <= w <= MAX_WIDTH for w in widths)):
        problems.append(f"widths must be a list of 1 to {MAX_LEVELS} whole numbers from 1 to {MAX_WIDTH}, got {widths!r}")
    elif _is_int(config.image_size) and config.image_size % 2 ** (len(widths) - 1):
        problems.append(f"image_size {config.image_size} is not divisible by 2**{len(widths) - 1} ({len(widths)} widths)")
    if not _is_int(config.block_depth) or not 1 <= config.block_depth <= MAX_BLOCK_DEPTH:
        problems.append(f"block_depth must be a whole number from 1 to {MAX_BLOCK_DEPTH}, got {config.block_depth!r}")
    if not _is_int(config.embedding_dims) or not 2 <= config.embedding_dims <= MAX_WIDTH or config.embedding_dims % 2:
        problems.append(f"embedding_dims must be an even whole number from 2 to {MAX_WIDTH}, got {config.embedding_dims!r}")
    frequency = config.embedding_max_frequency
    if isinstance(frequency, bool) or not isinstance(frequency, (int, float)) or not math.isfinite(frequency) or frequency <= 0:
        problems.append(f"embedding_max_frequency must be a finite number > 0, got {frequency!r}")
    if problems:
        raise CheckpointError(f"{source}: " + "; ".join(problems))
    return config


def check_normalization(normalization, channels: int, source: str) -> tuple[list[float], list[float]]:
    """{"mean": [...], "std": [...]} -> (mean, std): one finite mean and one finite std > 0 per channel."""
    if not isinstance(normalization, dict):
        raise CheckpointError(f"{source}: \"normalization\" must be an object with \"mean\" and \"std\", got {json.dumps(normalization)}")
    values = {}
    for key in ("mean", "std"):
        numbers = normalization.get(key)
        if (not isinstance(numbers, list) or len(numbers) != channels
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers)):
            raise CheckpointError(f"{source}: normalization {key} must be a list of {channels} number(s), got {json.dumps(numbers)}")
        if not all(math.isfinite(v) for v in numbers):
            raise CheckpointError(f"{source}: normalization {key} {numbers} is not finite")
        values[key] = [float(v) for v in numbers]
    if not all(v > 0 for v in values["std"]):
        raise CheckpointError(f"{source}: normalization std {values['std']} must be > 0 (a zero std makes every image flat)")
    return values["mean"], values["std"]


def load_generator(directory: str | os.PathLike, device: str | torch.device = "cpu") -> DiffusionGenerator:
    """The one way to load a generator: folder (or its config.json) -> DiffusionGenerator in eval mode.
    Verifies the config's ranges, the normalization, the weights' hash and finiteness (CheckpointError)."""
    config = read_config(directory, GENERATOR_KIND)
    directory = Path(directory)
    directory = directory.parent if directory.is_file() else directory
    source = str(directory / CONFIG_NAME)
    unet_config = check_unet_config(config.get("unet"), source)
    mean, std = check_normalization(config.get("normalization"), unet_config.channels, source)
    expected = config.get(CONFIG_HASH_KEY)
    if expected is not None and not isinstance(expected, str):
        raise CheckpointError(f"{source}: {CONFIG_HASH_KEY} must be a hex string, got {json.dumps(expected)}")
    tensors = load_tensors(directory / WEIGHTS_NAME, expected)
    with torch.device("meta"):  # shapes first, without allocating: a config may ask for a huge network
        load_matching_state(UNet(unet_config), tensors, str(directory / WEIGHTS_NAME), shapes_only=True)
    generator = DiffusionGenerator(unet_config, mean, std)
    load_matching_state(generator.unet, tensors, str(directory / WEIGHTS_NAME))
    generator.weights_sha256 = weights_hash(directory)  # which trained companions fit it (core.inversion_start)
    generator.float()
    generator.eval()  # important: inference mode for every loaded model
    generator.requires_grad_(False)
    return generator.to(device)
