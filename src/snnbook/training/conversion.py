"""Recipe: the ReLU networks of the same size as the surrogate-gradient networks, and their
conversion to spiking networks by weight/threshold balancing.

Chapter: The third road: converting a trained ANN (book/conversion.md).

Command line: ``snnbook train ann_fc|ann_conv`` (or ``python -m snnbook.train ann_fc``) trains the
ANN (:func:`train_ann`: ``{out}/ann_{net}-seed{S}.json`` and ``.pt``) and converts it
(:func:`convert_ann`: ``{out}/conversion_{net}-seed{S}.json``). Files, checkpoints, Ctrl-C,
progress and provenance: :class:`snnbook.training.run.Run`.

What is chosen on which data (never on the test digits):

* the balancing scales: percentiles of the activations on the first ``balance_digits`` of the
  50 000 training digits;
* the percentile: the one of ``percentiles`` with the best accuracy on the 10 000 validation digits
  (the last 10 000 training digits) at ``select_steps`` time steps;
* the reported number of time steps: the smallest of the grid ``1, 2, 4, ..., max_steps`` whose
  validation accuracy is within ``tolerance`` of the ANN's validation accuracy (else
  ``max_steps``).

The test digits then give the accuracy at every step count of the grid (one run to ``max_steps``,
read out along the way) and the spikes and synaptic operations at the reported step count.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from .._checks import check_bool, check_int, check_real
from .run import DEFAULT_OUT, Run, check_entry, confusion, git_commit, load_weights, resolve_device

__all__ = ["train_ann", "convert_ann", "summarize_conversion", "load_ann", "evaluate_ann", "evaluate_converted", "step_grid",
           "ANN_DEFAULTS", "CONVERSION_DEFAULTS", "QUICK", "ANN_DEVIATIONS", "CONVERSION_DEVIATIONS",
           "CONVERSION_PAPER"]

#: The method's source.
CONVERSION_PAPER = ("P. U. Diehl, D. Neil, J. Binas, M. Cook, S.-C. Liu, M. Pfeiffer (2015), Fast-classifying, "
                    "high-accuracy spiking deep networks through weight and threshold balancing, IJCNN; "
                    "percentile normalisation: B. Rueckauer, I.-A. Lungu, Y. Hu, M. Pfeiffer, S.-C. Liu (2017), "
                    "Conversion of continuous-valued deep networks to efficient event-driven networks for "
                    "image classification, Front. Neurosci. 11:682")

#: Default configuration of each ANN (the architectures of SurrogateFC and SurrogateConv).
ANN_DEFAULTS = {
    "fc": dict(hidden=1000, epochs=5, batch_size=128, lr=1e-3),
    "conv": dict(channels=[32, 64], hidden=128, epochs=3, batch_size=128, lr=1e-3),
}
#: Default configuration of the conversion.
CONVERSION_DEFAULTS = dict(percentiles=[99.0, 99.9, 99.99, 100.0], balance_digits=10_000, select_steps=32,
                           max_steps=256, tolerance=0.01, coding="direct", v_init=0.0, batch_size=1000)
#: Configuration keys of a conversion run that differ between the seeds of one card.
CONVERSION_PER_RUN = ("seed", "ann")
#: A small run for a first try (``--quick``): well under a minute on a laptop CPU.
QUICK = {"fc": dict(train_digits=3000, validation=1000, test_digits=1000, epochs=1, max_steps=64),
         "conv": dict(train_digits=3000, validation=1000, test_digits=500, epochs=1, max_steps=32)}

ANN_DEVIATIONS = [
    "The ANN is the surrogate-gradient network's architecture with ReLU in place of the LIF neurons "
    "(fc: 784-1000-10; conv: conv 3x3 1->32, avg-pool 2, BatchNorm, ReLU; conv 3x3 32->64, avg-pool 2, "
    "BatchNorm, ReLU; linear 3136->128, ReLU; linear 128->10), PyTorch's default initialisation after "
    "torch.manual_seed(seed).",
    "Training: Adam (lr 1e-3, betas 0.9/0.999), batch 128, cross-entropy, a fixed number of epochs on the "
    "first 50 000 training digits (seeded shuffle per epoch, last partial batch dropped); the last 10 000 "
    "training digits are held out for validation; no augmentation, no dropout, no selection of epochs.",
    "Pixels / 255 in [0, 1], no mean subtraction (so that the pixel is the input current of the converted "
    "network).",
]
CONVERSION_DEVIATIONS = [
    "Data-based normalisation of Diehl et al. (2015) with the scale of each layer taken as a percentile of "
    "its positive activations on the first balance_digits training digits (Rueckauer et al. 2017); "
    "percentile 100 is Diehl's maximum of the activations (their algorithm also takes the largest positive "
    "weight into account, which is omitted here).",
    "Biases are kept and divided by the layer's scale, as Rueckauer et al. (2017) do; Diehl et al. (2015) "
    "trained networks without biases.",
    "BatchNorm is folded into the convolution before it (running statistics) before balancing.",
    "IF neurons: no leak, threshold 1, reset by subtraction, initial potential v_init x threshold (0), "
    "spike when v >= threshold.",
    "Input: direct coding (the pixel is a constant input current at every step); the layers before the "
    "first IF layer run once per digit and are counted as MACs; Poisson input is available "
    "(coding='poisson').",
    "Read-out: the last layer is not spiking; its output current averaged over the steps are the logits "
    "(the class is their argmax).",
    "The percentile is chosen among config.percentiles by validation accuracy at select_steps steps; the "
    "reported time steps are the smallest of 1, 2, 4, ..., max_steps whose validation accuracy is within "
    "tolerance of the ANN's validation accuracy. The test set chooses nothing.",
    "Synops: spikes x fan-out into the next synaptic layer, counted while the network runs (accumulates).",
]


def step_grid(max_steps: int) -> list[int]:
    """``[1, 2, 4, ..., max_steps]`` (powers of two, and ``max_steps`` itself last).

    Example:
        >>> step_grid(20)
        [1, 2, 4, 8, 16, 20]
    """
    max_steps = check_int("step_grid", "max_steps", max_steps, minimum=1)
    grid, t = [], 1
    while t < max_steps:
        grid.append(t)
        t *= 2
    return grid + [max_steps]


def _ann(network: str, config: dict) -> torch.nn.Module:
    from ..models.conversion import ReLUConv, ReLUFC
    if network == "fc":
        return ReLUFC(hidden=config["hidden"])
    return ReLUConv(channels=tuple(config["channels"]), hidden=config["hidden"])


def _check_network(fn: str, network) -> str:
    if network not in ANN_DEFAULTS:
        raise ValueError(f"{fn}: network must be one of {sorted(ANN_DEFAULTS)}, got {network!r}")
    return network


@torch.no_grad()
def evaluate_ann(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 batch_size: int = 1000) -> dict:
    """Accuracy, per-class accuracy and confusion matrix of an ANN (eval mode) on ``images``.

    Args:
        model: a :class:`~snnbook.models.conversion.ReLUFC` or ``ReLUConv``.
        images: uint8 digits ``[batch, 28, 28]``; labels: ``[batch]``.
        batch_size: digits per forward pass.

    Returns:
        ``{"accuracy", "per_class_accuracy", "confusion"}``.
    """
    fn = "evaluate_ann"
    batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"{fn}: labels must be a tensor [batch={images.shape[0]}], got "
                         f"{getattr(labels, 'shape', type(labels).__name__)}")
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    pred = torch.cat([model(images[lo:lo + batch_size].to(dev)).argmax(1).cpu()
                      for lo in range(0, images.shape[0], batch_size)])
    model.train(was)
    matrix = confusion(labels.cpu(), pred)
    return {"accuracy": float((pred == labels.cpu()).double().mean()),
            "per_class_accuracy": [round(float(a), 4) for a in
                                   matrix.diag().double() / matrix.sum(1).clamp(min=1).double()],
            "confusion": matrix.tolist()}


@torch.no_grad()
def evaluate_converted(snn, images: torch.Tensor, labels: torch.Tensor, read_at, batch_size: int = 1000,
                       seed: int = 0) -> dict:
    """Accuracy of a :class:`~snnbook.models.conversion.ConvertedSNN` after each step count of
    ``read_at`` (one simulation to the largest), and its spikes and synaptic operations per digit.

    Args:
        snn: the converted network.
        images: uint8 digits ``[batch, 28, 28]``; labels: ``[batch]``.
        read_at: increasing step counts.
        batch_size: digits per simulation.
        seed: seed of the Poisson input (a generator seeded ``1000 + seed``; unused for direct input).

    Returns:
        ``{"accuracy": {T: acc}, "spikes_per_digit": {T: {"if1": .., "total": ..}},
        "synops_per_digit": {T: {...}}, "input_layer_macs_per_digit", "predictions": {T: [batch]}}``.
    """
    fn = "evaluate_converted"
    batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
    if not isinstance(labels, torch.Tensor) or labels.shape != images.shape[:1]:
        raise ValueError(f"{fn}: labels must be a tensor [batch={images.shape[0]}], got "
                         f"{getattr(labels, 'shape', type(labels).__name__)}")
    read_at = list(read_at)
    dev = next(snn.parameters()).device
    generator = torch.Generator(device=dev).manual_seed(1000 + check_int(fn, "seed", seed, minimum=0))
    preds, spikes, synops, macs = [], {}, {}, 0.0
    for lo in range(0, images.shape[0], batch_size):
        r = snn.simulate(images[lo:lo + batch_size].to(dev), read_at[-1], read_at=read_at, generator=generator)
        preds.append(r["logits"].argmax(2).cpu())
        for store, part in ((spikes, r["spikes"]), (synops, r["synops"])):
            for name, v in part.items():
                store[name] = store.get(name, 0.0) + v.sum(1).cpu()
        macs += float(r["input_macs"].sum())
    pred = torch.cat(preds, 1)
    n = images.shape[0]
    labels = labels.cpu()

    def per_t(store):
        out = {}
        for i, t in enumerate(read_at):
            row = {name: float(v[i]) / n for name, v in store.items()}
            out[t] = {**row, "total": sum(row.values())}
        return out

    return {"accuracy": {t: float((pred[i] == labels).double().mean()) for i, t in enumerate(read_at)},
            "spikes_per_digit": per_t(spikes), "synops_per_digit": per_t(synops),
            "input_layer_macs_per_digit": macs / n, "predictions": {t: pred[i] for i, t in enumerate(read_at)}}


def load_ann(path: str | os.PathLike) -> torch.nn.Module:
    """Load ANN weights written by :func:`train_ann` (``torch.load(..., weights_only=True)``).

    Args:
        path: a ``.pt`` file (``{"network", "config", "state_dict"}``, tensors float16 or float32).

    Returns:
        The ANN in eval mode, parameters in float32.
    """
    fn = "load_ann"
    saved = load_weights(fn, path, "ann")
    network, config, state = saved.get("network"), saved.get("config"), saved.get("state_dict")
    if network not in ANN_DEFAULTS or not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError(f"{fn}: {path} is not a weights file of train_ann (network {network!r})")
    model = _ann(network, {**ANN_DEFAULTS[network], **config})
    expected = model.state_dict()
    if set(state) != set(expected):
        raise ValueError(f"{fn}: {path}: its state_dict does not fit the {network} ANN")
    for key, want in expected.items():
        check_entry(fn, path, state, key, shape=tuple(want.shape))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()


def _split(fn: str, train_digits, validation, test_digits):
    n_all = 60_000 if train_digits is None else check_int(fn, "train_digits", train_digits, minimum=2,
                                                          maximum=60_000)
    validation = check_int(fn, "validation", validation, minimum=1, maximum=n_all - 1)
    n_test = 10_000 if test_digits is None else check_int(fn, "test_digits", test_digits, minimum=1,
                                                          maximum=10_000)
    return n_all, validation, n_test


def train_ann(network: str, out: str | os.PathLike = DEFAULT_OUT, seed: int = 0, resume: bool = False,
              progress: bool = True, name: str | None = None, command: str | None = None,
              train_digits: int | None = None, validation: int = 10_000, test_digits: int | None = None,
              threads: int | None = None, device=None, force: bool = False, keep_checkpoint: bool = False,
              verbose: bool = False, **overrides) -> dict:
    """Train the ReLU twin of a surrogate-gradient network; write ``{out}/{name}.json`` and ``.pt``.

    Adam, cross-entropy, batch 128, ``epochs`` passes over the first ``train_digits - validation``
    training digits (seeded permutation per epoch); checkpoints at each epoch's end (``resume``).

    Args:
        network: ``"fc"`` (784-1000-10) or ``"conv"`` (the SurrogateConv architecture).
        out: output folder (default ``runs/``).
        seed: seed of the initial weights and the data order.
        resume: continue from ``{out}/checkpoints/{name}.pt``.
        progress, verbose, force, keep_checkpoint: as every recipe (:class:`~snnbook.training.run.Run`).
        name: base name of the files (default ``ann_{network}-seed{seed}``).
        command: the command line recorded.
        train_digits: first training digits used (default 60 000), of which the LAST ``validation``
            (default 10 000) are held out.
        test_digits: first test digits (default all 10 000).
        threads: torch threads; device: where it trains (default the CPU).
        overrides: entries of :data:`ANN_DEFAULTS` (``epochs``, ``lr``, ``hidden``, ...).

    Returns:
        The results dict (also written as JSON).
    """
    from .. import data
    from ..models.conversion import ann_macs
    fn = "train_ann"
    network = _check_network(fn, network)
    unknown = set(overrides) - set(ANN_DEFAULTS[network])
    if unknown:
        raise TypeError(f"{fn}: unknown option(s) {sorted(unknown)}; expected some of {sorted(ANN_DEFAULTS[network])}")
    seed = check_int(fn, "seed", seed, minimum=0)
    check_bool(fn, "resume", resume)
    n_all, validation, n_test = _split(fn, train_digits, validation, test_digits)
    config = {**ANN_DEFAULTS[network], **overrides, "seed": seed, "train_digits": n_all, "validation": validation,
              "test_digits": n_test}
    epochs = check_int(fn, "epochs", config["epochs"], minimum=1)
    batch_size = check_int(fn, "batch_size", config["batch_size"], minimum=1)
    check_real(fn, "lr", config["lr"], minimum=0.0, strict_min=True)
    check_int(fn, "hidden", config["hidden"], minimum=1)
    n_train = n_all - validation
    per_epoch = n_train // batch_size
    if per_epoch < 1:
        raise ValueError(f"{fn}: batch_size={batch_size} is larger than the {n_train} training digits")
    if threads is not None:
        torch.set_num_threads(check_int(fn, "threads", threads, minimum=1))
    dev = resolve_device(fn, device)
    name = name or f"ann_{network}-seed{seed}"
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    torch.manual_seed(seed)
    model = _ann(network, config).train().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loop = {"epoch": 0, "wall_train_s": 0.0, "cpu_train_s": 0.0, "history": []}
    saved = run.load_checkpoint()
    if saved is not None:
        run.check_config(saved["config"], json.loads(json.dumps(config)))
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        loop = saved["loop"]
        run.resumed(f"epoch {loop['epoch'] + 1} of {epochs}")
    images, labels = data.mnist_tensors(train=True, n=n_all)
    bar = run.bar(epochs * per_epoch * batch_size, name, loop["epoch"] * per_epoch * batch_size)
    F = torch.nn.functional
    with run:
        while loop["epoch"] < epochs:
            epoch = loop["epoch"]
            t0, c0 = time.perf_counter(), time.process_time()
            order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
            total_loss, correct = 0.0, 0
            for i in range(per_epoch):
                idx = order[i * batch_size:(i + 1) * batch_size]
                target = labels[idx].to(dev)
                logits = model(images[idx].to(dev))
                loss = F.cross_entropy(logits, target)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total_loss += float(loss.detach())
                correct += int((logits.argmax(1) == target).sum())
                bar.update(batch_size)
            loop["wall_train_s"] += time.perf_counter() - t0
            loop["cpu_train_s"] += time.process_time() - c0
            loop["epoch"] += 1
            row = {"epoch_end": epoch + 1, "mean_loss": total_loss / per_epoch,
                   "train_accuracy_running": correct / (per_epoch * batch_size),
                   "wall_s": round(loop["wall_train_s"], 1)}
            loop["history"].append(row)
            run.epoch("epoch %d/%d: mean loss %.4f, running training accuracy %.4f", epoch + 1, epochs,
                      row["mean_loss"], row["train_accuracy_running"])

            def save():
                run.save({"config": json.loads(json.dumps(config)), "model": model.state_dict(),
                          "optimizer": optimizer.state_dict(), "loop": loop}, f"epoch {loop['epoch']}")
            save()
            if loop["epoch"] < epochs:
                run.boundary(save)
    bar.close()
    model.eval()
    test_images, test_labels = data.mnist_tensors(train=False, n=n_test)
    t1 = time.perf_counter()
    test = evaluate_ann(model, test_images, test_labels)
    wall_test = time.perf_counter() - t1
    val = evaluate_ann(model, images[n_train:], labels[n_train:])
    weights = run.save_weights({"network": network, "config": json.loads(json.dumps(config)),
                                "state_dict": {k: v.detach().cpu().half() if v.is_floating_point() else
                                               v.detach().cpu() for k, v in model.state_dict().items()}}, "ann")
    shipped = evaluate_ann(load_ann(weights).to(dev), test_images, test_labels)
    macs = ann_macs(model.cpu())
    model.to(dev)
    results = {
        "name": name, "network": f"ann_{network}", "paper": "ReLU twin of the surrogate-gradient network "
        "(the ANN that conversion starts from)",
        "command": command or f"snnbook train ann_{network} --seed {seed}",
        "commit": git_commit(run.provenance), "torch": torch.__version__, "device": str(dev), "seed": seed,
        "config": config, "wall_time_train_s": round(loop["wall_train_s"], 1),
        "cpu_time_train_s": round(loop["cpu_train_s"], 1), "wall_time_test_s": round(wall_test, 2),
        "test_accuracy": test["accuracy"], "validation_accuracy": val["accuracy"],
        "per_class_accuracy": test["per_class_accuracy"], "confusion": test["confusion"],
        "macs_per_inference": macs, "spikes_per_test_digit": None, "synops_per_inference": None,
        "loss_history": loop["history"],
        "weights": {"file": weights.name, "dtype": "float16", "test_accuracy": shipped["accuracy"]},
        "deviations": ANN_DEVIATIONS,
    }
    return run.finish(results)


def convert_ann(network: str, ann: str | os.PathLike, out: str | os.PathLike = DEFAULT_OUT, seed: int = 0,
                name: str | None = None, command: str | None = None, threads: int | None = None, device=None,
                force: bool = False, progress: bool = True, verbose: bool = False, **overrides) -> dict:
    """Convert the ANN of :func:`train_ann` and measure the spiking network; write
    ``{out}/{name}.json`` (default name ``conversion_{network}-seed{seed}``).

    Args:
        network: ``"fc"`` or ``"conv"``.
        ann: the ANN's results JSON (``ann_{network}-seed{S}.json``, its weights beside it).
        out: output folder.
        seed: the run's seed (Poisson input only).
        name, command, threads, device, force, progress, verbose: as :func:`train_ann`.
        overrides: entries of :data:`CONVERSION_DEFAULTS` (``percentiles``, ``max_steps``, ...).

    Returns:
        The results dict: ``test_accuracy`` at the reported ``time_steps``, the whole curve
        ``test_accuracy_vs_steps``, the validation accuracies that chose the percentile and the step
        count, the scales, spikes, synops and MACs.
    """
    from .. import data
    from ..models.conversion import convert
    fn = "convert_ann"
    network = _check_network(fn, network)
    unknown = set(overrides) - set(CONVERSION_DEFAULTS)
    if unknown:
        raise TypeError(f"{fn}: unknown option(s) {sorted(unknown)}; expected some of {sorted(CONVERSION_DEFAULTS)}")
    if not isinstance(ann, (str, os.PathLike)) or not Path(ann).is_file():
        raise ValueError(f"{fn}: ann must be the path of an ANN results file (ann_{network}-seed*.json), "
                         f"got {ann!r}")
    ann_path = Path(ann)
    ann_results = json.loads(ann_path.read_text())
    if ann_results.get("network") != f"ann_{network}":
        raise ValueError(f"{fn}: {ann_path} holds the results of {ann_results.get('network')!r}, not ann_{network}")
    seed = check_int(fn, "seed", seed, minimum=0)
    config = {**CONVERSION_DEFAULTS, **overrides, "seed": seed, "ann": ann_path.name}
    percentiles = config["percentiles"]
    if not isinstance(percentiles, (list, tuple)) or not percentiles:
        raise TypeError(f"{fn}: percentiles must be a non-empty list of numbers in (0, 100], got {percentiles!r}")
    for p in percentiles:
        check_real(fn, "percentiles", p, minimum=0.0, maximum=100.0, strict_min=True)
    max_steps = check_int(fn, "max_steps", config["max_steps"], minimum=1)
    select_steps = check_int(fn, "select_steps", config["select_steps"], minimum=1, maximum=max_steps)
    tolerance = check_real(fn, "tolerance", config["tolerance"], minimum=0.0, maximum=1.0)
    if threads is not None:
        torch.set_num_threads(check_int(fn, "threads", threads, minimum=1))
    dev = resolve_device(fn, device)
    name = name or f"conversion_{network}-seed{ann_results['seed']}"
    run = Run(fn, name, out, config=config, force=force, progress=progress, verbose=verbose, command=command)
    model = load_ann(ann_path.with_name(ann_results["weights"]["file"])).to(dev)
    acfg = ann_results["config"]
    n_train = acfg["train_digits"] - acfg["validation"]
    images, labels = data.mnist_tensors(train=True, n=acfg["train_digits"])
    balance_digits = min(check_int(fn, "balance_digits", config["balance_digits"], minimum=1), n_train)
    balance_images = images[:balance_digits]
    val_images, val_labels = images[n_train:], labels[n_train:]
    grid = step_grid(max_steps)
    bs = config["batch_size"]
    t0, c0 = time.perf_counter(), time.process_time()
    with run:
        selection = {}
        for p in percentiles:
            snn = convert(model, balance_images.to(dev), p, coding=config["coding"], v_init=config["v_init"],
                          eval_seed=seed)
            selection[p] = evaluate_converted(snn, val_images, val_labels, [select_steps], bs, seed)["accuracy"][
                select_steps]
            run.epoch("percentile %g: validation accuracy %.4f at %d steps", p, selection[p], select_steps)
        chosen = max(percentiles, key=lambda p: (selection[p], -percentiles.index(p)))
        snn = convert(model, balance_images.to(dev), chosen, coding=config["coding"], v_init=config["v_init"],
                      eval_seed=seed)
        val_curve = evaluate_converted(snn, val_images, val_labels, grid, bs, seed)["accuracy"]
        good = [t for t in grid if val_curve[t] >= ann_results["validation_accuracy"] - tolerance]
        steps = good[0] if good else max_steps
    wall_convert, cpu_convert = time.perf_counter() - t0, time.process_time() - c0
    test_images, test_labels = data.mnist_tensors(train=False, n=acfg["test_digits"])
    t1 = time.perf_counter()
    test = evaluate_converted(snn, test_images, test_labels, grid, bs, seed)
    wall_test = time.perf_counter() - t1
    results = {
        "name": name, "network": f"conversion_{network}", "paper": CONVERSION_PAPER,
        "command": command or f"snnbook train ann_{network} --seed {ann_results['seed']}",
        "commit": git_commit(run.provenance), "torch": torch.__version__, "device": str(dev),
        "seed": ann_results["seed"], "config": config, "ann": ann_path.name,
        "ann_test_accuracy": ann_results["test_accuracy"], "ann_validation_accuracy": ann_results["validation_accuracy"],
        "ann_macs_per_inference": ann_results["macs_per_inference"],
        "percentile": chosen, "validation_accuracy_by_percentile": {str(p): a for p, a in selection.items()},
        "scales": snn.scales, "balance_digits_used": balance_digits, "validation_accuracy_vs_steps": {str(t): a for t, a in val_curve.items()},
        "time_steps": steps, "test_accuracy": test["accuracy"][steps],
        "test_accuracy_vs_steps": {str(t): a for t, a in test["accuracy"].items()},
        "spikes_per_test_digit": test["spikes_per_digit"][steps],
        "synops_per_inference": test["synops_per_digit"][steps],
        "input_layer_macs_per_inference": test["input_layer_macs_per_digit"],
        "spikes_per_test_digit_vs_steps": {str(t): v["total"] for t, v in test["spikes_per_digit"].items()},
        "synops_per_inference_vs_steps": {str(t): v["total"] for t, v in test["synops_per_digit"].items()},
        "wall_time_ann_train_s": ann_results["wall_time_train_s"],
        "wall_time_convert_s": round(wall_convert, 1), "cpu_time_convert_s": round(cpu_convert, 1),
        "wall_time_train_s": round(ann_results["wall_time_train_s"] + wall_convert, 1),
        "wall_time_test_s": round(wall_test, 1),
        "deviations": CONVERSION_DEVIATIONS,
    }
    return run.finish(results)


def summarize_conversion(network: str, out: str | os.PathLike = "results") -> dict:
    """Aggregate the seeds of ``network`` into ``{out}/conversion_{network}.json``: mean and sd of
    the ANN's test accuracy and of the converted network's (at its chosen time steps, and after
    ``max_steps``), the chosen percentiles and step counts, synops, files and deviations. Only
    complete runs of one configuration count (:func:`snnbook.training.cards.collect`); every file
    left out is named with the reason under ``"left_out"``.

    Args:
        network: ``"fc"`` or ``"conv"``.
        out: the results folder.

    Returns:
        The card (also written as JSON).
    """
    from .._resources import update_manifest
    from .cards import collect, mean_sd
    from .run import write_json
    fn = "summarize_conversion"
    network = _check_network(fn, network)
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"{fn}: {out} is not a folder of results files")
    convs, left_out = collect(out.glob(f"conversion_{network}-seed*.json"), with_paths=True,
                              ignore=CONVERSION_PER_RUN)
    if not convs:
        raise FileNotFoundError(f"{fn}: no complete conversion_{network} run in {out}")
    anns = [json.loads((out / d["ann"]).read_text()) for _, d in convs]

    def stats(values):
        mean, sd = mean_sd(values)
        return {"mean": mean, "sd": sd, "n": len(values)}

    last = str(convs[0][1]["config"]["max_steps"])
    card = {
        "network": f"conversion_{network}", "paper": CONVERSION_PAPER,
        "ann_test_accuracy": stats([a["test_accuracy"] for a in anns]),
        "test_accuracy": stats([d["test_accuracy"] for _, d in convs]),
        f"test_accuracy_after_{last}_steps": stats([d["test_accuracy_vs_steps"][last] for _, d in convs]),
        "per_seed": {d["seed"]: {"ann_test_accuracy": a["test_accuracy"], "test_accuracy": d["test_accuracy"],
                                 "time_steps": d["time_steps"], "percentile": d["percentile"],
                                 "synops_per_inference": d["synops_per_inference"]["total"]}
                     for (_, d), a in zip(convs, anns)},
        "commands": {d["seed"]: d["command"] for _, d in convs},
        "files": [p.name for p, _ in convs] + [d["ann"] for _, d in convs],
        "config": convs[0][1]["config"], "ann_config": anns[0]["config"],
        "machine": convs[0][1].get("machine"),
        "deviations": CONVERSION_DEVIATIONS + ANN_DEVIATIONS, "left_out": left_out,
    }
    write_json(out / f"conversion_{network}.json", card)
    update_manifest(out, [out / f"conversion_{network}.json"])
    return card
