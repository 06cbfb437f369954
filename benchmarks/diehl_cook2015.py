"""Time per digit of Diehl & Cook's network: the compiled event-driven loop against the
straightforward per-step torch path (:func:`snnbook.models.diehl_cook2015.run_digit_reference`).

Both sides run from the same state on the same digits and the same Poisson spikes; their spike
counts, weights, thresholds and states are asserted identical (``torch.equal``) before any ratio is
printed. Training: one STDP presentation (with its re-presentations and the weight normalisation)
per digit, after a warm-up of ``--warmup`` digits so that the network is in a trained-like state.
Test: learning off, independent digits. The event side is also timed on many more digits (the
per-digit time quoted), single-threaded unless NUMBA_NUM_THREADS says otherwise. Writes
``results/bench_diehl_cook2015.json``::

    NUMBA_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/diehl_cook2015.py
    .venv/bin/python benchmarks/diehl_cook2015.py --quick --out /tmp/bench_dc.json
"""
from __future__ import annotations

import argparse
import copy
import datetime
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run, not a measurement)")
    parser.add_argument("--neurons", type=int, default=400)
    parser.add_argument("--warmup", type=int, default=None, help="training digits before timing (default 2000)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_diehl_cook2015.json"))
    args = parser.parse_args(argv)
    import torch
    from snnbook import data
    from snnbook.models import DiehlCook2015
    from snnbook.models.diehl_cook2015 import DiehlCookState
    from snnbook.training import git_commit, machine_info

    n = 20 if args.quick else args.neurons
    warmup = args.warmup if args.warmup is not None else (50 if args.quick else 2000)
    n_ref = 2 if args.quick else 5          # digits on the straightforward side
    n_event = 50 if args.quick else 1000    # digits on the event side, for its per-digit time
    images, _ = data.mnist_tensors(train=True, n=warmup + n_event)
    test_images, _ = data.mnist_tensors(train=False, n=n_event)

    model = DiehlCook2015(n_neurons=n, seed=0)
    model.learn(images[:2])                     # compile
    model.eval().responses(test_images[:2])
    model.train()
    model.learn(images[2:warmup])

    # ---- training: the same digits on both sides, from the same state ----
    ref, fast = copy.deepcopy(model), copy.deepcopy(model)
    x = images[warmup:warmup + n_ref]
    t0 = time.perf_counter()
    c_ref = ref.learn(x, engine="reference")
    t_ref = (time.perf_counter() - t0) / n_ref
    t0 = time.perf_counter()
    c_fast = fast.learn(x, engine="event")
    t_fast_same = (time.perf_counter() - t0) / n_ref
    assert torch.equal(c_ref, c_fast), "training: spike counts differ"
    assert torch.equal(ref.weight, fast.weight) and torch.equal(ref.theta, fast.theta), "training: weights differ"
    for f in DiehlCookState._fields:
        assert torch.equal(getattr(ref.state, f), getattr(fast.state, f)), f"training: state {f} differs"
    t0 = time.perf_counter()
    c_many = fast.learn(images[warmup + n_ref:warmup + n_event])
    t_fast = (time.perf_counter() - t0) / (n_event - n_ref)

    # ---- test: learning off, independent digits ----
    fast.eval()
    t0 = time.perf_counter()
    r_ref = fast.responses(test_images[:n_ref], engine="reference")
    t_ref_test = (time.perf_counter() - t0) / n_ref
    r_fast = fast.responses(test_images[:n_ref])
    assert torch.equal(r_ref, r_fast), "test: spike counts differ"
    t0 = time.perf_counter()
    fast.responses(test_images)
    t_fast_test = (time.perf_counter() - t0) / n_event

    record = {
        "benchmark": "diehl_cook2015", "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/diehl_cook2015.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "commit": git_commit(), "machine": machine_info(), "quick": args.quick, "neurons": n, "warmup_digits": warmup,
        "identical": {"training_digits": n_ref, "test_digits": n_ref, "spikes_training": int(c_ref.sum()),
                      "spikes_test": int(r_ref.sum())},
        "training_per_digit_s": {"reference": t_ref, "event_same_digits": t_fast_same, "event": t_fast,
                                 "event_digits": n_event - n_ref,
                                 "event_spikes_per_digit": float(c_many.sum(1).double().mean())},
        "test_per_digit_s": {"reference": t_ref_test, "event": t_fast_test, "event_digits": n_event},
        "ratio_training": t_ref / t_fast, "ratio_test": t_ref_test / t_fast_test,
        "projected_epoch_60000_s": {"reference": t_ref * 60_000, "event": t_fast * 60_000},
    }
    print(f"Diehl & Cook 2015, {n} neurons (identical spikes, weights and state on {n_ref} digits):")
    print(f"  training digit: reference {t_ref * 1e3:8.1f} ms, event {t_fast * 1e3:6.2f} ms  -> {record['ratio_training']:.0f}x")
    print(f"  test digit:     reference {t_ref_test * 1e3:8.1f} ms, event {t_fast_test * 1e3:6.2f} ms  -> "
          f"{record['ratio_test']:.0f}x")
    print(f"  one pass of 60 000 training digits: reference {t_ref * 60_000 / 3600:.1f} h, "
          f"event {t_fast * 60_000 / 60:.1f} min")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    from snnbook._resources import update_manifest  # the published record lists its files' SHA-256
    update_manifest(Path(args.out).parent, [Path(args.out)])
    return record


if __name__ == "__main__":
    main()
