"""scripts/switch_default.py: the next generator becomes the default only with every dependent made
with its weights, and the records follow the weights to their new names. Also: what of assets/next
is already committed was made with the waiting generator."""

import json
import sys
from pathlib import Path

import pytest
import torch

from core.checkpoint import save_generator, save_tensors, weights_hash
from core.inversion_start import InversionStart, InversionStartConfig, save_inversion_start
from tests.conftest import make_tiny_generator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from switch_default import made_with, main  # noqa: E402


def _embedder_files(folder: Path, generator_hash: str, seed: int) -> str:
    folder.mkdir(parents=True)
    save_tensors(folder / "model.safetensors", {"w": torch.full((2,), float(seed))})
    (folder / "config.json").write_text(json.dumps({"kind": "embedder", "training": {"generator_weights": generator_hash}}))
    return weights_hash(folder)


def _tree(root: Path, directions_generator: str | None = None) -> None:
    """A repository with an old default, its twin and a complete assets/next (tiny stand-ins)."""
    assets = root / "assets"
    save_generator(make_tiny_generator(0), assets / "fashion")
    save_generator(make_tiny_generator(1), assets / "fashion-twin")
    save_generator(make_tiny_generator(2), assets / "fashion-wide")
    save_generator(make_tiny_generator(3), assets / "next" / "fashion")
    for name, steps in (("fashion", 10), ("next/fashion", 20)):  # what the shipped-models table reads
        config = json.loads((assets / name / "config.json").read_text())
        config["training"] = {"preset": "tiny", "epochs_done": 1, "steps": steps, "train_minutes": 0.1, "command": f"train {name}"}
        (assets / name / "config.json").write_text(json.dumps(config))
        (assets / name / "training_log.jsonl").write_text(json.dumps({"train_loss": 0.5, "val_loss": 0.4, "val_loss_by_t": {"0-1": 0.4}}) + "\n")
    _embedder_files(assets / "embedders" / "fashion-unet", weights_hash(assets / "fashion"), 0)  # the old default's
    new = weights_hash(assets / "next" / "fashion")
    unet = _embedder_files(assets / "next" / "embedders" / "fashion-unet", new, 1)
    _embedder_files(assets / "next" / "embedders" / "fashion-conv3", new, 2)
    extra = {"generator_weights": directions_generator or new, "embedder_weights": unet}
    save_tensors(assets / "next" / "fashion" / "directions.safetensors", {"centroids": torch.zeros(2)}, {"extra": json.dumps(extra)})
    (assets / "next" / "study").mkdir()
    (assets / "next" / "study" / "study.json").write_text(json.dumps(
        {"generator": "assets/next/fashion", "twin": "assets/fashion-twin", "twin_of": "assets/fashion",
         "generator_weights": new, "embedder_weights": unet}))
    (assets / "next" / "study" / "findings.md").write_text(
        "`python -m core.study examples --checkpoint assets/next/fashion --out assets/next/study` (generator `assets/next/fashion`)\n")
    for folder, generator in (("inversion-starts/fashion", "fashion"), ("next/inversion-starts/fashion", "next/fashion")):
        config = InversionStartConfig(image_size=8, unet_widths=[8, 16], generator_weights=weights_hash(assets / generator))
        start = InversionStart(config)
        save_inversion_start(start, assets / folder, {"training": {"generator": f"assets/{generator}"}})
    results = root / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "sample_quality.md").write_text("| `assets/fashion` | `assets/fashion-wide` | `assets/next/fashion` | assets/fashion/directions.safetensors |\n")
    (results / "quality_trend.json").write_text(json.dumps({"rows": [{"checkpoint": "fashion"}, {"checkpoint": "fashion-wide"}]}))


def _shipped_rows(root: Path) -> dict[str, str]:
    """The shipped-models table's rows by their first cell ("| `assets/NAME`")."""
    shipped = (root / "benchmarks" / "results" / "shipped.md").read_text()
    return {line.split(" | ")[0]: line for line in shipped.splitlines() if line.startswith("| `assets/")}


def test_the_switch_moves_next_into_place_and_relabels_the_records(tmp_path):
    _tree(tmp_path)
    assets = tmp_path / "assets"
    hashes = {name: weights_hash(assets / name) for name in ("fashion", "fashion-twin", "next/fashion")}
    assert main(["--root", str(tmp_path), "--check"]) == 0
    assert main(["--root", str(tmp_path), "--retire-as", "fashion-small"]) == 0
    assert not (assets / "next").exists()
    assert weights_hash(assets / "fashion") == hashes["next/fashion"]
    assert weights_hash(assets / "fashion-small") == hashes["fashion"]
    assert weights_hash(assets / "fashion-small-twin") == hashes["fashion-twin"]
    assert made_with(assets / "fashion", assets / "embedders", assets / "study") == []  # the old default's embedder is gone
    starts = assets / "inversion-starts"  # each learned start follows its generator, and its record says so
    assert sorted(path.name for path in starts.iterdir()) == ["fashion", "fashion-small"]
    for name in ("fashion", "fashion-small"):
        config = json.loads((starts / name / "config.json").read_text())
        assert config["inversion_start"]["generator_weights"] == weights_hash(assets / name)
        assert config["training"]["generator"] == f"assets/{name}"
    assert (tmp_path / "benchmarks" / "results" / "sample_quality.md").read_text() == (
        "| `assets/fashion-small` | `assets/fashion-wide` | `assets/fashion` | assets/fashion-small/directions.safetensors |\n")
    # the shipped-models table is rebuilt: a row for the new default and one for the retired one under its new name
    rows = _shipped_rows(tmp_path)
    assert rows["| `assets/fashion`"].endswith("| 20 | 0.1 | 0.5000 | 0.4000 (0.400) | `train next/fashion` |")
    assert rows["| `assets/fashion-small`"].endswith("| 10 | 0.1 | 0.5000 | 0.4000 (0.400) | `train fashion` |")
    trend = json.loads((tmp_path / "benchmarks" / "results" / "quality_trend.json").read_text())
    assert [row["checkpoint"] for row in trend["rows"]] == ["fashion-small", "fashion-wide"]
    study = json.loads((assets / "study" / "study.json").read_text())
    assert (study["generator"], study["twin"], study["twin_of"]) == ("assets/fashion", "assets/fashion-small-twin", "assets/fashion-small")
    assert (assets / "study" / "findings.md").read_text() == (
        "`python -m core.study examples --checkpoint assets/fashion --out assets/study` (generator `assets/fashion`)\n")


def test_the_switch_refuses_a_dependent_made_with_other_weights_and_moves_nothing(tmp_path, capsys):
    _tree(tmp_path, directions_generator="0" * 64)
    assert main(["--root", str(tmp_path), "--check"]) == 1
    assert "directions.safetensors was computed with other generator or embedder weights" in capsys.readouterr().out
    (tmp_path / "assets" / "next" / "study" / "study.json").unlink()
    with pytest.raises(SystemExit, match="study.json is missing"):
        main(["--root", str(tmp_path), "--retire-as", "fashion-small"])
    assert (tmp_path / "assets" / "next" / "fashion").is_dir() and not (tmp_path / "assets" / "fashion-small").exists()


def test_a_later_switch_retires_the_default_under_the_given_name_and_leaves_the_twin_pair(tmp_path):
    """The second switch: the twin pair already has its own names (fashion-small, fashion-small-twin)."""
    _tree(tmp_path)
    assets = tmp_path / "assets"
    (assets / "fashion-twin").rename(assets / "fashion-small-twin")
    hashes = {name: weights_hash(assets / name) for name in ("fashion", "fashion-small-twin", "next/fashion")}
    with pytest.raises(SystemExit):  # the name is needed, and must be a plain folder name
        main(["--root", str(tmp_path)])
    with pytest.raises(SystemExit, match="give a folder name"):
        main(["--root", str(tmp_path), "--retire-as", "../elsewhere"])
    save_generator(make_tiny_generator(4), assets / "fashion-taken")
    with pytest.raises(SystemExit, match="fashion-taken already exists"):
        main(["--root", str(tmp_path), "--retire-as", "fashion-taken"])
    assert main(["--root", str(tmp_path), "--retire-as", "fashion-distilled-5"]) == 0
    assert weights_hash(assets / "fashion") == hashes["next/fashion"]
    assert weights_hash(assets / "fashion-distilled-5") == hashes["fashion"]
    assert weights_hash(assets / "fashion-small-twin") == hashes["fashion-small-twin"]
    assert not (assets / "fashion-distilled-5-twin").exists()
    assert (tmp_path / "benchmarks" / "results" / "sample_quality.md").read_text() == (
        "| `assets/fashion-distilled-5` | `assets/fashion-wide` | `assets/fashion` | assets/fashion-distilled-5/directions.safetensors |\n")
    # the shipped-models table is rebuilt: a row for the new default and one for the retired one under its new name
    rows = _shipped_rows(tmp_path)
    assert rows["| `assets/fashion`"].endswith("| 20 | 0.1 | 0.5000 | 0.4000 (0.400) | `train next/fashion` |")
    assert rows["| `assets/fashion-distilled-5`"].endswith("| 10 | 0.1 | 0.5000 | 0.4000 (0.400) | `train fashion` |")
    trend = json.loads((tmp_path / "benchmarks" / "results" / "quality_trend.json").read_text())
    assert [row["checkpoint"] for row in trend["rows"]] == ["fashion-distilled-5", "fashion-wide"]


def test_what_assets_next_holds_was_made_with_the_generator_waiting_there():
    """Phase 1 of scripts/reship.sh commits step by step: every dependent already in assets/next must be
    made with assets/next/fashion (the missing ones are what is left to do)."""
    next_ = ROOT / "assets" / "next"
    if not (next_ / "fashion").is_dir():
        assert not next_.exists() or not any(next_.iterdir()), "assets/next holds dependents but no generator"
        return
    problems = made_with(next_ / "fashion", next_ / "embedders", next_ / "study")
    assert [p for p in problems if not p.endswith("is missing")] == []
