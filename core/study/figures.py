"""Static figures of a study (matplotlib, Agg): one function a figure, each returns a Figure.

The Streamlit explorer draws its own interactive plots (plotly) from the same arrays; these PNGs
are for the markdown report and the README.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # no display; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _grey(image: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (H, W) or (H, W, 3) for imshow."""
    return image[0] if image.shape[0] == 1 else np.transpose(image, (1, 2, 0))


def singular_values_figure(singular_values: dict[str, np.ndarray], eps_levels: dict[str, float], pixels: int) -> Figure:
    """Singular values of G's Jacobian at z* per image (log scale), with the half-axis scale on the right."""
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, values in singular_values.items():
        axis.semilogy(values, label=name, linewidth=1)
    axis.set_xlabel("index i (most to least sensitive seed direction)")
    axis.set_ylabel("singular value sigma_i of dG/dz")
    for level, eps in eps_levels.items():
        # sigma at which the half-axis sqrt(N eps)/sigma equals the seed-shell radius sqrt(D): beyond it, unbounded to first order
        axis.axhline(np.sqrt(pixels * eps) / np.sqrt(pixels), linestyle=":", color="grey")
        axis.text(0, np.sqrt(eps) * 1.1, f"half-axis = sqrt(D) at {level}", fontsize=7, color="grey")
    axis.legend(fontsize=6, ncol=2)
    axis.set_title("Local injectivity: the Jacobian of G at z*")
    figure.tight_layout()
    return figure


def image_rows_figure(rows: list[tuple[str, np.ndarray]], titles: list[str] | None = None) -> Figure:
    """Rows of images: [(row label, (k, C, H, W) in [0, 1])]."""
    columns = max(len(images) for _, images in rows)
    figure, axes = plt.subplots(len(rows), columns, figsize=(1.1 * columns + 1.5, 1.15 * len(rows) + 0.3), squeeze=False)
    for r, (label, images) in enumerate(rows):
        for c in range(columns):
            axis = axes[r][c]
            axis.set_xticks([]), axis.set_yticks([])
            if c < len(images):
                axis.imshow(_grey(images[c]), cmap="gray", vmin=0, vmax=1)
            else:
                axis.axis("off")
            if c == 0:
                axis.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
            if r == 0 and titles and c < len(titles):
                axis.set_title(titles[c], fontsize=7)
    figure.tight_layout()
    return figure


def convexity_figure(shares: dict[str, list[tuple[int, float, float, float]]]) -> Figure:
    """Share of convex combinations inside emb_eps(x) against k: {label: [(k, share, low, high)]}."""
    figure, axis = plt.subplots(figsize=(6, 3.6))
    for label, points in shares.items():
        ks = [p[0] for p in points]
        share = np.array([p[1] for p in points])
        low, high = np.array([p[2] for p in points]), np.array([p[3] for p in points])
        axis.errorbar(ks, share, yerr=[share - low, high - share], marker="o", capsize=3, label=label, linewidth=1)
    axis.set_xscale("log", base=2)
    axis.set_ylim(-0.05, 1.05)
    axis.set_xlabel("seeds per convex combination k")
    axis.set_ylabel("share inside emb_eps(x) (95% CI)")
    axis.legend(fontsize=7)
    axis.set_title("Convexity of emb_eps(x)")
    figure.tight_layout()
    return figure


def path_figure(profiles: dict[str, np.ndarray], eps_levels: dict[str, float]) -> Figure:
    """PSNR along paths (x: position 0..1): {label: (F,) MSE}."""
    figure, axis = plt.subplots(figsize=(6, 3.6))
    for label, mse in profiles.items():
        axis.plot(np.linspace(0, 1, len(mse)), 10 * np.log10(1 / np.maximum(mse, 1e-12)), label=label, linewidth=1)
    for level, eps in eps_levels.items():
        axis.axhline(10 * np.log10(1 / eps), linestyle=":", color="grey")
        axis.text(0.01, 10 * np.log10(1 / eps) + 0.5, level, fontsize=7, color="grey")
    axis.set_xlabel("position along the path")
    axis.set_ylabel("PSNR to the image (dB)")
    axis.legend(fontsize=6)
    axis.set_title("Interpolation inside emb(x)")
    figure.tight_layout()
    return figure


def convergence_figure(iterations: np.ndarray, distance_to_exact: np.ndarray, psnr: np.ndarray, xlabel: str = "descent iteration") -> Figure:
    """Distance of long descents to z* and their PSNR, per iteration."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    left.plot(iterations, distance_to_exact, linewidth=1)
    left.set_xlabel(xlabel)
    left.set_ylabel("|z - z*|")
    left.set_title("Distance to the exact seed")
    right.plot(iterations, psnr, linewidth=1)
    right.set_xlabel(xlabel)
    right.set_ylabel("PSNR (dB)")
    right.set_title("Reconstruction")
    figure.tight_layout()
    return figure


def projection_figure(coordinates: np.ndarray, labels: np.ndarray, names: list[str], title: str) -> Figure:
    figure, axis = plt.subplots(figsize=(6.5, 5))
    markers = {"z*": "*", "network E(x)": "^", "DDIM inversion": "s"}
    for index, name in enumerate(names):
        points = coordinates[labels == index]
        style = {"marker": markers.get(name, "o"), "s": 60 if name in markers else 12}
        if name.startswith("random"):
            style.update(color="lightgrey", s=8)
        axis.scatter(points[:, 0], points[:, 1], label=name, **style)
    axis.legend(fontsize=6, markerscale=0.8, ncol=2)
    axis.set_title(title)
    axis.set_xticks([]), axis.set_yticks([])
    figure.tight_layout()
    return figure


def histogram_figure(groups: dict[str, np.ndarray], xlabel: str, title: str, reference: np.ndarray | None = None) -> Figure:
    figure, axis = plt.subplots(figsize=(6, 3.6))
    finite = np.concatenate([v[np.isfinite(v)] for v in groups.values() if len(v)])
    bins = np.linspace(finite.min(), finite.max(), 40) if len(finite) else 20
    for label, values in groups.items():
        axis.hist(values[np.isfinite(values)], bins=bins, alpha=0.5, density=True, label=label)
    if reference is not None:
        axis.plot(reference[0], reference[1], color="black", linewidth=1, label="N(0, 1)")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("density")
    axis.legend(fontsize=7)
    axis.set_title(title)
    figure.tight_layout()
    return figure


def save(figure: Figure, path) -> None:
    from core.atomic import atomic_path

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
