"""2-D projections of seed groups: PCA separates separated groups, labels and the random reference line up."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.seeds import reference_noise, seeded_noise
from core.study.projections import RANDOM_GROUP, project_seeds
from core.study.tolerance import StudyInputError

SHAPE = (1, 8, 8)


def noise(n: int, seed: int, offset: float = 0.0) -> torch.Tensor:
    return torch.randn((n, *SHAPE), generator=torch.Generator().manual_seed(seed)) + offset


def test_pca_separates_two_distant_groups_and_adds_the_reference():
    groups = {"left": noise(15, 0, -2.0), "right": noise(10, 1, 2.0)}
    projection = project_seeds(groups, "pca", random_reference=12, seed=3)
    assert projection.coordinates.shape == (37, 2)
    assert projection.group_names == ["left", "right", RANDOM_GROUP]
    assert projection.labels.tolist() == [0] * 15 + [1] * 10 + [2] * 12
    assert projection.point_names[14] == "left" and projection.point_names[15] == "right"
    first_axis = projection.coordinates[:, 0]
    left, right = first_axis[:15], first_axis[15:25]
    assert left.max() < right.min() or right.max() < left.min()  # the first component splits them
    reference = projection.coordinates_of(RANDOM_GROUP)[:, 0]
    assert min(left.max(), right.max()) < reference.mean() < max(left.min(), right.min())  # N(0, I) sits between
    ratio = projection.explained_variance_ratio
    assert ratio.shape == (2,) and ratio[0] > 0.5 and ratio[0] >= ratio[1] > 0
    summary = projection.summary()
    assert summary["groups"] == {"left": 15, "right": 10, RANDOM_GROUP: 12}
    assert summary["silhouette"] > 0.5
    assert summary["n_neighbors"] is None
    json.dumps(summary)
    json.dumps(projection.as_dict())


def test_random_reference_is_the_reference_noise_and_pca_handles_two_points():
    groups = {"a": noise(3, 4)}
    same = project_seeds(groups, "pca", random_reference=5)
    again = project_seeds(groups, "pca", random_reference=5)
    np.testing.assert_array_equal(same.coordinates, again.coordinates)
    # the reference is core.seeds.reference_noise: none of it is a start of the study's descents (torch seeds 0, 1, ...)
    with_reference = project_seeds({"a": noise(3, 4), "reference": reference_noise(5, SHAPE)}, "pca")
    np.testing.assert_allclose(same.coordinates, with_reference.coordinates, atol=1e-9)
    assert not torch.equal(reference_noise(1, SHAPE)[0], seeded_noise([0], SHAPE)[0])
    pair = project_seeds({"a": noise(1, 5), "b": noise(1, 6)}, "pca")
    assert pair.coordinates.shape == (2, 2) and pair.group_names == ["a", "b"]
    assert pair.summary()["silhouette"] is None  # one point a group: undefined


def test_umap_separates_groups_deterministically():
    groups = {"left": noise(20, 7, -2.0), "right": noise(20, 8, 2.0)}
    projection = project_seeds(groups, "umap", random_reference=10, seed=0)
    assert projection.coordinates.shape == (50, 2) and np.isfinite(projection.coordinates).all()
    assert projection.explained_variance_ratio is None and projection.n_neighbors == 15
    assert projection.summary()["silhouette"] > 0.3
    # each point's nearest neighbour in the picture is from its own group
    distances = np.linalg.norm(projection.coordinates[:, None] - projection.coordinates[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    nearest = projection.labels[distances.argmin(1)]
    assert (nearest == projection.labels).mean() > 0.9
    again = project_seeds(groups, "umap", random_reference=10, seed=0)
    np.testing.assert_allclose(again.coordinates, projection.coordinates)
    tiny = project_seeds({"a": noise(3, 9)}, "umap")  # few points: neighbours shrink, random init
    assert tiny.coordinates.shape == (3, 2) and tiny.n_neighbors == 2
    json.dumps(projection.summary())


@pytest.mark.parametrize("groups, kwargs, message", [
    ({"a": noise(4, 0)}, {"method": "tsne"}, "unknown projection method 'tsne'"),
    ({}, {}, "non-empty"),
    ({"a": noise(4, 0)[0]}, {}, "group 'a'"),
    ({"a": noise(4, 0), "b": torch.randn(4, 1, 6, 6)}, {}, "one shape"),
    ({"a": noise(4, 0) * float("nan")}, {}, "NaN"),
    ({"a": noise(1, 0)}, {}, "at least 2"),
    ({"a": noise(2, 0)}, {"method": "umap"}, "at least 3"),
    ({RANDOM_GROUP: noise(4, 0)}, {"random_reference": 3}, "taken"),
    ({"a": noise(4, 0)}, {"random_reference": -1}, "random_reference"),
])
def test_bad_input_gets_a_clear_error(groups, kwargs, message):
    with pytest.raises(StudyInputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        project_seeds(groups, **kwargs)
