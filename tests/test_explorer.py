"""Streamlit AppTest smoke tests: every page of the explorer runs without exceptions."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ENTRY = str(Path(__file__).resolve().parent.parent / "explorer" / "Home.py")


@pytest.fixture
def app():
    return AppTest.from_file(ENTRY, default_timeout=120).run()


def test_overview(app):
    assert not app.exception
    assert app.title[0].value.startswith("Embedding images")
    assert len(app.get("image")) >= 1  # samples of each shipped generator


def test_generate_page(app):
    app.switch_page("../pages/generate.py").run()
    assert not app.exception and app.title[0].value == "Generate from seeds"
    assert len(app.get("image")) == 1
    app.text_input[0].set_value("7-3").run()  # a bad seed list gives an error, not a crash
    assert not app.exception and "bad seed list item" in app.error[0].value


def test_embed_page(app):
    app.switch_page("../pages/embed.py").run()
    assert not app.exception
    app.radio[0].set_value("ddim_inversion").run()
    assert not app.exception
    assert "10 network evaluations" in app.caption[0].value


def test_applications_page(app):
    app.switch_page("../pages/applications.py").run()
    assert not app.exception and app.title[0].value == "Projection and directions"
    assert len(app.get("image")) == 2  # the projection row and the direction row
    assert "source class (classifier on the input): Trouser" in app.caption[1].value
    app.selectbox[0].set_value("Bag").run()
    assert not app.exception
