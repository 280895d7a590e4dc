"""Embedding networks E(x) -> z: the article's four architectures (one convolution, three,
five, and a UNet, the best), mapping an image in [0, 1] to a seed of the same shape.

A checkpoint is a folder: config.json (kind 'embedder', architecture, image shape, the
generator's normalization) + model.safetensors.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from core.atomic import all_or_nothing, write_json
from core.checkpoint import CheckpointError, check_normalization, load_matching_state, load_tensors, read_config, save_tensors

EMBEDDER_KIND = "embedder"
ARCHITECTURES = ("conv1", "conv3", "conv5", "unet")


@dataclass
class EmbedderConfig:
    architecture: str = "unet"  # conv1 | conv3 | conv5 | unet
    image_size: int = 28
    channels: int = 1
    width: int = 64  # conv nets: channels of the hidden layers
    unet_widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    unet_block_depth: int = 1  # 1 keeps the UNet embedder fast on a CPU (200 MFLOP per 28x28 image)
    mean: list[float] = field(default_factory=lambda: [0.5])  # the generator's normalization
    std: list[float] = field(default_factory=lambda: [0.5])


class ConvStack(nn.Module):
    """`depth` 3x3 convolutions (SiLU between), the last one mapping to the seed's channels."""

    def __init__(self, channels: int, width: int, depth: int):
        super().__init__()
        if depth == 1:
            self.layers = nn.ModuleList([nn.Conv2d(channels, channels, 3, padding=1)])
        else:
            widths = [channels] + [width] * (depth - 1) + [channels]
            self.layers = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(widths[:-1], widths[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i < len(self.layers) - 1:
                x = F.silu(x)
        return x


class PlainResidualBlock(nn.Module):
    def __init__(self, in_width: int, out_width: int):
        super().__init__()
        self.skip = nn.Identity() if in_width == out_width else nn.Conv2d(in_width, out_width, 1)
        self.norm = nn.GroupNorm(min(8, in_width), in_width, affine=False)
        self.conv1 = nn.Conv2d(in_width, out_width, 3, padding=1)
        self.conv2 = nn.Conv2d(out_width, out_width, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.silu(self.conv1(self.norm(x)))) + self.skip(x)


class PlainUNet(nn.Module):
    """The denoiser's UNet shape without the noise embedding: (N, C, H, W) -> (N, C_out, H, W), C_out = C unless given."""

    def __init__(self, channels: int, widths: list[int], depth: int, out_channels: int | None = None):
        super().__init__()
        self.widths, self.depth = widths, depth
        self.input_conv = nn.Conv2d(channels, widths[0], 3, padding=1)
        self.down, skips, width = nn.ModuleList(), [], widths[0]
        for level_width in widths[:-1]:
            for _ in range(depth):
                self.down.append(PlainResidualBlock(width, level_width))
                width = level_width
                skips.append(width)
        self.middle = nn.ModuleList()
        for _ in range(depth):
            self.middle.append(PlainResidualBlock(width, widths[-1]))
            width = widths[-1]
        self.up = nn.ModuleList()
        for level_width in reversed(widths[:-1]):
            for _ in range(depth):
                self.up.append(PlainResidualBlock(width + skips.pop(), level_width))
                width = level_width
        self.output_conv = nn.Conv2d(width, out_channels or channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_conv(x)
        skips, blocks = [], iter(self.down)
        for _ in self.widths[:-1]:
            for _ in range(self.depth):
                x = next(blocks)(x)
                skips.append(x)
            x = F.avg_pool2d(x, 2)
        for block in self.middle:
            x = block(x)
        blocks = iter(self.up)
        for _ in self.widths[:-1]:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            for _ in range(self.depth):
                x = next(blocks)(torch.cat([x, skips.pop()], 1))
        return self.output_conv(x)


class Embedder(nn.Module):
    """E: images (N, C, H, W) in [0, 1] -> seeds (N, C, H, W)."""

    def __init__(self, config: EmbedderConfig):
        super().__init__()
        if config.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown embedder architecture {config.architecture!r}; choose one of {list(ARCHITECTURES)}")
        self.config = config
        depth = {"conv1": 1, "conv3": 3, "conv5": 5}.get(config.architecture)
        self.net = (ConvStack(config.channels, config.width, depth) if depth
                    else PlainUNet(config.channels, config.unet_widths, config.unet_block_depth))
        self.register_buffer("mean", torch.tensor(config.mean).reshape(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(config.std).reshape(1, -1, 1, 1))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, self.config.image_size, self.config.image_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


def deepened(embedder: Embedder, depth: int) -> Embedder:
    """A UNet embedder with `depth` residual blocks per level that computes exactly what `embedder`
    (one block per level) computes: its blocks keep their weights and each new block starts as the
    identity (last convolution zero; in the up path the 1x1 skip passes x and drops the concatenated
    skip), so training continues from the trained function with more capacity instead of from scratch."""
    old = embedder.config
    if old.architecture != "unet" or old.unet_block_depth != 1:
        raise ValueError(f"only a UNet embedder with one block per level can be deepened, not {old.architecture} "
                         f"with depth {old.unet_block_depth}")
    if depth < 2:
        raise ValueError(f"depth must be at least 2 to deepen, got {depth}")
    grown = Embedder(EmbedderConfig(**{**asdict(old), "unet_block_depth": depth}))
    source, target = embedder.net, grown.net
    with torch.no_grad():
        target.input_conv.load_state_dict(source.input_conv.state_dict())
        target.output_conv.load_state_dict(source.output_conv.state_dict())
        for old_blocks, new_blocks in ((source.down, target.down), (source.middle, target.middle), (source.up, target.up)):
            for level, block in enumerate(old_blocks):
                new_blocks[level * depth].load_state_dict(block.state_dict())
                for extra in new_blocks[level * depth + 1 : (level + 1) * depth]:
                    extra.conv2.weight.zero_()
                    extra.conv2.bias.zero_()
                    if isinstance(extra.skip, nn.Conv2d):  # up path: input cat([x, skip]), x first
                        width = extra.skip.out_channels
                        extra.skip.weight.zero_()
                        extra.skip.weight[:, :width, 0, 0] = torch.eye(width)
                        extra.skip.bias.zero_()
    return grown.to(embedder.mean.device).train(embedder.training)


def save_embedder(embedder: Embedder, directory: str | Path, extra: dict | None = None) -> Path:
    directory = Path(directory)
    with all_or_nothing():  # weights and config appear together or not at all
        save_tensors(directory / "model.safetensors", {k: v.half() for k, v in embedder.net.state_dict().items()})
        write_json(directory / "config.json", {"kind": EMBEDDER_KIND, "format_version": 1, "embedder": asdict(embedder.config), **(extra or {})})
    return directory


def trained_through(directory: str | Path) -> str:
    """The content hash of the generator weights the embedder in `directory` was trained through ("" if not recorded).

    An embedder predicts seeds for one generator: through other weights, even of the same shape, they miss."""
    training = read_config(directory, EMBEDDER_KIND).get("training")
    return str(training.get("generator_weights", "")) if isinstance(training, dict) else ""


def load_embedder(directory: str | Path) -> Embedder:
    """The embedder in `directory`; a refined one (core.refiner) comes with its base embedder and generator."""
    config = read_config(directory, EMBEDDER_KIND)
    if "refiner" in config:
        from core.refiner import load_refined_embedder  # core.refiner builds on this module

        return load_refined_embedder(directory)
    try:
        embedder_config = EmbedderConfig(**config["embedder"])
        check_normalization({"mean": embedder_config.mean, "std": embedder_config.std}, embedder_config.channels, f"{directory}/config.json")
        embedder = Embedder(embedder_config)
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory}/config.json has a broken embedder config ({error})") from None
    load_matching_state(embedder.net, load_tensors(Path(directory) / "model.safetensors"), str(directory))
    return embedder.float().eval().requires_grad_(False)
