"""Inline benchmarks/results/*.md into README.md and docs/*.md between <!-- results:NAME --> markers."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def inline(match: re.Match) -> str:
    name = match.group(1)
    path = ROOT / "benchmarks" / "results" / f"{name}.md"
    body = path.read_text().strip() if path.is_file() else "(not measured yet: run the command in the text above)"
    return f"<!-- results:{name} -->\n{body}\n<!-- /results:{name} -->"


def inline_study(match: re.Match) -> str:
    """<!-- study:NAME --> blocks take the findings table of the study folder assets/NAME."""
    name = match.group(1)
    path = ROOT / "assets" / name / "findings.md"
    body = path.read_text().strip() if path.is_file() else "(no study yet: run `python -m core.study examples --out assets/study`)"
    return f"<!-- study:{name} -->\n{body}\n<!-- /study:{name} -->"


for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
    text = page.read_text()
    text = re.sub(r"<!-- results:(\w+) -->.*?<!-- /results:\1 -->", inline, text, flags=re.S)
    text = re.sub(r"<!-- study:(\w+) -->.*?<!-- /study:\1 -->", inline_study, text, flags=re.S)
    page.write_text(text)
    print(f"{page.relative_to(ROOT)} updated")
