"""Recipe: Diehl & Cook (2015), unsupervised STDP with adaptive thresholds and neuron labels.

Chapter: Unsupervised learning with STDP (book/diehl_cook2015.md).

Command line: ``snnbook train diehl_cook2015`` (or ``python -m snnbook.train diehl_cook2015``).
Files, checkpoints, Ctrl-C, progress and provenance: :class:`snnbook.training.run.Run`.
"""
from __future__ import annotations

import os
import time

import torch

from .. import _engine, data
from .._checks import check_bool, check_int
from ..models.diehl_cook2015 import MAX_RETRIES, PARAMS, DiehlCook2015, assign_labels, classify
from ..monitors import Monitor
from .run import DEFAULT_OUT, Run, check_entry, confusion, git_commit, load_weights

__all__ = ["train_diehl_cook2015", "load_diehl_cook2015", "select_labels", "label_and_test", "digits_won",
           "labelling_start", "DEVIATIONS", "QUICK",
           "LABEL_CANDIDATES", "VALIDATION_DIGITS"]

#: A small run for a first try (``--quick``).
QUICK = dict(n_neurons=100, train_digits=1200, test_digits=1000)

#: Training digits held out of labelling (the last ones of the training digits): they choose the
#: size of the labelling set. Runs on fewer than 60 000 digits hold out a sixth of them at most.
VALIDATION_DIGITS = 10_000

#: Sizes of the labelling set compared on the validation digits: candidate ``k`` labels the
#: neurons on the ``k`` training digits just before the validation digits.
LABEL_CANDIDATES = (1000, 2000, 5000, 10_000, 20_000)

#: Every known deviation from the paper and its published code (recorded in each results JSON).
DEVIATIONS = [
    "the STDP rule of the published code (an input spike depresses by the first postsynaptic trace, an "
    "excitatory spike potentiates by the presynaptic trace times a second, slower postsynaptic trace), not "
    "the rule of the paper's main text (weight change x_pre - x_tar, scaled by (w_max - w)^mu, at each "
    "excitatory spike); the code defines x_tar = 0.4 and mu = 0.2 but does not use them",
    "the firing condition and timer of the published code: v > theta - 72 mV with theta starting at 20 mV "
    "and decaying towards 0 (the paper: v_thresh = -52 mV plus theta), and a neuron fires again only 50 ms "
    "after its last spike although its membrane is clamped for 5 ms (the paper: 5 ms refractory period)",
    "no input conduction delays (the code draws rand() * 10 ms per input synapse; the paper describes none)",
    "the last 130 ms of each 150 ms rest are skipped in closed form (the first 20 ms are simulated)",
    f"at most {MAX_RETRIES} re-presentations of a digit that evokes fewer than 5 spikes (the code: no limit)",
    "test and labelling digits are evaluated independently from a rested network (the code: in sequence)",
    "neurons are labelled from their spike counts on training digits with learning off, never on test "
    "digits; which training digits label them, and how that choice was made, is stated in each results file "
    "(the paper: all 60 000 training digits); neurons silent there get no class (the code: class 0)",
    "weights and thresholds rounded to float32 after training (shipped files); training in float64",
    "the membrane potential is clipped to [E_inh, E_exc] after each forward-Euler step (the code's Euler "
    "steps overshoot and diverge when many inhibitory neurons fire in one step, as in the 6 400-neuron network)",
]
_BAR_CHUNK = 250        # digits between progress-bar updates
_LABEL_EVERY = 1000     # running labels (for the bar's accuracy) are reassigned this often
_WINDOW = 10_000        # ... from the spike counts of the last this many training digits
_RUNNING = 1000         # the bar's accuracy: over the last this many training digits
_LOG_EVERY = 10_000     # training digits between log lines where no bar is shown


def load_diehl_cook2015(path) -> DiehlCook2015:
    """A trained :class:`~snnbook.models.DiehlCook2015` in eval mode from a ``.pt`` file written by
    :func:`train_diehl_cook2015` (verified first, :func:`snnbook.training.run.load_weights`;
    ``weight`` float32 ``[784, N]`` in [0, 1], ``theta`` float32 ``[N]`` >= 0, ``labels`` int64
    ``[N]`` in -1..9, ``seed``)."""
    fn = "load_diehl_cook2015"
    state = load_weights(fn, path, "diehl_cook2015")
    w = check_entry(fn, path, state, "weight", shape=(784, None), dtypes=(torch.float32, torch.float64),
                    low=0.0, high=1.0)
    n = w.shape[1]
    if n < 1:
        raise ValueError(f"{fn}: {path}: weight has no neurons")
    check_entry(fn, path, state, "theta", shape=(n,), dtypes=(torch.float32, torch.float64), low=0.0)
    check_entry(fn, path, state, "labels", shape=(n,), dtypes=(torch.int64,), low=-1, high=9)
    seed = check_entry(fn, path, state, "seed", integer=True, low=0)
    model = DiehlCook2015(n_neurons=n, seed=seed)
    model.weight.copy_(state["weight"].double())
    model.theta.copy_(state["theta"].double())
    model.labels.copy_(state["labels"])
    return model.eval()


def select_labels(counts: torch.Tensor, targets: torch.Tensor, validation_digits: int,
                  candidates=LABEL_CANDIDATES, label_digits: int | None = None,
                  first_index: int = 0) -> tuple[torch.Tensor, dict]:
    """Label the neurons on training digits, choosing the size of the labelling set on validation digits.

    The last ``validation_digits`` rows of ``counts`` are the validation digits; they never label a neuron.
    Candidate ``k`` labels the neurons (:func:`~snnbook.models.diehl_cook2015.assign_labels`) on the ``k``
    digits just before them and classifies the validation digits with those labels; the ``k`` with the
    highest validation accuracy wins (a tie goes to the larger set). ``label_digits`` fixes ``k`` instead
    (no choice; its validation accuracy is still recorded). Candidates larger than the digits before the
    validation digits are cut to them. No test digit is read here.

    Args:
        counts: spike counts ``[digits, N]`` of the training digits in dataset order, learning off.
        targets: their classes ``[digits]``.
        validation_digits: how many of the last digits validate (>= 1, fewer than ``digits``).
        candidates: sizes of the labelling set to compare (positive ints).
        label_digits: a fixed size instead of a choice, or None.
        first_index: the index of ``counts[0]`` among the training digits (for the record's indices).

    Returns:
        ``(labels, record)``: the labels ``[N]`` (int64, -1 for a neuron silent on the labelling digits)
        and a dict for the results file: ``validation_digits`` ([first, end) indices),
        ``candidates`` (each ``label_digits``, ``first`` index and ``validation_accuracy``),
        ``label_digits`` (the chosen size), ``labelling_digits`` ([first, end)), ``selected_on``
        (``"validation"`` or ``"fixed"``) and ``validation_accuracy`` of the chosen labels.

    Example:
        >>> counts = torch.tensor([[3, 0], [0, 2], [2, 0], [0, 1]])
        >>> labels, record = select_labels(counts, torch.tensor([1, 4, 1, 4]), 2, candidates=(1, 2))
        >>> labels.tolist(), record["label_digits"], record["validation_accuracy"]
        ([1, 4], 2, 1.0)
    """
    fn = "select_labels"
    if not isinstance(counts, torch.Tensor) or counts.dim() != 2:
        raise ValueError(f"{fn}: counts must be a tensor [digits, N], got "
                         f"{tuple(counts.shape) if isinstance(counts, torch.Tensor) else type(counts).__name__}")
    if not isinstance(targets, torch.Tensor) or tuple(targets.shape) != (counts.shape[0],):
        raise ValueError(f"{fn}: targets must be a tensor [digits={counts.shape[0]}], got "
                         f"{tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__}")
    n = counts.shape[0]
    validation_digits = check_int(fn, "validation_digits", validation_digits, minimum=1)
    if validation_digits >= n:
        raise ValueError(f"{fn}: validation_digits must leave digits to label with (< {n}), "
                         f"got validation_digits={validation_digits}")
    first_index = check_int(fn, "first_index", first_index, minimum=0)
    pool = n - validation_digits
    if label_digits is not None:
        sizes = [min(check_int(fn, "label_digits", label_digits, minimum=1), pool)]
    else:
        if isinstance(candidates, (str, bytes)) or not hasattr(candidates, "__iter__"):
            raise TypeError(f"{fn}: candidates must be a sequence of positive ints, got {candidates!r}")
        sizes = sorted({min(check_int(fn, "candidates", k, minimum=1), pool) for k in candidates})
        if not sizes:
            raise ValueError(f"{fn}: candidates must not be empty, got {candidates!r}")
    val_counts, val_targets = counts[pool:], targets[pool:]
    tried, best = [], None
    for k in sizes:
        labels = assign_labels(counts[pool - k:pool], targets[pool - k:pool])
        acc = float((classify(val_counts, labels) == val_targets).double().mean())
        tried.append({"label_digits": k, "first": first_index + pool - k, "validation_accuracy": acc})
        if best is None or acc >= best[1]:
            best = (k, acc, labels)
    k, acc, labels = best
    o = first_index
    record = {"validation_digits": [o + pool, o + n], "candidates": tried, "label_digits": k,
              "labelling_digits": [o + pool - k, o + pool],
              "selected_on": "fixed" if label_digits is not None else "validation", "validation_accuracy": acc}
    return labels, record


def train_diehl_cook2015(out=DEFAULT_OUT, n_neurons: int = 400, epochs: int = 1, train_digits: int | None = None,
                         test_digits: int | None = None, label_digits: int | None = None,
                         validation_digits: int | None = None, seed: int = 0,
                         resume: bool = False, progress: bool = True, name: str | None = None,
                         command: str | None = None, checkpoint_every: int = 5000,
                         stop_after: int | None = None, monitor_every: int | None = 1000,
                         force: bool = False, keep_checkpoint: bool = False, verbose: bool = False) -> dict | None:
    """Train Diehl & Cook's network by STDP, label its neurons, test it; write the results JSON and
    the weights.

    One pass (``epochs=1``) shows the first ``train_digits`` training digits in dataset order, each
    once (plus re-presentations). Then the weights and thresholds are rounded to float32 (the
    shipped file) and the network answers the last training digits with learning off. The last
    ``validation_digits`` of them are held out of labelling: :func:`select_labels` labels the neurons
    on each candidate set of :data:`LABEL_CANDIDATES` (the digits just before the validation digits),
    keeps the size with the best validation accuracy, and only then are the first ``test_digits`` test
    digits classified, once. Test digits never choose anything.

    Args:
        out: folder of ``{name}.json`` and ``{name}.pt`` (default ``runs/``); checkpoints in
            ``{out}/checkpoints/``.
        n_neurons: excitatory neurons.
        epochs: passes over the training digits.
        train_digits: the first ``train_digits`` training digits (default all 60 000).
        test_digits: the first ``test_digits`` test digits (default all 10 000).
        label_digits: a fixed size of the labelling set (the digits just before the validation digits)
            instead of a choice on validation; default None: chosen among :data:`LABEL_CANDIDATES`.
        validation_digits: the last training digits held out of labelling to choose its size (default
            ``min(VALIDATION_DIGITS, train_digits // 6)``: 10 000 of 60 000).
        seed: initial weights and Poisson inputs.
        resume: continue from ``{out}/checkpoints/{name}.pt`` (bit-identical to an uninterrupted run).
        progress: tqdm bar (digits/s, ETA, accuracy of the running labels over the last 1 000 digits)
            where stderr is a terminal; elsewhere a log line every 10 000 digits and per pass.
        name: base name (default ``diehl_cook2015_{n_neurons}-seed{seed}``).
        command: the command line recorded in the JSON.
        checkpoint_every: training digits between checkpoints.
        stop_after: save a checkpoint after this many training digits and return None (tests).
        monitor_every: training digits between snapshots of :class:`snnbook.monitors.Monitor`
            (spikes and wins per neuron, silent neurons and digits, re-presentations, weight
            histogram, quantiles of ``theta``), written under ``"monitors"`` in the JSON; None:
            no monitors. Monitoring only reads: the results are the same with or without it.
        force: replace an existing run of the same name.
        keep_checkpoint: keep the checkpoint after the run ends.
        verbose: log lines even where a bar is shown.

    Returns:
        The results dict (also written to ``{out}/{name}.json``), or None with ``stop_after``.

    Raises:
        snnbook.training.TrainingInterrupted: after Ctrl-C, once the checkpoint is saved.
    """
    fn = "train_diehl_cook2015"
    n_neurons = check_int(fn, "n_neurons", n_neurons, minimum=1)
    epochs = check_int(fn, "epochs", epochs, minimum=1)
    n_train = 60_000 if train_digits is None else check_int(fn, "train_digits", train_digits, minimum=1,
                                                              maximum=60_000)
    n_test = 10_000 if test_digits is None else check_int(fn, "test_digits", test_digits, minimum=1, maximum=10_000)
    if label_digits is not None:
        label_digits = check_int(fn, "label_digits", label_digits, minimum=1)
    if validation_digits is None:
        validation_digits = min(VALIDATION_DIGITS, max(1, n_train // 6))
    validation_digits = check_int(fn, "validation_digits", validation_digits, minimum=1)
    if validation_digits >= n_train:
        raise ValueError(f"{fn}: validation_digits must be fewer than train_digits={n_train}, "
                         f"got validation_digits={validation_digits}")
    seed = check_int(fn, "seed", seed, minimum=0)
    checkpoint_every = check_int(fn, "checkpoint_every", checkpoint_every, minimum=1)
    check_bool(fn, "resume", resume)
    check_bool(fn, "progress", progress)
    if stop_after is not None:
        stop_after = check_int(fn, "stop_after", stop_after, minimum=1)
    if monitor_every is not None:
        monitor_every = check_int(fn, "monitor_every", monitor_every, minimum=1)
    for arg, v in (("name", name), ("command", command)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{fn}: {arg} must be a str or None, got {v!r} ({type(v).__name__})")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"{fn}: out must be a str or os.PathLike, got {type(out).__name__}")
    _engine.require(fn)
    name = name or f"diehl_cook2015_{n_neurons}-seed{seed}"
    config = dict(n_neurons=n_neurons, epochs=epochs, train_digits=n_train, test_digits=n_test,
                  label_digits=label_digits, validation_digits=validation_digits, seed=seed)
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    total = epochs * n_train
    images, targets = data.mnist_tensors(train=True, n=n_train)

    model = DiehlCook2015(n_neurons=n_neurons, seed=seed)
    window = torch.zeros(min(_WINDOW, total), n_neurons, dtype=torch.int16)
    window_targets = torch.full((window.shape[0],), -1, dtype=torch.int64)
    correct = torch.zeros(_RUNNING, dtype=torch.bool)
    running_labels = torch.full((n_neurons,), -1, dtype=torch.int64)
    loop = {"pos": 0, "wall_train_s": 0.0, "cpu_train_s": 0.0, "history": [], "spikes_train": 0, "segments": 0}
    monitor = None if monitor_every is None else Monitor(every=monitor_every)
    saved = run.load_checkpoint()
    if saved is not None:
        run.check_config(saved["config"], config)
        model.load_state_dict(saved["model"])
        window, window_targets, correct = saved["window"], saved["window_targets"], saved["correct"]
        running_labels = saved["running_labels"]
        loop = saved["loop"]
        loop.setdefault("cpu_train_s", 0.0)
        if monitor is not None and saved.get("monitor") is not None:
            if saved["monitor"]["every"] != monitor_every:
                raise ValueError(f"{fn}: checkpoint {run.checkpoint_path} was monitored every "
                                 f"{saved['monitor']['every']} digits, not monitor_every={monitor_every}; "
                                 "pass the same value")
            monitor.load_state_dict(saved["monitor"])
        run.resumed(_where(loop["pos"], n_train, epochs))
    loop["segments"] += 1

    def checkpoint():
        run.save({"config": config, "model": model.state_dict(), "window": window, "window_targets": window_targets,
                  "correct": correct, "running_labels": running_labels, "loop": loop,
                  "monitor": None if monitor is None else monitor.state_dict()}, _where(loop["pos"], n_train, epochs))

    bar = run.bar(total, f"{name} STDP", loop["pos"])
    t0, c0 = time.perf_counter(), time.process_time()
    base_wall, base_cpu = loop["wall_train_s"], loop["cpu_train_s"]
    end = total if stop_after is None else min(stop_after, total)
    with run:
        while loop["pos"] < end:
            pos = loop["pos"]
            nxt = min(end, (pos // _BAR_CHUNK + 1) * _BAR_CHUNK, (pos // checkpoint_every + 1) * checkpoint_every)
            if monitor is not None:  # snapshots at multiples of monitor_every (chunking changes no result)
                nxt = min(nxt, (pos // monitor_every + 1) * monitor_every)
            idx = torch.arange(pos, nxt) % n_train
            counts, attempts = model.learn(images[idx], return_attempts=True)
            if monitor is not None:
                monitor.update(counts, attempts)
                if monitor.due(nxt) or nxt == total:
                    monitor.snapshot(nxt, model.weight, model.theta)
            # running accuracy: each digit classified by the labels from the window BEFORE this chunk
            guess = classify(counts, running_labels)
            slots = torch.arange(pos, nxt)
            correct[slots % _RUNNING] = guess == targets[idx]
            window[slots % window.shape[0]] = counts.to(torch.int16)
            window_targets[slots % window.shape[0]] = targets[idx]
            loop["spikes_train"] += int(counts.sum())
            loop["pos"] = nxt
            loop["wall_train_s"] = base_wall + time.perf_counter() - t0
            loop["cpu_train_s"] = base_cpu + time.process_time() - c0
            acc = float(correct[:min(nxt, _RUNNING)].float().mean())
            if nxt % _LABEL_EVERY == 0 or nxt == total:
                filled = window_targets >= 0
                running_labels = assign_labels(window[filled].long(), window_targets[filled])
                loop["history"].append({"digits": nxt, "running_accuracy_last_1000": round(acc, 4),
                                        "wall_s": round(loop["wall_train_s"], 1)})
            if nxt % n_train == 0 or nxt % _LOG_EVERY == 0:
                run.epoch("%d of %d training digits, running accuracy %.4f over the last 1000 (%.0f s)",
                          nxt, total, acc, loop["wall_train_s"])
            bar.set_postfix(acc1k=f"{acc:.3f}", spikes=f"{float(counts.sum(1).float().mean()):.1f}")
            bar.update(nxt - pos)
            if nxt % checkpoint_every == 0 or nxt == end:
                checkpoint()
            if nxt < end:
                run.boundary(checkpoint)
    bar.close()
    if loop["pos"] < total:
        return None
    wall_train = loop["wall_train_s"]

    # ---- shipped precision, labels chosen on validation digits, test once ----
    model.weight.copy_(model.weight.float().double())
    model.theta.copy_(model.theta.float().double())
    evaluation = label_and_test(model, images, targets, validation_digits, label_digits, n_test)
    test_counts, wall_label, wall_test = evaluation["test_counts"], evaluation["wall_label_s"], evaluation["wall_test_s"]
    run.save_weights({"weight": model.weight.float(), "theta": model.theta.float(), "labels": model.labels.clone(),
                      "seed": seed}, "diehl_cook2015")
    results = {
        "name": name, "paper": "Diehl & Cook (2015), Front. Comput. Neurosci. 9:99",
        "command": command or f"snnbook train diehl_cook2015 --neurons {n_neurons} --seed {seed}",
        "commit": git_commit(run.provenance), "torch": torch.__version__, "seed": seed,
        "config": config, "resumed_segments": loop["segments"],
        "wall_time_train_s": round(wall_train, 1), "wall_time_label_s": round(wall_label, 1),
        "wall_time_test_s": round(wall_test, 1), "wall_time_total_s": round(wall_train + wall_label + wall_test, 1),
        "cpu_time_train_s": round(loop["cpu_train_s"], 1),
        **evaluation["fields"],
        "spikes_per_training_digit": loop["spikes_train"] / total,
        "running_accuracy": loop["history"],
        "monitors": None if monitor is None else monitor.to_dict(),
        "params": PARAMS, "max_retries": MAX_RETRIES, "deviations": DEVIATIONS,
        "weights_file": f"{name}.pt",
    }
    return run.finish(results)


def digits_won(counts: torch.Tensor) -> torch.Tensor:
    """How many digits each neuron wins: the digits on which it fires most (the first such neuron on a
    tie); digits that no neuron answers count for none.

    Shape:
        - Input: ``counts`` ``[digits, N]`` spike counts.
        - Output: ``[N]`` int64.

    Example:
        >>> digits_won(torch.tensor([[0, 3, 1], [2, 2, 0], [0, 0, 0]])).tolist()
        [1, 1, 0]
    """
    if not isinstance(counts, torch.Tensor) or counts.dim() != 2:
        raise ValueError(f"digits_won: counts must be a tensor [digits, N], got "
                         f"{tuple(counts.shape) if isinstance(counts, torch.Tensor) else type(counts).__name__}")
    answered = counts.sum(1) > 0
    return torch.bincount(counts[answered].argmax(1), minlength=counts.shape[1])


def labelling_start(n_train: int, validation_digits: int, label_digits: int | None = None,
                    candidates=LABEL_CANDIDATES) -> int:
    """The first training digit that labelling reads: the validation digits and, before them, the
    largest labelling set (``label_digits`` or the largest candidate), within ``n_train`` digits."""
    k = label_digits if label_digits is not None else max(candidates)
    return max(0, n_train - validation_digits - k)


def label_and_test(model: DiehlCook2015, images: torch.Tensor, targets: torch.Tensor, validation_digits: int,
                   label_digits: int | None, n_test: int, train_counts: torch.Tensor | None = None,
                   test_counts: torch.Tensor | None = None) -> dict:
    """The recipe's evaluation of a trained network (also used by ``tools/relabel_diehl_cook2015.py`` on
    shipped weights): its responses (stream 2, learning off) to the training digits that labelling needs,
    the last ``validation_digits + max(candidates)`` of ``images`` (or the given ``train_counts`` of
    exactly those digits), :func:`select_labels` on them, then the first ``n_test`` test digits, once
    (or the given ``test_counts`` of them). Sets ``model.labels`` and leaves the model in eval mode.

    Returns:
        a dict with ``fields`` (the results-file entries: ``test_accuracy``, ``test_accuracy_first_1000``,
        ``per_class_accuracy``, ``confusion``, ``spikes_per_test_digit``, ``silent_test_digits``,
        ``neurons_per_label``, ``labelling``, ``validation_accuracy``, ``training_digits_won``),
        ``train_counts``, ``test_counts``, ``wall_label_s`` and ``wall_test_s``.
    """
    lo = labelling_start(images.shape[0], validation_digits, label_digits)
    t1 = time.perf_counter()
    if train_counts is None:
        train_counts = model.responses(images[lo:], stream=2, first_index=lo)
    if train_counts.shape[0] != images.shape[0] - lo:
        raise ValueError(f"label_and_test: train_counts must hold the last {images.shape[0] - lo} training "
                         f"digits, got {train_counts.shape[0]}")
    labels, record = select_labels(train_counts, targets[lo:], validation_digits, label_digits=label_digits,
                                   first_index=lo)
    model.labels.copy_(labels)
    wall_label = time.perf_counter() - t1
    model.eval()
    test_images, test_targets = data.mnist_tensors(train=False, n=n_test)
    t2 = time.perf_counter()
    if test_counts is None:
        test_counts = model.responses(test_images, stream=3)
    wall_test = time.perf_counter() - t2
    guess = classify(test_counts, model.labels)
    matrix = confusion(test_targets, guess)
    per_class = [float(matrix[c, c]) / max(int((test_targets == c).sum()), 1) for c in range(10)]
    ok = guess == test_targets
    won = digits_won(train_counts)
    fields = {
        "test_accuracy": float(ok.double().mean()),
        "test_accuracy_first_1000": float(ok[:1000].double().mean()),
        "per_class_accuracy": [round(a, 4) for a in per_class],
        "confusion": matrix.tolist(),
        "spikes_per_test_digit": float(test_counts.sum(1).double().mean()),
        "silent_test_digits": int((test_counts.sum(1) == 0).sum()),
        "neurons_per_label": torch.bincount(model.labels + 1, minlength=11).tolist(),  # index 0: no label
        "labelling": record,
        "validation_accuracy": record["validation_accuracy"],
        "training_digits_won": won.tolist(),  # per neuron, learning off, the final weights
    }
    return {"fields": fields, "train_counts": train_counts, "test_counts": test_counts,
            "wall_label_s": wall_label, "wall_test_s": wall_test}


def _where(pos: int, n_train: int, epochs: int) -> str:
    epoch, digit = divmod(pos, n_train)
    if epoch >= epochs:
        return "the end of training"
    return f"pass {epoch + 1} of {epochs}, digit {digit} of {n_train}"
