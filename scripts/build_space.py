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

import argparse
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
        raise SystemExit(f"requirements.txt does not pin {missing}")
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
    if target.exists() and any(target.iterdir()):
        raise SystemExit(f"{target} exists and is not empty; choose a new folder")
    target.mkdir(parents=True, exist_ok=True)
    for name in SPACE_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=_not_for_the_space(source if name == "assets" else None))
        elif source.is_file():
            shutil.copy2(source, target / name)
    shutil.copy2(ROOT / "space" / "README.md", target / "README.md")
    (target / "requirements.txt").write_text(space_requirements())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("target", type=Path, help="an empty or new folder")
    target = build_space(parser.parse_args(argv).target)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(f"Space in {target}: {sum(1 for p in target.rglob('*') if p.is_file())} files, {size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
