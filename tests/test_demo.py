"""The Gradio demo, launched in-process and called through gradio_client."""

from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from PIL import Image

EXAMPLES = Path(__file__).resolve().parent.parent / "assets" / "examples"


@pytest.fixture(scope="module")
def client():
    from demo_app import demo

    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield Client(demo.local_url, verbose=False)
    demo.close()


def test_generate_endpoint(client):
    path = client.predict("fashion", "0-3", 10, api_name="/generate")
    grid = Image.open(path)
    assert grid.size == ((2 * (28 + 2) + 2) * 8,) * 2  # 2x2 grid with 2-pixel padding, scaled x8


def test_same_seed_same_image(client):
    first = Image.open(client.predict("fashion", "5", 10, api_name="/generate")).tobytes()
    again = Image.open(client.predict("fashion", "5", 10, api_name="/generate")).tobytes()
    other = Image.open(client.predict("fashion", "6", 10, api_name="/generate")).tobytes()
    assert first == again and first != other


def test_bad_seed_list(client):
    with pytest.raises(Exception, match="bad seed list item"):
        client.predict("fashion", "x-1", 10, api_name="/generate")


def test_embed_fixed_point_and_seed_file_round_trip(client, tmp_path):
    example = handle_file(str(EXAMPLES / "test0000_ankle-boot.png"))
    original, seed_image, reconstruction, report, seed_file = client.predict(
        example, "fashion", "fixed point (near-exact)", api_name="/embed")
    assert Image.open(reconstruction).size == Image.open(original).size == (224, 224)
    psnr = float(report.split("PSNR **")[1].split(" dB")[0])
    assert psnr > 30, report
    seeds = np.load(seed_file)
    assert seeds.shape == (1, 1, 28, 28) and np.isfinite(seeds).all()
    grid = client.predict("fashion", handle_file(seed_file), 10, api_name="/generate_from_file")
    regenerated = np.asarray(Image.open(grid).convert("L"), dtype=float)[16:240:8, 16:240:8]  # undo padding and x8 scale
    expected = np.asarray(Image.open(reconstruction).convert("L"), dtype=float)[::8, ::8]
    assert np.abs(regenerated - expected).max() <= 2


def test_embed_bad_inputs(client, tmp_path):
    fake = tmp_path / "fake.png"
    fake.write_text("not an image")
    with pytest.raises(Exception):
        client.predict(handle_file(str(fake)), "fashion", "fixed point (near-exact)", api_name="/embed")
    wrong = tmp_path / "wrong.npy"
    np.save(wrong, np.zeros((2, 3, 5, 5), np.float32))
    with pytest.raises(Exception, match=r"\(2, 3, 5, 5\)"):
        client.predict("fashion", handle_file(str(wrong)), 10, api_name="/generate_from_file")


def test_huge_image_gets_a_clear_error(client, tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("L", (10000, 10000), 0).save(huge)  # 100 megapixels, a 100 KB file
    with pytest.raises(Exception, match="too large"):
        client.predict(handle_file(str(huge)), "fashion", "fixed point (near-exact)", api_name="/embed")


def test_interpolate(client):
    strip, gif = client.predict(handle_file(str(EXAMPLES / "test0002_trouser.png")), handle_file(str(EXAMPLES / "test0008_sandal.png")),
                                5, "spherical (slerp)", api_name="/interpolate")
    assert Image.open(strip).size == ((5 * (28 + 2) + 2) * 4, (28 + 4) * 4)
    animation = Image.open(gif)
    assert animation.format == "GIF" and animation.n_frames == 8  # 5 frames forward, 3 back
