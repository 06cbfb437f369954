"""Diehl & Cook (2015): the dynamics against hand-computed values, the compiled engine against the
reference step by step (bit for bit), resume, frozen eval, labels from training digits only, the
command line, argument errors and the shipped weights."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from snnbook import data
from snnbook.models import DiehlCook2015
from snnbook import training
from snnbook.models import diehl_cook2015 as dc

ROOT = Path(__file__).resolve().parents[1]
ONE_STEP = {**dc.PARAMS, "present_ms": 0.5, "rest_ms": 0.0, "rest_simulated_ms": 0.0}


def _state(n, **values):
    s = dc.init_state(n, rested=True)._asdict()
    for k, v in values.items():
        s[k] = torch.as_tensor(v, dtype=s[k].dtype).clone()
    return dc.DiehlCookState(**s)


def _step(weight, theta, state, spiking_pixels=(), learn=False):
    spikes = torch.zeros(1, 784, dtype=torch.bool)
    spikes[0, list(spiking_pixels)] = True
    return dc.run_digit_reference(weight, theta, state, spikes, learn, ONE_STEP)


def test_membrane_and_conductances_one_euler_step():
    w = torch.zeros(784, 2, dtype=torch.float64)
    theta = torch.full((2,), 20.0, dtype=torch.float64)
    st = _state(2, v_e=[-60.0, -60.0], ge_e=[1.0, 0.0], gi_e=[0.0, 1.0], v_i=[-50.0, -60.0], ge_i=[2.0, 0.0])
    counts, _, th, new = _step(w, theta, st)
    a = 0.5 / 100.0
    torch.testing.assert_close(new.v_e, torch.tensor([-60 + a * (-5 + 60), -60 + a * (-5 - 40)], dtype=torch.float64))
    torch.testing.assert_close(new.ge_e, torch.tensor([0.5, 0.0], dtype=torch.float64))   # 1 - dt / 1 ms
    torch.testing.assert_close(new.gi_e, torch.tensor([0.0, 0.75], dtype=torch.float64))  # 1 - dt / 2 ms
    ai = 0.5 / 10.0
    torch.testing.assert_close(new.v_i, torch.tensor([-50 + ai * (-10 + 2 * 50), -60.0], dtype=torch.float64))
    assert counts.tolist() == [0, 0] and torch.equal(th, theta)  # no learning: theta frozen


def test_spike_reset_theta_and_inhibition():
    w = torch.zeros(784, 3, dtype=torch.float64)
    theta = torch.full((3,), 20.0, dtype=torch.float64)  # threshold theta - 72 = -52 mV
    st = _state(3, v_e=[-40.0, -53.0, -40.0], since_e=[1000, 1000, 50], v_i=[-60.0, -30.0, -60.0])
    counts, _, th, new = _step(w, theta, st, learn=True)
    assert counts.tolist() == [1, 0, 0]  # neuron 2 is above threshold but inside the code's 50 ms lock-out
    assert new.v_e[0] == -65.0 and new.since_e[0] == 0
    c = 1 - 0.5 / 1e7
    torch.testing.assert_close(th, torch.tensor([20 * c + 0.05, 20 * c, 20 * c], dtype=torch.float64))
    assert new.ge_i[0] == 10.4                                # excitatory 0 -> its inhibitory partner
    assert new.v_i[1] == -45.0                                # inhibitory 1 fired and reset ...
    assert new.gi_e.tolist() == [17.0, 0.0, 17.0]             # ... and inhibits every excitatory neuron but 1
    # refractory: v clamped for 5 ms (10 steps), then integrates again
    st2 = _state(1, v_e=[-65.0], since_e=[5], ge_e=[1.0])
    assert _step(w[:, :1], theta[:1], st2)[3].v_e[0] == -65.0
    st3 = _state(1, v_e=[-65.0], since_e=[9], ge_e=[1.0])
    assert _step(w[:, :1], theta[:1], st3)[3].v_e[0] == -65.0 + 0.005 * 65.0


def test_stdp_traces():
    w = torch.full((784, 2), 0.5, dtype=torch.float64)
    theta = torch.full((2,), 20.0, dtype=torch.float64)
    t = 1000
    last_pre = torch.full((784,), dc._NEVER, dtype=torch.int64)
    last_pre[5] = t + 1 - 40                                  # pixel 5 spiked 20 ms before the step
    st = _state(2, v_e=[-40.0, -70.0], last_post=[t + 1 - 20, dc._NEVER], last_pre=last_pre, t=t)
    counts, w2, _, new = _step(w, theta, st, spiking_pixels=[3], learn=True)
    assert counts.tolist() == [1, 0]
    post1 = math.exp(-10 / 20)   # neuron 0 spiked 10 ms ago
    post2 = math.exp(-10 / 40)
    # pixel 3: depression at its spike (post1), then potentiation at neuron 0's spike (pre = 1)
    assert w2[3, 0].item() == pytest.approx(0.5 - 1e-4 * post1 + 1e-2 * 1.0 * post2, abs=1e-15)
    assert w2[3, 1].item() == 0.5                              # neuron 1 never fired: post1 = 0
    assert w2[5, 0].item() == pytest.approx(0.5 + 1e-2 * math.exp(-20 / 20) * post2, abs=1e-15)
    assert w2[7, 0].item() == 0.5                              # pixel 7 never spiked: pre = 0
    assert new.last_post[0] == t + 1 and new.last_pre[3] == t + 1
    # the input spike's weight (before depression) reached the conductance
    assert new.ge_e.tolist() == [0.5, 0.5]


def test_rest_closed_form():
    w = torch.zeros(784, 1, dtype=torch.float64)
    theta = torch.full((1,), 30.0, dtype=torch.float64)
    st = _state(1, v_e=[-60.0], t=0)
    spikes = torch.zeros(700, 784, dtype=torch.bool)
    _, _, th, new = dc.run_digit_reference(w, theta, st, spikes, True)
    # 1 000 steps of 0.5 ms: 740 simulated, 260 in closed form
    assert new.v_e[0].item() == pytest.approx(-65 + 5 * (1 - 0.005) ** 1000, rel=1e-12)
    assert th[0].item() == pytest.approx(30 * (1 - 0.5e-7) ** 1000, rel=1e-12)
    assert int(new.t) == 1000


def _digits():
    x, _ = data.mnist_tensors(train=True, n=4)
    faint = (x[3] > 0).to(torch.uint8) * 2   # so faint that it needs re-presentations
    return torch.cat([x[:3], faint[None]])


def test_event_engine_equals_reference():
    x = _digits()
    a, b = DiehlCook2015(n_neurons=12, seed=3), DiehlCook2015(n_neurons=12, seed=3)
    ca, cb = a.learn(x), b.learn(x, engine="reference")
    assert torch.equal(ca, cb) and int(ca.sum()) > 0
    assert torch.equal(a.weight, b.weight) and torch.equal(a.theta, b.theta)
    for f in dc.DiehlCookState._fields:
        assert torch.equal(getattr(a.state, f), getattr(b.state, f)), f
    assert int(a.presented) == 4
    assert not torch.equal(a.weight, DiehlCook2015(n_neurons=12, seed=3).weight)  # it learned
    ra, rb = a.responses(x, engine="event"), a.responses(x, engine="reference")
    assert torch.equal(ra, rb)
    # the batch does not matter: each digit has its own Poisson seed
    assert torch.equal(a.responses(x[2:], first_index=2), ra[2:])


def test_eval_freezes_everything():
    x = _digits()
    m = DiehlCook2015(n_neurons=10, seed=0)
    m.learn(x[:2])
    m.assign_labels(x, torch.tensor([5, 0, 4, 1]))
    m.eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    m(x)
    m.responses(x)
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="DiehlCook2015.learn"):
        m.learn(x)
    with pytest.raises(ValueError, match="DiehlCook2015.assign_labels"):
        m.assign_labels(x, torch.tensor([5, 0, 4, 1]))


def test_labels_and_classify():
    counts = torch.tensor([[3, 0, 1], [0, 2, 0], [1, 0, 0]])
    labels = dc.assign_labels(counts, torch.tensor([7, 2, 7]))
    assert labels.tolist() == [7, 2, 7]
    assert dc.assign_labels(torch.zeros(2, 2, dtype=torch.int64), torch.tensor([1, 2])).tolist() == [-1, -1]
    assert dc.classify(torch.tensor([[0, 5, 1], [4, 0, 0]]), torch.tensor([7, 2, 7])).tolist() == [2, 7]


def _train(tmp, **kw):
    args = dict(out=tmp, n_neurons=16, train_digits=300, test_digits=60, label_digits=120, seed=1,
                checkpoint_every=100, progress=False)
    args.update(kw)
    return training.train_diehl_cook2015(**args)


def test_resume_is_bit_identical(tmp_path):
    full = _train(tmp_path / "a")
    assert _train(tmp_path / "b", stop_after=150) is None
    resumed = _train(tmp_path / "b", resume=True)
    for key in ("test_accuracy", "confusion", "running_accuracy", "spikes_per_training_digit"):
        if key == "running_accuracy":
            assert [(h["digits"], h["running_accuracy_last_1000"]) for h in full[key]] == \
                   [(h["digits"], h["running_accuracy_last_1000"]) for h in resumed[key]]
        else:
            assert full[key] == resumed[key], key
    wa = torch.load(tmp_path / "a" / f"{full['name']}.pt", weights_only=True)
    wb = torch.load(tmp_path / "b" / f"{full['name']}.pt", weights_only=True)
    assert all(torch.equal(wa[k], wb[k]) for k in ("weight", "theta", "labels"))
    assert resumed["resumed_segments"] == 2
    with pytest.raises(ValueError, match="checkpoint"):
        _train(tmp_path / "b", resume=True, n_neurons=17, name=full["name"])


def test_labels_never_read_test_data(tmp_path, monkeypatch):
    """Labels and the size of the labelling set come from training digits only: the validation digits
    (the last of the training digits) choose, and the test digits are answered once, after the labels
    are fixed."""
    from snnbook.training import diehl_cook2015 as recipe
    calls = []
    original_responses = DiehlCook2015.responses
    original_select = recipe.select_labels

    def responses(self, images, stream=1, **kw):
        calls.append(("responses", stream, images.clone()))
        return original_responses(self, images, stream=stream, **kw)

    def select(counts, targets, validation_digits, **kw):
        calls.append(("select", targets.clone(), validation_digits))
        return original_select(counts, targets, validation_digits, **kw)
    monkeypatch.setattr(DiehlCook2015, "responses", responses)
    monkeypatch.setattr(recipe, "select_labels", select)
    r = _train(tmp_path, train_digits=240, label_digits=None, test_digits=40)
    x, y = data.mnist_tensors(train=True, n=240)
    evaluation = [c for c in calls if c[0] != "responses" or c[1] != 0]
    assert [c[0] for c in evaluation] == ["responses", "select", "responses"]
    (_, stream, images), (_, targets, validation), (_, test_stream, test_images) = evaluation
    assert stream == 2 and torch.equal(images, x) and torch.equal(targets, y) and validation == 40
    assert test_stream == 3 and test_images.shape[0] == 40
    lab = r["labelling"]
    assert lab["selected_on"] == "validation" and lab["validation_digits"] == [200, 240]
    assert lab["labelling_digits"][1] == 200 and [c["label_digits"] for c in lab["candidates"]] == [200]
    assert r["config"]["validation_digits"] == 40 and r["deviations"] == recipe.DEVIATIONS
    assert sum(r["training_digits_won"]) <= 240 and len(r["training_digits_won"]) == 16


def test_select_labels_chooses_on_validation_only():
    from snnbook.training.diehl_cook2015 import select_labels
    # digits 4-5 validate; digits 2-3 label right, digits 0-1 would swap the two labels
    counts = torch.tensor([[30, 0], [0, 30], [3, 0], [0, 3], [3, 0], [0, 3]])
    targets = torch.tensor([2, 1, 1, 2, 1, 2])
    labels, record = select_labels(counts, targets, 2, candidates=(2, 4))
    assert record["candidates"] == [
        {"label_digits": 2, "first": 2, "validation_accuracy": 1.0},
        {"label_digits": 4, "first": 0, "validation_accuracy": 0.0}]
    assert record["label_digits"] == 2 and labels.tolist() == [1, 2] and record["validation_digits"] == [4, 6]
    # the validation digits never label: changing their classes changes only the accuracies
    _, other = select_labels(counts, torch.tensor([2, 1, 1, 2, 2, 1]), 2, candidates=(2, 4))
    assert [c["validation_accuracy"] for c in other["candidates"]] == [0.0, 1.0]
    fixed, rec = select_labels(counts, targets, 2, label_digits=10)
    assert rec["selected_on"] == "fixed" and rec["label_digits"] == 4
    # same input, same choice; a tie goes to the larger set
    tie = torch.tensor([[3, 0], [0, 3], [3, 0], [0, 3]])
    assert select_labels(tie, torch.tensor([1, 2, 1, 2]), 2, candidates=(1, 2))[1]["label_digits"] == 2
    with pytest.raises(ValueError, match="select_labels: validation_digits"):
        select_labels(counts, targets, 6)
    with pytest.raises(ValueError, match="select_labels: targets"):
        select_labels(counts, targets[:3], 2)
    with pytest.raises(TypeError, match="select_labels: candidates"):
        select_labels(counts, targets, 2, candidates=3)
    with pytest.raises(ValueError, match="train_diehl_cook2015: validation_digits"):
        training.train_diehl_cook2015(train_digits=100, validation_digits=100)


def test_published_files_carry_the_recipe_deviations_and_a_validation_choice():
    from snnbook.training.diehl_cook2015 import DEVIATIONS
    files = sorted((ROOT / "results").glob("diehl_cook2015_*-seed*.json"))
    for f in files:
        r = json.loads(f.read_text())
        assert r["deviations"] == DEVIATIONS, f.name
        if f.with_suffix(".pt").exists():
            lab = r["labelling"]
            assert lab["selected_on"] == "validation" and lab["validation_digits"] == [50_000, 60_000], f.name
            assert lab["labelling_digits"][1] <= 50_000, f.name
            assert lab["validation_accuracy"] == max(c["validation_accuracy"] for c in lab["candidates"])


def test_command_line(tmp_path):
    from snnbook.train import main
    assert main(["diehl_cook2015", "--neurons", "100", "--train-digits", "500", "--test-digits", "100",
                 "--label-digits", "500", "--out", str(tmp_path), "--no-progress"]) == 0
    r = json.loads((tmp_path / "diehl_cook2015_100-seed0.json").read_text())
    assert r["command"].endswith("train diehl_cook2015 --neurons 100 --train-digits 500 --test-digits 100 --label-digits 500 --out " + str(tmp_path))
    for key in ("commit", "machine", "torch", "seed", "wall_time_train_s", "per_class_accuracy", "spikes_per_test_digit"):
        assert key in r
    assert r["test_accuracy"] > 0.3 and len(r["per_class_accuracy"]) == 10
    m = training.load_diehl_cook2015(tmp_path / "diehl_cook2015_100-seed0.pt")
    x, y = data.mnist_tensors(train=False, n=100)
    assert float((m(x) == y).double().mean()) == r["test_accuracy"]
    with pytest.raises(SystemExit):
        main(["diehl_cook2015", "--neurons", "0", "--out", str(tmp_path), "--no-progress"])


def test_bad_arguments():
    with pytest.raises(ValueError, match="DiehlCook2015: n_neurons"):
        DiehlCook2015(n_neurons=0)
    with pytest.raises(TypeError, match="DiehlCook2015: seed"):
        DiehlCook2015(seed=1.5)
    m = DiehlCook2015(n_neurons=4)
    with pytest.raises(ValueError, match="DiehlCook2015.learn: images"):
        m.learn(torch.zeros(2, 27, 28, dtype=torch.uint8))
    with pytest.raises(ValueError, match="DiehlCook2015.learn: images"):
        m.learn(torch.full((1, 28, 28), 300.0))
    with pytest.raises(TypeError, match="DiehlCook2015.learn: images"):
        m.learn([[0]])
    with pytest.raises(ValueError, match="DiehlCook2015.responses: engine"):
        m.responses(torch.zeros(1, 28, 28, dtype=torch.uint8), engine="dense")
    with pytest.raises(ValueError, match="DiehlCook2015.responses: stream"):
        m.responses(torch.zeros(1, 28, 28, dtype=torch.uint8), stream=0)
    with pytest.raises(ValueError, match="train_diehl_cook2015: epochs"):
        training.train_diehl_cook2015(epochs=0)
    with pytest.raises(TypeError, match="train_diehl_cook2015: n_neurons"):
        training.train_diehl_cook2015(n_neurons="400")
    with pytest.raises(ValueError, match="assign_labels: targets"):
        dc.assign_labels(torch.zeros(3, 4), torch.zeros(2, dtype=torch.int64))



def test_one_digit_evaluates_like_a_batch():
    """A single digit goes through the parallel evaluation (whose rested state was once a read-only
    broadcast that the compiled engine refused) and gives its row of the batch."""
    x = _digits()
    m = DiehlCook2015(n_neurons=6, seed=2).eval()
    batch = m.responses(x)
    for i in range(len(x)):
        assert torch.equal(m.responses(x[i:i + 1], first_index=i), batch[i:i + 1])
    assert m(x[:1]).shape == (1,)


def test_images_convention_and_domain_errors():
    """0..255 images (uint8 or floats) are the convention; [0, 1] floats, 32 x 32 digits, classes
    beyond 0..9 and a zero weight total are refused by name (tests/test_bad_input_models.py has the
    full table)."""
    x = _digits()
    m = DiehlCook2015(n_neurons=4, seed=0).eval()
    assert torch.equal(m.responses(x.float()), m.responses(x))
    with pytest.raises(ValueError, match=r"DiehlCook2015.responses: images look like \[0, 1\] floats.*multiply by 255"):
        m.responses(x.float() / 255)
    with pytest.raises(ValueError, match="DiehlCook2015.forward: images must be digits"):
        m(torch.zeros(2, 32, 32, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"assign_labels: targets must be classes in \[0, 9\]"):
        dc.assign_labels(torch.ones(2, 3), torch.tensor([10, 1]))
    with pytest.raises(ValueError, match="normalize_weights: total"):
        dc.normalize_weights(m.weight, 0.0)
    with pytest.raises(ValueError, match="events_to_spikes: pixels"):
        dc.events_to_spikes(torch.tensor([800]), torch.tensor([0, 1]))


SHIPPED = ROOT / "results" / "diehl_cook2015_400-seed0"


@pytest.mark.skipif(not SHIPPED.with_suffix(".pt").exists(), reason="the 400-neuron run has not been shipped")
def test_shipped_weights_reproduce_the_recorded_accuracy():
    r = json.loads(SHIPPED.with_suffix(".json").read_text())
    model = training.load_diehl_cook2015(SHIPPED.with_suffix(".pt"))
    x, y = data.mnist_tensors(train=False, n=1000)
    assert float((model(x) == y).double().mean()) == r["test_accuracy_first_1000"]
    assert r["test_accuracy"] >= 0.85


def test_benchmark_quick_run(tmp_path):
    """The benchmark's two sides agree (it asserts identical spikes, weights and state) and it writes its JSON."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_dc", ROOT / "benchmarks" / "diehl_cook2015.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    record = module.main(["--quick", "--out", str(tmp_path / "bench.json")])
    assert record["identical"]["spikes_training"] > 0 and record["ratio_training"] > 1
    assert json.loads((tmp_path / "bench.json").read_text())["neurons"] == 20
