"""The Gradio demo, launched in-process and called through gradio_client."""

import re
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"


@pytest.fixture(scope="module")
def client():
    from demo_app import demo, launch_demo

    launch_demo(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)  # as the app starts it: its CSS and upload limit
    yield Client(demo.local_url, verbose=False)
    demo.close()


def test_generate_endpoint(client):
    path = client.predict("fashion", "0-3", 10, api_name="/generate")
    grid = Image.open(path)
    assert grid.size == ((2 * (28 + 2) + 2) * 8,) * 2  # 2x2 grid with 2-pixel padding, scaled x8
    # more seeds than one generator call takes: the chunks join into one grid, seed 35 (second chunk) in its place
    many = np.asarray(Image.open(client.predict("fashion", "0-35", 10, api_name="/generate")).convert("L"))
    alone = np.asarray(Image.open(client.predict("fashion", "35", 10, api_name="/generate")).convert("L"))
    assert many.shape == ((6 * (28 + 2) + 2) * 8,) * 2
    top = (2 + 5 * (28 + 2)) * 8  # row 5, column 5 of the 6x6 grid; each image 28 x 8 pixels after 2 of padding
    assert np.abs(many[top : top + 224, top : top + 224].astype(int) - alone[16:240, 16:240].astype(int)).max() <= 2


def test_same_seed_same_image(client):
    first = Image.open(client.predict("fashion", "5", 10, api_name="/generate")).tobytes()
    again = Image.open(client.predict("fashion", "5", 10, api_name="/generate")).tobytes()
    other = Image.open(client.predict("fashion", "6", 10, api_name="/generate")).tobytes()
    assert first == again and first != other


def test_bad_seed_list(client):
    with pytest.raises(Exception, match="bad seed list item"):
        client.predict("fashion", "x-1", 10, api_name="/generate")
    with pytest.raises(Exception, match="100,000,001 seeds asked; at most"):  # refused before the list is built
        client.predict("fashion", "0-100000000", 10, api_name="/generate")


def test_embed_fixed_point_and_seed_file_round_trip(client, tmp_path):
    example = handle_file(str(EXAMPLES / "test0000_ankle-boot.png"))
    original, seed_image, reconstruction, report, seed_file = client.predict(
        example, "fashion", "fixed point (near-exact)", api_name="/embed")
    assert Image.open(reconstruction).size == Image.open(original).size == (224, 224)
    psnr = float(report.split("PSNR **")[1].split(" dB")[0])
    assert psnr > 30, report
    assert "started from the learned x0 start" in report  # shipped for the Fashion-MNIST generator (assets/inversion-starts)
    digits = client.predict(example, "digits", "fixed point (near-exact)", api_name="/embed")[3]
    assert "learned x0 start" not in digits and "generator (UNet) evaluations" in digits  # none for digits: the naive start
    seeds = np.load(seed_file)
    assert seeds.shape == (1, 1, 28, 28) and np.isfinite(seeds).all()
    grid = client.predict("fashion", handle_file(seed_file), 10, api_name="/generate_from_file")
    regenerated = np.asarray(Image.open(grid).convert("L"), dtype=float)[16:240:8, 16:240:8]  # undo padding and x8 scale
    expected = np.asarray(Image.open(reconstruction).convert("L"), dtype=float)[::8, ::8]
    assert np.abs(regenerated - expected).max() <= 2


def test_embed_bad_inputs(client, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(Exception, match=r"fake\.png: not an image file"):  # our message, under the name it was given
        client.predict(handle_file(str(fake)), "fashion", "fixed point (near-exact)", api_name="/embed")
    cut = tmp_path / "cut.png"
    cut.write_bytes((EXAMPLES / "test0000_ankle-boot.png").read_bytes()[:60])
    for api_name, args in (("/embed", ("fashion", "network (instant)")), ("/project", (0.5,)), ("/direction", ("Dress", 1.0))):
        with pytest.raises(Exception, match=r"cut\.png: (corrupt or truncated|not a readable) image"):
            client.predict(handle_file(str(cut)), *args, api_name=api_name)
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(Exception, match=r"\(2, 3, 5, 5\)"):
        client.predict("fashion", handle_file(str(wrong)), 10, api_name="/generate_from_file")


def test_uploads_reach_the_model_as_they_are(client, tmp_path):
    """Grey stays grey, 16-bit keeps its scale, transparency keeps its black background (no RGB conversion first)."""
    example = EXAMPLES / "test0009_sneaker.png"
    report = client.predict(handle_file(str(example)), "fashion", "network (instant)", api_name="/embed")[3]
    assert "Input: used as is." in report, report
    grey = np.asarray(Image.open(example).convert("L"), dtype=np.uint16)
    deep = tmp_path / "deep.png"
    Image.fromarray(grey * 257).save(deep)  # the same picture in 16 bits
    original_8bit = np.asarray(Image.open(client.predict(handle_file(str(example)), "fashion", "network (instant)", api_name="/embed")[0]))
    original_16bit = np.asarray(Image.open(client.predict(handle_file(str(deep)), "fashion", "network (instant)", api_name="/embed")[0]))
    assert np.abs(original_16bit.astype(int) - original_8bit.astype(int)).max() <= 1
    clear = tmp_path / "clear.png"
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., 3] = grey.astype(np.uint8)  # white strokes drawn only by the alpha channel, on a transparent background
    rgba[..., :3] = 255
    Image.fromarray(rgba, "RGBA").save(clear)
    shown = np.asarray(Image.open(client.predict(handle_file(str(clear)), "fashion", "network (instant)", api_name="/embed")[0]).convert("L"))
    assert shown.mean() < 128  # dark background as in Fashion-MNIST; an RGB conversion first made it white


def test_huge_image_gets_a_clear_error(client, tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("L", (10000, 10000), 0).save(huge)  # 100 megapixels, a 100 KB file
    with pytest.raises(Exception, match="too large"):
        client.predict(handle_file(str(huge)), "fashion", "fixed point (near-exact)", api_name="/embed")


def test_interpolate(client):
    trouser, sandal = handle_file(str(EXAMPLES / "test0002_trouser.png")), handle_file(str(EXAMPLES / "test0008_sandal.png"))
    strip, gif, report = client.predict(trouser, sandal, 5, "spherical (slerp)", "exact (fixed point)", api_name="/interpolate")
    assert Image.open(strip).size == ((5 * (28 + 2) + 2) * 4, (28 + 4) * 4)
    animation = Image.open(gif)
    assert animation.format == "GIF" and animation.n_frames == 8  # 5 frames forward, 3 back
    assert Path(gif).name == "test0002_trouser-to-test0008_sandal.spherical.gif"
    # exact end seeds: the end frames are the images themselves; the network's seeds only resemble them
    exact_ends = [float(v) for v in re.findall(r"(?:image|second) ([\d.]+) dB", report)]
    _, _, network_report = client.predict(trouser, sandal, 5, "spherical (slerp)", "network (instant, approximate)", api_name="/interpolate")
    network_ends = [float(v) for v in re.findall(r"(?:image|second) ([\d.]+) dB", network_report)]
    assert len(exact_ends) == len(network_ends) == 2 and min(exact_ends) >= 40 > max(network_ends), (report, network_report)
    strip, _, _ = client.predict(trouser, sandal, 12, "linear", "network (instant, approximate)", api_name="/interpolate")
    assert Image.open(strip).size == ((6 * (28 + 2) + 2) * 4, (2 * (28 + 2) + 2) * 4)  # 12 frames in two rows of 6, not 8 + 4


def test_the_interpolate_strip_rows_are_even():
    from demo_app import STRIP_COLUMNS, strip_columns

    for frames in range(2, 33):
        columns = strip_columns(frames)
        rows = -(-frames // columns)
        last_row = frames - (rows - 1) * columns
        assert columns <= STRIP_COLUMNS and rows == -(-frames // STRIP_COLUMNS)  # no more rows than rows of 8 take
        assert columns - last_row < rows, (frames, columns)  # the last row is short by less than one frame per row
    assert strip_columns(17) == 6 and strip_columns(16) == 8 and strip_columns(5) == 5


def _psnr(report: str) -> float:
    """The first bold 'NN.N dB' of a report."""
    return float(re.search(r"\*\*(-?[\d.]+) dB\*\*", report).group(1))


def _sketch_files(tmp_path, paint: bool) -> dict:
    """The ImageEditor's value: a 280x280 trouser as background, one RGBA layer (a white bar or nothing), the composite."""
    background = Image.open(EXAMPLES / "test0002_trouser.png").convert("RGBA").resize((280, 280), Image.NEAREST)
    layer = Image.new("RGBA", background.size, (0, 0, 0, 0))
    if paint:
        layer.paste((255, 255, 255, 255), (40, 100, 240, 140))  # a white bar across both legs
    files = {"background": background, "layers": [layer], "composite": Image.alpha_composite(background, layer)}
    paths = {}
    for name, image in files.items():
        for index, picture in enumerate(image if isinstance(image, list) else [image]):
            path = tmp_path / f"{name}{index}.png"
            picture.save(path)
            paths.setdefault(name, []).append(handle_file(str(path)))
    return {"background": paths["background"][0], "layers": paths["layers"], "composite": paths["composite"][0]}


def test_edit_by_sketch_fidelity_controls_the_result(client, tmp_path):
    editor = _sketch_files(tmp_path, paint=True)
    results = {f: client.predict(editor, f, api_name="/edit") for f in (0.0, 1.0)}
    before, sketch, after, difference, report, seed_file = results[1.0]
    assert Image.open(after).size == (224, 224)
    assert np.load(seed_file).shape == (1, 1, 28, 28) and Path(seed_file).name == "edit.fidelity-1.00.seed.npy"
    assert _psnr(report) > 40 > _psnr(results[0.0][4]) + 10  # faithful repeats the sketch, projected does not
    bar = np.asarray(Image.open(difference).convert("RGB"), dtype=float)[100 * 224 // 280 + 4:140 * 224 // 280 - 4, 60:180]
    assert bar[..., 0].mean() > 100 and bar[..., 2].mean() < 20  # the painted bar made those pixels brighter: red


def test_edit_of_a_letterboxed_upload_drops_the_editors_transparent_bars(client, tmp_path):
    """The editor fits a non-square upload into its square canvas with transparent bars; they are not part of the picture."""
    photo = Image.open(EXAMPLES / "ood_astronaut.png").convert("RGBA").resize((280, 186))
    background = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    background.paste(photo, (0, 47))  # bars of 47 rows above and below, as the editor letterboxes it
    layer = Image.new("RGBA", background.size, (0, 0, 0, 0))
    layer.paste((255, 255, 255, 255), (100, 120, 180, 160))
    paths = {}
    for name, picture in (("background", background), ("layer", layer), ("composite", Image.alpha_composite(background, layer))):
        picture.save(tmp_path / f"{name}.png")
        paths[name] = handle_file(str(tmp_path / f"{name}.png"))
    editor = {"background": paths["background"], "layers": [paths["layer"]], "composite": paths["composite"]}
    before, _, _, _, report, _ = client.predict(editor, 1.0, api_name="/edit")
    shown = np.asarray(Image.open(before).convert("L"), dtype=float)  # 224x224, 8 display pixels a model pixel
    assert shown[:16].mean() > 40 and shown[-16:].mean() > 40, (shown[:16].mean(), shown[-16:].mean())  # no black bars
    assert "without its transparent bars" in report and "280x186" in report


def test_edit_with_an_empty_sketch_is_refused(client, tmp_path):
    with pytest.raises(Exception, match="sketch is empty"):
        client.predict(_sketch_files(tmp_path, paint=False), 0.5, api_name="/edit")
    with pytest.raises(Exception, match="Upload an image to edit"):
        client.predict({"background": None, "layers": [], "composite": None}, 0.5, api_name="/edit")


def test_project_any_image(client):
    photo = handle_file(str(EXAMPLES / "ood_astronaut.png"))
    converted, projection, seed, report, seed_file = client.predict(photo, 0.0, api_name="/project")
    assert np.load(seed_file).shape == (1, 1, 28, 28) and Path(seed_file).name == "ood_astronaut.projection.fidelity-0.00.seed.npy"
    assert Image.open(projection).size == Image.open(converted).size == (224, 224)
    assert "RGB -> grey" in report and "looks like" in report
    projected_psnr = _psnr(report)
    faithful_psnr = _psnr(client.predict(photo, 1.0, api_name="/project")[3])
    assert faithful_psnr > 40 > projected_psnr + 15  # exact inversion reproduces the photo; projection sends it elsewhere


def test_directions_move_toward_the_target_class(client):
    trouser = handle_file(str(EXAMPLES / "test0002_trouser.png"))
    strip, report = client.predict(trouser, "Bag", 3.0, api_name="/direction")
    assert Image.open(strip).size == ((4 * (28 + 2) + 2) * 4, (2 * (28 + 2) + 2) * 4)  # the input, then 7 frames, in rows of 4
    assert "source class (classifier on G(z), the first frame after the input): **Trouser**" in report
    again, _ = client.predict(trouser, "Bag", 3.0, api_name="/direction")
    assert Image.open(strip).tobytes() == Image.open(again).tobytes()
    with pytest.raises(Exception, match="unknown class 'Spaceship'"):
        client.predict(trouser, "Spaceship", 1.0, api_name="/direction")
    with pytest.raises(Exception, match="strength must be between 0 and 4"):  # checked by the handler, not only the slider
        client.predict(trouser, "Bag", 40.0, api_name="/direction")
    _, same = client.predict(trouser, "Trouser", 2.0, api_name="/direction")
    assert "already classified as Trouser" in same


def test_embed_errors_fall_from_network_to_hybrid_to_fixed_point(client):
    example = handle_file(str(EXAMPLES / "test0004_shirt.png"))
    psnr = {method: _psnr(client.predict(example, "fashion", label, api_name="/embed")[3])
            for method, label in (("network", "network (instant)"), ("hybrid", "hybrid (quick seed + 30 descent steps, slow)"),
                                  ("fixed_point", "fixed point (near-exact)"))}
    assert psnr["network"] < psnr["hybrid"] < psnr["fixed_point"], psnr
    assert psnr["network"] > 12  # still a shirt, not noise


def test_the_refined_network_beats_the_network_at_one_sampling(client):
    example = handle_file(str(EXAMPLES / "test0004_shirt.png"))
    network = client.predict(example, "fashion", "network (instant)", api_name="/embed")[3]
    refined = client.predict(example, "fashion", "network + refiner (one sampling, sharper)", api_name="/embed")[3]
    assert _psnr(refined) > _psnr(network) + 0.5, (network, refined)
    assert "one sampling of its seed (10 generator evaluations)" in refined
    with pytest.raises(Exception, match="No embedding network of this kind"):  # shipped for the Fashion-MNIST generator only
        client.predict(handle_file(str(EXAMPLES / "test0004_shirt.png")), "digits", "network + refiner (one sampling, sharper)",
                       api_name="/embed")


def test_request_files_older_than_an_hour_are_removed(client):
    import os
    import time

    import demo_app

    stale, recent = demo_app._request_folder(), demo_app._request_folder()
    (stale / "old.seed.npy").write_bytes(b"x")
    two_hours_ago = time.time() - 2 * 3600
    os.utime(stale, (two_hours_ago, two_hours_ago))
    fresh = demo_app._request_folder()
    assert not stale.exists() and recent.is_dir() and fresh.is_dir() and fresh.parent == demo_app.OUTPUTS


def test_a_seed_file_at_other_steps_is_generated_with_a_warning(client, tmp_path, monkeypatch):
    import demo_app

    warnings = []
    monkeypatch.setattr(demo_app.gr, "Warning", lambda message, *args, **kwargs: warnings.append(message))
    seed_path = tmp_path / "one.seed.npy"
    np.save(seed_path, np.random.default_rng(0).standard_normal((1, 1, 28, 28)).astype(np.float32))
    demo_app.generate_from_file("fashion", str(seed_path), 10)
    assert warnings == []
    demo_app.generate_from_file("fashion", str(seed_path), 20)
    assert len(warnings) == 1 and "10 DDIM steps" in warnings[0] and "at 20 steps" in warnings[0]


def test_hybrid_says_where_it_starts_and_runs_the_benchmarked_descent(client, monkeypatch):
    import demo_app
    from core import embedding

    calls = []
    real_embed = embedding.embed
    monkeypatch.setattr(demo_app, "embed", lambda *args, **kwargs: calls.append(kwargs.get("descent")) or real_embed(*args, **kwargs))
    example = handle_file(str(EXAMPLES / "test0009_sneaker.png"))
    report = client.predict(example, "fashion", "hybrid (quick seed + 30 descent steps, slow)", api_name="/embed")[3]
    assert "Start: the embedding network's seed." in report and "300 generator (UNet) evaluations" in report, report
    assert calls[-1].iterations == 30
    digits = client.predict(example, "digits", "hybrid (quick seed + 30 descent steps, slow)", api_name="/embed")[3]
    assert "Start: DDIM inversion's seed." in digits and "310 generator (UNet) evaluations" in digits, digits


def test_only_the_editors_letterbox_bars_are_cut():
    """The editor's transparent bars go; a garment on a transparent background keeps its margins (then goes on black)."""
    import demo_app

    letterboxed = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    letterboxed.paste(Image.new("RGBA", (280, 186), (200, 100, 50, 255)), (0, 47))
    assert demo_app._picture_box(letterboxed) == (0, 47, 280, 233)
    garment = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
    garment.paste(Image.new("RGBA", (61, 241), (255, 255, 255, 255)), (110, 20))  # transparent all round
    assert demo_app._picture_box(garment) is None
    holed = letterboxed.copy()
    holed.paste((0, 0, 0, 0), (100, 100, 120, 120))  # full width, but transparent inside: not a letterbox
    assert demo_app._picture_box(holed) is None
    assert demo_app._picture_box(letterboxed.convert("RGB")) is None
