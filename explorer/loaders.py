"""Cached loaders and computations shared by every page of the Streamlit explorer.
Arguments starting with `_` are not hashed by Streamlit."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import torch

from core.checkpoint import GENERATOR_KIND, load_generator, read_config
from core.data import load_fashion_mnist
from core.embedder import load_embedder
from core.embedding import embed
from core.seeds import parse_seed_list, reference_noise, seeded_noise

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
RESULTS = ROOT / "benchmarks" / "results"


def generator_names() -> list[str]:
    return [p.parent.name for p in sorted(ASSETS.glob("*/config.json")) if '"ddim-generator"' in p.read_text()]


def embedder_names() -> list[str]:
    return [p.name for p in sorted((ASSETS / "embedders").glob("fashion-*")) if (p / "config.json").is_file()]


@st.cache_resource
def get_generator(name: str):
    return load_generator(ASSETS / name)


@st.cache_resource
def get_embedder(name: str):
    return load_embedder(ASSETS / "embedders" / name)


@st.cache_data
def fashion_test_images(count: int) -> np.ndarray:
    """(count, 1, 28, 28) float32 test images."""
    images, _ = load_fashion_mnist("test")
    return images[:count].numpy()


MAX_GENERATED = 256  # images the Generate page makes and shows at once


@st.cache_data(show_spinner="generating...")
def generate_images(name: str, seed_text: str, steps: int) -> np.ndarray:
    """Seeds -> (N, C, H, W) float32 images in [0, 1] (ValueError for a bad list or more than MAX_GENERATED seeds)."""
    generator = get_generator(name)
    seeds = parse_seed_list(seed_text, max_count=MAX_GENERATED)
    with torch.no_grad():
        return generator.generate(seeded_noise(seeds, generator.image_shape), steps=steps).numpy()


@st.cache_data(show_spinner="embedding...")
def embed_images(name: str, method: str, images: np.ndarray, embedder_name: str | None = None) -> dict:
    generator = get_generator(name)
    embedder = get_embedder(embedder_name) if embedder_name else None
    result = embed(generator, torch.from_numpy(images), method, embedder=embedder)
    return {"seeds": result.seeds.numpy(), "reconstructions": result.reconstructions.numpy(),
            "psnr": result.psnr.numpy(), "nfe": result.nfe, "seconds": result.seconds}


def training_log(name: str) -> pd.DataFrame | None:
    path = ASSETS / name / "training_log.jsonl"
    if not path.is_file():
        return None
    return pd.DataFrame([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def generator_training(name: str) -> dict:
    """The `training` section of a shipped generator's config.json (core.checkpoint.read_config; {} if none)."""
    return read_config(ASSETS / name, GENERATOR_KIND).get("training", {})


@dataclass
class BenchmarkResult:
    """One benchmark's results file (benchmarks/results/{name}.json, written by benchmarks.report)."""

    title: str
    command: str
    date: str
    machine: str
    table: pd.DataFrame  # one row per measured row, columns as in the README's table
    notes: str


def benchmark_result(name: str) -> BenchmarkResult | None:
    """The benchmark's last results, or None when it has not been run (no results file)."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    table = pd.DataFrame(data["rows"])
    for column in table.columns:  # numbers with '' where a row has none (the floor's row) stay numbers, '' -> NaN
        values = table[column].replace("", np.nan)
        numeric = pd.to_numeric(values, errors="coerce")
        if numeric.notna().sum() == values.notna().sum():
            table[column] = numeric
    return BenchmarkResult(data["title"], data["command"], data["date"], data["machine"], table, data.get("notes", ""))


def to_display(images: np.ndarray, scale: int = 4) -> list[np.ndarray]:
    """(N, C, H, W) in [0, 1] -> list of (H*scale, W*scale[, 3]) uint8 arrays for st.image."""
    out = []
    for image in images:
        array = (np.clip(image, 0, 1) * 255).round().astype(np.uint8)
        array = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
        out.append(np.kron(array, np.ones((scale, scale) + (1,) * (array.ndim - 2), dtype=np.uint8)))
    return out


@st.cache_resource
def get_classifier():
    from core.classifier import load_classifier

    return load_classifier(ASSETS / "classifier")


@st.cache_resource
def get_directions():
    from core.directions import load_directions

    return load_directions(ASSETS / "fashion" / "directions.safetensors", get_generator("fashion").image_shape)


@st.cache_data(show_spinner="projecting...")
def projection_path(images: np.ndarray, fidelities: tuple[float, ...]) -> dict:
    """(N, C, H, W) images -> G(z(f)) for each fidelity f: {"images": (F, N, C, H, W), "psnr": (F, N)}."""
    from core.projection import project

    generator, embedder = get_generator("fashion"), get_embedder("fashion-unet")
    results = [project(generator, embedder, torch.from_numpy(images), f) for f in fidelities]
    return {"images": np.stack([r.images.numpy() for r in results]), "psnr": np.stack([r.psnr.numpy() for r in results])}


@st.cache_data(show_spinner="moving seeds...")
def direction_path(image: np.ndarray, target: str, strengths: tuple[float, ...]) -> dict:
    """One image (C, H, W) -> its network seed moved toward `target`: {"images": (S, C, H, W), "labels": [...], "source": str}."""
    generator, embedder, classifier, directions = get_generator("fashion"), get_embedder("fashion-unet"), get_classifier(), get_directions()
    with torch.no_grad():
        seed = embedder(torch.from_numpy(image)[None])[0]
        source = int(classifier(generator.generate(seed[None])).argmax(1))  # what the seed shows, as in the demo: the move starts there
        images = generator.generate(directions.move(seed, source, target, list(strengths)))
        labels = [directions.class_names[i] for i in classifier(images).argmax(1).tolist()]
    return {"images": images.numpy(), "labels": labels, "source": directions.class_names[source]}


# ---------------------------------------------------------------------------------------------
# The emb(x) study (core/study): one folder of study.json + arrays.npz, read once and shared by
# the study pages; what a folder does not hold is computed on demand through core.study, cached.
# ---------------------------------------------------------------------------------------------

STUDY_DIR_ENV = "EMB_STUDY_DIR"  # the shipped study's folder (tests point it at a small one)
STUDY_CACHE_ENV = "EMB_STUDY_CACHE"  # where studies computed from the Home page are written
STUDY_KEY = "study_folder"  # session_state: the folder the study pages show (None: the shipped one)
FIRST_SEED_KINDS = {"exact": "z*", "network": "network E(x)", "ddim": "DDIM inversion"}


def shipped_study_dir() -> Path:
    """The one place that says where the shipped study is: $EMB_STUDY_DIR or assets/study."""
    return Path(os.environ.get(STUDY_DIR_ENV) or ASSETS / "study")


def computed_studies_dir() -> Path:
    return Path(os.environ.get(STUDY_CACHE_ENV) or Path(tempfile.gettempdir()) / "emb-explorer-studies")


def active_study_dir() -> Path:
    chosen = st.session_state.get(STUDY_KEY)
    return Path(chosen) if chosen else shipped_study_dir()


@dataclass(frozen=True)
class Study:
    """A loaded study folder with accessors named after what the pages ask for."""

    folder: Path
    key: str  # folder and modification time: the cache key of computations on this study
    summary: dict
    arrays: dict[str, np.ndarray]

    @property
    def names(self) -> list[str]:
        return list(self.summary["images"])

    @property
    def levels(self) -> list[str]:
        return list(self.summary["levels"])

    def eps(self, level: str) -> float:
        return float(dict(zip(self.levels, self.summary["config"]["eps_levels"]))[level])

    @property
    def steps(self) -> int:
        return int(self.summary["config"].get("steps", 10))

    def image(self, name: str) -> np.ndarray:
        """(C, H, W) in [0, 1]."""
        return self.arrays[f"{name}/image"]

    def images(self) -> np.ndarray:
        """(N, C, H, W) the study's images, in order."""
        return np.stack([self.image(n) for n in self.names])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.image(self.names[0]).shape)

    def members(self, name: str, level: str) -> np.ndarray:
        """(m, C, H, W) cloud seeds inside emb_eps(x) at `level` (m may be 0)."""
        return self.arrays.get(f"{name}/members_{level}", np.zeros((0, *self.image_shape), np.float32))

    def members_mse(self, name: str, level: str) -> np.ndarray:
        return self.arrays.get(f"{name}/members_mse_{level}", np.zeros(0, np.float32))

    def member_starts(self, name: str, level: str) -> list[int | None]:
        """The torch seed of the N(0, I) start each cloud member at `level` descended from; None each in studies
        written before the starts were recorded."""
        starts, count = self.arrays.get(f"{name}/members_start_{level}"), len(self.members(name, level))
        return [int(s) for s in starts] if starts is not None and len(starts) == count else [None] * count

    def single_seeds(self, name: str) -> dict[str, np.ndarray]:
        """{"z*": (C, H, W), "DDIM inversion": ..., "network E(x)": ...}: the ones the folder holds."""
        return {label: self.arrays[f"{name}/seed_{key}"] for key, label in FIRST_SEED_KINDS.items()
                if f"{name}/seed_{key}" in self.arrays}

    def seed_choices(self, name: str) -> dict[str, np.ndarray]:
        """Every seed of one image the pages can pick: single-answer seeds, then the cloud members at each tolerance
        (a tighter level keeps the seeds its polish brought inside, numbered anew)."""
        choices = dict(self.single_seeds(name))
        for level in self.levels:
            choices.update({f"cloud seed {i} ({level}" + (f", start {start})" if start is not None else ")"): seed
                            for i, (seed, start) in enumerate(zip(self.members(name, level), self.member_starts(name, level)))})
        return choices

    @property
    def made_in_explorer(self) -> bool:
        """Computed from the Home page, which skips UMAP and the OOD section (too slow for a page)."""
        return str(self.summary.get("command", "")).startswith("explorer")

    def generator_dir(self) -> Path | None:
        return resolve_model_dir(self.summary.get("generator"))

    def twin_dir(self) -> Path | None:
        return resolve_model_dir(self.summary.get("twin"))


def resolve_model_dir(recorded: str | None) -> Path | None:
    """A model folder recorded in study.json, found as written, relative to the project, or by name under assets/
    (a study shipped from another machine records that machine's absolute path)."""
    if not recorded:
        return None
    for candidate in (Path(recorded), ROOT / recorded, ASSETS / Path(recorded).name):
        if (candidate / "config.json").is_file():
            return candidate
    return None


@st.cache_resource(show_spinner="reading the study...")
def _open_study(folder: str, stamp: float) -> Study:
    from core.study.report import load_study

    summary, arrays = load_study(folder)
    for array in arrays.values():
        array.flags.writeable = False  # shared by every session: nobody may change it
    return Study(Path(folder), f"{folder}@{stamp}", summary, arrays)


def open_study(folder: Path) -> tuple[Study | None, str]:
    """(the study, "") or (None, why not: a one-line message)."""
    summary_path = folder / "study.json"
    if not summary_path.is_file() or not (folder / "arrays.npz").is_file():
        return None, (f"No study in `{folder}` yet. Compute a small one on the **Home** page, or write the shipped one with "
                      f"`python -m core.study examples --out assets/study` (set {STUDY_DIR_ENV} to read another folder).")
    try:
        study = _open_study(str(folder), summary_path.stat().st_mtime)
        if not study.names:
            raise ValueError("it holds no images")
    except (OSError, ValueError, KeyError) as error:
        return None, f"Cannot read the study in `{folder}`: {error}"
    return study, ""


def current_study() -> Study:
    """The study the pages show; a clear message and st.stop() when there is none (never an exception)."""
    study, problem = open_study(active_study_dir())
    if study is None:
        st.info(problem)
        st.stop()
    return study


def select_cloud_image(study: Study, container) -> str:
    """An image picker in `container` (a column), starting at the first image whose cloud has at least 2 seeds."""
    with_cloud = [n for n in study.names if any(len(study.members(n, level)) >= 2 for level in study.levels)]
    return container.selectbox("image", study.names, index=study.names.index(with_cloud[0]) if with_cloud else 0,
                               help="images whose cloud has at least 2 seeds: " + (", ".join(with_cloud) or "none"))


@st.cache_resource(show_spinner="loading the generator...")
def get_generator_at(folder: str):
    return load_generator(folder)


def study_generator(study: Study):
    """The study's generator, or a message and st.stop() when its folder is gone."""
    folder = study.generator_dir()
    if folder is None:
        st.warning(f"The generator of this study ({study.summary.get('generator')}) is not on this machine: "
                   "only the stored results can be shown.")
        st.stop()
    return get_generator_at(str(folder))


def to_tensor(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.float32))


def seeds_display(seeds: np.ndarray, scale: int = 4) -> list[np.ndarray]:
    """Seeds (N, C, H, W) ~ N(0, 1) -> display images (+-3 standard deviations to [0, 1])."""
    from core.images import seed_to_display

    return to_display(seed_to_display(to_tensor(seeds)).numpy(), scale)


@st.cache_data(show_spinner="generating G(seed)...", max_entries=256)
def generate_from(generator_dir: str, seeds: np.ndarray, steps: int) -> np.ndarray:
    """Seeds (N, C, H, W) -> G(seeds) (N, C, H, W) in [0, 1]."""
    from core.study.tolerance import generate_batched

    return generate_batched(get_generator_at(generator_dir), to_tensor(seeds), steps).numpy()


def mse_to(images: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(N, C, H, W) vs one (C, H, W) -> (N,) MSE on [0, 1] pixels."""
    return ((images - target[None]) ** 2).reshape(len(images), -1).mean(1)


def psnr_db(mse) -> np.ndarray:
    from core.study.tolerance import psnr_from_mse

    return psnr_from_mse(torch.as_tensor(np.asarray(mse, dtype=np.float64))).numpy()


# --- Clouds and projections ---

def projection_points(study: Study, method: str) -> tuple[pd.DataFrame, np.ndarray] | None:
    """The study's 2-D projection as a table (one row a point: x, y, image, kind, label, stored PSNR, the random start
    of a cloud seed's descent where the study recorded it) and the
    seeds (N, C, H, W) behind the points, rebuilt in the order `core.study.run` projected them."""
    key = f"projection/{method}/coordinates"
    if key not in study.arrays:
        return None
    coordinates, labels = study.arrays[key], study.arrays[f"projection/{method}/labels"]
    groups = study.summary["projections"][method]["group_names"]
    first = study.levels[0]
    rows: list[dict] = []
    seeds: list[np.ndarray] = []
    for group in groups:
        count = int((labels == groups.index(group)).sum())
        if group.startswith("cloud "):
            name = group[len("cloud "):]
            group_seeds, errors = study.members(name, first), study.members_mse(name, first)
            group_starts = study.member_starts(name, first)
            entries = [(name, "cloud seed", f"{name} · cloud seed {i}" + (f" (start {s})" if s is not None else ""), float(psnr_db(e)))
                       for i, (e, s) in enumerate(zip(errors, group_starts))]
        elif group in FIRST_SEED_KINDS.values():
            kind = {v: k for k, v in FIRST_SEED_KINDS.items()}[group]
            holders = [n for n in study.names if f"{n}/seed_{kind}" in study.arrays]
            group_seeds = np.stack([study.arrays[f"{n}/seed_{kind}"] for n in holders]) if holders else np.zeros((0, *study.image_shape))
            label = {"exact": "z* (fixed point)", "network": "network E(x)", "ddim": "DDIM inversion"}[kind]
            entries = [(n, group, f"{n} · {group}", study.summary["images"][n]["single_seeds"].get(label, {}).get("psnr_db"))
                       for n in holders]
            group_starts = [None] * len(entries)
        else:  # the random N(0, I) reference, as project_seeds draws it
            group_seeds = reference_noise(count, study.image_shape).numpy()
            entries = [("random", "random N(0, I)", f"random seed {i}", None) for i in range(count)]
            group_starts = [None] * count
        if len(group_seeds) != count:
            return None  # a folder of another format: better no seeds than wrong ones
        seeds.append(np.asarray(group_seeds, np.float32))
        rows += [{"group": group, "image": n, "kind": k, "label": lab, "psnr_db": p, "start": s}
                 for (n, k, lab, p), s in zip(entries, group_starts)]
    order = np.concatenate([np.flatnonzero(labels == groups.index(g)) for g in groups])
    table = pd.DataFrame(rows)
    table["x"], table["y"] = coordinates[order, 0], coordinates[order, 1]
    table["row"] = np.arange(len(table))
    return table, np.concatenate(seeds)


@st.cache_data(show_spinner="projecting seeds...")
def project_groups(groups: dict[str, np.ndarray], method: str, random_reference: int = 0) -> dict:
    """{name: seeds (n_i, C, H, W)} -> {"coordinates": (N, 2), "labels": (N,), "group_names": [...]} (core.study.projections)."""
    from core.study.projections import project_seeds

    projection = project_seeds({k: to_tensor(v) for k, v in groups.items()}, method, random_reference=random_reference,
                               n_neighbors=min(15, max(2, sum(len(v) for v in groups.values()) // 4)))
    return {"coordinates": projection.coordinates, "labels": projection.labels, "group_names": projection.group_names}


# --- Interpolation, convexity, connectivity ---

@st.cache_data(show_spinner="generating along the paths...", max_entries=64)
def path_profiles(generator_dir: str, start: np.ndarray, end: np.ndarray, start_image: np.ndarray, end_image: np.ndarray,
                  frames: int, steps: int) -> dict[str, dict[str, np.ndarray]]:
    """Linear and spherical paths start -> end (seeds (C, H, W)): {mode: weights, images, mse_to_start_image, ...}."""
    from core.study.paths import path_profile

    generator = get_generator_at(generator_dir)
    out = {}
    for mode in ("linear", "spherical"):
        profile = path_profile(generator, to_tensor(start), to_tensor(end), to_tensor(start_image), to_tensor(end_image),
                               frames, mode, steps)
        out[mode] = {k: getattr(profile, k) for k in ("weights", "images", "mse_to_start_image", "mse_to_end_image", "seed_norms")}
    return out


@st.cache_data(show_spinner="combining cloud seeds...", max_entries=64)
def convexity_samples(generator_dir: str, seeds: np.ndarray, image: np.ndarray, eps: float, k: int, samples: int,
                      steps: int, worst: int = 4) -> dict[str, np.ndarray]:
    """Random convex combinations of k of the cloud `seeds` (core.study.convexity, rng seed 0 as in the study run):
    {"mse": (samples,), "worst": indices, "worst_images": G of the worst combinations, "worst_weights": their weights}."""
    from core.study.convexity import convex_combinations

    generator = get_generator_at(generator_dir)
    result = convex_combinations(generator, to_tensor(seeds), to_tensor(image), eps, k, samples, steps=steps)
    index = result.worst(worst)
    combined = np.einsum("sk,skd->sd", result.weights[index], seeds.reshape(len(seeds), -1)[result.members[index]])
    images = generate_from(generator_dir, combined.reshape(len(index), *seeds.shape[1:]).astype(np.float32), steps)
    return {"mse": result.mse, "worst": index, "worst_images": images, "worst_weights": result.weights[index],
            "worst_members": result.members[index]}


def components_of(adjacency: np.ndarray) -> np.ndarray:
    """(m, m) bool graph -> (m,) component label of each seed."""
    from scipy.sparse.csgraph import connected_components

    return connected_components(adjacency, directed=False)[1]


@st.cache_data(show_spinner=False, max_entries=64)
def search_relaxed_path(generator_dir: str, a: np.ndarray, b: np.ndarray, image: np.ndarray, eps: float, points: int,
                        steps: int) -> dict:
    """core.study.connectivity.relaxed_path between two seeds (C, H, W): exists, path seeds, MSE along it."""
    from core.study.connectivity import relaxed_path

    path = relaxed_path(get_generator_at(generator_dir), to_tensor(a), to_tensor(b), to_tensor(image), eps, points, steps=steps)
    return {"exists": path.exists, "seeds": path.seeds, "mse": path.mse, "worst_sub_segment_mse": path.worst_sub_segment_mse,
            "straight_worst_mse": path.straight_worst_mse}


# --- Seed statistics and independence ---

def statistics_groups(study: Study) -> dict[str, np.ndarray]:
    """The seed groups of the study's statistics table, rebuilt from the folder ({name: (n, C, H, W)})."""
    first = study.levels[0]
    images = study.summary["images"]
    stack = lambda key, kinds: [study.arrays[f"{n}/seed_{key}"] for n in study.names  # noqa: E731
                                if images[n]["kind"] in kinds and f"{n}/seed_{key}" in study.arrays]
    count = int(study.summary["config"].get("random_reference", 200))
    groups = {"random N(0, I)": reference_noise(count, study.image_shape).numpy(),
              "z* (test images)": stack("exact", {"test"}), "z* (photos)": stack("exact", {"photo"}),
              "z* (files)": stack("exact", {"file"}),
              f"cloud seeds ({first})": [s for n in study.names for s in study.members(n, first)],
              "network E(x)": stack("network", {"test", "photo", "file"}), "DDIM inversion": stack("ddim", {"test", "photo", "file"})}
    return {k: np.stack(v) if isinstance(v, list) else v for k, v in groups.items() if len(v)}


@st.cache_data(show_spinner="autocorrelation...", max_entries=32)
def autocorrelation(seeds: np.ndarray) -> np.ndarray:
    """Seeds (n, C, H, W) -> mean 2-D autocorrelation (2H-1, 2W-1), zero lag in the centre (core.study.statistics)."""
    from core.study.statistics import autocorrelation_map

    return autocorrelation_map(to_tensor(seeds))


def independence_pair(study: Study) -> tuple[Path, Path] | None:
    """Two generators of one recipe for the independence probe: the pair the study recorded, else
    the shipped pair (assets/fashion-small-twin and assets/fashion-small, the generator it was trained beside), when both are here."""
    from core.study.__main__ import DEFAULT_TWIN, DEFAULT_TWIN_OF

    recorded = study.twin_dir()
    if recorded is not None:
        first = resolve_model_dir(study.summary.get("twin_of")) or study.generator_dir()
        return (first, recorded) if first is not None else None
    if (DEFAULT_TWIN / "config.json").is_file() and (DEFAULT_TWIN_OF / "config.json").is_file():
        return DEFAULT_TWIN_OF, DEFAULT_TWIN
    return None


@st.cache_data(show_spinner="both generators on the same seeds...", max_entries=8)
def compare_two_generators(dir_a: str, dir_b: str, count: int, steps: int) -> dict[str, np.ndarray]:
    """The same `count` N(0, I) reference seeds through both generators (core.study.independence)."""
    from core.study.independence import compare_generators

    gen_a, gen_b = get_generator_at(dir_a), get_generator_at(dir_b)
    seeds = reference_noise(count, gen_a.image_shape)
    result = compare_generators(gen_a, gen_b, seeds, steps)
    return {"paired": result.paired_psnr, "unrelated": result.unrelated_cross_psnr,
            "same_generator_unrelated": result.unrelated_same_psnr,
            "images_a": generate_from(dir_a, seeds[:8].numpy(), steps), "images_b": generate_from(dir_b, seeds[:8].numpy(), steps)}


# --- The findings table (Overview) ---

def locally_injective(geometry: dict) -> bool | None:
    """The study's verdict on local injectivity (named `locally_injective_certified` since the float32 round-off
    bound; older folders say `locally_injective`)."""
    return geometry.get("locally_injective_certified", geometry.get("locally_injective"))


def findings_table(summary: dict, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
    """The study's findings, one row a question, pooled over its images: the same rows as its report.md and the
    README (core.study.report.findings), with their caveats, so the Overview cannot tell another story."""
    from core.study.report import findings

    return pd.DataFrame(findings(summary, arrays), columns=["question", "answer (pooled over the images)"])  # KeyError: older study


# --- A new study from the Home page ---

def example_files() -> list[Path]:
    """The shipped example images: test images (test*.png) first, then the photos (ood_*.png)."""
    folder = ASSETS / "examples"
    return sorted(folder.glob("test*.png")) + sorted(folder.glob("ood_*.png"))


def image_from_upload(filename: str, data: bytes, image_shape: tuple[int, int, int]) -> tuple[np.ndarray, str]:
    """An uploaded png/jpg/npy -> ((C, H, W) in [0, 1], conversion note); raises core.image_io.ImageInputError
    with a one-line reason (the file goes through the same checks as `python -m core.embed`)."""
    from core.image_io import ImageInputError, load_image_file

    suffix = Path(filename).suffix.lower()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        try:
            image, note = load_image_file(path, image_shape)
        except ImageInputError as error:
            raise ImageInputError(str(error).replace(str(path), filename)) from None
    return image.numpy(), note


def compute_study(generator_dir: str, images: list[tuple[str, np.ndarray, str, str]], settings: dict,
                  progress=None) -> Path:
    """Run core.study.run.run_study for images [(name, (C, H, W) in [0, 1], source, kind)] with small `settings`
    (psnr_levels, cloud_size, iterations, convexity_samples, random_reference) and write the folder; returns it.

    The folder is named by a hash of everything that decides the result, so asking again (any session, any
    restart) reuses it instead of recomputing: this on-disk cache is why the function is not st.cache_data."""
    import hashlib
    import shlex

    from core.study.clouds import CloudConfig
    from core.study.report import write_study
    from core.study.run import StudyConfig, StudyImage, run_study

    digest = hashlib.sha256()
    digest.update((Path(generator_dir) / "config.json").read_bytes())
    digest.update(json.dumps({**settings, "optimizer": CloudConfig().optimizer}, sort_keys=True).encode())  # studies before Gauss-Newton differ
    for name, image, source, kind in images:
        digest.update(f"{name}|{kind}|".encode() + np.ascontiguousarray(image, np.float32).tobytes())
    folder = computed_studies_dir() / f"study-{digest.hexdigest()[:16]}"
    if (folder / "report.md").is_file():  # written last by write_study
        return folder
    generator = get_generator_at(generator_dir)
    embedder_dir = ASSETS / "embedders" / "fashion-unet"
    embedder = get_embedder("fashion-unet") if (embedder_dir / "config.json").is_file() and generator.image_shape == (1, 28, 28) else None
    config = StudyConfig(psnr_levels=tuple(sorted(settings["psnr_levels"])), cloud_size=int(settings["cloud_size"]),
                         cloud=CloudConfig(iterations=int(settings["iterations"])),
                         convexity_samples=int(settings.get("convexity_samples", 16)), convergence_seeds=0,
                         random_reference=int(settings.get("random_reference", 64)), umap=False, relaxed_pairs=1)
    items = [StudyImage(name, to_tensor(image), source, kind) for name, image, source, kind in images]
    # each finished image is kept: a run stopped by leaving the page (Streamlit stops the script) loses only the image it was on
    result = run_study(generator, items, config, embedder=embedder, progress=progress, cache_dir=computed_studies_dir() / "cache")
    result.summary.update({"generator": generator_dir, "embedder": str(embedder_dir) if embedder is not None else None, "twin": None,
                           "command": "explorer Home page: " + " ".join(shlex.quote(f"{k}={v}") for k, v in sorted(settings.items())),
                           "torch_threads": torch.get_num_threads(), "machine": f"{os.cpu_count()} CPU cores"})
    write_study(result, folder, title="The shape of emb(x) (computed in the explorer)")
    return folder


def computed_study_folders() -> list[Path]:
    root = computed_studies_dir()
    return sorted((p for p in root.glob("study-*") if (p / "report.md").is_file()), key=lambda p: p.stat().st_mtime) if root.is_dir() else []
