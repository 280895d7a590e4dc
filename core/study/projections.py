"""2-D projections (PCA, UMAP) of the seeds of several groups, with random N(0, I) seeds for reference.

Each group is a set of seeds (n_i, C, H, W): e.g. the cloud of one image, z* of several images,
network seeds. All groups are projected together (one fit over all N seeds), so distances between
groups in the picture come from one map. PCA is linear and keeps global distances (its explained
variance says how much of the spread the picture shows); UMAP keeps neighbourhoods and can
separate groups PCA overlaps, but its distances between clusters mean little.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_score

from core.seeds import reference_noise
from core.study.statistics import check_seed_batch
from core.study.tolerance import StudyInputError

RANDOM_GROUP = "random N(0, I)"  # name of the reference group added by `random_reference`
METHODS = ("pca", "umap")


@dataclass
class Projection:
    """N points in 2-D; point k belongs to group_names[labels[k]]; groups keep the input order,
    the random reference (if any) comes last."""

    method: str
    coordinates: np.ndarray  # (N, 2)
    labels: np.ndarray  # (N,) int index into group_names
    group_names: list[str]
    explained_variance_ratio: np.ndarray | None  # (2,) for PCA, None for UMAP
    n_neighbors: int | None  # UMAP's neighbourhood size, None for PCA

    @property
    def point_names(self) -> list[str]:
        """(N,) group name of each point (for a plot legend)."""
        return [self.group_names[label] for label in self.labels]

    def coordinates_of(self, name: str) -> np.ndarray:
        """(n_i, 2) points of one group."""
        if name not in self.group_names:
            raise StudyInputError(f"no group {name!r}; groups are {self.group_names}")
        return self.coordinates[self.labels == self.group_names.index(name)]

    def summary(self) -> dict[str, object]:
        """Counts and 2-D centroids per group, PCA's explained variance, the silhouette score of the
        groups in the picture (-1..1, high = separated; None with one group or one point a group)."""
        counts = np.bincount(self.labels, minlength=len(self.group_names))
        silhouette = None
        if 2 <= len(self.group_names) <= len(self.labels) - 1:
            silhouette = float(silhouette_score(self.coordinates, self.labels))
        return {
            "method": self.method,
            "count": int(len(self.labels)),
            "groups": {name: int(count) for name, count in zip(self.group_names, counts)},
            "centroids": {name: self.coordinates_of(name).mean(0).tolist() for name in self.group_names},
            "explained_variance_ratio": (None if self.explained_variance_ratio is None
                                         else self.explained_variance_ratio.tolist()),
            "n_neighbors": self.n_neighbors,
            "silhouette": silhouette,
        }

    def as_dict(self) -> dict[str, object]:
        """All fields as lists (JSON-serialisable)."""
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in dataclasses.asdict(self).items()}


def project_seeds(groups: dict[str, torch.Tensor], method: Literal["pca", "umap"] = "pca", random_reference: int = 0,
                  seed: int = 0, n_neighbors: int = 15) -> Projection:
    """Project seeds {name: (n_i, C, H, W)} (all of one shape) to 2-D together.

    random_reference > 0 adds that many N(0, I) seeds (core.seeds.reference_noise) as the last
    group, RANDOM_GROUP. `seed` fixes UMAP's random_state (deterministic, single thread).
    UMAP uses min(n_neighbors, N - 1) neighbours and needs N >= 3; PCA needs N >= 2."""
    if method not in METHODS:
        raise StudyInputError(f"unknown projection method {method!r}; choose one of {', '.join(METHODS)}")
    if not isinstance(groups, dict) or not groups:
        raise StudyInputError("groups must be a non-empty dict {name: seeds (n, C, H, W)}")
    if not isinstance(random_reference, int) or random_reference < 0:
        raise StudyInputError(f"random_reference must be a count >= 0, got {random_reference!r}")
    if RANDOM_GROUP in groups and random_reference > 0:
        raise StudyInputError(f"the group name {RANDOM_GROUP!r} is taken by the random reference; rename the group")
    checked: dict[str, torch.Tensor] = {}
    for name, seeds in groups.items():
        try:
            checked[str(name)] = check_seed_batch(seeds, minimum=1, name=f"seeds of group {name!r}")
        except StudyInputError as error:
            raise StudyInputError(str(error)) from None
    shapes = {name: tuple(seeds.shape[1:]) for name, seeds in checked.items()}
    if len(set(shapes.values())) > 1:
        raise StudyInputError(f"all groups need seeds of one shape, got {shapes}")
    if random_reference > 0:
        shape = next(iter(shapes.values()))
        checked[RANDOM_GROUP] = reference_noise(random_reference, shape).double()

    names = list(checked)
    points = torch.cat([checked[name].flatten(1) for name in names]).numpy()  # (N, D)
    labels = np.concatenate([np.full(len(checked[name]), index) for index, name in enumerate(names)])
    minimum = 2 if method == "pca" else 3
    if len(points) < minimum:
        raise StudyInputError(f"{method.upper()} needs at least {minimum} seeds in all, got {len(points)}")

    if method == "pca":
        pca = PCA(n_components=2, random_state=seed)
        coordinates = pca.fit_transform(points)
        return Projection(method, coordinates, labels, names, pca.explained_variance_ratio_.copy(), None)

    import umap  # imported here: importing umap-learn (numba) takes seconds

    neighbours = max(2, min(int(n_neighbors), len(points) - 1))
    # Spectral initialisation fails on a handful of points (eigsh needs k < N); random is fine there.
    init = "spectral" if len(points) >= 10 else "random"
    reducer = umap.UMAP(n_components=2, n_neighbors=neighbours, random_state=seed, n_jobs=1, init=init)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*n_jobs.*")  # random_state forces one thread: wanted
        coordinates = reducer.fit_transform(points)
    return Projection(method, np.asarray(coordinates, dtype=np.float64), labels, names, None, neighbours)
