"""Training the 2019 network: resume gives bit-identical weights, the CLI runs end to end on a few
hundred digits and writes its results and weights, the shipped weights load with
``weights_only=True`` and reproduce their recorded accuracy, and batched inference keeps its
memory bounded."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snnbook import data
from snnbook.training import committee_decisions, load_mozafari2019, shift_images, train_mozafari2019

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(epochs_l1=1, epochs_l2=1, epochs_l3=2, train_digits=300, validation=100, test_digits=100,
            progress=False, keep_checkpoint=True)


def test_resume_is_bit_identical(tmp_path, monkeypatch):
    import snnbook.training.mozafari2019 as training
    monkeypatch.setattr(training, "CHECKPOINT_EVERY", 64)  # several checkpoints per epoch
    whole = train_mozafari2019(out=tmp_path / "a", **TINY)
    for stop in ("l1", "l3-epoch-1"):
        out = tmp_path / f"b-{stop}"
        assert train_mozafari2019(out=out, stop_after=stop, **TINY) == {"stopped_after": stop}
        resumed = train_mozafari2019(out=out, resume=True, **TINY)
        assert resumed["epochs"] == whole["epochs"], stop
        a = torch.load(tmp_path / "a" / "checkpoints" / "mozafari2019-seed0.pt", weights_only=True)["model"]
        b = torch.load(out / "checkpoints" / "mozafari2019-seed0.pt", weights_only=True)["model"]
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), (stop, k)
    with pytest.raises(ValueError, match="checkpoint"):
        train_mozafari2019(out=tmp_path / "a", resume=True, **dict(TINY, epochs_l1=2))


def test_time_budget_stops_between_epochs(tmp_path, monkeypatch):
    """A wall-time budget stops S3 before an epoch that would exceed it (here: the clock says every
    stage took 10 s, so with a 75 s budget the run stops after the first epochs), records why, and
    a resume with a larger budget continues from there."""
    import snnbook.training.mozafari2019 as training
    clock = iter(range(0, 10 ** 6, 10))
    monkeypatch.setattr(training.time, "perf_counter", lambda: float(next(clock)))
    cfg = dict(TINY, epochs_l3=6)
    res = train_mozafari2019(out=tmp_path, time_budget_s=75, **cfg)
    # encode, l1, l2, s3_input: 10 s each; every epoch adds 10 s of l3 and 10 s of evaluation
    assert len(res["epochs"]) == 1 and res["stopped_by"].startswith("time budget")
    assert res["wall_time_total_s"] <= 75 and res["config"]["time_budget_s"] == 75
    more = train_mozafari2019(out=tmp_path, time_budget_s=1e6, resume=True, **cfg)
    assert len(more["epochs"]) == 6 and more["stopped_by"] == "epochs_l3 (6)"
    assert more["epochs"][0] == res["epochs"][0]
    with pytest.raises(ValueError, match="time_budget_s"):
        train_mozafari2019(out=tmp_path / "x", time_budget_s=-1, **cfg)


def test_cli_end_to_end(tmp_path):
    cmd = [sys.executable, "-m", "snnbook.train", "mozafari2019", "--train-digits", "300", "--validation", "100",
           "--test-digits", "100", "--epochs-l1", "1", "--epochs-l2", "1", "--epochs-l3", "2", "--seed", "3",
           "--out", str(tmp_path), "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy selected" in proc.stdout
    res = json.loads((tmp_path / "mozafari2019-seed3.json").read_text())
    assert res["seed"] == 3 and len(res["epochs"]) == 2 and res["command"].startswith("python -m snnbook train mozafari2019")
    assert res["selected_epoch"] in (1, 2)
    for key in ("encode", "l1", "l2", "s3_input", "l3", "evaluation"):
        assert res["wall_time_s"][key] > 0
    assert res["machine"]["cpu_count"] >= 1 and res["git_commit"]
    assert 0 <= res["test_accuracy_final"] <= 1 and res["spikes_per_digit"]["s1"] > 0
    card = json.loads((tmp_path / "mozafari2019.json").read_text())
    assert card["paper"]["test_accuracy"] == 0.972 and card["ours"]["test_accuracy_selected"]["n"] == 1
    assert card["ours"]["test_accuracy_selected"]["mean"] == res["test_accuracy_selected"] and card["deviations"]
    again = subprocess.run([sys.executable, "-m", "snnbook.train", "mozafari2019-card", "--out", str(tmp_path)],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert again.returncode == 0 and "1 seed" in again.stdout
    # the shipped weights load (weights_only) and give the recorded accuracy
    model = load_mozafari2019(tmp_path / res["weights"]["file"])
    images, labels = data.mnist_tensors(train=False, n=100)
    acc = float((model(model.encode(images)) == labels).float().mean())
    assert acc == pytest.approx(res["weights"]["test_accuracy"])
    # bad options fail with a usage message, not a traceback
    bad = subprocess.run(cmd[:4] + ["--validation", "400", "--train-digits", "300", "--out", str(tmp_path)],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "validation" in bad.stderr and "Traceback" not in bad.stderr


def test_shipped_weights_reproduce_the_recorded_accuracy():
    results = sorted((ROOT / "results").glob("mozafari2019-seed*.json"))
    if not results:
        pytest.skip("no trained Mozafari 2019 results in results/")
    res = json.loads(results[0].read_text())
    model = load_mozafari2019(ROOT / "results" / res["weights"]["file"])
    images, labels = data.mnist_tensors(train=False, n=1000)
    acc = float((model(model.encode(images)) == labels).float().mean())
    assert acc == pytest.approx(res["weights"]["test_accuracy_first_1000"], abs=1e-9)


def test_batched_inference_memory_is_bounded():
    """A batch of 10 000 digits through the whole network in one call stays far below 2 GB.
    (VmHWM, the peak of this process's own memory map: ``ru_maxrss`` of a child started by
    vfork/exec starts at the PARENT's peak, here the whole test session's.)"""
    code = (
        "import torch\n"
        "def hwm():\n"
        "    return int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])\n"
        "from snnbook import data\n"
        "from snnbook.models import Mozafari2019\n"
        "import glob\n"
        "from snnbook.training import load_mozafari2019\n"
        "shipped = sorted(glob.glob('results/mozafari2019-seed*.pt'))\n"
        "m = load_mozafari2019(shipped[0]) if shipped else Mozafari2019(seed=0).eval()\n"
        "images, _ = data.mnist_tensors(train=False, n=1000)\n"
        "x = m.encode(images).repeat(10, 1, 1, 1)\n"
        "base = hwm()\n"
        "d = m(x)\n"
        "peak = hwm()\n"
        "assert d.shape == (10000,)\n"
        "print(base, peak)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    base, peak = (int(v) for v in proc.stdout.split())
    assert peak < 2_000_000, f"peak RSS {peak / 1e6:.2f} GB"  # VmHWM is in KiB
    assert peak - base < 600_000, f"inference grew the process by {(peak - base) / 1e6:.2f} GB"


def test_variants_sit_beside_the_faithful_run_cut_to_the_same_epochs(tmp_path):
    """A named variant is reported with what it changes and, beside it, the faithful run of the
    same seed selected on validation within the same number of epochs (never in its place)."""
    faithful = train_mozafari2019(out=tmp_path, **dict(TINY, epochs_l3=3))
    variant = train_mozafari2019(out=tmp_path, s3_features=40, adaptive_rstdp=False,
                                 name="mozafari2019-variant-s3-40-fixed-seed0", **TINY)
    card = json.loads((tmp_path / "mozafari2019.json").read_text())
    assert card["runs"] == ["mozafari2019-seed0.json"]  # the variant is not a seed of the faithful card
    (entry,) = card["variants"]
    assert entry["changes"] == {"s3_features": 40, "adaptive_rstdp": False}
    assert entry["epochs_l3"] == 2 and entry["test_accuracy_final"] == variant["test_accuracy_final"]
    cut = [h for h in faithful["epochs"] if h["epoch"] <= 2]
    best = max(cut, key=lambda h: (h["validation_accuracy"], -h["epoch"]))
    assert entry["faithful"]["selected_epoch"] == best["epoch"]
    assert entry["faithful"]["test_accuracy_final"] == cut[-1]["test_accuracy"]
    assert load_mozafari2019(tmp_path / "mozafari2019-variant-s3-40-fixed-seed0.pt").conv3.weight.shape[0] == 40


def test_shift_images_moves_every_pixel_and_fills_zeros():
    img = torch.arange(1, 26, dtype=torch.uint8).reshape(1, 5, 5)
    down_right = shift_images(img, 1, 2)
    assert torch.equal(down_right[0, 1:, 2:], img[0, :4, :3])
    assert down_right[0, 0].eq(0).all() and down_right[0, :, :2].eq(0).all()
    up_left = shift_images(img, -2, -1)
    assert torch.equal(up_left[0, :3, :4], img[0, 2:, 1:])
    assert up_left[0, 3:].eq(0).all() and up_left[0, :, 4].eq(0).all()
    assert torch.equal(shift_images(img, 0, 0), img) and shift_images(img, 0, 0) is not img
    with pytest.raises(ValueError, match="shift_images.*dy"):
        shift_images(img, 5, 0)
    with pytest.raises(TypeError, match="shift_images.*dx"):
        shift_images(img, 0, 1.5)
    with pytest.raises(ValueError, match="shift_images.*images"):
        shift_images(img[0], 0, 0)


def test_shift_variant_draws_offsets_per_epoch_and_resumes_bit_identically(tmp_path):
    """The shift variant trains S3 on digits moved by up to s3_shift pixels (its own draw per digit
    and epoch), so it learns differently from the faithful run; a run stopped after its first
    R-STDP epoch and resumed ends with the same weights; its card entry names the change."""
    import snnbook.training.mozafari2019 as training
    cfg = dict(TINY, s3_shift=1)
    faithful = train_mozafari2019(out=tmp_path / "a", **TINY)
    whole = train_mozafari2019(out=tmp_path / "a", name="mozafari2019-variant-shift1-seed0", **cfg)
    assert whole["config"]["s3_shift"] == 1
    out = tmp_path / "b"
    train_mozafari2019(out=out, stop_after="l3-epoch-1", name="mozafari2019-variant-shift1-seed0", **cfg)
    resumed = train_mozafari2019(out=out, resume=True, name="mozafari2019-variant-shift1-seed0", **cfg)
    assert resumed["epochs"] == whole["epochs"]
    a = torch.load(tmp_path / "a" / "mozafari2019-variant-shift1-seed0.pt", weights_only=True)["conv3"]
    b = torch.load(out / "mozafari2019-variant-shift1-seed0.pt", weights_only=True)["conv3"]
    assert torch.equal(a, b)
    assert faithful["epochs"][0]["train_accuracy"] != whole["epochs"][0]["train_accuracy"] or \
        faithful["epochs"][1]["train_accuracy"] != whole["epochs"][1]["train_accuracy"]
    card = json.loads((tmp_path / "a" / "mozafari2019.json").read_text())
    (entry,) = card["variants"]
    assert entry["changes"] == {"s3_shift": 1} and entry["faithful"]["file"] == "mozafari2019-seed0.json"
    # the draw: every digit at one of the 9 offsets, the unshifted maps at the centre
    images = data.mnist_tensors(train=True, n=40)[0]
    model = training.Mozafari2019(seed=0)
    plain = model.s3_input(model.encode(images))
    packed = training._shifted_s3_inputs(model, images, plain, 1)
    assert packed.shape == (9, 40, 500)
    centre = training._draw_shifted(packed[4:5], plain.shape, 0, 0)
    assert torch.equal(centre, plain)
    drawn = training._draw_shifted(packed, plain.shape, 0, 3)
    assert torch.equal(drawn, training._draw_shifted(packed, plain.shape, 0, 3))
    assert not torch.equal(drawn, training._draw_shifted(packed, plain.shape, 0, 4))
    moved = model.s3_input(model.encode(shift_images(images, -1, 1)))
    assert torch.equal(torch.from_numpy(np.unpackbits(packed[2], axis=1, count=4000).view(np.bool_)).reshape(
        plain.shape), moved)


def test_committee_decisions_sum_the_members_scores():
    a = torch.zeros(3, 10, dtype=torch.float64)
    b = torch.zeros(3, 10, dtype=torch.float64)
    a[0, 3], a[0, 5] = 1.0, 0.98   # member a says 3, nearly 5
    b[0, 5], b[0, 3] = 1.0, 0.90   # member b says 5, less close to 3: 5 wins
    a[1, 7] = 1.0                  # b silent: a decides
    assert committee_decisions([a, b]).tolist() == [5, 7, -1]  # both silent on the last digit
    assert committee_decisions([a]).tolist() == [3, 7, -1]
    with pytest.raises(TypeError, match="committee_decisions.*scores"):
        committee_decisions(a)
    with pytest.raises(ValueError, match="committee_decisions.*shape"):
        committee_decisions([a, b[:2]])


def test_committee_potentials_of_the_engine_equal_the_convolution():
    from pathlib import Path
    from snnbook.training.mozafari2019 import _feature_max_potentials
    model = load_mozafari2019(Path(__file__).resolve().parents[1] / "results" / "mozafari2019-seed0.pt")
    images, _ = data.mnist_tensors(train=False, n=300)
    active = model.s3_input(model.encode(images))
    conv = torch.nn.functional.conv2d(active.double(), model.conv3.weight.detach().double(), padding=2)
    assert torch.equal(_feature_max_potentials(model, active), conv.flatten(2).amax(2))


def test_committee_wall_span_counts_members_in_sequence():
    from snnbook.training.mozafari2019 import _wall_span
    side_by_side = [{"date": "2026-12-04T12:00:00+0000", "wall_time_total_s": 3600.0},
                    {"date": "2026-12-04T12:00:05+0000", "wall_time_total_s": 3600.0}]
    assert _wall_span(side_by_side) == 3605.0
    one_core = [{"date": "2026-12-04T11:00:00+0000", "wall_time_total_s": 3600.0},
                {"date": "2026-12-04T12:00:10+0000", "wall_time_total_s": 3600.0}]
    assert _wall_span(one_core) == 7210.0


def test_committee_of_trained_runs(tmp_path):
    """A committee of one decides as its member's own decision layer; a committee of two is written
    with both members, its validation accuracy and the slowest member's wall time, and enters the
    card; bad member lists are refused by name."""
    from snnbook.training import committee_mozafari2019, committee_scores
    r0 = train_mozafari2019(out=tmp_path, **TINY)
    r1 = train_mozafari2019(out=tmp_path, **dict(TINY, seed=1))
    one = committee_mozafari2019(["mozafari2019-seed0"], out=tmp_path, name="mozafari2019-committee-one")
    assert one["test_accuracy"] == r0["weights"]["test_accuracy"]
    model = load_mozafari2019(tmp_path / "mozafari2019-seed0.pt")
    images, _ = data.mnist_tensors(train=False, n=100)
    active = model.s3_input(model.encode(images))
    scores = committee_scores(model, active)
    assert scores.shape == (100, 10) and float(scores.max()) == 1.0 and float(scores.min()) >= 0.0
    assert torch.equal(committee_decisions([scores]), model.classify_s3(active))
    two = committee_mozafari2019(["mozafari2019-seed0", "mozafari2019-seed1"], out=tmp_path)
    assert two["name"] == "mozafari2019-committee-seeds0-1"
    assert [m["name"] for m in two["members"]] == ["mozafari2019-seed0", "mozafari2019-seed1"]
    assert two["validation_accuracy"] is not None and 0.0 <= two["test_accuracy"] <= 1.0
    assert two["wall_time_members_s"] == max(r0["wall_time_total_s"], r1["wall_time_total_s"])
    # trained one after the other here: the span counts both (dates have one-second resolution)
    assert two["wall_time_span_s"] >= r0["wall_time_total_s"] + r1["wall_time_total_s"] - 2
    from snnbook.training import summarize_mozafari2019
    card = summarize_mozafari2019(tmp_path)
    assert [c["name"] for c in card["committees"]] == ["mozafari2019-committee-one",
                                                       "mozafari2019-committee-seeds0-1"]
    with pytest.raises(TypeError, match="committee_mozafari2019.*members"):
        committee_mozafari2019("mozafari2019-seed0", out=tmp_path)
    with pytest.raises(FileNotFoundError, match="committee_mozafari2019.*nope"):
        committee_mozafari2019(["nope"], out=tmp_path)
    train_mozafari2019(out=tmp_path, name="other-seed2", **dict(TINY, seed=2, test_digits=50))
    with pytest.raises(ValueError, match="committee_mozafari2019.*share"):
        committee_mozafari2019(["mozafari2019-seed0", "other-seed2"], out=tmp_path)
