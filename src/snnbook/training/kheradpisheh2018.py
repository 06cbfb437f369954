"""Recipe: Kheradpisheh et al. (2018), two STDP layers, then a linear readout of their features.

Chapters: its parts are explained in Competition and STDP (book/competition.md) and A deep network
that learns with spikes (book/mozafari2019.md).

Command line: ``snnbook train kheradpisheh2018`` (or ``python -m snnbook.train kheradpisheh2018``)::

    snnbook train kheradpisheh2018 --seed 0 --threads 1

:func:`train_kheradpisheh2018` trains layer 1 and then layer 2 of
:class:`~snnbook.models.Kheradpisheh2018` by unsupervised STDP, in the reference example's order
(digits in dataset order, every epoch; 2 epochs of layer 1 and 20 of layer 2 as in SpykeTorch's
``KheradpishehDeep.py``), on the first ``60 000 - validation`` training digits. Then it computes
the 12 150 binary features of every digit and fits two linear readouts with scikit-learn: a linear
SVM (``LinearSVC``, the paper's classifier; the example uses ``C = 2.4``) and a logistic regression.
Each readout's regularisation ``C`` is chosen on the VALIDATION digits (the last ``validation``
training digits), never on the test set; the readout is NOT refitted on the validation digits
afterwards. The test digits are classified once, by the selected readouts. Files, checkpoints
(after every chunk of STDP digits), resume (bit-identical), Ctrl-C, progress and provenance:
:class:`snnbook.training.run.Run`. The readout needs scikit-learn (``pip install
snnbook[readout]``).
"""
from __future__ import annotations

import os
import time

import numpy as np
import torch

from .. import data
from .._checks import check_bool, check_int
from ..models.kheradpisheh2018 import L1, L2, N_FEATURES, N_FEATURES_L1, Kheradpisheh2018
from .run import DEFAULT_OUT, Run, check_entry, confusion, git_commit, load_weights

__all__ = ["train_kheradpisheh2018", "load_kheradpisheh2018", "fit_readout", "DEVIATIONS", "PAPER", "QUICK",
           "C_GRID"]

#: Training digits per checkpoint in the STDP stages.
CHECKPOINT_EVERY = 10_000
#: Training digits between the points where a Ctrl-C can stop an STDP stage (STDP is sequential
#: per digit, so the chunking changes no result).
INTERRUPT_EVERY = 1_000
#: Values of the regularisation ``C`` tried for each readout (chosen on the validation digits).
C_GRID = {"linear_svm": (0.01, 0.1, 1.0, 2.4, 10.0), "logistic_regression": (0.01, 0.1, 1.0, 10.0)}
#: Iteration limit of both scikit-learn solvers.
MAX_ITER = 2000
#: A small run for a first try (``--quick``): a few hundred digits, every stage, well under a minute.
QUICK = dict(epochs_l1=1, epochs_l2=1, train_digits=600, validation=200, test_digits=300)

#: The published figure the results compare with.
PAPER = {"kheradpisheh2018": {"test_accuracy": 0.984,
                              "source": "Kheradpisheh et al. 2018, Neural Networks 99:56-67 (abstract; MNIST)"}}

#: Every known deviation of ``train_kheradpisheh2018`` from the paper and its reference example.
DEVIATIONS = [
    "The network is the one of SpykeTorch's KheradpishehDeep.py example (two DoG channels, 32 5x5 "
    "features with threshold 10, 150 2x2 features with threshold 1, pooled 9x9 output), which differs "
    "from the layer sizes, thresholds and global pooling of the paper's MNIST network.",
    "STDP and the readout use the first 50 000 training digits; the last 10 000 are a validation split "
    "on which each readout's C is chosen (the example fits LinearSVC(C=2.4) on all 60 000). The readout is "
    "not refitted on the validation digits.",
    "Besides the linear SVM, a logistic regression readout is reported (selected the same way).",
    "Feature columns that are zero on every training digit are dropped and identical columns merged into "
    "one scaled by the square root of their number: an exact rewriting of the L2-regularised problem "
    "that only saves memory and time (the saved readout is expanded back to all 12 150 features).",
    "Intensity-to-latency ranks equal values in a defined (stable) order; SpykeTorch leaves ties to "
    "torch.sort (the recorded digits have no ties at bin boundaries).",
]

_STAGES = ("l1", "l2")


def load_kheradpisheh2018(path: str | os.PathLike) -> tuple[Kheradpisheh2018, dict]:
    """Build a :class:`Kheradpisheh2018` from a weights file of :func:`train_kheradpisheh2018`.

    Args:
        path: the ``.pt`` file (``conv1``, ``conv2`` float32 weights, ``time_steps``, and the
            selected linear SVM: ``readout_coef`` ``[10, features]``, ``readout_intercept`` ``[10]``).

    Returns:
        ``(model in eval mode, readout)`` with ``readout`` a dict of ``coef``, ``intercept`` and
        ``layer1`` (whether the features include the pooled layer-1 spikes); a digit's class is
        ``argmax(features @ coef.T + intercept)``.
    """
    fn = "load_kheradpisheh2018"
    state = load_weights(fn, path, "kheradpisheh2018")
    floats = (torch.float32,)
    check_entry(fn, path, state, "conv1", shape=(32, 2, 5, 5), dtypes=floats, low=0.0, high=1.0)
    check_entry(fn, path, state, "conv2", shape=(150, 32, 2, 2), dtypes=floats, low=0.0, high=1.0)
    steps = check_entry(fn, path, state, "time_steps", integer=True, low=1, high=254)
    coef = check_entry(fn, path, state, "readout_coef", shape=(10, None), dtypes=floats)
    if coef.shape[1] not in (N_FEATURES, N_FEATURES + N_FEATURES_L1):
        raise ValueError(f"{fn}: {path}: readout_coef must have {N_FEATURES} or {N_FEATURES + N_FEATURES_L1} "
                         f"columns, got {coef.shape[1]}")
    intercept = check_entry(fn, path, state, "readout_intercept", shape=(10,), dtypes=floats)
    model = Kheradpisheh2018(time_steps=steps)
    model.conv1.load_weight(state["conv1"])
    model.conv2.load_weight(state["conv2"])
    return model.eval(), {"coef": coef, "intercept": intercept, "layer1": coef.shape[1] != N_FEATURES}


def _compact(bits: np.ndarray, n_features: int):
    """Columns of the FIT digits' packed features ``bits`` [n, bytes]: (indices of one
    representative per distinct non-zero column, for every original column the index of its
    representative or -1 when zero, the multiplicity of each representative)."""
    cols = np.unpackbits(bits, axis=1, count=n_features).T  # [features, n] 0/1
    keys = np.packbits(cols, axis=1)
    uniq, first, inverse, counts = np.unique(keys, axis=0, return_index=True, return_inverse=True,
                                             return_counts=True)
    nonzero = uniq.any(axis=1)
    new_index = np.cumsum(nonzero) - 1
    column_map = np.where(nonzero[inverse.reshape(-1)], new_index[inverse.reshape(-1)], -1)
    return first[nonzero], column_map, counts[nonzero]


def _design(bits: np.ndarray, n_features: int, keep: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return np.unpackbits(bits, axis=1, count=n_features)[:, keep].astype(np.float64) * scale


def fit_readout(kind: str, train_bits: np.ndarray, train_labels: np.ndarray, val_bits: np.ndarray,
                val_labels: np.ndarray, n_features: int, grid=None) -> dict:
    """Choose a linear readout's ``C`` on validation digits (no test digit is passed in).

    Args:
        kind: ``"linear_svm"`` (``LinearSVC``) or ``"logistic_regression"``.
        train_bits, val_bits: packed 0/1 features (``np.packbits`` along the features) of the fit
            and validation digits.
        train_labels, val_labels: their classes.
        n_features: features per digit.
        grid: the ``C`` values (default :data:`C_GRID`).

    Returns:
        ``{"validation_accuracy_per_C", "selected_C", "validation_accuracy", "train_accuracy",
        "coef" [10, n_features] (float64, on the original features), "intercept" [10]}``; ties
        between values of ``C`` go to the smaller one.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.svm import LinearSVC
    import warnings
    from sklearn.exceptions import ConvergenceWarning
    if kind not in C_GRID:
        raise ValueError(f"fit_readout: kind must be one of {sorted(C_GRID)}, got {kind!r}")
    grid = C_GRID[kind] if grid is None else tuple(grid)
    keep, column_map, counts = _compact(train_bits, n_features)
    scale = np.sqrt(counts.astype(np.float64))
    x_fit = _design(train_bits, n_features, keep, scale)
    x_val = _design(val_bits, n_features, keep, scale)
    scores, best = {}, None
    for c in grid:
        clf = (LinearSVC(C=c, max_iter=MAX_ITER, random_state=0) if kind == "linear_svm"
               else LogisticRegression(C=c, max_iter=MAX_ITER))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(x_fit, train_labels)
        acc = float((clf.predict(x_val) == val_labels).mean()) if len(val_labels) else float("nan")
        scores[str(c)] = {"validation_accuracy": acc,
                          "converged": not any(issubclass(w.category, ConvergenceWarning) for w in caught)}
        if best is None or acc > best[1]:
            best = (c, acc, clf)
    c, acc, clf = best
    coef = np.zeros((10, n_features))
    classes = [int(k) for k in clf.classes_]
    rows = clf.coef_ if clf.coef_.shape[0] == len(classes) else np.vstack([-clf.coef_[0], clf.coef_[0]])
    intercept = np.zeros(10)
    inter = np.atleast_1d(clf.intercept_)
    inter = inter if inter.shape[0] == len(classes) else np.array([-inter[0], inter[0]])
    intercept[:] = -1e30  # classes absent from the fit digits are never predicted
    for r, k in enumerate(classes):
        w = rows[r] / scale  # weight of each of the merged identical columns (exact)
        coef[k] = np.where(column_map >= 0, w[np.maximum(column_map, 0)], 0.0)
        intercept[k] = inter[r]
    return {"validation_accuracy_per_C": scores, "selected_C": c, "validation_accuracy": acc,
            "train_accuracy": float((clf.predict(x_fit) == train_labels).mean()),
            "distinct_columns": int(keep.size), "coef": coef, "intercept": intercept}


def _predict(bits: np.ndarray, n_features: int, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    out = []
    for lo in range(0, bits.shape[0], 2048):
        x = np.unpackbits(bits[lo:lo + 2048], axis=1, count=n_features).astype(np.float64)
        out.append(np.argmax(x @ coef.T + intercept, axis=1))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    torch.set_num_threads(threads)
    try:
        import numba
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover
        pass


def train_kheradpisheh2018(out: str | os.PathLike = DEFAULT_OUT, epochs_l1: int = 2, epochs_l2: int = 20,
                           time_steps: int = 15, seed: int = 0, validation: int = 10_000,
                           train_digits: int | None = None, test_digits: int | None = None,
                           layer1_features: bool = False, threads: int | None = None, resume: bool = False,
                           progress: bool = True, name: str | None = None, command: str | None = None,
                           stop_after: str | None = None, force: bool = False, keep_checkpoint: bool = False,
                           verbose: bool = False) -> dict:
    """Train the 2018 network layer by layer, fit and select its readouts, write ``{out}/{name}.json``.

    Args:
        out: folder of the results JSON and weights (default ``runs/``).
        epochs_l1: STDP epochs of layer 1 (2 in the reference example).
        epochs_l2: STDP epochs of layer 2 (20 in the reference example).
        time_steps: steps of the latency code.
        seed: seed of the initial weights.
        validation: the LAST ``validation`` training digits choose each readout's ``C`` (at least 1).
        train_digits: use only the first ``train_digits`` training digits (including the
            validation ones); ``None``: all 60 000.
        test_digits: use only the first ``test_digits`` test digits; ``None``: all 10 000.
        layer1_features: variant: the readout also sees the pooled layer-1 spikes (19 350 features).
        threads: torch and numba threads (``None``: leave them).
        resume: continue from ``{out}/checkpoints/{name}.pt`` (bit-identical to an uninterrupted run).
        progress: tqdm bars where stderr is a terminal; elsewhere one log line per epoch.
        name: base name of the files (default ``kheradpisheh2018-seed{seed}``).
        command: the command line recorded in the JSON.
        stop_after: ``"l1"``, ``"l2"`` (end of a stage) or ``"l1-digit-N"``, ``"l2-digit-N"`` (after
            N digits of that stage, a multiple of 1 000 or the stage's end): save a checkpoint and
            return ``{"stopped_after": ...}`` (to test resume).
        force: replace an existing run of the same name.
        keep_checkpoint: keep the checkpoint after the run ends.
        verbose: one log line per epoch even where bars are shown.

    Returns:
        The results dict (also written as JSON).

    Raises:
        snnbook.training.TrainingInterrupted: after Ctrl-C, once the checkpoint is saved.
    """
    fn = "train_kheradpisheh2018"
    for arg, v, lo in (("epochs_l1", epochs_l1, 0), ("epochs_l2", epochs_l2, 0), ("seed", seed, 0),
                       ("validation", validation, 1)):
        check_int(fn, arg, v, minimum=lo)
    n_all = 60_000 if train_digits is None else check_int(fn, "train_digits", train_digits, minimum=2,
                                                          maximum=60_000)
    n_test = 10_000 if test_digits is None else check_int(fn, "test_digits", test_digits, minimum=1, maximum=10_000)
    if threads is not None:
        check_int(fn, "threads", threads, minimum=1)
    for arg, v in (("resume", resume), ("progress", progress), ("layer1_features", layer1_features)):
        check_bool(fn, arg, v)
    for arg, v in (("name", name), ("command", command), ("stop_after", stop_after)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{fn}: {arg} must be a str or None, got {v!r} ({type(v).__name__})")
    stop_stage, stop_digit = None, None
    if stop_after is not None:
        parts = stop_after.split("-digit-")
        if parts[0] not in _STAGES or (len(parts) == 2 and not parts[1].isdigit()) or len(parts) > 2:
            raise ValueError(f"{fn}: stop_after must be 'l1', 'l2', 'l1-digit-N' or 'l2-digit-N', got {stop_after!r}")
        stop_stage, stop_digit = parts[0], int(parts[1]) if len(parts) == 2 else None
    if validation >= n_all:
        raise ValueError(f"{fn}: validation={validation} leaves no training digits of {n_all}")
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ImportError(f"{fn}: the linear readout needs scikit-learn: pip install 'snnbook[readout]'") from None
    _set_threads(threads)
    name = name or f"kheradpisheh2018-seed{seed}"
    config = dict(epochs_l1=epochs_l1, epochs_l2=epochs_l2, time_steps=time_steps, seed=seed, validation=validation,
                  train_digits=n_all, test_digits=n_test, layer1_features=layer1_features,
                  c_grid={k: list(v) for k, v in C_GRID.items()})
    model = Kheradpisheh2018(time_steps=time_steps, seed=seed).train()
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    n_train = n_all - validation
    state = {"stage": "l1", "epoch": 0, "pos": 0, "timings": {}, "cpu_s": 0.0, "segments": 0}
    saved = run.load_checkpoint()
    if saved is not None:
        run.check_config(saved["config"], config)
        model.load_state_dict(saved["model"])
        state = saved["state"]
        run.resumed(_where(state, n_train))
    state["segments"] += 1
    timings = state["timings"]
    cpu_base, cpu_start = state["cpu_s"], time.process_time()

    def checkpoint():
        state["cpu_s"] = cpu_base + time.process_time() - cpu_start
        run.save({"config": config, "model": model.state_dict(), "state": state}, _where(state, n_train))

    def clock(stage: str, t0: float) -> None:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0

    with run:
        t0 = time.perf_counter()
        images, labels = data.mnist_tensors(train=True, n=n_all)
        times = model.encode(images)
        clock("encode", t0)
        for layer, epochs in ((1, epochs_l1), (2, epochs_l2)):
            stage = f"l{layer}"
            if state["stage"] != stage:
                continue
            bar = run.bar(epochs * n_train, f"layer {layer} STDP", state["epoch"] * n_train + state["pos"])
            while state["epoch"] < epochs:
                t0 = time.perf_counter()
                a = state["pos"]
                b = min(n_train, a + INTERRUPT_EVERY)
                model.learn_stdp(layer, times[a:b])
                clock(stage, t0)
                bar.update(b - a)
                state["pos"] = b
                if b >= n_train:
                    state["epoch"] += 1
                    state["pos"] = 0
                    run.epoch("layer %d STDP epoch %d/%d done (%.0f s)", layer, state["epoch"], epochs,
                              timings.get(stage, 0.0))
                done = state["epoch"] * n_train + state["pos"]
                if done % CHECKPOINT_EVERY == 0 or state["pos"] == 0:
                    checkpoint()
                if stop_stage == stage and stop_digit is not None and done >= stop_digit:
                    checkpoint()
                    bar.close()
                    return {"stopped_after": stop_after}
                run.boundary(checkpoint)
            bar.close()
            state.update(stage=_STAGES[layer] if layer == 1 else "readout", epoch=0, pos=0)
            checkpoint()
            if stop_stage == stage and stop_digit is None:
                return {"stopped_after": stop_after}

        # ---- features (deterministic: recomputed on resume) and the readouts -----------------------
        model.eval()
        t0 = time.perf_counter()
        test_images, test_labels = data.mnist_tensors(train=False, n=n_test)
        n_feat = N_FEATURES + (N_FEATURES_L1 if layer1_features else 0)

        def packed(x):
            return np.concatenate([np.packbits(model.features(x[lo:lo + 2048], layer1=layer1_features).numpy(),
                                               axis=1) for lo in range(0, x.shape[0], 2048)])
        bits = packed(times)
        clock("features", t0)
        fit_bits, val_bits = bits[:n_train], bits[n_train:]
        y = labels.numpy()
        fit_y, val_y = y[:n_train], y[n_train:]
        readouts = {}
        from threadpoolctl import threadpool_limits
        with threadpool_limits(limits=threads):  # (None: leave the BLAS threads as they are)
            for kind in C_GRID:  # selection sees only fit and validation digits
                t0 = time.perf_counter()
                readouts[kind] = fit_readout(kind, fit_bits, fit_y, val_bits, val_y, n_feat)
                clock(f"readout_{kind}", t0)
        # ---- the test digits, once, with the selected readouts --------------------------------------
        t0 = time.perf_counter()
        test_bits = packed(model.encode(test_images))
        test_y = test_labels.numpy()
        for kind, r in readouts.items():
            pred = _predict(test_bits, n_feat, r["coef"], r["intercept"])
            r["test_accuracy"] = float((pred == test_y).mean())
            r["confusion"] = confusion(test_labels, torch.from_numpy(pred)).tolist()
        clock("test", t0)

    svm = readouts["linear_svm"]
    shipped = {"conv1": model.conv1.weight.detach().float().clone(),
               "conv2": model.conv2.weight.detach().float().clone(),
               "time_steps": time_steps, "readout_coef": torch.from_numpy(svm["coef"]).float(),
               "readout_intercept": torch.from_numpy(svm["intercept"]).float()}
    weights_path = run.save_weights(shipped, "kheradpisheh2018")
    density = float(np.unpackbits(bits[:min(len(bits), 2000)], axis=1, count=n_feat).mean())
    results = {
        "name": name,
        "command": command or "snnbook train kheradpisheh2018 " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in config.items() if k not in ("c_grid", "layer1_features")),
        "git_commit": git_commit(run.provenance),
        "seed": seed,
        "config": config,
        "wall_time_s": timings,
        "wall_time_total_s": sum(timings.values()),
        "cpu_time_total_s": cpu_base + time.process_time() - cpu_start,
        "resumed_segments": state["segments"],
        "layer1_learning_rate_final": [float(model.stdp1_ltp[0]), float(model.stdp1_ltd[0])],
        "features_per_digit": n_feat,
        "feature_density_first_2000_training_digits": density,
        "selection": f"C of each readout chosen on validation accuracy (last {validation} training digits); "
                     "no refit on the validation digits; test digits classified once",
        "readouts": {k: {key: v for key, v in r.items() if key not in ("coef", "intercept")}
                     for k, r in readouts.items()},
        "test_accuracy": svm["test_accuracy"],
        "test_accuracy_logistic_regression": readouts["logistic_regression"]["test_accuracy"],
        "paper": PAPER["kheradpisheh2018"],
        "weights": {"file": weights_path.name, "dtype": "float32", "readout": "linear_svm"},
        "deviations": DEVIATIONS,
    }
    return run.finish(results)


def _where(state: dict, n_train: int) -> str:
    """Where a run stands, in words (for resume and Ctrl-C)."""
    if state["stage"] in _STAGES:
        return f"layer {state['stage'][1]} STDP epoch {state['epoch'] + 1}, digit {state['pos']} of {n_train}"
    return "the readout (after both STDP stages)"
