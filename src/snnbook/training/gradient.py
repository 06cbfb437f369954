"""Recipe: the gradient-trained networks, Chevalier's autograd SNN and its non-spiking twin and the
surrogate-gradient LIF networks (fully connected and convolutional).

Chapter: Learning by gradient (book/gradient.md).

Command line: ``snnbook train chevalier|surrogate_fc|surrogate_conv`` (or ``python -m snnbook.train``).
Files, checkpoints, Ctrl-C, progress, device and provenance: :class:`snnbook.training.run.Run`.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch

from .._checks import check_bool, check_int, check_real, check_tensor
from .._resources import update_manifest
from .cards import collect, mean_sd
from .run import DEFAULT_OUT, Run, check_entry, confusion, git_commit, load_weights, resolve_device, write_json

#: Published figures of the gradient-trained networks.
GRADIENT_PAPERS = {
    "chevalier": {"citation": "G. Chevalier (2018), Spiking Neural Network (SNN) with PyTorch: towards "
                              "bridging the gap between deep learning and the human brain (blog post and "
                              "notebook)",
                  "test_accuracy": {"spiking": 0.9065, "nonspiking": 0.8897}},
    "surrogate_fc": {"citation": "J. K. Eshraghian et al. (2023), Training spiking neural networks using "
                                 "lessons from deep learning, Proc. IEEE 111(9); snnTorch tutorial 5",
                     "test_accuracy": 0.9387},
    "surrogate_conv": {"citation": "surrogate-gradient convolutional LIF network (the library's design; "
                                   "Neftci, Mostafa & Zenke 2019, IEEE Signal Process. Mag. 36(6))",
                       "test_accuracy": None},
}

#: Choices left open by the published code, and deviations from it, per network (written into
#: every results file; ``tools/update_deviations.py`` rewrites the published files' copies).
GRADIENT_DEVIATIONS = {
    "chevalier": [
        "Data order: a seeded random permutation of the 60 000 training digits per epoch (the post's loader "
        "shuffles with an unseeded RNG); all 60 000 digits train, no validation split and no selection (the "
        "schedule is fixed: one epoch at each of lr 0.1, 0.05, 0.01).",
        "A fresh SGD optimiser (momentum buffer reset) at each epoch, as the post's train_many_epochs does.",
        "Initialisation: seeded torch.manual_seed(seed); the spiking layers' weights Xavier-uniform (the "
        "post re-initialises every parameter with dim >= 2), biases PyTorch's default U(+-1/sqrt(fan_in)); "
        "the non-spiking twin keeps PyTorch's default init for weights and biases (the post does not "
        "re-init it).",
        "The input noise comes from a seeded torch.Generator (training: seed + 12345; test: seed 1000 + "
        "seed), one uniform draw per pixel per step as in the post (torch.rand of the input's shape).",
        "The non-spiking twin sees the normalised digit without noise (as the post's NonSpikingNet).",
        "Test accuracy on all 10 000 test digits once after the 3 epochs, batch 1 000.",
        "'Spikes' of a Chevalier layer are the (analog) outputs out > 0 counted as events; synops = "
        "layer-1 events x 10 (its fan-out); layer-2 outputs feed nothing (the logits read its inner state). "
        "The input layer's MACs (784 x 100 x 128 per digit: the input is analog noise) are counted "
        "separately.",
    ],
    "surrogate_fc": [
        "Input: the analog image (pixels / 255) as the same input current at each of the 25 steps, as the "
        "tutorial's code feeds it (net(data.view(batch_size, -1))). Variant coding='rate' (--coding rate): "
        "a Bernoulli spike with p = pixel at each step.",
        "Surrogate: arctan with alpha 2, (alpha / 2) / (1 + (pi / 2 alpha x)^2), snnTorch's default for "
        "snn.Leaky (surrogate.ATan), which the tutorial leaves unset. The named variant surrogate_fc-rate "
        "uses rate-coded input and the fast sigmoid with slope 25 instead.",
        "LIF: snnTorch's Leaky: v = beta v + I - threshold * s_prev (reset by subtraction, detached), "
        "s = H(v - 1); beta 0.95, threshold 1 for both layers; PyTorch's default init of the linear layers "
        "(seeded torch.manual_seed(seed)).",
        "Loss: cross-entropy of the output layer's membrane potential at each step, summed over the 25 steps "
        "(the tutorial's loss_val += loss(mem_rec[step], targets)); class = output neuron with most spikes "
        "(torch.argmax: the lowest index on ties), as the tutorial's test accuracy.",
        "Training: Adam lr 5e-4, betas (0.9, 0.999), batch 128, one epoch, as the tutorial; a seeded "
        "shuffle, last partial batch dropped (the tutorial's drop_last=True); pixels / 255 (the tutorial's "
        "Normalize((0,), (1,)) is the identity). All 60 000 training digits, no validation split, no "
        "selection: the tutorial's configuration is used as published.",
        "Test on all 10 000 test digits once; with rate-coded input the test spikes come from a "
        "torch.Generator seeded 1000 + seed (the test is deterministic).",
        "Synops: hidden spikes x 10 (their fan-out); output spikes feed nothing. With direct input the "
        "first layer multiplies the analog image once per digit (784 x 1000 MACs, reported separately); "
        "with rate-coded input each input spike counts 1000 synops.",
    ],
    "surrogate_conv": [
        "Architecture (our design): conv 3x3 1->32, avg-pool 2, BatchNorm, LIF; conv 3x3 32->64, avg-pool 2, "
        "BatchNorm, LIF; flatten; linear 3136->128, LIF; linear 128->10 read out as the mean over the steps "
        "(logits). Average pooling of currents (before the neuron) keeps the network linear between neurons "
        "(exports to NIR's AvgPool2d); BatchNorm is folded into the convolutions for export "
        "(SurrogateConv.fold_batchnorm).",
        "Input: direct (analog) coding: the image is the same input current at each step, so the first "
        "convolution runs once per digit, not once per step; its MACs are reported separately from synops.",
        "Time steps 4, beta 0.5, threshold 1, arctan surrogate (alpha 2), reset by subtraction: few steps "
        "because each step costs the whole network once (accuracy per CPU-second).",
        "Training: Adam with a one-cycle learning-rate schedule (max 2e-3), batch 128, cross-entropy of the "
        "logits, a fixed number of epochs; the last epoch's weights are reported (no early stopping).",
        "Augmentation: none by default (shift=0); --shift N translates each training digit by its own "
        "random offset of up to N pixels (zeros fill in; a seeded generator).",
        "Model selection on validation data: the candidate configurations (no shift, 5 epochs; shift 2, "
        "5 epochs; shift 2, 15 epochs) train on the first 50 000 training digits with seed 0 and are "
        "compared by their accuracy on the last 10 000 (--validation 10000). The configuration with the "
        "highest validation accuracy is then trained with seeds 1 and 2 on the same 50 000 digits, and its "
        "test accuracy over the 3 seeds is the reported result. Test accuracies of the other candidates are "
        "recorded in their files but play no part in the choice.",
        "The default configuration trained on all 60 000 digits (surrogate_conv-seed0) is kept as the "
        "network whose weights the library ships and exports; it is not part of the selection.",
    ],
}


def _gradient_model(network: str, config: dict) -> torch.nn.Module:
    """Build the network ``network`` of :func:`train_gradient` from its config."""
    from ..models.chevalier import ChevalierNonSpiking, ChevalierSpiking
    from ..models.surrogate import SurrogateConv, SurrogateFC
    if network == "chevalier":
        if config["twin"] == "spiking":
            return ChevalierSpiking(time_steps=config["time_steps"], eval_seed=1000 + config["seed"])
        return ChevalierNonSpiking()
    if network == "surrogate_fc":
        return SurrogateFC(hidden=config["hidden"], beta=config["beta"], time_steps=config["time_steps"],
                           coding=config["coding"], surrogate=config["surrogate"],
                           eval_seed=1000 + config["seed"])
    return SurrogateConv(channels=tuple(config["channels"]), hidden=config["hidden"], beta=config["beta"],
                         time_steps=config["time_steps"], surrogate=config["surrogate"])


def random_shift(images: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each digit by its own random offset of up to ``shift`` pixels in x and y (zeros fill in).

    Args:
        images: digits ``[batch, height, width]``.
        shift: largest offset in pixels (>= 0).
        generator: source of the offsets (seeded: the augmentation is reproducible).

    Returns:
        The shifted digits ``[batch, height, width]``, same dtype.
    """
    fn = "random_shift"
    check_tensor(fn, "images", images, ndim=3, axes="[batch, height, width]")
    shift = check_int(fn, "shift", shift, minimum=0)
    if shift == 0:
        return images
    b, h, w = images.shape
    padded = torch.nn.functional.pad(images, (shift, shift, shift, shift))
    offsets = torch.randint(0, 2 * shift + 1, (b, 2), generator=generator)
    return torch.stack([padded[i, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(offsets.tolist())])


def _gradient_loss(network: str, model, images, labels, generator):
    """Training loss of one batch (and the batch's predictions, for the running accuracy)."""
    F = torch.nn.functional
    if network == "chevalier":
        logp = model(images, generator=generator)
        return F.nll_loss(logp, labels), logp.argmax(1)
    if network == "surrogate_fc":
        spikes, potentials = model(images, generator=generator)
        steps = potentials.shape[1]
        # sum over steps of the cross-entropy of the output membrane potentials (snnTorch tutorial 5)
        loss = F.cross_entropy(potentials.flatten(0, 1), labels.repeat_interleave(steps)) * steps
        return loss, spikes.sum(1).argmax(1)
    logits = model(images)
    return F.cross_entropy(logits, labels), logits.argmax(1)


@torch.no_grad()
def evaluate_gradient(network: str, model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      batch_size: int = 1000, seed: int = 0) -> dict:
    """Test a network of :func:`train_gradient` (eval mode): accuracy, per class, spikes and synops.

    Args:
        network: ``"chevalier"``, ``"surrogate_fc"`` or ``"surrogate_conv"``.
        model: the trained network.
        images: uint8 digits ``[batch, 28, 28]``.
        labels: classes ``[batch]``.
        batch_size: digits per forward pass.
        seed: seed of the input noise or spikes (a generator seeded ``1000 + seed``, used through all
            batches).

    Returns:
        ``{"accuracy", "per_class_accuracy", "confusion", "spikes_per_digit", "synops_per_digit",
        "input_layer_macs_per_digit", "predictions"}`` (spikes and synops per layer, means over the digits).
    """
    fn = "evaluate_gradient"
    if network not in GRADIENT_PAPERS:
        raise ValueError(f"{fn}: network must be one of {sorted(GRADIENT_PAPERS)}, got {network!r}")
    check_tensor(fn, "images", images, ndim=3, axes="[batch, 28, 28]")
    check_tensor(fn, "labels", labels, ndim=1, axes="[batch]")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{fn}: labels must have shape [batch={images.shape[0]}], got {tuple(labels.shape)}")
    batch_size = check_int(fn, "batch_size", batch_size, minimum=1)
    was_training = model.training
    model.eval()
    param = next(model.parameters(), None)
    dev = param.device if param is not None else torch.device("cpu")
    generator = torch.Generator(device=dev).manual_seed(1000 + check_int(fn, "seed", seed, minimum=0))
    predictions, totals = [], {}
    for lo in range(0, images.shape[0], batch_size):
        x = images[lo:lo + batch_size].to(dev)
        if network == "surrogate_conv":
            logits, record = model(x, return_record=True)
        elif network == "surrogate_fc":
            spikes, _, record = model(x, generator=generator, return_record=True)
            logits = spikes.sum(1)
        else:
            logits, record = model(x, generator=generator, return_record=True)
        predictions.append(logits.argmax(1).cpu())
        for key, value in record.items():
            items = value.items() if isinstance(value, dict) else [("", value)]
            for sub, v in items:
                totals[(key, sub)] = totals.get((key, sub), 0.0) + float(v.double().sum())
    model.train(was_training)
    pred = torch.cat(predictions)
    labels = labels.cpu()
    matrix = confusion(labels, pred)
    n = images.shape[0]
    spikes = {k: v / n for (k, sub), v in totals.items() if sub == "spikes"}
    synops = {k: v / n for (k, sub), v in totals.items() if sub == "synops"}
    macs = totals.get(("input_layer_macs", ""))
    return {"accuracy": float((pred == labels).double().mean()),
            "per_class_accuracy": [round(float(a), 4) for a in
                                   matrix.diag().double() / matrix.sum(1).clamp(min=1).double()],
            "confusion": matrix.tolist(),
            "spikes_per_digit": {**spikes, "total": sum(spikes.values())},
            "synops_per_digit": {**synops, "total": sum(synops.values())},
            "input_layer_macs_per_digit": None if macs is None else macs / n,
            "predictions": pred}


def load_gradient(path: str | os.PathLike) -> torch.nn.Module:
    """Load weights written by :func:`train_gradient` (``torch.load(..., weights_only=True)``).

    Args:
        path: a ``.pt`` file (``{"network", "config", "state_dict"}``; tensors float16 or float32).

    Returns:
        The network in eval mode, parameters in float32.
    """
    fn = "load_gradient"
    saved = load_weights(fn, path, "gradient")
    network = saved.get("network")
    if network not in GRADIENT_DEFAULTS:
        raise ValueError(f"{fn}: {path}: network must be one of {sorted(GRADIENT_DEFAULTS)}, got {network!r}")
    config, state = saved.get("config"), saved.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError(f"{fn}: {path} has no config and state_dict dictionaries: not a weights file of "
                         "train_gradient")
    try:
        model = _gradient_model(network, {**GRADIENT_DEFAULTS[network], "seed": 0, **config})
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{fn}: {path}: its config does not build a {network} network ({err})") from None
    expected = model.state_dict()
    if set(state) != set(expected):
        raise ValueError(f"{fn}: {path}: its state_dict does not fit a {network} network (missing "
                         f"{sorted(set(expected) - set(state))[:4]}, unexpected {sorted(set(state) - set(expected))[:4]})")
    for key, want in expected.items():
        check_entry(fn, path, state, key, shape=tuple(want.shape))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    return model.eval()


#: Default configuration of each network of :func:`train_gradient`.
GRADIENT_DEFAULTS = {
    "chevalier": dict(twin="spiking", time_steps=128, epochs=3, batch_size=1000, lrs=[0.1, 0.05, 0.01],
                      momentum=0.5),
    "surrogate_fc": dict(hidden=1000, beta=0.95, time_steps=25, coding="direct", surrogate="arctan",
                         epochs=1, batch_size=128, lr=5e-4),
    "surrogate_conv": dict(channels=[32, 64], hidden=128, beta=0.5, time_steps=4, surrogate="arctan",
                           epochs=5, batch_size=128, lr=2e-3, shift=0),
}
#: A small run of each network for a first try (``--quick``): well under a minute on a laptop CPU.
QUICK = {
    "chevalier": dict(train_digits=2000, test_digits=1000, epochs=1),
    "surrogate_fc": dict(train_digits=2048, test_digits=1000),
    "surrogate_conv": dict(train_digits=2048, test_digits=1000, epochs=1),
}


def chevalier_lrs(epochs: int, lrs=GRADIENT_DEFAULTS["chevalier"]["lrs"]) -> list[float]:
    """Chevalier's learning-rate schedule cut or extended to ``epochs`` epochs: the post trains one
    epoch at each of 0.1, 0.05 and 0.01; more epochs stay at the last rate.

    Example:
        >>> chevalier_lrs(1), chevalier_lrs(5)
        ([0.1], [0.1, 0.05, 0.01, 0.01, 0.01])
    """
    return [float(lrs[min(i, len(lrs) - 1)]) for i in range(epochs)]


def train_gradient(network: str, out: str | os.PathLike = DEFAULT_OUT, seed: int = 0, resume: bool = False,
                   progress: bool = True, name: str | None = None, command: str | None = None,
                   train_digits: int | None = None, test_digits: int | None = None, validation: int = 0,
                   checkpoint_every: int = 50, stop_after: int | None = None, threads: int | None = None,
                   device=None, force: bool = False, keep_checkpoint: bool = False, verbose: bool = False,
                   **overrides) -> dict | None:
    """Train one of the gradient-trained networks, test it, write ``{out}/{name}.json`` and ``.pt``.

    ``"chevalier"``: Chevalier's autograd SNN (``twin="spiking"``) or its non-spiking twin
    (``twin="nonspiking"``), SGD momentum 0.5, one epoch at each learning rate of ``lrs``, batch 1 000
    (with ``epochs`` other than 3 and no ``lrs``: :func:`~snnbook.training.gradient.chevalier_lrs`).
    ``"surrogate_fc"``: snnTorch tutorial 5's LIF network, Adam lr 5e-4, batch 128, 1 epoch.
    ``"surrogate_conv"``: :class:`~snnbook.models.surrogate.SurrogateConv`, Adam with a one-cycle
    schedule (max ``lr``), batch 128. Digits are shuffled per epoch by a seeded permutation; the last
    partial batch is dropped. Checkpoints (model, optimiser, schedule, RNG, position) are written
    every ``checkpoint_every`` batches and at each epoch's end; ``resume=True`` continues from the
    last one and gives the same weights as an uninterrupted run.

    Args:
        network: ``"chevalier"``, ``"surrogate_fc"`` or ``"surrogate_conv"``.
        out: folder of the results (default ``runs/``); checkpoints in ``{out}/checkpoints/``.
        seed: seed of the initial weights, the data order and the input noise or spikes.
        resume: continue from ``{out}/checkpoints/{name}.pt`` if it exists.
        progress: tqdm bar (digits/s, ETA, running loss) where stderr is a terminal; elsewhere one
            log line per epoch.
        name: base name of the files (default ``{network}-seed{seed}``, ``chevalier-{twin}-seed{seed}``).
        command: the command line recorded in the JSON.
        train_digits: use the first ``train_digits`` training digits (default all 60 000).
        test_digits: use the first ``test_digits`` test digits (default all 10 000).
        validation: hold out the LAST ``validation`` of the training digits and report the accuracy
            on them (for choosing hyper-parameters without the test set; default 0: train on all).
        checkpoint_every: batches between checkpoints.
        stop_after: save a checkpoint after this many batches and return None (tests of resume).
        threads: torch threads (recorded; default: leave torch's setting).
        device: where the network trains (``"cpu"``, ``"cuda"``, ...; default the CPU). The input
            noise and spikes are drawn by a generator on that device; the data order and shifts
            by CPU generators, so a run's data order is the same on every device.
        force: replace an existing run of the same name.
        keep_checkpoint: keep the checkpoint after the run ends.
        verbose: one log line per epoch even where a bar is shown.
        overrides: configuration entries replacing :data:`GRADIENT_DEFAULTS` (e.g. ``epochs=8``,
            ``twin="nonspiking"``, ``time_steps=6``).

    Returns:
        The results dict (also written as JSON), or None with ``stop_after``.

    Raises:
        snnbook.training.TrainingInterrupted: after Ctrl-C, once the checkpoint is saved.
    """
    from .. import data
    fn = "train_gradient"
    if network not in GRADIENT_DEFAULTS:
        raise ValueError(f"{fn}: network must be one of {sorted(GRADIENT_DEFAULTS)}, got {network!r}")
    unknown = set(overrides) - set(GRADIENT_DEFAULTS[network])
    if unknown:
        raise TypeError(f"{fn}: unknown option(s) {sorted(unknown)} for {network}; expected some of "
                        f"{sorted(GRADIENT_DEFAULTS[network])}")
    seed = check_int(fn, "seed", seed, minimum=0)
    check_bool(fn, "resume", resume)
    check_bool(fn, "progress", progress)
    n_all = (60_000 if train_digits is None
             else check_int(fn, "train_digits", train_digits, minimum=1, maximum=60_000))
    n_test = (10_000 if test_digits is None
              else check_int(fn, "test_digits", test_digits, minimum=1, maximum=10_000))
    validation = check_int(fn, "validation", validation, minimum=0, maximum=n_all - 1)
    checkpoint_every = check_int(fn, "checkpoint_every", checkpoint_every, minimum=1)
    if stop_after is not None:
        stop_after = check_int(fn, "stop_after", stop_after, minimum=1)
    if threads is not None:
        threads = check_int(fn, "threads", threads, minimum=1)
    dev = resolve_device(fn, device)
    for arg, v in (("name", name), ("command", command)):
        if v is not None and not isinstance(v, str):
            raise TypeError(f"{fn}: {arg} must be a str or None, got {v!r} ({type(v).__name__})")
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"{fn}: out must be a str or os.PathLike, got {type(out).__name__}")
    if network == "chevalier" and "epochs" in overrides and "lrs" not in overrides:
        overrides["lrs"] = chevalier_lrs(check_int(fn, "epochs", overrides["epochs"], minimum=1))
    config = {**GRADIENT_DEFAULTS[network], **overrides, "seed": seed, "train_digits": n_all,
              "test_digits": n_test, "validation": validation}
    epochs = check_int(fn, "epochs", config["epochs"], minimum=1)
    batch_size = check_int(fn, "batch_size", config["batch_size"], minimum=1)
    for key, lo, hi in (("time_steps", 1, 100_000), ("hidden", 1, 1_000_000), ("shift", 0, 27)):
        if key in config:
            check_int(fn, key, config[key], minimum=lo, maximum=hi)
    if "lr" in config:
        check_real(fn, "lr", config["lr"], minimum=0.0, strict_min=True)
    if "beta" in config:
        check_real(fn, "beta", config["beta"], minimum=0.0, maximum=1.0)
    if "momentum" in config:
        check_real(fn, "momentum", config["momentum"], minimum=0.0, maximum=1.0, strict_max=True)
    if "lrs" in config:
        if not isinstance(config["lrs"], (list, tuple)) or not config["lrs"]:
            raise TypeError(f"{fn}: lrs must be a non-empty list of learning rates, got {config['lrs']!r}")
        for lr in config["lrs"]:
            check_real(fn, "lrs", lr, minimum=0.0, strict_min=True)
    if network == "chevalier":
        if config["twin"] not in ("spiking", "nonspiking"):
            raise ValueError(f"{fn}: twin must be 'spiking' or 'nonspiking', got {config['twin']!r}")
        if len(config["lrs"]) != epochs:
            raise ValueError(f"{fn}: lrs must hold one learning rate per epoch ({epochs}), "
                             f"got {config['lrs']!r}")
    n_train = n_all - validation
    per_epoch = n_train // batch_size
    if per_epoch < 1:
        raise ValueError(f"{fn}: batch_size={batch_size} is larger than the {n_train} training digits")
    total = epochs * per_epoch
    default = f"chevalier-{config['twin']}-seed{seed}" if network == "chevalier" else f"{network}-seed{seed}"
    name = name or default
    run = Run(fn, name, out, config=config, resume=resume, force=force, progress=progress, verbose=verbose,
              keep_checkpoint=keep_checkpoint, command=command)
    if threads is not None:
        torch.set_num_threads(threads)

    torch.manual_seed(seed)
    model = _gradient_model(network, config).train().to(dev)

    def make_optimizer(epoch):
        if network == "chevalier":
            return torch.optim.SGD(model.parameters(), lr=config["lrs"][epoch], momentum=config["momentum"])
        return torch.optim.Adam(model.parameters(), lr=config["lr"], betas=(0.9, 0.999))

    optimizer = make_optimizer(0)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config["lr"], total_steps=total)
                 if network == "surrogate_conv" else None)
    generator = torch.Generator(device=dev).manual_seed(seed + 12345)   # input noise and spikes
    shift_generator = torch.Generator().manual_seed(seed + 12345)       # shifts of the digits (CPU)
    loop = {"step": 0, "wall_train_s": 0.0, "cpu_train_s": 0.0, "history": [], "segments": 0,
            "epoch_loss": 0.0, "epoch_correct": 0,
            "load_average_at_start": ([round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg")
                                      else None)}
    saved = run.load_checkpoint()
    if saved is not None:
        run.check_config(saved["config"], json.loads(json.dumps(config)))
        model.load_state_dict(saved["model"])
        if network == "chevalier":
            step = saved["loop"]["step"]
            optimizer = make_optimizer(step // per_epoch if step < total else 0)
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        shift_generator.set_state(saved["shift_generator"])
        loop = saved["loop"]
        e, i = divmod(loop["step"], per_epoch)
        run.resumed(f"epoch {e + 1} of {epochs}, batch {i} of {per_epoch}")
    loop["segments"] += 1

    def where():
        e, i = divmod(loop["step"], per_epoch)
        return f"epoch {e + 1} of {epochs}, batch {i} of {per_epoch}" if e < epochs else "the end of training"

    def checkpoint():
        run.save({"config": json.loads(json.dumps(config)), "model": model.state_dict(),
                  "optimizer": optimizer.state_dict(),
                  "scheduler": None if scheduler is None else scheduler.state_dict(),
                  "generator": generator.get_state(), "shift_generator": shift_generator.get_state(),
                  "loop": loop}, where())

    images, labels = data.mnist_tensors(train=True, n=n_all)
    train_images, train_labels = images[:n_train], labels[:n_train]
    bar = run.bar(total * batch_size, name, loop["step"] * batch_size)
    end = total if stop_after is None else min(stop_after, total)
    t0, c0 = time.perf_counter(), time.process_time()
    base_wall, base_cpu = loop["wall_train_s"], loop["cpu_train_s"]
    with run:
        while loop["step"] < end:
            epoch, i = divmod(loop["step"], per_epoch)
            if i == 0 and network == "chevalier" and loop["step"] > 0:
                optimizer = make_optimizer(epoch)  # the post builds a new SGD optimiser per epoch
            order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
            idx = order[i * batch_size:(i + 1) * batch_size]
            batch = train_images[idx]
            if config.get("shift"):
                batch = random_shift(batch, config["shift"], shift_generator)
            target = train_labels[idx].to(dev)
            loss, pred = _gradient_loss(network, model, batch.to(dev), target, generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            loop["step"] += 1
            loss_value = float(loss.detach())
            loop["epoch_loss"] += loss_value
            loop["epoch_correct"] += int((pred == target).sum())
            loop["wall_train_s"] = base_wall + time.perf_counter() - t0
            loop["cpu_train_s"] = base_cpu + time.process_time() - c0
            bar.update(batch_size)
            bar.set_postfix(loss=f"{loss_value:.3f}", epoch=epoch + 1)
            if (i + 1) % 10 == 0 or i == 0:
                loop["history"].append({"batch": loop["step"], "epoch": epoch + 1, "loss": round(loss_value, 5)})
            if i + 1 == per_epoch:
                row = {"epoch_end": epoch + 1, "mean_loss": loop["epoch_loss"] / per_epoch,
                       "train_accuracy_running": loop["epoch_correct"] / (per_epoch * batch_size),
                       "wall_s": round(loop["wall_train_s"], 1)}
                loop["history"].append(row)
                run.epoch("epoch %d/%d: mean loss %.4f, running training accuracy %.4f (%.0f s)", epoch + 1,
                          epochs, row["mean_loss"], row["train_accuracy_running"], row["wall_s"])
                loop["epoch_loss"], loop["epoch_correct"] = 0.0, 0
            if loop["step"] % checkpoint_every == 0 or i + 1 == per_epoch or loop["step"] == end:
                checkpoint()
            if loop["step"] < end:
                run.boundary(checkpoint)
    bar.close()
    if loop["step"] < total:
        return None

    # ---- test (and validation) --------------------------------------------------------------------
    model.eval()
    test_images, test_labels = data.mnist_tensors(train=False, n=n_test)
    t1, c1 = time.perf_counter(), time.process_time()
    test = evaluate_gradient(network, model, test_images, test_labels, seed=seed)
    wall_test, cpu_test = time.perf_counter() - t1, time.process_time() - c1
    val = (evaluate_gradient(network, model, images[n_train:], labels[n_train:], seed=seed + 500)
           if validation else None)
    weights_path = run.save_weights({"network": network, "config": json.loads(json.dumps(config)),
                                     "state_dict": {k: v.detach().cpu().half() if v.is_floating_point()
                                                    else v.detach().cpu() for k, v in model.state_dict().items()}},
                                    "gradient")
    shipped = evaluate_gradient(network, load_gradient(weights_path).to(dev), test_images, test_labels, seed=seed)
    test.pop("predictions")
    results = {
        "name": name, "network": network, "paper": GRADIENT_PAPERS[network]["citation"],
        "published_test_accuracy": GRADIENT_PAPERS[network]["test_accuracy"],
        "command": command or f"snnbook train {network} --seed {seed}",
        "commit": git_commit(run.provenance), "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "load_average_at_start": loop.get("load_average_at_start"),
        "torch": torch.__version__, "device": str(dev), "seed": seed, "config": config,
        "resumed_segments": loop["segments"],
        "wall_time_train_s": round(loop["wall_train_s"], 1),
        "cpu_time_train_s": round(loop["cpu_train_s"], 1),
        "cpu_time_train_per_core_s": round(loop["cpu_train_s"] / max(1, torch.get_num_threads()), 1),
        "wall_time_test_s": round(wall_test, 1), "cpu_time_test_s": round(cpu_test, 1),
        "test_accuracy": test["accuracy"], "validation_accuracy": None if val is None else val["accuracy"],
        "per_class_accuracy": test["per_class_accuracy"], "confusion": test["confusion"],
        "spikes_per_test_digit": test["spikes_per_digit"], "synops_per_inference": test["synops_per_digit"],
        "input_layer_macs_per_inference": test["input_layer_macs_per_digit"],
        "loss_history": loop["history"],
        "weights": {"file": weights_path.name, "dtype": "float16", "test_accuracy": shipped["accuracy"]},
        "deviations": GRADIENT_DEVIATIONS[network],
    }
    return run.finish(results)


def summarize_gradient(network: str, out: str | os.PathLike = "results") -> dict:
    """Aggregate the seeds of ``network`` into ``{out}/{network}.json``: mean and sd of the test
    accuracy (per twin for Chevalier, with the spiking - non-spiking gap), wall times, the published
    figures. Only complete runs of one configuration make its main line (the one most runs share;
    on a tie the network's default configuration on all 60 000 training digits); named variants (``--name {network}-<variant>-seed<S>``) are grouped by name,
    each with the configuration most of its runs share; every file left out is named with the
    reason under ``"left_out"`` (:func:`snnbook.training.cards.collect`).

    Args:
        network: ``"chevalier"``, ``"surrogate_fc"`` or ``"surrogate_conv"``.
        out: the results folder.

    Returns:
        The card (also written as JSON).
    """
    fn = "summarize_gradient"
    if network not in GRADIENT_PAPERS:
        raise ValueError(f"{fn}: network must be one of {sorted(GRADIENT_PAPERS)}, got {network!r}")
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"{fn}: {out} is not a folder of results files")
    defaults = {**GRADIENT_DEFAULTS[network], "train_digits": 60_000, "test_digits": 10_000, "validation": 0}
    left_out: list[dict] = []

    def stats(runs):
        vals = [r["test_accuracy"] for r in runs]
        if not vals:
            return None
        mean, sd = mean_sd(vals)
        return {"mean": mean, "sd": sd, "n": len(vals),
                "per_seed": {r["seed"]: r["test_accuracy"] for r in runs},
                "wall_time_train_s": {r["seed"]: r["wall_time_train_s"] for r in runs},
                "cpu_time_train_s": {r["seed"]: r["cpu_time_train_s"] for r in runs},
                "load_average": {r["seed"]: r["machine"]["load_average_1_5_15_min"] for r in runs},
                "spikes_per_test_digit": {r["seed"]: r["spikes_per_test_digit"] for r in runs},
                "synops_per_inference": {r["seed"]: r["synops_per_inference"] for r in runs},
                "commands": {r["seed"]: r["command"] for r in runs},
                "sweep_command": command_for([r["command"] for r in runs]),
                "files": [f"{r['name']}.json" for r in runs]}

    from ..sweep import command_for

    def load(pattern, prefer):
        runs, dropped = collect(out.glob(pattern), defaults=defaults, prefer=prefer)
        left_out.extend(dropped)
        return runs

    card = {"network": network, "paper": GRADIENT_PAPERS[network]}
    if network == "chevalier":
        spiking = stats(load("chevalier-spiking-seed*.json", {**defaults, "twin": "spiking"}))
        nonspiking = stats(load("chevalier-nonspiking-seed*.json", {**defaults, "twin": "nonspiking"}))
        card["ours"] = {"spiking": spiking, "nonspiking": nonspiking}
        if spiking and nonspiking:
            gaps = {s: spiking["per_seed"][s] - nonspiking["per_seed"][s] for s in spiking["per_seed"]
                    if s in nonspiking["per_seed"]}
            card["gap_spiking_minus_nonspiking"] = {
                "published": 0.9065 - 0.8897, "ours_mean": spiking["mean"] - nonspiking["mean"],
                "per_seed": gaps,
                "survives": bool(gaps) and all(g > 0 for g in gaps.values())}
        main = [spiking, nonspiking]
    else:
        card["ours"] = stats(load(f"{network}-seed*.json", defaults))
        main = [card["ours"]]
        # named variants (``--name {network}-<variant>-seed<S>``), each with its own configuration
        groups: dict[str, list] = {}
        for p in sorted(out.glob(f"{network}-*-seed*.json")):
            groups.setdefault(p.stem.split("-seed")[0], []).append(p)
        variants = {}
        for vname, paths in groups.items():
            runs = load(f"{vname}-seed*.json", None)
            if runs:
                variants[vname] = {**stats(runs), "config": runs[0]["config"]}
        if variants:
            card["variants"] = variants
    if not any(main) and not card.get("variants"):
        raise FileNotFoundError(f"{fn}: no complete {network} run in {out}" + (
            f" (left out: {', '.join(d['file'] + ': ' + d['reason'] for d in left_out)})" if left_out else ""))
    first = next(m for m in main + list(card.get("variants", {}).values()) if m)
    first_run = json.loads((out / first["files"][0]).read_text())
    card["config"] = first_run["config"]
    card["machine"] = first_run["machine"]
    card["deviations"] = GRADIENT_DEVIATIONS[network]
    card["left_out"] = left_out
    write_json(out / f"{network}.json", card)
    update_manifest(out, [out / f"{network}.json"])
    return card


__all__ = ["train_gradient", "random_shift", "evaluate_gradient", "load_gradient", "summarize_gradient",
            "GRADIENT_DEFAULTS",
            "GRADIENT_PAPERS", "GRADIENT_DEVIATIONS", "QUICK", "chevalier_lrs"]
