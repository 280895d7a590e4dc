import math
import re

import numpy as np
import pytest
import torch

from core.sampling import ddim_generate, ddim_step, step_times
from core.schedule import MAX_SIGNAL_RATE, MIN_SIGNAL_RATE, diffusion_schedule
from core.seeds import count_seed_list, parse_seed_list, seeded_noise


def test_schedule_endpoints():
    noise, signal = diffusion_schedule(torch.tensor([0.0, 1.0]))
    assert signal[0].item() == pytest.approx(MAX_SIGNAL_RATE, abs=1e-6)
    assert signal[1].item() == pytest.approx(MIN_SIGNAL_RATE, abs=1e-6)
    assert noise[0].item() == pytest.approx(math.sqrt(1 - 0.95**2), abs=1e-6)


def test_schedule_monotone_and_variance_preserving():
    times = torch.linspace(0, 1, 101)
    noise, signal = diffusion_schedule(times)
    assert (signal[1:] < signal[:-1]).all()
    assert (noise[1:] > noise[:-1]).all()
    torch.testing.assert_close(noise**2 + signal**2, torch.ones_like(times))


def test_one_ddim_step_matches_closed_form(linear_denoiser):
    x_t = torch.randn(3, 1, 4, 4)
    t, t_next = 0.7, 0.6
    next_x, pred_x0 = ddim_step(linear_denoiser, x_t, t, t_next)
    angle = lambda s: math.acos(0.95) + s * (math.acos(0.02) - math.acos(0.95))  # noqa: E731
    noise_rate, signal_rate = math.sin(angle(t)), math.cos(angle(t))
    eps = 0.5 * x_t
    expected_x0 = (x_t - noise_rate * eps) / signal_rate
    expected_next = math.cos(angle(t_next)) * expected_x0 + math.sin(angle(t_next)) * eps
    torch.testing.assert_close(pred_x0, expected_x0)
    torch.testing.assert_close(next_x, expected_next)


def test_generate_returns_last_x0_prediction(linear_denoiser):
    z = torch.randn(2, 1, 4, 4)
    times = step_times(3).tolist()
    x = z
    for t, t_next in zip(times[:-1], times[1:]):
        x, x0 = ddim_step(linear_denoiser, x, t, t_next)
    torch.testing.assert_close(ddim_generate(linear_denoiser, z, steps=3), x0)


def test_step_times_and_bad_steps():
    assert step_times(10)[0] == 1 and step_times(10)[-1] == 0 and len(step_times(10)) == 11
    with pytest.raises(ValueError):
        step_times(0)


def test_parse_seed_list():
    assert parse_seed_list("0-3,7, 10-11") == [0, 1, 2, 3, 7, 10, 11]
    for bad, words in [("", "empty"), ("a-b", "bad seed list item 'a-b'"), ("-3", "between 0 and 2**63 - 1"),
                       ("5-2", "a range runs from the smaller number to the larger ('2-5')"), ("1,,2", "empty item"),
                       ("3,", "empty item"), ("\u0663", "bad seed list item")]:  # '٣', an Arabic-Indic 3, which int() reads
        with pytest.raises(ValueError, match=re.escape(words)):
            parse_seed_list(bad)
    assert count_seed_list("0-3,7, 10-11") == 7 and count_seed_list("0-" + str(10**15)) == 10**15 + 1  # not expanded
    assert parse_seed_list("0-2,9", max_count=4) == [0, 1, 2, 9]
    with pytest.raises(ValueError, match="1,000,000,000,001 seeds asked; at most 4"):
        parse_seed_list("0-" + str(10**12), max_count=4)  # refused at once, no list of 10^12 numbers first


def test_same_seed_same_image_whatever_batch(tiny_generator):
    shape = tiny_generator.image_shape
    alone = tiny_generator.generate(seeded_noise([42], shape))
    batch = tiny_generator.generate(seeded_noise([7, 3, 42, 9], shape))
    other = tiny_generator.generate(seeded_noise(list(range(40, 50)), shape))
    torch.testing.assert_close(alone[0], batch[2], atol=1e-5, rtol=0)
    torch.testing.assert_close(alone[0], other[2], atol=1e-5, rtol=0)
    assert not torch.allclose(batch[0], batch[1])


def test_other_step_counts(tiny_generator):
    z = seeded_noise([1, 2], tiny_generator.image_shape)
    for steps in (1, 4, 25):
        images = tiny_generator.generate(z, steps=steps)
        assert images.shape == (2, *tiny_generator.image_shape)
        assert images.min() >= 0 and images.max() <= 1 and torch.isfinite(images).all()
    assert not torch.allclose(tiny_generator.generate(z, steps=4), tiny_generator.generate(z, steps=25))


def test_seeded_noise_takes_whole_numbers_only():
    torch.testing.assert_close(seeded_noise([np.int64(3)], (1, 2, 2)), seeded_noise([3], (1, 2, 2)))
    for bad, error in [("12", TypeError), ([-1], ValueError), ([1.7], ValueError), ([2**64], ValueError), ([True], ValueError)]:
        with pytest.raises(error):
            seeded_noise(bad, (1, 2, 2))  # '12' was seeds 1 and 2, 1.7 was seed 1, -1 and 2**64 a torch error
