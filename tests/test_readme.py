"""The README's and the docs' links lead somewhere (every #anchor names a heading, every relative path exists), and the README's Python
example runs as written on the shipped models."""
import re
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_github_slug_matches_githubs_rules():
    assert github_slug("The shape of emb(x): the study") == "the-shape-of-embx-the-study"
    assert github_slug("Where the embedding networks' error lies") == "where-the-embedding-networks-error-lies"


def test_readme_links_resolve():
    pages = ["README.md", "assets/study/report.md", *(f"docs/{page.name}" for page in sorted((ROOT / "docs").glob("*.md")))]
    assert len(pages) >= 6, pages  # README, the study report, docs/study, generator, inversion, embedders
    for name in pages:
        path = ROOT / name
        targets = LINK.findall(path.read_text())
        assert targets, f"{name} has no links to check"
        for target in targets:
            if target.startswith(("http://", "https://")):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part) if file_part else path
            assert linked.exists(), f"{name} links to missing {file_part}"
            if anchor:  # within the page, or into another markdown page
                assert linked.suffix == ".md", f"{name} links to #{anchor} in {file_part}, which is not a markdown page"
                assert anchor in headings(linked), f"{name} links to {file_part}#{anchor}, which no heading there has"


def headings(page: Path) -> set[str]:
    """The anchors of a markdown page's headings (lines starting with #; code blocks here hold none)."""
    return {github_slug(line.lstrip("#")) for line in page.read_text().splitlines() if line.startswith("#")}


def test_readme_python_example_runs_as_written(monkeypatch):
    """The first python block of the README (section "Using it"), executed from the repository root."""
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    monkeypatch.chdir(ROOT)  # its paths are relative, as a reader at the root would type them
    names: dict = {}
    exec(compile(block, "README.md (Using it)", "exec"), names)
    result, fast = names["result"], names["fast"]
    assert result.seeds.shape == (3, 1, 28, 28) and result.nfe_per_image.shape == (3,)
    assert not result.missed.any() and (result.psnr >= 40).all()  # images G made: inverted to the target
    assert fast.nfe == 0 and torch.isfinite(fast.seeds).all()
