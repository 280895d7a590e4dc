"""Seeded noise: image i depends on seed i only, whatever the batch size or position."""

from __future__ import annotations

import numbers

import torch


def _seed_ranges(text: str) -> list[tuple[int, int]]:
    """'0-3,7' -> [(0, 3), (7, 7)], inclusive ranges, checked but not expanded."""
    ranges: list[tuple[int, int]] = []
    parts = str(text).replace(" ", "").split(",")
    for part in parts:
        if not part:
            if len(parts) > 1:  # '1,,2' or a trailing comma: most likely a number left out
                raise ValueError(f"empty item in the seed list {text!r}: use numbers and ranges like '0-63,100'")
            continue
        try:
            if not part.isascii():  # int() also reads other scripts' digits ('٣' as 3): refuse what is not typed as 0-9
                raise ValueError
            if "-" in part[1:]:
                cut = part.index("-", 1)
                low, high = int(part[:cut]), int(part[cut + 1 :])
            else:
                low = high = int(part)
        except ValueError:
            raise ValueError(f"bad seed list item {part!r}: use numbers and ranges like '0-63,100'") from None
        if high < low:
            raise ValueError(f"bad seed list item {part!r}: a range runs from the smaller number to the larger ('{high}-{low}')")
        ranges.append((low, high))
    if not ranges:
        raise ValueError("the seed list is empty")
    if any(low < 0 or high >= 2**63 for low, high in ranges):
        raise ValueError("seeds must be between 0 and 2**63 - 1")
    return ranges


def count_seed_list(text: str) -> int:
    """How many seeds '0-63,100' names, counted without expanding the ranges (ValueError if malformed)."""
    return sum(high - low + 1 for low, high in _seed_ranges(text))


def parse_seed_list(text: str, max_count: int | None = None) -> list[int]:
    """'0-3,7,10-11' -> [0, 1, 2, 3, 7, 10, 11] (ranges inclusive, as in EDM's parse_int_list).

    With `max_count`, a list naming more seeds is refused before any range is expanded
    ('0-100000000' would otherwise build a list of 10^8 numbers first)."""
    ranges = _seed_ranges(text)
    count = sum(high - low + 1 for low, high in ranges)
    if max_count is not None and count > max_count:
        raise ValueError(f"{count:,} seeds asked; at most {max_count:,} at a time")
    return [seed for low, high in ranges for seed in range(low, high + 1)]


def seeded_noise(seeds: list[int], shape: tuple[int, int, int], device: str | torch.device = "cpu") -> torch.Tensor:
    """(len(seeds), *shape) standard normal noise, one torch.Generator per seed (whole numbers in 0 .. 2**63 - 1)."""
    if isinstance(seeds, (str, bytes)):  # '12' would be seeds 1 and 2: parse_seed_list reads text
        raise TypeError(f"seeds must be a list of whole numbers; for text like {seeds!r} use parse_seed_list")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**63:
            raise ValueError(f"a seed is a whole number in 0 .. 2**63 - 1, got {seed!r}")
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
