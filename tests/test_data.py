import gzip
import struct

import numpy as np
import pytest
from PIL import Image

from core.data import DatasetError, channel_stats, load_digits_split, load_fashion_mnist, load_image_folder, read_idx


def write_idx(path, array: np.ndarray, compress: bool = True):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def make_fake_fashion(root, n=5):
    rng = np.random.default_rng(0)
    for images, labels in [("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]:
        write_idx(root / f"{images}.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{labels}.gz", rng.integers(0, 10, (n,)))


def test_synthetic_idx(tmp_path):
    make_fake_fashion(tmp_path)
    images, labels = load_fashion_mnist("test", tmp_path)
    assert images.shape == (5, 1, 28, 28) and labels.shape == (5,)
    assert 0 <= images.min() and images.max() <= 1
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "raw-idx", array, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "raw-idx"), array)


def test_broken_idx(tmp_path):
    make_fake_fashion(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-10]))  # truncated data
    with pytest.raises(DatasetError, match="promises"):
        load_fashion_mnist("test", tmp_path)
    path.write_bytes(b"not gzip at all")
    with pytest.raises(DatasetError, match="cannot read IDX"):
        load_fashion_mnist("test", tmp_path)
    path.write_bytes(gzip.compress(b"\x12\x34\x56\x78rest"))
    with pytest.raises(DatasetError, match="bad magic"):
        load_fashion_mnist("test", tmp_path)


def test_missing_dataset_names_debian_package(tmp_path):
    with pytest.raises(DatasetError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("train", tmp_path)


def test_digits_split():
    train, train_labels = load_digits_split("train")
    test, _ = load_digits_split("test")
    assert train.shape == (1497, 1, 8, 8) and test.shape == (300, 1, 8, 8)
    assert train.max() == 1.0 and train.min() == 0.0 and len(train_labels) == 1497


def test_image_folder_resizes_crops_and_reports_bad_files(tmp_path):
    Image.new("RGB", (60, 40), (255, 0, 0)).save(tmp_path / "wide.png")
    Image.new("L", (30, 90), 128).save(tmp_path / "tall.jpg")
    (tmp_path / "fake.png").write_text("this is text, not an image")
    errors = []
    images, paths = load_image_folder(tmp_path, image_size=16, channels=3, on_error=errors.append)
    assert images.shape == (2, 3, 16, 16)
    assert [p.name for p in paths] == ["tall.jpg", "wide.png"]
    assert len(errors) == 1 and "fake.png" in errors[0]
    assert images[1, 0].mean() == pytest.approx(1.0) and images[1, 1].mean() == pytest.approx(0.0)


def test_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="no readable images"):
        load_image_folder(tmp_path, 16, 1)


def test_channel_stats():
    import torch

    images = torch.stack([torch.zeros(2, 4, 4), torch.ones(2, 4, 4)])
    mean, std = channel_stats(images)
    assert mean == [0.5, 0.5] and std[0] == pytest.approx((32 / 31 * 0.25) ** 0.5, abs=1e-4)


def test_corrupt_gzip_stream(tmp_path):
    make_fake_fashion(tmp_path)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[20:40] = b"\xff" * 20  # damage the deflate stream, keep the gzip header
    path.write_bytes(bytes(raw))
    with pytest.raises(DatasetError, match="cannot read IDX"):
        load_fashion_mnist("test", tmp_path)


def test_sixteen_bit_image_is_rescaled_not_clamped(tmp_path):
    array = np.zeros((16, 16), np.uint16)
    array[:, 8:] = 30000
    Image.fromarray(array).save(tmp_path / "deep.png")
    images, _ = load_image_folder(tmp_path, 16, 1)
    assert images[0, 0, :, :8].max() == 0 and images[0, 0, :, 8:].min() == 1.0
