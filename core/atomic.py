"""Atomic file writes: write to a temporary file beside the target, then rename over it,
so an interrupted run never leaves a half-written output."""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once at import: changing it later would race with other threads


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target` in one rename."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as handle:  # data on disk before the rename makes it visible
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_json(target: str | os.PathLike, data: dict) -> None:
    with atomic_path(target) as temporary:
        temporary.write_text(json.dumps(data, indent=2) + "\n")


def save_image(target: str | os.PathLike, image, **kwargs) -> None:
    """Save a PIL image atomically; the format comes from the target's suffix."""
    target = Path(target)
    with atomic_path(target) as temporary:
        image.save(temporary, format=_pil_format(target), **kwargs)


def _pil_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP"}.get(suffix, "PNG")
