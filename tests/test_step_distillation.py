"""Step distillation: the noise targets land the student's one step exactly where the teacher's substeps land."""

import json

import pytest
import torch

from core.sampling import ddim_step, step_times
from core.schedule import diffusion_schedule
from core.step_distillation import distillation_loss, output_scale, student_step, teacher_noise_targets
from core.train import main as train_main
from core.unet import UNet, get_preset
from tests.test_training import TINY


@pytest.fixture(scope="module")
def teacher() -> UNet:
    torch.manual_seed(0)
    unet = UNet(get_preset("tiny")).eval()
    with torch.no_grad():  # a non-trivial denoiser: the fresh UNet's output convolution starts at zero
        for parameter in unet.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    return unet


def _noisy(images: torch.Tensor, noises: torch.Tensor, step_indices: torch.Tensor, steps: int) -> torch.Tensor:
    noise_rates, signal_rates = diffusion_schedule(step_times(steps)[step_indices].reshape(-1, 1, 1, 1))
    return signal_rates * images + noise_rates * noises


@pytest.mark.parametrize("substeps", [1, 3])
def test_targets_land_the_student_step_on_the_teacher_result(teacher, substeps):
    steps, size = 5, get_preset("tiny").image_size
    torch.manual_seed(1)
    images, noises = torch.randn(10, 1, size, size), torch.randn(10, 1, size, size)
    step_indices = torch.arange(10) % steps  # every interval, the last (x0-returning) one included
    noisy = _noisy(images, noises, step_indices, steps)
    targets = teacher_noise_targets(teacher, noisy, step_indices, steps, substeps)

    grid = step_times(steps * substeps)
    for row in range(10):
        index = int(step_indices[row])
        # a student whose noise prediction is eps*, taking its one step
        landed = student_step(lambda x, variances: targets[row : row + 1], noisy[row : row + 1], step_indices[row : row + 1], steps)
        # the teacher's result, by walking the interval in `substeps` plain DDIM steps
        state, x0 = noisy[row : row + 1], None
        with torch.no_grad():
            for k in range(index * substeps, (index + 1) * substeps):
                state, x0 = ddim_step(teacher, state, float(grid[k]), float(grid[k + 1]))
        expected = x0 if index == steps - 1 else state
        torch.testing.assert_close(landed, expected, rtol=1e-4, atol=1e-4)


def test_one_substep_reproduces_the_teacher_and_gives_zero_loss(teacher):
    steps, size = 10, get_preset("tiny").image_size
    torch.manual_seed(2)
    images, noises = torch.randn(8, 1, size, size), torch.randn(8, 1, size, size)
    step_indices = torch.randint(0, steps, (8,))
    assert distillation_loss(teacher, teacher, images, noises, step_indices, steps, 1).abs().max() < 1e-8
    # more teacher substeps give another target: the loss is what the student has to learn
    assert distillation_loss(teacher, teacher, images, noises, step_indices, steps, 4).mean() > 1e-6


def test_substeps_must_be_positive(teacher):
    with pytest.raises(ValueError, match="substeps"):
        teacher_noise_targets(teacher, torch.zeros(1, 1, 16, 16), torch.zeros(1, dtype=torch.long), 10, 0)


def test_cli_distills_from_a_teacher_checkpoint(tmp_path):
    assert train_main([*TINY, "--out", str(tmp_path / "teacher"), "--max-steps", "3"]) == 0
    teacher = str(tmp_path / "teacher" / "ema")
    assert train_main([*TINY, "--out", str(tmp_path / "student"), "--max-steps", "2", "--lr", "1e-4",
                       "--distill-from", teacher, "--distill-substeps", "2"]) == 0
    summary = json.loads((tmp_path / "student" / "ema" / "config.json").read_text())["training"]
    assert summary["distillation"] == {"teacher": teacher, "steps": 10, "substeps": 2, "weighting": "noise"}


def test_cli_refuses_a_teacher_inside_the_output(tmp_path, capsys):
    assert train_main([*TINY, "--out", str(tmp_path), "--max-steps", "1"]) == 0
    (tmp_path / "train_state.safetensors").rename(tmp_path / "old_state.safetensors")  # not a resume
    assert train_main([*TINY, "--out", str(tmp_path), "--max-steps", "1", "--distill-from", str(tmp_path / "ema")]) != 0
    assert "ema" in capsys.readouterr().err


def test_cli_refuses_a_teacher_of_another_architecture(tmp_path, capsys):
    assert train_main([*TINY, "--out", str(tmp_path / "student"), "--max-steps", "1", "--distill-from", "assets/digits"]) != 0
    assert "--distill-from assets/digits has UNet config" in capsys.readouterr().err


def test_state_weighting_is_the_error_of_where_the_step_lands(teacher):
    steps, size = 4, get_preset("tiny").image_size
    torch.manual_seed(3)
    images, noises = torch.randn(8, 1, size, size), torch.randn(8, 1, size, size)
    step_indices = torch.arange(8) % steps
    torch.manual_seed(4)
    student = UNet(get_preset("tiny")).eval()
    with torch.no_grad():
        for parameter in student.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
        loss = distillation_loss(student, teacher, images, noises, step_indices, steps, 2, weighting="state")
        noisy = _noisy(images, noises, step_indices, steps)
        targets = teacher_noise_targets(teacher, noisy, step_indices, steps, 2)
        for row in range(8):
            one = slice(row, row + 1)
            landed = student_step(student, noisy[one], step_indices[one], steps)
            wanted = student_step(lambda x, v: targets[one], noisy[one], step_indices[one], steps)
            torch.testing.assert_close(loss[row], ((landed - wanted) ** 2).mean(), rtol=1e-3, atol=1e-7)
    assert output_scale(torch.tensor([0]), 10).item() == pytest.approx(6.151, abs=1e-3)  # the 6x of the first step
