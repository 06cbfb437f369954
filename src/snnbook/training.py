"""Training loops of the book's whole networks, with checkpoints, exact resume and results files.

Chapter: A deep network that learns with spikes (book/mozafari2019.md).

The command line is ``python -m snnbook.train``::

    python -m snnbook.train mozafari2019 --epochs-l3 60 --seed 0 --out results/

:func:`train_mozafari2019` trains the 2019 network stage by stage (S1 by STDP, S2 by STDP, S3 by
R-STDP), in the reference example's order (no shuffling: digits in dataset order, every epoch),
on the first ``60 000 - validation`` training digits. It evaluates the validation and test digits
after every S3 epoch, selects the epoch on VALIDATION accuracy (never on the test set), saves a
checkpoint after every chunk of training digits and writes a results JSON and the selected
weights. ``resume=True`` continues from the last checkpoint and gives bit-identical weights to an
uninterrupted run (``tests/test_training.py``).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from . import data
from ._checks import check_bool, check_int, check_real, check_same_device, check_tensor
from .models.mozafari2019 import Mozafari2019

__all__ = ["train_mozafari2019", "summarize_mozafari2019", "evaluate", "machine_info", "git_commit",
           "load_mozafari2019", "PAPER", "DEVIATIONS", "FAITHFUL"]

ROOT = Path(__file__).resolve().parents[2]
#: Training digits per checkpoint in the S1/S2 stages.
CHECKPOINT_EVERY = 10_000


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


def git_commit() -> str | None:
    """The repository's commit (``-dirty`` if the tree has changes), or None outside a checkout."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


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


def _progress(total: int, desc: str, enabled: bool, initial: int = 0):
    from tqdm.auto import tqdm
    return tqdm(total=total, initial=initial, desc=desc, unit="digit", disable=not enabled, dynamic_ncols=True,
                smoothing=0.05)


def _save(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_mozafari2019(path: str | os.PathLike, **kwargs) -> Mozafari2019:
    """Build a :class:`Mozafari2019` and load shipped weights (``torch.load(..., weights_only=True)``).

    Args:
        path: a ``.pt`` file written by :func:`train_mozafari2019` (``conv1``, ``conv2``, ``conv3``
            weights, float16 or float32, plus ``time_steps``).
        kwargs: passed to :class:`Mozafari2019`.

    Returns:
        The network in eval mode, weights in float32.
    """
    state = torch.load(path, weights_only=True)
    model = Mozafari2019(time_steps=int(state.get("time_steps", 15)),
                         s3_features=int(state["conv3"].shape[0]), **kwargs)
    for i in (1, 2, 3):
        getattr(model, f"conv{i}").load_weight(state[f"conv{i}"].float())
    return model.eval()


def train_mozafari2019(out: str | os.PathLike = "results", epochs_l1: int = 2, epochs_l2: int = 4,
                       epochs_l3: int = 60, time_steps: int = 15, seed: int = 0, validation: int = 10_000,
                       train_digits: int | None = None, test_digits: int | None = None, resume: bool = False,
                       patience: int | None = None, adaptive_rstdp: bool = True, s3_features: int = 200,
                       rstdp_rate_floor: float = 0.0, s3_dropout: float = 0.0, progress: bool = True,
                       name: str | None = None, command: str | None = None, stop_after: str | None = None,
                       time_budget_s: float | None = None) -> dict:
    """Train the 2019 network stage by stage and write ``{out}/{name}.json`` and its weights.

    Args:
        out: folder of the results JSON and weights; checkpoints go to ``{out}/checkpoints/``.
        epochs_l1: STDP epochs of S1 (2 in the reference).
        epochs_l2: STDP epochs of S2 (4).
        epochs_l3: R-STDP epochs of S3 (the reference runs 680, testing after each).
        time_steps: steps of the latency code.
        seed: seed of the initial weights.
        validation: the LAST ``validation`` training digits are held out for model selection
            (0: train on all of them and select the last epoch).
        train_digits: use only the first ``train_digits`` training digits (including the
            validation ones) -- for quick runs and tests; ``None``: all 60 000.
        test_digits: use only the first ``test_digits`` test digits; ``None``: all 10 000.
        resume: continue from ``{out}/checkpoints/{name}.pt`` if it exists.
        patience: stop S3 after this many epochs without a better validation accuracy (None: off).
        adaptive_rstdp: adapt the R-STDP rates per block of 1 000 digits (the reference does).
        s3_features: features of the decision layer S3, a multiple of 10 (200 in the reference:
            20 per class); other values are a named variant, not the reproduction.
        rstdp_rate_floor, s3_dropout: variants of the R-STDP schedule (0 in the reproduction), see
            :class:`~snnbook.models.Mozafari2019`.
        progress: show tqdm bars (digits/s and ETA) on stderr.
        name: base name of the files (default ``mozafari2019-seed{seed}``, plus ``-full`` with
            ``validation=0``).
        command: the command line recorded in the JSON.
        stop_after: ``"l1"``, ``"l2"`` or ``"l3-epoch-N"``: save a checkpoint there and return early
            (to test resume).
        time_budget_s: stop the R-STDP epochs before the one that would take the run's total wall
            time (all stages, resumed parts included) past this many seconds (``None``: off). The
            epoch at which it stops depends on the machine's speed: such a run is not bit-for-bit
            reproducible, its results record where it stopped and why.

    Returns:
        The results dict (also written as JSON).
    """
    fn = "train_mozafari2019"
    for arg, v, lo in (("epochs_l1", epochs_l1, 0), ("epochs_l2", epochs_l2, 0), ("epochs_l3", epochs_l3, 0),
                       ("seed", seed, 0), ("validation", validation, 0)):
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
    out = Path(out)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = ckpt_dir / f"{name}.pt"
    config = dict(epochs_l1=epochs_l1, epochs_l2=epochs_l2, epochs_l3=epochs_l3, time_steps=time_steps, seed=seed,
                  validation=validation, train_digits=n_train_all, test_digits=n_test, patience=patience,
                  adaptive_rstdp=adaptive_rstdp, time_budget_s=time_budget_s, s3_features=s3_features,
                  rstdp_rate_floor=rstdp_rate_floor, s3_dropout=s3_dropout)

    model = Mozafari2019(time_steps=time_steps, seed=seed, adaptive_rstdp=adaptive_rstdp,
                         s3_features=s3_features, rstdp_rate_floor=rstdp_rate_floor,
                         s3_dropout=s3_dropout).train()
    state = {"stage": "l1", "epoch": 0, "pos": 0, "history": [], "timings": {}, "best": None}
    if resume and ckpt_path.exists():
        saved = torch.load(ckpt_path, weights_only=True)
        fixed = [k for k in config if k not in ("epochs_l3", "patience", "time_budget_s")]  # S3 may be extended
        saved["config"].setdefault("time_budget_s", None)
        for key, default in FAITHFUL.items():
            saved["config"].setdefault(key, default)
        if any(saved["config"][k] != config[k] for k in fixed):
            raise ValueError(f"{fn}: checkpoint {ckpt_path} was made with {saved['config']}, not {config}; "
                             f"remove it or pass the same options")
        model.load_state_dict(saved["model"])
        state = saved["state"]
        if state["stage"] == "done" and state["epoch"] < epochs_l3:
            state["stage"] = "l3"
            state.pop("stopped_by", None)
    timings = state["timings"]

    def checkpoint():
        _save(ckpt_path, {"config": config, "model": model.state_dict(), "state": state})

    def clock(stage: str, t0: float) -> None:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0

    # ---- data: encode every digit once (first-spike times, 4.7 KB per digit) ------------------
    t0 = time.perf_counter()
    images, labels = data.mnist_tensors(train=True, n=n_train_all)
    test_images, test_labels = data.mnist_tensors(train=False, n=n_test)
    n_train = n_train_all - validation
    times = model.encode(images)
    test_times = model.encode(test_images)
    if not (state["stage"] in ("l3", "done") and state["epoch"] >= epochs_l3):
        clock("encode", t0)  # (re-encoding only to write the results of a finished run is not counted)

    # ---- S1 and S2: unsupervised STDP, sequential, checkpointed every CHECKPOINT_EVERY digits --
    for layer, epochs in ((1, epochs_l1), (2, epochs_l2)):
        stage = f"l{layer}"
        if state["stage"] != stage:
            continue
        bar = _progress(epochs * n_train, f"S{layer} STDP", progress, state["epoch"] * n_train + state["pos"])
        while state["epoch"] < epochs:
            t0 = time.perf_counter()
            lo = state["pos"]
            hi = min(n_train, lo + CHECKPOINT_EVERY)
            model.learn_stdp(layer, times[lo:hi])
            clock(stage, t0)
            bar.update(hi - lo)
            state["pos"] = hi
            if hi >= n_train:
                state["epoch"] += 1
                state["pos"] = 0
            checkpoint()
        bar.close()
        state.update(stage=f"l{layer + 1}", epoch=0, pos=0)
        checkpoint()
        if stop_after == stage:
            return {"stopped_after": stage}

    # ---- S3: R-STDP on cached inputs (S1 and S2 are frozen now) --------------------------------
    train_labels, val_labels = labels[:n_train], labels[n_train:]
    if state["stage"] == "l3" and state["epoch"] < epochs_l3:  # (a finished run skips this)
        t0 = time.perf_counter()
        active = model.s3_input(times)
        test_active = model.s3_input(test_times)
        clock("s3_input", t0)
        train_active, val_active = active[:n_train], active[n_train:]
    bar = _progress(epochs_l3 * n_train, "S3 R-STDP", progress, state["epoch"] * n_train)
    while state["stage"] == "l3" and state["epoch"] < epochs_l3:
        if time_budget_s is not None and state["history"]:
            per_epoch = (timings.get("l3", 0.0) + timings.get("evaluation", 0.0)) / len(state["history"])
            if sum(timings.values()) + per_epoch > time_budget_s:
                state["stopped_by"] = f"time budget ({time_budget_s:.0f} s)"
                break
        t0 = time.perf_counter()
        decisions = model.learn_rstdp(train_active, train_labels, s3_input=True)
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
        if patience is not None and validation and state["epoch"] - state["best"]["epoch"] >= patience:
            state["stage"] = "done"
            state["stopped_by"] = f"patience ({patience} epochs)"
        checkpoint()
        if stop_after == f"l3-epoch-{state['epoch']}":
            bar.close()
            return {"stopped_after": stop_after}
    bar.close()
    state["stage"] = "done"
    checkpoint()

    # ---- results -------------------------------------------------------------------------------
    history = state["history"]
    final = history[-1] if history else None
    final_weights = {f"conv{i}": getattr(model, f"conv{i}").weight.detach().clone() for i in (1, 2, 3)}
    if validation and state["best"] is not None:
        selected_epoch = state["best"]["epoch"]
        model.conv3.weight.data.copy_(state["best"]["conv3"])
        model._cache.clear()
    else:
        selected_epoch = final["epoch"] if final else 0
    selected = next((h for h in history if h["epoch"] == selected_epoch), None)
    model.eval()
    spikes = _spike_counts(model, test_times[:1000])
    weights_path = out / f"{name}.pt"
    shipped = {f"conv{i}": getattr(model, f"conv{i}").weight.detach().half() for i in (1, 2, 3)}
    shipped["time_steps"] = time_steps
    torch.save(shipped, weights_path)
    reloaded = load_mozafari2019(weights_path)
    shipped_eval = evaluate(reloaded, reloaded.s3_input(test_times), test_labels)
    shipped_1000 = evaluate(reloaded, reloaded.s3_input(test_times[:1000]), test_labels[:1000])
    del final_weights
    results = {
        "name": name,
        "command": command or "python -m snnbook.train mozafari2019 " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in config.items() if v is not None),
        "git_commit": git_commit(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": machine_info(),
        "config": config,
        "seed": seed,
        "wall_time_s": timings,
        "wall_time_total_s": sum(timings.values()),
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
    }
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    if name.startswith(("mozafari2019-seed", "mozafari2019-2h-seed", "mozafari2019-variant-")):
        summarize_mozafari2019(out)
    return results


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
         "spyketorch": {"test_accuracy": 0.969, "source": "SpykeTorch's MozafariDeep.py example (its README)"}}

#: Every known deviation of ``train_mozafari2019`` from the paper and its reference example.
DEVIATIONS = [
    "Trained on the first 50 000 training digits; the last 10 000 are a validation split on which the "
    "epoch is selected (the reference trains on all 60 000 and reports its best TEST epoch).",
    "Fewer R-STDP epochs than the reference's 680 (see config.epochs_l3 and the per-epoch curves).",
    "The decision layer's potentials are summed exactly (float64, rounded once to float32); SpykeTorch "
    "sums in float32 in oneDNN's CPU-dependent order, which decides near-ties of the k-WTA score "
    "differently. S1 and S2 give the same spikes either way (tested over 1 000 steps).",
    "Intensity-to-latency ranks equal values in a defined (stable) order; SpykeTorch leaves ties to "
    "torch.sort (SEMANTICS.md; the recorded digits have no ties at bin boundaries).",
    "The shipped weights are float16 (their own test accuracy is recorded under weights).",
]


#: The configuration of the faithful reproduction; a run that changes any of these is a named
#: variant (``--name mozafari2019-variant-<what>-seed<S>``), reported beside the faithful run.
FAITHFUL = {"time_steps": 15, "adaptive_rstdp": True, "s3_features": 200, "rstdp_rate_floor": 0.0,
            "s3_dropout": 0.0}


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
    faithful run of the same seed cut to the same number of epochs), wall time and machine, the
    commands, the configuration and :data:`DEVIATIONS`.

    Args:
        out: the results folder.

    Returns:
        The card (also written as JSON).
    """
    out = Path(out)
    runs = [json.loads(p.read_text()) for p in sorted(out.glob("mozafari2019-seed*.json"))
            if not p.name.endswith("-full.json")]
    full = [json.loads(p.read_text()) for p in sorted(out.glob("mozafari2019-seed*-full.json"))]
    budget = [json.loads(p.read_text()) for p in sorted(out.glob("mozafari2019-2h-seed*.json"))]
    variants = [json.loads(p.read_text()) for p in sorted(out.glob("mozafari2019-variant-*-seed*.json"))]
    if not runs:
        raise FileNotFoundError(f"summarize_mozafari2019: no mozafari2019-seed*.json in {out}")

    def stats(key):
        vals = [r[key] for r in runs if r.get(key) is not None]
        mean = sum(vals) / len(vals)
        sd = (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5 if len(vals) > 1 else None
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
        "wall_time_total_s": {r["seed"]: r["wall_time_total_s"] for r in runs},
        "wall_time_s": {r["seed"]: r["wall_time_s"] for r in runs},
        "machine": runs[0]["machine"],
        "commands": {r["seed"]: r["command"] for r in runs},
        "config": runs[0]["config"],
        "deviations": DEVIATIONS,
        "runs": [f"{r['name']}.json" for r in runs],
    }
    (out / "mozafari2019.json").write_text(json.dumps(card, indent=2) + "\n")
    return card


# Diehl & Cook (2015): the loop lives with its model (snnbook.models.diehl_cook2015); re-exported
# here so that every training entry point is reachable from snnbook.training.
from .models.diehl_cook2015 import load_diehl_cook2015, train_diehl_cook2015  # noqa: E402,F401
