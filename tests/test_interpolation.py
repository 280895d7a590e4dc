import pytest
import torch

from core.interpolation import interpolate_seeds


def test_endpoints_and_shapes():
    a, b = torch.randn(1, 4, 4), torch.randn(1, 4, 4)
    for mode in ("linear", "spherical"):
        path = interpolate_seeds(a, b, 5, mode)
        assert path.shape == (5, 1, 4, 4)
        torch.testing.assert_close(path[0], a)
        torch.testing.assert_close(path[-1], b)


def test_slerp_keeps_the_norm_of_equal_norm_seeds():
    a = torch.randn(1, 16, 16)
    b = torch.randn(1, 16, 16)
    b = b / b.norm() * a.norm()
    middle_slerp = interpolate_seeds(a, b, 3, "spherical")[1]
    middle_lerp = interpolate_seeds(a, b, 3, "linear")[1]
    assert middle_slerp.norm() == pytest.approx(a.norm().item(), rel=1e-4)
    assert middle_lerp.norm() < 0.8 * a.norm()  # the straight line cuts through the low-norm interior


def test_bad_arguments():
    with pytest.raises(ValueError, match="seeds differ in shape"):
        interpolate_seeds(torch.ones(1, 2, 2), torch.ones(1, 3, 3), 4)
    with pytest.raises(ValueError, match="at least 2 frames"):
        interpolate_seeds(torch.zeros(1, 2, 2), torch.ones(1, 2, 2), 1)
    with pytest.raises(ValueError, match="unknown interpolation mode 'cubic'"):
        interpolate_seeds(torch.ones(1, 2, 2), -torch.ones(1, 2, 2), 3, "cubic")


def test_seeds_that_cannot_be_interpolated_are_named():
    a, b = torch.randn(1, 4, 4), torch.randn(1, 4, 4)
    with pytest.raises(ValueError, match=r"one pair of seeds \(C, H, W\) at a time.*take seeds\[i\] of a batch"):
        interpolate_seeds(a[None], b[None], 5)  # a batch of one: it returned a (5, 1, 1, 4, 4) path
    with pytest.raises(ValueError, match="two non-zero seeds"):
        interpolate_seeds(a, torch.zeros_like(a), 3)  # slerp to zero gave NaN
    assert torch.isfinite(interpolate_seeds(a, torch.zeros_like(a), 3, "linear")).all()
    with pytest.raises(ValueError, match="weights must be finite"):
        from core.interpolation import blend_seeds
        blend_seeds(a, b, [0.5, float("nan")])
