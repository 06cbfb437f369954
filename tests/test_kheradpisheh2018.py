"""The Kheradpisheh et al. (2018) network: its input, STDP steps (600 of layer 1 across the rate
doubling, 300 of layer 2) and features equal SpykeTorch's end-to-end fixtures on both engines, the
engines agree, eval freezes everything, and the training recipe selects its readout without test
digits, resumes bit for bit and runs from the command line."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from snnbook import data
from snnbook.models import Kheradpisheh2018
from snnbook.coding import times_to_wave

ENGINES = ["event", "dense"]
TOL = dict(atol=1e-6, rtol=0)


def _load(fixtures_dir, name):
    return torch.load(fixtures_dir / name, weights_only=True)


@pytest.fixture(scope="module")
def fx(fixtures_dir):
    return {"weights": _load(fixtures_dir, "e2e_kheradpisheh2018_weights.pt"),
            "train": _load(fixtures_dir, "e2e_kheradpisheh2018_train.pt"),
            "eval": _load(fixtures_dir, "e2e_kheradpisheh2018_eval.pt")}


def fixture_model(fx) -> Kheradpisheh2018:
    model = Kheradpisheh2018()
    for i in (1, 2):
        getattr(model, f"conv{i}").load_weight(fx["weights"][f"conv{i}_weight_code"].float() / 256)
    return model


def winner_rows(winners):
    return [list(r) for r in winners.tolist() if r[0] >= 0]


def weights_before(fx, layer):
    """The fixture's full weights before each step (teacher forcing): the initial weights, then
    the winners' rows replaced by the recorded rows after every step."""
    tr = fx["train"]
    w = fx["weights"][f"conv{layer}_weight_code"].float() / 256
    out = []
    for n, win in enumerate(tr[f"layer{layer}_winners"]):
        out.append(w.clone())
        for j, (f, _, _) in enumerate(win):
            w[f] = tr[f"layer{layer}_winner_rows_after"][n, j]
    return out, w


def teacher_forced(fx, model, layer, steps, engine):
    """One learning step per listed step n (0-based), from the fixture's weights (and rate state)
    before it: the winners, the winners' rows after the update and the rate used must match."""
    tr = fx["train"]
    x = tr["input_first_spike"].to(torch.uint8)
    before, _ = weights_before(fx, layer)
    lrs = tr[f"layer{layer}_lr_per_step"]
    conv = getattr(model, f"conv{layer}")
    for n in steps:
        with torch.no_grad():
            conv.weight.copy_(before[n])
            if layer == 1:  # the schedule's state before step n: its counter and the rate in force
                model.stdp1_count.fill_(n % 500)
                model.stdp1_ltp.fill_(float(lrs[max(n - 1, 0), 0]))
                model.stdp1_ltd.fill_(float(lrs[max(n - 1, 0), 1]))
        win = model.learn_stdp(layer, x[n:n + 1], engine=engine)
        expected = tr[f"layer{layer}_winners"][n]
        assert winner_rows(win[0]) == expected, f"layer {layer}, step {n + 1}: winners differ"
        rows = conv.weight[torch.tensor([f for f, _, _ in expected], dtype=torch.long)]
        torch.testing.assert_close(rows, tr[f"layer{layer}_winner_rows_after"][n, :len(expected)], **TOL)
        assert float(getattr(model, f"stdp{layer}_ltp")[0]) == float(lrs[n, 0]), f"step {n + 1}: rate"
        assert float(getattr(model, f"stdp{layer}_ltd")[0]) == float(lrs[n, 1]), f"step {n + 1}: rate"


def test_encode_equals_the_reference_transform(fx):
    model = Kheradpisheh2018()
    for part in ("train", "eval"):
        assert torch.equal(model.encode(fx[part]["images_uint8"]), fx[part]["input_first_spike"].to(torch.uint8))


@pytest.mark.parametrize("engine", ENGINES)
def test_eval_first_spikes_and_features_equal_the_fixture(fx, engine):
    ev = fx["eval"]
    model = Kheradpisheh2018().eval()
    model.conv1.load_weight(ev["conv1_weight"])
    model.conv2.load_weight(ev["conv2_weight"])
    x = ev["input_first_spike"].to(torch.uint8)
    feats, out = model(x, engine=engine, return_layers=True)
    assert torch.equal(out["s1"], ev["layer1_first_spike"].to(torch.uint8))
    assert torch.equal(out["s2"], ev["layer2_first_spike"].to(torch.uint8))
    assert torch.equal(feats, ev["features"]) and feats.shape == (10, 12150)
    if engine == "dense":
        return
    # the digits themselves and a dense spike-wave give the same features
    assert torch.equal(model.features(ev["images_uint8"], engine=engine), feats)
    assert torch.equal(model(times_to_wave(x, 15, torch.uint8), engine=engine), feats)
    both = model.features(x, engine=engine, layer1=True)
    assert both.shape == (10, 12150 + 7200) and torch.equal(both[:, :12150], feats)


def test_layer1_600_steps_event_free_running_and_teacher_forced(fx):
    """Free-running from the initial weights, the event engine makes SpykeTorch's 600 sequential
    steps: the same winners every step, the same rate (doubled at digit 500, before its update)
    and the weights at every recorded checkpoint; then every step teacher-forced."""
    tr = fx["train"]
    x = tr["input_first_spike"].to(torch.uint8)
    model = fixture_model(fx).train()
    ckpt = dict(zip(tr["layer1_checkpoint_steps"], tr["layer1_checkpoint_weights"]))
    for n in range(tr["layer1_steps"]):
        win = model.learn_stdp(1, x[n:n + 1])
        assert winner_rows(win[0]) == tr["layer1_winners"][n], f"step {n + 1}"
        assert [float(model.stdp1_ltp[0]), float(model.stdp1_ltd[0])] == tr["layer1_lr_per_step"][n].tolist()
        if n + 1 in ckpt:
            torch.testing.assert_close(model.conv1.weight, ckpt[n + 1], **TOL)
    assert tr["layer1_lr_changes"][0][0] == 500 and float(tr["layer1_lr_per_step"][499, 0]) == pytest.approx(0.008)
    assert int(model.stdp1_count) == tr["layer1_spk_cnt_end"]
    torch.testing.assert_close(model.conv1.weight, tr["conv1_weight_final"], **TOL)
    teacher_forced(fx, fixture_model(fx).train(), 1, range(tr["layer1_steps"]), "event")


def test_layer2_300_steps_event_free_running_and_teacher_forced(fx):
    tr = fx["train"]
    x = tr["input_first_spike"].to(torch.uint8)
    model = fixture_model(fx).train()
    model.conv1.load_weight(tr["conv1_weight_final"])
    ckpt = dict(zip(tr["layer2_checkpoint_steps"], tr["layer2_checkpoint_weights"]))
    for n in range(tr["layer2_steps"]):
        win = model.learn_stdp(2, x[n:n + 1])
        assert winner_rows(win[0]) == tr["layer2_winners"][n], f"step {n + 1}"
        if n + 1 in ckpt:
            torch.testing.assert_close(model.conv2.weight, ckpt[n + 1], **TOL)
    assert tr["layer2_lr_changes"] == [] and torch.equal(model.conv1.weight, tr["conv1_weight_final"])
    assert float(model.stdp2_ltp[0]) == float(tr["layer2_lr_per_step"][-1, 0])
    forced = fixture_model(fx).train()
    forced.conv1.load_weight(tr["conv1_weight_final"])
    teacher_forced(fx, forced, 2, range(tr["layer2_steps"]), "event")


def test_dense_path_teacher_forced_on_the_fixture(fx):
    """The readable path on selected steps (it is ~100x slower): the first steps, the steps around
    the rate doubling at digit 500, and the first and last steps of layer 2."""
    tr = fx["train"]
    teacher_forced(fx, fixture_model(fx).train(), 1, [0, 1, 2, 497, 498, 499, 500, 599], "dense")
    model = fixture_model(fx).train()
    model.conv1.load_weight(tr["conv1_weight_final"])
    teacher_forced(fx, model, 2, [0, 1, 298, 299], "dense")


@pytest.fixture(scope="module")
def digits():
    images, labels = data.mnist_tensors(train=True, n=64)
    return Kheradpisheh2018().encode(images), labels


def test_event_equals_dense_on_other_digits(digits):
    x, _ = digits
    event = Kheradpisheh2018(seed=3).train()
    dense = copy.deepcopy(event)
    for layer, n in ((1, 6), (2, 3)):
        assert torch.equal(event.learn_stdp(layer, x[:n]), dense.learn_stdp(layer, x[:n], engine="dense"))
    for k, v in event.state_dict().items():
        assert torch.equal(v, dense.state_dict()[k]), k
    event.eval()
    dense.eval()
    f_event, l_event = event(x[:8], return_layers=True)
    f_dense, l_dense = dense(x[:8], engine="dense", return_layers=True)
    assert torch.equal(f_event, f_dense)
    for k in l_event:
        assert torch.equal(l_event[k], l_dense[k]), k
    assert torch.equal(event(x[:3]), torch.cat([event(x[i:i + 1]) for i in range(3)]))


def test_eval_freezes_every_learned_quantity(digits):
    x, _ = digits
    model = Kheradpisheh2018(seed=7).train()
    model.learn_stdp(1, x[:20])
    model.learn_stdp(2, x[:5])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    for engine, n in (("event", 30), ("dense", 2)):
        w1 = model.learn_stdp(1, x[:n], engine=engine)
        model.learn_stdp(2, x[:n], engine=engine)
        model.features(x[:n], engine=engine, layer1=True)
        assert (w1[:, 0, 0] >= 0).all()  # winners are still computed
    after = model.state_dict()
    for k in before:
        assert torch.equal(before[k], after[k]), f"{k} changed in eval mode"


def test_bad_input_is_rejected():
    model = Kheradpisheh2018()
    with pytest.raises(TypeError, match="Kheradpisheh2018.forward: x must be uint8"):
        model(torch.zeros(1, 2, 28, 28))
    with pytest.raises(ValueError, match=r"\[batch, 2, 28, 28\]"):
        model(torch.zeros(1, 6, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"must lie in \[0, 15\]"):
        model(torch.full((1, 2, 28, 28), 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match="layer must be 1 or 2"):
        model.learn_stdp(3, torch.zeros(1, 2, 28, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="engine"):
        model(torch.zeros(1, 2, 28, 28, dtype=torch.uint8), engine="gpu")
    with pytest.raises(ValueError, match=r"Kheradpisheh2018.encode: images look like \[0, 1\] floats"):
        model.encode(torch.rand(2, 28, 28) * 0.9)
    with pytest.raises(ValueError, match="one-channel 28 x 28"):
        model.encode(torch.zeros(2, 32, 32, dtype=torch.uint8))
    state = model.state_dict()
    state["conv2.weight"] = -state["conv2.weight"]
    with pytest.raises(ValueError, match=r"Kheradpisheh2018.load_state_dict: state_dict\['conv2.weight'\]"):
        model.load_state_dict(state)


# ------------------------------------------------------------------ the training recipe
TINY = dict(epochs_l1=1, epochs_l2=2, train_digits=200, validation=60, test_digits=60, threads=1, progress=False)


@pytest.fixture(autouse=True, scope="module")
def _restore_threads():
    """The recipe's ``threads=1`` sets torch's and numba's threads; give the next modules theirs back."""
    import numba
    torch_threads, numba_threads = torch.get_num_threads(), numba.get_num_threads()
    yield
    torch.set_num_threads(torch_threads)
    numba.set_num_threads(numba_threads)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from snnbook.training import kheradpisheh2018 as kh
    out = tmp_path_factory.mktemp("kh")
    seen = []
    real = kh.fit_readout

    def spy(kind, train_bits, train_labels, val_bits, val_labels, *args, **kwargs):
        seen.append((train_bits.shape[0], val_bits.shape[0], train_labels.copy(), val_labels.copy()))
        return real(kind, train_bits, train_labels, val_bits, val_labels, *args, **kwargs)
    mp = pytest.MonkeyPatch()
    mp.setattr(kh, "fit_readout", spy)
    try:
        result = kh.train_kheradpisheh2018(out=out, name="tiny", **TINY)
    finally:
        mp.undo()
    return out, result, seen


def test_readout_selection_never_sees_a_test_digit(tiny_run, tmp_path, monkeypatch):
    """fit_readout gets exactly the fit and validation digits (training digits); scrambling the test
    digits and their labels changes the test accuracy only, not the selection."""
    from snnbook.training import kheradpisheh2018 as kh
    out, result, seen = tiny_run
    _, labels = data.mnist_tensors(train=True, n=200)
    assert len(seen) == 2
    for n_fit, n_val, y_fit, y_val in seen:
        assert (n_fit, n_val) == (140, 60)
        assert np.array_equal(y_fit, labels[:140].numpy()) and np.array_equal(y_val, labels[140:].numpy())
    real = data.mnist_tensors

    def scrambled(train=True, n=None, **kw):
        images, y = real(train=train, n=n, **kw)
        if train:
            return images, y
        g = torch.Generator().manual_seed(1)
        return images.flip(1), y[torch.randperm(len(y), generator=g)]
    monkeypatch.setattr(kh.data, "mnist_tensors", scrambled)
    other = kh.train_kheradpisheh2018(out=tmp_path, name="scrambled", **TINY)
    for kind in ("linear_svm", "logistic_regression"):
        a, b = result["readouts"][kind], other["readouts"][kind]
        assert a["selected_C"] == b["selected_C"]
        assert a["validation_accuracy_per_C"] == b["validation_accuracy_per_C"]
    assert result["selection"].startswith("C of each readout chosen on validation")
    assert result["deviations"] == kh.DEVIATIONS and result["paper"]["test_accuracy"] == 0.984


def test_resumed_run_equals_an_uninterrupted_one(tiny_run, tmp_path):
    from snnbook.training import kheradpisheh2018 as kh, load_kheradpisheh2018
    out, result, _ = tiny_run
    assert kh.train_kheradpisheh2018(out=tmp_path, name="tiny", stop_after="l1", **TINY) == {"stopped_after": "l1"}
    stop = kh.train_kheradpisheh2018(out=tmp_path, name="tiny", stop_after="l2-digit-140", resume=True, **TINY)
    assert stop == {"stopped_after": "l2-digit-140"}
    resumed = kh.train_kheradpisheh2018(out=tmp_path, name="tiny", resume=True, **TINY)
    assert resumed["resumed_segments"] == 3
    for key in ("readouts", "test_accuracy", "test_accuracy_logistic_regression", "layer1_learning_rate_final"):
        assert resumed[key] == result[key], key
    a = torch.load(out / "tiny.pt", weights_only=True)
    b = torch.load(tmp_path / "tiny.pt", weights_only=True)
    for key in ("conv1", "conv2", "readout_coef", "readout_intercept"):
        assert torch.equal(a[key], b[key]), key
    model, readout = load_kheradpisheh2018(tmp_path / "tiny.pt")
    test_images, test_labels = data.mnist_tensors(train=False, n=60)
    scores = model.features(test_images).float() @ readout["coef"].T + readout["intercept"]
    acc = float((scores.argmax(1) == test_labels).float().mean())
    assert acc == pytest.approx(result["test_accuracy"])


def test_cli_quick_run(tmp_path):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run([sys.executable, "-m", "snnbook", "train", "kheradpisheh2018", "--quick", "--threads", "1",
                           "--train-digits", "300", "--validation", "100", "--test-digits", "100", "--no-progress"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    r = json.loads((tmp_path / "runs" / "kheradpisheh2018-quick-seed0.json").read_text())
    assert r["complete"] and r["config"]["train_digits"] == 300 and r["config"]["epochs_l2"] == 1
    assert 0.2 < r["test_accuracy"] <= 1
    assert r["command"].startswith("python -m snnbook train kheradpisheh2018 --quick")
    assert "test accuracy" in proc.stdout
