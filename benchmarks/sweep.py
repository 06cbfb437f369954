"""Sweep benchmark: the same small sweep with 1 and with 2 workers on a local Ray, and what a
cluster would give for the book's whole set of runs.

1. Measured: a sweep of ``RUNS`` runs (Diehl & Cook, 100 neurons on 2 000 training digits, one
   thread per run: a run long enough that Ray's start and each process's imports do not hide the
   parallelism) with ``workers=1``, then with ``workers=2``, each in a fresh folder and a fresh
   local Ray. Reported: each sweep's wall time (Ray's start-up apart), the speed-up, and that
   both sweeps wrote equal results (the runs are the same runs).
2. Planned on paper: every published results file of one run in ``results/`` records its
   training CPU time (or wall time and threads; cards and committees are left out). The set's core-hours, its longest run, and for a cluster
   of N cores the time to regenerate every card: at least the longest run and at least the
   core-hours / N; a greedy schedule (longest run first onto the least-loaded core) gives the
   figure reported, within 4/3 of the best possible.

Writes ``results/bench_sweep.json``::

    .venv/bin/python benchmarks/sweep.py                 # 4 runs, 1 then 2 workers
    .venv/bin/python benchmarks/sweep.py --quick --out /tmp/bench_sweep.json
"""
from __future__ import annotations

import argparse
import datetime
import heapq
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from snnbook import sweep  # noqa: E402
from snnbook.training.run import machine_info, write_json  # noqa: E402

FULL = dict(runs=4, options=["--neurons", "100", "--train-digits", "2000", "--test-digits", "500",
                             "--label-digits", "1000", "--monitor-every", "0"])
QUICK = dict(runs=2, options=["--neurons", "20", "--train-digits", "200", "--test-digits", "50",
                              "--label-digits", "100", "--monitor-every", "0"])
CLUSTER_CORES = (2, 8, 64, 256)


def timed_sweep(workers: int, size: dict, base: Path) -> dict:
    import ray
    out = base / f"workers{workers}"
    runs = sweep.plan("diehl_cook2015", seeds=list(range(size["runs"])), options=size["options"], out=out)
    t0 = time.perf_counter()
    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_ray = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        card = sweep.run(runs, out=out, name="bench", workers=workers, say=lambda line: None)
        wall = time.perf_counter() - t1
    finally:
        ray.shutdown()
    if card["failed"]:
        raise RuntimeError(f"sweep with {workers} worker(s): runs failed: {card['failed']}")
    accs = [json.loads((out / f"{r.name}.json").read_text())["test_accuracy"] for r in runs]
    return {"workers": workers, "ray_start_s": round(t_ray, 2), "sweep_wall_s": round(wall, 2),
            "runs": len(runs), "test_accuracy": accs}


def _core_seconds(record: dict) -> float | None:
    for key in ("cpu_time_train_s", "cpu_time_total_s"):
        v = record.get(key)
        if isinstance(v, (int, float)) and v > 0:
            return float(v)
    wall = record.get("wall_time_train_s") or record.get("wall_time_total_s")
    if isinstance(wall, (int, float)) and wall > 0:
        threads = (record.get("machine") or {}).get("torch_threads") or 1
        return float(wall) * min(int(threads), 2)
    return None


def cluster_plan(results: Path = ROOT / "results") -> dict:
    """Core-hours of every published run and the time to regenerate them on N cores."""
    runs = {}
    for path in sorted(results.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except ValueError:
            continue
        # one run per file: cards and committees (whose members have files of their own) are skipped
        if not isinstance(record, dict) or "seed" not in record or "committee" in path.stem:
            continue
        seconds = _core_seconds(record)
        if seconds is not None:
            runs[path.stem] = round(seconds, 1)
    total = sum(runs.values())
    longest = max(runs.items(), key=lambda kv: kv[1]) if runs else (None, 0.0)
    plan = {}
    for cores in CLUSTER_CORES:
        heap = [0.0] * cores
        for seconds in sorted(runs.values(), reverse=True):  # longest first onto the least-loaded core
            heapq.heapreplace(heap, heap[0] + seconds)
        plan[str(cores)] = {"hours": round(max(heap) / 3600, 2),
                            "lower_bound_hours": round(max(longest[1], total / cores) / 3600, 2)}
    return {"runs": len(runs), "core_hours": round(total / 3600, 2),
            "longest_run": {"name": longest[0], "hours": round(longest[1] / 3600, 2)},
            "per_run_core_s": runs, "cores": plan}


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 tiny runs (what the tests run)")
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_sweep.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    size = QUICK if args.quick else FULL
    with tempfile.TemporaryDirectory() as tmp:
        one = timed_sweep(1, size, Path(tmp))
        two = timed_sweep(2, size, Path(tmp))
    if one["test_accuracy"] != two["test_accuracy"]:
        raise RuntimeError("the two sweeps ran the same runs but wrote different results")
    record = {
        "benchmark": "sweep", "quick": args.quick,
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "python benchmarks/sweep.py" + (" --quick" if args.quick else ""),
        "machine": machine_info(),
        "workload": f"{size['runs']} runs of snnbook train diehl_cook2015 {' '.join(size['options'])}, "
                    "one thread each",
        "sweeps": [one, two],
        "speedup_2_workers": round(one["sweep_wall_s"] / two["sweep_wall_s"], 2),
        "results_equal": True,
        "cluster_plan": cluster_plan(),
    }
    out = Path(args.out)
    write_json(out, record)
    if out.resolve().parent == (ROOT / "results").resolve():
        from snnbook._resources import update_manifest
        update_manifest(out.parent, [out])
    print(f"1 worker {one['sweep_wall_s']:.1f} s, 2 workers {two['sweep_wall_s']:.1f} s: "
          f"speed-up {record['speedup_2_workers']:.2f}x -> {out}")
    plan = record["cluster_plan"]
    print(f"published runs: {plan['runs']}, {plan['core_hours']} core-hours, longest "
          f"{plan['longest_run']['hours']} h; on 64 cores {plan['cores']['64']['hours']} h")
    return record


if __name__ == "__main__":
    main()
