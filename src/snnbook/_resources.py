"""Where the published record is: the results cards, results files and small weights of the book.

The record lives in ``results/`` at the root of the repository, written by the project's own
training commands (``--out results``). The package ships it as ``snnbook/published/``: every
results file (``*.json``, ``sweep/*.json``) and the weights that the chapters load, so that an
installed snnbook (``snnbook compare``, the chapters) finds it without a checkout.

:func:`published_dir` returns the repository's ``results/`` when this package is the source tree
of a checkout (an editable install, or ``src/`` on ``PYTHONPATH``), so that a new run written
there is seen at once; otherwise the copy installed with the package.

Every file of the record is listed with its SHA-256 in ``SHA256SUMS`` beside it (the format of
``sha256sum``), which ships with it: :func:`verify_published` checks a file against it before the
file is used, and :func:`update_manifest` rewrites its lines when a training command writes into
the record (``--out results``).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["published_dir", "manifest", "verify_published", "update_manifest", "MANIFEST"]

#: The manifest's file name, in the published folder.
MANIFEST = "SHA256SUMS"

_PACKAGE = Path(__file__).resolve().parent


def _checkout_results() -> Path | None:
    """``results/`` of the repository whose ``src/snnbook`` is this package, or None."""
    src, root = _PACKAGE.parent, _PACKAGE.parent.parent
    if src.name != "src" or not (root / "pyproject.toml").is_file():
        return None
    results = root / "results"
    return results if results.is_dir() else None


def published_dir() -> Path:
    """The folder of the published record (results cards, results files and shipped weights).

    Returns:
        the repository's ``results/`` when snnbook runs from a checkout's ``src/`` (editable
        install or ``PYTHONPATH``), else ``snnbook/published/`` inside the installed package. The
        folder holds ``<network>.json`` cards, ``<run>.json`` results files and the weights the
        chapters load (``<run>.pt``).

    Raises:
        FileNotFoundError: neither folder exists (an installation without its data files).

    Example:
        >>> from snnbook._resources import published_dir
        >>> (published_dir() / "mozafari2019.json").is_file()
        True
    """
    checkout = _checkout_results()
    if checkout is not None:
        return checkout
    installed = _PACKAGE / "published"
    if installed.is_dir():
        return installed
    raise FileNotFoundError(
        f"published_dir: the published record is missing: no {installed} (the wheel ships it) and "
        f"no results/ of a source checkout beside {_PACKAGE.parent}; reinstall snnbook")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _published_root() -> Path | None:
    try:
        return published_dir().resolve()
    except FileNotFoundError:
        return None


def manifest(folder: Path | None = None) -> dict[str, str]:
    """The manifest of the published record: ``{relative file name: SHA-256}`` (empty when the
    folder has none)."""
    folder = Path(folder) if folder is not None else published_dir()
    path = folder / MANIFEST
    if not path.is_file():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            out[name.strip().lstrip("*")] = digest
    return out


def verify_published(fn: str, path) -> bool:
    """Check a file of the published record against the manifest before it is used.

    Args:
        fn: the calling function (for the message).
        path: any file path.

    Returns:
        True if ``path`` lies in the published record and matches the manifest; False if it lies
        elsewhere (the caller verifies it by its own means).

    Raises:
        ValueError: the file lies in the published record but is not in the manifest, or its
            SHA-256 differs from the manifest's (the message names the file and what to do).
    """
    root = _published_root()
    path = Path(path)
    if root is None:
        return False
    try:
        rel = path.resolve().relative_to(root)
    except ValueError:
        return False
    listed = manifest(root).get(rel.as_posix())
    if listed is None:
        raise ValueError(f"{fn}: {path} lies in the published record ({root}) but its manifest "
                         f"{MANIFEST} does not list it, so it cannot be verified; restore the record "
                         "(git checkout results/, or reinstall snnbook)")
    if _sha256(path) != listed:
        raise ValueError(f"{fn}: {path} is damaged: its SHA-256 differs from the one in the published "
                         f"record's {MANIFEST}; restore it (git checkout results/, or reinstall snnbook)")
    return True


def update_manifest(folder, paths) -> None:
    """Record the SHA-256 of ``paths`` (files that a command has just written into ``folder``) in
    the manifest, when ``folder`` is the published record; elsewhere do nothing."""
    root = _published_root()
    folder = Path(folder).resolve()
    if root is None or folder != root:
        return
    entries = manifest(root)
    for p in paths:
        p = Path(p)
        if p.is_file():
            entries[p.resolve().relative_to(root).as_posix()] = _sha256(p)
    text = "".join(f"{d}  {n}\n" for n, d in sorted(entries.items()))
    tmp = root / (MANIFEST + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, root / MANIFEST)


def write_manifest(folder=None) -> Path:
    """Write the manifest of every ``*.json``, ``sweep/*.json`` and ``*.pt`` file of the published
    record (used when the record is rebuilt)."""
    folder = Path(folder) if folder is not None else published_dir()
    files = sorted([*folder.glob("*.json"), *folder.glob("sweep/*.json"), *folder.glob("*.pt")])
    text = "".join(f"{_sha256(p)}  {p.relative_to(folder).as_posix()}\n" for p in files)
    (folder / MANIFEST).write_text(text)
    return folder / MANIFEST
