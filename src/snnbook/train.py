"""Command line for training the book's whole networks.

Chapter: A deep network that learns with spikes (book/mozafari2019.md).

Usage::

    python -m snnbook.train mozafari2019 [--epochs-l1 2 --epochs-l2 4 --epochs-l3 N] [--time-steps 15]
                                         [--seed S] [--out results/] [--resume] [--validation 10000]
                                         [--train-digits N] [--test-digits N] [--patience P] [--hours H]
                                         [--fixed-rstdp-rates] [--s3-features F]
                                         [--rstdp-rate-floor R] [--s3-dropout P]

    python -m snnbook.train diehl_cook2015 [--neurons 400] [--epochs 1] [--seed S] [--train-digits N]
                                           [--test-digits N] [--label-digits N] [--out results/] [--resume]

Writes ``{out}/mozafari2019-seed{S}.json`` (the results card's numbers) and ``.pt`` (the selected
weights, float16), with checkpoints in ``{out}/checkpoints/`` (``--resume`` continues from there).
"""
from __future__ import annotations

import argparse
import shlex
import sys

__all__ = ["main"]


def _positive(value: str) -> int:
    v = int(value)
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {value}")
    return v


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
    p.add_argument("--name", default=None, help="base name of the output files")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
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
    args = parser.parse_args(argv)
    if args.network == "diehl_cook2015":
        from .models.diehl_cook2015 import train_diehl_cook2015
        given = argv if argv is not None else sys.argv[1:]
        command = "python -m snnbook.train " + " ".join(shlex.quote(a) for a in given
                                                        if a not in ("--resume", "--no-progress"))
        try:
            r = train_diehl_cook2015(out=args.out, n_neurons=args.neurons, epochs=args.epochs, seed=args.seed,
                                     train_digits=args.train_digits, test_digits=args.test_digits,
                                     label_digits=args.label_digits, resume=args.resume,
                                     progress=not args.no_progress, name=args.name, command=command)
        except (ValueError, TypeError) as err:
            parser.error(str(err))
        print(f"{r['name']}: test accuracy {r['test_accuracy']:.4f}, training wall time "
              f"{r['wall_time_train_s']:.0f} s (total {r['wall_time_total_s']:.0f} s) -> {args.out}/{r['name']}.json")
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
            rstdp_rate_floor=args.rstdp_rate_floor, s3_dropout=args.s3_dropout, progress=not args.no_progress,
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
