"""Writing and reading a study folder: study.json (summaries), arrays.npz (every array), figures/*.png
and report.md (the findings in tables). Everything is written atomically; nothing is pickled."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
from scipy.stats import norm as standard_normal

from core.atomic import atomic_path, write_json
from core.study import figures
from core.study.run import StudyResult

SUMMARY_NAME, ARRAYS_NAME, REPORT_NAME, FIGURES_DIR = "study.json", "arrays.npz", "report.md", "figures"
FINDINGS_NAME = "findings.md"


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        return float(value) if np.isfinite(value) else None  # JSON has no NaN/inf
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def load_study(directory: str | os.PathLike) -> tuple[dict, dict[str, np.ndarray]]:
    """(summary, arrays) of a study folder written by `write_study` (arrays loaded without pickle)."""
    directory = Path(directory)
    summary_path, arrays_path = directory / SUMMARY_NAME, directory / ARRAYS_NAME
    if not summary_path.is_file() or not arrays_path.is_file():
        raise FileNotFoundError(f"{directory} is not a study folder (needs {SUMMARY_NAME} and {ARRAYS_NAME})")
    summary = json.loads(summary_path.read_text())
    with np.load(arrays_path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    return summary, arrays


def write_study(result: StudyResult, directory: str | os.PathLike, title: str = "emb(x) study") -> Path:
    """Write the folder; returns the report's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    write_json(directory / SUMMARY_NAME, _jsonable(result.summary))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **result.arrays)
    with atomic_path(directory / ARRAYS_NAME) as temporary:
        temporary.write_bytes(buffer.getvalue())
    figure_names = _write_figures(result, directory / FIGURES_DIR)
    report = render_markdown(result.summary, figure_names, title, result.arrays)
    with atomic_path(directory / REPORT_NAME) as temporary:
        temporary.write_text(report)
    with atomic_path(directory / FINDINGS_NAME) as temporary:  # the table alone, for the README
        temporary.write_text(render_findings(result.summary, result.arrays))
    return directory / REPORT_NAME


def _write_figures(result: StudyResult, folder: Path) -> dict[str, str]:
    s, a = result.summary, result.arrays
    names = list(s["images"])
    levels = s["levels"]
    eps = dict(zip(levels, s["config"]["eps_levels"]))
    written: dict[str, str] = {}

    def save(key: str, figure) -> None:
        figures.save(figure, folder / f"{key}.png")
        written[key] = f"{FIGURES_DIR}/{key}.png"

    first_pixels = a[f"{names[0]}/image"].size
    save("singular_values", figures.singular_values_figure({n: a[f"{n}/singular_values"] for n in names}, eps, first_pixels))
    directions = []
    for n in names[:3]:
        images = a[f"{n}/direction_images"]  # (2k, 3, C, H, W)
        k = len(images) // 2
        directions.append((f"{n}: most", np.concatenate([images[i][[0, 2]] for i in range(min(k, 3))])))
        directions.append((f"{n}: least", np.concatenate([images[i][[0, 2]] for i in range(k, k + min(k, 3))])))
    save("sensitive_directions", figures.image_rows_figure(directions, ["-v1", "+v1", "-v2", "+v2", "-v3", "+v3"]))
    shares = {}
    for n in names[:6]:
        for level in levels:
            points = [(c["k"], c["share_inside"], *c["share_inside_ci95"]) for c in s["images"][n].get(level, {}).get("convexity", [])]
            if points:
                shares[f"{n} {level}"] = points
    if shares:
        save("convexity", figures.convexity_figure(shares))
    profiles = {}
    for n in names[:3]:
        for key, label in ((f"{n}/path_{levels[0]}_linear_mse", "cloud-cloud linear"), (f"{n}/path_{levels[0]}_spherical_mse", "cloud-cloud slerp"),
                           (f"{n}/path_{levels[0]}_exact_mse", "z*-cloud linear")):
            if key in a:
                profiles[f"{n}: {label}"] = a[key]
    if profiles:
        save("paths", figures.path_figure(profiles, eps))
    if "convergence/iterations" in a:
        save("convergence", figures.convergence_figure(a["convergence/iterations"], a["convergence/distance_to_exact"], a["convergence/psnr"],
                                                      f"{_optimizer_name(s.get('convergence', {}))} iteration"))
    for method in ("pca", "umap"):
        if f"projection/{method}/coordinates" in a:
            save(f"projection_{method}", figures.projection_figure(a[f"projection/{method}/coordinates"], a[f"projection/{method}/labels"],
                                                                   s["projections"][method]["group_names"], f"Seeds, {method.upper()}"))
    values = {k.split("/")[1]: v for k, v in a.items() if k.startswith("statistics/") and k.endswith("/values_sample")}
    if values:
        grid = np.linspace(-4, 4, 200)
        save("seed_values", figures.histogram_figure({k: np.clip(v, -4, 4) for k, v in values.items()}, "seed value",
                                                     "Seed values against N(0, 1)", np.stack([grid, standard_normal.pdf(grid)])))
    scores = {k.split("/")[1]: v for k, v in a.items() if k.startswith("statistics/") and k.endswith("/autocorr_h")}
    if scores:
        save("autocorrelation", figures.histogram_figure(scores, "lag-1 horizontal autocorrelation of the seed", "Spatial structure in seeds"))
    if "independence/random/paired" in a:
        groups = {"same seed, two generators": a["independence/random/paired"],
                  "unrelated seeds, two generators": a["independence/random/unrelated"]}
        if "independence/embedded/paired" in a:
            groups["z* of test images, two generators"] = a["independence/embedded/paired"]
        save("independence", figures.histogram_figure(groups, "PSNR between the two images (dB)", "Does a seed mean the same image?"))
    return written


def _interleaving(separation: dict) -> str:
    """How the sampled clouds of different images sit, for the findings table."""
    own, chance = separation["self_attribution"], 1 / separation["clouds"]
    same = separation.get("same_start_distance_mean", float("nan"))
    recorded_starts = same == same  # a study that recorded each seed's start
    nearest = "among seeds from other starts, a seed's nearest" if recorded_starts else "a seed's nearest other seed"
    text = ((f"; the clouds keep apart: {nearest} is in its own cloud {100 * own:.0f}% of the time (chance about {100 * chance:.0f}%)"
             if own > 0.5 else f"; yet the clouds interleave: {nearest} is in its own cloud {100 * own:.0f}% of the time")
            + f", between-cloud distances {separation['between_distance_mean']:.1f} vs within {separation['within_distance_mean']:.1f}")
    if recorded_starts:
        closer = same < separation["within_distance_mean"]
        text += (f"; two images' seeds from one start are {same:.1f} apart, "
                 + ("closer than one image's seeds from two starts: where a descent ends depends more on its start than on the image"
                    if closer else "no closer than one image's seeds from two starts"))
    return text


def _fmt(value, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(value)
    if isinstance(value, float):
        if not np.isfinite(value):
            return "n/a"
        return f"{value:.{digits}g}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _pooled(successes: int, trials: int) -> str:
    from core.study.convexity import share_with_interval

    if trials == 0:
        return "n/a (no samples)"
    share, low, high = share_with_interval(successes, trials)
    return f"{successes}/{trials} = {100 * share:.0f}% (95% CI {100 * low:.0f}-{100 * high:.0f}%)"


def findings(s: dict, a: dict[str, np.ndarray]) -> list[list[str]]:
    """The answers, pooled over the study's images: [question, answer with numbers]."""
    images = s["images"]
    levels = s["levels"]
    rows: list[list[str]] = []
    clouds = [v["cloud"] for v in images.values()]
    inside, total = sum(c["inside"] for c in clouds), sum(c["seeds"] for c in clouds)
    optimizer = _optimizer_name(s["config"]["cloud"])
    rows.append(["Can descent from random starts reach emb(x)?",
                 f"{_pooled(inside, total)} of the seeds reached {levels[0]} within {s['config']['cloud']['iterations']} {optimizer} iterations; "
                 + ", ".join(f"{sum(v.get(f'polish_{lv}', {}).get('inside', 0) for v in images.values())}/"
                             f"{sum(v.get(f'polish_{lv}', {}).get('seeds', 0) for v in images.values())} of those reached {lv} "
                             f"after at most {s['config']['polish']['iterations']} more {_optimizer_name(s['config']['polish'])} iterations"
                             for lv in levels[1:])])
    moved = np.mean([c["distance_from_start_mean"] for c in clouds])
    apart = np.mean([c["pairwise_distance_mean"] for c in clouds])
    rows.append(["Where are the cloud's seeds?",
                 f"descent moves a seed {moved:.1f} from its start (|z| ~ {np.sqrt(a[next(iter(images)) + '/image'].size):.0f}); the seeds of one image stay "
                 f"{apart:.1f} apart on average, as far as independent N(0, I) seeds ({clouds[0]['independent_seed_distance']:.1f})"])
    pixels = a[next(iter(images)) + "/image"].size
    beyond = {lv: [] for lv in levels}
    sigma_median, certified = [], 0
    for name, v in images.items():
        sv = a[f"{name}/singular_values"]
        sigma_median.append(np.median(sv))
        certified += bool(v["local_geometry"].get("locally_injective_certified", v["local_geometry"].get("locally_injective")))
        for lv, eps in zip(levels, s["config"]["eps_levels"]):
            beyond[lv].append(np.mean(np.sqrt(pixels * eps) / np.maximum(sv, 1e-30) > np.sqrt(sv.size)))
    large = np.mean(beyond[levels[-1]]) > 0.1
    rows.append(["Is emb(x) a point or a set?",
                 f"exactly (eps -> 0) one point z* per image where G is locally injective: the Jacobian's smallest singular value is above "
                 f"float32 round-off at {certified}/{len(images)} images. Median singular value {np.median(sigma_median):.2g}, largest "
                 f"~{np.median([v['local_geometry']['sigma_max'] for v in images.values()]):.2g}; "
                 + "; ".join(f"at {lv} the first-order ellipsoid reaches past the seed shell (half-axis > sqrt(D)) along "
                             f"{100 * np.mean(beyond[lv]):.0f}% of the directions" for lv in levels)
                 + (". At these tolerances emb(x) is a large set, elongated along most seed directions" if large
                    else ". At these tolerances emb(x) is a bounded neighbourhood of z*")])
    ratios = [v[levels[0]]["ellipsoid"]["measured_over_predicted_median"] for v in images.values() if "ellipsoid" in v.get(levels[0], {})]
    if ratios:
        ratio = float(np.median(ratios))
        rows.append(["Does the first-order ellipsoid describe the clouds?",
                     (f"yes: the cloud seeds' measured MSE is {ratio:.2g} x the first-order prediction (median over images)" if 0.5 <= ratio <= 2 else
                      f"no: cloud seeds are far outside its linear range; their measured MSE is {ratio:.2g} x the first-order prediction "
                      "(median over images): G saturates along the directions descent moves")])
    if "convergence" in s:
        c = s["convergence"]
        rows.append(["Does long descent approach z*?",
                     f"{c['seeds']} descents of {c['iterations']} {_optimizer_name(c)} iterations ({c['image']}): distance to z* {c['distance_to_exact_start_mean']:.1f} -> "
                     f"{c['distance_to_exact_end_mean']:.1f} (min {c['distance_to_exact_end_min']:.1f}) at {c['psnr_end_mean_db']:.1f} dB: "
                     + ("they do not approach z*; distant seeds give the same image" if c["distance_to_exact_end_min"] > 0.5 * c["distance_to_exact_start_mean"]
                        else "they approach z*")])
    for lv in levels:
        pairs = [(c["k"], round(c["share_inside"] * c["samples"]), c["samples"]) for v in images.values() for c in v.get(lv, {}).get("convexity", [])]
        if pairs:
            two = [p for p in pairs if p[0] == 2]
            more = [p for p in pairs if p[0] > 2]
            rows.append([f"Is emb(x) convex at {lv}?",
                         f"random mixes of 2 seeds inside: {_pooled(sum(p[1] for p in two), sum(p[2] for p in two))}; "
                         f"of 3 or more: {_pooled(sum(p[1] for p in more), sum(p[2] for p in more))}"])
        graphs = [v[lv]["connectivity"] for v in images.values() if "connectivity" in v.get(lv, {})]
        if graphs:
            relaxed = [p for v in images.values() for p in v.get(lv, {}).get("relaxed_paths", [])]
            rows.append([f"Is emb(x) connected at {lv}?",
                         f"straight segments inside: {_pooled(sum(g['segments_inside'] for g in graphs), sum(g['segments'] for g in graphs))}; "
                         f"components per cloud: {', '.join(str(g['components']) + '/' + str(g['seeds']) for g in graphs)}; "
                         + (f"relaxed paths found {sum(p['exists'] for p in relaxed)}/{len(relaxed)} (closest worst-point PSNR "
                            f"{-10 * np.log10(min(p['worst_point_mse'] for p in relaxed)):.1f} dB)" if relaxed
                            else "no relaxed paths tried at this level (the study tries them at the first)")])
    if s.get("image_pairs"):
        separation = s.get("separation", {}).get(levels[0], {})
        disjoint = s["disjoint_pairs_by_triangle_inequality"]
        all_disjoint = all(n == s["image_pairs"] for n in disjoint.values())
        rows.append(["Do the sets of two images intersect?",
                     ("no, certainly: " if all_disjoint else "certainly not for ") + ", ".join(f"{n}/{s['image_pairs']} pairs at {lv}" for lv, n in disjoint.items())
                     + ", whose images are further apart than 2 sqrt(eps) (triangle inequality)"
                     + (_interleaving(separation) if separation else "")])
    hull = [p for v in images.values() for p in v.get(levels[0], {}).get("canonical", [])]
    if hull:
        by_name: dict[str, list] = {}
        for p in hull:
            by_name.setdefault(p["name"], []).append(p)
        rows.append(["Where do single-answer methods put their seed?",
                     "; ".join(f"{n}: in the cloud's hull {sum(p['in_hull'] for p in ps)}/{len(ps)}, {np.mean([p['distance_to_cloud_mean'] for p in ps]):.1f} "
                               f"from its mean (cloud spread {np.mean([p['cloud_spread'] for p in ps]):.1f}), |z|/sqrt(D) {np.mean([p['norm'] for p in ps]):.2f}"
                               for n, ps in by_name.items())])
    if "ood" in s:
        o = s["ood"]
        rows.append(["Do seed statistics flag foreign images?",
                     f"AUROC {o['auroc']:.3f} (95% CI {o['ci_low']:.3f}-{o['ci_high']:.3f}) for z* of {o['photos']} photos vs {o['test_images']} test images, "
                     f"by the spatial autocorrelation of z*, although z* reproduces the photos at {o['exact_psnr_photos_mean_db']:.0f} dB"])
    if "independence" in s:
        r = s["independence"]["random"]
        text = (f"random seeds: the two generators' images are {r['paired_mean']:.1f} dB apart for the same seed vs {r['unrelated_cross_mean']:.1f} dB "
                f"for unrelated seeds (difference CI {r['difference_ci'][0]:.1f}-{r['difference_ci'][1]:.1f} dB)")
        if "embedded" in s["independence"]:
            e = s["independence"]["embedded"]
            text += f"; z* of test images: G_a(z*) = x at {e['target_psnr_a_mean']:.0f} dB, G_b(z*) only {e['target_psnr_b_mean']:.1f} dB"
        if s.get("twin_of") and s.get("twin"):
            text += f" (G_a `{s['twin_of']}`, G_b `{s['twin']}`)"
        rows.append(["Does a seed mean the same image under another network?", text])
    return rows


def render_findings(s: dict, a: dict[str, np.ndarray]) -> str:
    """The findings table with the command and the generator, as markdown."""
    head = (f"`{s.get('command', 'python -m core.study')}` ({len(s['images'])} images, generator `{s.get('generator', '?')}`, "
            f"{s.get('torch_threads', '?')} torch threads, {_fmt(s.get('seconds', 0) / 60)} minutes)")
    return head + "\n\n" + _table(["question", "answer (pooled over the images)"], findings(s, a)) + "\n"


def _optimizer_name(cloud_config: dict) -> str:
    """How the report names the clouds' optimiser (studies before Gauss-Newton have no 'optimizer' key)."""
    return {"gauss_newton": "Gauss-Newton", "adam": "Adam"}.get(cloud_config.get("optimizer", "adam"), "descent")


def render_markdown(s: dict, figure_names: dict[str, str], title: str, a: dict[str, np.ndarray] | None = None) -> str:
    """The report: one section per question, numbers in tables, figures linked."""
    levels = s["levels"]
    out = [f"# {title}", "", f"Generator: `{s.get('generator', '?')}`; {len(s['images'])} images; tolerances {', '.join(levels)} "
           f"(eps = {', '.join(_fmt(e) for e in s['config']['eps_levels'])} MSE); cloud: {s['config']['cloud_size']} descent starts per image "
           f"({_optimizer_name(s['config']['cloud'])}); "
           f"{_fmt(s.get('seconds', 0) / 60)} minutes. Command: `{s.get('command', 'python -m core.study')}`", ""]

    if a is not None:
        out += ["## Findings", "", _table(["question", "answer (pooled over the images)"], findings(s, a)), ""]

    def figure(key: str, caption: str) -> None:
        if key in figure_names:
            out.extend([f"![{caption}]({figure_names[key]})", ""])

    out += ["## Clouds and single seeds", ""]
    rows = []
    for name, image in s["images"].items():
        single = image["single_seeds"]
        cloud = image["cloud"]
        polish = image.get(f"polish_{levels[-1]}", {}) if len(levels) > 1 else {}
        rows.append([name, image["kind"], f"{cloud['inside']}/{cloud['seeds']}", cloud["psnr_mean_db"], cloud["seconds"],
                     cloud.get("distance_from_start_mean"), cloud.get("pairwise_distance_mean"),
                     f"{polish.get('inside', 'n/a')}/{polish.get('seeds', 'n/a')}" if polish else "n/a",
                     single["z* (fixed point)"]["psnr_db"], single.get("network E(x)", {}).get("psnr_db"), single["DDIM inversion"]["psnr_db"]])
    out += [_table(["image", "kind", f"cloud inside {levels[0]}", "cloud PSNR mean (dB)", "cloud seconds",
                    "moved from start (mean)", "distance between cloud seeds (mean)",
                    f"inside {levels[-1]} after polish", "z* PSNR (dB)", "network PSNR (dB)", "DDIM inversion PSNR (dB)"], rows), ""]

    first_cloud = next(iter(s["images"].values()))["cloud"]
    out += [f"Two independent N(0, I) seeds are {_fmt(first_cloud.get('independent_seed_distance'))} apart (sqrt(2D)).", ""]
    out += ["## Is emb(x) a point or a set? The Jacobian at z*", ""]
    rows = []
    for name, image in s["images"].items():
        g = image["local_geometry"]
        row = [name, g["sigma_max"], g["sigma_min"], g["condition_number"], g["locally_injective_certified"], g["clipped_pixels"]]
        for level, eps in zip(levels, s["config"]["eps_levels"]):
            axes = g.get(f"eps={eps:g}", {})
            row += [axes.get("half_axis_min"), axes.get("half_axis_max")]
        ellipsoid = image.get(levels[0], {}).get("ellipsoid", {})
        row += [ellipsoid.get("measured_over_predicted_median")]
        rows.append(row)
    header = ["image", "sigma max", "sigma min", "condition", "locally injective (certified)", "clipped pixels"]
    for level in levels:
        header += [f"half-axis min {level}", f"half-axis max {level}"]
    header += [f"cloud: measured / first-order MSE (median, {levels[0]})"]
    out += [_table(header, rows), ""]
    figure("singular_values", "singular values")
    figure("sensitive_directions", "images along the most and least sensitive seed directions")

    if "convergence" in s:
        c = s["convergence"]
        out += ["## Does descent approach z* as it runs longer?", "",
                _table(["image", "seeds", f"{_optimizer_name(c)} iterations", "|z-z*| start", "|z-z*| end (mean)", "end min", "end max", "PSNR end mean (dB)", "|z*|"],
                       [[c["image"], c["seeds"], c["iterations"], c["distance_to_exact_start_mean"], c["distance_to_exact_end_mean"],
                         c["distance_to_exact_end_min"], c["distance_to_exact_end_max"], c["psnr_end_mean_db"], c["exact_seed_norm"]]]), ""]
        figure("convergence", "convergence")

    out += ["## Convexity", ""]
    rows = []
    for name, image in s["images"].items():
        for level in levels:
            for c in image.get(level, {}).get("convexity", []):
                rows.append([name, level, c["k"], c["samples"], c["share_inside"], f"{_fmt(c['share_inside_ci95'][0])}-{_fmt(c['share_inside_ci95'][1])}",
                             c["mse_max"], c["seed_norm_mean"]])
    out += [_table(["image", "level", "k", "samples", "share inside", "95% CI", "worst MSE", "mean |z|/sqrt(D)"], rows), ""]
    figure("convexity", "convexity")

    out += ["## Connectivity", ""]
    rows = []
    for name, image in s["images"].items():
        for level in levels:
            report = image.get(level, {})
            if "connectivity" in report:
                g = report["connectivity"]
                relaxed = report.get("relaxed_paths", [])
                rows.append([name, level, g["seeds"], g["share_segments_inside"], g["components"], g["largest_component"],
                             f"{sum(p['exists'] for p in relaxed)}/{len(relaxed)}"])
    out += [_table(["image", "level", "seeds", "segments inside", "components", "largest", "relaxed paths found"], rows), ""]
    figure("paths", "paths")

    out += ["## Intersection and separation", ""]
    out += ["Pairs of images whose sets cannot intersect (RMS distance > 2 sqrt(eps)): "
            + ", ".join(f"{k}: {v}/{s['image_pairs']}" for k, v in s.get("disjoint_pairs_by_triangle_inequality", {}).items()), ""]
    rows = [[level, v["clouds"], v["within_distance_mean"], v["within_distance_max"], v["between_distance_mean"], v["between_distance_min"],
             v.get("same_start_distance_mean", float("nan")), v["self_attribution"]] for level, v in s.get("separation", {}).items()]
    if rows:
        out += [_table(["level", "clouds", "within mean", "within max", "between mean (other starts)", "between min (other starts)",
                        "same start, two images: mean", "nearest neighbour (other starts) in own cloud"], rows), "",
                "Every image's cloud descends from the same N(0, I) starts, and a descent ends near its start: the seeds of two "
                "images from one start are compared apart ('same start'), and a seed's nearest neighbour is taken among seeds "
                "from other starts.", ""]
    if "third_set" in s:
        t = s["third_set"]
        out += [f"Segments between clouds of {t['a']} and {t['b']} entering emb(x) of {t['third']}: {t['segments_entering_third_set']}/{t['pairs']} "
                f"(closest PSNR to it {_fmt(t['closest_psnr_to_third_db'])} dB).", ""]

    out += ["## Where do single-answer methods put their seed?", ""]
    rows = []
    for name, image in s["images"].items():
        for p in image.get(levels[0], {}).get("canonical", []):
            rows.append([name, p["name"], -10 * np.log10(max(p["mse"], 1e-12)), p["distance_to_cloud_mean"], p["cloud_spread"],
                         p["distance_to_nearest_cloud_seed"], p["in_hull"], p["norm"]])
    out += [_table(["image", "seed", "PSNR (dB)", "to cloud mean", "cloud spread", "to nearest cloud seed", "in hull", "|z|/sqrt(D)"], rows), ""]
    figure("projection_pca", "PCA")
    figure("projection_umap", "UMAP")

    out += ["## Seed statistics", ""]
    stats = s.get("statistics", [])
    if stats:
        header = list(stats[0].keys())
        out += [_table(header, [[row[h] for h in header] for row in stats]), ""]
    if "ood" in s:
        o = s["ood"]
        out += [f"Out-of-distribution score (seed autocorrelation) of z*: AUROC {_fmt(o.get('auroc'))} "
                f"(95% CI {_fmt(o.get('ci_low'))}-{_fmt(o.get('ci_high'))}), {o['test_images']} test images vs {o['photos']} photos; "
                f"z* reproduces the test images at {_fmt(o['exact_psnr_test_mean_db'])} dB and the photos at {_fmt(o['exact_psnr_photos_mean_db'])} dB "
                f"(min {_fmt(o['exact_psnr_photos_min_db'])}).", ""]
    figure("seed_values", "seed values")
    figure("autocorrelation", "autocorrelation")

    if "independence" in s:
        out += ["## Network independence", ""]
        if s.get("twin_of") and s.get("twin"):
            out += [f"G_a: `{s['twin_of']}`; G_b: `{s['twin']}` (same recipe, another initialization)."
                    + (" The pair is not the study's generator: z* below are found under G_a." if s["twin_of"] != s.get("generator") else ""), ""]
        rows = []
        for kind, v in s["independence"].items():
            rows.append([kind, v.get("count"), v.get("paired_mean"), v.get("unrelated_cross_mean"), v.get("unrelated_same_mean"),
                         v.get("share_paired_above_unrelated_p95"), v.get("target_psnr_a_mean"), v.get("target_psnr_b_mean")])
        out += [_table(["seeds", "n", "same seed, two generators (dB)", "unrelated, two generators (dB)", "unrelated, one generator (dB)",
                        "share above unrelated 95th pct", "G_a(z*) to x (dB)", "G_b(z*) to x (dB)"], rows), ""]
        figure("independence", "independence")
    return "\n".join(out) + "\n"
