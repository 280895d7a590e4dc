"""Seeded noise: image i depends on seed i only, whatever the batch size or position."""

from __future__ import annotations

import torch


def parse_seed_list(text: str) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11] (ranges inclusive, as in EDM's parse_int_list)."""
    seeds: list[int] = []
    for part in str(text).replace(" ", "").split(","):
        if not part:
            continue
        try:
            if "-" in part[1:]:
                cut = part.index("-", 1)
                low, high = int(part[:cut]), int(part[cut + 1 :])
                if high < low:
                    raise ValueError
                seeds.extend(range(low, high + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise ValueError(f"bad seed list item {part!r}: use numbers and ranges like '0-63,100'") from None
    if not seeds:
        raise ValueError("the seed list is empty")
    if any(s < 0 or s >= 2**63 for s in seeds):
        raise ValueError("seeds must be between 0 and 2**63 - 1")
    return seeds


def seeded_noise(seeds: list[int], shape: tuple[int, int, int], device: str | torch.device = "cpu") -> torch.Tensor:
    """(len(seeds), *shape) standard normal noise, one torch.Generator per seed."""
    noise = torch.empty((len(seeds), *shape))
    for i, seed in enumerate(seeds):
        generator = torch.Generator().manual_seed(int(seed))
        noise[i] = torch.randn(shape, generator=generator)
    return noise.to(device)


# Random seeds drawn for reference (typical seeds, no target image) start here, apart from the seeds
# that searches start from (the study's clouds: torch seeds 0, 1, ...; its long descents: 10,000 on).
REFERENCE_FIRST_SEED = 50_000


def reference_noise(count: int, shape: tuple[int, int, int]) -> torch.Tensor:
    """(count, *shape) N(0, I) reference seeds: torch seeds REFERENCE_FIRST_SEED, REFERENCE_FIRST_SEED + 1, ..."""
    return seeded_noise(list(range(REFERENCE_FIRST_SEED, REFERENCE_FIRST_SEED + count)), shape)
