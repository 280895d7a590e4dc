"""The refined embedder: the embedding network's seed, corrected once by a network that sees what G made of it.

    z1 = E(x)                          one pass of a trained embedding network (core.embedder)
    z  = z1 + R(x, G(z1) - x, z1)      one 10-step sampling of z1, then one pass of the refiner R

R is a UNet of the embedder's shape whose input is the image, the first seed's reconstruction error
(x4, so that it has about the image's scale) and the first seed; its last convolution starts at zero,
so training (`core.refiner_training`) starts from E's seeds and only learns the correction. E and G stay
frozen. A plain embedder cannot see where its seed fails; the refiner can, at the cost of one sampling
(10 network evaluations per image). The same idea as ReStyle's iterative encoders for GANs
(Alaluf et al., ICCV 2021), with one refinement step.

A checkpoint is a folder like an embedder's: config.json (kind 'embedder', with a 'refiner' section that
names the base embedder and the generator by their folders relative to this one, with the content hashes
of their weights) + model.safetensors (R's weights). `core.embedder.load_embedder` loads it, so every
command that takes an embedder takes a refined one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from core.atomic import all_or_nothing, write_json
from core.checkpoint import (CheckpointError, load_generator, load_matching_state, load_tensors, read_config, save_tensors,
                             weights_hash)
from core.embedder import EMBEDDER_KIND, Embedder, PlainUNet, load_embedder
from core.embedding import reconstruct
from core.generator import DiffusionGenerator

ERROR_SCALE = 4.0  # G(z1) - x is a few hundredths per pixel; x4 brings it nearer the other inputs' scale


@dataclass
class RefinerConfig:
    unet_widths: list[int] = field(default_factory=lambda: [64, 128, 256])
    unet_block_depth: int = 1
    steps: int = 10  # sampler steps of G(z1): the refiner is trained for one step count


class Refiner(nn.Module):
    """R: (images in [0, 1], G(z1) in [0, 1], z1), each (N, C, H, W) -> the correction to z1 (N, C, H, W)."""

    def __init__(self, config: RefinerConfig, channels: int):
        super().__init__()
        self.config = config
        self.net = PlainUNet(channels, config.unet_widths, config.unet_block_depth)
        self.net.input_conv = nn.Conv2d(3 * channels, config.unet_widths[0], 3, padding=1)
        nn.init.zeros_(self.net.output_conv.weight)  # start as "no correction": training starts from E's seeds
        nn.init.zeros_(self.net.output_conv.bias)

    def forward(self, images: torch.Tensor, first_outputs: torch.Tensor, first_seeds: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([(images - 0.5) / 0.5, ERROR_SCALE * (first_outputs - images), first_seeds], 1))


class RefinedEmbedder(nn.Module):
    """images (N, C, H, W) in [0, 1] -> seeds (N, C, H, W): E's seed plus R's correction (module docstring).

    `generator_evaluations`: the network evaluations per image that finding a seed costs (the sampling of z1).
    Only R's parameters train; E and G are frozen (G is held outside the module's parameters and state)."""

    def __init__(self, base: Embedder, refiner: Refiner, generator: DiffusionGenerator):
        super().__init__()
        if base.image_shape != generator.image_shape:
            raise ValueError(f"the embedder makes seeds {base.image_shape}, the generator needs {generator.image_shape}")
        self.base = base.eval().requires_grad_(False)
        self.refiner = refiner
        self._generator = (generator.eval().requires_grad_(False),)  # a tuple: not a submodule, so not saved or trained

    @property
    def generator(self) -> DiffusionGenerator:
        return self._generator[0]

    @property
    def config(self):
        return self.base.config

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.base.image_shape

    @property
    def generator_evaluations(self) -> int:
        return self.refiner.config.steps

    def first_pass(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(z1 = E(x), G(z1)), without gradients: both are inputs of the refiner, not trained."""
        with torch.no_grad():
            seeds = self.base(images)
            return seeds, reconstruct(self.generator, seeds, self.refiner.config.steps)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        seeds, outputs = self.first_pass(images)
        return seeds + self.refiner(images, outputs, seeds)


def save_refined_embedder(embedder: RefinedEmbedder, directory: str | Path, base_path: str | Path, generator_path: str | Path,
                          extra: dict | None = None) -> Path:
    """Write R's weights and a config that names the base embedder and the generator (by path relative to
    `directory`, and by the content hashes of their weights, which loading checks)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    section = {**asdict(embedder.refiner.config),
               "base": os.path.relpath(base_path, directory), "base_weights": weights_hash(base_path),
               "generator": os.path.relpath(generator_path, directory), "generator_weights": weights_hash(generator_path)}
    with all_or_nothing():  # weights and config appear together or not at all
        save_tensors(directory / "model.safetensors", {k: v.half() for k, v in embedder.refiner.net.state_dict().items()})
        write_json(directory / "config.json", {"kind": EMBEDDER_KIND, "format_version": 1, "embedder": asdict(embedder.config),
                                               "refiner": section, **(extra or {})})
    return directory


def load_refined_embedder(directory: str | Path) -> RefinedEmbedder:
    """The refined embedder in `directory`, with its base embedder and generator, each checked to hold the
    weights it was trained with (a refiner corrects one embedder's seeds for one generator)."""
    directory = Path(directory)
    config = read_config(directory, EMBEDDER_KIND)
    try:
        section = dict(config["refiner"])
        parts = {name: (directory / section.pop(name)).resolve() for name in ("base", "generator")}
        expected = {name: str(section.pop(f"{name}_weights")) for name in ("base", "generator")}
        refiner_config = RefinerConfig(**section)
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory}/config.json has a broken refiner section ({error})") from None
    for name, path in parts.items():
        if not (path / "config.json").is_file():
            raise CheckpointError(f"{directory} refines seeds with the {name} at {path}, which is missing")
        if weights_hash(path) != expected[name]:
            raise CheckpointError(f"{directory} was trained with other {name} weights ({expected[name][:12]}) than those at "
                                  f"{path} ({weights_hash(path)[:12]}): train the refiner again "
                                  "(python -m core.refiner_training)")
    base, generator = load_embedder(parts["base"]), load_generator(parts["generator"])
    if not isinstance(base, Embedder):
        raise CheckpointError(f"{directory} refines {parts['base']}, itself a refined embedder: a refiner's base is a plain one")
    refiner = Refiner(refiner_config, base.config.channels)
    load_matching_state(refiner.net, load_tensors(directory / "model.safetensors"), str(directory))
    return RefinedEmbedder(base, refiner.float().eval().requires_grad_(False), generator)
