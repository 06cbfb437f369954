"""Recipe: networks on EventMNIST (simulated event-camera digits): the convolutional LIF network
trained with surrogate gradients on binned events, one accumulated frame or time-shuffled events,
and Diehl & Cook (2015) on accumulated frames.

Chapter: Event cameras (book/events.md).

Command line: ``snnbook train events --input binned|frame|shuffled`` and
``snnbook train events --model diehl_cook2015``. Only the digits a run uses are generated
(:class:`snnbook.events.EventMNIST` with ``first``/``digits``). Files, checkpoints, Ctrl-C,
progress, device and provenance: :class:`snnbook.training.run.Run`.
"""
from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_int, check_real
from ..events import SACCADE_DURATION_US, EventMNIST
from ..models.diehl_cook2015 import DiehlCook2015, classify
from ..models.events_nets import EVENTS_BETA, EVENTS_INPUTS, EVENTS_TIME_BINS, EventConvSNN, events_batch, \
    frame_images
from .diehl_cook2015 import DEVIATIONS as DIEHL_COOK_DEVIATIONS
from .run import DEFAULT_OUT, Run, check_entry, confusion, git_commit, load_weights, resolve_device

__all__ = ["train_events", "train_events_stdp", "load_events", "QUICK", "QUICK_STDP"]

#: A small run for a first try (``--quick``): a few hundred event digits, generated in seconds.
QUICK = dict(train_digits=512, validation=128, test_digits=256, epochs=1)
QUICK_STDP = dict(n_neurons=100, train_digits=500, label_digits=200, test_digits=256)


def _datasets(fn: str, n_train: int, validation: int, n_test: int, progress: bool):
    """The training, validation and test digits a run uses, and nothing else (the validation
    digits are the LAST ``validation`` of the 60 000 training digits)."""
    if n_train + validation > 60_000:
        raise ValueError(f"{fn}: train_digits + validation must be <= 60000, got {n_train} + {validation}")
    fit = EventMNIST(train=True, seed=0, digits=n_train, progress=progress)
    val = EventMNIST(train=True, seed=0, first=60_000 - validation, digits=validation,
                     progress=progress) if validation else None
    test = EventMNIST(train=False, seed=0, digits=n_test, progress=progress)
    return fit, val, test


def _evaluate(net, ds, input, batch_size, device):
    net.eval()
    preds, spikes = [], []
    with torch.no_grad():
        for i in range(0, len(ds), batch_size):
            x = events_batch(ds, range(i, min(i + batch_size, len(ds))), input, device=device)
            preds.append(net(x).argmax(1).cpu())
            spikes.append(net.spike_counts.cpu())
    return torch.cat(preds), torch.cat(spikes)


def load_events(path) -> EventConvSNN:
    """An :class:`~snnbook.models.events_nets.EventConvSNN` in eval mode from weights written by
    :func:`train_events` (``torch.load(..., weights_only=True)``: ``{"channels", "beta",
    "state_dict"}``)."""
    fn = "load_events"
    saved = load_weights(fn, path, "events")
    channels, beta, state = saved.get("channels"), saved.get("beta"), saved.get("state_dict")
    if not (isinstance(channels, list) and len(channels) == 2 and all(isinstance(c, int) and c >= 1
                                                                      for c in channels)):
        raise ValueError(f"{fn}: {path}: channels must be two positive integers, got {channels!r}")
    if isinstance(beta, bool) or not isinstance(beta, float) or not 0.0 <= beta <= 1.0:
        raise ValueError(f"{fn}: {path}: beta must be a number in [0, 1], got {beta!r}")
    net = EventConvSNN(channels=tuple(channels), beta=beta)
    expected = net.state_dict()
    if not isinstance(state, dict) or set(state) != set(expected):
        raise ValueError(f"{fn}: {path}: its state_dict does not fit an EventConvSNN{tuple(channels)}")
    for key, want in expected.items():
        check_entry(fn, path, state, key, shape=tuple(want.shape))
    net.load_state_dict(state)
    return net.eval()


def train_events(input: str = "binned", *, seed: int = 0, epochs: int = 2, train_digits: int | None = None,
                 validation: int = 5000, test_digits: int | None = None, batch_size: int = 128,
                 lr: float = 2e-3, threads: int | None = None, out=DEFAULT_OUT, name: str | None = None,
                 command: str | None = None, progress: bool = True, resume: bool = False, force: bool = False,
                 keep_checkpoint: bool = False, verbose: bool = False, device=None) -> dict:
    """Train :class:`~snnbook.models.events_nets.EventConvSNN` on EventMNIST with ``input``
    (:data:`~snnbook.models.events_nets.EVENTS_INPUTS`), select the epoch on the held-out last
    ``validation`` training digits, test on the test digits and write ``{out}/{name}.json`` and
    the selected weights ``{out}/{name}.pt`` (:func:`load_events`).

    Args:
        input: ``"binned"``, ``"frame"`` or ``"shuffled"``.
        seed: seed of the weights and the data order.
        epochs: passes over the training digits (a checkpoint after each; ``resume`` continues).
        train_digits: the first ``train_digits`` training digits (default: all but the validation ones).
        validation: the last ``validation`` training digits select the epoch (0: the last epoch).
        test_digits: the first ``test_digits`` test digits (default all 10 000).
        batch_size, lr: Adam with a one-cycle schedule of maximum ``lr``.
        threads: torch threads.
        out: output folder (default ``runs/``).
        name: base name (default ``events_{input}-seed{seed}``).
        command: the command line recorded in the JSON.
        progress: tqdm bars where stderr is a terminal, else a log line per epoch.
        resume, force, keep_checkpoint, verbose: as :class:`snnbook.training.run.Run`.
        device: where the network trains (default the CPU); events are binned on the CPU.

    Returns:
        dict: the results (also written as JSON).

    Raises:
        snnbook.training.TrainingInterrupted: after Ctrl-C, once the checkpoint is saved.
    """
    fn = "train_events"
    if input not in EVENTS_INPUTS:
        raise ValueError(f"{fn}: input must be one of {EVENTS_INPUTS}, got {input!r}")
    seed = check_int(fn, "seed", seed, minimum=0)
    epochs = check_int(fn, "epochs", epochs, minimum=1)
    validation = check_int(fn, "validation", validation, minimum=0, maximum=59_999)
    n_train = (60_000 - validation if train_digits is None
               else check_int(fn, "train_digits", train_digits, minimum=1, maximum=60_000))
    n_test = 10_000 if test_digits is None else check_int(fn, "test_digits", test_digits, minimum=1, maximum=10_000)
    batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
    lr = check_real(fn, "lr", lr, minimum=0.0, strict_min=True)
    if threads is not None:
        threads = check_int(fn, "threads", threads, minimum=1)
    check_bool(fn, "progress", progress)
    dev = resolve_device(fn, device)
    if n_train + validation > 60_000:
        raise ValueError(f"{fn}: train_digits + validation must be <= 60000, got {n_train} + {validation}")
    name = name or f"events_{input}-seed{seed}"
    config = {"input": input, "epochs": epochs, "batch_size": batch_size, "lr": lr,
              "time_bins": EVENTS_TIME_BINS, "bin_ms": SACCADE_DURATION_US * 3 / EVENTS_TIME_BINS / 1000,
              "channels": [12, 24], "beta": EVENTS_BETA, "train_digits": n_train,
              "validation_digits": validation, "test_digits": n_test}
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    if threads is not None:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    train, val, test = _datasets(fn, n_train, validation, n_test, progress and run.bars)
    config["dataset"] = dict(train.params)
    t_data = time.perf_counter() - t_start

    torch.manual_seed(seed)
    net = EventConvSNN().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * int(np.ceil(n_train / batch_size))
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    rng = np.random.default_rng(seed)
    loop = {"epoch": 0, "history": [], "best": -1.0, "wall_train_s": 0.0, "cpu_train_s": 0.0}
    best_state = None
    saved = run.load_checkpoint()
    if saved is not None:
        run.check_config(saved["config"], config)
        net.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        rng.bit_generator.state = saved["rng"]
        loop, best_state = saved["loop"], saved["best_state"]
        run.resumed(f"epoch {loop['epoch'] + 1} of {epochs}")

    def checkpoint():
        run.save({"config": config, "model": net.state_dict(), "optimizer": opt.state_dict(),
                  "scheduler": sched.state_dict(), "rng": rng.bit_generator.state, "loop": loop,
                  "best_state": best_state}, f"epoch {loop['epoch'] + 1} of {epochs}")

    t0, c0 = time.perf_counter(), time.process_time()
    base_wall, base_cpu = loop["wall_train_s"], loop["cpu_train_s"]
    with run:
        while loop["epoch"] < epochs:
            epoch = loop["epoch"]
            net.train()
            order = rng.permutation(n_train)
            bar = run.bar(n_train, f"{name} epoch {epoch + 1}")
            loss_sum = 0.0
            for i in range(0, n_train, batch_size):
                idx = order[i:i + batch_size]
                x = events_batch(train, idx, input, device=dev)
                y = torch.from_numpy(train.labels[idx].astype(np.int64)).to(dev)
                loss = nn.functional.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
                loss_sum += float(loss.detach()) * len(idx)
                bar.update(len(idx))
            bar.close()
            if val is not None:
                pred, _ = _evaluate(net, val, input, 500, dev)
                val_acc = float((pred.numpy() == val.labels).mean())
            else:
                val_acc = None
            loop["wall_train_s"] = base_wall + time.perf_counter() - t0
            loop["cpu_train_s"] = base_cpu + time.process_time() - c0
            loop["history"].append({"epoch": epoch + 1, "train_loss": loss_sum / n_train,
                                    "validation_accuracy": val_acc, "wall_time_s": round(loop["wall_train_s"], 1)})
            score = -1.0 if val_acc is None else val_acc
            if val_acc is None or score > loop["best"]:
                loop["best"] = score
                best_state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
            run.epoch("epoch %d/%d: training loss %.4f, validation accuracy %s (%.0f s)", epoch + 1, epochs,
                      loss_sum / n_train, "-" if val_acc is None else f"{val_acc:.4f}", loop["wall_train_s"])
            loop["epoch"] += 1
            checkpoint()
            if loop["epoch"] < epochs:
                run.boundary(checkpoint)
    t_train = loop["wall_train_s"]
    net.load_state_dict(best_state)
    t1 = time.perf_counter()
    pred, spikes = _evaluate(net, test, input, 500, dev)
    t_test = time.perf_counter() - t1
    labels = test.labels.astype(np.int64)
    pred = pred.numpy()
    matrix = confusion(torch.from_numpy(labels), torch.from_numpy(pred)).numpy()
    history = loop["history"]
    vals = [h["validation_accuracy"] for h in history]
    selected = (int(np.argmax(vals)) + 1) if val is not None else len(history)
    run.save_weights({"channels": list(net.channels), "beta": float(EVENTS_BETA),
                      "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}, "events")
    x = events_batch(test, range(min(200, n_test)), input)
    results = {
        "name": name,
        "paper": "Iyer, Chua & Li (2021), Front. Neurosci. 15:608567 (control: accumulated frames); "
                 "data: EventMNIST, N-MNIST-like saccades (Orchard et al. 2015) simulated from MNIST",
        "display_name": f"EventMNIST conv. SNN ({input} input)",
        "learning_rule": "BPTT with a surrogate gradient",
        "supervision": "labels (cross-entropy)",
        "command": command or f"snnbook train events --input {input} --seed {seed}",
        "commit": git_commit(run.provenance),
        "torch": torch.__version__,
        "device": str(dev),
        "seed": seed,
        "config": config,
        "epochs": history,
        "selected_epoch": selected,
        "validation_accuracy_selected": vals[selected - 1],
        "wall_time_data_s": round(t_data, 1),
        "wall_time_train_s": round(t_train, 1),
        "cpu_time_train_s": round(loop["cpu_train_s"], 1),
        "wall_time_test_s": round(t_test, 1),
        "wall_time_total_s": round(t_data + t_train + t_test, 1),
        "test_accuracy": float((pred == labels).mean()),
        "per_class_accuracy": [float(matrix[c, c] / max(matrix[c].sum(), 1)) for c in range(10)],
        "confusion": matrix.tolist(),
        "events_per_digit": float(test.events_per_digit().mean()),
        "events_per_digit_train": float(train.events_per_digit().mean()),
        "input_nonzero_per_digit": float((x != 0).sum(dim=(1, 2, 3, 4)).float().mean()),
        "spikes_per_digit": float(spikes.float().mean()),
        "weights": {"file": run.weights_path.name},
        "deviations": [
            "EventMNIST is simulated from MNIST (snnbook.events), not the recorded N-MNIST.",
            "A small network (12 and 24 feature maps on 2 x 2 summed events) trained for few epochs "
            "on 2 CPU cores; "
            "Iyer et al. report 99.23 % for their frame network on N-MNIST.",
            "The frame control feeds the accumulated frame at each of the same time steps, divided "
            "by their number, so that the network and its total input are the same.",
        ],
    }
    return run.finish(results)


def train_events_stdp(*, seed: int = 0, n_neurons: int = 100, train_digits: int = 20000,
                      label_digits: int = 10000, test_digits: int | None = None, out=DEFAULT_OUT,
                      name: str | None = None, command: str | None = None, progress: bool = True,
                      resume: bool = False, force: bool = False, keep_checkpoint: bool = False,
                      verbose: bool = False) -> dict:
    """Diehl & Cook (2015) on EventMNIST: unsupervised STDP on the accumulated event frames
    (:func:`~snnbook.models.events_nets.frame_images`) of the first ``train_digits`` training
    digits, neuron labels from the last ``label_digits`` training digits, test on the test digits;
    writes ``{out}/{name}.json`` (default name ``events_stdp_diehl_cook2015_<N>-seed<S>``) and the
    weights ``{out}/{name}.pt`` (:func:`~snnbook.training.diehl_cook2015.load_diehl_cook2015` loads them).

    Returns:
        dict: the results (also written as JSON).

    Raises:
        snnbook.training.TrainingInterrupted: after Ctrl-C, once the checkpoint is saved.
    """
    fn = "train_events_stdp"
    seed = check_int(fn, "seed", seed, minimum=0)
    n_neurons = check_int(fn, "n_neurons", n_neurons, minimum=1)
    train_digits = check_int(fn, "train_digits", train_digits, minimum=1, maximum=60_000)
    label_digits = check_int(fn, "label_digits", label_digits, minimum=1, maximum=60_000)
    n_test = 10_000 if test_digits is None else check_int(fn, "test_digits", test_digits, minimum=1, maximum=10_000)
    if train_digits + label_digits > 60_000:
        raise ValueError(f"{fn}: train_digits + label_digits must be <= 60000, got {train_digits} + {label_digits}")
    name = name or f"events_stdp_diehl_cook2015_{n_neurons}-seed{seed}"
    config = {"input": "frame (ON + OFF counts, resized to 28 x 28, scaled to 0..255)",
              "n_neurons": n_neurons, "epochs": 1, "train_digits": train_digits,
              "label_digits": label_digits, "test_digits": n_test}
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    t_start = time.perf_counter()
    fit_ds, lab_ds, test_ds = _datasets(fn, train_digits, label_digits, n_test, progress and run.bars)
    config["dataset"] = dict(fit_ds.params)
    fit = frame_images(fit_ds, range(train_digits))
    lab = frame_images(lab_ds, range(label_digits))
    x_test = frame_images(test_ds, range(n_test))
    t_data = time.perf_counter() - t_start
    model = DiehlCook2015(n_neurons=n_neurons, seed=seed)
    loop = {"pos": 0, "wall_train_s": 0.0}
    saved = run.load_checkpoint()
    if saved is not None:
        run.check_config(saved["config"], config)
        model.load_state_dict(saved["model"])
        loop = saved["loop"]
        run.resumed(f"digit {loop['pos']} of {train_digits}")

    def checkpoint():
        run.save({"config": config, "model": model.state_dict(), "loop": loop},
                 f"digit {loop['pos']} of {train_digits}")

    chunk = 1000
    bar = run.bar(train_digits, f"{name} STDP", loop["pos"])
    t0 = time.perf_counter()
    base = loop["wall_train_s"]
    with run:
        while loop["pos"] < train_digits:
            lo = loop["pos"]
            hi = min(train_digits, lo + chunk)
            model.learn(fit[lo:hi])
            loop["pos"] = hi
            loop["wall_train_s"] = base + time.perf_counter() - t0
            bar.update(hi - lo)
            checkpoint()
            if hi < train_digits:
                run.boundary(checkpoint)
    bar.close()
    run.epoch("trained on %d digits (%.0f s)", train_digits, loop["wall_train_s"])
    t1 = time.perf_counter()
    model.assign_labels(lab, torch.from_numpy(lab_ds.labels.astype(np.int64)), first_index=60_000 - label_digits)
    t_label = time.perf_counter() - t1
    model.eval()
    t2 = time.perf_counter()
    counts = model.responses(x_test)
    pred = classify(counts, model.labels)
    t_test = time.perf_counter() - t2
    labels = torch.from_numpy(test_ds.labels.astype(np.int64))
    matrix = confusion(labels, pred).numpy()
    pred, labels = pred.numpy(), labels.numpy()
    ok = pred >= 0
    run.save_weights({"weight": model.weight.float(), "theta": model.theta.float(), "labels": model.labels.clone(),
                      "seed": seed}, "diehl_cook2015")
    results = {
        "name": name,
        "paper": "Diehl & Cook (2015), Front. Comput. Neurosci. 9:99, on EventMNIST accumulated frames",
        "display_name": f"EventMNIST Diehl & Cook 2015, {n_neurons} neurons (accumulated frames)",
        "learning_rule": "STDP (unsupervised)",
        "supervision": "labels (neuron labelling)",
        "command": command or f"snnbook train events --model diehl_cook2015 --seed {seed}",
        "commit": git_commit(run.provenance),
        "torch": torch.__version__,
        "seed": seed,
        "config": config,
        "wall_time_data_s": round(t_data, 1),
        "wall_time_train_s": round(loop["wall_train_s"], 1),
        "wall_time_label_s": round(t_label, 1),
        "wall_time_test_s": round(t_test, 1),
        "wall_time_total_s": round(t_data + loop["wall_train_s"] + t_label + t_test, 1),
        "test_accuracy": float((pred == labels).mean()),
        "per_class_accuracy": [float(matrix[c, c] / max((labels == c).sum(), 1)) for c in range(10)],
        "confusion": matrix.tolist(),
        "unclassified_test_digits": int((~ok).sum()),
        "events_per_digit": float(test_ds.events_per_digit().mean()),
        "spikes_per_digit": float(counts.sum(1).float().mean()),
        "weights_file": run.weights_path.name,
        "deviations": [
            "Input: the accumulated event frame of each digit (no timing), resized to MNIST's 28 x 28 "
            "and coded as Poisson rates like an MNIST image; the network never sees event times.",
            f"Trained on {train_digits} digits for one pass, labelled on {label_digits} other training digits.",
            *DIEHL_COOK_DEVIATIONS,
        ],
    }
    return run.finish(results)
