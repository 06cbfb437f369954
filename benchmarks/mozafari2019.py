"""Per-stage time per digit of the Mozafari 2019 pipeline, event-driven against the straightforward path.

Stages (side by side in one run, outputs asserted equal; see ``benchmarks/engine.py`` for how each
side is written): the input transform, one S1 and one S2 STDP step, one S3 R-STDP step (the
straightforward 15-step dense step against the event step on the cached input), and inference over
the 10 000 test digits (target <= 10 s). From the per-step times and the training schedule it also
projects the whole schedule's time for both paths, and reads the measured wall time of the real
training run from ``results/mozafari2019-seed0.json``. Writes ``results/bench_mozafari2019.json``::

    .venv/bin/python benchmarks/mozafari2019.py
    .venv/bin/python benchmarks/mozafari2019.py --quick --out /tmp/bench_m.json
"""
from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")

ROOT = Path(__file__).resolve().parents[1]


def _engine_bench():
    spec = importlib.util.spec_from_file_location("benchmarks_engine", ROOT / "benchmarks" / "engine.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _screen_timing(model, images, n: int = 2000) -> dict:
    """The decision layer's winner on one thread: the one-pass exact sums against the two-pass
    int8 screen (``_engine._screened_winner``), on the cached S3 input of test digits; winners
    asserted equal."""
    import numpy as np
    import torch
    from snnbook import _engine
    active = np.ascontiguousarray(model.s3_input(model.encode(images[:n])).numpy())
    w, wt, _ = model._weight_state(3)
    q, ok = _engine.screen_rows(wt)
    if not ok[0]:  # e.g. untrained S3 weights above 1: the engine reads them exactly in one pass
        return {"digits": len(active), "skipped": "a weight outside [-1, 1): the screen does not apply"}
    tarr = _engine.tarr_of(model.time_steps, model.conv3.weight.dtype)
    exact, screened = np.empty(len(active), np.int64), np.empty(len(active), np.int64)
    best = [float("inf"), float("inf")]
    for _ in range(3):
        t0 = time.perf_counter()
        _engine._readout_serial(active, 2, wt, 5, 5, model.time_steps, tarr, 4, 4, np.zeros(1, np.float32), exact)
        t1 = time.perf_counter()
        _engine._screened_serial(active, 2, q, w, wt, 5, 5, tarr, screened, 10 ** 9)  # pass 2 always
        t2 = time.perf_counter()
        best = [min(best[0], t1 - t0), min(best[1], t2 - t1)]
    assert np.array_equal(exact, screened), "S3: the screened winner differs from the exact one"
    del torch
    return {"digits": len(active), "exact_s_per_digit": best[0] / len(active),
            "screened_s_per_digit": best[1] / len(active), "ratio": best[0] / best[1], "winners_equal": True}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_mozafari2019.json"))
    parser.add_argument("--weights", default=str(ROOT / "results" / "mozafari2019-seed0.pt"))
    parser.add_argument("--run", default=str(ROOT / "results" / "mozafari2019-seed0.json"),
                        help="results JSON of a training run (its measured wall times are quoted)")
    args = parser.parse_args(argv)
    eb = _engine_bench()
    import torch
    from snnbook import data
    from snnbook.training import git_commit, machine_info

    sizes = dict(eb.QUICK if args.quick else eb.FULL, memory_batch=0)
    res = eb.run(sizes, Path(args.weights) if args.weights else None)
    model, _ = eb.trained_model(Path(args.weights) if args.weights else None, 200)
    n_test = 500 if args.quick else 10_000
    images, labels = data.mnist_tensors(train=False, n=n_test)
    t0 = time.perf_counter()
    decisions = model(model.encode(images))
    t_infer = time.perf_counter() - t0
    t = res["timings"]
    screen = _screen_timing(model, images)
    per_digit = {
        "encode": (t["coding"]["reference_per_digit_loop_s"] / t["coding"]["digits"],
                   t["coding"]["event_s"] / t["coding"]["digits"]),
        "s1_stdp_step": (t["step_l1"]["dense_s_per_step"], t["step_l1"]["event_s_per_step"]),
        "s2_stdp_step": (t["step_l2"]["dense_s_per_step"], t["step_l2"]["event_s_per_step"]),
        "s3_rstdp_step": (t["step_l3"]["dense_s_per_step"], t["step_l3"]["event_s_per_step"]),
        "s3_rstdp_step_in_training_pass": (t["step_l3"]["dense_s_per_step"],
                                           t["step_l3"]["event_training_pass_s_per_digit"]),
        "inference": (t["inference"]["dense_batch1_s_per_digit"], t_infer / n_test),
    }
    stages = {k: {"straightforward_s": a, "event_s": b, "ratio": a / b} for k, (a, b) in per_digit.items()}
    # the schedule: 50 000 training digits, 2 + 4 epochs of STDP, E epochs of R-STDP, +20 000
    # evaluation digits per R-STDP epoch (validation and test)
    run = json.loads(Path(args.run).read_text()) if Path(args.run).exists() else None
    epochs_l3 = run["config"]["epochs_l3"] if run else 100
    n_train = 50_000
    projection = {}
    for side, i in (("straightforward_s", 0), ("event_s", 1)):
        p = per_digit
        # straightforward S3 epochs recompute S1-S2 per digit; the event path caches S3's input once
        s3_epoch = n_train * (p["s3_rstdp_step_in_training_pass"][i] + (p["inference"][i] if i == 0 else 0))
        total = (60_000 + 10_000) * p["encode"][i] + 2 * n_train * p["s1_stdp_step"][i] \
            + 4 * n_train * p["s2_stdp_step"][i] + epochs_l3 * (s3_epoch + 20_000 * p["inference"][i])
        projection[side] = total
    record = {
        "command": "benchmarks/mozafari2019.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "git_commit": git_commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "machine": dict(machine_info(), load_average_at_end=list(os.getloadavg())),
        "weights": res["weights"], "spikes_per_digit": res["spikes_per_digit"],
        "per_digit": stages,
        "inference_test_set": {"digits": n_test, "seconds": t_infer,
                               "accuracy": float((decisions == labels).float().mean()),
                               "target_s": 10.0, "met": t_infer <= 10.0 or n_test < 10_000},
        "s3_step_target_ratio": 100.0, "s3_step_met_batch1": stages["s3_rstdp_step"]["ratio"] >= 100.0,
        "s3_step_met_in_training_pass": stages["s3_rstdp_step_in_training_pass"]["ratio"] >= 100.0,
        "schedule_projection_s": {"epochs_l3": epochs_l3, **projection,
                                  "ratio": projection["straightforward_s"] / projection["event_s"]},
        "training_run": None if run is None else {"file": Path(args.run).name, "wall_time_s": run["wall_time_s"],
                                                  "wall_time_total_s": run["wall_time_total_s"],
                                                  "epochs_l3": run["config"]["epochs_l3"]},
        "s3_plain_float32_agreement": t["step_l3"]["plain_float32_dense_agreement"],
        "s3_readout_screen": screen,
        "minibatched_rstdp": "not implemented: the exact sequential R-STDP is the only mode",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    from snnbook._resources import update_manifest  # the published record lists its files' SHA-256
    update_manifest(Path(args.out).parent, [Path(args.out)])
    print(f"{'stage (per digit)':22s} {'straightforward':>16s} {'event':>12s} {'ratio':>8s}")
    for k, v in stages.items():
        print(f"{k:22s} {v['straightforward_s'] * 1e3:14.3f}ms {v['event_s'] * 1e3:10.3f}ms {v['ratio']:7.1f}x")
    print(f"inference over {n_test} test digits: {t_infer:.2f} s")
    if "skipped" in screen:
        print(f"S3 winner, screen: skipped ({screen['skipped']})")
    else:
        print(f"S3 winner, one thread: exact sums {screen['exact_s_per_digit'] * 1e6:.1f} us, int8 screen + "
              f"exact candidates {screen['screened_s_per_digit'] * 1e6:.1f} us ({screen['ratio']:.2f}x)")
    pr = record["schedule_projection_s"]
    print(f"schedule (2+4+{pr['epochs_l3']} epochs) projected: straightforward {pr['straightforward_s'] / 3600:.1f} h, "
          f"event {pr['event_s'] / 3600:.2f} h")
    print(f"-> {args.out}")
    del torch
    return record


if __name__ == "__main__":
    main()
