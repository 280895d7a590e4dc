"""Reading user images (png, jpg, ... or .npy) and converting them to what a generator needs,
saying what was done. Every failure is an ImageInputError naming the file."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from core.data import IMAGE_SUFFIXES, pil_to_tensor
from core.npy_files import NpyError, read_npy

# the first bytes of the common image formats: a file that starts so but PIL cannot identify is cut short, not foreign
IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"RIFF")
MAX_FILE_BYTES = 20 * 1000 * 1000  # 20 MB, as every message and the README say it
MAX_PIXELS = 40_000_000  # e.g. 6300 x 6300; larger images are refused, not decoded
INPUT_SUFFIXES = IMAGE_SUFFIXES | {".npy"}


class ImageInputError(ValueError):
    """An input image that cannot be used; the message names the file and the reason."""


def describe_conversion(mode: str, size: tuple[int, int], image_shape: tuple[int, int, int]) -> str:
    channels, target, _ = image_shape
    steps = []
    wanted = "L" if channels == 1 else "RGB"
    if mode != wanted:
        steps.append(f"{mode} -> {'grey' if channels == 1 else 'RGB'}")
    if size != (target, target):
        crop = " (shorter side, centre crop)" if size[0] != size[1] else ""
        steps.append(f"{size[0]}x{size[1]} -> {target}x{target}{crop}")
    return ", ".join(steps) or "used as is"


def pil_to_model_input(image: Image.Image, image_shape: tuple[int, int, int], name: str = "image") -> tuple[torch.Tensor, str]:
    """PIL image -> ((C, S, S) in [0, 1], a note of the conversion)."""
    if image.width * image.height > MAX_PIXELS:
        raise ImageInputError(f"{name}: {image.width}x{image.height} pixels is too large (limit {MAX_PIXELS:,} pixels)")
    if image.width < 1 or image.height < 1:
        raise ImageInputError(f"{name}: empty image")
    note = describe_conversion(image.mode, image.size, image_shape)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (0, 0, 0, 255))  # transparent -> black, like the data's background
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return pil_to_tensor(image, image_shape[1], image_shape[0]), note


def load_image_file(path: str | os.PathLike, image_shape: tuple[int, int, int]) -> tuple[torch.Tensor, str]:
    """One file -> ((C, S, S) in [0, 1], conversion note). Raises ImageInputError."""
    if len(tuple(image_shape)) != 3:  # the caller's mistake, not the file's: say so before reading anything
        raise ValueError(f"image_shape is (C, H, W), e.g. generator.image_shape; got {tuple(image_shape)}")
    path = Path(path)
    if path.is_dir():
        raise ImageInputError(f"{path}: a folder, not an image file (core.image_io.expand_inputs lists a folder's images)")
    if not path.is_file():
        raise ImageInputError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ImageInputError(f"{path}: {path.stat().st_size / 1e6:.1f} MB is over the {MAX_FILE_BYTES / 1e6:.0f} MB limit")
    if path.suffix.lower() == ".npy":
        return _load_npy(path, image_shape)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise ImageInputError(f"{path}: {image.width}x{image.height} pixels is too large (limit {MAX_PIXELS:,} pixels)")
                image.load()
                return pil_to_model_input(image, image_shape, str(path))
    except ImageInputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageInputError(f"{path}: the image is too large (limit {MAX_PIXELS:,} pixels)") from None
    except UnidentifiedImageError:
        with open(path, "rb") as handle:
            head = handle.read(8)
        reason = ("an empty file (0 bytes)" if not head else
                  "corrupt or truncated image (it starts as an image file does, but cannot be read)" if head.startswith(IMAGE_SIGNATURES)
                  else "not an image file (PIL does not know its format)")
        raise ImageInputError(f"{path}: {reason}") from None
    except (OSError, ValueError, SyntaxError) as error:
        raise ImageInputError(f"{path}: corrupt or truncated image ({error})") from None


def _load_npy(path: Path, image_shape: tuple[int, int, int]) -> tuple[torch.Tensor, str]:
    channels, size, _ = image_shape
    try:
        array = read_npy(path, max_elements=4 * MAX_PIXELS)
    except NpyError as error:
        raise ImageInputError(str(error)) from None
    dtype = array.dtype
    array = array.astype(np.float32)
    original_shape = array.shape
    if array.ndim == 2 and channels == 1:
        array = array[None]
    elif array.ndim == 3 and array.shape[-1] == channels and array.shape[0] != channels:
        array = array.transpose(2, 0, 1)  # HWC -> CHW
    if array.shape != (channels, size, size):
        expected = f"({size}, {size})" if channels == 1 else f"({channels}, {size}, {size}) or ({size}, {size}, {channels})"
        raise ImageInputError(f"{path}: array of shape {original_shape}; this generator needs {expected}")
    if not np.isfinite(array).all():
        raise ImageInputError(f"{path}: array contains NaN or infinite values")
    note = "used as is"
    low, high = float(array.min()), float(array.max())
    # integers, or floats that are 8-bit values (above 2, or whole numbers); floats up to 2 with fractions are
    # neither [0, 1] nor 8-bit values, and are refused rather than divided by 255 to near black
    eight_bit = high > 2 or (high > 1.01 and bool(np.all(array == np.round(array))))
    if np.issubdtype(dtype, np.integer) or eight_bit:
        if low < 0 or high > 255:
            raise ImageInputError(f"{path}: values in [{low:.3g}, {high:.3g}]; expected [0, 1] or [0, 255]")
        array, note = array / 255.0, "scaled [0, 255] -> [0, 1]"
    elif low < -0.01 or high > 1.01:
        raise ImageInputError(f"{path}: values in [{low:.3g}, {high:.3g}]; expected [0, 1], or whole numbers in [0, 255]")
    elif low < 0 or high > 1:
        array, note = array.clip(0, 1), "clipped to [0, 1]"
    return torch.from_numpy(array), note


def expand_inputs(paths: list[str | os.PathLike]) -> tuple[list[Path], list[str]]:
    """Files and folders -> (input files, problems). Folders are searched recursively."""
    files, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in INPUT_SUFFIXES)
            if not found:
                problems.append(f"{path}: folder holds no images ({', '.join(sorted(INPUT_SUFFIXES))})")
            files.extend(found)
        elif path.is_file():
            if path.suffix.lower() not in INPUT_SUFFIXES:
                problems.append(f"{path}: unsupported file type {path.suffix or '(none)'}")
            else:
                files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems
