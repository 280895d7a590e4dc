import json

import pytest
import torch

from core.checkpoint import CheckpointError, load_generator, save_generator
from core.seeds import seeded_noise
from core.unet import get_preset, UNetConfig


def test_round_trip(tmp_path, tiny_generator):
    save_generator(tiny_generator, tmp_path / "ckpt", {"training": {"note": "test"}})
    loaded = load_generator(tmp_path / "ckpt")
    assert loaded.config == tiny_generator.config
    assert not loaded.training
    torch.testing.assert_close(loaded.mean, tiny_generator.mean)
    z = seeded_noise([0, 1], tiny_generator.image_shape)
    # weights are stored in fp16, so outputs agree to fp16 precision
    torch.testing.assert_close(loaded.generate(z), tiny_generator.generate(z), atol=2e-2, rtol=0)
    assert json.loads((tmp_path / "ckpt" / "config.json").read_text())["training"] == {"note": "test"}


def test_config_round_trip():
    config = get_preset("celeba64")
    assert UNetConfig.from_dict(config.to_dict()) == config
    assert config.widths == [48, 96, 192, 384] and config.block_depth == 2
    with pytest.raises(ValueError, match="unknown preset 'nope'.*celeba64"):
        get_preset("nope")


def test_corrupt_weights(tmp_path, tiny_generator):
    save_generator(tiny_generator, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_generator(tmp_path)


def test_mismatched_weights(tmp_path, tiny_generator):
    save_generator(tiny_generator, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["unet"]["widths"] = [16, 32]
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="do not match the config.*wrong shape"):
        load_generator(tmp_path)


def test_foreign_and_missing(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_generator(tmp_path / "absent")
    with pytest.raises(CheckpointError, match="no config.json"):
        load_generator(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"_class_name": "UNet2DModel"}))
    with pytest.raises(CheckpointError, match="expected 'ddim-generator'"):
        load_generator(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_generator(tmp_path)
