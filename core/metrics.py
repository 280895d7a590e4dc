"""Image and distribution metrics. SSIM comes from scikit-image (PSNR is computed from the MSE in core.embedding); the Frechet distance
is the FID formula (Heusel et al. 2017) over any feature space, with scipy's matrix square root."""

from __future__ import annotations

import numpy as np
import torch
from scipy import linalg
from skimage.metrics import structural_similarity


def ssim_per_image(a: torch.Tensor, b: torch.Tensor) -> np.ndarray:
    """(N,) SSIM (scikit-image, 7x7 window or smaller for tiny images), channels-first input."""
    a_np, b_np = a.detach().float().cpu().numpy(), b.detach().float().cpu().numpy()
    window = min(7, a_np.shape[-1] - (1 - a_np.shape[-1] % 2))
    return np.array([
        structural_similarity(x, y, data_range=1.0, channel_axis=0, win_size=window) for x, y in zip(a_np, b_np)
    ])


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) between two (N, D) feature sets."""
    mu_a, mu_b = features_a.mean(0), features_b.mean(0)
    sigma_a = np.cov(features_a, rowvar=False)
    sigma_b = np.cov(features_b, rowvar=False)
    covmean, _ = linalg.sqrtm(sigma_a @ sigma_b, disp=False)
    if not np.isfinite(covmean).all():  # near-singular product: regularize, as in the FID reference code
        offset = np.eye(len(sigma_a)) * 1e-6
        covmean = linalg.sqrtm((sigma_a + offset) @ (sigma_b + offset))
    covmean = covmean.real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))
