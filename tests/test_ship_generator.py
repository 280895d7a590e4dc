"""scripts/ship_generator.py: a run stopped mid-epoch ships with a validation record of the weights it ships."""

import json
import sys
from pathlib import Path

from core.train import main as train_main
from tests.test_training import TINY

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
from ship_generator import ship  # noqa: E402


def test_a_run_stopped_mid_epoch_logs_the_validation_of_the_shipped_weights(tmp_path):
    run = tmp_path / "run"
    # digits: 5 steps per epoch at batch 256, so 7 steps stop 2 steps into epoch 2
    assert train_main([*TINY, "--out", str(run), "--batch-size", "256", "--epochs", "3", "--max-steps", "7", "--loss", "mse"]) == 0
    ship(run, "model", "python -m core.train ...", assets=tmp_path / "assets")
    log = [json.loads(line) for line in (tmp_path / "assets" / "model" / "training_log.jsonl").read_text().splitlines()]
    assert [record["step"] for record in log] == [5, 7]
    assert log[-1]["train_loss"] is None and log[-1]["val_loss"] > 0 and len(log[-1]["val_loss_by_t"]) == 5
    assert log[0]["val_loss"] != log[-1]["val_loss"]  # measured on the shipped weights, not copied
    assert [record["val_kind"] for record in log] == ["mse", "mse"]
    config = json.loads((tmp_path / "assets" / "model" / "config.json").read_text())
    assert config["training"]["command"] == "python -m core.train ..." and (tmp_path / "assets" / "model" / "samples.png").is_file()
    # shipping again starts from the run's own log: still one validation record, not two
    ship(run, "model", "python -m core.train ...", assets=tmp_path / "assets")
    assert len((tmp_path / "assets" / "model" / "training_log.jsonl").read_text().splitlines()) == 2
