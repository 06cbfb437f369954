"""Start-up benchmark: the library's first use in a fresh process, with an empty kernel cache
(cold: numba compiles the event-driven engine's kernels) and again with the cache that run left
(warm: the kernels are loaded from disk).

Workloads (each in its own fresh subprocesses, each cold run with its own empty cache folder):

1. ``mozafari2019``: the README's library block: ``Mozafari2019(seed=0)``, ``encode`` of the first
   64 training digits, ``learn_stdp(1, times)``, ``eval()(times)``.
2. ``diehl_cook2015``: ``DiehlCook2015(n_neurons=100, seed=0)``, ``learn`` of 8 digits, then
   ``eval()`` and a forward pass over the 64 digits.

``--quick`` (what ``tests/test_startup.py`` runs): ``mozafari2019`` only encodes 16 digits, and
``diehl_cook2015`` has 10 neurons, learns 2 digits and classifies 4, so that the cold runs compile
few kernels.

The package is run from a temporary READ-ONLY copy of ``src/snnbook`` (byte-compiled first, as
pip does), with ``SNNBOOK_CACHE_DIR`` pointing at a temporary folder, so the run is a fresh
install whose own folder cannot hold numba's cache. Each child reports its wall and CPU times
(steps timed after the imports and the loading of the digits) and numba's per-kernel cache
counters (:func:`snnbook._jit.compile_stats`: a miss is a compilation). Checked after each run:
the cold run compiled and announced it on stderr, wrote the cache into the cache folder and
nothing into the package; the warm run compiled nothing and printed nothing. Writes
``results/bench_startup.json``::

    .venv/bin/python benchmarks/startup.py            # 3 cold + 3 warm runs per workload
    .venv/bin/python benchmarks/startup.py --quick --out /tmp/bench_startup.json
"""
from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "snnbook"
ANNOUNCEMENT = "snnbook: compiling the event-driven engine's kernels"
WORKLOADS = {
    "mozafari2019": "Mozafari2019(seed=0): encode 64 training digits, learn_stdp(1, times), eval()(times) "
                    "(the README's library block)",
    "diehl_cook2015": "DiehlCook2015(n_neurons=100, seed=0): learn 8 digits, eval(), forward 64 digits",
}
FULL = {"mozafari2019": dict(digits=64, steps=("encode", "learn_stdp", "eval")),
        "diehl_cook2015": dict(digits=64, neurons=100, learn=8, steps=("learn", "forward"))}
QUICK = {"mozafari2019": dict(digits=16, steps=("encode",)),
         "diehl_cook2015": dict(digits=4, neurons=10, learn=2, steps=("learn", "forward"))}


# ---------------------------------------------------------------------------------------------
# the child: one fresh process, one workload
# ---------------------------------------------------------------------------------------------
def child(name: str, sizes: dict) -> dict:
    """Run one workload in this (fresh) process; return times and numba's cache counters."""
    t0, c0 = time.perf_counter(), time.process_time()
    import torch  # noqa: F401  (timed with the imports)

    import snnbook
    from snnbook import _jit, data
    from snnbook.models import DiehlCook2015, Mozafari2019
    import_s = time.perf_counter() - t0
    images, _ = data.mnist_tensors(train=True, n=sizes["digits"])
    steps, cpu = {}, {}

    def step(label, fn):
        a, b = time.perf_counter(), time.process_time()
        out = fn()
        steps[label], cpu[label] = time.perf_counter() - a, time.process_time() - b
        return out

    if name == "mozafari2019":
        model = Mozafari2019(seed=0)
        times = step("encode", lambda: model.encode(images))
        if "learn_stdp" in sizes["steps"]:
            step("learn_stdp", lambda: model.learn_stdp(1, times))
        if "eval" in sizes["steps"]:
            step("eval", lambda: model.eval()(times))
    elif name == "diehl_cook2015":
        model = DiehlCook2015(n_neurons=sizes["neurons"], seed=0)
        step("learn", lambda: model.learn(images[:sizes["learn"]]))
        model.eval()
        step("forward", lambda: model(images))
    else:
        raise ValueError(f"unknown workload {name!r}")
    stats = _jit.compile_stats()
    return {"first_use_s": sum(steps.values()), "first_use_cpu_s": sum(cpu.values()), "steps_s": steps,
            "steps_cpu_s": cpu, "import_s": import_s, "process_cpu_s": time.process_time() - c0,
            "package_dir": str(Path(snnbook.__file__).parent), "cache_dir": stats["cache_dir"],
            "hits": stats["hits"], "misses": stats["misses"], "kernels": stats["kernels"],
            "announced": stats["announced"]}


# ---------------------------------------------------------------------------------------------
# the parent: a read-only copy of the package, fresh processes, empty cache folders
# ---------------------------------------------------------------------------------------------
def readonly_copy(dest: Path, package: Path = PACKAGE) -> Path:
    """``package`` (default ``src/snnbook``) copied to ``dest/snnbook``, byte-compiled (as pip
    installs it), read-only."""
    pkg = dest / "snnbook"
    shutil.copytree(package, pkg, ignore=shutil.ignore_patterns("__pycache__", "*.nbi", "*.nbc"))
    compileall.compile_dir(str(pkg), quiet=1)
    _chmod_tree(dest, writable=False)
    return pkg


def _chmod_tree(top: Path, writable: bool) -> None:
    for path in [top, *top.rglob("*")]:
        if path.is_symlink():
            continue
        mode = 0o755 if path.is_dir() else 0o644
        path.chmod(mode if writable else mode & ~0o222)


def cache_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix in (".nbi", ".nbc"))


def run_child(name: str, sizes: dict, site: Path, cache: Path) -> dict:
    env = dict(os.environ, SNNBOOK_CACHE_DIR=str(cache), PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    env.pop("NUMBA_CACHE_DIR", None)  # numba's own setting would not change the folder, but keep runs alike
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child", name, "--sizes",
                           json.dumps(sizes)], env=env, capture_output=True, text=True, cwd=str(site))
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"startup child {name} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = wall
    res["stderr_announcement"] = [line for line in proc.stderr.splitlines() if ANNOUNCEMENT in line]
    return res


def measure(name: str, sizes: dict, repeats: int, tmp: Path, site: Path, pkg: Path) -> dict:
    runs = []
    for r in range(repeats):
        cache = tmp / f"cache-{name}-{r}"
        cold = run_child(name, sizes, site, cache)
        cold["cache_files"] = len(cache_files(cache))
        cold["expected_cache_dir"] = str((cache / "numba").resolve())
        warm = run_child(name, sizes, site, cache)
        warm["cache_files"] = len(cache_files(cache))
        runs.append({"cold": cold, "warm": warm})
        print(f"  {name} run {r + 1}/{repeats}: cold {cold['first_use_s']:.2f} s ({cold['misses']} kernels "
              f"compiled), warm {warm['first_use_s']:.2f} s ({warm['hits']} loaded, {warm['misses']} compiled)",
              flush=True)

    def med(side, key):
        return statistics.median(run[side][key] for run in runs)

    first = runs[0]
    checks = {
        "package_is_the_copy": all(Path(run[s]["package_dir"]) == pkg for run in runs for s in ("cold", "warm")),
        "cold_compiled": all(run["cold"]["misses"] > 0 for run in runs),
        "cold_announced": all(run["cold"]["announced"] and len(run["cold"]["stderr_announcement"]) == 1
                              for run in runs),
        "cache_files_written": all(run["cold"]["cache_files"] > 0 for run in runs),
        "cache_in_cache_dir": all(run["cold"]["cache_dir"] == run["cold"]["expected_cache_dir"] for run in runs),
        "warm_compiled_nothing": all(run["warm"]["misses"] == 0 for run in runs),
        "warm_loaded_from_cache": all(run["warm"]["hits"] > 0 for run in runs),
        "warm_silent": all(not run["warm"]["announced"] and not run["warm"]["stderr_announcement"] for run in runs),
        "warm_wrote_no_new_cache_files": all(run["warm"]["cache_files"] == run["cold"]["cache_files"]
                                             for run in runs),
        "nothing_cached_in_package": not cache_files(pkg),
    }
    return {
        "description": WORKLOADS[name], "sizes": sizes,
        "cold_s": med("cold", "first_use_s"), "warm_s": med("warm", "first_use_s"),
        "cold_cpu_s": med("cold", "first_use_cpu_s"), "warm_cpu_s": med("warm", "first_use_cpu_s"),
        "import_s": {"cold": med("cold", "import_s"), "warm": med("warm", "import_s")},
        "process_s": {"cold": med("cold", "process_s"), "warm": med("warm", "process_s")},
        "cold_steps_s": {k: statistics.median(run["cold"]["steps_s"][k] for run in runs)
                         for k in first["cold"]["steps_s"]},
        "warm_steps_s": {k: statistics.median(run["warm"]["steps_s"][k] for run in runs)
                         for k in first["warm"]["steps_s"]},
        "kernels_compiled_cold": sorted(first["cold"]["kernels"]),
        "kernels_loaded_warm": first["warm"]["hits"],
        "cache_files": first["cold"]["cache_files"],
        "announcement": first["cold"]["stderr_announcement"][0] if first["cold"]["stderr_announcement"] else None,
        "checks": checks,
        "runs": runs,
    }


def machine() -> dict:
    """``snnbook.training``'s ``machine_info`` (imported lazily: the module may move), or the
    basics if it cannot be imported."""
    for mod in ("snnbook.training", "snnbook.training.run"):
        try:
            return __import__(mod, fromlist=["machine_info"]).machine_info()
        except (ImportError, AttributeError):
            continue
    info = {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": platform.python_version()}
    try:
        import numba
        import torch
        info.update(torch=torch.__version__, torch_threads=torch.get_num_threads(), numba=numba.__version__,
                    numba_threads=numba.config.NUMBA_NUM_THREADS)
    except ImportError:  # pragma: no cover
        pass
    return info


def commit() -> str | None:
    for mod in ("snnbook.training", "snnbook.training.run"):
        try:
            return __import__(mod, fromlist=["git_commit"]).git_commit()
        except (ImportError, AttributeError):
            continue
    try:
        out = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "") if out.returncode == 0 else None
    except OSError:
        return None


def table(record: dict) -> str:
    lines = ["| workload | cold first use | warm first use | import (warm) | kernels compiled cold |",
             "|---|---|---|---|---|"]
    for name, w in record["workloads"].items():
        lines.append(f"| {name} | {w['cold_s']:.1f} s | {w['warm_s']:.2f} s | {w['import_s']['warm']:.1f} s "
                     f"| {len(w['kernels_compiled_cold'])} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few kernels, one run each (what the test runs)")
    parser.add_argument("--repeats", type=int, default=None, help="cold + warm runs per workload (default 3, quick 1)")
    parser.add_argument("--workloads", nargs="+", choices=sorted(WORKLOADS), default=list(WORKLOADS))
    parser.add_argument("--out", default=str(ROOT / "results" / "bench_startup.json"))
    parser.add_argument("--package", default=str(PACKAGE),
                        help="the snnbook package folder to copy and run (default src/snnbook; e.g. an older "
                             "version for a before/after comparison; it must have snnbook/_jit.py)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, json.loads(args.sizes))))
        return {}
    sizes = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else 3)
    load_start = list(os.getloadavg())
    record = {"command": "benchmarks/startup.py " + " ".join(argv if argv is not None else sys.argv[1:]),
              "git_commit": commit(), "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "quick": args.quick, "repeats": repeats, "workloads": {}}
    tmp = Path(tempfile.mkdtemp(prefix="snnbook-startup-"))
    try:
        site = tmp / "site"
        site.mkdir()
        pkg = readonly_copy(site, Path(args.package))
        for name in args.workloads:
            record["workloads"][name] = measure(name, dict(sizes[name]), repeats, tmp, site, pkg)
    finally:
        if (tmp / "site").exists():
            _chmod_tree(tmp / "site", writable=True)
        shutil.rmtree(tmp, ignore_errors=True)
    record["machine"] = dict(machine(), load_average_at_start=load_start, load_average_at_end=list(os.getloadavg()))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
    from snnbook._resources import update_manifest  # the published record lists its files' SHA-256
    update_manifest(Path(args.out).parent, [Path(args.out)])
    print(table(record))
    print(f"-> {args.out}")
    failed = {f"{n}.{k}": v for n, w in record["workloads"].items() for k, v in w["checks"].items() if not v}
    if failed:
        raise SystemExit(f"startup checks failed: {sorted(failed)}")
    return record


if __name__ == "__main__":
    main()
