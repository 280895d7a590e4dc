"""The README's links lead somewhere: every #anchor names a heading, every relative path exists."""
import re
from pathlib import Path

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
