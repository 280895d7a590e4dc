"""A real browser (Debian chromium driven by Playwright) against `streamlit run explorer/Home.py`, started as the
README says: it opens Home, goes to the Clouds page, clicks a point of the PCA map and checks that the page shows
that seed and its G(seed); the screenshots land in tests/screenshots/."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_browser import CHROMIUM, CHROMIUM_ARGS
from tests.test_explorer import tiny_study_dir

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def explorer_url(tmp_path_factory):
    study = tiny_study_dir(tmp_path_factory.getbasetemp())
    port = _free_port()
    env = dict(os.environ, EMB_STUDY_DIR=str(study), STREAMLIT_BROWSER_GATHER_USAGE_STATS="false", HF_HUB_OFFLINE="1")
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    streamlit = Path(sys.executable).with_name("streamlit")
    with open(log, "w") as output:
        # its own process group (setsid), so the server and anything it starts stop together
        server = subprocess.Popen([str(streamlit), "run", "explorer/Home.py", "--server.address", "127.0.0.1",
                                   "--server.port", str(port), "--server.headless", "true", "--server.fileWatcherType", "none"],
                                  cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


# The most isolated point of a plotly chart whose hover text starts with one of `prefixes`: [label, x, y, hover
# text] in pixels. A click there selects that point and no neighbour, whatever the layout of the seeds (in the
# tiny study an image's z* and DDIM seed can lie 3 pixels apart).
ISOLATED_POINT = """(chart, prefixes) => {
    const plot = chart.querySelector('.js-plotly-plot');
    const traces = plot.querySelectorAll('.scatterlayer .trace');
    const points = [];
    for (let i = 0; i < plot.data.length; i++) {
        const texts = plot.data[i].hovertext || [];
        const paths = traces[i].querySelectorAll('path.point');
        texts.forEach((t, j) => {
            if (!paths[j]) return;
            const box = paths[j].getBoundingClientRect();
            points.push({label: String(t).split('<br>')[0], text: String(t), x: box.x + box.width / 2, y: box.y + box.height / 2});
        });
    }
    let best = null, bestGap = -1;
    for (const p of points) {
        if (!prefixes.some(prefix => p.label.startsWith(prefix))) continue;
        const gap = Math.min(...points.filter(q => q !== p).map(q => Math.hypot(q.x - p.x, q.y - p.y)));
        if (gap > bestGap) { best = p; bestGap = gap; }
    }
    return best && [best.label, best.x, best.y, best.text];
}"""


def test_home_and_clouds_in_a_real_browser(explorer_url, tmp_path):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: run `make test` as root or `sudo apt-get install chromium`")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme="light")
        page.goto(explorer_url)
        page.get_by_role("heading", name="The shape of emb(x)").wait_for(timeout=60_000)
        images = page.get_by_test_id("stMetric").filter(has_text="images")
        expect(images.first).to_contain_text("3", timeout=30_000)  # the tiny study's three images
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
        home_shot = tmp_path / "explorer_home.png"
        page.screenshot(path=str(home_shot), full_page=True)

        page.get_by_role("link", name="Clouds and projections").click()
        page.get_by_role("heading", name="Clouds and projections").wait_for(timeout=60_000)
        chart = page.get_by_test_id("stPlotlyChart").first
        chart.locator(".scatterlayer path.point").first.wait_for(timeout=60_000)
        expect(page.get_by_test_id("stMetric").first).to_contain_text("G(z) against image0", timeout=60_000)  # the default point
        page.wait_for_timeout(500)  # plotly finishes its layout after the first points are drawn
        found = chart.evaluate(ISOLATED_POINT, ["image1", "image2"])  # a seed of another image than the default's
        assert found is not None, "no seed of image1 or image2 on the map"
        target, x, y, hover = found
        page.mouse.click(x, y)
        # The click selects the point: the page reruns and shows that seed, G(seed) and its error against its image.
        expect(page.get_by_test_id("stMetric").first).to_contain_text(f"G(z) against {target.split(' · ')[0]}", timeout=60_000)
        expect(page.get_by_text(f"{target}: |z| / sqrt(D)")).to_be_visible()  # the caption under the chosen seed
        value = page.get_by_test_id("stMetricValue").first.inner_text()
        stored = float(re.search(r"PSNR of G\(seed\) to its image ([\d.]+) dB", hover).group(1))
        assert abs(float(value.split()[0]) - stored) < 0.1, (value, hover)  # G(seed) recomputed = the study's error for it
        expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)  # the rerun has finished
        clouds_shot = tmp_path / "explorer_clouds.png"
        page.screenshot(path=str(clouds_shot), full_page=True)
        browser.close()
    assert home_shot.stat().st_size > 10_000 and clouds_shot.stat().st_size > 10_000
    (ROOT / "tests" / "screenshots").mkdir(exist_ok=True)
    shutil.copy(home_shot, ROOT / "tests" / "screenshots" / "explorer_home.png")
    shutil.copy(clouds_shot, ROOT / "tests" / "screenshots" / "explorer_clouds.png")
