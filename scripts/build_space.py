"""Assemble a Hugging Face Space (Gradio SDK) for the demo in one folder, ready to `git push`.

    python scripts/build_space.py build/space
    cd build/space && git init && git remote add space https://huggingface.co/spaces/USER/NAME && git add . && git commit -m demo && git push space HEAD:main

Our README must start with the two set-up commands, while a Space reads its settings from YAML
front matter at the top of *its* README; so the Space gets its own README (space/README.md,
front matter + a short description), its own lean requirements (the CPU torch wheel, no test
tools), and only what the demo loads: demo_app.py, core/ and the shipped assets (weights,
class directions, examples; no dataset is needed at run time).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script: `core` from this checkout
from core.atomic import UMASK  # noqa: E402
from core.cli_checks import ArgumentParser, CLIError, cli_main  # noqa: E402
SPACE_FILES = ["demo_app.py", "core", "assets", "LICENSE"]
# the explorer's study, the next default being re-shipped (scripts/reship.sh), and every Fashion-MNIST
# generator but the default assets/fashion (twins, teachers, earlier and distilled ones): glob patterns
ASSETS_NOT_FOR_THE_DEMO = ("study", "next", "fashion-*")
RUNTIME_PACKAGES = ["torch", "numpy", "scipy", "pillow", "safetensors", "tqdm", "scikit-learn", "scikit-image", "gradio"]


def space_requirements() -> str:
    """The demo's run-time packages, pinned as in requirements.txt; torch from the CPU wheel index (a Space on CPU hardware)."""
    pins = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if "==" in line and not line.lstrip().startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower()] = version.strip()
    missing = [name for name in RUNTIME_PACKAGES if name not in pins]
    if missing:
        raise CLIError(f"requirements.txt does not pin {missing}")
    lines = ["--extra-index-url https://download.pytorch.org/whl/cpu"] + [f"{name}=={pins[name]}" for name in RUNTIME_PACKAGES]
    return "\n".join(lines) + "\n"


def _not_for_the_space(assets: Path | None):
    """copytree's ignore: caches everywhere, and ASSETS_NOT_FOR_THE_DEMO among the top folders of `assets`
    only (assets/embedders/fashion-unet is the demo's and must travel)."""
    caches = shutil.ignore_patterns("__pycache__", "*.pyc")
    top_level = shutil.ignore_patterns(*ASSETS_NOT_FOR_THE_DEMO)

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = set(caches(folder, names))
        if assets is not None and Path(folder) == assets:
            skipped |= set(top_level(folder, names))
        return skipped
    return ignore


def build_space(target: Path) -> Path:
    """Write the Space into `target` (new, or an empty folder): all of it or, if anything fails, nothing."""
    if target.exists() and not target.is_dir():
        raise CLIError(f"{target} is an existing file; give a new or empty folder")
    if target.is_dir() and any(target.iterdir()):
        raise CLIError(f"{target} exists and is not empty; choose a new folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))  # renamed onto target when complete
    staging.chmod(0o777 & ~UMASK)  # mkdtemp makes it private (0700); the Space folder gets the usual permissions
    try:
        for name in SPACE_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, staging / name, ignore=_not_for_the_space(source if name == "assets" else None))
            elif source.is_file():
                shutil.copy2(source, staging / name)
        shutil.copy2(ROOT / "space" / "README.md", staging / "README.md")
        (staging / "requirements.txt").write_text(space_requirements())
        if target.is_dir():
            target.rmdir()  # empty (checked above)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


@cli_main
def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python scripts/build_space.py", description=__doc__)
    parser.add_argument("target", type=Path, help="an empty or new folder")
    target = build_space(parser.parse_args(argv).target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"Space in {target}: {sum(1 for p in target.rglob('*') if p.is_file())} files, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
