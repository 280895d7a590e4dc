import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

from core.checkpoint import load_generator
from core.train import main as train_main
from core.training import ema_decay_at

ROOT = Path(__file__).resolve().parent.parent
TINY = ["--dataset", "digits", "--preset", "tiny", "--batch-size", "32", "--val-images", "50", "--sample-seeds", "4"]


def test_ema_warm_up():
    assert ema_decay_at(0, 0.999) == 0.1
    assert ema_decay_at(10**6, 0.999) == 0.999


def test_resume_is_exact(tmp_path):
    assert train_main([*TINY, "--out", str(tmp_path / "straight"), "--max-steps", "6"]) == 0
    assert train_main([*TINY, "--out", str(tmp_path / "resumed"), "--max-steps", "3"]) == 0
    state = json.loads((tmp_path / "resumed" / "train_state.json").read_text())
    assert state["global_step"] == 3 and state["step_in_epoch"] == 3
    (tmp_path / "resumed" / "train_state.json").unlink()  # the weights file alone carries the state
    assert train_main([*TINY, "--out", str(tmp_path / "resumed"), "--max-steps", "6"]) == 0
    straight = load_file(str(tmp_path / "straight" / "train_state.safetensors"))
    resumed = load_file(str(tmp_path / "resumed" / "train_state.safetensors"))
    assert straight.keys() == resumed.keys()
    for key in straight:
        torch.testing.assert_close(straight[key], resumed[key], rtol=0, atol=0, msg=key)
    generator = load_generator(tmp_path / "resumed" / "ema")  # the exported EMA checkpoint loads
    assert generator.config.widths == [8, 16]


def test_full_epoch_writes_samples_and_log(tmp_path):
    assert train_main([*TINY, "--out", str(tmp_path), "--epochs", "1", "--batch-size", "256"]) == 0
    record = json.loads((tmp_path / "log.jsonl").read_text().splitlines()[-1])
    assert record["epoch"] == 1 and len(record["val_loss_by_t"]) == 5 and record["val_loss"] > 0
    assert record["val_kind"] == "l1"  # the loss val_loss measures: the training loss (MSE for a distilled student)
    assert (tmp_path / "samples" / "epoch_001.png").is_file()
    # the epoch's EMA snapshot is the exported EMA of that moment
    snapshot, ema = load_generator(tmp_path / "epochs" / "epoch_001"), load_generator(tmp_path / "ema")
    for (name, a), b in zip(snapshot.state_dict().items(), ema.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)


def test_sigterm_saves_and_resumes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "core.train", *TINY, "--out", str(tmp_path), "--epochs", "1000"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while not (tmp_path / "samples").exists() and time.time() < deadline:  # one epoch done: training is under way
        time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=60)[0].decode()
    assert process.returncode == 0, output
    step = json.loads((tmp_path / "train_state.json").read_text())["global_step"]
    assert step > 0
    assert train_main([*TINY, "--out", str(tmp_path), "--max-steps", str(step + 2)]) == 0
    assert json.loads((tmp_path / "train_state.json").read_text())["global_step"] == step + 2


def test_ddp_replicas_stay_identical(tmp_path):
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node", "2", str(ROOT / "tests" / "ddp_worker.py"), str(tmp_path)],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys()
    for key in rank0:
        torch.testing.assert_close(rank0[key], rank1[key], rtol=0, atol=0, msg=key)
    # training happened: the zero-initialised output layer has moved
    assert rank0["output_conv.weight"].abs().sum() > 0
    assert json.loads((tmp_path / "train_state.json").read_text())["global_step"] == 4


def test_unknown_preset_lists_choices(capsys):
    import pytest

    with pytest.raises(SystemExit):
        train_main(["--preset", "huge"])
    assert "celeba64" in capsys.readouterr().err


def test_missing_dataset_message(tmp_path, capsys):
    assert train_main(["--dataset", "fashion", "--data-path", str(tmp_path), "--out", str(tmp_path / "run")]) == 2
    assert "dataset-fashion-mnist" in capsys.readouterr().err


def test_init_from_checkpoint(tmp_path):
    assert train_main([*TINY, "--out", str(tmp_path / "a"), "--max-steps", "3"]) == 0
    assert train_main([*TINY, "--out", str(tmp_path / "b"), "--max-steps", "1", "--init-from", str(tmp_path / "a" / "ema")]) == 0
    assert json.loads((tmp_path / "b" / "train_state.json").read_text())["global_step"] == 1
    source = load_file(str(tmp_path / "a" / "ema" / "model.safetensors"))
    continued = load_file(str(tmp_path / "b" / "train_state.safetensors"))
    # one small step away from the source weights, not from a fresh initialisation
    difference = (continued["model.unet.output_conv.weight"] - source["output_conv.weight"].float()).abs().max()
    assert 0 < difference < 0.01
