"""The ``snnbook`` command: train the book's networks, build their results cards, compare them.

Chapter: A deep network that learns with spikes (book/mozafari2019.md), and every network
chapter after it.

Usage::

    snnbook train <network> [options]     # mozafari2019, diehl_cook2015, kheradpisheh2018, chevalier, surrogate_fc,
                                          # surrogate_conv, events, mozafari2019-committee,
                                          # ann_fc, ann_conv (ANN, then conversion)
    snnbook card <network> [--out DIR]    # aggregate the seeds of a network into its results card
    snnbook compare [DIR] [--html]        # the book's comparison table (default: the published record)
    snnbook sweep <network> --seeds 0-2 [--grid OPTION=V1,V2] [run options]   # many runs on Ray

``python -m snnbook.train <network> ...`` is the same as ``snnbook train <network> ...``.

Every network takes the same run options (declared once, ``_run_options``): ``--seed``,
``--out`` (default ``runs/``; the published record ``results/`` is written only when named),
``--name``, ``--resume``, ``--force`` (replace an existing run), ``--keep-checkpoint``, ``--quick``
(a small first run, well under a minute), ``--train-digits``, ``--test-digits``, ``--no-progress``
and ``-v``; the torch-trained networks also ``--device`` and ``--threads``.

Progress bars appear only on a terminal; elsewhere (and with ``-v``) one log line per epoch. A
usage mistake exits 2 with one line; Ctrl-C saves a checkpoint, prints the command that continues
the run and exits 130.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys

__all__ = ["main", "build_parser"]

log = logging.getLogger("snnbook")

#: Networks of ``snnbook train``, with their one-line help.
NETWORKS = {
    "mozafari2019": "Mozafari et al. 2019: STDP (S1, S2) + R-STDP (S3)",
    "diehl_cook2015": "Diehl & Cook 2015: unsupervised STDP, labels from training digits",
    "kheradpisheh2018": "Kheradpisheh et al. 2018: STDP (2 layers) + linear SVM / logistic readout",
    "chevalier": "Chevalier 2018: autograd SNN and its non-spiking twin (SGD, 3 epochs)",
    "surrogate_fc": "snnTorch tutorial 5: LIF 784-1000-10, surrogate gradients, 1 epoch",
    "surrogate_conv": "convolutional LIF network, surrogate gradients, direct input",
    "events": "conv SNN on EventMNIST (binned events, one frame, shuffled times) or Diehl & Cook on frames",
    "mozafari2019-committee": "variant: decide by a committee of independently trained 2019 networks",
    "ann_fc": "ReLU twin of surrogate_fc (784-1000-10), then converted to IF neurons (balancing)",
    "ann_conv": "ReLU twin of surrogate_conv, then converted to IF neurons (balancing)",
}
TORCH_NETWORKS = ("chevalier", "surrogate_fc", "surrogate_conv", "events")
CARDS = ("mozafari2019", "chevalier", "surrogate_fc", "surrogate_conv")
#: Options that do not change a run's results (left out of the recorded command).
_NOT_RECORDED = ("--resume", "--no-progress", "-v", "--verbose", "--force", "--keep-checkpoint")


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error and exit status 2."""

    def error(self, message):  # noqa: D401
        self.exit(2, f"{self.prog}: error: {message}\n")


def _nonneg(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return v


def _positive(value: str) -> int:
    try:
        v = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return v


def _number(value: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {value!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value}")
    return v


def _run_options(torch_trained: bool) -> argparse.ArgumentParser:
    """The options every training run shares, declared once (a parent parser)."""
    p = argparse.ArgumentParser(add_help=False)
    g = p.add_argument_group("run options")
    g.add_argument("--seed", type=_nonneg, default=0, help="seed of weights, data order and noise (default 0)")
    g.add_argument("--out", default="runs", help="output folder (default runs/; the published record is "
                                                 "results/, written only when named here)")
    g.add_argument("--name", default=None, help="base name of the output files (default: network-seedS)")
    g.add_argument("--resume", action="store_true", help="continue from the run's checkpoint")
    g.add_argument("--force", action="store_true", help="replace an existing run of the same name")
    g.add_argument("--keep-checkpoint", action="store_true", help="keep the checkpoint after the run")
    g.add_argument("--quick", action="store_true",
                   help="a small run to try things out (few digits and epochs; well under a minute)")
    g.add_argument("--train-digits", type=_positive, default=None, help="use the first N training digits")
    g.add_argument("--test-digits", type=_positive, default=None, help="use the first N test digits")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    g.add_argument("-v", "--verbose", action="store_true", help="a log line per epoch even with progress bars")
    if torch_trained:
        g.add_argument("--device", default=None, help="where the network trains: cpu (default), cuda, cuda:1, ...")
        g.add_argument("--threads", type=_positive, default=None, help="torch threads")
    return p


def _train_parsers(sub) -> None:
    common, common_torch = _run_options(False), _run_options(True)

    p = sub.add_parser("mozafari2019", parents=[common], help=NETWORKS["mozafari2019"])
    p.add_argument("--epochs-l1", type=_nonneg, default=None, help="STDP epochs of S1 (2)")
    p.add_argument("--epochs-l2", type=_nonneg, default=None, help="STDP epochs of S2 (4)")
    p.add_argument("--epochs-l3", type=_positive, default=None, help="R-STDP epochs of S3 (60)")
    p.add_argument("--time-steps", type=_positive, default=15, help="latency-code steps (15)")
    p.add_argument("--validation", type=_nonneg, default=None,
                   help="held-out last training digits for model selection (10000; 0: train on all)")
    p.add_argument("--patience", type=_nonneg, default=None,
                   help="stop S3 after this many epochs without a better validation accuracy")
    p.add_argument("--hours", type=_number, default=None,
                   help="time budget: no R-STDP epoch is started that would take the run past this many "
                        "hours of wall time (the stopping epoch then depends on the machine)")
    p.add_argument("--fixed-rstdp-rates", action="store_true", help="do not adapt the R-STDP rates")
    p.add_argument("--s3-features", type=_positive, default=200,
                   help="features of the decision layer, a multiple of 10 (200: 20 per class)")
    p.add_argument("--rstdp-rate-floor", type=_number, default=0.0,
                   help="variant: adapted R-STDP rates never fall below this fraction of the base rates (0)")
    p.add_argument("--s3-dropout", type=_number, default=0.0,
                   help="variant: probability that an S3 feature sits out an R-STDP epoch (0)")
    p.add_argument("--s3-shift", type=_nonneg, default=0,
                   help="variant: each R-STDP epoch shows every training digit shifted by up to N pixels (0)")

    d = sub.add_parser("diehl_cook2015", parents=[common], help=NETWORKS["diehl_cook2015"])
    d.add_argument("--neurons", type=_positive, default=None, help="excitatory neurons (400)")
    d.add_argument("--epochs", type=_positive, default=1, help="passes over the training digits (1)")
    d.add_argument("--label-digits", type=_positive, default=None,
                   help="a fixed labelling set: the N training digits before the validation digits "
                        "(default: its size chosen on the validation digits)")
    d.add_argument("--validation-digits", type=_positive, default=None,
                   help="the last N training digits, held out of labelling to choose its size "
                        "(default 10000 of 60000)")
    d.add_argument("--monitor-every", type=_nonneg, default=1000,
                   help="training digits between monitor snapshots in the JSON (1000; 0: none)")

    h = sub.add_parser("kheradpisheh2018", parents=[common], help=NETWORKS["kheradpisheh2018"])
    h.add_argument("--epochs-l1", type=_nonneg, default=None, help="STDP epochs of layer 1 (2)")
    h.add_argument("--epochs-l2", type=_nonneg, default=None, help="STDP epochs of layer 2 (20)")
    h.add_argument("--validation", type=_positive, default=None,
                   help="held-out last training digits that choose the readout's C (10000)")
    h.add_argument("--layer1-features", action="store_true", help="variant: the readout also sees layer 1")
    h.add_argument("--threads", type=_positive, default=None, help="torch and numba threads")

    for net in ("chevalier", "surrogate_fc", "surrogate_conv"):
        g = sub.add_parser(net, parents=[common_torch], help=NETWORKS[net])
        g.add_argument("--validation", type=_nonneg, default=0,
                       help="hold out the last N training digits and report accuracy on them (0)")
        g.add_argument("--epochs", type=_positive, default=None, help="epochs (default: the network's)")
        g.add_argument("--batch-size", type=_positive, default=None, help="batch size (default: the network's)")
        if net == "chevalier":
            g.add_argument("--twin", choices=("spiking", "nonspiking", "both"), default="both",
                           help="which network (default both: one after the other)")
        else:
            g.add_argument("--time-steps", type=_positive, default=None, help="time steps (default: the net's)")
            g.add_argument("--lr", type=_number, default=None,
                           help="learning rate (maximum of the one-cycle schedule for surrogate_conv)")
        if net == "surrogate_conv":
            g.add_argument("--shift", type=_nonneg, default=None,
                           help="augmentation: translate each training digit by up to N pixels (default 0)")
        if net == "surrogate_fc":
            g.add_argument("--coding", choices=("rate", "direct"), default=None, help="input coding (direct)")
        if net in ("surrogate_fc", "surrogate_conv"):
            from .models.surrogate import SURROGATES
            g.add_argument("--surrogate", choices=sorted(SURROGATES), default=None,
                           help="surrogate derivative of the spike (default: the network's)")

    for net in ("ann_fc", "ann_conv"):
        a = sub.add_parser(net, parents=[common_torch], help=NETWORKS[net])
        a.add_argument("--validation", type=_positive, default=None,
                       help="held-out last training digits: percentile and time steps (10000)")
        a.add_argument("--epochs", type=_positive, default=None, help="epochs of the ANN (fc 5, conv 3)")
        a.add_argument("--max-steps", type=_positive, default=None, help="longest simulation (256)")
        a.add_argument("--coding", choices=("direct", "poisson"), default=None, help="input coding (direct)")

    e = sub.add_parser("events", parents=[common_torch], help=NETWORKS["events"])
    e.add_argument("--input", choices=("binned", "frame", "shuffled"), default="binned",
                   help="binned events through time (default), one accumulated frame, or event times shuffled")
    e.add_argument("--model", choices=("conv", "diehl_cook2015"), default="conv",
                   help="surrogate-gradient conv SNN (default) or Diehl & Cook 2015 STDP on frames")
    e.add_argument("--neurons", type=_positive, default=None, help="Diehl & Cook neurons (100)")
    e.add_argument("--epochs", type=_positive, default=None, help="epochs of the conv SNN (2)")
    e.add_argument("--validation", type=_nonneg, default=None,
                   help="held-out last training digits (5000; Diehl & Cook: labelling digits, 10000)")

    k = sub.add_parser("mozafari2019-committee", help=NETWORKS["mozafari2019-committee"])
    k.add_argument("--members", nargs="+", required=True, help="names of the member runs in --out")
    k.add_argument("--name", default=None, help="base name of the results JSON")
    k.add_argument("--out", default="runs", help="the folder of the member runs and of the committee's file")
    k.add_argument("--force", action="store_true", help="replace an existing committee of the same name")
    c = sub.add_parser("mozafari2019-card", help="the same as: snnbook card mozafari2019")
    c.add_argument("--out", default="runs", help="the results folder")


def _recorded(prog: str, words: list[str]) -> str:
    return prog + " " + " ".join(shlex.quote(a) for a in words if a not in _NOT_RECORDED)


def _given(args, key):
    return getattr(args, key, None)


def _apply_quick(args, quick: dict, name_default: str) -> None:
    """Fill the options the user did not give from a recipe's ``QUICK`` settings."""
    for key, value in quick.items():
        cli_key = {"n_neurons": "neurons"}.get(key, key)
        if getattr(args, cli_key, None) is None:
            setattr(args, cli_key, value)
    if args.name is None:
        args.name = name_default


def _common(args) -> dict:
    return dict(out=args.out, name=args.name, resume=args.resume, force=args.force,
                keep_checkpoint=args.keep_checkpoint, progress=not args.no_progress, verbose=args.verbose)


def _train(args, words: list[str], prog: str) -> int:
    from .training import mozafari2019 as moz
    net = args.network
    command = _recorded(prog, words)
    if net == "mozafari2019-card":
        return _card("mozafari2019", args.out)
    if net == "mozafari2019-committee":
        from .training import committee_mozafari2019, summarize_mozafari2019
        from pathlib import Path
        r = committee_mozafari2019(args.members, out=args.out, name=args.name, command=command, force=args.force)
        if any(Path(args.out).glob("mozafari2019-seed*.json")):
            summarize_mozafari2019(args.out)
        print(f"{r['name']}: committee of {len(r['members'])}: validation {r['validation_accuracy']}, "
              f"test accuracy {r['test_accuracy']:.4f} -> {args.out}/{r['name']}.json")
        return 0
    if net == "mozafari2019":
        if args.quick:
            _apply_quick(args, moz.QUICK, f"mozafari2019-quick-seed{args.seed}")
        r = moz.train_mozafari2019(
            epochs_l1=2 if args.epochs_l1 is None else args.epochs_l1,
            epochs_l2=4 if args.epochs_l2 is None else args.epochs_l2,
            epochs_l3=60 if args.epochs_l3 is None else args.epochs_l3,
            time_steps=args.time_steps, seed=args.seed,
            validation=10_000 if args.validation is None else args.validation,
            train_digits=args.train_digits, test_digits=args.test_digits, patience=args.patience,
            adaptive_rstdp=not args.fixed_rstdp_rates, s3_features=args.s3_features,
            rstdp_rate_floor=args.rstdp_rate_floor, s3_dropout=args.s3_dropout, s3_shift=args.s3_shift,
            command=command, time_budget_s=None if args.hours is None else args.hours * 3600, **_common(args))
        print(f"{r['name']}: selected epoch {r['selected_epoch']} (validation {r['validation_accuracy_selected']}), "
              f"test accuracy selected {r['test_accuracy_selected']:.4f}, final {r['test_accuracy_final']:.4f}, "
              f"wall time {r['wall_time_total_s']:.0f} s -> {args.out}/{r['name']}.json")
        return 0
    if net == "diehl_cook2015":
        from .training import diehl_cook2015 as dc
        if args.quick:
            _apply_quick(args, dc.QUICK, f"diehl_cook2015_{args.neurons or dc.QUICK['n_neurons']}-quick-seed{args.seed}")
        r = dc.train_diehl_cook2015(n_neurons=args.neurons or 400, epochs=args.epochs, seed=args.seed,
                                    train_digits=args.train_digits, test_digits=args.test_digits,
                                    label_digits=args.label_digits, validation_digits=args.validation_digits,
                                    command=command,
                                    monitor_every=args.monitor_every or None, **_common(args))
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, training wall time "
              f"{r['wall_time_train_s']:.0f} s (total {r['wall_time_total_s']:.0f} s) -> {args.out}/{r['name']}.json")
        return 0
    if net == "kheradpisheh2018":
        from .training import kheradpisheh2018 as kh
        if args.quick:
            _apply_quick(args, kh.QUICK, f"kheradpisheh2018-quick-seed{args.seed}")
        r = kh.train_kheradpisheh2018(
            epochs_l1=2 if args.epochs_l1 is None else args.epochs_l1,
            epochs_l2=20 if args.epochs_l2 is None else args.epochs_l2, seed=args.seed,
            validation=10_000 if args.validation is None else args.validation, train_digits=args.train_digits,
            test_digits=args.test_digits, layer1_features=args.layer1_features, threads=args.threads,
            command=command, **_common(args))
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f} (linear SVM, C "
              f"{r['readouts']['linear_svm']['selected_C']}), logistic regression "
              f"{r['test_accuracy_logistic_regression']:.4f}, wall time {r['wall_time_total_s']:.0f} s "
              f"-> {args.out}/{r['name']}.json")
        return 0
    if net == "events":
        from .training import events as ev
        if args.model == "diehl_cook2015":
            if args.quick:
                quick = dict(ev.QUICK_STDP)
                quick["validation"] = quick.pop("label_digits")
                _apply_quick(args, quick, f"events_stdp_diehl_cook2015_{args.neurons or 100}-quick-seed{args.seed}")
            r = ev.train_events_stdp(seed=args.seed, n_neurons=args.neurons or 100,
                                     train_digits=args.train_digits or 20000,
                                     label_digits=10_000 if args.validation is None else args.validation,
                                     test_digits=args.test_digits, command=command, **_common(args))
        else:
            if args.quick:
                _apply_quick(args, ev.QUICK, f"events_{args.input}-quick-seed{args.seed}")
            r = ev.train_events(args.input, seed=args.seed, epochs=args.epochs or 2, train_digits=args.train_digits,
                                validation=5000 if args.validation is None else args.validation,
                                test_digits=args.test_digits, threads=args.threads, command=command,
                                device=args.device, **_common(args))
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, {r['events_per_digit']:.0f} events "
              f"per digit, training wall time {r['wall_time_train_s']:.0f} s -> {args.out}/{r['name']}.json")
        return 0
    if net in ("ann_fc", "ann_conv"):
        from pathlib import Path

        from .training import conversion as cv
        kind = net.split("_")[1]
        if args.quick:
            _apply_quick(args, cv.QUICK[kind], f"{net}-quick-seed{args.seed}")
        common = _common(args)
        extra = {"epochs": args.epochs} if args.epochs is not None else {}
        a = cv.train_ann(kind, seed=args.seed, command=command, train_digits=args.train_digits,
                         validation=args.validation or 10_000, test_digits=args.test_digits,
                         threads=args.threads, device=args.device, **extra, **common)
        conv_name = None if args.name is None else args.name.replace("ann_", "conversion_", 1)
        opts = {k: v for k, v in (("max_steps", args.max_steps), ("coding", args.coding)) if v is not None}
        c = cv.convert_ann(kind, Path(args.out) / f"{a['name']}.json", out=args.out, seed=args.seed,
                           name=conv_name, command=command, threads=args.threads, device=args.device,
                           force=args.force, progress=not args.no_progress, verbose=args.verbose, **opts)
        print(f"{a['name']}: ANN test accuracy {a['test_accuracy']:.4f}; {c['name']}: converted, "
              f"percentile {c['percentile']:g}, {c['time_steps']} steps, test accuracy "
              f"{c['test_accuracy']:.4f} -> {args.out}/")
        if args.name is None and not args.quick:
            cv.summarize_conversion(kind, args.out)  # the card: conversion_{kind}.json
        return 0
    # the gradient-trained networks
    from .training import gradient as gr
    keys = ("epochs", "batch_size", "time_steps", "lr", "coding", "shift", "surrogate")
    if args.quick:
        _apply_quick(args, gr.QUICK[net], None)
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    twins = ([None] if net != "chevalier" else ["spiking", "nonspiking"] if args.twin == "both" else [args.twin])
    for twin in twins:
        extra = {} if twin is None else {"twin": twin}
        twin_words = list(words)
        if twin is not None and "--twin" not in twin_words:
            twin_words += ["--twin", twin]
        elif twin is not None:
            twin_words[twin_words.index("--twin") + 1] = twin
        base = f"chevalier-{twin}" if twin else net
        name = args.name or (f"{base}-quick-seed{args.seed}" if args.quick else None)
        if name is not None and len(twins) > 1 and args.name is not None:
            name = f"{args.name}-{twin}"
        opts = {**_common(args), "name": name}
        r = gr.train_gradient(net, seed=args.seed, command=_recorded(prog, twin_words),
                              train_digits=args.train_digits, test_digits=args.test_digits,
                              validation=args.validation, threads=args.threads, device=args.device,
                              **extra, **overrides, **opts)
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, "
              f"training wall time {r['wall_time_train_s']:.0f} s (CPU {r['cpu_time_train_s']:.0f} s) "
              f"-> {args.out}/{r['name']}.json")
    if args.name is None and not args.quick:
        try:
            gr.summarize_gradient(net, args.out)
        except FileNotFoundError:
            pass
    return 0


def _card(network: str, out: str) -> int:
    from .training import summarize_gradient, summarize_mozafari2019
    card = summarize_mozafari2019(out) if network == "mozafari2019" else summarize_gradient(network, out)
    if network == "mozafari2019":
        ours = card["ours"]["test_accuracy_selected"]
        print(f"mozafari2019: test accuracy (selected) {ours['mean']:.4f} over {ours['n']} seed(s) "
              f"-> {out}/mozafari2019.json")
    else:
        ours = card["ours"]
        parts = ours.values() if network == "chevalier" else [ours]
        n = max((o["n"] for o in parts if o), default=0)
        print(f"{network}: card over {n} seed(s) -> {out}/{network}.json")
    for d in card.get("left_out", []):
        print(f"  left out {d['file']}: {d['reason']}")
    return 0


def _sweep_parser(prog: str) -> argparse.ArgumentParser:
    p = _Parser(prog=f"{prog} sweep", allow_abbrev=False, description=(
        "Run many runs of one network as Ray tasks: the seeds times a grid of options. Options not "
        "listed here go to every run (snnbook train <network> -h lists them). A sweep started again "
        "skips finished runs and resumes the others."))
    p.add_argument("network", nargs="?", default=None, help="the network (or give --file)")
    p.add_argument("--file", default=None, help="a YAML file describing the sweep (see snnbook.sweep)")
    p.add_argument("--seeds", default=None, help="seeds: 3, 0-2 or 0,1,5 (default 0)")
    p.add_argument("--grid", action="append", default=[], metavar="OPTION=V1,V2",
                   help="an axis of the grid (repeatable), e.g. --grid time-steps=4,8,16")
    p.add_argument("--out", default=None, help="folder of the runs and the sweep card (default runs/)")
    p.add_argument("--name", default=None, help="base name of the sweep card (default sweep-<network>)")
    p.add_argument("--prefix", default=None, help="start of the run names (default: the network)")
    p.add_argument("--names", default=None, metavar="TEMPLATE",
                   help="run names from a template of the grid's options and {seed}, e.g. sweep-t{time-steps}")
    p.add_argument("--workers", type=_positive, default=None, help="runs at once on a local Ray (default: cores)")
    p.add_argument("--cpus-per-run", type=_number, default=None, help="CPUs Ray reserves per run (1)")
    p.add_argument("--gpus-per-run", type=_number, default=None, help="GPUs Ray reserves per run (0)")
    p.add_argument("--address", default=None, help="a Ray cluster (default RAY_ADDRESS, else a local Ray)")
    p.add_argument("--retries", type=_nonneg, default=2, help="restarts of a run whose process died (2)")
    p.add_argument("--committee", action="store_true", help="mozafari2019: the seeds of a configuration "
                                                            "form a committee")
    p.add_argument("--dry-run", action="store_true", help="list the runs and their state, run nothing")
    return p


def _sweep(words: list[str], prog: str) -> int:
    from . import sweep
    parser = _sweep_parser(prog)
    args, rest = parser.parse_known_args(words[1:])
    command = _recorded(prog, words)
    try:
        if args.file is not None:
            if args.network is not None or args.seeds is not None or args.grid or rest:
                parser.error("--file describes the whole sweep: give no network, --seeds, --grid or run options")
            specs, settings = sweep.plan_from_file(args.file, out=args.out)
        else:
            if args.network is None:
                parser.error("give a network (snnbook sweep <network> ...) or --file")
            settings = {"out": args.out or "runs"}
            specs = sweep.plan(args.network, seeds=args.seeds or "0", grid=sweep.parse_grid(args.grid),
                               options=rest, out=settings["out"], prefix=args.prefix, names=args.names)
    except (ValueError, TypeError) as err:
        print(f"{prog} sweep: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    state = sweep.status(specs, settings["out"])
    if args.dry_run:
        for s in specs:
            print(f"{s.name}: {state[s.name]}  ({s.command})")
        return 0
    _configure_logging()
    def pick(key, default):
        value = getattr(args, key)
        return value if value is not None else settings.get(key, default)
    try:
        card = sweep.run(specs, out=settings["out"], name=args.name or settings.get("name"), address=args.address,
                         workers=args.workers, cpus_per_run=pick("cpus_per_run", 1),
                         gpus_per_run=pick("gpus_per_run", 0), retries=args.retries,
                         committee=args.committee or bool(settings.get("committee")), command=command)
    except ImportError as err:
        print(f"{prog} sweep: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError) as err:
        print(f"{prog} sweep: error: {str(err).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\n{prog} sweep: stopped; finished runs are in {settings['out']}/, the others saved "
              f"checkpoints. Continue with:\n  {' '.join(shlex.quote(w) for w in [prog, *words])}", file=sys.stderr)
        return 130
    print(sweep.table(card))
    print(f"card: {settings['out']}/{card['sweep']}.json")
    for f in card["failed"]:
        print(f"failed: {f['name']}: {f['reason']}", file=sys.stderr)
    return 1 if card["failed"] else 0


def _configure_logging() -> None:
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)


def build_parser(prog: str = "snnbook") -> argparse.ArgumentParser:
    """The ``snnbook`` argument parser (subcommands ``train``, ``card``, ``compare``)."""
    from . import __version__
    parser = _Parser(prog=prog, description="Spiking Vision: train the book's networks, build their "
                                            "results cards, compare them.")
    parser.add_argument("--version", action="version", version=f"snnbook {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    t = sub.add_parser("train", help="train a network (snnbook train <network> -h)")
    _train_parsers(t.add_subparsers(dest="network", required=True, metavar="network", parser_class=_Parser))
    c = sub.add_parser("card", help="aggregate a network's runs into its results card")
    c.add_argument("network", choices=CARDS)
    c.add_argument("--out", default="runs", help="the folder of the runs and of the card (default runs/)")
    sub.add_parser("sweep", help="many runs of a network as Ray tasks (snnbook sweep -h)", add_help=False)
    m = sub.add_parser("compare", help="the comparison table of every network")
    m.add_argument("folder", nargs="?", default=None,
                   help="a folder of results files (default: the published record that ships with snnbook)")
    m.add_argument("--html", action="store_true", help="HTML instead of Markdown")
    return parser


def main(argv: list[str] | None = None, prog: str = "snnbook") -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``); return the exit status (0, 1 when
    a card or table finds nothing, 2 for a usage mistake, 130 after Ctrl-C)."""
    if argv is not None and (isinstance(argv, str) or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"main: argv must be a list of str or None, got {argv!r}")
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["sweep"]:
        return _sweep(words, prog)
    parser = build_parser(prog)
    args = parser.parse_args(words)
    _configure_logging()
    from .training.run import TrainingInterrupted
    try:
        if args.command == "compare":
            from .compare import main as compare_main
            return compare_main(([args.folder] if args.folder else []) + (["--html"] if args.html else []),
                                prog=f"{prog} compare")
        if args.command == "card":
            return _card(args.network, args.out)
        train_words = words[words.index("train"):] if "train" in words else words
        return _train(args, train_words, prog if prog != "snnbook" else "snnbook")
    except TrainingInterrupted as stop:
        resume = list(words) if "--resume" in words else list(words) + ["--resume"]
        print(f"\n{stop.name}: interrupted at {stop.where}; checkpoint saved to {stop.checkpoint}.\n"
              f"Continue with:\n  {prog} {' '.join(shlex.quote(a) for a in resume)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\n{prog}: stopped; work since the last checkpoint is lost (--resume continues from it)",
              file=sys.stderr)
        return 130
    except FileNotFoundError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as err:
        print(f"{prog}: error: {str(err).splitlines()[0] if str(err) else err.__class__.__name__}",
              file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
