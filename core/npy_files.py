"""Reading .npy files safely: the header is checked before any data is read, and nothing is
ever unpickled. Every failure is an NpyError whose message names the file and the reason."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"


class NpyError(ValueError):
    """A file that is not a usable .npy array."""


def read_npy_header(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) from the header alone; raises NpyError for anything that is not a plain numeric .npy."""
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise NpyError(f"{path} is empty (0 bytes)")
    with open(path, "rb") as handle:
        if handle.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise NpyError(f"{path} is not a .npy file (it does not start with the NumPy header)")
        handle.seek(0)
        try:
            major, _ = np.lib.format.read_magic(handle)
            reader = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
            shape, _, dtype = reader(handle)
        except (ValueError, OSError, EOFError, SyntaxError) as error:
            raise NpyError(f"{path} has a broken .npy header ({str(error).splitlines()[0] if str(error) else type(error).__name__})") from None
        data_start = handle.tell()
    if dtype.hasobject:
        raise NpyError(f"{path} holds Python objects (pickled data), which are never loaded")
    if dtype.fields is not None or not np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.complexfloating):
        raise NpyError(f"{path}: dtype {dtype} is not real numbers")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size - data_start < expected:
        raise NpyError(f"{path} is truncated: its header promises {expected:,} data bytes for shape {shape}, the file has {size - data_start:,}")
    return tuple(shape), dtype


def read_npy(path: str | os.PathLike, max_elements: int | None = None) -> np.ndarray:
    """A numeric array from a .npy file, header-checked first (size, dtype, truncation, pickles)."""
    path = Path(path)
    shape, _ = read_npy_header(path)
    count = int(np.prod(shape, dtype=np.int64))
    if max_elements is not None and count > max_elements:
        raise NpyError(f"{path} holds {count:,} values of shape {shape}; at most {max_elements:,} are accepted")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise NpyError(f"{path} is not a readable .npy array ({str(error).splitlines()[0]})") from None
