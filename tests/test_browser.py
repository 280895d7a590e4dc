"""A real browser (Debian chromium driven by Playwright) opens the demo, uploads an image,
runs Embed and waits for the result, then projects a photo in the Project tab, then paints a
stroke in the Edit-by-sketch tab and checks the edit; the screenshots land in tests/screenshots/."""

import io
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo_url():
    from demo_app import demo, launch_demo

    launch_demo(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)  # as the app starts it: its CSS and upload limit
    yield demo.local_url
    demo.close()


def _require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make test` as root or `sudo apt-get install chromium`")


def test_embed_in_a_real_browser(demo_url, tmp_path):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme="light")
        page.goto(demo_url)
        page.get_by_text("Embedding images in DDIM diffusion models").wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(str(ROOT / "assets" / "examples" / "test0009_sneaker.png"))
        # the 28x28 upload fills its 260-pixel preview (DEMO_CSS), not a 28-pixel thumbnail
        preview = page.locator(".upload-preview .image-frame img").first
        preview.wait_for(timeout=30_000)
        shown = preview.evaluate("""e => {  // the height the picture takes inside the img box, by its object-fit
            const box = e.getBoundingClientRect(), fit = Math.min(box.width / e.naturalWidth, box.height / e.naturalHeight);
            const rule = getComputedStyle(e).objectFit;
            return rule === 'contain' ? fit * e.naturalHeight : rule === 'scale-down' ? Math.min(1, fit) * e.naturalHeight : -1;
        }""")
        assert shown > 150, shown  # Gradio's own 'scale-down' showed it at 28 pixels
        page.get_by_label("fixed point (near-exact)").check()
        page.get_by_role("button", name="Embed", exact=True).click()
        report = page.get_by_text("generator (UNet) evaluations")  # the report (the tab's intro mentions PSNR too)
        report.wait_for(timeout=120_000)
        assert re.search(r"PSNR [\d.]+ dB", report.inner_text()), report.inner_text()
        shot = tmp_path / "embed.png"
        page.screenshot(path=str(shot), full_page=True)

        # Another tab: project an out-of-distribution photo.
        page.get_by_role("tab", name="Project any image").click()
        panel = page.locator("#project-tab")
        panel.locator("input[type=file]").set_input_files(str(ROOT / "assets" / "examples" / "ood_astronaut.png"))
        panel.get_by_role("button", name="Project", exact=True).click()
        projected = panel.get_by_text("looks like")
        projected.wait_for(timeout=120_000)
        assert "RGB -> grey" in projected.inner_text()
        project_shot = tmp_path / "project.png"
        page.screenshot(path=str(project_shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000 and project_shot.stat().st_size > 10_000
    (ROOT / "tests" / "screenshots").mkdir(exist_ok=True)
    shutil.copy(shot, ROOT / "tests" / "screenshots" / "embed.png")
    shutil.copy(project_shot, ROOT / "tests" / "screenshots" / "project.png")


# The stroke, in fractions of the editor's image: a horizontal line across the empty black top of the sneaker example.
STROKE_Y, STROKE_X0, STROKE_X1 = 0.2, 0.2, 0.8


def _grey(png: bytes) -> np.ndarray:
    """PNG bytes -> (H, W) float array in [0, 1]."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float32) / 255.0


def _poll(probe, timeout_s: float, what: str):
    """Call `probe` until it returns something truthy (a canvas has no DOM state that Playwright could wait for)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


def _image_box(canvas) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1) of the example in the editor canvas, in CSS pixels from its corner: Fashion-MNIST images have a
    black frame, the empty canvas around them is light. None while the example is not drawn yet."""
    dark = _grey(canvas.screenshot()) < 0.15
    rows, cols = np.flatnonzero(dark.mean(1) > 0.3), np.flatnonzero(dark.mean(0) > 0.3)
    if rows.size == 0 or cols.size == 0:
        return None
    x0, y0, x1, y1 = int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
    return (x0, y0, x1, y1) if x1 - x0 > 100 and abs((x1 - x0) - (y1 - y0)) <= 4 else None


def _stroke_shows(canvas, box: tuple[int, int, int, int]) -> bool:
    """Whether the white stroke is drawn on the canvas along its centre line."""
    x0, y0, x1, y1 = box
    row = _grey(canvas.screenshot())[round(y0 + STROKE_Y * (y1 - y0))]
    middle = row[round(x0 + 0.3 * (x1 - x0)):round(x0 + 0.7 * (x1 - x0))]
    return bool((middle > 0.8).all())


def test_edit_by_sketch_in_a_real_browser(demo_url, tmp_path):
    _require_chromium()
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme="light")
        page.goto(demo_url)
        page.get_by_text("Embedding images in DDIM diffusion models").wait_for(timeout=60_000)
        page.get_by_role("tab", name="Edit by sketch").click()
        panel = page.locator("#edit-tab")
        # a corrupt file never reaches the server (the editor cannot decode it and shows nothing): Edit says what happened
        corrupt = tmp_path / "cut.png"
        corrupt.write_bytes((ROOT / "assets" / "examples" / "test0009_sneaker.png").read_bytes()[:300])
        panel.locator("input[type=file]").first.set_input_files(str(corrupt))
        panel.get_by_role("button", name="Edit", exact=True).click()
        refusal = page.locator("[data-testid=toast-body].error")
        refusal.first.wait_for(timeout=30_000)
        assert "could not be read as an image by your browser" in refusal.first.inner_text()
        page.locator("[data-testid=toast-close]").first.click()
        panel.locator("button.gallery-item").first.click()  # the sneaker, upscaled to 280x280
        expect(panel.get_by_role("button", name="Undo")).to_be_enabled(timeout=30_000)  # the example is a step in history
        canvas = panel.locator("canvas").last  # pixi.js draws on it and listens for pointer events on it
        box = _poll(lambda: _image_box(canvas), 30, "the example to be drawn on the editor canvas")

        panel.get_by_role("button", name="Brush", exact=True).click()
        expect(panel.get_by_role("button", name="Color", exact=True)).to_have_css("color", "rgb(255, 255, 255)")
        origin = canvas.bounding_box()
        x0, y0, x1, y1 = box
        y = origin["y"] + y0 + STROKE_Y * (y1 - y0)
        page.mouse.move(origin["x"] + x0 + STROKE_X0 * (x1 - x0), y)
        page.mouse.down()
        page.mouse.move(origin["x"] + x0 + STROKE_X1 * (x1 - x0), y, steps=20)  # a drag, as a hand makes
        page.mouse.up()
        _poll(lambda: _stroke_shows(canvas, box), 10, "the brush stroke to show on the canvas")

        panel.get_by_role("button", name="Edit", exact=True).click()
        report = panel.get_by_text("PSNR to the sketch")
        error = page.locator("[data-testid=toast-body].error")
        report.or_(error).first.wait_for(timeout=120_000)
        if error.count():
            pytest.fail(f"the edit failed in the browser: {error.first.inner_text()}")
        assert "changed" in report.inner_text()

        def output(label: str) -> np.ndarray:
            block = panel.locator("div.block").filter(
                has=page.get_by_test_id("block-label").filter(has_text=re.compile(rf"^\s*{re.escape(label)}\s*$")))
            image = block.locator("img")
            image.wait_for(timeout=30_000)
            return _grey(page.request.get(image.get_attribute("src")).body())

        before, sketch, after = output("before"), output("sketch (model input)"), output("after: G(z)")
        shot = tmp_path / "edit_sketch.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    (ROOT / "tests" / "screenshots").mkdir(exist_ok=True)
    shutil.copy(shot, ROOT / "tests" / "screenshots" / "edit_sketch.png")

    # The stroke reached the server where it was drawn: the model input differs from the image on that line only.
    assert before.shape == sketch.shape == after.shape
    height, width = before.shape
    painted = np.abs(sketch - before) > 0.1
    line = painted[round(STROKE_Y * height), round(0.25 * width):round(0.75 * width)]
    rows = np.arange(height)[:, None]
    far = np.broadcast_to(np.abs(rows - STROKE_Y * height) > 0.15 * height, painted.shape)
    print(f"stroke: {painted.mean():.1%} of the pixels painted, {line.mean():.0%} of its centre line, "
          f"{painted[far].mean():.2%} far from it")
    assert line.mean() > 0.9 and painted[far].mean() < 0.01
    # The generator integrated it: the edit changes the painted region much more than the rest.
    change = np.abs(after - before)
    inside, outside = change[painted].mean(), change[~painted].mean()
    print(f"mean |after - before|: {inside:.3f} where painted, {outside:.3f} elsewhere")
    assert inside > 0.3 and inside > 4 * outside
