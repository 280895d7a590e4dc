"""Streamlit AppTest tests: every page of the explorer runs without exceptions and shows the numbers of the study
it reads. The study pages read a small study of the tiny generator, built once per session (`tiny_study_dir`)."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
ENTRY = str(ROOT / "explorer" / "Home.py")
STUDY_PAGES = ["clouds", "interpolation", "convexity", "connectivity", "intersection", "local_geometry", "statistics_independence"]


def tiny_study_dir(base: Path) -> Path:
    """A study folder of 3 images of the tiny 8x8 generator (two tolerances, a second generator for independence,
    PCA only), written by the study's own code (core.study.run + report); built once, then reused (also by the
    browser test). ~17 s on this 2-core machine."""
    folder = base / "explorer_study"
    if (folder / "study" / "report.md").is_file():
        return folder / "study"
    from core.checkpoint import save_generator
    from core.seeds import seeded_noise
    from core.study.clouds import CloudConfig
    from core.study.report import write_study
    from core.study.run import StudyConfig, StudyImage, run_study
    from tests.conftest import make_tiny_generator

    generator, twin = make_tiny_generator(0), make_tiny_generator(1)
    generator_dir, twin_dir = save_generator(generator, folder / "tiny"), save_generator(twin, folder / "twin")
    with torch.no_grad():
        images = generator.generate(seeded_noise([100, 101, 102], generator.image_shape))
    items = [StudyImage(f"image{i}", image, f"G(seed {100 + i})", "test" if i < 2 else "file") for i, image in enumerate(images)]
    config = StudyConfig(psnr_levels=(10.0, 12.0), cloud_size=5, cloud=CloudConfig(iterations=40),
                         polish=CloudConfig(iterations=20),
                         convexity_ks=(2, 3), convexity_samples=6, relaxed_pairs=1, convergence_seeds=0, random_reference=12, umap=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is faster than two on a busy machine
    try:
        result = run_study(generator, items, config, twin=twin)
    finally:
        torch.set_num_threads(threads)
    result.summary.update({"generator": str(generator_dir), "twin": str(twin_dir), "embedder": None, "command": "tests/test_explorer.py"})
    write_study(result, folder / "study")
    return folder / "study"


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory) -> Path:
    return tiny_study_dir(tmp_path_factory.getbasetemp())


@pytest.fixture
def study(tiny_study, monkeypatch):
    """(summary, arrays) of the tiny study, with the explorer pointed at it."""
    from core.study.report import load_study

    monkeypatch.setenv("EMB_STUDY_DIR", str(tiny_study))
    return load_study(tiny_study)


def open_page(page: str | None = None) -> AppTest:
    app = AppTest.from_file(ENTRY, default_timeout=120).run()
    if page:
        app.switch_page(f"../pages/{page}.py").run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def metric(app: AppTest, label: str) -> str:
    values = [m.value for m in app.metric if m.label.startswith(label)]
    assert values, f"no metric {label!r} in {[m.label for m in app.metric]}"
    return values[0]


# --- the pages that were there before the study ---

def test_overview(study):
    app = open_page("overview")
    assert app.title[0].value.startswith("Embedding images")
    assert len(app.get("image")) >= 1  # samples of each shipped generator
    findings = app.table[0].value  # the study's own findings rows (report.md, README), caveats included
    from core.study.report import findings as report_findings

    assert findings.values.tolist() == report_findings(*study)
    cloud = findings[findings["question"].str.startswith("Can descent")].iloc[0, 1]
    inside = sum(v["cloud"]["inside"] for v in study[0]["images"].values())
    assert cloud.startswith(f"{inside}/15 ")  # 3 images x 5 starts, pooled from study.json
    assert findings["question"].str.startswith("Is emb(x) convex at").sum() == 2  # one row per tolerance
    assert findings["question"].str.contains("first-order ellipsoid").any() and findings["question"].str.contains("another network").any()
    # training curves: the validation loss by step, one series per loss measured; one record is a number, not a plot
    logs = {path.parent.name: [json.loads(line) for line in path.read_text().splitlines()] for path in ROOT.glob("assets/*/training_log.jsonl")}
    single = [name for name, rows in logs.items() if len(rows) == 1]
    assert single and len([m for m in app.metric if m.label.startswith("validation ")]) == len(single)
    assert len(app.get("plotly_chart")) == len(logs) - len(single)
    switched = [name for name, rows in logs.items() if len({row["val_kind"] for row in rows}) > 1]
    assert "fashion-wide" in switched  # L1 for 4 epochs, then MSE
    assert len([c for c in app.caption if c.value.startswith("The loss changed during this run")]) == len(switched)
    # the benchmark tables are frames read from the results JSON (the embedding table's 13 columns overflow as markdown)
    tables = {frame.value.columns[0]: frame.value for frame in app.dataframe}
    shipped = json.loads((ROOT / "benchmarks" / "results" / "embedding.json").read_text())["rows"]
    assert list(tables["method"]["method"]) == [row["method"] for row in shipped]
    assert tables["method"]["MSE"].iloc[1] == shipped[1]["MSE"]
    assert {"set vs test", "task"} <= set(tables)
    # a column of numbers with '' in the floor's row stays numeric (formatted to 4 digits), the blank a NaN
    assert tables["set vs test"]["training minutes"].dtype.kind == "f" and tables["set vs test"]["training minutes"].isna().any()


def test_generate_page():
    app = open_page("generate")
    assert app.title[0].value == "Generate from seeds"
    assert app.selectbox[0].value == "fashion"  # the default generator, not the first name in the alphabet
    assert len(app.get("image")) == 1
    app.text_input[0].set_value("7-3").run()  # a bad seed list gives an error, not a crash
    assert not app.exception and "bad seed list item" in app.error[0].value
    app.text_input[0].set_value("0-100000000").run()  # refused before 10^8 seeds are listed or generated
    assert not app.exception and "100,000,001 seeds asked; at most 256" in app.error[0].value


def test_embed_page():
    app = open_page("embed")
    app.radio[0].set_value("ddim_inversion").run()
    assert not app.exception
    assert "10 generator (UNet) evaluations per image" in app.caption[0].value
    app.radio[0].set_value("network").run()
    assert app.selectbox[0].value == "fashion-unet" and "no generator evaluation" in app.caption[0].value


def test_applications_page():
    app = open_page("applications")
    assert app.title[0].value == "Projection and directions"
    assert len(app.get("image")) == 2  # the projection row and the direction row
    assert "Source class (the classifier on G(E(x)), the seed's own image): Trouser." in app.caption[1].value
    assert not app.info  # Dress is another class
    app.selectbox[0].set_value("Trouser").run()  # the source class itself: a zero direction, said so
    assert not app.exception and "already classified as Trouser" in app.info[0].value


# --- the study pages ---

def test_study_home(study):
    summary, _ = study
    app = open_page()  # the default page
    assert app.title[0].value == "The shape of emb(x)"
    assert metric(app, "images") == "3" and metric(app, "tolerances") == "10dB, 12dB"
    assert metric(app, "cloud starts per image") == "5"
    assert "Not in this study: out-of-distribution AUROC, UMAP." in [c.value for c in app.caption]
    assert app.image[0].captions == ["image0 (test)", "image1 (test)", "image2 (file)"]


def test_points_are_the_projected_seeds(study):
    """The Clouds page rebuilds the seed behind each point; projecting those seeds again gives the stored map."""
    from core.study.projections import project_seeds
    from explorer.loaders import Study, projection_points

    summary, arrays = study
    table, seeds = projection_points(Study(Path("x"), "x", summary, arrays), "pca")
    assert len(table) == len(seeds) == len(arrays["projection/pca/coordinates"])
    groups = {g: torch.from_numpy(seeds[(table["group"] == g).to_numpy()]) for g in dict.fromkeys(table["group"])}
    again = project_seeds(groups, "pca").coordinates
    assert np.allclose(np.abs(again), np.abs(table[["x", "y"]].to_numpy()), atol=1e-4)  # PCA axes are defined up to sign
    assert set(table["kind"]) == {"cloud seed", "z*", "DDIM inversion", "random N(0, I)"}


def test_clouds_page(study):
    summary, arrays = study
    app = open_page("clouds")
    assert app.title[0].value == "Clouds and projections"
    assert any("UMAP is not in this study" in info.value for info in app.info)
    assert any("the tight clusters on these maps are mostly the starts" in info.value for info in app.info)
    assert len(app.get("plotly_chart")) == 1  # PCA (UMAP only on request)
    point = app.selectbox(key="clouds_point")
    assert len(point.options) == len(arrays["projection/pca/coordinates"])
    stored = 10 * np.log10(1 / arrays["image0/members_mse_10dB"][0])
    assert point.value == f"image0 · cloud seed 0 (start {int(arrays['image0/members_start_10dB'][0])})"
    assert abs(float(metric(app, "G(z) against image0").split()[0]) - stored) < 0.05  # G(seed) recomputed = the study's error
    point.set_value("random seed 3").run()
    assert not app.exception and not app.metric
    assert any("no target image" in c.value for c in app.caption)
    point.set_value("image1 · z*").run()
    assert float(metric(app, "G(z) against image1").split()[0]) > 40  # z* is near-exact


def test_clouds_can_be_coloured_by_the_start_each_seed_descended_from(study):
    summary, arrays = study
    app = open_page("clouds")

    def legend() -> set[str]:
        spec = json.loads(app.get("plotly_chart")[0].proto.spec)
        return {trace.get("name") for trace in spec["data"] if trace.get("showlegend", True)}

    assert {"image0", "image1", "image2"} <= legend()
    app.radio[0].set_value("random start of the descent").run()
    starts = {f"start {int(s)}" for name in summary["images"] for s in arrays.get(f"{name}/members_start_10dB", [])}
    assert starts and starts <= legend() and "image0" not in legend()
    assert not app.exception


def test_clouds_page_computes_umap_on_request(study):
    summary, arrays = study
    app = open_page("clouds")
    app.toggle(key="clouds_compute_umap").set_value(True).run()  # UMAP of the same seeds (numba compiles: ~15 s)
    assert not app.exception
    assert len(app.get("plotly_chart")) == 2  # UMAP and PCA side by side
    assert len(app.selectbox(key="clouds_point").options) == len(arrays["projection/pca/coordinates"])


def test_interpolation_page(study):
    summary, arrays = study
    app = open_page("interpolation")
    assert app.caption[0].value == "Precomputed in the study."
    assert len(app.get("plotly_chart")) == 1
    # between two images: how faithful the ends are (the worst PSNR to the first image meant nothing there)
    from explorer.loaders import psnr_db  # capped at 120 dB: the tiny study's z* are exact to float round-off

    first = float(psnr_db(arrays["paths_between_images/linear/mse_to_start_image"][0]))
    last = float(psnr_db(arrays["paths_between_images/linear/mse_to_end_image"][-1]))
    assert f"PSNR of the first frame against image0 {first:.1f} dB, of the last against image1 {last:.1f} dB" in app.markdown[1].value
    start = int(arrays["image1/members_start_12dB"][0])
    assert f"cloud seed 0 (12dB, start {start})" in app.selectbox(key="path_to_seed").options  # the tighter level's seeds, with their start
    app.selectbox(key="path_to_image").set_value("image0").run()
    seed_1 = next(o for o in app.selectbox(key="path_to_seed").options if o.startswith("cloud seed 1 (10dB"))
    app.selectbox(key="path_to_seed").set_value(seed_1).run()  # a new pair: computed on demand
    assert not app.exception and not any(c.value == "Precomputed in the study." for c in app.caption)
    linear = next(m.value for m in app.markdown if m.value.startswith("**linear**"))
    share = int(re.search(r"(\d+)% at 10dB", linear).group(1))
    assert 0 <= share <= 100
    app.selectbox(key="path_to_seed").set_value("z*").run()  # the same seed at both ends is refused politely
    assert not app.exception and app.warning[0].value == "Choose two different seeds."


def test_convexity_page(study):
    summary, arrays = study
    app = open_page("convexity")
    k = app.slider[0]
    members = len(arrays["image0/members_10dB"])
    assert (k.min, k.max) == (2, members)  # k out of range cannot be chosen
    expected = summary["images"]["image0"]["10dB"]["convexity"][0]
    assert metric(app, "inside emb_ε at 10 dB") == f"{100 * expected['share_inside']:.0f}%"
    assert metric(app, "combinations") == str(expected["samples"])
    assert len(app.image) >= 1 and len(app.dataframe) == 1
    app.slider[1].set_value(60.0).run()  # a tolerance no mixture meets
    assert metric(app, "inside emb_ε at 60 dB") == "0%"
    assert (app.slider[1].min, app.slider[1].max) == (5.0, 60.0)
    k.set_value(members).run()  # stored (k = 3) or computed on demand
    assert not app.exception and metric(app, "combinations") == str(summary["config"]["convexity_samples"])
    two = next((n for n in summary["images"] if len(arrays[f"{n}/members_12dB"]) == 2), None)  # 2 of 3 here (1 thread)
    if two is not None:
        app.selectbox[0].set_value(two).run()
        app.selectbox[1].set_value("12dB").run()  # a cloud of 2 seeds: k is fixed, no slider from 2 to 2
        assert not app.exception and "k = 2: this cloud has 2 seeds at this tolerance." in [c.value for c in app.caption]


def test_connectivity_page(study):
    summary, arrays = study
    app = open_page("connectivity")
    graph = summary["images"]["image0"]["10dB"]["connectivity"]
    assert metric(app, "segments inside") == f"{graph['segments_inside']}/{graph['segments']}"
    assert metric(app, "components") == str(graph["components"])
    app.slider[0].set_value(60.0).run()  # no segment is inside at 60 dB: every seed is its own component
    assert metric(app, "components") == str(graph["seeds"])
    app.button[0].click().run()
    assert not app.exception
    verdict = next(m.value for m in app.markdown if m.value.startswith("**Path"))
    assert re.match(r"\*\*Path (found|not found)\*\* between seeds \d and \d at 60 dB", verdict)
    assert len(app.get("plotly_chart")) == 1


def test_intersection_page(study):
    summary, arrays = study
    app = open_page("intersection")
    separation = summary["separation"]["10dB"]
    assert metric(app, "nearest seed in own cloud") == f"{100 * separation['self_attribution']:.0f}%"
    assert metric(app, "disjoint for certain") == f"{summary['disjoint_pairs_by_triangle_inequality']['10dB']}/3"
    assert metric(app, "closest, other starts") == f"{separation['between_distance_min']:.2f}"
    assert len(app.get("plotly_chart")) == 2  # distance histograms and the attribution matrix
    same_start = arrays["separation/10dB/same_start"]
    assert len(same_start) == separation["same_start_pairs"] > 0  # three histograms
    assert any(f"as close as {same_start.min():.2f}" in caption.value for caption in app.caption)
    histograms = json.loads(app.get("plotly_chart")[0].proto.spec)["data"]
    assert len(histograms) == 3 and all(trace["xbins"] == histograms[0]["xbins"] for trace in histograms)  # one bin width for all
    distances = np.concatenate([arrays[f"separation/10dB/{name}"] for name in ("within", "between", "same_start")])
    assert histograms[0]["xbins"]["start"] == pytest.approx(distances.min()) and histograms[0]["xbins"]["end"] == pytest.approx(distances.max())
    app.selectbox[0].set_value("12dB").run()
    assert not app.exception
    assert metric(app, "disjoint for certain") == f"{summary['disjoint_pairs_by_triangle_inequality']['12dB']}/3"


def test_local_geometry_page(study):
    summary, arrays = study
    app = open_page("local_geometry")
    geometry = summary["images"]["image0"]["local_geometry"]
    assert metric(app, "largest σ") == f"{geometry['sigma_max']:.3g}"
    assert metric(app, "condition number") == f"{geometry['condition_number']:.3g}"
    assert len(app.image) == 2 * summary["config"]["sensitive_directions"]  # one row per direction
    # each row names its step a (the first-order half-axis at the first tolerance) and the PSNR of each image to x
    captions = [image.caption for image in app.image[0].proto.imgs]
    sigma_1, eps = arrays["image0/singular_values"][0], 10 ** (-10 / 10)  # the first tolerance: 10 dB
    assert captions[0] == f"v_1, a = {min(np.sqrt(64 * eps) / sigma_1, 8.0):.3g}"  # 8x8 seeds: N = D = 64
    exact_psnr = summary["images"]["image0"]["single_seeds"]["z* (fixed point)"]["psnr_db"]
    assert abs(float(re.fullmatch(r"z\* ([\d.]+) dB", captions[2]).group(1)) - exact_psnr) < 0.1
    assert re.fullmatch(r"−a·v [\d.]+ dB", captions[1]) and re.fullmatch(r"\+a·v [\d.]+ dB", captions[3])
    assert len(app.get("plotly_chart")) == 1 + 2  # singular values, then one ellipsoid check per tolerance


def test_statistics_independence_page(study):
    summary, arrays = study
    app = open_page("statistics_independence")
    assert "no out-of-distribution section" in app.info[0].value
    assert metric(app, "same seed, two generators") == f"{np.mean(arrays['independence/random/paired']):.1f} dB"
    assert metric(app, "unrelated seeds, two generators") == f"{np.mean(arrays['independence/random/unrelated']):.1f} dB"
    assert len(app.dataframe) == 1 and len(app.dataframe[0].value) == len(summary["statistics"])
    assert len(app.get("plotly_chart")) == 5  # values, two autocorrelation maps, OOD scores, independence
    assert "stored in the study: A `tiny`, B `twin`" in " ".join(c.value for c in app.caption)


def test_independence_is_computed_with_the_shipped_pair_when_the_study_has_none(tiny_study, tmp_path, monkeypatch):
    """A study without a twin: the page offers the shipped same-recipe pair (DEFAULT_TWIN_OF, DEFAULT_TWIN),
    which need not include the study's generator, and computes the comparison with those two."""
    import json
    import shutil

    import core.study.__main__ as study_cli
    from core.checkpoint import save_generator
    from tests.conftest import make_tiny_generator

    folder = tmp_path / "study"
    shutil.copytree(tiny_study, folder)
    summary = json.loads((folder / "study.json").read_text())
    summary.pop("independence"), summary.pop("twin")
    (folder / "study.json").write_text(json.dumps(summary))
    first, twin = save_generator(make_tiny_generator(3), tmp_path / "pair_a"), save_generator(make_tiny_generator(4), tmp_path / "pair_b")
    monkeypatch.setattr(study_cli, "DEFAULT_TWIN_OF", Path(first))
    monkeypatch.setattr(study_cli, "DEFAULT_TWIN", Path(twin))
    monkeypatch.setenv("EMB_STUDY_DIR", str(folder))
    app = open_page("statistics_independence")
    app.toggle(key="independence_now").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    assert "computed now: A `pair_a`, B `pair_b`" in " ".join(c.value for c in app.caption)
    paired = float(metric(app, "same seed, two generators").split()[0])
    assert paired < 100  # two different networks, not the study's generator compared with itself


def test_pages_without_a_study(tmp_path, monkeypatch):
    """A missing study folder: every study page says so, none raises."""
    monkeypatch.setenv("EMB_STUDY_DIR", str(tmp_path / "nothing"))
    app = open_page()
    assert "No study in" in app.info[0].value
    for page in STUDY_PAGES:
        app.switch_page(f"../pages/{page}.py").run()
        assert not app.exception, page
        assert "No study in" in app.info[0].value, page


def test_bad_uploads_get_one_clear_line(tmp_path, monkeypatch):
    monkeypatch.setenv("EMB_STUDY_DIR", str(tmp_path / "nothing"))
    app = open_page()
    wrong = io.BytesIO()
    np.save(wrong, np.zeros((5, 5)))
    app.file_uploader[0].set_value([("broken.png", b"not an image", "image/png"),
                                    ("wrong.npy", wrong.getvalue(), "application/octet-stream")]).run()
    assert not app.exception
    errors = [e.value for e in app.error]
    assert errors[0].startswith("Skipped an upload: broken.png: not an image file")
    assert errors[1].startswith("Skipped an upload: wrong.npy: array of shape (5, 5)")
    assert all("\n" not in e and "Traceback" not in e for e in errors)


def test_home_computes_a_new_study(tmp_path, monkeypatch):
    """The Home page runs core.study on chosen images (the 8x8 digits generator, one example) and the pages then show it."""
    monkeypatch.setenv("EMB_STUDY_DIR", str(tmp_path / "nothing"))
    monkeypatch.setenv("EMB_STUDY_CACHE", str(tmp_path / "computed"))
    app = open_page()
    next(s for s in app.selectbox if s.label == "generator").set_value("digits").run()
    next(s for s in app.slider if s.label.startswith("cloud")).set_value(3).run()
    next(s for s in app.slider if s.label.startswith("Gauss-Newton iterations")).set_value(20).run()
    next(n for n in app.number_input if n.label.startswith("tolerance")).set_value(12.0).run()
    assert next(n for n in app.number_input if n.label.startswith("tolerance")).min == 10.0  # refused in the widget
    next(b for b in app.button if b.label == "Compute the study").click().run(timeout=300)
    assert not app.exception
    written = list((tmp_path / "computed").glob("study-*/report.md"))
    assert len(written) == 1
    assert len(list((tmp_path / "computed" / "cache").glob("*.npz"))) == 1  # the image's results survive a stopped run
    assert metric(app, "images") == "1" and metric(app, "tolerances") == "12dB"
    assert any("second generator `none`" in caption.value for caption in app.caption)  # it said `None`
    app.switch_page("../pages/local_geometry.py").run()
    assert not app.exception and metric(app, "locally injective") in ("yes", "not certified")
    app.switch_page("../pages/statistics_independence.py").run()
    assert any("studies computed in the explorer skip it" in info.value for info in app.info)


SHIPPED_STUDY = ROOT / "assets" / "study"


@pytest.mark.skipif(not (SHIPPED_STUDY / "study.json").is_file(), reason="the shipped study (assets/study) is not written yet")
def test_every_page_opens_on_the_shipped_study(monkeypatch):
    """The shipped study (28x28 generator, UMAP, OOD, network seeds): every page opens without an exception."""
    from core.study.report import load_study

    monkeypatch.setenv("EMB_STUDY_DIR", str(SHIPPED_STUDY))
    summary, arrays = load_study(SHIPPED_STUDY)
    app = open_page()
    assert metric(app, "images") == str(len(summary["images"]))
    assert any(info.value.startswith("Fewer than 2 cloud seeds reached 30dB for photo_astronaut, photo_camera:") for info in app.info)
    for page in STUDY_PAGES:
        app.switch_page(f"../pages/{page}.py").run()
        assert not app.exception, (page, [e.value for e in app.exception])
    app.switch_page("../pages/clouds.py").run()
    assert len(app.get("plotly_chart")) == len(summary["projections"])  # UMAP and PCA side by side when both are stored


@pytest.mark.skipif(not (SHIPPED_STUDY / "study.json").is_file(), reason="the shipped study (assets/study) is not written yet")
def test_study_pages_open_on_a_photo_without_cloud_seeds(monkeypatch):
    """The shipped photos have z* but no cloud seed within 30 dB: every page that picks an image shows them without an error."""
    from core.study.report import load_study

    monkeypatch.setenv("EMB_STUDY_DIR", str(SHIPPED_STUDY))
    summary, _ = load_study(SHIPPED_STUDY)
    photos = [name for name, image in summary["images"].items() if image["kind"] == "photo"]
    assert photos, "the shipped study has no photo"
    app, picked = open_page(), 0
    for page in STUDY_PAGES:
        app.switch_page(f"../pages/{page}.py").run()
        for box in app.selectbox:
            if photos[0] in box.options:
                box.set_value(photos[0]).run()
                picked += 1
                assert not app.exception and not app.error, (page, box.label, [e.value for e in app.exception], [e.value for e in app.error])
    assert picked >= 4  # interpolation (both ends), convexity, connectivity, local geometry


@pytest.mark.parametrize("page, slider_label", [("convexity", "tolerance (PSNR, dB)"), ("connectivity", "tolerance for the segments")])
def test_a_tolerance_set_before_visiting_an_image_without_cloud_starts_afresh(monkeypatch, page, slider_label):
    """A page that stops early (a photo has no cloud) used to leave the server holding the slider's last value while
    the browser drew the slider at its default: the numbers answered 25 dB under a slider showing 30."""
    monkeypatch.setenv("EMB_STUDY_DIR", str(SHIPPED_STUDY))
    app = open_page(page)
    garment = app.selectbox[0].value

    def tolerance():
        return next(s for s in app.slider if s.label.startswith(slider_label))

    fresh = [m.value for m in app.metric]
    tolerance().set_value(25.0).run()
    assert [m.value for m in app.metric] != fresh  # 25 dB answers differently from 30 on this cloud
    app.selectbox[0].set_value("photo_astronaut").run()
    assert not app.slider  # no cloud: the page drew no sliders
    app.selectbox[0].set_value(garment).run()
    assert tolerance().value == 30.0 and [m.value for m in app.metric] == fresh
    level = next(s for s in app.selectbox if s.label == "cloud at")  # the other widgets start afresh too
    level.set_value("40dB").run()
    app.selectbox[0].set_value("photo_astronaut").run()
    app.selectbox[0].set_value(garment).run()
    assert next(s for s in app.selectbox if s.label == "cloud at").value == "30dB" and tolerance().value == 30.0


def test_training_curves_of_a_log_that_gained_val_kind_midway(study, monkeypatch):
    """A run resumed across the change logs val_kind in its later records only: the earlier ones take the run's loss."""
    import pandas as pd

    from explorer import loaders

    rows = [{"epoch": 1, "step": 10, "val_loss": 0.11}, {"epoch": 2, "step": 20, "val_loss": 0.05, "val_kind": "mse"}]
    monkeypatch.setattr(loaders, "training_log", lambda name: pd.DataFrame(rows) if name == "fashion-small" else None)
    app = open_page("overview")
    spec = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert {trace["name"] for trace in spec["data"]} == {"validation L1", "validation MSE"}  # fashion-small's loss is L1
    assert [c.value for c in app.caption if c.value.startswith("The loss changed")] == [
        "The loss changed during this run (L1 then MSE): the series are different quantities."]
