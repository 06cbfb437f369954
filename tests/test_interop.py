"""NIR export (snnbook.interop): a file round trip through nir.write / nir.read, and round trips
into two other simulators that read NIR (snnTorch's import_from_nir, Norse's from_nir through
interop.run_norse), compared on 100 test digits.

Tolerance: with the neuron model matched, the spikes must be IDENTICAL (snnTorch: the same float32
operations in the same order; Norse steps v + dt / tau (r I - v) instead of beta v + I, which
rounds alike on these networks) and the conv net's per-step logits equal within 1e-5 (absolute).
snnTorch's importer as it is builds a different neuron (reset to zero, reset_delay=False, because
NIR's LIF resets to v_reset), so with it only the first-layer spikes before each neuron's first
reset can be compared exactly; the rest is measured and reported, not required to agree. Norse,
read as interop.run_norse reads it (the graph's dt, r restored), runs that same NIR neuron and
must agree with snnTorch; Norse's from_nir with its own defaults runs another network, checked
as the interop docstring states it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snnbook import data, interop
from snnbook.models.surrogate import LIF, SurrogateConv, SurrogateFC

nir = pytest.importorskip("nir")
RESULTS = Path(__file__).resolve().parents[1] / "results"
N_DIGITS = 100


def _trained_or_random(network: str):
    """The shipped trained network if its weights exist, else a small seeded random one whose
    weights are scaled up so that its neurons fire often (the reset then matters)."""
    path = RESULTS / f"{network}-seed0.pt"
    if path.exists():
        from snnbook.training import load_gradient
        return load_gradient(path), "trained"
    torch.manual_seed(0)
    if network == "surrogate_fc":
        model = SurrogateFC(hidden=100, time_steps=25).eval()
    else:
        model = SurrogateConv(channels=(8, 16), hidden=32).eval()
    with torch.no_grad():
        for m in model.net:
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight.mul_(3.0)
    return model, "random"


def _inputs(model, images):
    """The input current of every step ``[digits, time, *input_shape]`` that both simulators get."""
    if isinstance(model, SurrogateFC):
        x = model.encode(images, torch.Generator().manual_seed(1000)).float()
        if model.coding == "direct":  # the image is the input current of every step
            x = x.unsqueeze(1).expand(-1, model.time_steps, -1).contiguous()
        return x, (784,)
    x = images.float().div(255).reshape(-1, 1, 1, 28, 28)
    return x.expand(-1, model.time_steps, 1, 28, 28).contiguous(), (1, 28, 28)


@pytest.fixture(scope="module", params=["surrogate_fc", "surrogate_conv"])
def exported(request):
    model, kind = _trained_or_random(request.param)
    if isinstance(model, SurrogateConv):
        model = model.fold_batchnorm()
    images, _ = data.mnist_tensors(train=False, n=N_DIGITS)
    x, shape = _inputs(model, images)
    return model, kind, x, shape, interop.to_nir(model, shape)


def test_graph_maps_every_module(exported):
    model, _, _, _, graph = exported
    names = [str(i) for i in range(len(model.net))]
    assert graph.edges == list(zip(["input"] + names, names + ["output"]))
    for name, m in zip(names, model.net):
        node = graph.nodes[name]
        if isinstance(m, LIF):
            assert isinstance(node, nir.LIF) and node.metadata["reset"] == "subtract"
            tau = interop.DT / (1 - m.beta)
            np.testing.assert_allclose(node.tau, tau, rtol=1e-6)
            np.testing.assert_allclose(node.r * interop.DT / node.tau, 1.0, rtol=1e-6)  # input gain 1
            np.testing.assert_allclose(1 - interop.DT / node.tau, m.beta, rtol=1e-6)
            assert np.all(node.v_leak == 0) and np.all(node.v_reset == 0) and np.all(node.v_threshold == m.threshold)
        elif isinstance(m, nn.Linear):
            assert isinstance(node, nir.Affine)
            np.testing.assert_array_equal(node.weight, m.weight.detach().numpy())
        elif isinstance(m, nn.Conv2d):
            assert isinstance(node, nir.Conv2d)
            np.testing.assert_array_equal(node.bias, m.bias.detach().numpy())
        elif isinstance(m, nn.AvgPool2d):
            assert isinstance(node, nir.AvgPool2d)
        elif isinstance(m, nn.Flatten):
            assert isinstance(node, nir.Flatten) and node.start_dim == 0


def test_library_run_matches_the_models_forward(exported):
    model, _, x, _, _ = exported
    out, spikes = interop.run_sequential(model.net, x)
    if isinstance(model, SurrogateConv):
        images = (x[:, 0, 0] * 255).round().to(torch.uint8)
        torch.testing.assert_close(out.mean(1), model(images), atol=1e-5, rtol=0)
    else:  # same input spikes (encode with the same generator) -> the same output spikes
        images, _ = data.mnist_tensors(train=False, n=N_DIGITS)
        ref, _ = model(images, torch.Generator().manual_seed(1000))
        assert torch.equal(out, ref)
    assert sum(float(s.sum()) for s in spikes) > 0


def test_nir_file_round_trip(exported, tmp_path):
    model, _, x, _, graph = exported
    path = tmp_path / "net.nir"
    nir.write(path, graph)
    back = nir.read(path)
    assert set(back.nodes) == set(graph.nodes) and sorted(back.edges) == sorted(graph.edges)
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node)
        for key, value in node.to_dict().items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(np.asarray(other.to_dict()[key]), value)
    net = interop.from_nir(back)
    ours, _ = interop.run_sequential(model.net, x)
    theirs, _ = interop.run_sequential(net, x)
    assert torch.equal(ours, theirs)  # the same float32 weights: bit-identical


def _snntorch_run(graph, x, reset_mechanism=None):
    pytest.importorskip("snntorch")
    return interop.run_snntorch(graph, x, reset_mechanism=reset_mechanism)


def test_snntorch_import_gives_the_same_spikes_with_subtractive_reset(exported):
    pytest.importorskip("snntorch")
    from snntorch.import_nir import import_from_nir
    model, kind, x, _, graph = exported
    imported = import_from_nir(graph)
    leaky = [m for m in imported.modules() if type(m).__name__ == "Leaky"]
    assert len(leaky) == sum(isinstance(m, LIF) for m in model.net)
    for m, ours in zip(leaky, [m for m in model.net if isinstance(m, LIF)]):
        torch.testing.assert_close(m.beta.float(), torch.full_like(m.beta.float(), ours.beta), rtol=1e-6, atol=0)
        assert torch.all(torch.as_tensor(m.threshold) == ours.threshold)
        assert m.reset_mechanism == "zero" and m.reset_delay is False  # what NIR's LIF says
    ours, _ = interop.run_sequential(model.net, x)
    theirs = _snntorch_run(graph, x, reset_mechanism="subtract")
    if isinstance(model, SurrogateFC):
        assert torch.equal(theirs, ours), f"{kind}: spikes differ"
    else:
        torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)
        assert torch.equal(theirs.mean(1).argmax(1), ours.mean(1).argmax(1))


def test_snntorch_import_as_is_exposes_the_reset_difference(exported):
    pytest.importorskip("snntorch")
    model, kind, x, shape, graph = exported
    first_lif = next(i for i, m in enumerate(model.net) if isinstance(m, LIF))
    # up to and including the first LIF layer, both simulators get the same input current
    head = nn.Sequential(*list(model.net)[:first_lif + 1])
    theirs_head = _snntorch_run(interop.to_nir(head, shape), x)
    ours_head, _ = interop.run_sequential(head, x)
    # until a neuron's first reset the two neurons are the same: up to and including its first
    # spike, the spikes agree exactly
    count = ours_head.cumsum(1)
    until_first = (count == 0) | ((count == 1) & (ours_head == 1))
    assert torch.equal(theirs_head[until_first], ours_head[until_first])
    # after it they differ (NIR / snnTorch reset to 0, ours keeps v - threshold), in layer 1 already
    assert not torch.equal(theirs_head, ours_head), f"{kind}: expected the reset to matter"
    ours, _ = interop.run_sequential(model.net, x)
    theirs = _snntorch_run(graph, x)
    assert theirs.shape == ours.shape


@pytest.mark.parametrize("call, exc, words", [
    (lambda: interop.to_nir(nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2)), (1, 8, 8)), TypeError,
     ["to_nir", "MaxPool2d"]),
    (lambda: interop.to_nir(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), (1, 8, 8)), TypeError,
     ["to_nir", "fold"]),
    (lambda: interop.to_nir(nn.Sequential(nn.ReLU()), (4,)), TypeError, ["to_nir", "ReLU"]),
    (lambda: interop.to_nir(nn.Linear(2, 2), (2,)), TypeError, ["to_nir", "model"]),
    (lambda: interop.to_nir(nn.Sequential(nn.Linear(2, 2)), (0,)), ValueError, ["to_nir", "input_shape"]),
    (lambda: interop.to_nir(nn.Sequential(nn.Linear(2, 2)), (2,), dt=0.0), ValueError, ["to_nir", "dt"]),
    (lambda: interop.from_nir("graph"), TypeError, ["from_nir", "graph"]),
    (lambda: interop.run_sequential(nn.Sequential(nn.Identity()), torch.zeros(2, 3)), ValueError,
     ["run_sequential", "x"]),
    (lambda: interop.run_snntorch("graph", torch.zeros(1, 2, 3)), TypeError, ["run_snntorch", "graph"]),
    (lambda: interop.run_snntorch(interop.to_nir(nn.Sequential(LIF(beta=0.5)), (3,)), torch.zeros(1, 2, 3),
                                  reset_mechanism="none"), ValueError, ["run_snntorch", "reset_mechanism"]),
])
def test_bad_input(call, exc, words):
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)


def test_from_nir_refuses_a_reset_to_zero_neuron():
    graph = interop.to_nir(nn.Sequential(nn.Linear(4, 3), LIF(beta=0.9)), (4,))
    graph.nodes["1"].metadata = {}  # a plain NIR LIF: resets to v_reset
    with pytest.raises(ValueError, match="from_nir: node '1' resets to v_reset"):
        interop.from_nir(graph)
    assert math.isclose(interop.from_nir(interop.to_nir(nn.Sequential(LIF(beta=0.5)), (3,)))[0].beta, 0.5)


# --- Norse -----------------------------------------------------------------------------------------
def _norse_run(graph, x, reset_mechanism=None):
    pytest.importorskip("norse")
    return interop.run_norse(graph, x, reset_mechanism=reset_mechanism)


def _assert_same_output(theirs, ours, model, kind, what):
    if isinstance(model, SurrogateFC):
        assert torch.equal(theirs, ours), f"{kind}: {what}: spikes differ"
    else:
        torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=0)
        assert torch.equal(theirs.mean(1).argmax(1), ours.mean(1).argmax(1)), f"{kind}: {what}"


def test_norse_import_gives_the_same_spikes_with_subtractive_reset(exported, tmp_path):
    model, kind, x, _, graph = exported
    path = tmp_path / "net.nir"
    nir.write(path, graph)  # through the file, as another simulator would get it
    ours, _ = interop.run_sequential(model.net, x)
    theirs = _norse_run(nir.read(path), x, reset_mechanism="subtract")
    assert theirs.shape == ours.shape
    _assert_same_output(theirs, ours, model, kind, "Norse, subtractive reset")


def test_norse_and_snntorch_run_the_graph_alike(exported):
    """As imported, both readers run NIR's neuron (reset to 0 in the step it fires)."""
    model, kind, x, _, graph = exported
    norse_out = _norse_run(graph, x)
    snntorch_out = _snntorch_run(graph, x)
    _assert_same_output(norse_out, snntorch_out, model, kind, "Norse vs snnTorch as imported")
    ours, _ = interop.run_sequential(model.net, x)
    assert not torch.equal(norse_out, ours), f"{kind}: expected the reset to matter"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Norse calls nirtorch.load
def test_norse_from_nir_as_is_runs_another_network(exported):
    """What interop's docstring says of Norse 1.1.0's own from_nir: dt defaults to 1e-3, r is
    ignored (input gain dt / tau), nir.AvgPool2d is missing."""
    pytest.importorskip("norse")
    import logging

    from norse.torch import from_nir
    from norse.torch.module.lif_box import LIFBoxCell
    model, kind, x, _, graph = exported
    if any(isinstance(m, nn.AvgPool2d) for m in model.net):
        with pytest.raises(KeyError):
            from_nir(graph, ignore_warnings=True)
        return
    lifs = [m for m in model.net if isinstance(m, LIF)]
    logging.disable(logging.WARNING)  # from_nir logs that r is not 1
    try:
        default = from_nir(graph)
        at_dt = from_nir(graph, dt=interop.DT)
    finally:
        logging.disable(logging.NOTSET)
    cells = [m for m in default.modules() if isinstance(m, LIFBoxCell)]
    assert len(cells) == len(lifs)
    for cell, lif in zip(cells, lifs):  # (1) dt = 1e-3: decay 1 - 10 (1 - beta)
        assert cell.dt == 1e-3
        torch.testing.assert_close(1 - cell.dt * cell.p.tau_mem_inv,
                                   torch.full_like(cell.p.tau_mem_inv, 1 - 10 * (1 - lif.beta)), rtol=0, atol=1e-5)
    # (2) at the graph's dt the decay is beta, but the input gain is dt / tau = 1 - beta, not 1:
    # until our neuron first fires, Norse's potential is (1 - beta) times ours
    cell, lif = next(m for m in at_dt.modules() if isinstance(m, LIFBoxCell)), lifs[0]
    torch.testing.assert_close(1 - cell.dt * cell.p.tau_mem_inv,
                               torch.full_like(cell.p.tau_mem_inv, lif.beta), rtol=0, atol=1e-6)
    with torch.no_grad():
        currents = model.net[0](x[0])  # [time, hidden], one digit
        spikes, potentials = LIF(beta=lif.beta, threshold=lif.threshold).run(currents[None])
        state, v = None, []
        for c in currents:
            _, state = cell(c, state)
            v.append(state.v)
    v = torch.stack(v)
    until_first = spikes[0].cumsum(0) - spikes[0] == 0
    torch.testing.assert_close(v[until_first], (1 - lif.beta) * potentials[0][until_first], rtol=1e-4,
                               atol=1e-6)
    assert until_first.float().mean() < 1, f"{kind}: expected some neuron to fire"


def test_norse_runs_nir_if_and_refuses_a_subtractive_if():
    pytest.importorskip("norse")
    lin = nn.Linear(1, 1)
    with torch.no_grad():
        lin.weight.fill_(1.0)
        lin.bias.fill_(0.0)
    graph = interop.to_nir(nn.Sequential(lin, LIF(beta=1.0)), (1,))
    assert isinstance(graph.nodes["1"], nir.IF)
    # NIR's IF: v <- v + I, reset to 0 when v > threshold (1): 0.3, 0.6, 0.9, 1.2 -> spike, ...
    out = interop.run_norse(graph, torch.full((1, 8, 1), 0.3))
    assert out[0, :, 0].tolist() == [0, 0, 0, 1, 0, 0, 0, 1]
    with pytest.raises(ValueError, match=r"run_norse: node '1' is nir.IF.*subtract"):
        interop.run_norse(graph, torch.full((1, 8, 1), 0.3), reset_mechanism="subtract")
    graph.nodes["1"].r = 2 * graph.nodes["1"].r
    with pytest.raises(ValueError, match=r"run_norse: node '1' is nir.IF with r != 1"):
        interop.run_norse(graph, torch.full((1, 8, 1), 0.3))


@pytest.mark.parametrize("call, exc, words", [
    (lambda: interop.run_norse("graph", torch.zeros(1, 2, 3)), TypeError, ["run_norse", "graph", "str"]),
    (lambda: interop.run_norse(interop.to_nir(nn.Sequential(LIF(beta=0.5)), (3,)), torch.zeros(2, 3)),
     ValueError, ["run_norse", "x"]),
    (lambda: interop.run_norse(interop.to_nir(nn.Sequential(LIF(beta=0.5)), (3,)), torch.zeros(1, 2, 3),
                               reset_mechanism="zero"), ValueError, ["run_norse", "reset_mechanism", "'zero'"]),
    (lambda: interop.run_norse(interop.to_nir(nn.Sequential(LIF(beta=0.5)), (3,)), torch.zeros(1, 2, 3),
                               dt=-1.0), ValueError, ["run_norse", "dt"]),
    (lambda: interop.run_norse(interop.to_nir(nn.Sequential(LIF(beta=0.0)), (3,)), torch.zeros(1, 2, 3),
                               reset_mechanism="subtract"), ValueError, ["run_norse", "beta", "subtract"]),
    (lambda: interop.run_norse(nir.NIRGraph(nodes={"input": nir.Input(input_type={"input": np.array([2])}),
                                                   "0": nir.Scale(np.ones(2, np.float32)),
                                                   "output": nir.Output(output_type={"output": np.array([2])})},
                                            edges=[("input", "0"), ("0", "output")]), torch.zeros(1, 2, 2)),
     TypeError, ["run_norse", "node '0'", "Scale"]),
])
def test_bad_input_norse(call, exc, words):
    pytest.importorskip("norse")
    with pytest.raises(exc) as info:
        call()
    for w in words:
        assert w in str(info.value), str(info.value)
