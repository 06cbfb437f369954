"""The ``snnbook`` command and the run layer as a user meets them: output in runs/ by default, no run
replaced without --force, Ctrl-C saves a checkpoint and exits 130 with the command that continues,
the resumed run equals an uninterrupted one bit for bit, damaged checkpoints are refused, cards keep
only complete runs of one configuration, provenance never takes a surrounding repository's commit,
devices are checked, and no traceback reaches the user for a usage mistake."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from snnbook import training
from snnbook.training import run as run_layer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def _env():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return env


def _snnbook(*args, cwd, timeout=600):
    return subprocess.run([sys.executable, "-m", "snnbook", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env())


def _results_listing():
    return sorted((p.name, p.stat().st_mtime_ns) for p in RESULTS.iterdir())


def test_default_output_is_runs_and_a_run_is_never_replaced_without_force(tmp_path):
    before = _results_listing()
    args = ("train", "surrogate_fc", "--train-digits", "256", "--test-digits", "100", "--batch-size", "128",
            "--time-steps", "5")
    first = _snnbook(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = tmp_path / "runs" / "surrogate_fc-seed0.json"
    assert out.exists() and (tmp_path / "runs" / "surrogate_fc-seed0.pt").exists()
    assert _results_listing() == before, "a default run touched the published results/"
    assert not (tmp_path / "runs" / "checkpoints" / "surrogate_fc-seed0.pt").exists()  # removed on success
    r = json.loads(out.read_text())
    assert r["complete"] is True and r["snnbook_version"] and r["provenance"]["snnbook_version"]
    assert r["command"].startswith("python -m snnbook train surrogate_fc")
    # no bars off a terminal: log lines, one per epoch, and no carriage returns
    assert "\r" not in first.stderr and "epoch 1/1" in first.stderr
    again = _snnbook(*args, cwd=tmp_path)
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1, again.stderr
    assert "already exists" in again.stderr and "--force" in again.stderr
    assert json.loads(out.read_text())["date"] == r["date"]
    forced = _snnbook(*args, "--force", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr


@pytest.mark.parametrize("argv, words", [
    (["train", "mozafari2019", "--epochs-l3", "0"], "--epochs-l3"),
    (["train", "surrogate_fc", "--device", "gpu"], "device"),
    (["train", "surrogate_fc", "--seed", "-1"], "--seed"),
    (["train", "nonet"], "network"),
    (["train", "diehl_cook2015", "--name", "a/b"], "name"),
    (["card", "surrogate_fc", "--out", "missing-folder"], "missing-folder"),
    (["compare", "missing-folder"], "missing-folder"),
])
def test_usage_mistakes_exit_with_one_line(tmp_path, argv, words):
    proc = _snnbook(*argv, cwd=tmp_path, timeout=120)
    assert proc.returncode in (1, 2), proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert words in lines[0]


def test_out_must_be_a_writable_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="train_gradient: out=.* must be a folder"):
        training.train_gradient("surrogate_fc", out=f, train_digits=256, test_digits=10, progress=False)
    proc = _snnbook("train", "surrogate_fc", "--out", str(f), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


def _strip(r: dict) -> dict:
    drop = ("date", "date_start", "machine", "provenance", "wall_time_train_s", "wall_time_label_s",
            "wall_time_test_s", "wall_time_total_s", "cpu_time_train_s", "resumed_segments", "running_accuracy",
            "command", "load_average_at_start")
    return {k: v for k, v in r.items() if k not in drop}


def test_ctrl_c_saves_a_checkpoint_exits_130_and_the_resumed_run_equals_an_uninterrupted_one(tmp_path):
    args = ["train", "diehl_cook2015", "--neurons", "50", "--train-digits", "3000", "--test-digits", "100",
            "--label-digits", "500", "--monitor-every", "0", "--no-progress"]
    whole = _snnbook(*args, "--out", "a", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr
    proc = subprocess.Popen([sys.executable, "-m", "snnbook", *args, "--out", "b"], cwd=tmp_path, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:
        if "training (files in" in line:
            break
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    ckpt = tmp_path / "b" / "checkpoints" / "diehl_cook2015_50-seed0.pt"
    assert ckpt.exists() and ckpt.with_name(ckpt.name + ".sha256").exists()
    assert "interrupted at pass 1 of 1, digit" in err and "--resume" in err
    assert "Traceback" not in err
    hint = err.strip().splitlines()[-1].strip()
    assert hint.startswith("python -m snnbook train diehl_cook2015") and hint.endswith("--resume")
    assert not (tmp_path / "b" / "diehl_cook2015_50-seed0.json").exists()  # results only on success
    resumed = _snnbook(*hint.split()[3:], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from pass 1 of 1, digit" in resumed.stderr
    a = json.loads((tmp_path / "a" / "diehl_cook2015_50-seed0.json").read_text())
    b = json.loads((tmp_path / "b" / "diehl_cook2015_50-seed0.json").read_text())
    assert b["resumed_segments"] == 2 and _strip(a) == _strip(b)
    wa = torch.load(tmp_path / "a" / "diehl_cook2015_50-seed0.pt", weights_only=True)
    wb = torch.load(tmp_path / "b" / "diehl_cook2015_50-seed0.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in ("weight", "theta", "labels"))
    assert not ckpt.exists()  # removed after the successful end


def test_damaged_checkpoint_is_refused(tmp_path):
    kw = dict(out=tmp_path, train_digits=512, test_digits=50, progress=False, time_steps=3, checkpoint_every=1)
    assert training.train_gradient("surrogate_fc", stop_after=2, **kw) is None
    ckpt = tmp_path / "checkpoints" / "surrogate_fc-seed0.pt"
    blob = bytearray(ckpt.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    ckpt.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"train_gradient: checkpoint .*surrogate_fc-seed0.pt is damaged.*remove"):
        training.train_gradient("surrogate_fc", resume=True, **kw)
    ckpt.with_name(ckpt.name + ".sha256").unlink()
    with pytest.raises(ValueError, match="cannot be verified"):
        training.train_gradient("surrogate_fc", resume=True, **kw)


def test_resume_with_other_options_is_refused(tmp_path):
    kw = dict(out=tmp_path, train_digits=512, test_digits=50, progress=False, checkpoint_every=1)
    assert training.train_gradient("surrogate_fc", stop_after=1, time_steps=3, **kw) is None
    with pytest.raises(ValueError, match="another configuration .*time_steps=3"):
        training.train_gradient("surrogate_fc", resume=True, time_steps=4, **kw)


def test_card_keeps_complete_runs_of_one_configuration_and_names_the_rest(tmp_path):
    for seed in (0, 1, 2):
        shutil.copy(RESULTS / f"surrogate_fc-seed{seed}.json", tmp_path)
    smoke = json.loads((RESULTS / "surrogate_fc-seed0.json").read_text())
    smoke["config"]["train_digits"] = 256
    smoke["test_accuracy"] = 0.3
    (tmp_path / "surrogate_fc-seed7.json").write_text(json.dumps(smoke))
    (tmp_path / "surrogate_fc-seed8.json").write_text('{"name": "surrogate_fc-seed8", "complete": false}')
    (tmp_path / "surrogate_fc-seed9.json").write_text("{not json")
    bad = dict(smoke, test_accuracy=97.5)
    bad["config"] = json.loads((RESULTS / "surrogate_fc-seed0.json").read_text())["config"]
    (tmp_path / "surrogate_fc-seed6.json").write_text(json.dumps(bad))
    proc = _snnbook("card", "surrogate_fc", "--out", str(tmp_path), cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    card = json.loads((tmp_path / "surrogate_fc.json").read_text())
    published = json.loads((RESULTS / "surrogate_fc.json").read_text())
    assert card["ours"]["n"] == 3 and card["ours"]["mean"] == pytest.approx(published["ours"]["mean"])
    reasons = {d["file"]: d["reason"] for d in card["left_out"]}
    assert "train_digits=256" in reasons["surrogate_fc-seed7.json"]
    assert "incomplete" in reasons["surrogate_fc-seed8.json"]
    assert "unreadable" in reasons["surrogate_fc-seed9.json"]
    assert "97.5" in reasons["surrogate_fc-seed6.json"]
    for f in reasons:
        assert f"left out {f}" in proc.stdout


def test_compare_from_any_folder_uses_the_published_results(tmp_path):
    proc = _snnbook("compare", cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Mozafari" in proc.stdout and "Diehl & Cook" in proc.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _snnbook("compare", str(empty), cwd=tmp_path, timeout=120)
    assert proc.returncode == 1 and "no results" in proc.stderr


def test_provenance_of_a_copy_inside_another_repository_names_no_commit(tmp_path):
    repo = tmp_path / "their-project"
    (repo / "src").mkdir(parents=True)
    shutil.copytree(ROOT / "src" / "snnbook", repo / "src" / "snnbook",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "pyproject.toml").write_text('[project]\nname = "their-project"\nversion = "1.0"\n')
    git = ["git", "-c", "user.email=a@b", "-c", "user.name=a"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "theirs"], cwd=repo, check=True)
    code = ("import json, snnbook\nfrom snnbook.training.run import provenance\n"
            "print(json.dumps([provenance(), snnbook.__version__]))")
    env = dict(_env(), PYTHONPATH=str(repo / "src"))
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    prov, version = json.loads(out.stdout)
    assert prov["source"] == "installed" and prov["commit"] is None and prov["dirty"] is None
    assert prov["snnbook_version"] == version
    here = run_layer.provenance()  # this checkout
    assert here["source"] == "checkout" and len(here["commit"]) == 40


def test_provenance_is_taken_when_the_run_starts(tmp_path, monkeypatch):
    calls = []
    real = run_layer.provenance
    # CPU time, not wall time: a loaded machine must not fail the test; training is CPU-bound, so
    # provenance taken after it would come seconds of CPU time late
    monkeypatch.setattr(run_layer, "provenance", lambda: calls.append(time.process_time()) or real())
    t0 = time.process_time()
    r = training.train_gradient("surrogate_fc", out=tmp_path, train_digits=256, test_digits=50, progress=False,
                                time_steps=3)
    assert len(calls) == 1 and calls[0] - t0 < 5
    assert r["date_start"] <= r["date"] and r["commit"] == run_layer.git_commit(r["provenance"])


@pytest.mark.parametrize("epochs", [1, 2, 4])
def test_chevalier_trains_for_any_number_of_epochs(tmp_path, epochs):
    r = training.train_gradient("chevalier", out=tmp_path, train_digits=1000, test_digits=50, progress=False,
                                epochs=epochs, time_steps=4)
    assert r["config"]["lrs"] == training.chevalier_lrs(epochs) and len(r["config"]["lrs"]) == epochs


def test_devices_are_checked_and_cpu_is_explicit(tmp_path):
    with pytest.raises(ValueError, match="train_gradient: device must name a torch device.*'gpu'"):
        training.train_gradient("surrogate_fc", device="gpu", out=tmp_path)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for CUDA"):
            training.train_gradient("surrogate_fc", device="cuda", out=tmp_path)
    r = training.train_gradient("surrogate_conv", device="cpu", out=tmp_path, train_digits=256, test_digits=50,
                                progress=False, epochs=1, time_steps=2)
    assert r["device"] == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
@pytest.mark.parametrize("network", ["chevalier", "surrogate_fc", "surrogate_conv"])
def test_gradient_networks_train_on_cuda(tmp_path, network):
    r = training.train_gradient(network, device="cuda", out=tmp_path, train_digits=1000, test_digits=200,
                                progress=False, epochs=1)
    assert r["device"].startswith("cuda") and 0 <= r["test_accuracy"] <= 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU on this machine")
def test_events_network_trains_on_cuda(tmp_path):
    r = training.train_events("binned", device="cuda", out=tmp_path, train_digits=128, validation=64,
                              test_digits=64, epochs=1, progress=False)
    assert r["device"].startswith("cuda")


def test_python_m_snnbook_train_is_the_same_command(tmp_path):
    from snnbook.train import main
    assert main(["surrogate_fc", "--train-digits", "256", "--test-digits", "50", "--time-steps", "3",
                 "--out", str(tmp_path), "--no-progress"]) == 0
    assert (tmp_path / "surrogate_fc-seed0.json").exists()


def test_eventmnist_builds_only_the_digits_it_is_asked_for(tmp_path):
    import numpy as np

    from snnbook.events import EventMNIST
    whole = EventMNIST(train=True, digits=7, cache_dir=tmp_path, progress=False, noise_rate=50.0)
    part = EventMNIST(train=True, first=3, digits=4, cache_dir=tmp_path, progress=False, noise_rate=50.0)
    assert len(part) == 4 and part.path != whole.path
    for i in range(4):
        np.testing.assert_array_equal(part.events(i), whole.events(3 + i))
        assert part[i][1] == whole[3 + i][1]
    assert torch.equal(part.spikes([1], time_window=50_000, shuffle=True), whole.spikes([4], time_window=50_000, shuffle=True))


def test_events_quick_run_generates_only_its_digits(tmp_path):
    env = dict(_env(), SNNBOOK_CACHE=str(tmp_path / "cache"))
    proc = subprocess.run([sys.executable, "-m", "snnbook", "train", "events", "--quick", "--no-progress"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "runs" / "events_binned-quick-seed0.json").read_text())
    assert r["config"]["train_digits"] == training.events.QUICK["train_digits"]
    assert (tmp_path / "runs" / "events_binned-quick-seed0.pt").exists()
    sizes = sorted(p.name.split("-")[2] for p in (tmp_path / "cache").glob("eventmnist-*.npz"))
    q = training.events.QUICK
    assert sizes == sorted([str(q["train_digits"]), f"{60000 - q['validation']}+{q['validation']}",
                            str(q["test_digits"])])
    net = training.load_events(tmp_path / "runs" / "events_binned-quick-seed0.pt")
    assert not net.training
