"""A real browser (Debian chromium driven by Playwright) opens the demo, uploads an image,
runs Embed and waits for the result, then projects a photo in the Project tab; the screenshots
land in tests/screenshots/."""

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def demo_url():
    from demo_app import demo

    demo.launch(server_name="127.0.0.1", prevent_thread_lock=True, quiet=True)
    yield demo.local_url
    demo.close()


def test_embed_in_a_real_browser(demo_url, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make test` as root or `sudo apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(demo_url)
        page.get_by_text("Embedding images in DDIM diffusion models").wait_for(timeout=60_000)
        page.locator("input[type=file]").first.set_input_files(str(ROOT / "assets" / "examples" / "test0009_sneaker.png"))
        page.get_by_label("fixed point (near-exact)").check()
        page.get_by_role("button", name="Embed", exact=True).click()
        report = page.get_by_text("PSNR")
        report.wait_for(timeout=120_000)
        assert "network evaluations" in report.inner_text()
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
