"""The README's links lead somewhere (every #anchor names a heading, every relative path exists), and its Python
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
    for name in ("README.md", "assets/study/report.md"):
        path = ROOT / name
        text = path.read_text()
        anchors = {github_slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
        targets = LINK.findall(text)
        assert targets, f"{name} has no links to check"
        for target in targets:
            if target.startswith(("http://", "https://")):
                continue
            file_part, _, anchor = target.partition("#")
            if file_part:
                assert (path.parent / file_part).exists(), f"{name} links to missing {file_part}"
            elif anchor:
                assert anchor in anchors, f"{name} links to #{anchor}, which no heading there has"


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
