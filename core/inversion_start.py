"""Learned starts for fixed-point inversion: its first equation, the x0 solve, and optionally the seed's and x_{t_1}'s.

Fixed-point inversion (core.inversion) first finds the state y = x_{t_{S-1}} from which the sampler's
last step returns the image x exactly:

    y = s x + n eps(y)          (s, n: the signal and noise rates at t_{S-1})

That equation is ill-conditioned: the denoiser barely responds to the high frequencies an exact
reconstruction needs, so Anderson's iterations gain only about 20% each, and from the naive start
(eps at the clean image, itself one network evaluation) the solve cost about 8 of the 25 evaluations
per image on the shipped generator, the most of any step. Its solution is a fixed function of the
image, y* = s x + n eps*(x), so a small network can learn eps*(x) from solved examples; the solve
then starts from y0 = s x + n P(x), at no generator evaluation, and still stops only at its
tolerance, so the guarantee is the same as from the naive start: the start network changes where the
solve starts, never when it stops.

P is a UNet of the embedding network's shape (core.embedder.PlainUNet, without a noise input) on the
generator-normalized image. It is trained (core.inversion_start_training) on the x0 solves of
training images, solved to a quarter of the default tolerance. One pass of P costs a fraction of one
generator evaluation (its parameters: `InversionStart.parameters`; the benchmark reports seconds).

The upper starts. The next most expensive solves are the seed's, x_{t_0} at t = 1 (about 5 evaluations), and
x_{t_1}'s (about 3): the solver starts them from eps linearly extrapolated from the two states solved below, and
that guess is still about 40 and 5 times their tolerances away. Their solutions too are fixed functions of what is
solved below them, so a start can carry, for each of `upper_states`, a second small UNet that corrects the
extrapolation from (x_{t_{j+1}}, the extrapolated eps, its last change), all implied by the solved states
(core.inversion.implied_eps) at no evaluation. It is trained on the states of default inversions of training
images (core.inversion_start_training, after the x0 network); fixed-point inversion takes it as `eps_guess`. Like
the x0 start it moves where a solve begins, never where it stops.

A checkpoint is a folder: config.json (kind 'inversion-start': the network's shape, the sampler steps
and the content hash of the generator weights it was trained for) + model.safetensors (fp16; the upper corrections' tensors under "upper.<j>."). A start
is tied to one generator: `load_inversion_start` refuses another, and `shipped_inversion_start` finds
the one shipped under assets/inversion-starts for a loaded generator, if any.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from core.atomic import all_or_nothing, write_json
from core.checkpoint import CheckpointError, load_matching_state, load_tensors, read_config, save_tensors
from core.embedder import PlainUNet
from core.generator import DiffusionGenerator
from core.inversion import implied_eps

INVERSION_START_KIND = "inversion-start"
SHIPPED_STARTS = Path(__file__).resolve().parent.parent / "assets" / "inversion-starts"


@dataclass
class InversionStartConfig:
    channels: int = 1
    image_size: int = 28
    unet_widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    unet_block_depth: int = 1
    steps: int = 10  # the sampler steps whose x0 equation (at t_{S-1}) it was trained for
    generator_weights: str = ""  # content hash of the generator's weights ("" if unknown)
    upper_states: list[int] = field(default_factory=list)  # states x_{t_j} with a learned warm start (0: the seed at t = 1)

    def __post_init__(self):
        if any(not 0 <= j <= self.steps - 3 for j in self.upper_states) or len(set(self.upper_states)) < len(self.upper_states):
            raise ValueError(f"upper_states must be distinct states in 0..{self.steps - 3} (two solved states below each), "
                             f"got {self.upper_states}")


class InversionStart(nn.Module):
    """P: generator-normalized images (N, C, H, W) -> a guess of eps at the x0 equation's solution (N, C, H, W);
    with `upper_states`, also the warm start of those states' solves (`eps_guess`, core.inversion.EpsGuess)."""

    def __init__(self, config: InversionStartConfig):
        super().__init__()
        self.config = config
        self.net = PlainUNet(config.channels, list(config.unet_widths), config.unet_block_depth)
        # Per upper state j: (x_{t_{j+1}}, the extrapolated eps, its last change) (N, 3C, H, W) -> a correction of the
        # extrapolation (N, C, H, W). Zero at first: an untrained correction is the solver's own warm start.
        self.upper = nn.ModuleDict({str(j): PlainUNet(3 * config.channels, list(config.unet_widths), config.unet_block_depth,
                                                      out_channels=config.channels) for j in config.upper_states})
        for corrector in self.upper.values():
            nn.init.zeros_(corrector.output_conv.weight)
            nn.init.zeros_(corrector.output_conv.bias)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.config.channels, self.config.image_size, self.config.image_size)

    def forward(self, normalized_images: torch.Tensor) -> torch.Tensor:
        return self.net(normalized_images)

    @staticmethod
    def upper_features(j: int, images: torch.Tensor, trajectory: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The inputs of state j's correction (N, 3C, H, W) and the extrapolation it corrects (N, C, H, W), from the
        normalized images and the states solved below x_{t_j} (the solver's linear extrapolation of eps)."""
        newer, older = implied_eps(j + 1, images, trajectory), implied_eps(j + 2, images, trajectory)
        extrapolation = 2 * newer - older
        return torch.cat([trajectory[j + 1], extrapolation, newer - older], 1), extrapolation

    def eps_guess(self, j: int, images: torch.Tensor, trajectory: Sequence[torch.Tensor]) -> torch.Tensor | None:
        """A guess of eps at x_{t_j} (N, C, H, W) once x_{t_{j+1}} .. x_{t_{S-1}} are solved; None for a state
        without a learned start (the solver then extrapolates). core.inversion.EpsGuess."""
        if str(j) not in self.upper:
            return None
        features, extrapolation = self.upper_features(j, images, trajectory)
        return extrapolation + self.upper[str(j)](features)

    def x0_only(self) -> InversionStart:
        """This start without its upper corrections (the x0 start alone, sharing its network): for comparisons."""
        alone = InversionStart(replace(self.config, upper_states=[]))
        alone.net = self.net
        return alone.eval()

    def weights(self) -> dict[str, torch.Tensor]:
        """The x0 network's tensors under their own names, the upper corrections' under "upper."."""
        return {**self.net.state_dict(), **{f"upper.{k}": v for k, v in self.upper.state_dict().items()}}

    def check_fits(self, generator: DiffusionGenerator, steps: int) -> None:
        """Refuse a generator or a step count this start was not trained for (ValueError)."""
        if self.image_shape != generator.image_shape:
            raise ValueError(f"the inversion start is for images {self.image_shape}, the generator makes {generator.image_shape}")
        if steps != self.config.steps:
            raise ValueError(f"the inversion start was trained for the x0 equation of {self.config.steps} sampler steps, "
                             f"not {steps}")
        known = getattr(generator, "weights_sha256", "")
        if self.config.generator_weights and known and known != self.config.generator_weights:
            raise ValueError("the inversion start was trained for other generator weights "
                             f"({self.config.generator_weights[:12]}) "
                             f"than these ({known[:12]}): train one for them (python -m core.inversion_start_training)")


def save_inversion_start(start: InversionStart, directory: str | Path, extra: dict | None = None) -> Path:
    """Write the start's fp16 weights and config to `directory`, together or not at all."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with all_or_nothing():
        save_tensors(directory / "model.safetensors", {k: v.half() for k, v in start.weights().items()})
        write_json(directory / "config.json", {"kind": INVERSION_START_KIND, "format_version": 1,
                                               "inversion_start": asdict(start.config), **(extra or {})})
    return directory


def load_inversion_start(directory: str | Path, generator: DiffusionGenerator | None = None) -> InversionStart:
    """The start network in `directory` (eval mode, no gradients); with `generator`, checked to be trained for it."""
    config = read_config(directory, INVERSION_START_KIND)
    try:
        start = InversionStart(InversionStartConfig(**config["inversion_start"]))
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{directory}/config.json has a broken inversion_start section ({error})") from None
    tensors = load_tensors(Path(directory) / "model.safetensors")
    load_matching_state(start.net, {k: v for k, v in tensors.items() if not k.startswith("upper.")}, str(directory))
    load_matching_state(start.upper, {k[len("upper."):]: v for k, v in tensors.items() if k.startswith("upper.")},
                        f"{directory} (the upper starts)")
    start = start.float().eval().requires_grad_(False)
    if generator is not None:
        try:
            start.check_fits(generator, start.config.steps)
        except ValueError as error:
            raise CheckpointError(f"{directory}: {error}") from None
    return start


@lru_cache(maxsize=8)
def _shipped_folder(generator_weights: str, steps: int) -> Path | None:
    for config in sorted(SHIPPED_STARTS.glob("*/config.json")):
        try:
            section = read_config(config.parent, INVERSION_START_KIND)["inversion_start"]
        except (CheckpointError, KeyError):
            continue
        if section.get("generator_weights") == generator_weights and section.get("steps") == steps:
            return config.parent
    return None


@lru_cache(maxsize=8)
def _load_shipped(folder: Path) -> InversionStart:
    return load_inversion_start(folder)  # shared between calls: in eval mode without gradients it holds no state


def shipped_inversion_start(generator: DiffusionGenerator, steps: int = 10) -> InversionStart | None:
    """The start shipped under assets/inversion-starts for this generator's weights and step count, or None.
    The folder is looked up once per process and weights and step count: a start added later is found by a new process."""
    known = getattr(generator, "weights_sha256", "")
    folder = _shipped_folder(known, steps) if known else None
    return _load_shipped(folder).to(generator.mean.device) if folder is not None else None

