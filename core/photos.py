"""Out-of-distribution photos bundled with scikit-image (no download): sample photos and the LFW
face subset, converted to a generator's image shape."""

from __future__ import annotations

import warnings

import numpy as np
import torch
from PIL import Image

from core.image_io import pil_to_model_input

# Bundled with scikit-image; any that fail to load on an install are left out (and not named).
PHOTOS = ("astronaut", "brick", "camera", "cat", "chelsea", "clock", "coffee", "coins", "colorwheel", "grass", "gravel",
          "horse", "hubble_deep_field", "immunohistochemistry", "logo", "moon", "page", "rocket", "text")


def scikit_image_photos(image_shape: tuple[int, int, int]) -> tuple[torch.Tensor, list[str]]:
    """The sample photos as (n, C, H, W) in [0, 1], with their names."""
    import skimage.data

    images, names = [], []
    for name in PHOTOS:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                array = np.asarray(getattr(skimage.data, name)())
        except Exception:  # a download-only image on this install
            continue
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        images.append(pil_to_model_input(Image.fromarray(array.astype(np.uint8)), image_shape, name)[0])
        names.append(name)
    return torch.stack(images), names


def lfw_faces(image_shape: tuple[int, int, int], count: int = 200) -> torch.Tensor:
    """Up to 200 grey 25x25 faces of scikit-image's LFW subset, as (count, C, H, W) in [0, 1]."""
    import skimage.data

    faces = skimage.data.lfw_subset()[:count]  # (n, 25, 25) float in [0, 1]
    return torch.stack([pil_to_model_input(Image.fromarray((face * 255).round().astype(np.uint8)), image_shape, "lfw")[0]
                        for face in faces])
