"""Make the generator waiting in assets/next the default, once phase 1 of scripts/reship.sh is done.

    python scripts/switch_default.py --retire-as NAME    check, then move; commit the result by hand
    python scripts/switch_default.py --check             only say what is missing or made with other weights

Moves: assets/fashion -> assets/NAME (the old default keeps its weights under a name that says which
generator it is: fashion-small for the 66-minute one, fashion-distilled-5 for the fifth distillation),
and, where the old default has a twin, assets/fashion-twin -> assets/NAME-twin (the study's same-recipe
pair); then assets/next/fashion -> assets/fashion, assets/next/embedders/* -> assets/embedders/*, assets/next/study ->
assets/study (the old default's embedders and study are removed: they were made for weights that no
longer ship as the default, and git keeps them). The learned inversion starts follow their generators:
assets/inversion-starts/fashion -> assets/inversion-starts/NAME (it still serves the retired generator, found by its
weights), and assets/next/inversion-starts/fashion -> assets/inversion-starts/fashion where phase 1 made one. Benchmark
results and the moved study's summary are records of particular weights, so the paths in them follow the weights to
their new names.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.checkpoint import read_metadata, weights_hash  # noqa: E402
from core.cli_checks import ArgumentParser  # noqa: E402
from ship_generator import write_table  # noqa: E402  (scripts/, beside this file)

NEXT = "next"
EMBEDDERS = ("fashion-unet", "fashion-conv3")
RETIRED_NAME = re.compile(r"fashion-[a-z0-9]+(-[a-z0-9]+)*")


def relabelling(retire_as: str) -> list[tuple[re.Pattern, str]]:
    """(pattern, replacement) in order: the old names first, so that the new default's path is not renamed twice."""
    return [(re.compile(r"assets/fashion-twin(?![\w-])"), f"assets/{retire_as}-twin"),
            (re.compile(r"assets/fashion(?![\w-])"), f"assets/{retire_as}"),
            (re.compile(r"assets/next/"), "assets/")]


def made_with(generator: Path, embedder_set: Path, study: Path) -> list[str]:
    """What of a generator's dependents is missing or was made with other weights ([] when all agree)."""
    problems, expected = [], weights_hash(generator)
    if not expected:
        return [f"{generator} has no weights hash"]
    for name in EMBEDDERS:
        config_path = embedder_set / name / "config.json"
        if not config_path.is_file():
            problems.append(f"{config_path.parent} is missing")
        elif json.loads(config_path.read_text()).get("training", {}).get("generator_weights") != expected:
            problems.append(f"{config_path.parent} was trained through other generator weights (or its training is unfinished)")
    unet = weights_hash(embedder_set / "fashion-unet") if (embedder_set / "fashion-unet" / "model.safetensors").is_file() else None
    directions = generator / "directions.safetensors"
    if not directions.is_file():
        problems.append(f"{directions} is missing")
    else:
        extra = json.loads(read_metadata(directions).get("extra", "{}"))
        if (extra.get("generator_weights"), extra.get("embedder_weights")) != (expected, unet):
            problems.append(f"{directions} was computed with other generator or embedder weights")
    summary = study / "study.json"
    if not summary.is_file():
        problems.append(f"{summary} is missing")
    else:
        recorded = json.loads(summary.read_text())
        if (recorded.get("generator_weights"), recorded.get("embedder_weights")) != (expected, unet):
            problems.append(f"{summary} was computed with other generator or embedder weights")
    return problems


def relabel(text: str, retire_as: str) -> str:
    for pattern, replacement in relabelling(retire_as):
        text = pattern.sub(replacement, text)
    return text


def switch(root: Path, retire_as: str) -> tuple[list[Path], bool]:
    """Move assets/next into place, the old default to assets/`retire_as`, and relabel the records;
    returns the files rewritten, and whether the old default had a twin (moved to assets/`retire_as`-twin)."""
    if not RETIRED_NAME.fullmatch(retire_as):
        raise SystemExit(f"--retire-as {retire_as!r}: give a folder name like fashion-distilled-5 (lower case, starting fashion-)")
    assets, next_ = root / "assets", root / "assets" / NEXT
    problems = made_with(next_ / "fashion", next_ / "embedders", next_ / "study")
    has_twin = (assets / "fashion-twin").is_dir()
    for taken in (retire_as, f"{retire_as}-twin") if has_twin else (retire_as,):
        if (assets / taken).exists():
            problems.append(f"{assets / taken} already exists")
    if problems:
        raise SystemExit("not switching:\n  " + "\n  ".join(problems))
    (assets / "fashion").rename(assets / retire_as)
    if has_twin:
        (assets / "fashion-twin").rename(assets / f"{retire_as}-twin")
    (next_ / "fashion").rename(assets / "fashion")
    for name in EMBEDDERS:
        shutil.rmtree(assets / "embedders" / name, ignore_errors=True)
        (next_ / "embedders" / name).rename(assets / "embedders" / name)
    shutil.rmtree(assets / "study", ignore_errors=True)
    (next_ / "study").rename(assets / "study")
    starts = assets / "inversion-starts"
    if (starts / "fashion").is_dir() and not (starts / retire_as).exists():
        (starts / "fashion").rename(starts / retire_as)
    if (next_ / "inversion-starts" / "fashion").is_dir():
        starts.mkdir(exist_ok=True)
        (next_ / "inversion-starts" / "fashion").rename(starts / "fashion")
    shutil.rmtree(next_)
    records = [*sorted((root / "benchmarks" / "results").glob("*.json")), *sorted((root / "benchmarks" / "results").glob("*.md")),
               assets / "study" / "study.json", assets / "study" / "report.md", assets / "study" / "findings.md",
               *(assets / name / "config.json" for name in ("fashion", retire_as, f"{retire_as}-twin")),
               *(assets / "embedders" / name / "config.json" for name in EMBEDDERS),
               *(assets / "inversion-starts" / name / "config.json" for name in ("fashion", retire_as))]
    rewritten = []
    for path in records:
        if not path.is_file():
            continue
        text = relabel(original := path.read_text(), retire_as)
        if path.name == "quality_trend.json":  # its rows name folders
            labels = {"fashion": retire_as, "fashion-twin": f"{retire_as}-twin"}
            trend = json.loads(text)
            for row in trend["rows"]:
                row["checkpoint"] = labels.get(row["checkpoint"], row["checkpoint"])
            text = json.dumps(trend, indent=2) + "\n"
        if text != original:
            path.write_text(text)
            rewritten.append(path)
    # relabelling renames the old default's row of the shipped-models table; the new default needs its own row
    try:
        write_table(root)
    except (KeyError, ValueError, OSError) as error:  # the switch is done: say what is left instead of a traceback
        print(f"warning: benchmarks/results/shipped.md not rebuilt ({type(error).__name__}: {error}); "
              "run python scripts/ship_generator.py", file=sys.stderr)
    return rewritten, has_twin


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python scripts/switch_default.py", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only list what phase 1 still lacks")
    parser.add_argument("--retire-as", metavar="NAME", help="the old default's new folder under assets/ (e.g. fashion-distilled-5)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # tests switch a copy
    args = parser.parse_args(argv)
    next_ = args.root / "assets" / NEXT
    if args.check:
        problems = made_with(next_ / "fashion", next_ / "embedders", next_ / "study")
        print("\n".join(problems) if problems else f"{next_} is complete: ready to switch")
        return 1 if problems else 0
    if not args.retire_as:
        parser.error("--retire-as NAME is needed: the old default's new folder under assets/")
    rewritten, had_twin = switch(args.root, args.retire_as)
    twin = (f"Now rename the twin pair in the code (core/study/__main__.py DEFAULT_TWIN, DEFAULT_TWIN_OF: "
            f"assets/{args.retire_as}-twin, assets/{args.retire_as}), then run" if had_twin else "Now run")
    print(f"switched; relabelled {len(rewritten)} records. {twin} `bash scripts/reship.sh after`, commit.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
