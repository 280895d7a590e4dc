"""Run every emb(x) probe for chosen images: one function, results as JSON-able summaries + arrays.

    result = run_study(generator, images, StudyConfig(), embedder=E, twin=G2, photos=...)
    result.summary   # nested dict: per image, across images, statistics, independence, projections
    result.arrays    # flat {"key": np.ndarray}: clouds, z*, singular values, traces, coordinates, ...

`core.study.report` writes them (JSON, .npz, figures, markdown); `python -m core.study` is the CLI.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import warnings
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable, Literal

import numpy as np
import torch
from tqdm import tqdm

from core.atomic import atomic_path
from core.checkpoint import content_hash
from core.embedding import embed
from core.generator import DiffusionGenerator
from core.seeds import reference_noise, seeded_noise
from core.study.canonical import canonical_positions
from core.study.clouds import CloudConfig, descend_to_tolerance, sample_cloud
from core.study.connectivity import relaxed_path, segment_graph
from core.study.convergence import convergence_trace
from core.study.convexity import convex_combinations
from core.study.independence import compare_generators
from core.study.intersection import cloud_separation, disjoint_by_triangle_inequality, segments_through_third
from core.study.local_geometry import check_ellipsoid, direction_steps, local_geometry
from core.study.paths import path_profile
from core.study.projections import project_seeds
from core.study.statistics import ood_auroc, seed_statistics, summarise_groups
from core.study.tolerance import StudyInputError, check_image, mse_from_psnr, psnr_from_mse, reconstruction_mse


@dataclass
class StudyImage:
    name: str  # short, unique: used in file names and keys
    image: torch.Tensor  # (C, H, W) in [0, 1]
    source: str  # where it came from (test index, file and its conversion)
    kind: str = "test"  # test | photo | file


@dataclass
class StudyConfig:
    psnr_levels: tuple[float, ...] = (30.0, 40.0)  # tolerances emb_eps(x), as PSNR; the first is the cloud's
    cloud_size: int = 16  # descent starts per image
    cloud: CloudConfig = field(default_factory=CloudConfig)
    # the tighter levels continue the first level's members (always Gauss-Newton)
    polish: CloudConfig = field(default_factory=lambda: CloudConfig(iterations=30))
    convexity_ks: tuple[int, ...] = (2, 3, 4, 8, 16)  # capped at the number of members
    convexity_samples: int = 32
    segment_points: int = 7  # checked positions per segment, ends included
    relaxed_pairs: int = 1  # unjoined pairs tried with a relaxed path, per image, at the first level
    relaxed: CloudConfig = field(default_factory=lambda: CloudConfig(iterations=20))
    path_frames: int = 17
    convergence_seeds: int = 4  # long descents for the convergence probe (first image); 0 skips it
    convergence_iterations: int = 40  # outer iterations of the cloud optimiser, run in full
    random_reference: int = 200  # N(0, I) seeds for statistics, projections, independence
    umap: bool = True
    steps: int = 10
    sensitive_directions: int = 4  # most and least sensitive seed directions kept per image
    # z*: the fixed schedule (30 Anderson iterations per step, 66-99 dB on test images); the adaptive
    # default stops near 40-48 dB, too coarse for a point that the 40 dB clouds are measured against
    exact_mode: Literal["adaptive", "fixed"] = "fixed"

    def eps_levels(self) -> list[float]:
        return [mse_from_psnr(p) for p in self.psnr_levels]


@dataclass
class StudyResult:
    summary: dict
    arrays: dict[str, np.ndarray]


def _level_name(psnr_db: float) -> str:
    return f"{psnr_db:g}dB"


def run_study(
    generator: DiffusionGenerator,
    images: list[StudyImage],
    config: StudyConfig = StudyConfig(),
    embedder: torch.nn.Module | None = None,
    twin: DiffusionGenerator | None = None,
    twin_of: DiffusionGenerator | None = None,
    ood_in: torch.Tensor | None = None,
    ood_out: torch.Tensor | None = None,
    progress: Callable[[str, float], None] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> StudyResult:
    """Every probe of the study for `images`; `ood_in`/`ood_out` ((n, C, H, W) in [0, 1]) are extra test
    images and foreign photos for the out-of-distribution AUROC of seed statistics; `twin` a generator
    trained by the same recipe from another initialization (network independence), as `twin_of`
    (default: `generator`) was. A `twin_of` other than `generator` keeps the independence probe
    meaningful when the study's generator has no twin of its own (a newer recipe): the pair is
    compared on random seeds and on the test images' z* found under `twin_of`.

    With `cache_dir`, each image's results (the expensive part: cloud, Jacobian, probes) are kept
    there, keyed by the image, the generator's weights, the embedder and the settings, so a run
    that was stopped, or a rerun with another twin or more images, reuses them.

    `progress(message, share)` hears each stage as it starts, with the share of the work done (0 to 1,
    counting each image and each stage across images as one part)."""
    if not images:
        raise StudyInputError("the study needs at least one image")
    if len({i.name for i in images}) != len(images):
        raise StudyInputError("image names must be unique")
    if config.cloud_size < 2:
        raise StudyInputError(f"a cloud needs at least 2 seeds, got cloud_size={config.cloud_size}")
    if not config.psnr_levels or any(not (0 < p < 120) for p in config.psnr_levels):
        raise StudyInputError(f"tolerances must be PSNRs in (0, 120) dB, got {config.psnr_levels}")
    images = [replace(item, image=check_image(generator, item.image)) for item in images]  # checked copies: the caller's stay as given
    levels = sorted(config.psnr_levels)
    started = time.perf_counter()
    summary: dict = {"config": _config_summary(config), "images": {}, "levels": [_level_name(p) for p in levels]}
    arrays: dict[str, np.ndarray] = {}
    members: dict[str, dict[str, torch.Tensor]] = {_level_name(p): {} for p in levels}
    special: dict[str, dict[str, torch.Tensor]] = {}
    stages = tqdm(total=len(images) + 5, desc="study", unit="stage", dynamic_ncols=True)

    def note(message: str, within: float = 0.0) -> None:  # within: how far the current stage is (0 to 1)
        stages.set_postfix_str(message[:60])
        if progress:
            progress(message, min(1.0, (stages.n + within) / stages.total))

    for item in images:
        note(f"{item.name}: seeds")
        cache_file = _cache_path(cache_dir, generator, embedder, config, item) if cache_dir else None
        cached = _load_cached(cache_file, item) if cache_file is not None and cache_file.is_file() else None
        if cached is not None:
            image_summary, image_arrays, image_members, named = cached
        else:
            image_summary, image_arrays, image_members, named = _study_one_image(generator, item, config, levels, embedder, note)
            if cache_file is not None:
                _save_cached(cache_file, image_summary, image_arrays, image_members, named)
        summary["images"][item.name] = image_summary
        arrays.update({f"{item.name}/{k}": v for k, v in image_arrays.items()})
        for level, seeds in image_members.items():
            members[level][item.name] = seeds
        special[item.name] = named
        stages.update(1)

    note("separation between clouds")
    summary["separation"] = {}
    for level, clouds in members.items():
        eps = mse_from_psnr(float(level[:-2]))
        usable = {k: v for k, v in clouds.items() if len(v) >= 2}
        if len(usable) >= 2:
            starts = {k: arrays[f"{k}/members_start_{level}"] for k in usable}  # clouds share their starts
            separation = cloud_separation(usable, {k: i.image for i in images for k in usable if i.name == k}, starts)
            summary["separation"][level] = {**separation.summary(eps), "names": separation.names,
                                            "attribution": separation.attribution.tolist(),
                                            "image_rms": separation.image_rms.tolist()}
            arrays[f"separation/{level}/attribution"] = separation.attribution
            arrays[f"separation/{level}/within"] = np.concatenate(list(separation.within.values()))
            arrays[f"separation/{level}/between"] = np.concatenate(list(separation.between.values()))
            arrays[f"separation/{level}/same_start"] = np.concatenate(list(separation.same_start.values()))
    pairs = [(a, b) for i, a in enumerate(images) for b in images[i + 1 :]]
    loose = mse_from_psnr(levels[0])
    summary["disjoint_pairs_by_triangle_inequality"] = {
        _level_name(p): int(sum(disjoint_by_triangle_inequality(a.image, b.image, mse_from_psnr(p)) for a, b in pairs)) for p in levels}
    summary["image_pairs"] = len(pairs)
    first_level = _level_name(levels[0])
    with_members = [i for i in images if len(members[first_level].get(i.name, ())) >= 2]
    if len(with_members) >= 3:
        a, b, c = with_members[:3]
        crossing = segments_through_third(generator, members[first_level][a.name], members[first_level][b.name], c.image, loose,
                                          pairs=16, points=config.segment_points, steps=config.steps)
        summary["third_set"] = {"a": a.name, "b": b.name, "third": c.name, **crossing.summary()}
    stages.update(1)

    note("paths between images")
    if len(images) >= 2:
        a, b = images[0], images[1]
        for mode in ("linear", "spherical"):
            profile = path_profile(generator, special[a.name]["exact"], special[b.name]["exact"], a.image, b.image,
                                   config.path_frames, mode, config.steps)
            summary.setdefault("paths_between_images", {})[mode] = {"from": a.name, "to": b.name, **profile.summary()}
            for key in ("mse_to_start_image", "mse_to_end_image", "seed_norms", "images"):
                arrays[f"paths_between_images/{mode}/{key}"] = getattr(profile, key)
    stages.update(1)

    note("convergence of long descents")
    if config.convergence_seeds > 0:
        item = images[0]
        starts = seeded_noise(list(range(10_000, 10_000 + config.convergence_seeds)), generator.image_shape)
        trace = convergence_trace(generator, item.image, special[item.name]["exact"], starts,
                                  replace(config.cloud, iterations=config.convergence_iterations))
        summary["convergence"] = {"image": item.name, "optimizer": config.cloud.optimizer, **trace.summary()}
        for key in ("iterations", "distance_to_exact", "distance_to_mean", "psnr"):
            arrays[f"convergence/{key}"] = getattr(trace, key)
    stages.update(1)

    note("seed statistics")
    random_seeds = reference_noise(config.random_reference, generator.image_shape)
    groups = {"random N(0, I)": random_seeds,
              "z* (test images)": _stack([special[i.name]["exact"] for i in images if i.kind == "test"]),
              "z* (photos)": _stack([special[i.name]["exact"] for i in images if i.kind == "photo"]),
              f"cloud seeds ({first_level})": _stack([s for s in members[first_level].values() if len(s)], cat=True),
              "network E(x)": _stack([special[i.name]["network"] for i in images if "network" in special[i.name]]),
              "DDIM inversion": _stack([special[i.name]["ddim"] for i in images])}
    groups = {k: v for k, v in groups.items() if v is not None and len(v)}
    summary["statistics"] = summarise_groups(groups)
    for name, seeds in groups.items():
        stats = seed_statistics(seeds)
        arrays[f"statistics/{name}/norm"] = stats.norm
        arrays[f"statistics/{name}/autocorr_h"] = stats.autocorr_h
        arrays[f"statistics/{name}/ood_score"] = stats.ood_score
        arrays[f"statistics/{name}/values_sample"] = seeds.flatten()[:20_000].numpy()
    if ood_in is not None and ood_out is not None and len(ood_in) >= 2 and len(ood_out) >= 2:
        note(f"exact seeds of {len(ood_in)} test images and {len(ood_out)} photos")
        seeds_in = _exact_seeds(generator, ood_in, config.steps, config.exact_mode)
        seeds_out = _exact_seeds(generator, ood_out, config.steps, config.exact_mode)
        scores_in, scores_out = seed_statistics(seeds_in).ood_score, seed_statistics(seeds_out).ood_score
        auroc = ood_auroc(scores_in, scores_out)
        psnr_in = psnr_from_mse(reconstruction_mse(generator, seeds_in, ood_in, config.steps))
        psnr_out = psnr_from_mse(reconstruction_mse(generator, seeds_out, ood_out, config.steps))
        summary["ood"] = {**auroc.summary(), "test_images": len(ood_in), "photos": len(ood_out),
                          "exact_psnr_test_mean_db": float(psnr_in.mean()), "exact_psnr_photos_mean_db": float(psnr_out.mean()),
                          "exact_psnr_photos_min_db": float(psnr_out.min())}
        arrays["ood/scores_in"], arrays["ood/scores_out"] = scores_in, scores_out
    stages.update(1)

    if twin is not None:
        note("network independence")
        first = generator if twin_of is None else twin_of
        if twin.image_shape != first.image_shape:
            raise StudyInputError(f"the twin makes {twin.image_shape}, its first half {first.image_shape}")
        result = compare_generators(first, twin, random_seeds, config.steps)
        summary["independence"] = {"random": result.summary()}
        arrays["independence/random/paired"] = result.paired_psnr
        arrays["independence/random/unrelated"] = result.unrelated_cross_psnr
        arrays["independence/random/same_generator_unrelated"] = result.unrelated_same_psnr
        tests = [i for i in images if i.kind == "test"]
        if len(tests) >= 2:
            targets = torch.stack([i.image for i in tests])
            if first is generator:
                exact = _stack([special[i.name]["exact"] for i in tests])
            else:  # z* of the pair's first half: an exact inversion under it
                note(f"exact seeds of {len(tests)} test images under the twin's first half")
                exact = embed(first, targets, "fixed_point", steps=config.steps, fixed_point_mode=config.exact_mode).seeds
            embedded = compare_generators(first, twin, exact, config.steps, targets=targets)
            summary["independence"]["embedded"] = embedded.summary()
            arrays["independence/embedded/paired"] = embedded.paired_psnr
            arrays["independence/embedded/target_a"] = embedded.target_psnr_a
            arrays["independence/embedded/target_b"] = embedded.target_psnr_b
        arrays["independence/random/images_a"] = _generate(first, random_seeds[:8], config.steps)
        arrays["independence/random/images_b"] = _generate(twin, random_seeds[:8], config.steps)

    note("projections")
    projection_groups: dict[str, torch.Tensor] = {f"cloud {k}": v for k, v in members[first_level].items() if len(v)}
    projection_groups["z*"] = _stack([special[i.name]["exact"] for i in images])
    if embedder is not None:
        projection_groups["network E(x)"] = _stack([special[i.name]["network"] for i in images])
    projection_groups["DDIM inversion"] = _stack([special[i.name]["ddim"] for i in images])
    summary["projections"] = {}
    for method in (("pca", "umap") if config.umap else ("pca",)):
        projection = project_seeds(projection_groups, method, random_reference=min(64, config.random_reference),
                                   n_neighbors=min(15, max(2, sum(len(v) for v in projection_groups.values()) // 4)))
        summary["projections"][method] = projection.summary()
        arrays[f"projection/{method}/coordinates"] = projection.coordinates
        arrays[f"projection/{method}/labels"] = projection.labels
        summary["projections"][method]["group_names"] = projection.group_names
    stages.update(1)
    stages.close()
    summary["seconds"] = time.perf_counter() - started
    return StudyResult(summary, arrays)


# where an image's stages end, as shares of its time (the shipped study: cloud about 2 minutes of 9, polish 4, ...)
IMAGE_STAGE_SHARE = {"cloud": 0.25, "polish": 0.6, "jacobian": 0.7}


def _study_one_image(generator, item: StudyImage, config: StudyConfig, levels: list[float], embedder, note):
    x = item.image
    out: dict = {"source": item.source, "kind": item.kind}
    arrays: dict[str, np.ndarray] = {"image": x.numpy()}
    named: dict[str, torch.Tensor] = {}

    exact = embed(generator, x[None], "fixed_point", steps=config.steps, fixed_point_mode=config.exact_mode)
    named["exact"] = exact.seeds[0]
    seeds_named = {"z* (fixed point)": (exact.seeds[0], float(exact.mse[0]))}
    ddim = embed(generator, x[None], "ddim_inversion", steps=config.steps)
    named["ddim"] = ddim.seeds[0]
    seeds_named["DDIM inversion"] = (ddim.seeds[0], float(ddim.mse[0]))
    if embedder is not None:
        network = embed(generator, x[None], "network", steps=config.steps, embedder=embedder)
        named["network"] = network.seeds[0]
        seeds_named["network E(x)"] = (network.seeds[0], float(network.mse[0]))
    out["single_seeds"] = {k: {"psnr_db": float(psnr_from_mse(v[1])), "norm": float(v[0].norm() / v[0].numel() ** 0.5)}
                           for k, v in seeds_named.items()}
    for key, seed in named.items():
        arrays[f"seed_{key}"] = seed.numpy()

    note(f"{item.name}: cloud of {config.cloud_size}")
    eps_levels = [mse_from_psnr(p) for p in levels]
    cloud = sample_cloud(generator, x, config.cloud_size, eps_levels[0], config.cloud,
                         progress=lambda it, total, inside, n: note(f"{item.name}: cloud, iteration {it}/{total}, {inside}/{n} inside",
                                                                    IMAGE_STAGE_SHARE["cloud"] * it / total))
    out["cloud"] = cloud.summary()
    arrays.update({"cloud_starts": cloud.starts.numpy(), "cloud_seeds": cloud.seeds.numpy(), "cloud_mse": cloud.mse.numpy(),
                   "cloud_iterations": cloud.iterations.numpy()})
    level_members = {_level_name(levels[0]): cloud.members}
    level_mse = {_level_name(levels[0]): cloud.mse[cloud.inside]}
    level_starts = {_level_name(levels[0]): np.asarray(cloud.start_seeds, dtype=np.int64)[cloud.inside.numpy()]}
    previous, previous_starts = cloud.members, level_starts[_level_name(levels[0])]
    for psnr_db, eps in zip(levels[1:], eps_levels[1:]):
        if len(previous) == 0:
            level_members[_level_name(psnr_db)], level_mse[_level_name(psnr_db)] = previous, torch.zeros(0)
            level_starts[_level_name(psnr_db)] = previous_starts
            continue
        note(f"{item.name}: polishing to {psnr_db:g} dB", IMAGE_STAGE_SHARE["cloud"])
        began = time.perf_counter()
        polished, mse, used = descend_to_tolerance(generator, x, previous, eps, config.polish)
        inside = mse <= eps
        out[f"polish_{_level_name(psnr_db)}"] = {"seeds": len(previous), "inside": int(inside.sum()),
                                                 "iterations_mean": float(used.float().mean()), "seconds": time.perf_counter() - began,
                                                 "moved_mean": float((polished - previous).flatten(1).norm(dim=1).mean())}
        previous, previous_starts = polished[inside], previous_starts[inside.numpy()]
        level_members[_level_name(psnr_db)], level_mse[_level_name(psnr_db)] = previous, mse[inside]
        level_starts[_level_name(psnr_db)] = previous_starts
    for level, seeds in level_members.items():
        arrays[f"members_{level}"] = seeds.numpy()
        arrays[f"members_mse_{level}"] = level_mse[level].numpy()
        arrays[f"members_start_{level}"] = level_starts[level]  # the torch seed of each member's N(0, I) start

    note(f"{item.name}: Jacobian at z*", IMAGE_STAGE_SHARE["polish"])
    geometry = local_geometry(generator, named["exact"], config.steps)
    out["local_geometry"] = geometry.summary(eps_levels)
    arrays["singular_values"] = geometry.singular_values
    k = config.sensitive_directions
    arrays["most_sensitive_directions"] = geometry.right_vectors[:k].reshape(k, *x.shape)
    arrays["least_sensitive_directions"] = geometry.right_vectors[-k:].reshape(k, *x.shape)
    # what the image does along those directions: G(z* +- t v) at a step that costs ~eps in first order
    arrays["direction_images"] = _direction_images(generator, named["exact"], geometry, eps_levels[0], k, config.steps)

    for (level, seeds), eps in zip(level_members.items(), eps_levels):
        report: dict = {"members": len(seeds)}
        if len(seeds) >= 1:
            check = check_ellipsoid(geometry, named["exact"], seeds, level_mse[level], eps)
            report["ellipsoid"] = check.summary()
            arrays[f"ellipsoid_measured_{level}"], arrays[f"ellipsoid_predicted_{level}"] = check.measured_mse, check.predicted_mse
            arrays[f"ellipsoid_spread_{level}"] = check.spread_along_axes
        if len(seeds) >= 2:
            note(f"{item.name}: canonical seeds, convexity, connectivity at {level}", IMAGE_STAGE_SHARE["jacobian"])
            report["canonical"] = [p.summary() for p in canonical_positions(seeds, seeds_named)]
            report["convexity"] = []
            for k_combined in sorted({min(k_, len(seeds)) for k_ in config.convexity_ks if k_ >= 2}):
                convexity = convex_combinations(generator, seeds, x, eps, k_combined, config.convexity_samples, steps=config.steps)
                report["convexity"].append(convexity.summary())
                arrays[f"convexity_mse_{level}_k{k_combined}"] = convexity.mse
            graph = segment_graph(generator, seeds, x, eps, config.segment_points, config.steps)
            report["connectivity"] = graph.summary()
            arrays[f"graph_adjacency_{level}"], arrays[f"graph_worst_mse_{level}"] = graph.adjacency, graph.worst_mse
            unjoined = [(i, j) for i in range(len(seeds)) for j in range(i + 1, len(seeds))
                        if graph.components[i] != graph.components[j]][: config.relaxed_pairs if level == _level_name(levels[0]) else 0]
            report["relaxed_paths"] = [{"pair": [i, j], **relaxed_path(generator, seeds[i], seeds[j], x, eps, points=5, config=config.relaxed,
                                                                        steps=config.steps).summary()} for i, j in unjoined]
            for mode in ("linear", "spherical"):
                profile = path_profile(generator, seeds[0], seeds[1], x, None, config.path_frames, mode, config.steps)
                report.setdefault("paths", {})[f"cloud seed to cloud seed, {mode}"] = profile.summary(eps)
                arrays[f"path_{level}_{mode}_mse"] = profile.mse_to_start_image
            profile = path_profile(generator, named["exact"], seeds[0], x, None, config.path_frames, "linear", config.steps)
            report["paths"]["z* to cloud seed, linear"] = profile.summary(eps)
            arrays[f"path_{level}_exact_mse"] = profile.mse_to_start_image
        out[level] = report
    return out, arrays, level_members, named


# settings that only change the stages across images: a cached image stays valid when they change
CROSS_IMAGE_SETTINGS = ("convergence_seeds", "convergence_iterations", "random_reference", "umap")


# what a cached image holds; a change invalidates older caches (2: the start of each member seed)
CACHE_FORMAT = 2


def _cache_path(cache_dir, generator, embedder, config: StudyConfig, item: StudyImage) -> Path:
    digest = hashlib.sha256(f"format {CACHE_FORMAT}".encode())
    digest.update(content_hash(generator.state_dict()).encode())
    digest.update((content_hash(embedder.state_dict()) if embedder is not None else "no embedder").encode())
    per_image = {k: v for k, v in _config_summary(config).items() if k not in CROSS_IMAGE_SETTINGS}
    digest.update(json.dumps(per_image, sort_keys=True, default=str).encode())
    digest.update(item.image.contiguous().numpy().tobytes())
    return Path(cache_dir) / f"{digest.hexdigest()[:24]}.npz"  # not the name: the same image under any name is reused


def _save_cached(path: Path, summary: dict, arrays: dict, members: dict, named: dict) -> None:
    payload = {f"arrays/{k}": v for k, v in arrays.items()}
    payload.update({f"members/{k}": v.numpy() for k, v in members.items()})
    payload.update({f"named/{k}": v.numpy() for k, v in named.items()})
    payload["summary_json"] = np.frombuffer(json.dumps(summary, default=float).encode(), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **payload)
    with atomic_path(path) as temporary:
        temporary.write_bytes(buffer.getvalue())


def _load_cached(path: Path, item: StudyImage):
    """The cached results of `item`, or None (with a warning) when the file cannot be read: it is then recomputed."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            data = {key: archive[key] for key in archive.files}
        summary = json.loads(data["summary_json"].tobytes().decode())
        if not isinstance(summary, dict):
            raise ValueError("its summary is not a JSON object")
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as error:  # truncated, not an npz, foreign
        warnings.warn(f"{item.name}: unreadable study cache {path} ({type(error).__name__}: {error}); recomputing it", stacklevel=2)
        return None
    summary.update({"source": item.source, "kind": item.kind})  # how this run named the image
    arrays = {k[7:]: v for k, v in data.items() if k.startswith("arrays/")}
    members = {k[8:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("members/")}
    named = {k[6:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("named/")}
    return summary, arrays, members, named


def _direction_images(generator, exact, geometry, eps, k, steps) -> np.ndarray:
    """(2k, 3, C, H, W): for the k most and k least sensitive directions v, G(z* - a v), G(z*), G(z* + a v)
    with a = the half-axis at eps, capped at the seed shell radius sqrt(D)."""
    axes = direction_steps(geometry.singular_values, eps, geometry.left_vectors.shape[0])
    rows = []
    for index in list(range(k)) + list(range(len(axes) - k, len(axes))):
        v = torch.from_numpy(geometry.right_vectors[index]).float().reshape(exact.shape)
        a = float(axes[index])
        rows.append(torch.stack([exact - a * v, exact, exact + a * v]))
    seeds = torch.cat(rows)
    return _generate(generator, seeds, steps).reshape(2 * k, 3, *exact.shape)


def _generate(generator, seeds, steps) -> np.ndarray:
    with torch.no_grad():
        return generator.generate(seeds, steps).numpy()


def _exact_seeds(generator, images, steps, mode: str = "fixed") -> torch.Tensor:
    return torch.cat([embed(generator, images[i : i + 64], "fixed_point", steps=steps, fixed_point_mode=mode).seeds
                      for i in range(0, len(images), 64)])


def _stack(seeds: list[torch.Tensor], cat: bool = False) -> torch.Tensor | None:
    if not seeds:
        return None
    return torch.cat(seeds) if cat else torch.stack(seeds)


def _config_summary(config: StudyConfig) -> dict:
    out = asdict(config)
    out["eps_levels"] = config.eps_levels()
    return out
