"""``snnbook sweep``: the plan of a sweep (grids, YAML, refusals) and its runs on a local Ray.

The plan tests need no Ray. The Ray tests start one local Ray (2 CPUs) for the module and run tiny
networks: four runs of a sweep equal the same runs started one by one (bit-identical weights);
a failing run is reported without stopping the others; a run whose process is killed is retried
and resumes to the same files; a sweep whose driver dies is continued by starting it again."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from snnbook import sweep
from snnbook.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--train-digits", "256", "--test-digits", "128", "--epochs", "1", "--threads", "1"]
DROP = ("date", "date_start", "machine", "provenance", "wall_time_train_s", "wall_time_label_s",
        "wall_time_test_s", "wall_time_total_s", "cpu_time_train_s", "resumed_segments", "command",
        "load_average_at_start", "sweep", "running_accuracy")


def _env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _strip(path: Path) -> dict:
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()
                    if k not in DROP and not k.startswith(("wall_", "cpu_time_"))}
        return [clean(v) for v in x] if isinstance(x, list) else x
    return clean(json.loads(path.read_text()))


def _same_run(a: Path, b: Path, name: str) -> None:
    assert _strip(a / f"{name}.json") == _strip(b / f"{name}.json"), name
    wa = torch.load(a / f"{name}.pt", weights_only=True)
    wb = torch.load(b / f"{name}.pt", weights_only=True)
    tensors = [k for k, v in wa.items() if isinstance(v, torch.Tensor)]
    state = [k for k, v in wa.items() if isinstance(v, dict)]
    assert tensors or state
    for k in tensors:
        assert torch.equal(wa[k], wb[k]), (name, k)
    for k in state:
        for kk, v in wa[k].items():
            if isinstance(v, torch.Tensor):
                assert torch.equal(v, wb[k][kk]), (name, k, kk)


_BY_HAND: dict = {}


def _by_hand(spec: sweep.RunSpec, base: Path) -> Path:
    """The folder holding the same run started by hand (each run once per test session)."""
    words = list(spec.argv)
    i = words.index("--out") + 1
    key = tuple(words[:i - 1] + words[i + 1:])
    if key in _BY_HAND:
        return _BY_HAND[key]
    out = base / f"by-hand-{len(_BY_HAND)}"
    _BY_HAND[key] = out
    words[i] = str(out)
    proc = subprocess.run([sys.executable, "-m", "snnbook", "train", *words, "--no-progress"], capture_output=True,
                          text=True, env=_env(), timeout=600)
    assert proc.returncode == 0, proc.stderr
    return out


# ---- the plan (no Ray) ------------------------------------------------------------------------------
def test_plan_is_the_product_of_seeds_and_grid_with_readable_names(tmp_path):
    runs = sweep.plan("surrogate_fc", seeds="0-1", grid={"time-steps": [3, 5]}, options=TINY, out=tmp_path)
    assert [r.name for r in runs] == ["surrogate_fc-time-steps=3-seed0", "surrogate_fc-time-steps=3-seed1",
                                      "surrogate_fc-time-steps=5-seed0", "surrogate_fc-time-steps=5-seed1"]
    assert runs[1].argv[-6:] == ("--seed", "1", "--name", "surrogate_fc-time-steps=3-seed1", "--out", str(tmp_path))
    assert "--time-steps" in runs[2].argv and runs[2].config == {"time-steps": 5}
    assert sweep.parse_seeds("3-5,9") == [3, 4, 5, 9] and sweep.parse_seeds([2]) == [2]
    assert {sweep.status(runs, tmp_path)[r.name] for r in runs} == {"new"}


def test_yaml_and_command_line_give_the_same_grid(tmp_path):
    (tmp_path / "s.yaml").write_text(
        "network: surrogate_fc\nseeds: 0-1\ngrid: {time-steps: [3, 5]}\n"
        "options: {train-digits: 256, test-digits: 128, epochs: 1, threads: 1}\n")
    from_file, settings = sweep.plan_from_file(tmp_path / "s.yaml", out=tmp_path)
    from_cli = sweep.plan("surrogate_fc", seeds="0-1", grid=sweep.parse_grid(["time-steps=3,5"]), options=TINY,
                          out=str(tmp_path))
    assert [r.argv for r in from_file] == [r.argv for r in from_cli]
    assert settings["out"] == str(tmp_path)


@pytest.mark.parametrize("words, message", [
    (["sweep", "no_such_net", "--seeds", "0"], "network must be one of"),
    (["sweep", "surrogate_fc", "--seeds", "0", "--no-such-option", "3"], "unrecognized arguments: --no-such-option"),
    (["sweep", "surrogate_fc", "--seeds", "0", "--grid", "time-steps="], "has no option name or no values"),
    (["sweep", "surrogate_fc", "--seeds", "0", "--grid", "time-steps=a,b"], "argument --time-steps: expected a positive integer, got 'a'"),
    (["sweep", "surrogate_fc", "--seeds", "2-1"], "seeds must look like"),
    (["sweep", "surrogate_fc", "--seeds", "0", "--seed", "3"], "--seed is set by the sweep"),
    (["sweep", "surrogate_fc", "--seeds", "0", "--grid", "epochs=1", "--grid", "epochs=2"], "given twice"),
])
def test_bad_sweeps_are_refused_with_one_line(words, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(words) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err, err
    assert not (tmp_path / "runs").exists()


def test_duplicate_names_and_unknown_yaml_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="share the name 'same-seed0'"):
        sweep.plan("surrogate_fc", seeds=[0], runs=[{"name": "same"}, {"name": "same", "options": {"epochs": 2}}])
    (tmp_path / "s.yaml").write_text("network: surrogate_fc\nseeds: 0\ngirds: {epochs: [1]}\n")
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['girds'\]"):
        sweep.plan_from_file(tmp_path / "s.yaml")
    (tmp_path / "e.yaml").write_text("network: surrogate_fc\nseeds: 0\ngrid: {epochs: []}\n")
    with pytest.raises(ValueError, match="non-empty list"):
        sweep.plan_from_file(tmp_path / "e.yaml")


def test_dry_run_lists_runs_and_their_state(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "surrogate_fc", "--seeds", "0-1", "--dry-run", *TINY]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("surrogate_fc-seed0: new")


# ---- on a local Ray --------------------------------------------------------------------------------
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'snnbook[cluster]')")


@pytest.fixture(scope="module")
def local_ray():
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@pytest.mark.ray
def test_a_sweep_writes_the_files_of_the_same_runs_started_one_by_one(local_ray, tmp_path):
    out = tmp_path / "sweep"
    runs = sweep.plan("surrogate_fc", seeds="0-1", grid={"time-steps": [3, 5]}, options=TINY, out=out)
    lines = []
    card = sweep.run(runs, out=out, name="fc", say=lines.append, command="snnbook sweep ...")
    assert not card["failed"] and [c["test_accuracy"]["n"] for c in card["configurations"]] == [2, 2]
    assert json.loads((out / "fc.json").read_text())["configurations"] == card["configurations"]
    for r in runs:
        assert any(line == f"{r.name}: started" for line in lines), lines
        assert any(line.startswith(f"{r.name}: finished, test accuracy") for line in lines), lines
        assert json.loads((out / f"{r.name}.json").read_text())["sweep"] == "snnbook sweep ..."
        _same_run(out, _by_hand(r, tmp_path), r.name)
    again = []
    sweep.run(runs, out=out, name="fc", say=again.append)  # a finished sweep runs nothing
    assert again == [f"{r.name}: finished before, skipped" for r in runs]


@pytest.mark.ray
def test_a_failing_run_is_reported_and_the_others_finish(local_ray, tmp_path):
    out = tmp_path / "sweep"
    runs = sweep.plan("surrogate_fc", seeds=[0], out=out, options=["--test-digits", "64", "--threads", "1"],
                      runs=[{"name": "ok", "options": {"train-digits": 128, "epochs": 1}},
                            {"name": "too-many", "options": {"train-digits": 60001, "epochs": 1}}])
    lines = []
    card = sweep.run(runs, out=out, name="mixed", say=lines.append)
    assert [f["name"] for f in card["failed"]] == ["too-many-seed0"]
    assert "train_digits" in card["failed"][0]["reason"]
    assert (out / "ok-seed0.json").exists() and not (out / "too-many-seed0.json").exists()
    assert any(line.startswith("too-many-seed0: FAILED") for line in lines)


@pytest.mark.ray
def test_a_killed_run_is_retried_and_resumes_to_the_same_files(local_ray, tmp_path):
    out = tmp_path / "sweep"
    opts = ["--neurons", "50", "--train-digits", "3000", "--test-digits", "100", "--label-digits", "500",
            "--monitor-every", "0"]
    runs = sweep.plan("diehl_cook2015", seeds=[0], options=opts, out=out)
    log = out / "sweep-logs" / f"{runs[0].name}.log"
    pid_file = log.with_suffix(".pid")
    killed = []

    def killer():
        deadline = time.time() + 300
        while time.time() < deadline:
            if pid_file.exists() and log.exists() and "training (files in" in log.read_text():
                time.sleep(0.5)
                try:
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
                except (OSError, ValueError):
                    continue
                killed.append(True)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    card = sweep.run(runs, out=out, name="dc", say=lambda line: None, retries=2)
    thread.join()
    assert killed and not card["failed"]
    assert log.read_text().count("attempt:") == 2
    _same_run(out, _by_hand(runs[0], tmp_path), runs[0].name)


@pytest.mark.ray
def test_a_sweep_whose_driver_died_is_continued_by_running_it_again(tmp_path):
    words = [sys.executable, "-m", "snnbook", "sweep", "surrogate_fc", "--seeds", "0-1", "--grid", "time-steps=3",
             "--workers", "1", "--out", "out", *TINY]
    proc = subprocess.Popen(words, cwd=tmp_path, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    first = tmp_path / "out" / "surrogate_fc-time-steps=3-seed0.json"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and the local Ray it started
    proc.wait()
    assert first.exists()
    again = subprocess.run(words, cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert "surrogate_fc-time-steps=3-seed0: finished before, skipped" in again.stdout
    runs = sweep.plan("surrogate_fc", seeds="0-1", grid={"time-steps": ["3"]}, options=TINY, out="out")
    for r in runs:
        _same_run(tmp_path / "out", _by_hand(r, tmp_path), r.name)


@pytest.mark.ray
def test_sweep_benchmark_quick_runs_one_and_two_workers_with_equal_results(tmp_path):
    out = tmp_path / "bench_sweep.json"
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sweep.py"), "--quick", "--out", str(out)],
                          capture_output=True, text=True, env=_env(), timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    record = json.loads(out.read_text())
    assert [s["workers"] for s in record["sweeps"]] == [1, 2] and record["results_equal"]
    assert record["speedup_2_workers"] > 0
    plan = record["cluster_plan"]
    assert plan["runs"] > 10 and plan["core_hours"] > 0
    for cores, p in plan["cores"].items():  # the greedy schedule is within 4/3 of the bound
        assert p["lower_bound_hours"] <= p["hours"] + 0.01 <= 4 / 3 * p["lower_bound_hours"] + 0.02


def test_the_published_time_step_sweep_is_what_its_sweep_command_plans():
    """results/sweep/sweep-t*.json were trained one by one; the sweep command the chapter names
    plans the same runs (same parsed options, same names)."""
    import shlex

    from snnbook.cli import _sweep_parser, build_parser
    from snnbook.training.mozafari2019 import TIME_STEP_SWEEP
    words = shlex.split(TIME_STEP_SWEEP)[1:]
    args, rest = _sweep_parser("snnbook").parse_known_args(words[1:])
    runs = sweep.plan(args.network, seeds=args.seeds, grid=sweep.parse_grid(args.grid), options=rest,
                      out=args.out, names=args.names)
    parser = build_parser()
    ignore = ("resume", "no_progress", "verbose", "force", "keep_checkpoint")

    def parsed(argv):
        return {k: v for k, v in vars(parser.parse_args(["train", *argv])).items() if k not in ignore}

    files = sorted((ROOT / "results" / "sweep").glob("sweep-t*.json"))
    assert len(files) == len(runs) == 4
    for r in runs:
        recorded = json.loads((ROOT / "results" / "sweep" / f"{r.name}.json").read_text())["command"]
        assert parsed(list(r.argv)) == parsed(shlex.split(recorded)[3:]), r.name


@pytest.mark.parametrize("card_name, key", [("mozafari2019.json", None), ("surrogate_fc.json", "ours")])
def test_a_card_names_the_sweep_that_regenerates_its_seeds(card_name, key):
    """The card's sweep command plans, for every seed, the run its results file recorded."""
    import shlex

    from snnbook.cli import _sweep_parser, build_parser
    card = json.loads((ROOT / "results" / card_name).read_text())
    part = card if key is None else card[key]
    command, commands = part["sweep_command"], part["commands"]
    assert command and command.startswith("snnbook sweep ")
    args, rest = _sweep_parser("snnbook").parse_known_args(shlex.split(command)[2:])
    runs = sweep.plan(args.network, seeds=args.seeds, grid=sweep.parse_grid(args.grid), options=rest,
                      out=args.out or "runs", prefix=args.prefix)
    parser = build_parser()
    ignore = ("resume", "no_progress", "verbose", "force", "keep_checkpoint", "name")

    def parsed(argv):
        return {k: v for k, v in vars(parser.parse_args(["train", *argv])).items() if k not in ignore}

    assert sorted(r.seed for r in runs) == sorted(int(s) for s in commands)
    for r in runs:
        words = shlex.split(commands[str(r.seed)])
        start = next(i for i, w in enumerate(words) if w in ("train", "snnbook.train")) + 1
        assert parsed(list(r.argv)) == parsed(words[start:]), r.name


def test_command_for_refuses_runs_that_are_not_one_sweep():
    assert sweep.command_for(["snnbook train surrogate_fc --seed 0 --epochs 1",
                              "snnbook train surrogate_fc --seed 1 --epochs 2"]) is None
    assert sweep.command_for(["snnbook train surrogate_fc --seed 0", "snnbook train chevalier --seed 1"]) is None
    assert sweep.command_for([]) is None


def test_committee_is_made_of_each_configurations_finished_seeds(tmp_path, monkeypatch):
    """``committee=True``: the finished seeds of every configuration become one committee (the
    committee itself is tested in tests/test_training.py); too few members make none."""
    import snnbook.training as training
    runs = sweep.plan("mozafari2019", seeds="3-5", grid={"s3-features": [200, 400]}, out=tmp_path,
                      prefix="mozafari2019-0.75h", options={"hours": 0.75})
    for r in runs:
        if r.name != "mozafari2019-0.75h-s3-features=400-seed4":  # one member failed
            (tmp_path / f"{r.name}.json").write_text(json.dumps({"complete": True, "test_accuracy": 0.9}))
    calls = []

    def fake(members, out, name, command, force):
        calls.append((members, name))
        return {"test_accuracy": 0.95, "wall_time_span_s": 7200.0}

    monkeypatch.setattr(training, "committee_mozafari2019", fake)
    lines = []
    made = sweep._committees(runs, tmp_path, {"mozafari2019-0.75h-s3-features=400-seed4": "died"}, "cmd",
                             lines.append)
    assert calls == [(["mozafari2019-0.75h-s3-features=200-seed3", "mozafari2019-0.75h-s3-features=200-seed4",
                       "mozafari2019-0.75h-s3-features=200-seed5"],
                      "mozafari2019-0.75h-s3-features=200-committee-seeds3-4-5"),
                     (["mozafari2019-0.75h-s3-features=400-seed3", "mozafari2019-0.75h-s3-features=400-seed5"],
                      "mozafari2019-0.75h-s3-features=400-committee-seeds3-5")]
    assert [m["wall_time_span_s"] for m in made] == [7200.0, 7200.0]
    assert "wall-time span 2.0 h" in lines[0]
    with pytest.raises(ValueError, match="committee=True needs one of"):
        sweep.run(sweep.plan("surrogate_fc", seeds=[0], out=tmp_path), out=tmp_path, committee=True)
