"""Sweeps: many runs of one network (seeds, a grid of options, committee members) as Ray tasks.

Chapter: every network chapter's "Reproducing the numbers" section names the sweep behind its
results card.

A sweep is a list of runs of ``snnbook train <network>``: the seeds, times a grid of options
(``--grid time-steps=4,8,16``), plus options every run shares. Each run is one Ray task that
asks Ray for the CPUs (``cpus_per_run``) and GPUs (``gpus_per_run``) it uses and starts
``python -m snnbook train <network> ... --resume`` in its own process, so it writes its results
file, weights and checkpoints exactly as a run started by hand does (``{out}/{name}.json``).
Ray is an optional dependency (``pip install "snnbook[cluster]"``); without ``address`` it
starts on this machine with its cores, with ``address`` (or ``RAY_ADDRESS``) the same sweep runs
on an existing Ray cluster whose nodes have snnbook and the same ``out`` folder (a shared file
system).

Fault tolerance: a run whose process dies (a killed worker, a lost node, an out-of-memory kill)
is retried by Ray (``retries`` times) and continues from its last checkpoint (``--resume``); a
sweep started again skips the finished runs (their results file is complete) and resumes the
others. A run that fails for good is reported and the others go on. Ctrl-C asks every running
run to save a checkpoint, cancels the tasks and prints the command that continues.

Progress: one line per event of a run (started, each epoch with an estimate of the time left,
finished with its accuracy, failed with the last line of its log), and at the end the sweep's
card, ``{out}/{sweep}.json``: the mean and standard deviation of the accuracy over the seeds of
every configuration. With ``committee=True`` (Mozafari 2019) the members of each configuration
form a committee whose results file records the span of their wall times.

Example (the command line form is ``snnbook sweep``)::

    from snnbook import sweep
    runs = sweep.plan("surrogate_fc", seeds=[0, 1, 2], grid={"time-steps": [10, 25]},
                      options={"epochs": 1}, out="runs/sweep")
    report = sweep.run(runs, out="runs/sweep", name="fc-time-steps")
    report["configurations"][0]["test_accuracy"]        # {'mean': ..., 'sd': ..., 'n': 3}
"""
from __future__ import annotations

import itertools
import json
import math
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["RunSpec", "plan", "plan_from_file", "parse_seeds", "parse_grid", "status", "run", "summarize", "command_for",
           "execute", "table",
           "RunFailed"]

#: File-name characters of a run's name (the run layer's rule).
_NAME = re.compile(r"[A-Za-z0-9._+=-]+")
#: Networks whose runs can be members of a committee.
_COMMITTEE_NETWORKS = ("mozafari2019",)
#: Options a sweep sets itself for every run.
_OWN_OPTIONS = ("--seed", "--name", "--out", "--resume", "--force", "--quick")


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep.

    Attributes:
        name: the run's name (its files are ``{out}/{name}.json``, ``.pt``, ``checkpoints/``).
        network: the network of ``snnbook train``.
        seed: the run's seed.
        config: the grid point, ``{option: value}`` (without the seed): runs with equal configs are
            the seeds of one configuration in the sweep's card.
        argv: the words after ``snnbook train`` (network, options, ``--seed``, ``--name``, ``--out``).
    """
    name: str
    network: str
    seed: int
    config: dict = field(hash=False, compare=False)
    argv: tuple = ()

    @property
    def command(self) -> str:
        """The run started by hand: ``python -m snnbook train ...``."""
        return "python -m snnbook train " + " ".join(shlex.quote(a) for a in self.argv)


class RunFailed(RuntimeError):
    """A run's process ended with an error (Ray retries it from its checkpoint)."""


class _RunRefused(RuntimeError):
    """A run's process refused its arguments (exit status 2): retrying cannot help."""


# ---- the plan ----------------------------------------------------------------------------------
def parse_seeds(text) -> list[int]:
    """Seeds from ``"3"``, ``"0-2"`` (inclusive), ``"0,1,5"`` or a mix (``"0-2,7"``), or a list of
    ints. ``ValueError`` for anything else, duplicates or negative seeds.

    Example:
        >>> parse_seeds("3-5,9")
        [3, 4, 5, 9]
    """
    if isinstance(text, int) and not isinstance(text, bool):
        text = [text]
    if isinstance(text, (list, tuple)):
        if not text or not all(isinstance(s, int) and not isinstance(s, bool) for s in text):
            raise ValueError(f"parse_seeds: seeds must be a non-empty list of ints, got {text!r}")
        seeds = list(text)
    elif isinstance(text, str):
        seeds = []
        for part in text.replace(" ", "").split(","):
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
            if not m or (m[2] is not None and int(m[2]) < int(m[1])):
                raise ValueError(f"parse_seeds: seeds must look like 3, 0-2 or 0,1,5 (ranges low-high), "
                                 f"got {text!r}")
            seeds += list(range(int(m[1]), int(m[2] or m[1]) + 1))
    else:
        raise TypeError(f"parse_seeds: seeds must be a str such as '0-2' or a list of ints, got "
                        f"{type(text).__name__}")
    if any(s < 0 for s in seeds):
        raise ValueError(f"parse_seeds: seeds must be >= 0, got {seeds}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"parse_seeds: a seed appears twice in {text!r}")
    return seeds


def parse_grid(items) -> dict:
    """A grid from ``["time-steps=4,8", "shift=0,2"]`` (the ``--grid`` form): ``{option: [values]}``
    with values as strings. ``ValueError`` for an item without ``=``, an empty list of values or
    an option given twice."""
    grid: dict = {}
    for item in items or []:
        if not isinstance(item, str) or "=" not in item:
            raise ValueError(f"parse_grid: a grid axis must look like option=v1,v2 (e.g. time-steps=4,8), "
                             f"got {item!r}")
        key, values = item.split("=", 1)
        key = key.strip().lstrip("-")
        vals = [v.strip() for v in values.split(",") if v.strip()]
        if not key or not vals:
            raise ValueError(f"parse_grid: the axis {item!r} has no option name or no values")
        if key in grid:
            raise ValueError(f"parse_grid: the option {key!r} is given twice")
        grid[key] = vals
    return grid


def _option_words(key: str, value) -> list[str]:
    """``--key value`` (a ``True`` flag is ``--key``, ``False`` leaves it out; a list gives several
    values)."""
    flag = "--" + str(key).lstrip("-")
    if value is True:
        return [flag]
    if value is False or value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [flag, *map(str, value)]
    return [flag, str(value)]


def _name_part(key: str, value) -> str:
    text = f"{key.lstrip('-')}={value}" if value is not True else key.lstrip("-")
    return re.sub(r"[^A-Za-z0-9._+=-]", "_", text)


def plan(network: str, *, seeds, grid: dict | None = None, options: dict | list | None = None,
         out="runs", prefix: str | None = None, runs: list | None = None,
         names: str | None = None) -> list[RunSpec]:
    """The runs of a sweep: every seed times every point of ``grid``, with ``options`` in all.

    Args:
        network: a network of ``snnbook train`` (``snnbook train -h`` lists them).
        seeds: seeds (``parse_seeds`` forms: ``"0-2"``, ``[0, 1, 2]``).
        grid: ``{option: [values]}`` (option names as on the command line without ``--``); the
            runs cover the Cartesian product.
        options: options every run shares, ``{option: value}`` or command-line words
            (``["--hours", "0.75"]``).
        out: the folder of the runs' files.
        prefix: the start of every run's name (default: the network); the name adds each grid
            value and the seed: ``surrogate_fc-time-steps=10-seed0``.
        runs: an explicit list of runs instead of a grid, each ``{"name": ..., "options": {...}}``
            (crossed with the seeds; ``name`` then replaces ``prefix`` and the grid part).
        names: a template of the run names instead, with the grid's options and ``seed`` as
            fields: ``"sweep-t{time-steps}"``, ``"fc-T{time-steps}-seed{seed}"``.

    Returns:
        the runs, each checked by the ``snnbook train`` parser (an unknown network or option, a
        value of the wrong kind, an empty grid or two runs of one name raise ``ValueError``).
    """
    from .cli import NETWORKS
    fn = "plan"
    if not isinstance(network, str) or network not in NETWORKS or network.endswith("committee"):
        choices = ", ".join(n for n in NETWORKS if not n.endswith("committee"))
        raise ValueError(f"{fn}: network must be one of {choices}, got {network!r}")
    seed_list = parse_seeds(seeds)
    grid = dict(grid or {})
    for key, values in grid.items():
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"{fn}: grid axis {key!r} must be a non-empty list of values, got {values!r}")
    if isinstance(options, dict):
        shared = [w for k, v in options.items() for w in _option_words(k, v)]
    elif isinstance(options, (list, tuple)):
        shared = [str(w) for w in options]
    elif options is None:
        shared = []
    else:
        raise TypeError(f"{fn}: options must be a dict or a list of words, got {type(options).__name__}")
    keys = set(grid) | {k.lstrip("-") for k in (options or {})} if isinstance(options, dict) else set(grid)
    for own in _OWN_OPTIONS:
        if own.lstrip("-") in keys or own in shared:
            raise ValueError(f"{fn}: {own} is set by the sweep for every run; leave it out of the options")
    if prefix is not None and (not isinstance(prefix, str) or not _NAME.fullmatch(prefix)):
        raise ValueError(f"{fn}: prefix must be a name of letters, digits and '._+=-', got {prefix!r}")
    points = []
    if runs is not None:
        if grid:
            raise ValueError(f"{fn}: give a grid or a list of runs, not both")
        if not isinstance(runs, (list, tuple)) or not runs:
            raise ValueError(f"{fn}: runs must be a non-empty list of {{'name': ..., 'options': {{...}}}}")
        for r in runs:
            if not isinstance(r, dict) or not isinstance(r.get("name"), str) or not _NAME.fullmatch(r["name"]):
                raise ValueError(f"{fn}: every run needs a 'name' of letters, digits and '._+=-', got {r!r}")
            opts = r.get("options") or {}
            if not isinstance(opts, dict):
                raise ValueError(f"{fn}: the options of run {r['name']!r} must be a mapping, got {opts!r}")
            points.append((r["name"], dict(opts)))
    else:
        axes = list(grid.items())
        for combo in itertools.product(*[values for _, values in axes]):
            config = {k: v for (k, _), v in zip(axes, combo)}
            base = "-".join([prefix or network] + [_name_part(k, v) for k, v in config.items()])
            points.append((base, config))
    out = str(out)
    specs = []
    for base, config in points:
        for seed in seed_list:
            name = f"{base}-seed{seed}"
            if names is not None:
                try:
                    name = str(names).format_map({**config, "seed": seed, "network": network})
                except (KeyError, ValueError, IndexError) as err:
                    raise ValueError(f"{fn}: names={names!r} is not a template of the grid's options and "
                                     f"seed ({err!r})") from None
                if not _NAME.fullmatch(name):
                    raise ValueError(f"{fn}: names={names!r} gives {name!r}, not a name of letters, digits "
                                     "and '._+=-'")
            words = [network, *shared, *[w for k, v in config.items() for w in _option_words(k, v)],
                     "--seed", str(seed), "--name", name, "--out", out]
            specs.append(RunSpec(name=name, network=network, seed=seed, config=dict(config), argv=tuple(words)))
    if not specs:
        raise ValueError(f"{fn}: the sweep is empty (no seeds or no grid point)")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{fn}: two runs would share the name {dup[0]!r}; give the runs distinct names")
    _check_arguments(specs)
    return specs


def _check_arguments(specs: list[RunSpec]) -> None:
    """Parse every run's words with the ``snnbook train`` parser; ``ValueError`` with its message."""
    import contextlib
    import io
    from .cli import build_parser
    parser = build_parser()
    for spec in specs:
        err = io.StringIO()
        try:
            with contextlib.redirect_stderr(err):
                parser.parse_args(["train", *spec.argv])
        except SystemExit:
            msg = err.getvalue().strip().splitlines()
            raise ValueError(f"plan: run {spec.name!r}: {msg[-1] if msg else 'invalid options'}") from None


def plan_from_file(path, *, out=None) -> tuple[list[RunSpec], dict]:
    """The runs of a sweep described in a YAML file, and the file's settings.

    The file::

        network: surrogate_fc          # required
        seeds: 0-2                     # required: '0-2', '0,1,5' or a list
        options: {epochs: 1}           # shared by every run (optional)
        grid: {time-steps: [10, 25]}   # the product of these values (optional) ...
        runs:                          # ... or an explicit list of runs (optional)
          - {name: fc-rate, options: {coding: rate}}
        prefix: fc                     # start of the run names (optional)
        names: "fc-T{time-steps}-seed{seed}"   # or a template of the names (optional)
        out: runs/sweep                # (optional; ``out`` given here wins)
        name: fc-time-steps            # the sweep's card (optional)
        committee: false               # Mozafari 2019 members -> committees (optional)
        cpus_per_run: 1                # Ray resources per run (optional)
        gpus_per_run: 0

    Returns:
        ``(runs, settings)``; ``settings`` holds ``out``, ``name``, ``committee``, ``cpus_per_run``,
        ``gpus_per_run`` as given. Unknown keys raise ``ValueError``.
    """
    import yaml
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"plan_from_file: {str(path)!r} is not a file")
    try:
        spec = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"plan_from_file: {path} is not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(spec, dict):
        raise ValueError(f"plan_from_file: {path} must hold a mapping (network:, seeds:, ...)")
    known = {"network", "seeds", "options", "grid", "runs", "prefix", "names", "out", "name", "committee",
             "cpus_per_run", "gpus_per_run"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise ValueError(f"plan_from_file: {path}: unknown key(s) {unknown}; known: {sorted(known)}")
    for key in ("network", "seeds"):
        if key not in spec:
            raise ValueError(f"plan_from_file: {path}: the key {key!r} is required")
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise ValueError(f"plan_from_file: {path}: grid must be a mapping option -> list of values")
    grid = {k: [str(v) for v in (vals if isinstance(vals, list) else [vals])] for k, vals in grid.items()}
    settings = {k: spec[k] for k in ("out", "name", "committee", "cpus_per_run", "gpus_per_run") if k in spec}
    if out is not None:
        settings["out"] = str(out)
    settings.setdefault("out", "runs")
    seeds = spec["seeds"] if not isinstance(spec["seeds"], (int, float)) else str(spec["seeds"])
    runs = plan(spec["network"], seeds=seeds if not isinstance(seeds, int) else [seeds], grid=grid,
                options=spec.get("options"), out=settings["out"], prefix=spec.get("prefix"), runs=spec.get("runs"),
                names=spec.get("names"))
    return runs, settings


# ---- the state of a run --------------------------------------------------------------------------
def _results(spec: RunSpec, out: Path) -> dict | None:
    """A run's results file if it is complete, else None."""
    path = out / f"{spec.name}.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("complete") is True else None


def status(specs: list[RunSpec], out) -> dict:
    """``{name: "finished" | "resumable" | "new"}``: a complete results file, a checkpoint, nothing."""
    out = Path(out)
    return {s.name: "finished" if _results(s, out) is not None
            else "resumable" if (out / "checkpoints" / f"{s.name}.pt").exists() else "new" for s in specs}


def _accuracy(results: dict) -> float | None:
    for key in ("test_accuracy_selected", "test_accuracy"):
        v = results.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
    return None


# ---- one run: a Ray task --------------------------------------------------------------------------
def _log_dir(out: Path) -> Path:
    return out / "sweep-logs"


def _set_pdeathsig() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The run's process dies with the task that started it (Linux); elsewhere nothing."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def execute(argv: list[str], log_path: str, pid_path: str, env: dict | None = None) -> int:
    """Run ``python -m snnbook train <argv> --resume --no-progress -v`` to its end, its output
    appended to ``log_path`` and its process id in ``pid_path`` while it runs. Returns 0;
    :class:`RunFailed` for an error (Ray retries: the next attempt resumes from the checkpoint),
    ``_RunRefused`` for refused arguments (exit status 2; not retried)."""
    log_path, pid_path = Path(log_path), Path(pid_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "snnbook", "train", *argv, "--resume", "--no-progress", "-v"]
    with open(log_path, "a") as log:
        log.write(f"# {time.strftime('%Y-%m-%dT%H:%M:%S')} attempt: {' '.join(shlex.quote(c) for c in cmd)}\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
                                preexec_fn=_set_pdeathsig if sys.platform.startswith("linux") else None)
        pid_path.write_text(str(proc.pid))
        try:
            code = proc.wait()
        finally:
            pid_path.unlink(missing_ok=True)
    if code == 0:
        return 0
    tail = _last_line(log_path)
    if code == 2:
        raise _RunRefused(f"exit status 2: {tail}")
    raise RunFailed(f"exit status {code}: {tail}")


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip() and not ln.startswith("# ")]
    except OSError:
        return ""
    return lines[-1].strip() if lines else ""


# ---- the sweep -----------------------------------------------------------------------------------
class _Follow:
    """Reads the new lines of a run's log and turns them into progress lines."""
    EPOCH = re.compile(r"(?:epoch|pass|R-STDP epoch|S\d epoch)\D*(\d+)\s*/\s*(\d+)", re.I)

    def __init__(self, spec: RunSpec, log: Path):
        self.spec, self.log, self.pos, self.started, self.t0 = spec, log, 0, False, None

    def poll(self) -> list[str]:
        try:
            with open(self.log, errors="replace") as f:
                f.seek(self.pos)
                text = f.read()
                self.pos = f.tell()
        except OSError:
            return []
        lines = []
        for raw in text.splitlines():
            line = re.sub(r"^\[\d\d:\d\d:\d\d\] ", "", raw.strip())
            if not line or line.startswith("# "):
                continue
            if not self.started and "training (files in" in line:
                self.started, self.t0 = True, time.time()
                lines.append("started")
            elif "resuming from" in line:
                lines.append(line.split(": ", 1)[-1])
            elif self.started and self.EPOCH.search(line) and "resum" not in line:
                m = self.EPOCH.search(line)
                done, total = int(m[1]), int(m[2])
                eta = ""
                if 0 < done < total and self.t0:
                    left = (time.time() - self.t0) / done * (total - done)
                    eta = f" (about {_duration(left)} left)"
                lines.append(line.split(": ", 1)[-1][:100] + eta)
        return lines


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def run(specs: list[RunSpec], *, out="runs", name: str | None = None, address: str | None = None,
        workers: int | None = None, cpus_per_run: float = 1, gpus_per_run: float = 0, retries: int = 2,
        committee: bool = False, command: str | None = None, say=print, poll_s: float = 0.5) -> dict:
    """Run a sweep's runs as Ray tasks and write its card; return the card.

    Args:
        specs: the runs (:func:`plan`); their ``--out`` must be ``out``.
        out: the folder of the runs' files; logs go to ``{out}/sweep-logs/``.
        name: the sweep card's base name (default ``sweep-<network>``): ``{out}/{name}.json``.
        address: a Ray cluster's address (default ``RAY_ADDRESS``, else a local Ray with
            ``workers * cpus_per_run`` CPUs, ``workers`` defaulting to the machine's cores).
        workers: runs at the same time on a local Ray.
        cpus_per_run, gpus_per_run: the Ray resources each run asks for (the run itself uses
            what its options say: pass ``--threads`` in the options to match).
        retries: times a run whose process died is started again (it resumes).
        committee: Mozafari 2019: each configuration's seeds form a committee.
        command: the sweep's command line, recorded in the card and in every run's results file.
        say: where progress lines go (one line each).

    Returns:
        the card: ``configurations`` (config, runs, accuracy mean/sd/n, wall and CPU time),
        ``failed`` (name, reason), ``skipped`` (finished before), ``committees``.

    Raises:
        ImportError: Ray is not installed (``pip install "snnbook[cluster]"``).
        KeyboardInterrupt: after Ctrl-C, once the running runs saved their checkpoints.
    """
    fn = "run"
    if not isinstance(specs, (list, tuple)) or not specs or not all(isinstance(s, RunSpec) for s in specs):
        raise TypeError(f"{fn}: specs must be a non-empty list of RunSpec (from sweep.plan), got {specs!r}")
    out = Path(out)
    for s in specs:
        if s.argv[s.argv.index("--out") + 1] != str(out):
            raise ValueError(f"{fn}: run {s.name!r} writes to {s.argv[s.argv.index('--out') + 1]!r}, not "
                             f"out={str(out)!r}; plan the sweep with the same out")
    for arg, v, low in (("cpus_per_run", cpus_per_run, 0), ("gpus_per_run", gpus_per_run, 0), ("retries", retries, 0)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= low:
            raise ValueError(f"{fn}: {arg} must be a number >= {low}, got {v!r}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"{fn}: workers must be a positive int, got {workers!r}")
    if committee and specs[0].network not in _COMMITTEE_NETWORKS:
        raise ValueError(f"{fn}: committee=True needs one of {_COMMITTEE_NETWORKS}, got {specs[0].network!r}")
    try:
        import ray
    except ImportError:
        raise ImportError("snnbook sweep needs Ray: pip install \"snnbook[cluster]\" (or pip install ray)") from None
    name = name or f"sweep-{specs[0].network}"
    out.mkdir(parents=True, exist_ok=True)
    logs = _log_dir(out)
    logs.mkdir(exist_ok=True)
    t_start = time.time()
    state = status(specs, out)
    todo = [s for s in specs if state[s.name] != "finished"]
    skipped = [s.name for s in specs if state[s.name] == "finished"]
    for s in specs:
        if state[s.name] == "finished":
            say(f"{s.name}: finished before, skipped")
    failed: dict[str, str] = {}
    if todo:
        address = address or os.environ.get("RAY_ADDRESS") or None
        if not ray.is_initialized():
            if address:
                ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
            else:
                cores = workers if workers is not None else max(1, (os.cpu_count() or 1) // max(1, int(cpus_per_run)))
                ray.init(num_cpus=int(math.ceil(cores * max(cpus_per_run, 1e-9))), num_gpus=0 if not gpus_per_run else None,
                         include_dashboard=False, log_to_driver=False, configure_logging=False)
        task = ray.remote(execute).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=retries,
                                           retry_exceptions=[RunFailed])
        env = {"SNNBOOK_SWEEP": command or name, "PYTHONUNBUFFERED": "1"}
        refs, follow = {}, {}
        for s in todo:
            log = logs / f"{s.name}.log"
            follow[s.name] = _Follow(s, log)
            follow[s.name].pos = log.stat().st_size if log.exists() else 0
            refs[task.remote(list(s.argv), str(log), str(logs / f"{s.name}.pid"), env)] = s
            say(f"{s.name}: queued ({'resumes from its checkpoint' if state[s.name] == 'resumable' else 'new'})")
        pending = list(refs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=poll_s)
                for f in follow.values():
                    for line in f.poll():
                        say(f"{f.spec.name}: {line}")
                for ref in ready:
                    s = refs[ref]
                    for line in follow[s.name].poll():
                        say(f"{s.name}: {line}")
                    try:
                        ray.get(ref)
                    except Exception as err:  # the run failed for good: the others go on
                        reason = _reason(err)
                        failed[s.name] = reason
                        say(f"{s.name}: FAILED: {reason} (log {logs / (s.name + '.log')})")
                        continue
                    res = _results(s, out) or {}
                    acc = _accuracy(res)
                    say(f"{s.name}: finished" + (f", test accuracy {acc:.4f}" if acc is not None else ""))
        except KeyboardInterrupt:
            _stop(pending, refs, logs, ray, say)
            raise
    card = summarize(specs, out=out, name=name, command=command, failed=failed, skipped=skipped,
                     wall_time_s=time.time() - t_start)
    if committee:
        card["committees"] = _committees(specs, out, failed, command, say)
        from .training.run import write_json
        write_json(out / f"{name}.json", card)
    return card


def _reason(err: BaseException) -> str:
    text = str(err)
    for cls in ("RunFailed", "_RunRefused"):
        if cls in text:
            text = text.split(cls + ":", 1)[-1]
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else err.__class__.__name__


def _stop(pending, refs, logs: Path, ray, say) -> None:
    """Ctrl-C: ask every running run to checkpoint (SIGINT), wait for them, cancel the rest."""
    say("stopping: the running runs save their checkpoints ...")
    pids = []
    for ref in pending:
        pid_file = logs / f"{refs[ref].name}.pid"
        try:
            pid = int(pid_file.read_text())
            os.kill(pid, signal.SIGINT)
            pids.append(pid)
        except (OSError, ValueError):
            pass
    deadline = time.time() + 120
    while pids and time.time() < deadline:
        pids = [p for p in pids if _alive(p)]
        time.sleep(0.2)
    for ref in pending:
        try:
            ray.cancel(ref, force=True)
        except Exception:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its task) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def summarize(specs: list[RunSpec], *, out="runs", name: str = "sweep", command: str | None = None,
              failed: dict | None = None, skipped=(), wall_time_s: float | None = None) -> dict:
    """The sweep's card from the runs' results files: per configuration the runs, the mean and
    standard deviation of the test accuracy over the finished seeds (``statistics.stdev``, n-1),
    their training wall and CPU times. Written to ``{out}/{name}.json`` and returned."""
    from .training.run import write_json
    out = Path(out)
    groups: dict[str, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault(json.dumps(s.config, sort_keys=True), []).append(s)
    configurations = []
    for key, members in groups.items():
        done = [(s, r) for s in members if (r := _results(s, out)) is not None]
        accs = [a for _, r in done if (a := _accuracy(r)) is not None]
        walls = [r.get("wall_time_train_s") for _, r in done if isinstance(r.get("wall_time_train_s"), (int, float))]
        cpus = [r.get("cpu_time_train_s") for _, r in done if isinstance(r.get("cpu_time_train_s"), (int, float))]
        configurations.append({
            "config": json.loads(key), "runs": [s.name for s in members],
            "finished": [s.name for s, _ in done],
            "test_accuracy": {"mean": statistics.fmean(accs) if accs else None,
                              "sd": statistics.stdev(accs) if len(accs) > 1 else None, "n": len(accs),
                              "values": accs},
            "wall_time_train_s": {"mean": statistics.fmean(walls) if walls else None, "total": sum(walls)},
            "cpu_time_train_s": {"total": sum(cpus)} if cpus else None})
    card = {"sweep": name, "network": specs[0].network, "command": command, "out": str(out),
            "runs": [s.command for s in specs], "configurations": configurations,
            "failed": [{"name": k, "reason": v} for k, v in (failed or {}).items()],
            "skipped": list(skipped), "wall_time_s": wall_time_s}
    write_json(out / f"{name}.json", card)
    return card


def _committees(specs, out: Path, failed: dict, command, say) -> list[dict]:
    from .training import committee_mozafari2019
    made = []
    groups: dict[str, list[RunSpec]] = {}
    for s in specs:
        groups.setdefault(json.dumps(s.config, sort_keys=True), []).append(s)
    for members in groups.values():
        ok = [s for s in members if s.name not in failed and _results(s, out) is not None]
        if len(ok) < 2:
            say(f"committee of {members[0].name.rsplit('-seed', 1)[0]}: fewer than 2 finished members, none made")
            continue
        base = members[0].name.rsplit("-seed", 1)[0]
        cname = f"{base}-committee-seeds{'-'.join(str(s.seed) for s in ok)}"
        r = committee_mozafari2019([s.name for s in ok], out=str(out), name=cname, command=command, force=True)
        say(f"{cname}: committee of {len(ok)}, test accuracy {r['test_accuracy']:.4f}, wall-time span "
            f"{_duration(r.get('wall_time_span_s') or 0)}")
        made.append({"name": cname, "members": [s.name for s in ok], "test_accuracy": r["test_accuracy"],
                     "wall_time_span_s": r.get("wall_time_span_s")})
    return made


def table(card: dict) -> str:
    """The card as a plain-text table: one line per configuration."""
    rows = [("configuration", "runs", "test accuracy", "train wall (mean)")]
    for c in card["configurations"]:
        acc = c["test_accuracy"]
        text = "-" if acc["mean"] is None else f"{100 * acc['mean']:.2f} %" + (
            f" ± {100 * acc['sd']:.2f}" if acc["sd"] is not None else "")
        wall = c["wall_time_train_s"]["mean"]
        rows.append((", ".join(f"{k}={v}" for k, v in c["config"].items()) or "(defaults)",
                     f"{acc['n']}/{len(c['runs'])}", text, "-" if wall is None else _duration(wall)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows)


_NOT_SWEPT = {"--resume": 0, "--no-progress": 0, "-v": 0, "--verbose": 0, "--force": 0, "--keep-checkpoint": 0,
              "--seed": 1, "--name": 1}


def command_for(commands) -> str | None:
    """The ``snnbook sweep`` command that regenerates runs recorded with ``commands`` (their
    results files' ``command``: ``snnbook train <network> ... --seed S [--name P-seedS]``), or
    None when the runs differ in more than their seed and name (they are not one sweep).

    Example:
        >>> command_for(["snnbook train surrogate_fc --seed 0 --out results",
        ...              "snnbook train surrogate_fc --seed 1 --out results"])
        'snnbook sweep surrogate_fc --seeds 0,1 --out results'
    """
    if isinstance(commands, dict):
        commands = list(commands.values())
    shared, network, seeds, prefixes = None, None, [], set()
    for command in commands or []:
        if not isinstance(command, str):
            return None
        words = shlex.split(command)
        at = [k for k, w in enumerate(words) if w in ("train", "snnbook.train")]
        if not at or at[0] + 1 >= len(words):
            return None
        i = at[0]
        net, rest = words[i + 1], words[i + 2:]
        kept, seed, name, j = [], 0, None, 0
        while j < len(rest):
            w = rest[j]
            if w in _NOT_SWEPT:
                if w == "--seed" and j + 1 < len(rest):
                    seed = int(rest[j + 1]) if rest[j + 1].isdigit() else None
                if w == "--name" and j + 1 < len(rest):
                    name = rest[j + 1]
                j += 1 + _NOT_SWEPT[w]
                continue
            kept.append(w)
            j += 1
        if seed is None or (network is not None and net != network) or (shared is not None and kept != shared):
            return None
        network, shared = net, kept
        seeds.append(seed)
        if name is not None:
            if not name.endswith(f"-seed{seed}"):
                return None
            prefixes.add(name[: -len(f"-seed{seed}")])
    if network is None or len(set(seeds)) != len(seeds) or len(prefixes) > 1:
        return None
    words = ["snnbook", "sweep", network, "--seeds", ",".join(map(str, sorted(seeds)))]
    prefix = next(iter(prefixes), network)
    if prefix != network:
        words += ["--prefix", prefix]
    return " ".join(shlex.quote(w) for w in words + shared)
