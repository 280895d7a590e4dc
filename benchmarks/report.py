"""Benchmark output: print a table and write it (markdown + JSON) under benchmarks/results/."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import torch

from core.atomic import atomic_path, write_json

RESULTS = Path(__file__).resolve().parent / "results"


def machine_line() -> str:
    return f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def markdown_table(rows: list[dict]) -> str:
    """Columns in order of first appearance; a row measured before a column existed shows n/a there."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_format(row[c]) if c in row else "n/a" for c in columns) + " |")
    return "\n".join(lines)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def earlier_rows(name: str, key: str, measured: set[str], setting: str) -> tuple[list[dict], str]:
    """For --append: the rows of the last results/{name}.json whose `key` was not measured now, and a
    note naming the command and date they came from. Nothing when that file's notes lack `setting`
    (e.g. "1000 samples"): rows measured another way do not compare."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return [], ""
    earlier = json.loads(path.read_text())
    if setting not in earlier.get("notes", ""):
        raise SystemExit(f"--append: the rows of {path} were measured another way (not '{setting}'); rerun them or drop --append")
    kept = [row for row in earlier["rows"] if row[key] not in measured]
    if not kept:
        return [], ""
    return kept, f"{earlier['notes']}\n\nRows {', '.join(dict.fromkeys(str(row[key]) for row in kept))}: `{earlier['command']}` ({earlier['date']})."


def write_report(name: str, title: str, command: str, rows: list[dict], notes: str = "", extra: dict | None = None) -> Path:
    """Print and write benchmarks/results/{name}.md and {name}.json (`extra`: more fields for the JSON only)."""
    table = markdown_table(rows)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = f"### {title}\n\n`{command}` ({stamp}; {machine_line()})\n\n{table}\n" + (f"\n{notes}\n" if notes else "")
    print(text)
    RESULTS.mkdir(parents=True, exist_ok=True)
    with atomic_path(RESULTS / f"{name}.md") as temporary:
        temporary.write_text(text)
    write_json(RESULTS / f"{name}.json", {"title": title, "command": command, "date": stamp, "machine": machine_line(), "rows": rows, "notes": notes, **(extra or {})})
    return RESULTS / f"{name}.md"
