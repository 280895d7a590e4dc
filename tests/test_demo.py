"""The Gradio demo, launched in-process and called through gradio_client."""

import pytest
from gradio_client import Client
from PIL import Image


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
