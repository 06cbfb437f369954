"""Chevalier's autograd SNN, surrogate spike functions, the LIF layer with
reset by subtraction, the surrogate-gradient networks and their training loop (smoke runs lower the
loss, resume is bit-identical, a seed is deterministic, eval has no side effects, bad input is
rejected with a message that names the function and the argument)."""
from __future__ import annotations

import json
import re

import pytest
import torch

from snnbook import data, training
from snnbook.models.chevalier import ChevalierLayer, ChevalierNonSpiking, ChevalierSpiking, chevalier_step
from snnbook.models.surrogate import (LIF, SURROGATES, SurrogateConv, SurrogateFC, spike_function,
                                      surrogate_derivative, surrogate_primitive)


# --- Chevalier's layer ------------------------------------------------------------------------------
def test_chevalier_step_hand_computed():
    # inner = fc + 0.9 inner_prev; out = relu(inner - 1); where out > 0: inner -= 1.5 / 1.0 * inner
    current = torch.tensor([[1.5, 0.5, 0.2]])
    prev = torch.tensor([[1.0, 0.0, 2.0]])
    inner, out = chevalier_step(current, prev)
    # neuron 0: 1.5 + 0.9 = 2.4 > 1 -> out 1.4, inner 2.4 - 3.6 = -1.2
    # neuron 1: 0.5 -> out 0, inner 0.5;  neuron 2: 0.2 + 1.8 = 2.0 -> out 1.0, inner 2.0 - 3.0 = -1.0
    torch.testing.assert_close(out, torch.tensor([[1.4, 0.0, 1.0]]))
    torch.testing.assert_close(inner, torch.tensor([[-1.2, 0.5, -1.0]]))
    assert torch.equal(prev, torch.tensor([[1.0, 0.0, 2.0]]))  # state in, state out: nothing mutated


def test_chevalier_layer_returns_the_previous_step():
    layer = ChevalierLayer(1, 1)
    with torch.no_grad():
        layer.fc.weight.fill_(1.0)
        layer.fc.bias.zero_()
    x = torch.tensor([[[0.8], [0.8], [0.8], [0.8]]])          # [batch 1, time 4, inputs 1]
    inner, out = layer(x)
    # undelayed: t0 0.8; t1 0.8 + 0.72 = 1.52 -> out 0.52, inner 1.52 - 2.28 = -0.76;
    #            t2 0.8 - 0.684 = 0.116; (t3 is never returned)
    torch.testing.assert_close(inner[0, :, 0], torch.tensor([0.0, 0.8, -0.76, 0.116]))
    torch.testing.assert_close(out[0, :, 0], torch.tensor([0.0, 0.0, 0.52, 0.0]))


def test_chevalier_networks_shapes_and_eval_determinism():
    torch.manual_seed(0)
    x = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    spiking = ChevalierSpiking(time_steps=6).eval()
    before = {k: v.clone() for k, v in spiking.state_dict().items()}
    a, b = spiking(x), spiking(x)
    assert a.shape == (3, 10) and torch.equal(a, b)
    assert all(torch.equal(before[k], v) for k, v in spiking.state_dict().items())
    torch.testing.assert_close(a.exp().sum(1), torch.ones(3))
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(spiking(x, generator=g1), spiking(x, generator=g2))
    assert ChevalierNonSpiking()(x).shape == (3, 10)


# --- surrogate spike functions ----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_surrogate_forward_is_heaviside_and_backward_the_formula(name):
    x = torch.linspace(-2, 2, 41, dtype=torch.float64, requires_grad=True)
    spikes = spike_function(name)(x)
    assert torch.equal(spikes, (x > 0).double())
    spikes.sum().backward()
    torch.testing.assert_close(x.grad, surrogate_derivative(name, x.detach()))
    # gradcheck: the backward equals the numerical derivative of the surrogate's primitive (the
    # Heaviside terms cancel numerically, so only the primitive is differentiated by finite differences)
    f = spike_function(name, 3.0)

    def probe(v):
        return f(v) - f(v).detach() + surrogate_primitive(name, v, 3.0).detach()

    v = (torch.rand(20, dtype=torch.float64) - 0.5) * 2
    v = v[v.abs() > 1e-3].requires_grad_()
    assert torch.autograd.gradcheck(lambda t: probe(t) + 0 * t, (v,))  # analytic = surrogate backward
    torch.testing.assert_close(torch.autograd.functional.jacobian(lambda t: surrogate_primitive(name, t, 3.0), v)
                               .diagonal(), surrogate_derivative(name, v.detach(), 3.0))


def test_lif_hand_computed():
    lif = LIF(beta=0.5, threshold=1.0)
    spikes, v = lif.run(torch.full((1, 5, 1), 0.6))
    # v: 0.6, 0.9, 1.05 (spike), 0.525 + 0.6 - 1 = 0.125, 0.0625 + 0.6 = 0.6625
    assert spikes[0, :, 0].tolist() == [0.0, 0.0, 1.0, 0.0, 0.0]
    torch.testing.assert_close(v[0, :, 0], torch.tensor([0.6, 0.9, 1.05, 0.125, 0.6625]))
    lif.reset_state()
    assert lif.v is None


def test_lif_gradient_flows_through_time():
    x = torch.full((2, 4, 3), 0.7, requires_grad=True)
    LIF(beta=0.9)(x).sum().backward()
    assert x.grad.abs().sum() > 0


# --- networks --------------------------------------------------------------------------------------
def test_fold_batchnorm_gives_identical_outputs():
    torch.manual_seed(0)
    net = SurrogateConv(channels=(4, 8), hidden=16, time_steps=3)
    opt = torch.optim.Adam(net.parameters(), 1e-2)
    x = torch.rand(16, 28, 28)
    for _ in range(3):  # move the batch-norm statistics away from their initial values
        loss = torch.nn.functional.cross_entropy(net(x), torch.arange(16) % 10)
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    folded = net.fold_batchnorm()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.net)
    assert all(isinstance(m, (torch.nn.Conv2d, torch.nn.AvgPool2d, torch.nn.Flatten, torch.nn.Linear, LIF))
               for m in folded.net)
    torch.testing.assert_close(folded(x), net(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make", [lambda: SurrogateFC(hidden=20, time_steps=5),
                                  lambda: SurrogateConv(channels=(4, 8), hidden=16, time_steps=3)])
def test_eval_forward_twice_is_identical_and_changes_nothing(make):
    torch.manual_seed(0)
    net = make().eval()
    x = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    a, b = net(x), net(x)
    for u, w in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        assert torch.equal(u, w)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(m.v is None for m in net.net if isinstance(m, LIF))  # no state kept between calls


def test_records_count_spikes_and_synops():
    torch.manual_seed(0)
    net = SurrogateFC(hidden=20, time_steps=5).eval()
    x = torch.rand(3, 28, 28)
    spikes, _, record = net(x, return_record=True)
    torch.testing.assert_close(record["lif2"]["spikes"], spikes.sum((1, 2)))
    torch.testing.assert_close(record["input"]["synops"], record["input"]["spikes"] * 20)
    torch.testing.assert_close(record["lif1"]["synops"], record["lif1"]["spikes"] * 10)
    conv = SurrogateConv(channels=(2, 3), hidden=4, time_steps=2).eval()
    _, rec = conv(x, return_record=True)
    # a spike of lif1 (2 x 14 x 14) reaches 3 x 9 outputs of conv2 (fewer on the border)
    assert rec["lif1"]["synops"].max() <= rec["lif1"]["spikes"].max() * 27
    assert rec["input_layer_macs"][0] == 2 * (26 * 26 * 9 + 4 * 26 * 6 + 4 * 4)


# --- training loop ---------------------------------------------------------------------------------
SMALL = {
    "chevalier": dict(time_steps=16, batch_size=50),
    "surrogate_fc": dict(hidden=100, time_steps=8, batch_size=50, epochs=3, lr=2e-3),
    "surrogate_conv": dict(channels=[4, 8], hidden=32, time_steps=2, batch_size=50, epochs=3, shift=1),
}


def test_random_shift_moves_each_digit_within_the_bound():
    x = torch.zeros(50, 6, 6)
    x[:, 3, 3] = 1
    y = training.random_shift(x, 2, torch.Generator().manual_seed(0))
    rows, cols = (y == 1).nonzero()[:, 1], (y == 1).nonzero()[:, 2]
    assert y.sum() == 50 and rows.min() >= 1 and rows.max() <= 5 and cols.min() >= 1 and cols.max() <= 5
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 5
    assert torch.equal(training.random_shift(x, 0, torch.Generator()), x)


def _loss_on(network, model, images, labels):
    model.eval()
    with torch.no_grad():
        return float(training.gradient._gradient_loss(network, model, images, labels, torch.Generator().manual_seed(0))[0])


@pytest.mark.parametrize("network", ["chevalier", "surrogate_fc", "surrogate_conv"])
def test_smoke_run_on_200_digits_lowers_the_loss(network, tmp_path):
    images, labels = data.mnist_tensors(train=True, n=200)
    torch.manual_seed(0)
    config = {**training.GRADIENT_DEFAULTS[network], **SMALL[network], "seed": 0}
    before = _loss_on(network, training.gradient._gradient_model(network, config), images, labels)
    r = training.train_gradient(network, out=tmp_path, train_digits=200, test_digits=100, progress=False,
                                **SMALL[network])
    after = _loss_on(network, training.load_gradient(tmp_path / f"{r['name']}.pt"), images, labels)
    assert after < before
    saved = json.loads((tmp_path / f"{r['name']}.json").read_text())
    for key in ("name", "paper", "command", "commit", "machine", "torch", "seed", "config", "wall_time_train_s",
                "cpu_time_train_s", "wall_time_test_s", "test_accuracy", "per_class_accuracy",
                "spikes_per_test_digit", "synops_per_inference", "loss_history", "deviations"):
        assert key in saved
    assert (tmp_path / f"{r['name']}.pt").stat().st_size < 2_000_000


@pytest.mark.parametrize("network", ["chevalier", "surrogate_conv"])
def test_resume_is_bit_identical_and_a_seed_is_deterministic(network, tmp_path):
    kw = dict(train_digits=200, test_digits=50, progress=False, checkpoint_every=3, keep_checkpoint=True,
              **SMALL[network])
    kw["epochs"] = 2
    if network == "chevalier":
        kw["lrs"] = [0.1, 0.05]
    a = training.train_gradient(network, out=tmp_path / "a", **kw)
    assert training.train_gradient(network, out=tmp_path / "b", stop_after=5, **kw) is None  # mid epoch 2
    b = training.train_gradient(network, out=tmp_path / "b", resume=True, **kw)
    c = training.train_gradient(network, out=tmp_path / "c", **kw)
    assert b["resumed_segments"] == 2

    def weights(folder):
        return torch.load(folder / "checkpoints" / f"{a['name']}.pt", weights_only=True)["model"]

    wa, wb, wc = weights(tmp_path / "a"), weights(tmp_path / "b"), weights(tmp_path / "c")
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a["test_accuracy"] == b["test_accuracy"] == c["test_accuracy"]


def test_summary_card(tmp_path):
    for twin in ("spiking", "nonspiking"):
        training.train_gradient("chevalier", out=tmp_path, train_digits=100, test_digits=50, progress=False,
                                twin=twin, time_steps=4, batch_size=50)
    card = training.summarize_gradient("chevalier", tmp_path)
    assert set(card["ours"]) == {"spiking", "nonspiking"}
    assert "survives" in card["gap_spiking_minus_nonspiking"]


def test_summary_card_lists_named_variants_beside_the_default(tmp_path):
    small = dict(out=tmp_path, train_digits=64, test_digits=32, progress=False, time_steps=2,
                 batch_size=32, epochs=1)
    training.train_gradient("surrogate_fc", **small)
    for seed in (0, 1):
        training.train_gradient("surrogate_fc", seed=seed, name=f"surrogate_fc-rate-seed{seed}",
                                coding="rate", surrogate="fast_sigmoid", **small)
    card = training.summarize_gradient("surrogate_fc", tmp_path)
    assert card["ours"]["n"] == 1 and card["ours"]["files"] == ["surrogate_fc-seed0.json"]
    assert card["config"]["coding"] == "direct"
    variant = card["variants"]["surrogate_fc-rate"]
    assert variant["n"] == 2 and variant["config"]["coding"] == "rate"
    assert variant["config"]["surrogate"] == "fast_sigmoid"
    assert sorted(variant["per_seed"]) == [0, 1]


def test_surrogate_fc_defaults_are_the_snntorch_tutorial():
    # tutorial 5: 784-1000-10 Leaky, beta 0.95, 25 steps, the analog image at every step,
    # snn.Leaky's default surrogate (ATan, alpha 2), Adam 5e-4, batch 128, one epoch
    cfg = training.GRADIENT_DEFAULTS["surrogate_fc"]
    assert cfg == dict(hidden=1000, beta=0.95, time_steps=25, coding="direct", surrogate="arctan",
                       epochs=1, batch_size=128, lr=5e-4)
    assert SURROGATES["arctan"][1] == 2.0
    assert training.gradient.GRADIENT_PAPERS["surrogate_fc"]["test_accuracy"] == 0.9387  # 9387 / 10000


def test_direct_fc_reports_its_input_layer_macs_not_synops():
    torch.manual_seed(0)
    net = SurrogateFC(hidden=20, time_steps=3, coding="direct").eval()
    _, _, record = net(torch.rand(2, 28, 28), return_record=True)
    assert "input" not in record
    assert record["input_layer_macs"].tolist() == [784 * 20] * 2


def test_deviation_lists_speak_of_the_science_only():
    for network, items in training.GRADIENT_DEVIATIONS.items():
        for text in items:
            for word in (r"\bissues?\b", r"\btarget\b", r"\bmissed\b", r"this project"):
                assert not re.search(word, text, flags=re.I), (network, word, text)


def test_published_conv_runs_were_chosen_on_validation_digits():
    from snnbook.compare import published_results
    results = published_results()
    runs = {p.stem: json.loads(p.read_text()) for p in results.glob("surrogate_conv-*seed*.json")}
    # every published run is the fixed default (all digits) or a run with 10 000 held-out digits
    for name, r in runs.items():
        if name == "surrogate_conv-seed0":
            assert r["config"]["validation"] == 0 and r["config"].get("shift", 0) == 0
        else:
            assert "-val-seed" in name, name
            assert r["config"]["validation"] == 10_000 and r["validation_accuracy"] is not None, name
    seed0 = {k.rsplit("-seed", 1)[0]: r for k, r in runs.items()
             if r["seed"] == 0 and k != "surrogate_conv-seed0"}
    card = json.loads((results / "surrogate_conv.json").read_text())
    several = [g for g, v in card.get("variants", {}).items() if v["n"] > 1]
    if len(seed0) < 3:   # the comparison is not complete: no configuration has more seeds yet
        assert not several
    else:                # only the configuration chosen on validation gets further seeds
        chosen = max(seed0, key=lambda g: seed0[g]["validation_accuracy"])
        assert several in ([chosen], [])


def test_update_deviations_is_idempotent(tmp_path):
    import importlib.util
    from pathlib import Path
    from snnbook.compare import published_results
    path = Path(__file__).resolve().parents[1] / "tools" / "update_deviations.py"
    spec = importlib.util.spec_from_file_location("update_deviations", path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    src = json.loads((published_results() / "chevalier-spiking-seed0.json").read_text())
    src["deviations"] = ["an old list"]
    (tmp_path / "chevalier-spiking-seed0.json").write_text(json.dumps(src, indent=2) + "\n")
    (tmp_path / "other.json").write_text("{}")
    assert tool.update(tmp_path, check=True) == [tmp_path / "chevalier-spiking-seed0.json"]
    assert tool.update(tmp_path) == [tmp_path / "chevalier-spiking-seed0.json"]
    once = (tmp_path / "chevalier-spiking-seed0.json").read_text()
    assert tool.update(tmp_path) == [] and (tmp_path / "chevalier-spiking-seed0.json").read_text() == once
    fixed = json.loads(once)
    assert fixed["deviations"] == training.GRADIENT_DEVIATIONS["chevalier"]
    assert {k: v for k, v in fixed.items() if k != "deviations"} == {
        k: v for k, v in src.items() if k != "deviations"}
    with pytest.raises(ValueError, match="update: results must be a folder"):
        tool.update(tmp_path / "missing")


# --- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("call, error, words", [
    (lambda: training.train_gradient("nope"), ValueError, ["train_gradient", "network"]),
    (lambda: training.train_gradient("surrogate_fc", epochs=0), ValueError, ["train_gradient", "epochs"]),
    (lambda: training.train_gradient("surrogate_fc", seed=-1), ValueError, ["train_gradient", "seed"]),
    (lambda: training.train_gradient("surrogate_fc", bogus=1), TypeError, ["train_gradient", "bogus"]),
    (lambda: training.train_gradient("chevalier", twin="x"), ValueError, ["train_gradient", "twin"]),
    (lambda: training.train_gradient("surrogate_fc", resume=1), TypeError, ["train_gradient", "resume"]),
    (lambda: SurrogateConv()(torch.rand(2, 27, 27)), ValueError, ["SurrogateConv.forward", "images", "784"]),
    (lambda: SurrogateFC()(torch.rand(2, 28, 28) * 2), ValueError, ["SurrogateFC.encode", "images", "[0, 1]"]),
    (lambda: ChevalierSpiking()(torch.zeros(2, 28, 28, dtype=torch.bool)), TypeError,
     ["ChevalierSpiking.forward", "images"]),
    (lambda: chevalier_step(torch.zeros(2, 3), torch.zeros(2, 4)), ValueError, ["chevalier_step", "inner_prev"]),
    (lambda: LIF(beta=1.5), ValueError, ["LIF", "beta"]),
    (lambda: LIF(beta=0.5, threshold=0), ValueError, ["LIF", "threshold"]),
    (lambda: LIF(beta=0.5, surrogate="relu"), ValueError, ["LIF", "surrogate"]),
    (lambda: spike_function("fast_sigmoid", -1.0), ValueError, ["spike_function", "scale"]),
    (lambda: LIF(0.5)(torch.zeros(3)), ValueError, ["LIF.run", "currents"]),
    # the [0, 1] convention: 0..255 floats and other sizes are refused, uint8 is divided by 255
    (lambda: SurrogateConv()(torch.rand(2, 28, 28) * 255), ValueError,
     ["SurrogateConv.forward", "images", "[0, 1]", "divide them by 255"]),
    (lambda: ChevalierSpiking()(torch.rand(2, 32, 32)), ValueError, ["ChevalierSpiking.forward", "images", "28 x 28"]),
    (lambda: SurrogateFC(beta=1.5), ValueError, ["SurrogateFC", "beta"]),
    (lambda: chevalier_step(torch.zeros(2, 3), torch.zeros(2, 3), decay=1.5), ValueError, ["chevalier_step", "decay"]),
])
def test_bad_input_names_function_and_argument(call, error, words):
    with pytest.raises(error) as info:
        call()
    for w in words:
        assert w in str(info.value)
