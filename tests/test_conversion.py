"""ANN-to-SNN conversion (snnbook.models.conversion, snnbook.training.conversion): an IF neuron's
rate is a clipped ReLU, the converted network's rates converge to the balanced ANN's activations,
the scales come from the digits they are given (training digits) only, bad input is refused, a
converted network stays frozen, and the published results agree with their own fields."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from snnbook.models import conversion as cv
from snnbook.training import conversion as tc

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"


def tiny_ann(seed=0, hidden=12):
    torch.manual_seed(seed)
    return cv.ReLUFC(hidden=hidden).eval()


def digits(n, seed=0):
    return torch.rand(n, 28, 28, generator=torch.Generator().manual_seed(seed))


def test_if_rate_is_a_clipped_relu_of_a_constant_current():
    # multiples of 1/64: the sums are exact in float64
    currents = torch.tensor([-0.5, 0.0, 0.125, 0.5, 63 / 64, 1.0, 1.75], dtype=torch.float64)
    for steps in (1, 7, 100, 1000):
        neuron = cv.IF()
        count = sum(neuron.step(currents) for _ in range(steps))
        expected = torch.floor(steps * currents.clamp(0, 1))  # floor(T I), at most T
        assert torch.equal(count, expected), steps
        assert (count / steps - currents.clamp(0, 1)).abs().max() <= 1 / steps + 1e-6


def test_rates_converge_to_the_balanced_relu_activations():
    ann, x = tiny_ann(), digits(64)
    snn = cv.convert(ann, x, percentile=100.0)
    target = cv.activations(ann, x[:16])[0] / snn.scales[0]
    assert float(target.max()) <= 1.0 + 1e-6  # the maximum on these digits: nothing clipped
    errors = []
    for steps in (4, 32, 256, 1024):
        rates = snn.simulate(x[:16], steps)["rates"][0]
        errors.append(float((rates - target).abs().max()))
        assert errors[-1] <= 1 / steps + 1e-5  # one layer, constant current: floor(T a) / T
    assert errors == sorted(errors, reverse=True)
    # the read-out current approaches the ANN's logits
    with torch.no_grad():
        gap = (snn(x[:16], 1024) - ann(x[:16])).abs().max()
    assert float(gap) < 0.02


def test_deeper_network_logits_approach_the_ann():
    torch.manual_seed(1)
    ann = cv.ReLUConv(channels=(3, 4), hidden=8).eval()
    for m in ann.modules():  # non-trivial batch-norm statistics, to be folded
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 2.0)
    x = digits(40)
    snn = cv.convert(ann, x, percentile=100.0)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in snn.net)
    r = snn.simulate(x[:8], 512, read_at=[8, 64, 512])
    with torch.no_grad():
        gaps = [float((r["logits"][i] - ann(x[:8])).abs().max()) for i in range(3)]
    assert gaps[-1] < gaps[0] and gaps[-1] < 0.05


def test_fold_and_balance_keep_the_decisions():
    torch.manual_seed(2)
    ann = cv.ReLUConv(channels=(3, 4), hidden=8).eval()
    x = digits(10)
    folded = cv.fold_batchnorm(ann.net)
    torch.testing.assert_close(folded(x.unsqueeze(1)), ann(x), atol=1e-5, rtol=1e-5)
    scales = cv.layer_scales(ann, x, 99.0)
    balanced = cv.balance(ann.net, scales)
    torch.testing.assert_close(balanced(x.unsqueeze(1)), ann(x), atol=1e-4, rtol=1e-4)
    hidden = cv.activations(balanced, x)
    for a, lam, raw in zip(hidden, scales, cv.activations(ann, x)):
        torch.testing.assert_close(a, raw / lam, atol=1e-5, rtol=1e-4)


def test_scales_depend_only_on_the_digits_given():
    ann = tiny_ann()
    train, other = digits(50, seed=1), digits(50, seed=2)
    a = cv.convert(ann, train, 99.9)
    # the same digits twice: the same maximum
    assert cv.convert(ann, torch.cat([train, train]), 100.0).scales == cv.convert(ann, train, 100.0).scales
    assert cv.convert(ann, other, 99.9).scales != a.scales
    # the percentile of the positive activations, as numpy computes it
    import numpy as np
    act = cv.activations(ann, train)[0]
    assert a.scales[0] == pytest.approx(float(np.percentile(act[act > 0].numpy(), 99.9)), rel=1e-6)
    assert cv.convert(ann, train, 100.0).scales[0] == pytest.approx(float(act.max()))


def test_recipe_balances_on_training_digits_and_selects_on_validation(monkeypatch, tmp_path):
    """convert_ann passes the first balance_digits training digits to convert and chooses by
    validation digits; the test digits reach only evaluate_converted after every choice."""
    from snnbook import data
    seen = []
    real_convert, real_eval = cv.convert, tc.evaluate_converted
    test_images, _ = data.mnist_tensors(train=False, n=200)

    def spy_convert(ann, images, *a, **k):
        seen.append(("convert", images))
        return real_convert(ann, images, *a, **k)

    def spy_eval(snn, images, labels, *a, **k):
        seen.append(("evaluate", images))
        return real_eval(snn, images, labels, *a, **k)

    a = tc.train_ann("fc", out=tmp_path, train_digits=700, validation=200, test_digits=200, epochs=1,
                     hidden=16, progress=False)
    monkeypatch.setattr(cv, "convert", spy_convert)
    monkeypatch.setattr(tc, "evaluate_converted", spy_eval)
    r = tc.convert_ann("fc", tmp_path / f"{a['name']}.json", out=tmp_path, percentiles=[99.0, 100.0],
                       max_steps=8, select_steps=4, balance_digits=300, progress=False)
    train_images, _ = data.mnist_tensors(train=True, n=700)
    converts = [img for kind, img in seen if kind == "convert"]
    assert len(converts) == 3 and all(torch.equal(img, train_images[:300]) for img in converts)
    evals = [img for kind, img in seen if kind == "evaluate"]
    assert all(torch.equal(img, train_images[500:]) for img in evals[:-1])
    assert torch.equal(evals[-1], test_images)
    assert r["percentile"] in (99.0, 100.0) and r["time_steps"] in tc.step_grid(8)
    assert r["test_accuracy"] == r["test_accuracy_vs_steps"][str(r["time_steps"])]
    assert set(r["validation_accuracy_by_percentile"]) == {"99.0", "100.0"}
    # same seed, same result
    b = tc.convert_ann("fc", tmp_path / f"{a['name']}.json", out=tmp_path, name="again",
                       percentiles=[99.0, 100.0], max_steps=8, select_steps=4, balance_digits=300,
                       progress=False)
    assert b["test_accuracy_vs_steps"] == r["test_accuracy_vs_steps"] and b["scales"] == r["scales"]


def test_poisson_input_is_seeded_and_counts_input_synops():
    ann, x = tiny_ann(), digits(6)
    snn = cv.convert(ann, digits(30), 99.0, coding="poisson", eval_seed=3)
    one, two = snn.simulate(x, 16), snn.simulate(x, 16)
    torch.testing.assert_close(one["logits"], two["logits"])
    assert float(one["input_macs"].sum()) == 0 and "input" in one["synops"]
    direct = cv.convert(ann, digits(30), 99.0)
    r = direct.simulate(x, 4, read_at=[1, 4])
    assert float(r["input_macs"][0]) == 784 * 12 and "input" not in r["synops"]
    assert torch.all(r["spikes"]["if1"][1] >= r["spikes"]["if1"][0])


def test_converted_network_is_frozen():
    snn = cv.convert(tiny_ann(), digits(20), 99.0)
    assert not snn.training and not any(p.requires_grad for p in snn.parameters())
    snn.eval()
    with pytest.raises(ValueError, match="ConvertedSNN.train: a converted network is frozen"):
        snn.train()
    with torch.no_grad():
        before = snn(digits(3), 8)
    torch.testing.assert_close(snn(digits(3), 8), before)


def test_ann_macs():
    assert cv.ann_macs(cv.ReLUFC())["total"] == 784 * 1000 + 1000 * 10
    macs = cv.ann_macs(cv.ReLUConv())
    assert macs["layer3"] == 3136 * 128 and macs["layer4"] == 1280
    assert macs["layer1"] < 784 * 32 * 9  # borders: fewer synapses


@pytest.mark.parametrize("call, match", [
    (lambda: cv.convert("net", digits(2)), "convert: ann must be an nn.Sequential"),
    (lambda: cv.convert(nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.Tanh(), nn.Linear(3, 2)),
                        digits(2)), "convert: ann may hold only"),
    (lambda: cv.convert(nn.Sequential(nn.Flatten(), nn.Linear(784, 3)), digits(2)),
     "convert: ann must have at least one ReLU"),
    (lambda: cv.convert(nn.Sequential(nn.Flatten(), nn.Linear(784, 3), nn.ReLU()), digits(2)),
     "convert: the last layer of ann must be"),
    (lambda: cv.convert(tiny_ann(), digits(2), percentile=0), "layer_scales: percentile must be > 0"),
    (lambda: cv.convert(tiny_ann(), digits(2), percentile=101), "layer_scales: percentile must be <= 100"),
    (lambda: cv.convert(tiny_ann(), digits(2), coding="rate"), "convert: coding must be one of"),
    (lambda: cv.convert(tiny_ann(), digits(2), v_init=1.0), "convert: v_init must be < 1"),
    (lambda: cv.convert(tiny_ann(), torch.rand(2, 10, 10)), "must be 28 x 28 digits"),
    (lambda: cv.convert(tiny_ann(), digits(2) * 255), r"\[0, 1\]"),
    (lambda: cv.convert(tiny_ann(), digits(4)).simulate(digits(2), 0), "simulate: time_steps must be >= 1"),
    (lambda: cv.convert(tiny_ann(), digits(4)).simulate(digits(2), 4, read_at=[2, 1]),
     "simulate: read_at must be increasing"),
    (lambda: cv.convert(tiny_ann(), digits(4)).simulate(digits(2), 4, read_at=[5]), "read_at"),
    (lambda: cv.balance(tiny_ann().net, [1.0, 2.0]), "balance: scales must be a list of 1"),
    (lambda: cv.balance(tiny_ann().net, [0.0]), "balance: scales must be > 0"),
    (lambda: cv.IF(threshold=0), "IF: threshold must be > 0"),
    (lambda: tc.train_ann("mlp"), "train_ann: network must be one of"),
    (lambda: tc.convert_ann("fc", "missing.json"), "convert_ann: ann must be the path"),
    (lambda: tc.step_grid(0), "step_grid: max_steps must be >= 1"),
])
def test_bad_input_is_refused_with_a_message(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_unknown_recipe_option_is_a_type_error(tmp_path):
    with pytest.raises(TypeError, match="train_ann: unknown option"):
        tc.train_ann("fc", out=tmp_path, depth=3)


@pytest.mark.parametrize("path", sorted(RESULTS.glob("conversion_*-seed*.json")), ids=lambda p: p.name)
def test_published_conversion_results_agree_with_themselves(path):
    r = json.loads(path.read_text())
    ann = json.loads((RESULTS / r["ann"]).read_text())
    assert r["ann_test_accuracy"] == ann["test_accuracy"] and r["seed"] == ann["seed"]
    assert r["test_accuracy"] == r["test_accuracy_vs_steps"][str(r["time_steps"])]
    assert r["percentile"] == max(r["config"]["percentiles"],
                                  key=lambda p: (r["validation_accuracy_by_percentile"][str(p)],
                                                 -r["config"]["percentiles"].index(p)))
    val = r["validation_accuracy_vs_steps"]
    good = [int(t) for t in val if val[t] >= ann["validation_accuracy"] - r["config"]["tolerance"]]
    assert r["time_steps"] == (min(good) if good else r["config"]["max_steps"])
    assert r["synops_per_inference"]["total"] == pytest.approx(
        sum(v for k, v in r["synops_per_inference"].items() if k != "total"))
