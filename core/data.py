"""Datasets, all offline, as float tensors in [0, 1] of shape (N, C, H, W).

- Fashion-MNIST from the IDX files of Debian's `dataset-fashion-mnist` (or a given folder);
- scikit-learn's 8x8 digits (values 0..16 scaled to [0, 1]), split 1497 train / 300 test;
- any folder of images, resized (shorter side) and centre-cropped, grey or RGB.
"""

from __future__ import annotations

import gzip
import zlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
DIGITS_TEST_SIZE = 300
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
DATASETS = ("fashion", "digits", "folder")


class DatasetError(ValueError):
    """A dataset that is missing, corrupt or unusable; the message says what to do."""


_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped): magic 0x0000TTDD, DD big-endian dims, then data."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DatasetError(f"cannot read IDX file {path}: {error}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES or raw[3] == 0:
        raise DatasetError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'empty'})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path} is truncated inside its header")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DatasetError(f"{path} holds {len(raw) - header} data bytes, its header {shape} promises {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def _find_idx(root: Path, stem: str) -> Path:
    for candidate in (root / f"{stem}.gz", root / stem):
        if candidate.is_file():
            return candidate
    raise DatasetError(
        f"Fashion-MNIST file {stem}(.gz) not found in {root}. Install it with "
        "`sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or pass --data-path to a folder "
        "holding the four IDX files."
    )


def load_fashion_mnist(split: str = "train", root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images (N, 1, 28, 28) float in [0, 1], labels (N,) int64."""
    if split not in FASHION_MNIST_FILES:
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    root = Path(root) if root else FASHION_MNIST_DIR
    image_stem, label_stem = FASHION_MNIST_FILES[split]
    images = read_idx(_find_idx(root, image_stem))
    labels = read_idx(_find_idx(root, label_stem))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"Fashion-MNIST {split} files in {root} have shapes {images.shape} and {labels.shape}")
    tensor = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return tensor, torch.from_numpy(labels.astype(np.int64))


def load_digits_split(split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits -> images (N, 1, 8, 8) in [0, 1], labels (N,); last 300 are the test split."""
    from sklearn.datasets import load_digits

    if split not in ("train", "test"):
        raise ValueError(f"unknown split {split!r}; choose 'train' or 'test'")
    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    cut = len(images) - DIGITS_TEST_SIZE
    return (images[:cut], labels[:cut]) if split == "train" else (images[cut:], labels[cut:])


def pil_to_tensor(image: Image.Image, image_size: int, channels: int) -> torch.Tensor:
    """Any PIL image -> (channels, size, size) in [0, 1]: shorter side resized, then centre-cropped."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):  # 16-bit or float grey: rescale, don't clamp to 255
        array = np.asarray(image, dtype=np.float64)
        low, high = float(array.min()), float(array.max())
        scaled = (array - low) / (high - low) if high > low else np.zeros_like(array)
        image = Image.fromarray((scaled * 255).round().astype(np.uint8), "L")
    image = image.convert("L" if channels == 1 else "RGB")
    width, height = image.size
    scale = image_size / min(width, height)
    resized = image.resize((max(image_size, round(width * scale)), max(image_size, round(height * scale))), Image.BICUBIC)
    left = (resized.width - image_size) // 2
    top = (resized.height - image_size) // 2
    cropped = resized.crop((left, top, left + image_size, top + image_size))
    array = np.asarray(cropped, dtype=np.float32) / 255.0
    return torch.from_numpy(array.reshape(image_size, image_size, channels)).permute(2, 0, 1).contiguous()


def load_image_folder(
    root: str | os.PathLike, image_size: int, channels: int, on_error=print
) -> tuple[torch.Tensor, list[Path]]:
    """Every readable image under `root` -> (N, C, S, S) and their paths; unreadable files are
    reported through `on_error` and skipped. Raises DatasetError if nothing is readable."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"image folder not found: {root}")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    tensors, kept = [], []
    for path in paths:
        try:
            with Image.open(path) as image:
                image.load()
                tensors.append(pil_to_tensor(image, image_size, channels))
            kept.append(path)
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError, SyntaxError) as error:
            on_error(f"skipping unreadable image {path}: {error}")
    if not tensors:
        raise DatasetError(f"no readable images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {root}")
    return torch.stack(tensors), kept


def load_dataset(
    name: str, split: str = "train", path: str | os.PathLike | None = None, image_size: int = 64, channels: int = 3
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """-> (images (N, C, H, W) in [0, 1], labels or None). 'folder' uses a fixed 95/5 split."""
    if name == "fashion":
        return load_fashion_mnist(split, path)
    if name == "digits":
        return load_digits_split(split)
    if name == "folder":
        if path is None:
            raise DatasetError("the 'folder' dataset needs --data-path")
        images, _ = load_image_folder(path, image_size, channels)
        if len(images) < 2:
            raise DatasetError(f"{path} holds {len(images)} readable image(s); a train/test split needs at least 2")
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
        cut = max(1, len(images) // 20)
        chosen = order[cut:] if split == "train" else order[:cut]
        return images[chosen], None
    raise ValueError(f"unknown dataset {name!r}; choose one of {list(DATASETS)}")


def channel_stats(images: torch.Tensor) -> tuple[list[float], list[float]]:
    """Per-channel mean and std over (N, C, H, W) -> two lists of length C."""
    mean = images.mean(dim=(0, 2, 3))
    std = images.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return mean.tolist(), std.tolist()
