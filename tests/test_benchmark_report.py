"""The benchmarks' reports (rows measured before a column was added keep their place; rows of other
weights do not carry over) and the embedding benchmark's batched evaluation."""

import torch

from benchmarks.report import markdown_table


def test_a_row_without_a_newer_column_shows_n_a():
    table = markdown_table([{"checkpoint": "old", "Frechet distance": 39.23},
                            {"checkpoint": "new", "Frechet distance": 30.5, "mean pixel": 0.2861}])
    header, rule, old, new = table.splitlines()
    assert header == "| checkpoint | Frechet distance | mean pixel |" and rule == "|---|---|---|"
    assert old == "| old | 39.23 | n/a |" and new == "| new | 30.5 | 0.2861 |"


def test_sample_quality_append_keeps_earlier_generators_of_the_same_setting(tmp_path, monkeypatch):
    import json

    import benchmarks.sample_quality as sample_quality

    monkeypatch.setattr(sample_quality, "RESULTS", tmp_path)
    old = "5000 generated (10 steps), `assets/old`"
    (tmp_path / "sample_quality.json").write_text(json.dumps({
        "command": "python -m benchmarks.sample_quality --checkpoint assets/old assets/new", "date": "2026-11-30 22:30 UTC",
        "rows": [{"set vs test": old, "Frechet distance": 30.0}, {"set vs test": "5000 generated (10 steps), `assets/new`"},
                 {"set vs test": "5000 generated (20 steps), `assets/other`"}, {"set vs test": "5000 train images (floor)"}],
        "notes": "Classes of the samples of `assets/old` (shipped classifier): Bag 10%.\n\n"
                 "Classes of the samples of `assets/new` (shipped classifier): Bag 20%.\n\nMean pixel ..."}))
    new_rows = [{"set vs test": "5000 generated (10 steps), `assets/new`", "Frechet distance": 20.0},
                {"set vs test": "5000 train images (floor)"}]
    rows, notes = sample_quality._with_earlier_rows(new_rows, ["Classes of the samples of `assets/new` (shipped classifier): Bag 9%."], 5000, 10)
    # a kept row measured before the column existed takes the file's date; one that has its own keeps it
    assert rows[0]["measured"] == "2026-11-30 22:30 UTC"
    (tmp_path / "sample_quality.json").write_text(json.dumps({**json.loads((tmp_path / "sample_quality.json").read_text()),
                                                              "date": "2026-12-02 15:21 UTC",
                                                              "rows": [{"set vs test": old, "Frechet distance": 30.0,
                                                                        "measured": "2026-12-01 01:15 UTC"}]}))
    assert sample_quality._with_earlier_rows(new_rows, [], 5000, 10)[0][0]["measured"] == "2026-12-01 01:15 UTC"
    # the old generator's row comes back; the re-measured one, another step count and the old floor do not
    assert [row["set vs test"] for row in rows] == [old, *[row["set vs test"] for row in new_rows]]
    assert rows[0]["Frechet distance"] == 30.0
    assert notes[0].startswith("Rows `assets/old`: earlier runs") and "measured column" in notes[0]
    assert "Bag 10%" in notes[1] and "Bag 20%" not in " ".join(notes) and "Bag 9%" in notes[2]
    # another sample count keeps nothing
    assert sample_quality._with_earlier_rows(new_rows, [], 2000, 10) == (new_rows, [])


def test_append_keeps_the_rows_not_measured_again_of_the_same_setting(tmp_path, monkeypatch):
    import json

    import pytest

    from benchmarks import report

    monkeypatch.setattr(report, "RESULTS", tmp_path)
    assert report.earlier_rows("trend", "checkpoint", {"a"}, "1000 samples") == ([], "")  # no earlier file
    (tmp_path / "trend.json").write_text(json.dumps({
        "command": "python -m benchmarks.x a b", "date": "2026-11-30 22:30 UTC", "notes": "1000 samples (seeds 0-999).",
        "rows": [{"checkpoint": "a", "FD": 1.0}, {"checkpoint": "b", "FD": 2.0}, {"checkpoint": "b", "FD": 3.0}]}))
    kept, notes = report.earlier_rows("trend", "checkpoint", {"a"}, "1000 samples")
    assert kept == [{"checkpoint": "b", "FD": 2.0}, {"checkpoint": "b", "FD": 3.0}]
    assert notes == "1000 samples (seeds 0-999).\n\nRows b: `python -m benchmarks.x a b` (2026-11-30 22:30 UTC)."
    assert report.earlier_rows("trend", "checkpoint", {"a", "b"}, "1000 samples") == ([], "")
    with pytest.raises(SystemExit, match="measured another way"):
        report.earlier_rows("trend", "checkpoint", {"a"}, "2000 samples")


def test_embedding_table_carries_only_rows_of_the_same_generator_weights(tmp_path, monkeypatch):
    import json

    import benchmarks.embedding as embedding

    monkeypatch.setattr(embedding, "RESULTS", tmp_path)
    rows = [{"method": "network unet", "NFE": 0}, {"method": "hybrid (unet + 30 descent it)", "NFE": 300},
            {"method": "gd ours (200 it)", "NFE": 2000}, {"method": "fixed_point (adaptive)", "NFE": 27}]
    (tmp_path / "embedding.json").write_text(json.dumps({
        "date": "2026-12-01 02:30 UTC", "rows": rows,
        "generator_weights": {"network unet": "new", "hybrid (unet + 30 descent it)": "new", "gd ours (200 it)": "old",
                              "fixed_point (adaptive)": "new"}}))
    kept = embedding.previous_rows("embedding", {"fixed_point"}, "new")
    # the re-measured family and the other generator's row go; the rest keep the file's date
    assert [row["method"] for row in kept] == ["network unet", "hybrid (unet + 30 descent it)"]
    assert all(row["measured"] == "2026-12-01 02:30 UTC" for row in kept)
    # a file from before rows recorded their weights describes some other generator: nothing carries over
    (tmp_path / "embedding.json").write_text(json.dumps({"date": "2026-12-01 02:30 UTC", "rows": rows}))
    assert embedding.previous_rows("embedding", set(), "new") == []


def test_embedding_evaluate_batches_count_every_image_and_show_progress(tiny_generator, capsys):
    import benchmarks.embedding as embedding

    images = tiny_generator.generate(torch.randn(5, 1, 8, 8, generator=torch.Generator().manual_seed(0)))
    measured = embedding.evaluate(tiny_generator, images, {"method": "ddim_inversion"}, batch=2, label="naive")
    # 5 images in batches of 2, 2, 1: every image measured once, NFE per image that of its batch
    assert measured["seeds"].shape == images.shape and measured["psnr"].shape == (5,)
    assert (measured["nfe"] == 10).all()
    err = capsys.readouterr().err  # tqdm writes to stderr
    assert "naive" in err and "5/5" in err
    # inside a batch, embed()'s own progress shows beside the bar
    embedding.evaluate(tiny_generator, images, {"method": "fixed_point", "fixed_point_mode": "fixed", "fixed_point_iterations": 2},
                       batch=5, label="fixed")
    assert "inverting steps" in capsys.readouterr().err


def test_embedder_tail_measures_each_images_error(tiny_generator):
    from benchmarks.embedder_tail import error_distribution, per_image_mse
    from core.embedding import reconstruct

    torch.manual_seed(0)
    images = torch.rand(7, 1, 8, 8)
    embedder = torch.nn.Identity()  # a seed the size of the image: any map will do for the measurement
    errors = per_image_mse(tiny_generator, embedder, images, batch=3)  # batches of 3, 3, 1
    expected = (reconstruct(tiny_generator, images) - images).pow(2).mean(dim=(1, 2, 3))
    torch.testing.assert_close(errors, expected)
    summary = error_distribution(torch.tensor([1.0, 2.0, 3.0, 4.0, 100.0]))
    assert summary["MSE mean"] == 22.0 and summary["median"] == 3.0 and summary["worst"] == 100.0
    assert summary["worst image"] == 4 and 4.0 < summary["90th pct"] < summary["99th pct"] < 100.0


def test_embedder_tail_append_keeps_the_other_embedders_rows(tmp_path, monkeypatch, tiny_generator):
    """--append adds the embedders measured now to the earlier rows (the refined embedder beside the runs measured before)."""
    import json

    from benchmarks import embedder_tail, report
    from core.checkpoint import save_generator, weights_hash
    from core.embedder import Embedder, EmbedderConfig, save_embedder

    monkeypatch.setattr(report, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(embedder_tail, "load_dataset", lambda *args, **kwargs: (torch.rand(5, 1, 8, 8), None))  # 8x8 "test images"
    generator = str(save_generator(tiny_generator, tmp_path / "generator"))
    for name in ("a", "b"):
        save_embedder(Embedder(EmbedderConfig(architecture="conv1", image_size=8)), tmp_path / name,
                      {"training": {"generator_weights": weights_hash(generator), "phase2_validation_mse": 0.5}})
    common = ["--generator", generator, "--images", "3", "--threads", "1"]
    embedder_tail.main([str(tmp_path / "a"), *common])
    embedder_tail.main([str(tmp_path / "b"), *common, "--append"])
    rows = json.loads((tmp_path / "results" / "embedder_tail.json").read_text())["rows"]
    assert [row["embedder"] for row in rows] == [f"`{tmp_path / 'a'}`", f"`{tmp_path / 'b'}`"]
    embedder_tail.main([str(tmp_path / "b"), *common])  # without --append, only what was measured now
    assert len(json.loads((tmp_path / "results" / "embedder_tail.json").read_text())["rows"]) == 1
