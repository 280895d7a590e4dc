"""The shared validation layer of every command line: argument ranges, output paths checked
before any work starts, inputs that an output would replace, and one error line, never a traceback.

    parser = ArgumentParser(prog="python -m core.x", description=__doc__)
    parser.add_argument("--steps", type=int_range(1, MAX_STEPS), default=10)
    parser.add_argument("--per-class", type=positive_int, default=600)

    @cli_main
    def main(argv=None) -> int:
        args = parser.parse_args(argv)
        out = check_output_file(args.out, "--out", IMAGE_OUTPUT_SUFFIXES)   # before the compute
        refuse_overlap([args.seed_file], [out])                             # never overwrite an input
        ...
        check_finite(images, "the generated images")                         # never write NaN

Argument types raise argparse.ArgumentTypeError, so argparse names the flag; everything else
raises CLIError (a ValueError). `cli_main` turns CLIError and the other ValueError-based errors
of core/ (CheckpointError, SeedFileError, ImageInputError, DatasetError, ...) into one line
`error: ...` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import copy
import functools
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import torch

# Bounds of the work one command may be asked to do (each with a clear message when exceeded).
MAX_STEPS = 1000  # DDIM steps
MAX_BATCH = 4096
MAX_SEEDS = 10_000  # images one `core.sample` run generates
MAX_GRID_PIXELS = 40_000_000  # the same limit as an input image (core.image_io.MAX_PIXELS)
IMAGE_OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
ERROR_EXIT = 2


class CLIError(ValueError):
    """A bad argument or output path; the message is the one line the user sees."""


def _shows_default(action: argparse.Action) -> bool:
    """Whether --help names the option's default: not for None, a flag's False or a suppressed one. By identity: 0 and
    0.0 equal False, and `in (None, False, ...)` hid them."""
    return not any(action.default is hidden for hidden in (None, False, argparse.SUPPRESS))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks (its examples) and names each option's default where it has one."""

    def add_argument(self, action: argparse.Action) -> None:
        # argparse prints no line for an option without help, so its default would not show: give it that line.
        # Here rather than in ArgumentParser.add_argument, so that options in argument groups get it too.
        if action.help is None and action.option_strings and _shows_default(action):
            action = copy.copy(action)
            action.help = "(default: %(default)s)"
        super().add_argument(action)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.option_strings and _shows_default(action) and "%(default)" not in text and "default" not in text.lower():
            text += " (default: %(default)s)"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (argparse prints the whole usage first, often several lines) and option
    defaults in --help (HelpFormatter)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # noqa: D401 - argparse API
        self.exit(ERROR_EXIT, f"{self.prog}: error: {message} (see --help)\n")


# ---- argparse types: number ranges ----

def _parse_int(text: str) -> int:
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _parse_float(text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """argparse type: a whole number in [low, high] (high None: no upper bound)."""

    def parse(text: str) -> int:
        value = _parse_int(text)
        if value < low or (high is not None and value > high):
            bound = f"at least {low}" if high is None else f"between {low} and {high:,}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value

    parse.__name__ = f"int_range({low}, {high})"
    return parse


def float_range(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                high_open: bool = False) -> Callable[[str], float]:
    """argparse type: a finite number in the range; low_open/high_open exclude the ends."""

    def parse(text: str) -> float:
        value = _parse_float(text)
        too_low = low is not None and (value <= low if low_open else value < low)
        too_high = high is not None and (value >= high if high_open else value > high)
        if too_low or too_high:
            parts = []
            if low is not None:
                parts.append(f"{'>' if low_open else '>='} {low:g}")
            if high is not None:
                parts.append(f"{'<' if high_open else '<='} {high:g}")
            raise argparse.ArgumentTypeError(f"must be {' and '.join(parts)}, got {value:g}")
        return value

    parse.__name__ = f"float_range({low}, {high})"
    return parse


positive_int = int_range(1)
non_negative_int = int_range(0)
positive_float = float_range(0.0, low_open=True)
non_negative_float = float_range(0.0)


# ---- output paths: checked before any compute ----

def _nearest_existing(path: Path) -> Path:
    current = path
    while not current.exists() and current != current.parent:
        current = current.parent
    return current


def _check_writable_folder_path(folder: Path, flag: str, shown: Path) -> None:
    """`folder` exists or can be created, and a file can be created in it."""
    existing = _nearest_existing(folder.absolute())
    if not existing.is_dir():
        raise CLIError(f"{flag} {shown}: {existing} is a file, not a folder")
    try:  # os.access says yes to root even on a read-only file system: try it
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise CLIError(f"{flag} {shown}: cannot write in {existing} ({error.strerror or error})") from None


def check_output_file(path: str | os.PathLike, flag: str = "--out", suffixes: Iterable[str] | None = None) -> Path:
    """A file to be written: not a folder, a known suffix (if given), in a writable place. Writes nothing."""
    path = Path(path)
    if suffixes is not None:
        suffixes = tuple(suffixes)
        if path.suffix.lower() not in suffixes:
            raise CLIError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)} (got {path.suffix or 'no suffix'})")
    if path.is_dir():
        raise CLIError(f"{flag} {path} is an existing folder; give a file name")
    _check_writable_folder_path(path.parent, flag, path)
    return path


def check_output_dir(path: str | os.PathLike, flag: str = "--out") -> Path:
    """A folder to be written into (created later if missing): not a file, in a writable place."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise CLIError(f"{flag} {path} is an existing file; give a folder")
    _check_writable_folder_path(path, flag, path)
    return path


# ---- inputs that an output would replace ----

def _identity(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()  # follows symbolic links: the file the name leads to
    except OSError:
        return None
    return (status.st_dev, status.st_ino)


def refuse_overlap(inputs: Iterable[str | os.PathLike | None], outputs: Iterable[str | os.PathLike]) -> None:
    """Raise CLIError if writing any of `outputs` would replace one of `inputs`.

    Files are compared by identity (device, inode), so every spelling of a path (relative,
    '..', a symbolic or hard link, another letter case) is caught. A folder among `inputs`
    protects every file under it."""
    protected: dict[tuple[int, int], Path] = {}
    for item in inputs:
        if item is None:
            continue
        item = Path(item)
        files = [p for p in item.rglob("*") if p.is_file()] if item.is_dir() else [item]
        for file in files:
            identity = _identity(file)
            if identity is not None:
                protected[identity] = file
    for output in outputs:
        identity = _identity(Path(output))
        if identity is not None and identity in protected:
            raise CLIError(f"refusing to overwrite the input {protected[identity]} with the output {output}; "
                           "choose another output folder or file")


# ---- results: never write NaN ----

def check_finite(tensor: torch.Tensor, what: str) -> torch.Tensor:
    """Raise CLIError naming `what` if `tensor` holds NaN or infinite values."""
    if not torch.isfinite(tensor).all():
        bad = int((~torch.isfinite(tensor)).sum())
        raise CLIError(f"{what} contain {bad:,} NaN or infinite values (a broken checkpoint?); nothing written")
    return tensor


def check_count(count: int, limit: int, what: str, hint: str = "") -> int:
    if count > limit:
        raise CLIError(f"{count:,} {what} asked; at most {limit:,} per run{'; ' + hint if hint else ''}")
    return count


# ---- one error line instead of a traceback ----

def error_line(error: BaseException) -> str:
    """The one line printed for an error the user can act on."""
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return f"error: {error.strerror or error}{where}"
    if isinstance(error, (MemoryError, RuntimeError)):
        return f"error: out of memory ({str(error).splitlines()[0] if str(error) else type(error).__name__}); ask for less work"
    return f"error: {str(error).splitlines()[0] if str(error) else type(error).__name__}"


def _is_out_of_memory(error: BaseException) -> bool:
    text = str(error).lower()
    return isinstance(error, MemoryError) or (isinstance(error, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text))


def _report(error: BaseException) -> None:
    """Print the error line. Under torchrun, a ValueError (bad input: every rank meets the same
    one) is printed by rank 0 alone; other errors by every rank that meets them, with its rank."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and isinstance(error, ValueError) and rank != 0:
        return
    line = error_line(error)
    print(f"[rank {rank}] {line}" if world > 1 and not isinstance(error, ValueError) else line, file=sys.stderr)


def cli_main(function: Callable[..., int]) -> Callable[..., int]:
    """Wrap a command's main(argv) -> exit code: user-facing errors (ValueError and its
    subclasses, OSError, out of memory) become one `error: ...` line and exit status 2.
    argparse's own exit (SystemExit) passes through; so do genuine bugs (with their traceback)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs) -> int:
        try:
            return function(*args, **kwargs)
        except (ValueError, OSError) as error:
            _report(error)
            return ERROR_EXIT
        except (MemoryError, RuntimeError) as error:
            if not _is_out_of_memory(error):
                raise
            _report(error)
            return ERROR_EXIT
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr)
            return 130

    return wrapper
