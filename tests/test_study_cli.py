"""`python -m core.study` end to end on the tiny generator: files written, report sections, bad input."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from core.checkpoint import save_generator, weights_hash
from core.seeds import seeded_noise
from core.study.__main__ import main
from core.study.report import load_study
from tests.conftest import make_tiny_generator

FAST = ["--cloud-size", "3", "--psnr", "10", "12", "--iterations", "40", "--convergence-seeds", "2",
        "--convergence-iterations", "30", "--random-reference", "12", "--convexity-samples", "6", "--no-umap",
        "--embedder", "none", "--twin", "none", "--threads", "1"]


@pytest.fixture
def tiny_setup(tmp_path):
    generator = make_tiny_generator()
    checkpoint = save_generator(generator, tmp_path / "tiny")
    with torch.no_grad():
        images = generator.generate(seeded_noise([100, 101, 102], generator.image_shape))
    paths = []
    for index, image in enumerate(images):
        path = tmp_path / f"image{index}.npy"
        np.save(path, image[0].numpy())  # (H, W) grey in [0, 1]
        paths.append(str(path))
    return tmp_path, str(checkpoint), paths


def test_study_writes_json_arrays_figures_and_report(tiny_setup, capsys):
    tmp_path, checkpoint, paths = tiny_setup
    out = tmp_path / "study"
    assert main([*paths, "--out", str(out), "--checkpoint", checkpoint, *FAST]) == 0
    summary, arrays = load_study(out)
    assert list(summary["images"]) == ["image0", "image1", "image2"]
    assert summary["levels"] == ["10dB", "12dB"]
    first = summary["images"]["image0"]
    assert first["cloud"]["seeds"] == 3
    assert first["single_seeds"]["z* (fixed point)"]["psnr_db"] > 30  # exact inversion of an image G makes
    assert arrays["image0/cloud_seeds"].shape == (3, 1, 8, 8)
    assert arrays["image0/singular_values"].shape == (64,)
    assert arrays["convergence/distance_to_exact"].shape[1] == 2
    # every member seed keeps the torch seed of its start, and the clouds' shared starts are measured apart
    starts = arrays["image0/members_start_10dB"]
    assert len(starts) == summary["images"]["image0"]["10dB"]["members"] == len(arrays["image0/members_10dB"])
    assert list(starts) == list(np.flatnonzero(arrays["image0/cloud_mse"] <= summary["images"]["image0"]["cloud"]["eps"]))
    assert len(arrays["separation/10dB/same_start"]) == summary["separation"]["10dB"]["same_start_pairs"] > 0
    assert "pca" in summary["projections"] and "umap" not in summary["projections"]
    report = (out / "report.md").read_text()
    for section in ("## Findings", "## Clouds and single seeds", "## Is emb(x) a point or a set?", "## Convexity", "## Connectivity",
                    "## Intersection and separation", "## Seed statistics"):
        assert section in report
    assert (out / "figures" / "singular_values.png").stat().st_size > 1000
    assert "| Is emb(x) a point or a set? |" in (out / "findings.md").read_text()
    recorded = json.loads((out / "study.json").read_text())
    assert recorded["command"].startswith("python -m core.study")
    assert recorded["generator_weights"] == weights_hash(checkpoint) != ""  # which weights the study was made with
    assert "wrote" in capsys.readouterr().out
    # a rerun reuses each image's cached results (same clouds, no recomputation of the per-image probes),
    # also when only cross-image settings change
    cached = sorted((out / "cache").glob("*.npz"))
    assert len(cached) == 3
    stamps = [p.stat().st_mtime_ns for p in cached]
    assert main([*paths, "--out", str(out), "--checkpoint", checkpoint, *FAST, "--convergence-seeds", "1"]) == 0
    again, again_arrays = load_study(out)
    assert again["images"]["image1"]["cloud"] == summary["images"]["image1"]["cloud"]
    assert np.array_equal(again_arrays["image1/cloud_seeds"], arrays["image1/cloud_seeds"])
    assert [p.stat().st_mtime_ns for p in cached] == stamps
    assert again_arrays["convergence/distance_to_exact"].shape[1] == 1
    # a damaged cache file is named, recomputed (the same results: the study is deterministic) and rewritten
    damaged = next(p for p in cached if np.array_equal(np.load(p)["arrays/cloud_seeds"], arrays["image1/cloud_seeds"]))
    damaged.write_bytes(damaged.read_bytes()[:11])
    with pytest.warns(UserWarning, match=f"image1: unreadable study cache {re.escape(str(damaged))}"):
        assert main([*paths, "--out", str(out), "--checkpoint", checkpoint, *FAST, "--convergence-seeds", "1"]) == 0
    mended, mended_arrays = load_study(out)
    assert np.array_equal(mended_arrays["image1/cloud_seeds"], arrays["image1/cloud_seeds"])
    timing = {"seconds", "seconds_per_seed"}  # the only measured quantities that differ between two computations
    assert ({k: v for k, v in mended["images"]["image1"]["cloud"].items() if k not in timing}
            == {k: v for k, v in summary["images"]["image1"]["cloud"].items() if k not in timing})
    assert np.load(damaged)["arrays/cloud_seeds"].shape == arrays["image1/cloud_seeds"].shape


@pytest.mark.parametrize("extra, message", [
    (["--cloud-size", "1"], "--cloud-size"),
    (["--psnr", "0"], "--psnr"),
    (["--iterations", "-5"], "--iterations"),
])
def test_bad_numbers_get_one_line(tiny_setup, capsys, extra, message):
    tmp_path, checkpoint, paths = tiny_setup
    with pytest.raises(SystemExit) as exit_info:
        main([paths[0], "--out", str(tmp_path / "s"), "--checkpoint", checkpoint, *FAST, *extra])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert message in error and len(error.splitlines()) == 1 and "Traceback" not in error
    assert not (tmp_path / "s").exists()


def test_bad_inputs_and_outputs_are_refused_before_work(tiny_setup, capsys):
    tmp_path, checkpoint, paths = tiny_setup
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((5, 5)))
    assert main([str(wrong), "--out", str(tmp_path / "s"), "--checkpoint", checkpoint, *FAST]) == 2
    assert "wrong.npy" in capsys.readouterr().err
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    assert main([paths[0], "--out", str(a_file), "--checkpoint", checkpoint, *FAST]) == 2
    assert "existing file" in capsys.readouterr().err
    # an input that the report would overwrite
    folder = tmp_path / "in_out"
    folder.mkdir()
    victim = folder / "report.md"
    victim.write_text("precious")
    assert main([str(victim), "--out", str(folder), "--checkpoint", checkpoint, *FAST]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err and victim.read_text() == "precious"
    assert main(["test:99999", "--out", str(tmp_path / "s"), "--checkpoint", checkpoint, *FAST]) == 2


def test_example_inputs_name_their_kind():
    """'examples' is the ten test images and two photos; 'examples:test' and 'examples:photos' split them."""
    from core.study.__main__ import parse_inputs

    every = parse_inputs(["examples"], (1, 28, 28), None)
    tests = parse_inputs(["examples:test"], (1, 28, 28), None)
    photos = parse_inputs(["examples:photos"], (1, 28, 28), None)
    assert len(tests) == 10 and {i.kind for i in tests} == {"test"}
    assert len(photos) == 2 and {i.kind for i in photos} == {"photo"}
    assert [i.name for i in every] == [i.name for i in tests + photos]


def test_the_twin_of_option_names_the_independence_pair(tiny_setup):
    """--twin-of: the independence probe compares that generator with --twin, and study.json says which pair."""
    tmp_path, checkpoint, paths = tiny_setup
    first_half = str(save_generator(make_tiny_generator(3), tmp_path / "first_half"))
    twin = str(save_generator(make_tiny_generator(5), tmp_path / "twin"))
    at = FAST.index("--twin")
    options = FAST[:at] + FAST[at + 2:]
    out = tmp_path / "study"
    assert main([*paths, "--out", str(out), "--checkpoint", checkpoint, *options, "--twin", twin, "--twin-of", first_half]) == 0
    summary, arrays = load_study(out)
    assert summary["twin"].endswith("twin") and summary["twin_of"].endswith("first_half")
    assert "independence" in summary and "G_a: `" in (out / "report.md").read_text()
    # --twin-of without any twin is an error, not silently ignored
    assert main([paths[0], "--out", str(tmp_path / "s2"), "--checkpoint", checkpoint, *FAST, "--twin-of", first_half]) == 2


def test_progress_reports_the_share_of_work_done():
    from core.study.clouds import CloudConfig
    from core.study.run import StudyConfig, StudyImage, run_study

    generator = make_tiny_generator()
    with torch.no_grad():
        images = generator.generate(seeded_noise([100, 101], generator.image_shape))
    config = StudyConfig(psnr_levels=(10.0, 12.0), cloud_size=2, cloud=CloudConfig(iterations=10), polish=CloudConfig(iterations=5),
                         convexity_ks=(2,), convexity_samples=2, relaxed_pairs=0, convergence_seeds=0, random_reference=4, umap=False)
    heard: list[tuple[str, float]] = []
    given = [StudyImage(f"image{i}", image.double(), "test", "file") for i, image in enumerate(images)]
    run_study(generator, given, config, progress=lambda message, share: heard.append((message, share)))
    assert all(item.image.dtype == torch.float64 for item in given)  # the caller's images are not rewritten (float32 before)
    shares = [share for _, share in heard]
    assert all(0.0 <= s <= 1.0 for s in shares) and shares == sorted(shares)  # never backwards
    assert any("cloud, iteration" in m and 0 < s < 1 / 7 for m, s in heard)  # inside the first image's part (2 images + 5 stages)
    assert shares[-1] >= 6 / 7  # the last stage starts after all others are done


def test_findings_say_whether_the_clouds_keep_apart():
    from core.study.report import _interleaving

    base = {"clouds": 10, "between_distance_mean": 37.5, "within_distance_mean": 34.7, "same_start_distance_mean": 18.1}
    apart = _interleaving({**base, "self_attribution": 0.89})
    assert "the clouds keep apart" in apart and "89% of the time (chance about 10%)" in apart
    assert "depends more on its start than on the image" in apart  # 18.1 < 34.7
    mixed = _interleaving({**base, "self_attribution": 0.05, "same_start_distance_mean": float("nan")})
    assert "yet the clouds interleave: a seed's nearest other seed" in mixed and "start" not in mixed  # no starts recorded
