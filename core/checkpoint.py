"""Checkpoints: safetensors weights + a JSON config, the diffusers `from_pretrained` shape.

A generator checkpoint is a folder with `config.json` and `model.safetensors` (EMA weights,
fp16). Nothing here unpickles: only safetensors and JSON are ever read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from core.atomic import atomic_path, write_json
from core.generator import DiffusionGenerator
from core.unet import UNetConfig

GENERATOR_KIND = "ddim-generator"
FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt, foreign or does not match its config."""


def save_tensors(target: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    with atomic_path(target) as temporary:
        save_file({k: v.detach().contiguous().cpu() for k, v in tensors.items()}, str(temporary), metadata=metadata)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a safetensors file header."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None


def load_tensors(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file not found: {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise CheckpointError(f"{path} is not a readable safetensors file ({error})") from None


def read_config(directory: str | os.PathLike, kind: str) -> dict:
    """Read and check `config.json` of a checkpoint folder of the given kind."""
    directory = Path(directory)
    if directory.is_file() and directory.name == CONFIG_NAME:
        directory = directory.parent
    config_path = directory / CONFIG_NAME
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint folder not found: {directory}")
    if not config_path.is_file():
        raise CheckpointError(f"{directory} has no {CONFIG_NAME}: not a checkpoint folder")
    try:
        config = json.loads(config_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{config_path} is not valid JSON ({error})") from None
    if not isinstance(config, dict) or config.get("kind") != kind:
        found = config.get("kind") if isinstance(config, dict) else type(config).__name__
        raise CheckpointError(f"{directory} holds a {found!r} checkpoint, expected {kind!r}")
    if not isinstance(config.get("format_version", 0), int):
        raise CheckpointError(f"{directory}: format_version must be an integer")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise CheckpointError(f"{directory} has format version {config['format_version']}; this code reads <= {FORMAT_VERSION}")
    return config


def load_matching_state(module: torch.nn.Module, tensors: dict[str, torch.Tensor], source: str) -> None:
    """Load `tensors` into `module`, naming every missing, unexpected or mis-shaped tensor."""
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
    module.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})


def save_generator(generator: DiffusionGenerator, directory: str | os.PathLike, extra: dict | None = None) -> Path:
    """Write `config.json` + fp16 `model.safetensors` (the generator's UNet) into `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = {k: v.half() for k, v in generator.unet.state_dict().items()}
    save_tensors(directory / WEIGHTS_NAME, weights)
    config = {
        "kind": GENERATOR_KIND,
        "format_version": FORMAT_VERSION,
        "unet": generator.config.to_dict(),
        "normalization": {"mean": generator.mean.flatten().tolist(), "std": generator.std.flatten().tolist()},
        **(extra or {}),
    }
    write_json(directory / CONFIG_NAME, config)
    return directory


def load_generator(directory: str | os.PathLike, device: str | torch.device = "cpu") -> DiffusionGenerator:
    """The one way to load a generator: folder (or its config.json) -> DiffusionGenerator in eval mode."""
    config = read_config(directory, GENERATOR_KIND)
    directory = Path(directory)
    directory = directory.parent if directory.is_file() else directory
    try:
        unet_config = UNetConfig.from_dict(config["unet"])
        normalization = config["normalization"]
        generator = DiffusionGenerator(unet_config, normalization["mean"], normalization["std"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory / CONFIG_NAME} has a broken generator config ({error})") from None
    load_matching_state(generator.unet, load_tensors(directory / WEIGHTS_NAME), str(directory / WEIGHTS_NAME))
    generator.float()
    generator.eval()  # important: inference mode for every loaded model
    generator.requires_grad_(False)
    return generator.to(device)
