"""Command line for training the book's whole networks.

Chapter: A deep network that learns with spikes (book/mozafari2019.md).

Usage::

    python -m snnbook.train mozafari2019 [--epochs-l1 2 --epochs-l2 4 --epochs-l3 N] [--time-steps 15]
                                         [--seed S] [--out results/] [--resume] [--validation 10000]
                                         [--train-digits N] [--test-digits N] [--patience P] [--hours H]
                                         [--fixed-rstdp-rates] [--s3-features F]
                                         [--rstdp-rate-floor R] [--s3-dropout P] [--s3-shift N]
    python -m snnbook.train mozafari2019-committee --members RUN [RUN ...] [--name NAME] [--out results/]

    python -m snnbook.train diehl_cook2015 [--neurons 400] [--epochs 1] [--seed S] [--train-digits N]
                                           [--test-digits N] [--label-digits N] [--out results/] [--resume]
                                           [--monitor-every 1000]

    python -m snnbook.train chevalier [--twin spiking|nonspiking|both] [--seed S] [--out results/] [--resume]
    python -m snnbook.train surrogate_fc [--coding rate|direct] [--seed S] [--epochs 1] [--resume]
    python -m snnbook.train surrogate_conv [--epochs 5] [--shift 0] [--time-steps 4] [--lr 2e-3] [--seed S]
                                           [--resume]
    python -m snnbook.train events [--input binned|frame|shuffled] [--model conv|diehl_cook2015] [--seed S]
                                   [--epochs 2] [--train-digits N] [--validation 5000]

(chevalier, surrogate_fc and surrogate_conv: :func:`snnbook.training.train_gradient`; each run without
``--name`` also rewrites the aggregated card ``{out}/{network}.json``. events:
:func:`snnbook.models.events_nets.train_events`, chapter book/events.md. ``--monitor-every``: the
monitors of :mod:`snnbook.monitors`, chapter book/stdp_failures.md.)

Writes ``{out}/mozafari2019-seed{S}.json`` (the results card's numbers) and ``.pt`` (the selected
weights, float16), with checkpoints in ``{out}/checkpoints/`` (``--resume`` continues from there).
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

__all__ = ["main"]


def _positive(value: str) -> int:
    v = int(value)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return v


def _add_gradient_parser(p: argparse.ArgumentParser, network: str) -> None:
    """Options of the gradient-trained networks (issue 16); None means the network's default."""
    p.add_argument("--seed", type=_positive, default=0, help="seed of weights, data order and input noise")
    p.add_argument("--out", default="results", help="folder of the results JSON and weights")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--train-digits", type=_positive, default=None, help="use the first N training digits")
    p.add_argument("--test-digits", type=_positive, default=None, help="use the first N test digits")
    p.add_argument("--validation", type=_positive, default=0,
                   help="hold out the last N training digits and report accuracy on them (default 0)")
    p.add_argument("--epochs", type=_positive, default=None, help="epochs (default: the network's)")
    p.add_argument("--batch-size", type=_positive, default=None, help="batch size (default: the network's)")
    p.add_argument("--threads", type=_positive, default=None, help="torch threads")
    p.add_argument("--name", default=None, help="base name of the output files")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    if network == "chevalier":
        p.add_argument("--twin", choices=("spiking", "nonspiking", "both"), default="both",
                       help="which network (default both, one after the other)")
    else:
        p.add_argument("--time-steps", type=_positive, default=None, help="time steps (default: the net's)")
        p.add_argument("--lr", type=float, default=None,
                       help="learning rate (maximum of the one-cycle schedule for surrogate_conv)")
    if network == "surrogate_conv":
        p.add_argument("--shift", type=_positive, default=None,
                       help="augmentation: translate each training digit by up to N pixels (default 0)")
    if network == "surrogate_fc":
        p.add_argument("--coding", choices=("rate", "direct"), default=None,
                       help="input coding (default: rate)")


def _run_gradient(parser: argparse.ArgumentParser, args, argv) -> int:
    """Train (and summarise) a network of :func:`snnbook.training.train_gradient` from parsed ``args``."""
    from .training import summarize_gradient, train_gradient
    given = argv if argv is not None else sys.argv[1:]
    keys = ("epochs", "batch_size", "time_steps", "lr", "coding", "shift")
    overrides = {k: getattr(args, k) for k in keys if getattr(args, k, None) is not None}
    twins = ([None] if args.network != "chevalier" else
             ["spiking", "nonspiking"] if args.twin == "both" else [args.twin])
    for twin in twins:
        extra = {} if twin is None else {"twin": twin}
        words = [a for a in given if a not in ("--resume", "--no-progress")]
        if twin is not None and "--twin" not in words:
            words += ["--twin", twin]
        elif twin is not None:
            words[words.index("--twin") + 1] = twin
        command = "python -m snnbook.train " + " ".join(shlex.quote(a) for a in words)
        try:
            r = train_gradient(args.network, out=args.out, seed=args.seed, resume=args.resume,
                               progress=not args.no_progress, name=args.name, command=command,
                               train_digits=args.train_digits, test_digits=args.test_digits,
                               validation=args.validation, threads=args.threads, **extra, **overrides)
        except (ValueError, TypeError) as err:
            parser.error(str(err))
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, "
              f"training wall time {r['wall_time_train_s']:.0f} s (CPU {r['cpu_time_train_s']:.0f} s) "
              f"-> {args.out}/{r['name']}.json")
    if args.name is None:
        summarize_gradient(args.network, args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``), train, print a summary; return the exit code."""
    if argv is not None and (isinstance(argv, str) or not all(isinstance(a, str) for a in argv)):
        raise TypeError(f"main: argv must be a list of str or None, got {argv!r}")
    parser = argparse.ArgumentParser(prog="python -m snnbook.train", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="network", required=True)
    p = sub.add_parser("mozafari2019", help="Mozafari et al. 2019: STDP (S1, S2) + R-STDP (S3)")
    p.add_argument("--epochs-l1", type=_positive, default=2, help="STDP epochs of S1 (default 2)")
    p.add_argument("--epochs-l2", type=_positive, default=4, help="STDP epochs of S2 (default 4)")
    p.add_argument("--epochs-l3", type=_positive, default=60, help="R-STDP epochs of S3 (default 60)")
    p.add_argument("--time-steps", type=_positive, default=15, help="latency-code steps (default 15)")
    p.add_argument("--seed", type=_positive, default=0, help="seed of the initial weights (default 0)")
    p.add_argument("--out", default="results", help="folder of the results JSON and weights (default results/)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--validation", type=_positive, default=10_000,
                   help="held-out last training digits for model selection (default 10000; 0: train on all)")
    p.add_argument("--train-digits", type=_positive, default=None, help="use the first N training digits")
    p.add_argument("--test-digits", type=_positive, default=None, help="use the first N test digits")
    p.add_argument("--patience", type=_positive, default=None,
                   help="stop S3 after this many epochs without a better validation accuracy")
    p.add_argument("--hours", type=float, default=None,
                   help="time budget: no R-STDP epoch is started that would take the whole run past this "
                        "many hours of wall time (the stopping epoch then depends on the machine)")
    p.add_argument("--fixed-rstdp-rates", action="store_true", help="do not adapt the R-STDP rates")
    p.add_argument("--s3-features", type=_positive, default=200,
                   help="features of the decision layer, a multiple of 10 (default 200: 20 per class)")
    p.add_argument("--rstdp-rate-floor", type=float, default=0.0,
                   help="variant: adapted R-STDP rates never fall below this fraction of the base rates "
                        "(default 0, the reference port; the 2018 paper's code uses 0.2)")
    p.add_argument("--s3-dropout", type=float, default=0.0,
                   help="variant: probability that an S3 feature sits out an R-STDP epoch (default 0)")
    p.add_argument("--s3-shift", type=_positive, default=0,
                   help="variant: each R-STDP epoch shows every training digit shifted by its own random "
                        "offset of up to N pixels in x and y (default 0)")
    p.add_argument("--name", default=None, help="base name of the output files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    k = sub.add_parser("mozafari2019-committee",
                       help="variant: decide by a committee of independently trained 2019 networks")
    k.add_argument("--members", nargs="+", required=True, help="names of the member runs in --out")
    k.add_argument("--name", default=None, help="base name of the results JSON")
    k.add_argument("--out", default="results", help="the results folder (default results/)")
    c = sub.add_parser("mozafari2019-card", help="aggregate the seeds' results into {out}/mozafari2019.json")
    c.add_argument("--out", default="results", help="the results folder (default results/)")
    d = sub.add_parser("diehl_cook2015", help="Diehl & Cook 2015: unsupervised STDP, labels from training digits")
    d.add_argument("--neurons", type=_positive, default=400, help="excitatory neurons (default 400)")
    d.add_argument("--epochs", type=_positive, default=1, help="passes over the training digits (default 1)")
    d.add_argument("--seed", type=_positive, default=0, help="seed of the weights and Poisson inputs (default 0)")
    d.add_argument("--train-digits", type=_positive, default=None, help="use the first N training digits")
    d.add_argument("--test-digits", type=_positive, default=None, help="use the first N test digits")
    d.add_argument("--label-digits", type=_positive, default=None,
                   help="label the neurons on the last N training digits (default: all training digits)")
    d.add_argument("--out", default="results", help="folder of the results JSON and weights (default results/)")
    d.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    d.add_argument("--name", default=None, help="base name of the output files")
    d.add_argument("--no-progress", action="store_true", help="no progress bar")
    d.add_argument("--monitor-every", type=_positive, default=1000,
                   help="training digits between monitor snapshots in the JSON (default 1000; 0: none)")
    for net, text in (("chevalier", "Chevalier 2018: autograd SNN and its non-spiking twin (SGD, 3 epochs)"),
                      ("surrogate_fc", "snnTorch tutorial 5: LIF 784-1000-10, surrogate gradients, 1 epoch"),
                      ("surrogate_conv", "convolutional LIF network, surrogate gradients, direct input")):
        _add_gradient_parser(sub.add_parser(net, help=text), net)
    e = sub.add_parser("events", help="conv SNN on EventMNIST: binned events, one frame, or shuffled times")
    e.add_argument("--input", choices=("binned", "frame", "shuffled"), default="binned",
                   help="binned events through time, one accumulated frame, or event times shuffled")
    e.add_argument("--model", choices=("conv", "diehl_cook2015"), default="conv",
                   help="surrogate-gradient conv SNN (default) or Diehl & Cook 2015 STDP on frames")
    e.add_argument("--neurons", type=_positive, default=100, help="Diehl & Cook neurons (default 100)")
    e.add_argument("--seed", type=_positive, default=0, help="seed of weights and data order (default 0)")
    e.add_argument("--epochs", type=_positive, default=2, help="epochs (default 2)")
    e.add_argument("--train-digits", type=_positive, default=None, help="use the first N training digits")
    e.add_argument("--test-digits", type=_positive, default=None, help="use the first N test digits")
    e.add_argument("--validation", type=_positive, default=5000, help="held-out last training digits (5000)")
    e.add_argument("--threads", type=_positive, default=None, help="torch threads")
    e.add_argument("--out", default="results", help="folder of the results JSON (default results/)")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.network == "events":
        from .models.events_nets import train_events
        given = argv if argv is not None else sys.argv[1:]
        command = "python -m snnbook.train " + " ".join(shlex.quote(a) for a in given if a != "--no-progress")
        if args.model == "diehl_cook2015":
            from .models.events_nets import train_events_stdp
            r = train_events_stdp(seed=args.seed, n_neurons=args.neurons,
                                  train_digits=args.train_digits or 20000, label_digits=args.validation,
                                  test_digits=args.test_digits, out=args.out, command=command,
                                  progress=not args.no_progress)
        else:
            r = train_events(args.input, seed=args.seed, epochs=args.epochs, train_digits=args.train_digits,
                             validation=args.validation, test_digits=args.test_digits, threads=args.threads,
                             out=args.out, command=command, progress=not args.no_progress)
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, {r['events_per_digit']:.0f} events "
              f"per digit, training wall time {r['wall_time_train_s']:.0f} s -> {args.out}/{r['name']}.json")
        return 0
    if args.network in ("chevalier", "surrogate_fc", "surrogate_conv"):
        return _run_gradient(parser, args, argv)
    if args.network == "diehl_cook2015":
        from .models.diehl_cook2015 import train_diehl_cook2015
        given = argv if argv is not None else sys.argv[1:]
        command = "python -m snnbook.train " + " ".join(shlex.quote(a) for a in given
                                                        if a not in ("--resume", "--no-progress"))
        try:
            r = train_diehl_cook2015(out=args.out, n_neurons=args.neurons, epochs=args.epochs, seed=args.seed,
                                     train_digits=args.train_digits, test_digits=args.test_digits,
                                     label_digits=args.label_digits, resume=args.resume,
                                     progress=not args.no_progress, name=args.name, command=command,
                                     monitor_every=args.monitor_every or None)
        except (ValueError, TypeError) as err:
            parser.error(str(err))
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, training wall time "
              f"{r['wall_time_train_s']:.0f} s (total {r['wall_time_total_s']:.0f} s) -> {args.out}/{r['name']}.json")
        return 0
    if args.network == "mozafari2019-committee":
        from .training import committee_mozafari2019, summarize_mozafari2019
        given = argv if argv is not None else sys.argv[1:]
        try:
            r = committee_mozafari2019(args.members, out=args.out, name=args.name,
                                       command="python -m snnbook.train " + " ".join(shlex.quote(a) for a in given))
        except (ValueError, TypeError, FileNotFoundError) as err:
            parser.error(str(err))
        if any(Path(args.out).glob("mozafari2019-seed*.json")):
            summarize_mozafari2019(args.out)
        print(f"{r['name']}: committee of {len(r['members'])}: validation {r['validation_accuracy']}, "
              f"test accuracy {r['test_accuracy']:.4f} -> {args.out}/{r['name']}.json")
        return 0
    if args.network == "mozafari2019-card":
        from .training import summarize_mozafari2019
        try:
            card = summarize_mozafari2019(args.out)
        except FileNotFoundError as err:
            parser.error(str(err))
        ours = card["ours"]["test_accuracy_selected"]
        print(f"mozafari2019: test accuracy (selected) {ours['mean']:.4f} over {ours['n']} seed(s) "
              f"-> {args.out}/mozafari2019.json")
        return 0

    from .training import train_mozafari2019
    # the command that reproduces the results: --resume and --no-progress do not change them
    # (resume is bit-identical), so they are left out
    given = argv if argv is not None else sys.argv[1:]
    command = "python -m snnbook.train " + " ".join(shlex.quote(a) for a in given
                                                    if a not in ("--resume", "--no-progress"))
    try:
        results = train_mozafari2019(
            out=args.out, epochs_l1=args.epochs_l1, epochs_l2=args.epochs_l2, epochs_l3=args.epochs_l3,
            time_steps=args.time_steps, seed=args.seed, validation=args.validation,
            train_digits=args.train_digits, test_digits=args.test_digits, resume=args.resume,
            patience=args.patience, adaptive_rstdp=not args.fixed_rstdp_rates, s3_features=args.s3_features,
            rstdp_rate_floor=args.rstdp_rate_floor, s3_dropout=args.s3_dropout, s3_shift=args.s3_shift,
            progress=not args.no_progress,
            name=args.name, command=command, time_budget_s=None if args.hours is None else args.hours * 3600)
    except (ValueError, TypeError) as err:
        parser.error(str(err))
    print(f"{results['name']}: selected epoch {results['selected_epoch']} "
          f"(validation {results['validation_accuracy_selected']}), "
          f"test accuracy selected {results['test_accuracy_selected']:.4f}, final {results['test_accuracy_final']:.4f}, "
          f"wall time {results['wall_time_total_s']:.0f} s -> {args.out}/{results['name']}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
