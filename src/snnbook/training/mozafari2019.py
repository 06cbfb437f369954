"""Recipe: Mozafari et al. (2019), S1 and S2 by STDP, S3 by R-STDP, on the event-driven engine.

Chapter: A deep network that learns with spikes (book/mozafari2019.md).

Command line: ``snnbook train mozafari2019`` (or ``python -m snnbook.train mozafari2019``)::

    snnbook train mozafari2019 --epochs-l3 41 --seed 0 --out results

:func:`train_mozafari2019` trains the 2019 network stage by stage (S1 by STDP, S2 by STDP, S3 by
R-STDP), in the reference example's order (no shuffling: digits in dataset order, every epoch),
on the first ``60 000 - validation`` training digits. It evaluates the validation and test digits
after every S3 epoch, selects the epoch on VALIDATION accuracy (never on the test set), saves a
checkpoint after every chunk of training digits and writes a results JSON and the selected
weights. ``resume=True`` continues from the last checkpoint and gives bit-identical weights to an
uninterrupted run (``tests/test_training.py``). Files, checkpoints, Ctrl-C, progress and
provenance: :class:`snnbook.training.run.Run`.
"""
from __future__ import annotations

import datetime
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from .. import _engine, data
from .._checks import check_bool, check_int, check_real, check_same_device, check_tensor
from ..models.mozafari2019 import S3 as _S3, Mozafari2019
from .._resources import update_manifest
from .cards import collect, mean_sd
from .run import DEFAULT_OUT, Run, check_entry, git_commit, load_weights, write_json

__all__ = ["train_mozafari2019", "summarize_mozafari2019", "evaluate", "load_mozafari2019", "shift_images",
           "committee_scores", "committee_decisions", "committee_mozafari2019", "PAPER", "DEVIATIONS",
           "FAITHFUL", "QUICK"]

#: Training digits per checkpoint in the S1/S2 stages.
CHECKPOINT_EVERY = 10_000
#: Training digits between the points where a Ctrl-C can stop S1/S2 (the network's STDP is
#: sequential per digit, so the chunking changes no result).
INTERRUPT_EVERY = 1_000
#: A small run for a first try (``--quick``): a few hundred digits, every stage, well under a minute.
QUICK = dict(epochs_l1=1, epochs_l2=1, epochs_l3=3, train_digits=1200, validation=200, test_digits=500)

#: The command that regenerates the chapter's time-step sweep (``results/sweep/sweep-t*.json``,
#: a shorter schedule than the headline runs), one run per value of T as Ray tasks.
TIME_STEP_SWEEP = ("snnbook sweep mozafari2019 --seeds 0 --grid time-steps=10,15,20,25 "
                   "--names sweep-t{time-steps} --train-digits 20000 --validation 5000 "
                   "--epochs-l1 1 --epochs-l2 1 --epochs-l3 10 --out results/sweep")

def evaluate(model: Mozafari2019, active: torch.Tensor, labels: torch.Tensor) -> dict:
    """Accuracy and silent rate of the decision layer on cached :meth:`snnbook.models.mozafari2019.Mozafari2019.s3_input` maps.

    Args:
        model: the network (its S3 weights are read).
        active: bool maps ``[batch, 250, 4, 4]``.
        labels: ``[batch]`` classes.

    Returns:
        ``{"accuracy", "silent", "decisions"}`` (decisions a LongTensor ``[batch]``).
    """
    fn = "evaluate"
    check_same_device(fn, active=active, labels=labels)
    check_tensor(fn, "labels", labels, ndim=1, axes="[batch]")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise TypeError(f"{fn}: labels must be an integer tensor of classes, got {labels.dtype}")
    if isinstance(active, torch.Tensor) and active.dim() >= 1 and active.shape[0] != labels.shape[0]:
        raise ValueError(f"{fn}: labels must have shape [batch={active.shape[0]}], got {tuple(labels.shape)}")
    decisions = model.classify_s3(active)
    return {"accuracy": float((decisions == labels).float().mean()),
            "silent": float((decisions < 0).float().mean()), "decisions": decisions}



def load_mozafari2019(path: str | os.PathLike, **kwargs) -> Mozafari2019:
    """Build a :class:`Mozafari2019` and load shipped weights (``torch.load(..., weights_only=True)``).

    Args:
        path: a ``.pt`` file written by :func:`train_mozafari2019` (``conv1``, ``conv2``, ``conv3``
            weights, float16 or float32, plus ``time_steps``).
        kwargs: passed to :class:`Mozafari2019`.

    Returns:
        The network in eval mode, weights in float32.
    """
    fn = "load_mozafari2019"
    state = load_weights(fn, path, "mozafari2019")
    floats = (torch.float16, torch.float32)
    check_entry(fn, path, state, "conv1", shape=(30, 6, 5, 5), dtypes=floats, low=0.0, high=1.0)
    check_entry(fn, path, state, "conv2", shape=(250, 30, 3, 3), dtypes=floats, low=0.0, high=1.0)
    w3 = check_entry(fn, path, state, "conv3", shape=(None, 250, 5, 5), dtypes=floats, low=0.0, high=1.0)
    if w3.shape[0] == 0 or w3.shape[0] % 10:
        raise ValueError(f"{fn}: {path}: conv3 must hold a multiple of 10 features, got {w3.shape[0]}")
    steps = check_entry(fn, path, {"time_steps": 15, **state}, "time_steps", integer=True, low=1, high=255)
    model = Mozafari2019(time_steps=steps, s3_features=int(w3.shape[0]), **kwargs)
    for i in (1, 2, 3):
        getattr(model, f"conv{i}").load_weight(state[f"conv{i}"].float())
    return model.eval()


def train_mozafari2019(out: str | os.PathLike = DEFAULT_OUT, epochs_l1: int = 2, epochs_l2: int = 4,
                       epochs_l3: int = 60, time_steps: int = 15, seed: int = 0, validation: int = 10_000,
                       train_digits: int | None = None, test_digits: int | None = None, resume: bool = False,
                       patience: int | None = None, adaptive_rstdp: bool = True, s3_features: int = 200,
                       rstdp_rate_floor: float = 0.0, s3_dropout: float = 0.0, s3_shift: int = 0,
                       progress: bool = True, name: str | None = None, command: str | None = None,
                       stop_after: str | None = None, time_budget_s: float | None = None,
                       force: bool = False, keep_checkpoint: bool = False, verbose: bool = False) -> dict:
    """Train the 2019 network stage by stage and write ``{out}/{name}.json`` and its weights.

    Args:
        out: folder of the results JSON and weights (default ``runs/``); checkpoints go to
            ``{out}/checkpoints/``.
        epochs_l1: STDP epochs of S1 (2 in the reference).
        epochs_l2: STDP epochs of S2 (4).
        epochs_l3: R-STDP epochs of S3 (the reference runs 680, testing after each); at least 1.
        time_steps: steps of the latency code.
        seed: seed of the initial weights.
        validation: the LAST ``validation`` training digits are held out for model selection
            (0: train on all of them and select the last epoch).
        train_digits: use only the first ``train_digits`` training digits (including the
            validation ones) -- for quick runs and tests; ``None``: all 60 000.
        test_digits: use only the first ``test_digits`` test digits; ``None``: all 10 000.
        resume: continue from ``{out}/checkpoints/{name}.pt`` if it exists. A run that stopped on
            its time budget keeps its checkpoint, so that a resume with a larger ``epochs_l3`` or
            budget continues it.
        patience: stop S3 after this many epochs without a better validation accuracy (None: off).
        adaptive_rstdp: adapt the R-STDP rates per block of 1 000 digits (the reference does).
        s3_features: features of the decision layer S3, a multiple of 10 (200 in the reference:
            20 per class); other values are a named variant, not the reproduction.
        rstdp_rate_floor, s3_dropout: variants of the R-STDP schedule (0 in the reproduction), see
            :class:`~snnbook.models.Mozafari2019`.
        s3_shift: variant (0 in the reproduction): in every R-STDP epoch each training digit is
            shown translated by its own random offset ``(dy, dx)`` in ``[-s3_shift, s3_shift]``
            pixels (zeros fill in; drawn from a generator seeded by ``seed`` and the epoch, so a
            resumed run draws the same). S1 and S2 are frozen by then, so what S3 sees of every
            shifted digit is computed once and kept as packed bits (500 bytes per digit and
            offset). Validation and test digits are never shifted.
        progress: tqdm bars (digits/s and ETA) on stderr where it is a terminal; elsewhere one log
            line per epoch.
        name: base name of the files (default ``mozafari2019-seed{seed}``, plus ``-full`` with
            ``validation=0``).
        command: the command line recorded in the JSON.
        stop_after: ``"l1"``, ``"l2"`` or ``"l3-epoch-N"``: save a checkpoint there and return early
            (to test resume).
        time_budget_s: stop the R-STDP epochs before the one that would take the run's total wall
            time (all stages, resumed parts included) past this many seconds (``None``: off). The
            epoch at which it stops depends on the machine's speed: such a run is not bit-for-bit
            reproducible, its results record where it stopped and why.
        force: replace an existing run of the same name.
        keep_checkpoint: keep the checkpoint after the run ends.
        verbose: one log line per epoch even where bars are shown.

    Returns:
        The results dict (also written as JSON).

    Raises:
        snnbook.training.TrainingInterrupted: after Ctrl-C, once the checkpoint is saved.
    """
    fn = "train_mozafari2019"
    for arg, v, lo in (("epochs_l1", epochs_l1, 0), ("epochs_l2", epochs_l2, 0), ("epochs_l3", epochs_l3, 1),
                       ("seed", seed, 0), ("validation", validation, 0), ("s3_shift", s3_shift, 0)):
        check_int(fn, arg, v, minimum=lo)
    n_train_all = 60_000 if train_digits is None else check_int(fn, "train_digits", train_digits, minimum=2,
                                                                maximum=60_000)
    n_test = 10_000 if test_digits is None else check_int(fn, "test_digits", test_digits, minimum=1, maximum=10_000)
    if time_budget_s is not None:
        time_budget_s = check_real(fn, "time_budget_s", time_budget_s, minimum=0.0)
    for arg, v in (("resume", resume), ("adaptive_rstdp", adaptive_rstdp), ("progress", progress)):
        check_bool(fn, arg, v)
    if patience is not None:
        check_int(fn, "patience", patience, minimum=0)
    for arg, v in (("name", name), ("command", command), ("stop_after", stop_after)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{fn}: {arg} must be a str or None, got {v!r} ({type(v).__name__})")
    if stop_after is not None and stop_after not in ("l1", "l2") and not (
            stop_after.startswith("l3-epoch-") and stop_after[9:].isdigit()):
        raise ValueError(f"{fn}: stop_after must be 'l1', 'l2' or 'l3-epoch-N', got {stop_after!r}")
    if validation >= n_train_all:
        raise ValueError(f"{fn}: validation={validation} leaves no training digits of {n_train_all}")
    name = name or f"mozafari2019-seed{seed}" + ("-full" if validation == 0 else "")
    config = dict(epochs_l1=epochs_l1, epochs_l2=epochs_l2, epochs_l3=epochs_l3, time_steps=time_steps, seed=seed,
                  validation=validation, train_digits=n_train_all, test_digits=n_test, patience=patience,
                  adaptive_rstdp=adaptive_rstdp, time_budget_s=time_budget_s, s3_features=s3_features,
                  rstdp_rate_floor=rstdp_rate_floor, s3_dropout=s3_dropout, s3_shift=s3_shift)
    model = Mozafari2019(time_steps=time_steps, seed=seed, adaptive_rstdp=adaptive_rstdp,
                         s3_features=s3_features, rstdp_rate_floor=rstdp_rate_floor,
                         s3_dropout=s3_dropout).train()
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    out = run.out
    state = {"stage": "l1", "epoch": 0, "pos": 0, "history": [], "timings": {}, "best": None}
    saved = run.load_checkpoint()
    if saved is not None:
        saved["config"].setdefault("time_budget_s", None)
        for key, default in FAITHFUL.items():
            saved["config"].setdefault(key, default)
        run.check_config(saved["config"], config, ignore=("epochs_l3", "patience", "time_budget_s"))  # S3 may be extended
        model.load_state_dict(saved["model"])
        state = saved["state"]
        if state["stage"] == "done" and state["epoch"] < epochs_l3:
            state["stage"] = "l3"
            state.pop("stopped_by", None)
        run.resumed(_where(state, n_train_all - validation))
    timings = state["timings"]

    cpu_base, cpu_start = state.get("cpu_s", 0.0), time.process_time()

    def checkpoint():
        state["cpu_s"] = cpu_base + time.process_time() - cpu_start
        run.save({"config": config, "model": model.state_dict(), "state": state},
                 _where(state, n_train_all - validation))

    def clock(stage: str, t0: float) -> None:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0

    with run:
        # ---- data: encode every digit once (first-spike times, 4.7 KB per digit) --------------
        t0 = time.perf_counter()
        images, labels = data.mnist_tensors(train=True, n=n_train_all)
        test_images, test_labels = data.mnist_tensors(train=False, n=n_test)
        n_train = n_train_all - validation
        times = model.encode(images)
        test_times = model.encode(test_images)
        if not (state["stage"] in ("l3", "done") and state["epoch"] >= epochs_l3):
            clock("encode", t0)  # (re-encoding only to write the results of a finished run is not counted)

        # ---- S1 and S2: unsupervised STDP, sequential, checkpointed every CHECKPOINT_EVERY digits
        for layer, epochs in ((1, epochs_l1), (2, epochs_l2)):
            stage = f"l{layer}"
            if state["stage"] != stage:
                continue
            bar = run.bar(epochs * n_train, f"S{layer} STDP", state["epoch"] * n_train + state["pos"])
            while state["epoch"] < epochs:
                t0 = time.perf_counter()
                lo = state["pos"]
                hi = min(n_train, (lo // CHECKPOINT_EVERY + 1) * CHECKPOINT_EVERY)
                for a in range(lo, hi, INTERRUPT_EVERY):
                    b = min(hi, a + INTERRUPT_EVERY)
                    model.learn_stdp(layer, times[a:b])
                    clock(stage, t0)
                    t0 = time.perf_counter()
                    bar.update(b - a)
                    if b < hi:
                        state["pos"] = b
                        run.boundary(checkpoint)
                state["pos"] = hi
                if hi >= n_train:
                    state["epoch"] += 1
                    state["pos"] = 0
                    run.epoch("S%d STDP epoch %d/%d done (%.0f s)", layer, state["epoch"], epochs,
                              timings.get(stage, 0.0))
                checkpoint()
                run.boundary(checkpoint)
            bar.close()
            state.update(stage=f"l{layer + 1}", epoch=0, pos=0)
            checkpoint()
            if stop_after == stage:
                return {"stopped_after": stage}

        # ---- S3: R-STDP on cached inputs (S1 and S2 are frozen now) ----------------------------
        train_labels, val_labels = labels[:n_train], labels[n_train:]
        if state["stage"] == "l3" and state["epoch"] < epochs_l3:  # (a finished run skips this)
            t0 = time.perf_counter()
            active = model.s3_input(times)
            test_active = model.s3_input(test_times)
            train_active, val_active = active[:n_train], active[n_train:]
            shifted = _shifted_s3_inputs(model, images[:n_train], train_active, s3_shift) if s3_shift else None
            clock("s3_input", t0)
        bar = run.bar(epochs_l3 * n_train, "S3 R-STDP", state["epoch"] * n_train)
        while state["stage"] == "l3" and state["epoch"] < epochs_l3:
            if time_budget_s is not None and state["history"]:
                per_epoch = (timings.get("l3", 0.0) + timings.get("evaluation", 0.0)) / len(state["history"])
                if sum(timings.values()) + per_epoch > time_budget_s:
                    state["stopped_by"] = f"time budget ({time_budget_s:.0f} s)"
                    break
            t0 = time.perf_counter()
            epoch_active = train_active if shifted is None else _draw_shifted(shifted, train_active.shape,
                                                                              seed, state["epoch"])
            decisions = model.learn_rstdp(epoch_active, train_labels, s3_input=True)
            clock("l3", t0)
            t0 = time.perf_counter()
            val = evaluate(model, val_active, val_labels) if validation else None
            test = evaluate(model, test_active, test_labels)
            clock("evaluation", t0)
            state["epoch"] += 1
            row = {"epoch": state["epoch"], "train_accuracy": float((decisions == train_labels).float().mean()),
                   "train_silent": float((decisions < 0).float().mean()),
                   "validation_accuracy": None if val is None else val["accuracy"],
                   "validation_silent": None if val is None else val["silent"],
                   "test_accuracy": test["accuracy"], "test_silent": test["silent"],
                   "rstdp_rates": model.rstdp_rates.tolist()}
            state["history"].append(row)
            score = row["validation_accuracy"] if validation else row["train_accuracy"]
            if validation and (state["best"] is None or score > state["best"]["score"]):
                state["best"] = {"epoch": state["epoch"], "score": score, "conv3": model.conv3.weight.detach().clone()}
            bar.update(n_train)
            bar.set_postfix(val=f"{score:.4f}", test=f"{row['test_accuracy']:.4f}")
            run.epoch("S3 R-STDP epoch %d/%d: train %.4f, %s %.4f (%.0f s in all)", state["epoch"], epochs_l3,
                      row["train_accuracy"], "validation" if validation else "train", score,
                      sum(timings.values()))
            if patience is not None and validation and state["epoch"] - state["best"]["epoch"] >= patience:
                state["stage"] = "done"
                state["stopped_by"] = f"patience ({patience} epochs)"
            checkpoint()
            if stop_after == f"l3-epoch-{state['epoch']}":
                bar.close()
                return {"stopped_after": stop_after}
            run.boundary(checkpoint)
        bar.close()
        state["stage"] = "done"
        checkpoint()

    # ---- results -------------------------------------------------------------------------------
    history = state["history"]
    final = history[-1] if history else None
    if validation and state["best"] is not None:
        selected_epoch = state["best"]["epoch"]
        model.conv3.weight.data.copy_(state["best"]["conv3"])
        model._cache.clear()
    else:
        selected_epoch = final["epoch"] if final else 0
    selected = next((h for h in history if h["epoch"] == selected_epoch), None)
    model.eval()
    spikes = _spike_counts(model, test_times[:1000])
    shipped = {f"conv{i}": getattr(model, f"conv{i}").weight.detach().half() for i in (1, 2, 3)}
    shipped["time_steps"] = time_steps
    weights_path = run.save_weights(shipped, "mozafari2019")
    reloaded = load_mozafari2019(weights_path)
    shipped_eval = evaluate(reloaded, reloaded.s3_input(test_times), test_labels)
    shipped_1000 = evaluate(reloaded, reloaded.s3_input(test_times[:1000]), test_labels[:1000])
    results = {
        "name": name,
        "command": command or "snnbook train mozafari2019 " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in config.items() if v is not None),
        "git_commit": git_commit(run.provenance),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "config": config,
        "seed": seed,
        "wall_time_s": timings,
        "wall_time_total_s": sum(timings.values()),
        "cpu_time_total_s": state.get("cpu_s"),
        "epochs": history,
        "selected_epoch": selected_epoch,
        "selection": f"validation accuracy (last {validation} training digits)" if validation else "last epoch",
        "test_accuracy_selected": selected["test_accuracy"] if selected else None,
        "validation_accuracy_selected": selected["validation_accuracy"] if selected else None,
        "test_accuracy_final": final["test_accuracy"] if final else None,
        "final_epoch": final["epoch"] if final else 0,
        "stopped_by": state.get("stopped_by", f"epochs_l3 ({epochs_l3})"),
        "spikes_per_digit": spikes,
        "weights": {"file": weights_path.name, "dtype": "float16", "epoch": selected_epoch,
                    "test_accuracy": shipped_eval["accuracy"], "test_silent": shipped_eval["silent"],
                    "test_accuracy_first_1000": shipped_1000["accuracy"]},
        "deviations": DEVIATIONS,
    }
    if str(state.get("stopped_by", "")).startswith("time budget"):
        run.keep_checkpoint = True  # a budgeted run may be continued with a larger budget
    run.finish(results)
    if name.startswith(("mozafari2019-seed", "mozafari2019-2h-seed", "mozafari2019-variant-")) and any(
            p for p in out.glob("mozafari2019-seed*.json") if not p.name.endswith("-full.json")):
        summarize_mozafari2019(out)  # (the card needs a faithful run beside the others)
    return results


def _where(state: dict, n_train: int) -> str:
    """Where a run of :func:`train_mozafari2019` stands, in words (for resume and Ctrl-C)."""
    stage = state["stage"]
    if stage in ("l1", "l2"):
        return f"S{stage[1]} STDP epoch {state['epoch'] + 1}, digit {state['pos']} of {n_train}"
    if stage == "l3":
        return f"S3 R-STDP after epoch {state['epoch']}"
    return f"the end (after R-STDP epoch {state['epoch']})"


def shift_images(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Translate every digit by ``dy`` rows and ``dx`` columns (positive: down and right); zeros
    fill in what comes in from outside.

    Args:
        images: digits ``[batch, height, width]``.
        dy, dx: offsets in pixels, each smaller than the image in magnitude.

    Returns:
        The shifted digits ``[batch, height, width]``, a new tensor of the same dtype.
    """
    fn = "shift_images"
    check_tensor(fn, "images", images, ndim=3, axes="[batch, height, width]", finite=False)
    h, w = images.shape[1:]
    dy = check_int(fn, "dy", dy, minimum=-(h - 1), maximum=h - 1)
    dx = check_int(fn, "dx", dx, minimum=-(w - 1), maximum=w - 1)
    out = torch.zeros_like(images)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def _shifted_s3_inputs(model: Mozafari2019, images: torch.Tensor, unshifted: torch.Tensor, shift: int) -> np.ndarray:
    """What S3 sees of every training digit at each offset in ``[-shift, shift]^2`` (row-major,
    the unshifted maps at the centre), as packed bits ``[offsets, digits, bytes]``."""
    n = images.shape[0]
    rows = []
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            act = unshifted if dy == dx == 0 else model.s3_input(model.encode(shift_images(images, dy, dx)))
            rows.append(np.packbits(act.numpy().reshape(n, -1), axis=1))
    return np.stack(rows)


def _draw_shifted(shifted: np.ndarray, shape, seed: int, epoch: int) -> torch.Tensor:
    """One epoch's S3 inputs of the shift variant: each digit at its own random offset, drawn from a
    generator seeded by ``seed`` and ``epoch`` (a resumed run draws the same)."""
    n = shifted.shape[1]
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    pick = torch.randint(0, shifted.shape[0], (n,), generator=g).numpy()
    bits = int(np.prod(shape[1:]))
    rows = np.unpackbits(shifted[pick, np.arange(n)], axis=1, count=bits)
    return torch.from_numpy(rows.view(np.bool_).reshape(shape))


def _spike_counts(model: Mozafari2019, times: torch.Tensor) -> dict:
    """Mean spikes per digit of each layer (inference path) on the given coded digits."""
    steps = model.time_steps
    _, layer_out = model(times, return_layers=True)
    return {"input": float((times < steps).sum((1, 2, 3)).float().mean()),
            "s1": float((layer_out["s1"] < steps).sum((1, 2, 3)).float().mean()),
            "s2": float((layer_out["s2"] < steps).sum((1, 2, 3)).float().mean()),
            "c2_s3_input": float(model.s3_input(times).sum((1, 2, 3)).float().mean()),
            "digits": int(times.shape[0])}


#: The published figures the results card compares with.
PAPER = {"mozafari2019": {"test_accuracy": 0.972, "source": "Mozafari et al. 2019 (Pattern Recognition)"},
         "spyketorch": {"test_accuracy": 0.969,
                        "source": "Mozafari, Ganjtabesh, Nowzari-Dalini & Masquelier 2019, SpykeTorch "
                                  "(Frontiers in Neuroscience 13:625): the table that compares SpykeTorch's "
                                  "reimplementation (96.9 %) with the original C++/CUDA implementation "
                                  "(97.2 %)"}}

#: Every known deviation of :func:`train_mozafari2019` from the paper and its reference, SpykeTorch's
#: MNIST example ``MozafariDeep.py``. One list for the network: the chapter renders it, and every
#: results file the recipe writes (runs, committees, the card) records it under ``deviations``
#: (``tools/update_deviations.py`` rewrites it in published files).
DEVIATIONS = [
    "The reference is SpykeTorch's example, a port of the network: the paper's own C++/CUDA code is "
    "not public, and whatever it does beyond the example is not reproduced (the authors' earlier "
    "R-STDP code floors the adapted rates and drops out decision features; the example sets the "
    "floor to 0 and has no dropout, as the faithful run does; both are named variants here).",
    "A validation split: the last config.validation training digits (10 000) are held out and all "
    "three layers learn from the others (50 000); the example trains every layer on all 60 000. "
    "Runs with validation = 0 (the -full runs) train on all 60 000 and keep the last epoch.",
    "Selection on validation, never on test: the epoch of the decision layer with the best "
    "validation accuracy is kept; the example keeps the epoch with the best TEST accuracy, an "
    "optimistic estimate.",
    "Fewer R-STDP epochs than the example's 680: config.epochs_l3, or a wall-time budget "
    "(config.time_budget_s; stopped_by and final_epoch say where a run stopped).",
    "Seeded initial weights: drawn from N(0.8, 0.05^2) by a generator seeded with config.seed; the "
    "example draws them from torch's global generator, unseeded, so the initial weights (and "
    "everything after) differ from any run of the example.",
    "A CPU engine: the layers run event-driven on first-spike times (snnbook._engine, with a "
    "byte-sized screen before the exact sums of the decision) instead of on dense spike-waves on a "
    "GPU; the test suite checks that both give the example's spikes, winners, decisions and weight "
    "updates on recorded digits.",
    "The decision layer's potentials are summed exactly (float64, rounded once to float32); "
    "SpykeTorch sums in float32 in an order that depends on the hardware (oneDNN on a CPU), which "
    "can decide near-ties of the decision differently. S1 and S2 give the same spikes either way "
    "(tested over 1 000 steps).",
    "The latency code ranks equal DoG responses that straddle a time-step boundary in a defined, "
    "stable order; SpykeTorch leaves such ties to torch.sort (the digits recorded in the test "
    "fixtures have none).",
    "The shipped weights are float16 (half the size); their own test accuracy is recorded under "
    "weights, beside the float32 accuracy of the selected epoch.",
]


#: The configuration of the faithful reproduction; a run that changes any of these is a named
#: variant (``--name mozafari2019-variant-<what>-seed<S>``), reported beside the faithful run.
FAITHFUL = {"time_steps": 15, "adaptive_rstdp": True, "s3_features": 200, "rstdp_rate_floor": 0.0,
            "s3_dropout": 0.0, "s3_shift": 0}


def _selected_within(history: list[dict], epochs: int) -> dict:
    """Validation selection restricted to the first ``epochs`` R-STDP epochs of a run's history:
    the selected epoch (first best validation accuracy), its validation and test accuracy, and the
    test accuracy at epoch ``epochs``."""
    rows = [h for h in history if h["epoch"] <= epochs]
    best = None
    for h in rows:
        if h["validation_accuracy"] is not None and (best is None or h["validation_accuracy"]
                                                      > best["validation_accuracy"]):
            best = h
    best = best or rows[-1]
    return {"selected_epoch": best["epoch"], "validation_accuracy_selected": best["validation_accuracy"],
            "test_accuracy_selected": best["test_accuracy"], "test_accuracy_final": rows[-1]["test_accuracy"]}


def _variant_entry(run: dict, faithful_runs: list[dict]) -> dict:
    """One named variant beside the faithful run of the same seed, cut to the same epochs and data."""
    cfg = run["config"]
    changes = {k: cfg.get(k, v) for k, v in FAITHFUL.items() if cfg.get(k, v) != v}
    epochs = run["final_epoch"]
    same = ("train_digits", "validation", "test_digits", "epochs_l1", "epochs_l2")
    base = next((r for r in sorted(faithful_runs, key=lambda r: r["final_epoch"])
                 if r["seed"] == run["seed"] and r["final_epoch"] >= epochs
                 and all(r["config"].get(k) == cfg.get(k) for k in same)), None)
    return {"name": run["name"], "seed": run["seed"], "changes": changes, "epochs_l3": epochs,
            "command": run["command"], "wall_time_total_s": run["wall_time_total_s"],
            **_selected_within(run["epochs"], epochs),
            "faithful": None if base is None else {"file": f"{base['name']}.json",
                                                   **_selected_within(base["epochs"], epochs)},
            "file": f"{run['name']}.json"}


def summarize_mozafari2019(out: str | os.PathLike = "results") -> dict:
    """Aggregate every ``{out}/mozafari2019-seed*.json`` into the results card ``{out}/mozafari2019.json``.

    The card holds the paper's and SpykeTorch's figures, ours at the selected and at the final
    epoch (mean and standard deviation over the seeds present, and per seed), the runs trained on
    all 60 000 digits (``mozafari2019-seed*-full.json``) and the runs given a wall-time budget of
    two hours (``mozafari2019-2h-seed*.json``, ``--hours 2``), the named variants
    (``mozafari2019-variant-*-seed*.json``: what each changes from :data:`FAITHFUL`, beside the
    faithful run of the same seed cut to the same number of epochs), the committees of
    :func:`committee_mozafari2019` (``mozafari2019-committee-*.json``), wall time and machine, the
    commands, the configuration and :data:`DEVIATIONS`.

    Args:
        out: the results folder.

    Returns:
        The card (also written as JSON).
    """
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"summarize_mozafari2019: {out} is not a folder of results files")
    left_out: list[dict] = []

    def load(pattern, exclude_full=False):
        paths = [p for p in out.glob(pattern) if not (exclude_full and p.name.endswith("-full.json"))]
        runs, dropped = collect(paths, accuracy_key="test_accuracy_final", defaults=FAITHFUL)
        left_out.extend(dropped)
        return runs

    from ..sweep import command_for
    runs = load("mozafari2019-seed*.json", exclude_full=True)
    full = load("mozafari2019-seed*-full.json")
    budget = load("mozafari2019-2h-seed*.json")
    variants = []
    for vname in sorted({p.name.split("-seed")[0] for p in out.glob("mozafari2019-variant-*-seed*.json")}):
        variants += load(f"{vname}-seed*.json")
    committees = []
    for p in sorted(out.glob("mozafari2019-committee-*.json")):
        try:
            committees.append(json.loads(p.read_text()))
        except (OSError, ValueError) as err:
            left_out.append({"file": p.name, "reason": f"unreadable ({err.__class__.__name__})"})
    if not runs:
        raise FileNotFoundError(f"summarize_mozafari2019: no complete mozafari2019-seed*.json in {out}" + (
            f" (left out: {', '.join(d['file'] + ': ' + d['reason'] for d in left_out)})" if left_out else ""))

    def stats(key):
        mean, sd = mean_sd([r[key] for r in runs])
        vals = [r[key] for r in runs if r.get(key) is not None]
        return {"mean": mean, "sd": sd, "n": len(vals), "per_seed": {r["seed"]: r[key] for r in runs}}

    card = {
        "network": "Mozafari et al. 2019 (STDP + R-STDP), snnbook.models.Mozafari2019",
        "paper": PAPER["mozafari2019"], "spyketorch": PAPER["spyketorch"],
        "ours": {"test_accuracy_selected": stats("test_accuracy_selected"),
                 "test_accuracy_final": stats("test_accuracy_final"),
                 "validation_accuracy_selected": stats("validation_accuracy_selected"),
                 "selected_epoch": {r["seed"]: r["selected_epoch"] for r in runs},
                 "final_epoch": {r["seed"]: r["final_epoch"] for r in runs}},
        "trained_on_all_60000": [{"seed": r["seed"], "test_accuracy_final": r["test_accuracy_final"],
                                  "epochs": r["final_epoch"], "file": f"{r['name']}.json"} for r in full],
        "two_hour_budget": [{"seed": r["seed"], "time_budget_s": r["config"].get("time_budget_s"),
                             "epochs_l3": r["final_epoch"], "stopped_by": r.get("stopped_by"),
                             "selected_epoch": r["selected_epoch"],
                             "validation_accuracy_selected": r["validation_accuracy_selected"],
                             "test_accuracy_selected": r["test_accuracy_selected"],
                             "test_accuracy_final": r["test_accuracy_final"],
                             "wall_time_total_s": r["wall_time_total_s"], "command": r["command"],
                             "threads": {"torch": r["machine"].get("torch_threads"),
                                         "numba": r["machine"].get("numba_threads")},
                             "file": f"{r['name']}.json"} for r in budget],
        "variants": [_variant_entry(v, runs + budget) for v in variants],
        "committees": [{"name": c["name"], "members": [m["name"] for m in c["members"]],
                        "member_test_accuracy": [m["test_accuracy"] for m in c["members"]],
                        "validation_accuracy": c["validation_accuracy"], "test_accuracy": c["test_accuracy"],
                        "wall_time_members_s": c["wall_time_members_s"],
                        "wall_time_span_s": c.get("wall_time_span_s"), "command": c["command"],
                        "file": f"{c['name']}.json"} for c in committees],
        "wall_time_total_s": {r["seed"]: r["wall_time_total_s"] for r in runs},
        "wall_time_s": {r["seed"]: r["wall_time_s"] for r in runs},
        "machine": runs[0]["machine"],
        "commands": {r["seed"]: r["command"] for r in runs},
        "sweep_command": command_for([r["command"] for r in runs]),
        "config": runs[0]["config"],
        "deviations": DEVIATIONS,
        "runs": [f"{r['name']}.json" for r in runs],
        "left_out": left_out,
    }
    write_json(out / "mozafari2019.json", card)
    update_manifest(out, [out / "mozafari2019.json"])
    return card


S3_PAD = _S3["pad"]


def _feature_max_potentials(model: Mozafari2019, active: torch.Tensor) -> torch.Tensor:
    """Each S3 feature's largest exact (float64) final potential over the positions, ``[b, F]``:
    the engine's sums where it runs (float32 weights: exact in any order), else the float64
    convolution (the same numbers)."""
    w = model.conv3.weight.detach()
    if _engine.available() and w.dtype == torch.float32:
        _, wt, _ = model._weight_state(3)
        out = np.empty((active.shape[0], w.shape[0]), np.float64)
        oh = active.shape[2] + 2 * S3_PAD - w.shape[2] + 1
        ow = active.shape[3] + 2 * S3_PAD - w.shape[3] + 1
        _engine._readout_feature_max(np.ascontiguousarray(active.cpu().numpy()), S3_PAD, wt, w.shape[2],
                                     w.shape[3], oh, ow, out)
        return torch.from_numpy(out)
    pot = torch.nn.functional.conv2d(active.double(), w.double(), padding=S3_PAD)
    return pot.flatten(2).amax(2)


def committee_scores(model: Mozafari2019, active: torch.Tensor) -> torch.Tensor:
    """Per-class scores of one network for the committee variant: the largest final S3 potential
    among each class's features (at any position), divided by the largest over the classes.

    The class with score 1 is the network's own decision (the single winner of S3); the other
    classes' scores say how close they came. A silent network (no positive potential) scores 0
    everywhere. Potentials are summed exactly (float64) and rounded to the weights' dtype, as the
    decision layer rounds them.

    Args:
        model: a trained network (its S3 weights are read).
        active: bool maps from :meth:`~snnbook.models.mozafari2019.Mozafari2019.s3_input`.

    Shape:
        - Input ``active``: ``[batch, 250, 4, 4]``
        - Output: ``[batch, 10]``

    Returns:
        The scores, float64 in ``[0, 1]``.
    """
    fn = "committee_scores"
    check_tensor(fn, "active", active, ndim=4, axes="[batch, 250, 4, 4]", finite=False)
    if active.dtype != torch.bool:
        raise TypeError(f"{fn}: active must be bool (from s3_input), got {active.dtype}")
    w = model.conv3.weight.detach()
    scores = []
    for lo in range(0, active.shape[0], 2048):  # bounded memory
        pot = _feature_max_potentials(model, active[lo:lo + 2048])
        pot = pot.to(w.dtype).double()  # [b, features], rounded as the decision layer rounds
        cls = pot.view(pot.shape[0], 10, -1).amax(2).clamp_min(0.0)
        top = cls.amax(1, keepdim=True)
        scores.append(torch.where(top > 0, cls / torch.where(top > 0, top, 1.0), 0.0))
    return torch.cat(scores)


def committee_decisions(scores: list[torch.Tensor]) -> torch.Tensor:
    """The committee's decisions: the class with the largest sum of the members'
    :func:`committee_scores` (lowest class on ties; ``-1`` where every member is silent).

    Args:
        scores: one ``[batch, 10]`` tensor per member.

    Returns:
        ``[batch]`` decisions.
    """
    fn = "committee_decisions"
    if not isinstance(scores, (list, tuple)) or not scores:
        raise TypeError(f"{fn}: scores must be a non-empty list of [batch, 10] tensors, got {scores!r}")
    for i, sc in enumerate(scores):
        check_tensor(fn, f"scores[{i}]", sc, ndim=2, axes="[batch, 10]")
        if sc.shape != scores[0].shape or sc.shape[1] != 10:
            raise ValueError(f"{fn}: every member's scores must have shape {tuple(scores[0].shape)} "
                             f"[batch, 10], got {tuple(sc.shape)} for member {i}")
    total = torch.stack(list(scores)).sum(0)
    return torch.where(total.amax(1) > 0, total.argmax(1), -1)


def _wall_span(runs: list[dict]) -> float:
    """Seconds from the first run's start to the last run's end (each run's ``date`` is written
    when it ends; its start is that minus ``wall_time_total_s``)."""
    ends = [datetime.datetime.strptime(r["date"], "%Y-%m-%dT%H:%M:%S%z").timestamp() for r in runs]
    starts = [e - r["wall_time_total_s"] for e, r in zip(ends, runs)]
    return max(ends) - min(starts)


def committee_mozafari2019(members: list[str], out: str | os.PathLike = DEFAULT_OUT, name: str | None = None,
                           command: str | None = None, force: bool = False) -> dict:
    """Evaluate a committee of independently trained 2019 networks (a named variant beyond the paper).

    Each member is a run of :func:`train_mozafari2019` (its shipped weights ``{out}/{member}.pt``,
    the epoch it selected on its own validation digits, and its results ``{out}/{member}.json``).
    Each member keeps the paper's exact network and sequential R-STDP; only the decision changes:
    the class with the largest sum of the members' :func:`committee_scores`. Members trained at
    the same time on separate cores (``--hours`` runs started together) make a committee whose
    wall time is that of its slowest member (``wall_time_members_s``); members trained one after
    the other on a core add up, which ``wall_time_span_s`` (from the first member's start to the
    last member's end, from the runs' end dates and wall times) counts in every arrangement.
    Validation accuracy uses the members' common validation split (the last digits of the
    training set), never the test set.

    Args:
        members: names of the member runs (at least one).
        out: the results folder.
        name: base name of the JSON (default ``mozafari2019-committee-`` + the members' seeds).
        command: the command line recorded in the JSON.
        force: replace an existing committee of the same name.

    Returns:
        The results dict (also written as ``{out}/{name}.json``).
    """
    fn = "committee_mozafari2019"
    check_bool(fn, "force", force)
    if isinstance(members, str) or not isinstance(members, (list, tuple)) or not members or \
            not all(isinstance(m, str) for m in members):
        raise TypeError(f"{fn}: members must be a non-empty list of run names, got {members!r}")
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"{fn}: {out} is not a folder of results files")
    runs = []
    for m in members:
        path = out / f"{m}.json"
        if not path.exists() or not (out / f"{m}.pt").exists():
            raise FileNotFoundError(f"{fn}: member {m!r} needs {path} and {out / (m + '.pt')}")
        runs.append(json.loads(path.read_text()))
    same = ("train_digits", "validation", "test_digits", "time_steps")
    for r in runs[1:]:
        if any(r["config"].get(k) != runs[0]["config"].get(k) for k in same):
            raise ValueError(f"{fn}: members must share {same}; {r['name']} differs from {runs[0]['name']}")
    seeds = "-".join(str(r["seed"]) for r in runs)
    name = name or f"mozafari2019-committee-seeds{seeds}"
    run = Run(fn, name, out, config={"members": list(members)}, force=force, progress=False)
    cfg = runs[0]["config"]
    n_all, n_val, n_test = cfg["train_digits"], cfg["validation"], cfg["test_digits"]
    t0 = time.perf_counter()
    images, labels = data.mnist_tensors(train=True, n=n_all)
    test_images, test_labels = data.mnist_tensors(train=False, n=n_test)
    val_images, val_labels = images[n_all - n_val:], labels[n_all - n_val:]
    scores = {"validation": [], "test": []}
    member_rows = []
    for m, r in zip(members, runs):
        model = load_mozafari2019(out / f"{m}.pt")
        row = {"name": m, "seed": r["seed"], "selected_epoch": r["selected_epoch"],
               "final_epoch": r["final_epoch"], "wall_time_total_s": r["wall_time_total_s"]}
        for split, x, y in (("validation", val_images, val_labels), ("test", test_images, test_labels)):
            if split == "validation" and n_val == 0:
                continue
            sc = committee_scores(model, model.s3_input(model.encode(x)))
            scores[split].append(sc)
            row[f"{split}_accuracy"] = float((committee_decisions([sc]) == y).float().mean())
        member_rows.append(row)
    result_acc = {}
    for split, y in (("validation", val_labels), ("test", test_labels)):
        if scores[split]:
            dec = committee_decisions(scores[split])
            result_acc[split] = {"accuracy": float((dec == y).float().mean()),
                                 "silent": float((dec < 0).float().mean())}
    results = {
        "name": name,
        "command": command or "python -m snnbook.train mozafari2019-committee --members " + " ".join(members),
        "git_commit": git_commit(run.provenance),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "members": member_rows,
        "rule": "class with the largest sum over members of (class's best final S3 potential / the "
                "member's best over classes)",
        "validation_accuracy": result_acc.get("validation", {}).get("accuracy"),
        "test_accuracy": result_acc["test"]["accuracy"],
        "test_silent": result_acc["test"]["silent"],
        "wall_time_members_s": max(r["wall_time_total_s"] for r in runs),
        "wall_time_span_s": _wall_span(runs),
        "wall_time_committee_s": time.perf_counter() - t0,
        "config": {k: cfg.get(k) for k in same},
        "deviations": DEVIATIONS,
    }
    return run.finish(results)
