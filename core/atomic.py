"""Atomic file writes: write to a temporary file beside the target, then rename over it,
so an interrupted run never leaves a half-written output.

Inside `all_or_nothing()` the renames wait for the end of the block: a command's outputs
appear together, or (if anything fails) none of them does.
"""

from __future__ import annotations

import errno
import json
import os
import tempfile
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Iterator

UMASK = os.umask(0)  # the process's file-creation mask, for the usual permissions of what we create
os.umask(UMASK)  # read once at import: changing it later would race with other threads


class _Staged:
    """Temporary files waiting for their rename, and the folders made for them."""

    def __init__(self) -> None:
        self.renames: list[tuple[Path, Path]] = []
        self.created_folders: list[Path] = []

    def commit(self) -> None:
        for temporary, target in self.renames:
            os.replace(temporary, target)

    def discard(self) -> None:
        for temporary, _ in self.renames:
            temporary.unlink(missing_ok=True)
        for folder in reversed(self.created_folders):  # deepest first; only if still empty
            try:
                folder.rmdir()
            except OSError:
                pass


_STAGED: ContextVar[_Staged | None] = ContextVar("staged_outputs", default=None)


def _make_folders(folder: Path) -> list[Path]:
    """mkdir -p, returning the folders it created (outermost first)."""
    missing = []
    current = folder
    while not current.exists() and current != current.parent:
        missing.append(current)
        current = current.parent
    folder.mkdir(parents=True, exist_ok=True)
    return list(reversed(missing))


@contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `target` in one rename
    (at the end of the enclosing `all_or_nothing()` block, if there is one)."""
    target = Path(target)
    staged = _STAGED.get()
    created = _make_folders(target.parent)
    if staged is not None:
        staged.created_folders.extend(created)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + target.suffix, dir=target.parent)
    os.close(handle)
    kept = False
    try:
        try:
            yield Path(temporary)
            with open(temporary, "rb") as handle:  # data on disk before the rename makes it visible
                os.fsync(handle.fileno())
        except OSError as error:  # the writer's own message rarely names the file ("1568 requested and 480 written")
            full = error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES) or error.errno is None
            hint = "; is the disk full, or the folder read-only?" if full else ""
            raise OSError(error.errno, f"could not write {target} ({error.strerror or error}){hint}") from error
        os.chmod(temporary, 0o666 & ~UMASK)  # mkstemp creates 0600; give the usual permissions
        if staged is not None:
            staged.renames.append((Path(temporary), target))
            kept = True
        else:
            os.replace(temporary, target)
    finally:
        if not kept and os.path.exists(temporary):
            os.unlink(temporary)


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Every atomic write inside the block becomes visible at its end, all together. If the
    block raises, none does: the temporary files and the folders made for them are removed."""
    staged = _Staged()
    token = _STAGED.set(staged)
    try:
        yield
    except BaseException:
        staged.discard()
        raise
    else:
        staged.commit()
    finally:
        _STAGED.reset(token)


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
