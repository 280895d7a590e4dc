import csv

import numpy as np
import pytest
from PIL import Image

from core.checkpoint import load_generator, save_generator
from core.seeds import seeded_noise
from core.embed import main as embed_main
from core.sample import main as sample_main


@pytest.fixture
def checkpoint(tmp_path, tiny_generator):
    return str(save_generator(tiny_generator, tmp_path / "generator"))


def test_sample_grid_and_each(tmp_path, checkpoint):
    out = tmp_path / "grid.png"
    assert sample_main(["--checkpoint", checkpoint, "--seeds", "0-5", "--out", str(out), "--columns", "3", "--scale", "1",
                        "--each", str(tmp_path / "each")]) == 0
    assert Image.open(out).size == (3 * 10 + 2, 2 * 10 + 2)  # 8x8 images, 2-pixel padding
    assert sorted(p.name for p in (tmp_path / "each").iterdir())[:2] == ["seed000000.png", "seed000001.png"]


def test_sample_bad_inputs(tmp_path, checkpoint, capsys):
    assert sample_main(["--checkpoint", str(tmp_path), "--out", str(tmp_path / "x.png")]) == 2
    assert "no config.json" in capsys.readouterr().err
    np.save(tmp_path / "wrong.npy", np.zeros((2, 1, 5, 5), np.float32))
    assert sample_main(["--checkpoint", checkpoint, "--seed-file", str(tmp_path / "wrong.npy"), "--out", str(tmp_path / "x.png")]) == 2
    assert "(2, 1, 5, 5)" in capsys.readouterr().err
    np.save(tmp_path / "nan.npy", np.full((1, 1, 8, 8), np.nan, np.float32))
    assert sample_main(["--checkpoint", checkpoint, "--seed-file", str(tmp_path / "nan.npy"), "--out", str(tmp_path / "x.png")]) == 2
    assert "NaN" in capsys.readouterr().err
    assert sample_main(["--checkpoint", checkpoint, "--seeds", "3-1", "--out", str(tmp_path / "x.png")]) == 2
    np.save(tmp_path / "three.npy", np.zeros((2, 8, 8), np.float32))  # 3-D: one seed of 2 channels, not two seeds
    assert sample_main(["--checkpoint", checkpoint, "--seed-file", str(tmp_path / "three.npy"), "--out", str(tmp_path / "x.png")]) == 2
    assert "holds an array of shape (2, 8, 8); this generator needs seeds of shape (N, 1, 8, 8)" in capsys.readouterr().err
    np.save(tmp_path / "huge.npy", np.full((1, 1, 8, 8), 1e30, np.float32))  # finite, but overflows the sampler to NaN
    assert sample_main(["--checkpoint", checkpoint, "--seed-file", str(tmp_path / "huge.npy"), "--out", str(tmp_path / "x.png")]) == 2
    assert "values up to 1e+30 in size; seeds are standard normal noise" in capsys.readouterr().err
    # the grid and an --each file of the same path: refused (the image replaced the grid)
    assert sample_main(["--checkpoint", checkpoint, "--seeds", "0-1", "--out", str(tmp_path / "seed000000.png"),
                        "--each", str(tmp_path)]) == 2
    assert "is also the --each file of one image" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "seed000000.png").exists()


def make_inputs(folder, checkpoint):
    folder.mkdir()
    generator = load_generator(checkpoint)  # the fp16 weights the CLI will use
    images = generator.generate(seeded_noise([5, 6], generator.image_shape))
    Image.fromarray((images[0, 0].numpy() * 255).round().astype(np.uint8)).save(folder / "good.png")
    Image.new("RGB", (40, 30), (255, 255, 255)).save(folder / "photo.jpg")  # needs conversion
    np.save(folder / "array.npy", images[1, 0].numpy())
    (folder / "text.png").write_text("not an image")
    np.save(folder / "wrong.npy", np.zeros((3, 3), np.float32))
    np.save(folder / "nan.npy", np.full((8, 8), np.nan, np.float32))
    (folder / "empty").mkdir()


def test_embed_good_and_bad_files(tmp_path, checkpoint, tiny_generator, capsys):
    make_inputs(tmp_path / "in", checkpoint)
    out = tmp_path / "out"
    code = embed_main([str(tmp_path / "in"), str(tmp_path / "in" / "empty"), str(tmp_path / "missing.png"),
                       "--out", str(out), "--checkpoint", checkpoint, "--method", "fixed_point"])
    captured = capsys.readouterr()
    assert code == 1  # some inputs failed, the rest were processed
    for name in ["text.png", "wrong.npy", "nan.npy", "missing.png", "empty"]:
        assert name in captured.err, name
    assert "RGB -> grey, 40x30 -> 8x8" in captured.out
    rows = list(csv.DictReader(open(out / "summary.csv")))
    assert [r["name"] for r in rows] == ["array", "good", "photo"]
    assert float(rows[0]["psnr_db"]) > 35  # an image the generator made is inverted near-exactly
    assert np.load(out / "seeds.npy").shape == (3, 1, 8, 8)
    assert np.load(out / "good.seed.npy").shape == (1, 1, 8, 8)
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left

    # the seed file goes back through the sampling command to the same reconstructions
    assert sample_main(["--checkpoint", checkpoint, "--seed-file", str(out / "seeds.npy"), "--out", str(tmp_path / "g.png"),
                        "--each", str(tmp_path / "each")]) == 0
    again = np.asarray(Image.open(tmp_path / "each" / "seeds_0001.png"), dtype=float)
    first = np.asarray(Image.open(out / "good.png"), dtype=float)
    assert np.abs(again - first).max() <= 1


def test_embed_several_seeds_with_gd(tmp_path, checkpoint, tiny_generator):
    make_inputs(tmp_path / "in", checkpoint)
    out = tmp_path / "out"
    assert embed_main([str(tmp_path / "in" / "good.png"), "--out", str(out), "--checkpoint", checkpoint, "--method", "gd",
                       "--seeds-per-image", "3", "--iterations", "5"]) == 0
    assert np.load(out / "good.seed.npy").shape == (3, 1, 8, 8)


def test_embed_nothing_usable(tmp_path, checkpoint, capsys):
    (tmp_path / "bad.png").write_text("x")
    assert embed_main([str(tmp_path / "bad.png"), "--out", str(tmp_path / "o"), "--checkpoint", checkpoint]) == 2
    assert "no usable input images" in capsys.readouterr().err


def test_npy_value_ranges(tmp_path):
    from core.image_io import ImageInputError, load_image_file

    shape = (1, 8, 8)
    np.save(tmp_path / "bytes.npy", np.full((8, 8), 255, np.uint8))
    assert load_image_file(tmp_path / "bytes.npy", shape)[0].max() == 1.0
    np.save(tmp_path / "overshoot.npy", np.full((8, 8), 1.000001, np.float32))
    image, note = load_image_file(tmp_path / "overshoot.npy", shape)
    assert image.max() == 1.0 and note == "clipped to [0, 1]"
    np.save(tmp_path / "wild.npy", np.full((8, 8), 1.2, np.float32))
    with pytest.raises(ImageInputError, match="expected"):
        load_image_file(tmp_path / "wild.npy", shape)
    # floats in [0, 2] are neither [0, 1] nor 8-bit values: refused (they were divided by 255, to near black)
    np.save(tmp_path / "double.npy", np.linspace(0, 2, 64, dtype=np.float32).reshape(8, 8))
    with pytest.raises(ImageInputError, match=r"values in \[0, 2\]; expected \[0, 1\], or whole numbers in \[0, 255\]"):
        load_image_file(tmp_path / "double.npy", shape)
    np.save(tmp_path / "bytes_as_float.npy", np.full((8, 8), 51.0, np.float64))  # 8-bit values saved as floats
    image, note = load_image_file(tmp_path / "bytes_as_float.npy", shape)
    assert note == "scaled [0, 255] -> [0, 1]" and abs(float(image.max()) - 0.2) < 1e-6
    with pytest.raises(ValueError, match=r"image_shape is \(C, H, W\)"):
        load_image_file(tmp_path / "bytes.npy", (8, 8))  # it blamed the file: 'corrupt or truncated image'
    with pytest.raises(ImageInputError, match="a folder, not an image file"):
        load_image_file(tmp_path, shape)
    np.save(tmp_path / "resized_bytes.npy", np.linspace(0.5, 254.5, 64).reshape(8, 8))  # 8-bit, resized: fractions
    image, note = load_image_file(tmp_path / "resized_bytes.npy", shape)
    assert note == "scaled [0, 255] -> [0, 1]" and abs(float(image.max()) - 254.5 / 255) < 1e-6


def test_embed_rejects_bad_numbers(tmp_path, checkpoint, capsys):
    make_inputs(tmp_path / "in", checkpoint)
    for flag in ("--steps", "--batch-size", "--iterations", "--seeds-per-image"):
        with pytest.raises(SystemExit) as exit_info:
            embed_main([str(tmp_path / "in" / "good.png"), "--out", str(tmp_path / "o"), "--checkpoint", checkpoint, flag, "0"])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: must be between 1 and" in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_embed_sharded_by_torchrun_writes_what_one_process_writes(tmp_path, checkpoint):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    make_inputs(tmp_path / "in", checkpoint)  # 6 files: 3 usable, 3 bad, spread over both shards
    # batch size 1: each image is embedded alone in both runs, so sharding is the only difference
    common = [str(tmp_path / "in"), "--checkpoint", checkpoint, "--method", "fixed_point", "--batch-size", "1"]
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "core.embed", *common,
                             "--out", str(tmp_path / "two")], cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "exitcode  : 1" in result.stderr, result.stderr[-3000:]  # rank 0 exits 1: files were skipped
    assert result.stderr.count("skipped:") == 3, result.stderr[-3000:]  # reported once, by rank 0
    # the reference: one process, with the same one thread per process (thread count changes the last float bits)
    single = subprocess.run([sys.executable, "-m", "core.embed", *common, "--out", str(tmp_path / "one")], cwd=root, env=env,
                            capture_output=True, text=True, timeout=300)
    assert single.returncode == 1, single.stderr[-3000:]

    one, two = tmp_path / "one", tmp_path / "two"
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    for path in one.iterdir():
        if path.name != "summary.csv":
            assert (two / path.name).read_bytes() == path.read_bytes(), path.name  # seeds.npy, every seed file and PNG
    rows_one, rows_two = list(csv.DictReader(open(one / "summary.csv"))), list(csv.DictReader(open(two / "summary.csv")))
    assert [r["name"] for r in rows_two] == [r["name"] for r in rows_one] == ["array", "good", "photo"]
    for a, b in zip(rows_one, rows_two):
        a.pop("seconds"), b.pop("seconds")
        assert a == b


def test_embed_fixed_point_modes_report_nfe_per_image(tmp_path, checkpoint, tiny_generator):
    make_inputs(tmp_path / "in", checkpoint)
    good = str(tmp_path / "in" / "array.npy")
    summaries = {}
    for mode in ["guarded", "adaptive", "fixed"]:
        out = tmp_path / mode
        assert embed_main([good, "--out", str(out), "--checkpoint", checkpoint, "--fixed-point-mode", mode,
                           "--iterations", "4", "--target-psnr", "35"]) == 0
        summaries[mode] = list(csv.DictReader(open(out / "summary.csv")))[0]
    # the fixed schedule spends exactly its iterations on every step; guarded and adaptive stop early and say if they missed
    assert int(summaries["fixed"]["nfe"]) > max(int(summaries["adaptive"]["nfe"]), int(summaries["guarded"]["nfe"]))
    for summary in summaries.values():
        assert summary["missed_target"] in ("True", "False")
        assert (summary["missed_target"] == "True") == (float(summary["psnr_db"]) < 35)
    with pytest.raises(SystemExit):
        embed_main([good, "--out", str(tmp_path / "x"), "--checkpoint", checkpoint, "--fixed-point-mode", "fast"])


def test_embed_x0_start_option(tmp_path, checkpoint, capsys):
    """--x0-start: auto (nothing shipped for this generator: naive), naive, a start folder trained for the generator
    (its first solve starts at no evaluation), and a clear refusal of a start made for other weights."""
    from core.checkpoint import weights_hash
    from core.inversion_start import InversionStart, InversionStartConfig, save_inversion_start
    from tests.conftest import make_tiny_generator

    make_inputs(tmp_path / "in", checkpoint)
    good = str(tmp_path / "in" / "array.npy")
    for name, hash_ in (("mine", weights_hash(checkpoint)), ("theirs", weights_hash(save_generator(make_tiny_generator(1), tmp_path / "g1")))):
        save_inversion_start(InversionStart(InversionStartConfig(image_size=8, unet_widths=[8, 16], generator_weights=hash_)),
                             tmp_path / name)
    rows = {}
    for option in ["auto", "naive", str(tmp_path / "mine")]:
        out = tmp_path / f"out_{len(rows)}"
        assert embed_main([good, "--out", str(out), "--checkpoint", checkpoint, "--x0-start", option, "--target-psnr", "35"]) == 0
        rows[option] = list(csv.DictReader(open(out / "summary.csv")))[0]
    assert rows["auto"] == {**rows["naive"], "seconds": rows["auto"]["seconds"]}
    learned = rows[str(tmp_path / "mine")]  # an untrained start network: a poor start, but the solve still stops at its tolerance
    assert learned["name"] == rows["naive"]["name"] and int(learned["nfe"]) >= 10
    assert embed_main([good, "--out", str(tmp_path / "refused"), "--checkpoint", checkpoint, "--x0-start", str(tmp_path / "theirs")]) == 2
    assert "other generator weights" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()


def test_embed_refuses_an_embedder_trained_for_other_weights(tmp_path, checkpoint, tiny_generator, capsys):
    """An embedder records the generator weights it was trained through; another generator of the same shape gets a
    clear refusal (its seeds would silently miss: 13.3 dB instead of 26.0 dB on the example test images, shipped pair)."""
    from core.checkpoint import weights_hash
    from core.embedder import Embedder, EmbedderConfig, save_embedder
    from tests.conftest import make_tiny_generator

    c, s, _ = tiny_generator.image_shape
    embedder = Embedder(EmbedderConfig(architecture="conv3", image_size=s, channels=c, width=8)).eval()
    save_embedder(embedder, tmp_path / "emb", {"training": {"generator_weights": weights_hash(checkpoint)}})
    other = str(save_generator(make_tiny_generator(1), tmp_path / "other"))
    make_inputs(tmp_path / "in", checkpoint)
    common = [str(tmp_path / "in" / "good.png"), "--method", "network", "--embedder", str(tmp_path / "emb")]
    assert embed_main([*common, "--out", str(tmp_path / "mine"), "--checkpoint", checkpoint]) == 0
    assert embed_main([*common, "--out", str(tmp_path / "theirs"), "--checkpoint", other]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "was trained through other generator weights" in error and weights_hash(checkpoint)[:12] in error
    assert not (tmp_path / "theirs").exists()
    # a method that does not use the embedder is not refused over it
    assert embed_main([*common[:1], "--method", "ddim_inversion", "--embedder", str(tmp_path / "emb"),
                       "--out", str(tmp_path / "unused"), "--checkpoint", other]) == 0


def test_embed_with_a_refined_embedder_counts_its_sampling(tmp_path, checkpoint, tiny_generator):
    """A refined embedder (core.refiner) goes wherever an embedder does; its seed costs one sampling, 10 NFE per image."""
    from core.checkpoint import weights_hash
    from core.embedder import Embedder, EmbedderConfig, save_embedder
    from core.refiner import RefinedEmbedder, Refiner, RefinerConfig, save_refined_embedder

    c, s, _ = tiny_generator.image_shape
    base = Embedder(EmbedderConfig(architecture="conv3", image_size=s, channels=c, width=8)).eval()
    save_embedder(base, tmp_path / "emb", {"training": {"generator_weights": weights_hash(checkpoint)}})
    refined = RefinedEmbedder(base, Refiner(RefinerConfig(unet_widths=[8, 16]), c), load_generator(checkpoint))
    save_refined_embedder(refined, tmp_path / "refined", tmp_path / "emb", checkpoint,
                          {"training": {"generator_weights": weights_hash(checkpoint)}})
    make_inputs(tmp_path / "in", checkpoint)
    for embedder, nfe in (("emb", "0"), ("refined", "10")):
        assert embed_main([str(tmp_path / "in" / "good.png"), "--method", "network", "--embedder", str(tmp_path / embedder),
                           "--out", str(tmp_path / f"out-{embedder}"), "--checkpoint", checkpoint]) == 0
        with open(tmp_path / f"out-{embedder}" / "summary.csv") as summary:
            assert [row["nfe"] for row in csv.DictReader(summary)] == [nfe]


def test_embed_into_a_folder_with_results_needs_overwrite(tmp_path, checkpoint, capsys):
    """A second run into the same folder is refused (it would replace files and leave the first run's others beside
    a summary that does not list them); --overwrite replaces the first run, whose other images are removed."""
    make_inputs(tmp_path / "in", checkpoint)
    out = tmp_path / "out"
    inputs = tmp_path / "in"
    assert embed_main([str(inputs / "good.png"), str(inputs / "array.npy"), "--out", str(out), "--checkpoint", checkpoint,
                       "--method", "ddim_inversion"]) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert embed_main([str(inputs / "good.png"), "--out", str(out), "--checkpoint", checkpoint, "--method", "ddim_inversion"]) == 2
    assert "already holds 4 file(s) this run would replace (seeds.npy, summary.csv, good.seed.npy" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first  # nothing touched
    assert embed_main([str(inputs / "good.png"), "--out", str(out), "--checkpoint", checkpoint, "--method", "ddim_inversion",
                       "--overwrite"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["good.png", "good.seed.npy", "seeds.npy", "summary.csv"]
    assert [r["name"] for r in csv.DictReader(open(out / "summary.csv"))] == ["good"] and np.load(out / "seeds.npy").shape[0] == 1
    # a summary.csv that core.embed did not write names nothing to remove: the user's cat.png stays
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "summary.csv").write_text("name,score\ncat,5\n")
    Image.new("L", (4, 4)).save(mine / "cat.png")
    assert embed_main([str(inputs / "good.png"), "--out", str(mine), "--checkpoint", checkpoint, "--method", "ddim_inversion",
                       "--overwrite"]) == 0
    assert (mine / "cat.png").is_file()


def test_embed_says_on_screen_which_images_missed_the_target(tmp_path, checkpoint, capsys):
    make_inputs(tmp_path / "in", checkpoint)
    good = str(tmp_path / "in" / "array.npy")
    # 150 dB is beyond float32's round-off: every image misses, and the run says so (the seeds are still written)
    assert embed_main([good, "--out", str(tmp_path / "miss"), "--checkpoint", checkpoint, "--target-psnr", "150"]) == 0
    err = capsys.readouterr().err
    assert "warning: 1 image(s) stayed below --target-psnr 150 dB after every re-solve: array" in err
    assert (tmp_path / "miss" / "array.seed.npy").is_file()
    assert embed_main([good, "--out", str(tmp_path / "hit"), "--checkpoint", checkpoint, "--target-psnr", "20"]) == 0
    assert "warning" not in capsys.readouterr().err
