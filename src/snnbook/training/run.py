"""The run layer: what every training run of the book's networks shares, written once.

Chapter: A deep network that learns with spikes (book/mozafari2019.md), and every network
chapter after it.

A network's recipe (:mod:`snnbook.training.mozafari2019`, :mod:`~snnbook.training.gradient`,
:mod:`~snnbook.training.diehl_cook2015`, :mod:`~snnbook.training.events`) says what one step of
training is; a :class:`Run` owns the rest:

* the files: ``{out}/{name}.json`` (results, written once, on success only), ``{out}/{name}.pt``
  (weights) and ``{out}/checkpoints/{name}.pt`` with its SHA-256 beside it
  (``{name}.pt.sha256``), verified before a resume uses it; output goes to :data:`DEFAULT_OUT`
  (``runs/``) unless a folder is named, and an existing run is never replaced without
  ``force=True``;
* resume (``resume=True`` continues from the checkpoint and says where) and interrupt: the first
  Ctrl-C (SIGINT) asks the run to stop at the next point where its state is consistent, where it
  saves a checkpoint and raises :class:`TrainingInterrupted`; a second Ctrl-C stops at once;
* progress and logging: tqdm bars only on a terminal; otherwise (and always with ``verbose``) one
  ``logging`` line per epoch on the ``"snnbook"`` logger;
* provenance (:func:`provenance`): the snnbook version, and for a run from a source checkout its
  commit taken when the run starts, whether the tree was dirty and a hash of the diff;
* the device of torch-trained networks (:func:`resolve_device`).

Checkpoints are removed after a successful run unless ``keep_checkpoint=True``.
"""
from __future__ import annotations

import datetime
import hashlib
import io
import json
import logging
import os
import platform
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

__all__ = ["Run", "RunExists", "TrainingInterrupted", "DEFAULT_OUT", "provenance", "machine_info",
           "git_commit", "resolve_device", "confusion", "write_json", "save_verified", "load_verified",
           "tensor_digest", "load_weights", "check_entry"]

log = logging.getLogger("snnbook.train")

#: Where runs go unless a folder is named (the published record, ``results/``, is written only when
#: it is named explicitly).
DEFAULT_OUT = "runs"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+=-]*")


class RunExists(ValueError):
    """A run of this name already has a results file in the output folder."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on Ctrl-C after saving a checkpoint.

    Attributes:
        name: the run's name.
        checkpoint: path of the checkpoint written (``None`` if nothing could be saved yet).
        where: where training stopped, in words.
    """

    def __init__(self, name: str, checkpoint: Path | None, where: str):
        super().__init__(f"{name}: interrupted at {where}")
        self.name, self.checkpoint, self.where = name, checkpoint, where


# ---- provenance and machine ---------------------------------------------------------------------
def _checkout_root() -> Path | None:
    """The root of the snnbook source checkout this package runs from, or None when it runs from an
    installed copy (a wheel in site-packages: a git repository around it is someone else's)."""
    pkg = Path(__file__).resolve().parents[1]          # .../src/snnbook
    root = pkg.parents[1]                              # .../ (holds pyproject.toml and src/)
    try:
        if pkg.parent.name != "src" or 'name = "snnbook"' not in (root / "pyproject.toml").read_text():
            return None
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if top.returncode != 0 or Path(top.stdout.strip()).resolve() != root.resolve():
        return None
    return root


def _git(root: Path, *args: str) -> str | None:
    try:
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.decode("utf-8", "replace") if r.returncode == 0 else None


def provenance() -> dict:
    """Where the code of a run comes from, taken when the run starts.

    Returns:
        ``{"snnbook_version", "source", "commit", "dirty", "diff_sha256"}``: ``source`` is
        ``"checkout"`` when snnbook runs from its own git checkout (then ``commit`` is its HEAD,
        ``dirty`` whether tracked files differ from it and ``diff_sha256`` the SHA-256 of
        ``git diff HEAD``), else ``"installed"`` with the three git fields None: the commit of a
        repository that merely surrounds an installed package is never recorded.
    """
    from .. import __version__
    out = {"snnbook_version": __version__, "source": "installed", "commit": None, "dirty": None,
           "diff_sha256": None}
    root = _checkout_root()
    if root is None:
        return out
    commit = _git(root, "rev-parse", "HEAD")
    if commit is None:
        return out
    diff = _git(root, "diff", "HEAD", "--binary") or ""
    out.update(source="checkout", commit=commit.strip(), dirty=bool(diff.strip()),
               diff_sha256=hashlib.sha256(diff.encode()).hexdigest() if diff.strip() else None)
    return out


def git_commit(prov: dict | None = None) -> str | None:
    """The source checkout's commit (``-dirty`` if tracked files differ), or None for an installed
    package. ``prov``: a :func:`provenance` taken earlier (default: now)."""
    prov = provenance() if prov is None else prov
    if prov["commit"] is None:
        return None
    return prov["commit"] + ("-dirty" if prov["dirty"] else "")


def machine_info() -> dict:
    """CPU model, cores, Python/torch/numba versions, thread counts and load average of this machine
    (a load above the cores means other work shared the CPU and wall times are inflated)."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import numba
        numba_version, numba_threads = numba.__version__, numba.config.NUMBA_NUM_THREADS
    except ImportError:  # pragma: no cover
        numba_version, numba_threads = None, None
    return {"platform": platform.platform(), "cpu": cpu, "cpu_count": os.cpu_count(),
            "python": platform.python_version(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
            "numba": numba_version, "numba_threads": numba_threads,
            "load_average_1_5_15_min": [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None}


def resolve_device(fn: str, device) -> torch.device:
    """``device`` (a ``torch.device``, a string such as ``"cpu"``, ``"cuda"``, ``"cuda:1"``, or
    None for the CPU) as a ``torch.device`` that exists on this machine; ``ValueError`` naming
    ``fn`` otherwise."""
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"{fn}: device must be a str or torch.device (e.g. 'cpu', 'cuda'), got "
                        f"{type(device).__name__}")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"{fn}: device must name a torch device such as 'cpu', 'cuda' or 'cuda:1', "
                         f"got {device!r}") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"{fn}: device={device!r} asks for CUDA, but torch finds no CUDA GPU here "
                             f"(torch {torch.__version__}); use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"{fn}: device={device!r}: this machine has {torch.cuda.device_count()} "
                             "CUDA device(s)")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"{fn}: device={device!r}: MPS is not available here; use 'cpu'")
    elif dev.type != "cpu":
        raise ValueError(f"{fn}: device must be 'cpu', 'cuda[:N]' or 'mps', got {device!r}")
    return dev


def confusion(labels: torch.Tensor, predictions: torch.Tensor, n_classes: int = 10) -> torch.Tensor:
    """Confusion matrix ``[n_classes, n_classes]`` (rows: true class, columns: decision), int64.
    Decisions ``< 0`` (a silent network, an unlabelled neuron) are counted in no column, so a row's
    sum can be below the class's count.

    Example:
        >>> confusion(torch.tensor([0, 1, 1]), torch.tensor([0, 1, -1]), n_classes=2).tolist()
        [[1, 0], [0, 1]]
    """
    labels = torch.as_tensor(labels).reshape(-1).long().cpu()
    predictions = torch.as_tensor(predictions).reshape(-1).long().cpu()
    ok = predictions >= 0
    flat = labels[ok] * n_classes + predictions[ok]
    return torch.bincount(flat, minlength=n_classes * n_classes).view(n_classes, n_classes)


# ---- files ---------------------------------------------------------------------------------------
def write_json(path: Path, obj) -> None:
    """Write ``obj`` as indented JSON atomically (a temporary file, then a rename): a reader never
    sees half a file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def save_verified(path: Path, obj) -> str:
    """``torch.save`` ``obj`` to ``path`` atomically, with its SHA-256 in ``{path}.sha256``.

    Returns:
        The hex digest.
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save(obj, buf)
    blob = buf.getvalue()
    digest = hashlib.sha256(blob).hexdigest()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(blob)
    os.replace(tmp, path)
    side = path.with_name(path.name + ".sha256")
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(f"{digest}  {path.name}\n")
    os.replace(tmp, side)
    return digest


def load_verified(fn: str, path: Path, what: str = "checkpoint"):
    """Read a file written by :func:`save_verified`, check its SHA-256 and load it with
    ``torch.load(..., weights_only=True)``; ``ValueError`` naming ``fn``, the file and what to do
    when the digest is missing or differs or the file cannot be read."""
    path = Path(path)
    side = path.with_name(path.name + ".sha256")
    remedy = f"remove {path} (and {side.name}) to start again"
    try:
        blob = path.read_bytes()
        expected = side.read_text().split()[0]
    except (OSError, IndexError) as err:
        raise ValueError(f"{fn}: {what} {path} cannot be verified ({err.__class__.__name__}: "
                         f"{getattr(err, 'strerror', None) or err}); {remedy}") from None
    if hashlib.sha256(blob).hexdigest() != expected:
        raise ValueError(f"{fn}: {what} {path} is damaged (its SHA-256 differs from the one written "
                         f"with it); {remedy}")
    try:
        return torch.load(io.BytesIO(blob), weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unpickling error means an unusable file
        raise ValueError(f"{fn}: {what} {path} cannot be read ({err.__class__.__name__}); {remedy}") from None


def tensor_digest(obj) -> str:
    """SHA-256 of the tensors and plain values of a weights dictionary (keys sorted; a tensor
    contributes its name, dtype, shape and bytes), ignoring the ``"digest"`` entry itself: the
    same weights give the same digest whatever the file's serialisation.

    Example:
        >>> a = tensor_digest({"w": torch.ones(2), "seed": 0})
        >>> a == tensor_digest({"seed": 0, "w": torch.ones(2)}) != tensor_digest({"w": torch.zeros(2), "seed": 0})
        True
    """
    h = hashlib.sha256()

    def feed(key: str, value) -> None:
        if isinstance(value, dict):
            for k in sorted(value, key=str):
                feed(f"{key}/{k}", value[k])
        elif isinstance(value, torch.Tensor):
            t = value.detach().cpu().contiguous()
            h.update(f"{key}:{t.dtype}:{tuple(t.shape)}:".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            h.update(f"{key}={json.dumps(value, sort_keys=True, default=str)};".encode())

    feed("", {k: v for k, v in obj.items() if k != "digest"})
    return h.hexdigest()


def _infer_kind(state: dict) -> str | None:
    """The network of a weights file written before files named it."""
    if "conv1" in state and "conv3" in state:
        return "mozafari2019"
    if "theta" in state and "labels" in state:
        return "diehl_cook2015"
    if "network" in state and "state_dict" in state:
        return "gradient"
    if "channels" in state and "state_dict" in state:
        return "events"
    return None


def load_weights(fn: str, path, kind: str) -> dict:
    """Read a weights file of the network ``kind`` and verify it before it is used.

    A file inside the published record (``snnbook._resources.published_dir()``) must match
    the SHA-256 its manifest lists; any other file must carry the digest of its tensors that
    :meth:`Run.save_weights` writes into it (:func:`tensor_digest`) and name its network
    (``"kind"``), or be a byte-for-byte copy of a file of the record. Reading uses
    ``torch.load(..., weights_only=True)``.

    Returns:
        The file's dictionary.

    Raises:
        ValueError: naming ``fn``, the file and what to do, when the file is missing, empty,
            truncated, damaged, not a weights file, or of another network.
    """
    from .._resources import verify_published
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{fn}: path must be a file path (str or os.PathLike), got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{fn}: {str(path)!r} is not a file" + (" (it is a folder)" if path.is_dir() else ""))
    published = verify_published(fn, path)
    try:
        blob = path.read_bytes()
        state = torch.load(io.BytesIO(blob), weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure to read or unpickle: a damaged file
        raise ValueError(f"{fn}: {path} is not a readable weights file ({err.__class__.__name__}); it is "
                         "empty, truncated or damaged: train the network again or restore the file") from None
    if not isinstance(state, dict):
        raise ValueError(f"{fn}: {path} holds a {type(state).__name__}, not a weights dictionary")
    if not published:
        from .._resources import manifest
        try:
            copy_of_published = hashlib.sha256(blob).hexdigest() in set(manifest().values())
        except FileNotFoundError:  # pragma: no cover - an installation without its record
            copy_of_published = False
        if "digest" not in state and not copy_of_published:
            raise ValueError(f"{fn}: {path} carries no digest of its weights, so it cannot be verified "
                             "(weights written by snnbook carry one); train the network again")
        if "digest" in state and tensor_digest(state) != state["digest"]:
            raise ValueError(f"{fn}: {path} is damaged: its weights do not match the digest written with "
                             "them; train the network again or restore the file")
    got = state.get("kind") or _infer_kind(state)
    if got is not None and got != kind:
        raise ValueError(f"{fn}: {path} holds weights of {got!r}, not of {kind!r}; load it with the "
                         f"loader of {got}")
    return state


def check_entry(fn: str, path, state: dict, key: str, *, shape=None, dtypes=None, low=None, high=None,
                integer: bool = False):
    """Check one entry of a loaded weights file: present, a tensor of the given ``shape`` (a tuple,
    ``None`` for any size on that axis) and ``dtypes``, finite, within ``[low, high]``; or, with
    ``integer``, a Python int within the bounds. ``ValueError`` naming ``fn``, the file and the
    entry otherwise. Returns the entry."""
    if key not in state:
        raise ValueError(f"{fn}: {path} has no {key!r} entry: it is not a weights file of this network")
    value = state[key]
    if integer:
        if isinstance(value, bool) or not isinstance(value, int) or (low is not None and value < low) or (
                high is not None and value > high):
            raise ValueError(f"{fn}: {path}: {key} must be an integer in [{low}, {high}], got {value!r}")
        return value
    if not isinstance(value, torch.Tensor):
        raise ValueError(f"{fn}: {path}: {key} must be a tensor, got {type(value).__name__}")
    if shape is not None and (value.dim() != len(shape) or any(
            want is not None and got != want for got, want in zip(value.shape, shape))):
        want = "[" + ", ".join("*" if w is None else str(w) for w in shape) + "]"
        raise ValueError(f"{fn}: {path}: {key} must have shape {want}, got {list(value.shape)}")
    if dtypes is not None and value.dtype not in dtypes:
        raise ValueError(f"{fn}: {path}: {key} must have dtype in {[str(d) for d in dtypes]}, got {value.dtype}")
    if value.numel():
        v = value.double() if value.is_floating_point() else value
        if value.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise ValueError(f"{fn}: {path}: {key} holds NaN or infinite values")
        if (low is not None and float(v.min()) < low) or (high is not None and float(v.max()) > high):
            raise ValueError(f"{fn}: {path}: {key} must lie in [{low}, {high}], got values in "
                             f"[{float(v.min()):.4g}, {float(v.max()):.4g}]")
    return value


# ---- progress --------------------------------------------------------------------------------------
class _NoBar:
    """Stands in for a tqdm bar where none is shown."""

    def __init__(self, total=0, initial=0):
        self.n, self.total = initial, total

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


# ---- the run ----------------------------------------------------------------------------------------
class Run:
    """The files, checkpoints, interrupt handling, progress, logging and provenance of one run.

    Use it as a context manager around the training loop (it installs the Ctrl-C handler there and
    restores the previous one after)::

        run = Run("train_x", "x-seed0", out, config=config, resume=resume)
        state = run.load_checkpoint()          # None unless resuming
        with run:
            for ...:
                ...one consistent step...
                run.boundary(save)             # saves and stops here after a Ctrl-C
        run.finish(results)                    # JSON on success only; checkpoint removed

    Args:
        fn: the calling function's name (for messages).
        name: the run's name: the base name of its files (letters, digits, ``._+=-``).
        out: the output folder (created; default :data:`DEFAULT_OUT`).
        config: the run's configuration (a resumed checkpoint must have been made with it).
        resume: continue from ``{out}/checkpoints/{name}.pt`` if it exists.
        force: replace an existing run of this name (without it: :class:`RunExists`).
        progress: show tqdm bars (only where stderr is a terminal).
        verbose: log one line per epoch even when bars are shown.
        keep_checkpoint: keep the checkpoint after a successful run.
        command: the command line that reproduces the run (recorded; used in the resume hint).
    """

    def __init__(self, fn: str, name: str, out=DEFAULT_OUT, *, config: dict, resume: bool = False,
                 force: bool = False, progress: bool = True, verbose: bool = False,
                 keep_checkpoint: bool = False, command: str | None = None):
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"{fn}: name must be a file base name of letters, digits and '._+=-' "
                             f"(no folders), got {name!r}")
        if not isinstance(out, (str, os.PathLike)):
            raise TypeError(f"{fn}: out must be a folder path (str or os.PathLike), got {type(out).__name__}")
        for arg, v in (("resume", resume), ("force", force), ("progress", progress), ("verbose", verbose),
                       ("keep_checkpoint", keep_checkpoint)):
            if not isinstance(v, bool):
                raise TypeError(f"{fn}: {arg} must be a bool, got {v!r} ({type(v).__name__})")
        out = Path(out)
        if out.exists() and not out.is_dir():
            raise ValueError(f"{fn}: out={str(out)!r} must be a folder, but it is a file")
        try:
            (out / "checkpoints").mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise ValueError(f"{fn}: out={str(out)!r} cannot be created ({err.strerror})") from None
        if not os.access(out, os.W_OK) or not os.access(out / "checkpoints", os.W_OK):
            raise ValueError(f"{fn}: out={str(out)!r} is not writable")
        self.fn, self.name, self.out, self.config = fn, name, out, config
        self.resume, self.force, self.keep_checkpoint, self.command = resume, force, keep_checkpoint, command
        self.results_path = out / f"{name}.json"
        self.weights_path = out / f"{name}.pt"
        self.checkpoint_path = out / "checkpoints" / f"{name}.pt"
        if self.results_path.exists() and not force and not (resume and self.checkpoint_path.exists()):
            what = ("is complete and its checkpoint is gone, so there is nothing to resume"
                    if resume else "already exists")
            raise RunExists(f"{fn}: run {name!r} {what} ({self.results_path}); pass force=True "
                            "(--force) to replace it, or choose another name (--name)")
        self.bars = progress and sys.stderr.isatty()
        self.epoch_lines = verbose or not self.bars
        self.provenance = provenance()
        self.started = time.time()
        self._stop = False
        self._previous = None
        self._where = "the start"

    # -- checkpoints --
    def load_checkpoint(self) -> dict | None:
        """The saved checkpoint (verified) when resuming and one exists, else None. A checkpoint
        made with another configuration is refused (``ValueError``)."""
        if not (self.resume and self.checkpoint_path.exists()):
            if self.resume:
                log.info("%s: no checkpoint in %s; starting from the beginning", self.name,
                         self.checkpoint_path.parent)
            return None
        return load_verified(self.fn, self.checkpoint_path)

    def check_config(self, saved: dict, current: dict, ignore=()) -> None:
        """``ValueError`` if a checkpoint's configuration ``saved`` differs from ``current`` in a key
        outside ``ignore``."""
        keys = (set(saved) | set(current)) - set(ignore)
        diff = sorted(k for k in keys if saved.get(k) != current.get(k))
        if diff:
            raise ValueError(f"{self.fn}: checkpoint {self.checkpoint_path} was made with another "
                             f"configuration ({', '.join(f'{k}={saved.get(k)!r}' for k in diff)}; now "
                             f"{', '.join(f'{k}={current.get(k)!r}' for k in diff)}); pass the same "
                             "options, or remove it to start again")

    def resumed(self, where: str) -> None:
        """Say where a resumed run continues from."""
        self._where = where
        log.info("%s: resuming from %s (checkpoint %s)", self.name, where, self.checkpoint_path)

    def save(self, state: dict, where: str) -> None:
        """Write the checkpoint ``state`` (atomically, with its digest); ``where`` says in words
        where training stands (used if it stops here)."""
        save_verified(self.checkpoint_path, state)
        self._where = where

    def boundary(self, save) -> None:
        """A point where the run's state is consistent: after a Ctrl-C, call ``save()`` (which
        writes the checkpoint through :meth:`save`) and raise :class:`TrainingInterrupted`."""
        if self._stop:
            save()
            raise TrainingInterrupted(self.name, self.checkpoint_path, self._where)

    # -- Ctrl-C --
    def _on_sigint(self, signum, frame):
        if self._stop:  # second Ctrl-C: stop at once
            signal.signal(signal.SIGINT, self._previous or signal.default_int_handler)
            raise KeyboardInterrupt
        self._stop = True
        log.warning("%s: interrupted: saving a checkpoint at the next consistent point "
                    "(Ctrl-C again stops at once, losing the work since the last checkpoint)", self.name)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
        log.info("%s: training (files in %s; Ctrl-C saves a checkpoint)", self.name, self.out)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    # -- progress and logging --
    def bar(self, total: int, desc: str, initial: int = 0, unit: str = "digit"):
        """A tqdm bar on a terminal (with ``progress``), else an object with the same methods."""
        if not self.bars:
            return _NoBar(total, initial)
        from tqdm.auto import tqdm
        return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True, smoothing=0.05)

    def epoch(self, message: str, *args) -> None:
        """One log line per epoch (where no bar is shown, or with ``verbose``)."""
        if self.epoch_lines:
            log.info("%s: " + message, self.name, *args)

    # -- the end --
    def record(self) -> dict:
        """The fields every results file carries: provenance, dates, machine (and ``sweep``, the
        command of the sweep that started the run, when ``snnbook sweep`` did)."""
        end = time.time()
        sweep = {"sweep": os.environ["SNNBOOK_SWEEP"]} if os.environ.get("SNNBOOK_SWEEP") else {}
        return {**sweep, "complete": True, "snnbook_version": self.provenance["snnbook_version"],
                "provenance": self.provenance,
                "date_start": datetime.datetime.fromtimestamp(self.started).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z"),
                "date": datetime.datetime.fromtimestamp(end).astimezone().strftime("%Y-%m-%dT%H:%M:%S%z"),
                "machine": machine_info()}

    def save_weights(self, obj: dict, kind: str) -> Path:
        """Write the run's weights file ``{out}/{name}.pt`` atomically, with the network's ``kind``
        and the :func:`tensor_digest` of its tensors inside (checked by :func:`load_weights`)."""
        obj = {**obj, "kind": kind}
        obj["digest"] = tensor_digest(obj)
        tmp = self.weights_path.with_name(self.weights_path.name + ".tmp")
        torch.save(obj, tmp)
        os.replace(tmp, self.weights_path)
        return self.weights_path

    def finish(self, results: dict) -> dict:
        """Write ``results`` (with :meth:`record`'s fields added where absent) as
        ``{out}/{name}.json`` and remove the checkpoint unless ``keep_checkpoint``."""
        for key, value in self.record().items():
            results.setdefault(key, value)
        write_json(self.results_path, results)
        from .._resources import update_manifest
        update_manifest(self.out, [self.results_path, self.weights_path])
        if not self.keep_checkpoint:
            for p in (self.checkpoint_path, self.checkpoint_path.with_name(self.checkpoint_path.name + ".sha256")):
                p.unlink(missing_ok=True)
        log.info("%s: results in %s", self.name, self.results_path)
        return results
