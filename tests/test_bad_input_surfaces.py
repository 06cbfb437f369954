"""No silent wrong answers, part 2: the surfaces beyond the core table of tests/test_bad_input.py.

One table per surface, grown by KIND (as the core table): ``snnbook.monitors`` (fractional,
negative, NaN or huge counts, wrong shapes and types, bools where ints are expected, unknown
series names, snapshots that go backwards, a state that no Monitor made), ``snnbook.interop``
(inputs whose shape does not fit the network, checked at the boundary instead of torch's
``mat1 and mat2 shapes cannot be multiplied``; graphs that are not chains or whose nodes do not
fit; values that float32 cannot hold), device arguments of the core modules (``"gpu"``),
values cast to a narrower dtype after their finiteness check (a float64 1e300 that would be
stored as inf) and the EventMNIST cache (damaged, truncated, empty or foreign files; files made
with other parameters, which are generated again with a warning).

Each case asserts the exception type and that the message names the function and the argument.
"""
from __future__ import annotations

import io
import json
import logging
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from snnbook import _checks, coding, layers, monitors, neurons, plasticity, retina

NAN, INF = float("nan"), float("inf")
F64 = torch.float64


def _rand(*shape) -> torch.Tensor:
    """Uniform values from a fixed generator (the global one is left alone)."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(0))


def _check(fn_name, arg, call, exc):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert f"{fn_name}:" in msg, msg
    assert arg in msg, msg
    return msg


def _params(cases):
    return [pytest.param(*c, id=f"{c[0]}-{c[1]}-{i}") for i, c in enumerate(cases)]


# ----------------------------------------------------------------------------------------------
# snnbook.monitors
# ----------------------------------------------------------------------------------------------
C = torch.tensor([[0, 2, 1], [0, 3, 0]])
FRAC = torch.tensor([[0.5, 1.0, 0.0]])
W3 = torch.tensor([[[0, 0, 0], [1, 1, 1]]])


def _monitor(n_updates=1, **kw):
    mon = monitors.Monitor(every=2, **kw)
    for _ in range(n_updates):
        mon.update(C.clone())
    return mon


def _monitor_after_snapshot():
    mon = _monitor(1)
    mon.snapshot(2)
    return mon


MONITOR_CASES = [
    # fractional counts: refused, not summed
    ("spike_counts", "counts", lambda: monitors.spike_counts(FRAC), ValueError),
    ("silent_fraction", "counts", lambda: monitors.silent_fraction(FRAC, over="digits"), ValueError),
    ("winners", "counts", lambda: monitors.winners(FRAC.double()), ValueError),
    ("top_share", "histogram", lambda: monitors.top_share(torch.tensor([0.5, 2.0])), ValueError),
    ("Monitor.update", "counts", lambda: _monitor(0).update(FRAC), ValueError),
    ("Monitor.update", "wins", lambda: _monitor(0).update(C, wins=C.float() / 2), ValueError),
    ("Monitor.update", "attempts", lambda: _monitor(0).update(C, attempts=torch.tensor([1.0, 1.5])), ValueError),
    # negative counts (and attempts below 1)
    ("spike_counts", "counts", lambda: monitors.spike_counts(-C), ValueError),
    ("top_share", "histogram", lambda: monitors.top_share(torch.tensor([-1, 3])), ValueError),
    ("Monitor.update", "attempts", lambda: _monitor(0).update(C, attempts=torch.tensor([1, 0])), ValueError),
    ("Monitor.update", "wins", lambda: _monitor(0).update(C, wins=-C), ValueError),
    # NaN / inf
    ("spike_counts", "counts", lambda: monitors.spike_counts(torch.tensor([[NAN, 1.0]])), ValueError),
    ("winners", "counts", lambda: monitors.winners(torch.tensor([[INF, 1.0]])), ValueError),
    ("weight_histogram", "weight", lambda: monitors.weight_histogram(torch.tensor([0.5, NAN])), ValueError),
    ("feature_similarity", "weight", lambda: monitors.feature_similarity(torch.tensor([[INF, 0.0], [1.0, 1.0]])),
     ValueError),
    ("quantiles", "values", lambda: monitors.quantiles(torch.tensor([1.0, NAN])), ValueError),
    ("quantiles", "q", lambda: monitors.quantiles(torch.arange(3.0), [NAN]), ValueError),
    ("Monitor.snapshot", "weight", lambda: _monitor(1).snapshot(2, weight=torch.tensor([NAN])), ValueError),
    ("Monitor.snapshot", "theta", lambda: _monitor(1).snapshot(2, theta=torch.tensor([INF])), ValueError),
    ("weight_histogram", "low", lambda: monitors.weight_histogram(torch.ones(3), low=NAN), ValueError),
    # counts too large for the sums (int64) or for a float's exact integers
    ("spike_counts", "counts", lambda: monitors.spike_counts(torch.full((3, 2), 2 ** 62)), ValueError),
    ("spike_counts", "counts", lambda: monitors.spike_counts(torch.full((1, 2), 1e30)), ValueError),
    # a bin width or a histogram that does not fit
    ("weight_histogram", "high", lambda: monitors.weight_histogram(torch.ones(3), low=-1e308, high=1e308),
     ValueError),
    ("weight_histogram", "bins", lambda: monitors.weight_histogram(torch.ones(3), bins=10 ** 12), ValueError),
    ("Monitor", "bins", lambda: monitors.Monitor(bins=10 ** 9), ValueError),
    ("Monitor", "high", lambda: monitors.Monitor(low=1.0, high=1.0), ValueError),
    # wrong types
    ("spike_counts", "counts", lambda: monitors.spike_counts([[1, 2]]), TypeError),
    ("spike_counts", "counts", lambda: monitors.spike_counts(np.ones((2, 2))), TypeError),
    ("spike_counts", "counts", lambda: monitors.spike_counts(torch.ones(2, 2, dtype=torch.complex64)), TypeError),
    ("silent_fraction", "over", lambda: monitors.silent_fraction(C, over=1), TypeError),
    ("silent_fraction", "over", lambda: monitors.silent_fraction(C, over="time"), ValueError),
    ("winner_histogram", "winner", lambda: monitors.winner_histogram(torch.tensor([0.0]), 3), TypeError),
    ("winner_counts", "winner", lambda: monitors.winner_counts(W3.float(), 3), TypeError),
    ("quantiles", "q", lambda: monitors.quantiles(torch.arange(3.0), "0.5"), TypeError),
    ("quantiles", "q", lambda: monitors.quantiles(torch.arange(3.0), 0.5), TypeError),
    ("quantiles", "q", lambda: monitors.quantiles(torch.arange(3.0), torch.tensor(0.5)), ValueError),
    ("quantiles", "q", lambda: monitors.quantiles(torch.arange(3.0), []), ValueError),
    ("Monitor.series", "key", lambda: _monitor_after_snapshot().series(3), TypeError),
    ("Monitor.snapshot", "theta", lambda: _monitor(1).snapshot(2, theta=[20.0]), TypeError),
    # bool where an int is expected
    ("silent_fraction", "min_spikes", lambda: monitors.silent_fraction(C, over="digits", min_spikes=True), TypeError),
    ("winner_histogram", "n_neurons", lambda: monitors.winner_histogram(torch.tensor([0]), True), TypeError),
    ("winner_counts", "n_features", lambda: monitors.winner_counts(W3, True), TypeError),
    ("weight_histogram", "bins", lambda: monitors.weight_histogram(torch.ones(3), bins=True), TypeError),
    ("feature_similarity", "dim", lambda: monitors.feature_similarity(torch.eye(3), dim=True), TypeError),
    ("Monitor", "every", lambda: monitors.Monitor(every=True), TypeError),
    ("Monitor.due", "digits", lambda: _monitor(0).due(True), TypeError),
    ("Monitor.snapshot", "digits", lambda: _monitor(0).snapshot(True), TypeError),
    # wrong shapes
    ("spike_counts", "counts", lambda: monitors.spike_counts(torch.ones(3)), ValueError),
    ("spike_counts", "counts", lambda: monitors.spike_counts(torch.zeros(0, 3)), ValueError),
    ("winner_histogram", "winner", lambda: monitors.winner_histogram(torch.tensor([[0]]), 3), ValueError),
    ("winner_counts", "winner", lambda: monitors.winner_counts(torch.zeros(1, 2, 2, dtype=torch.long), 3),
     ValueError),
    ("winner_counts", "winner", lambda: monitors.winner_counts(torch.tensor([[[0, -1, 0]]]), 3), ValueError),
    ("top_share", "histogram", lambda: monitors.top_share(torch.ones(2, 2)), ValueError),
    ("feature_similarity", "dim", lambda: monitors.feature_similarity(torch.eye(3), dim=2), ValueError),
    ("Monitor.update", "counts", lambda: _monitor(1).update(torch.ones(1, 4, dtype=torch.long)), ValueError),
    ("Monitor.update", "attempts", lambda: _monitor(0).update(C, attempts=torch.ones(3, dtype=torch.long)),
     ValueError),
    ("Monitor.update", "wins", lambda: _monitor(0).update(C, wins=C[:1]), ValueError),
    # unknown series names: an error naming the valid ones, not an empty curve
    ("Monitor.series", "key", lambda: _monitor_after_snapshot().series("spikes"), ValueError),
    ("Monitor.series", "key", lambda: monitors.Monitor().series("weights"), ValueError),
    # snapshots going backwards (or claiming fewer digits than were added)
    ("Monitor.snapshot", "digits", lambda: _monitor_after_snapshot().snapshot(1), ValueError),
    ("Monitor.snapshot", "digits", lambda: _monitor_after_snapshot().snapshot(2), ValueError),
    ("Monitor.snapshot", "digits", lambda: _monitor(2).snapshot(3), ValueError),
    # a state that no Monitor.state_dict() made, or one made with other settings
    ("Monitor.load_state_dict", "state", lambda: monitors.Monitor().load_state_dict([1]), TypeError),
    ("Monitor.load_state_dict", "state", lambda: monitors.Monitor().load_state_dict({"snapshots": [], "open": {}}),
     TypeError),
    ("Monitor.load_state_dict", "every", lambda: monitors.Monitor(every=3).load_state_dict(_monitor(1).state_dict()),
     ValueError),
    ("Monitor.load_state_dict", "digits",
     lambda: monitors.Monitor(every=2).load_state_dict(
         {**_monitor(1).state_dict(), "open": {**_monitor(1).state_dict()["open"], "digits": -1}}), ValueError),
]


@pytest.mark.parametrize("fn_name,arg,call,exc", _params(MONITOR_CASES))
def test_monitors_bad_input(fn_name, arg, call, exc):
    _check(fn_name, arg, call, exc)


def test_monitors_series_names_the_valid_names():
    msg = _check("Monitor.series", "key", lambda: _monitor_after_snapshot().series("spike"), ValueError)
    for name in monitors.SERIES:
        assert name in msg


def test_monitors_edge_valid_input_keeps_working():
    # whole-number floats and bool counts are counts
    assert monitors.spike_counts(C.double()).tolist() == [0.0, 5.0, 1.0]
    assert monitors.spike_counts(C > 0).tolist() == [0, 2, 1]
    assert monitors.top_share(torch.tensor([1.0, 3.0])) == 0.75
    # a refused update changes nothing
    mon = _monitor(1)
    before = mon.state_dict()
    with pytest.raises(ValueError):
        mon.update(C, attempts=torch.tensor([1, 1]), wins=-C)
    after = mon.state_dict()
    assert after["open"]["attempts"] == before["open"]["attempts"] and torch.equal(after["open"]["spikes"],
                                                                                    before["open"]["spikes"])
    # a refused snapshot records nothing
    with pytest.raises(ValueError):
        mon.snapshot(2, weight=torch.tensor([NAN]))
    assert mon.snapshots == [] and mon.snapshot(2)["interval_digits"] == 2
    # a known quantity that no snapshot has is a curve of None; the series of a fresh Monitor is empty
    assert mon.series("theta_quantiles") == [None] and monitors.Monitor().series("digits") == []
    # extreme but valid weights: the same similarity as the scaled-down ones
    w = torch.tensor([[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]], dtype=F64)
    assert monitors.feature_similarity(w * 1e300) == pytest.approx(monitors.feature_similarity(w), rel=1e-12)
    assert monitors.feature_similarity(w * 1e-300) == pytest.approx(monitors.feature_similarity(w), rel=1e-12)
    # quantiles of more values than torch.quantile takes (2**24)
    big = torch.arange(2 ** 24 + 1, dtype=torch.float32)
    assert monitors.quantiles(big, (0.0, 0.5, 1.0)) == [0.0, 2 ** 23, 2 ** 24]
    assert monitors.quantiles(torch.arange(5.0), torch.tensor([0.5])) == [2.0]


def test_monitor_round_trip_of_a_valid_state():
    mon = _monitor(1)
    mon.snapshot(2, weight=_rand(5), theta=_rand(3))
    mon.update(C)
    other = monitors.Monitor(every=2)
    other.load_state_dict(mon.state_dict())
    assert other.snapshot(4) == mon.snapshot(4)


# ----------------------------------------------------------------------------------------------
# snnbook.interop
# ----------------------------------------------------------------------------------------------
from snnbook import interop  # noqa: E402  (nir is imported when a function needs it)
from snnbook.models.surrogate import LIF  # noqa: E402


def _fc():
    with torch.random.fork_rng():   # seeded weights, without touching the global generator
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 3), LIF(beta=0.9))


def _conv():
    with torch.random.fork_rng():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 2, 3), LIF(beta=0.5), nn.AvgPool2d(2), nn.Flatten(),
                             nn.Linear(2 * 3 * 3, 5), LIF(beta=0.5))


def _graph(net=None, shape=(4,)):
    return interop.to_nir(net if net is not None else _fc(), shape)


def _edited(**changes):
    """A graph of two Linear layers whose second node was edited after the export."""
    g = interop.to_nir(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)), (4,))
    for key, value in changes.items():
        node, field = key.split("__")
        setattr(g.nodes[node], field, value)
    return g


def _with_edges(edges):
    g = _graph()
    g.edges = edges
    return g


def _with_meta(**meta):
    g = _graph()
    g.metadata.update(meta)
    return g


def _big_weight_net():
    lin = nn.Linear(2, 2).double()
    with torch.no_grad():
        lin.weight.fill_(1e300)
    return nn.Sequential(lin)


X_FC = torch.rand(2, 3, 4, generator=torch.Generator().manual_seed(1))
X_CONV = torch.rand(1, 2, 1, 8, 8, generator=torch.Generator().manual_seed(2))

INTEROP_CASES = [
    # input shapes that do not fit the first (or a later) layer: checked at the boundary
    ("to_nir", "input_shape", lambda: interop.to_nir(_fc(), (5,)), ValueError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_conv(), (2, 8, 8)), ValueError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_conv(), (8, 8)), ValueError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_conv(), (1, 2, 2)), ValueError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_conv(), (1, 10, 10)), ValueError),   # Linear 18 gets 32
    ("run_sequential", "x", lambda: interop.run_sequential(_fc(), _rand(2, 3, 5)), ValueError),
    ("run_sequential", "x", lambda: interop.run_sequential(_conv(), _rand(1, 2, 2, 8, 8)), ValueError),
    ("run_sequential", "x", lambda: interop.run_sequential(_conv(), _rand(1, 2, 1, 10, 10)), ValueError),
    ("run_sequential", "x", lambda: interop.run_sequential(nn.Sequential(nn.Conv1d(3, 2, 2)), _rand(1, 2, 4, 5)),
     ValueError),
    ("run_snntorch", "x", lambda: interop.run_snntorch(_graph(), _rand(2, 3, 5)), ValueError),
    ("run_snntorch", "x", lambda: interop.run_snntorch(_graph(_conv(), (1, 8, 8)), _rand(1, 2, 1, 9, 9)),
     ValueError),
    ("run_norse", "x", lambda: interop.run_norse(_graph(), _rand(2, 3, 5)), ValueError),
    ("run_norse", "x", lambda: interop.run_norse(_graph(_conv(), (1, 8, 8)), _rand(1, 2, 2, 8, 8)), ValueError),
    # graphs whose nodes do not fit each other (edited after the export)
    ("from_nir", "graph", lambda: interop.from_nir(_edited(**{"1__weight": np.ones((2, 5), np.float32)})),
     ValueError),
    ("run_snntorch", "graph", lambda: interop.run_snntorch(_edited(**{"1__weight": np.ones((2, 5), np.float32)}),
                                                           _rand(1, 2, 4)), ValueError),
    ("run_norse", "graph", lambda: interop.run_norse(_edited(**{"1__weight": np.ones((2, 5), np.float32)}),
                                                     _rand(1, 2, 4)), ValueError),
    ("from_nir", "graph node '1'", lambda: interop.from_nir(_edited(**{"1__bias": np.zeros(1, np.float32)})),
     ValueError),
    ("from_nir", "graph node '0'", lambda: interop.from_nir(_edited(**{"0__weight": np.full((3, 4), NAN, np.float32)})),
     ValueError),
    ("from_nir", "graph node '0'", lambda: interop.from_nir(_edited(**{"0__weight": np.ones(4, np.float32)})),
     ValueError),
    # graphs that are not chains
    ("from_nir", "graph", lambda: interop.from_nir(_with_edges([("input", "0"), ("0", "1")])), ValueError),
    ("from_nir", "graph", lambda: interop.from_nir(_with_edges([("input", "0"), ("0", "9"), ("9", "output")])),
     ValueError),
    ("from_nir", "graph", lambda: interop.from_nir(_with_edges([("input", "0"), ("0", "1"), ("0", "output"),
                                                                ("1", "output")])), ValueError),
    ("from_nir", "graph", lambda: interop.from_nir(_with_edges([("input", "0"), ("0", "1"), ("1", "0")])),
     ValueError),
    # wrong types and values of the other arguments
    ("from_nir", "dt", lambda: interop.from_nir(_graph(), dt=True), TypeError),
    ("from_nir", "graph.metadata['dt']", lambda: interop.from_nir(_with_meta(dt="0.1")), TypeError),
    ("from_nir", "dt", lambda: interop.from_nir(_graph(), dt=1.0), ValueError),   # tau < dt: negative decay
    ("to_nir", "input_shape", lambda: interop.to_nir(_fc(), 4), TypeError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_fc(), (4.0,)), TypeError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_fc(), (True,)), TypeError),
    ("to_nir", "input_shape", lambda: interop.to_nir(_fc(), ()), ValueError),
    ("to_nir", "model", lambda: interop.to_nir(nn.Sequential(), (4,)), ValueError),
    ("to_nir", "input_shape", lambda: interop.to_nir(nn.Sequential(nn.Flatten(0)), (2, 3)), ValueError),
    ("run_sequential", "x", lambda: interop.run_sequential(_fc(), X_FC.double()), TypeError),
    ("run_sequential", "x", lambda: interop.run_sequential(_fc(), X_FC.long()), TypeError),
    ("run_sequential", "x", lambda: interop.run_sequential(_fc(), X_FC[0]), ValueError),
    ("run_sequential", "x", lambda: interop.run_sequential(_fc(), X_FC.to("meta")), ValueError),
    ("run_snntorch", "x", lambda: interop.run_snntorch(_graph(), X_FC.double()), TypeError),
    ("run_snntorch", "x", lambda: interop.run_snntorch(_graph(), X_FC.bool()), TypeError),
    ("run_norse", "x", lambda: interop.run_norse(_graph(), X_FC.double()), TypeError),
    ("run_norse", "dt", lambda: interop.run_norse(_graph(), X_FC, dt=NAN), ValueError),
    ("run_snntorch", "reset_mechanism", lambda: interop.run_snntorch(_graph(), X_FC, reset_mechanism=1), TypeError),
    ("run_norse", "reset_mechanism", lambda: interop.run_norse(_graph(), X_FC, reset_mechanism=True), TypeError),
    # values that NIR's float32 arrays cannot hold (NaN, inf, or a float64 1e300)
    ("to_nir", "weight", lambda: interop.to_nir(_big_weight_net(), (2,)), ValueError),
    ("to_nir", "weight", lambda: interop.to_nir(nn.Sequential(nn.Linear(2, 2).requires_grad_(False).apply(
        lambda m: m.weight.fill_(NAN) if isinstance(m, nn.Linear) else None)), (2,)), ValueError),
    ("to_nir", "dt", lambda: interop.to_nir(_fc(), (4,), dt=1e300), ValueError),
    ("to_nir", "threshold", lambda: interop.to_nir(nn.Sequential(LIF(beta=0.5, threshold=1e300)), (3,)), ValueError),
]


@pytest.mark.parametrize("fn_name,arg,call,exc", _params(INTEROP_CASES))
def test_interop_bad_input(fn_name, arg, call, exc):
    pytest.importorskip("nir")
    if fn_name == "run_snntorch":
        pytest.importorskip("snntorch")
    if fn_name == "run_norse":
        pytest.importorskip("norse")
    msg = _check(fn_name, arg, call, exc)
    assert "mat1 and mat2" not in msg


def test_interop_edge_valid_input_keeps_working():
    pytest.importorskip("nir")
    # numpy ints in input_shape; a negative Flatten start_dim is exported as the same axis
    g = interop.to_nir(nn.Sequential(nn.Flatten(-2)), (np.int64(2), 3))
    assert g.nodes["0"].start_dim == -2 and interop.from_nir(g)[0].start_dim == -2
    assert interop.run_sequential(interop.from_nir(g), _rand(1, 2, 2, 3))[0].shape == (1, 2, 6)
    # shapes that fit: the conv network runs through all three simulators alike
    net = _conv()
    out, _ = interop.run_sequential(net, X_CONV)
    assert out.shape == (1, 2, 5)
    back = interop.from_nir(interop.to_nir(net, (1, 8, 8)))
    assert torch.equal(interop.run_sequential(back, X_CONV)[0], out)
    # modules whose shapes are unknown here still run (MaxPool, ReLU: known; Conv1d: run by torch)
    net = nn.Sequential(nn.Conv1d(4, 2, 2), nn.ReLU())
    assert interop.run_sequential(net, _rand(1, 2, 4, 5))[0].shape == (1, 2, 2, 4)


# ----------------------------------------------------------------------------------------------
# core modules: device arguments
# ----------------------------------------------------------------------------------------------
DEVICE_FUNCTIONS = [
    ("dog_kernel", lambda d: retina.dog_kernel(3, 1.0, 2.0, device=d)),
    ("gabor_kernel", lambda d: retina.gabor_kernel(5, 45.0, device=d)),
    ("dog_bank", lambda d: retina.dog_bank([(3, 1.0, 2.0)], device=d)),
    ("gabor_bank", lambda d: retina.gabor_bank(5, [0.0, 90.0], device=d)),
    ("mozafari2019_dog_kernels", lambda d: retina.mozafari2019_dog_kernels(device=d)),
    ("on_off_dog", lambda d: retina.on_off_dog(5, device=d)),
    ("inhibition_kernel", lambda d: retina.inhibition_kernel([0.5, 0.2], device=d)),
    ("inhibition_kernel", lambda d: retina.inhibition_kernel(torch.tensor([0.5]), device=d)),
]
BAD_DEVICES = [("gpu", ValueError), ("GPU", ValueError), (" cpu", ValueError), ("nonsense", ValueError),
               ("meta", ValueError), (-1, ValueError), (1.5, TypeError), (True, TypeError), ([0], TypeError)]
if not torch.cuda.is_available():
    BAD_DEVICES += [("cuda", ValueError), ("cuda:0", ValueError), (0, ValueError)]


@pytest.mark.parametrize("device,exc", BAD_DEVICES, ids=[repr(d) for d, _ in BAD_DEVICES])
@pytest.mark.parametrize("fn_name,call", DEVICE_FUNCTIONS, ids=[f"{n}-{i}" for i, (n, _) in
                                                                enumerate(DEVICE_FUNCTIONS)])
def test_device_arguments(fn_name, call, device, exc):
    msg = _check(fn_name, "device", lambda: call(device), exc)
    if device in ("gpu", "GPU"):
        assert "'cuda'" in msg          # the name torch knows
    assert "Expected one of cpu, cuda" not in msg   # not torch's own parser error


@pytest.mark.parametrize("fn_name,call", DEVICE_FUNCTIONS, ids=[f"{n}-{i}" for i, (n, _) in
                                                                enumerate(DEVICE_FUNCTIONS)])
def test_valid_devices_give_the_same_kernels(fn_name, call):
    ref = call(None)
    for device in ("cpu", torch.device("cpu"), "cpu:0"):
        out = call(device)
        assert out.device.type == "cpu" and torch.equal(out, ref)


def test_check_device_helper():
    assert _checks.check_device("f", "device", None) is None
    assert _checks.check_device("f", "device", "cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"f: device='gpu' does not name a torch device; did you mean 'cuda'\?"):
        _checks.check_device("f", "device", "gpu")
    with pytest.raises(TypeError, match="f: device must be a torch.device"):
        _checks.check_device("f", "device", np.float64(1.0))


# ----------------------------------------------------------------------------------------------
# core modules: values cast to a narrower dtype after their finiteness check
# ----------------------------------------------------------------------------------------------
def _conv_layer():
    return layers.Convolution(1, 2, 2, generator=torch.Generator().manual_seed(0))


def _stdp_args():
    x = torch.zeros(1, 2, 1, 2, 2)
    x[0, :, 0, 0, 0] = 1.0
    y = torch.zeros(1, 2, 1, 1, 1)
    y[0, 1:] = 1.0
    return torch.full((1, 1, 2, 2), 0.5), x, y, torch.tensor([[[0, 0, 0]]])


def _pair_args(trace_dtype=torch.float32, value=0.5):
    return (torch.full((2, 3), 0.5), torch.full((1, 3), value, dtype=trace_dtype),
            torch.full((1, 2), value, dtype=trace_dtype), torch.ones(1, 3), torch.ones(1, 2))


def _half_stdp():
    stdp = plasticity.STDP(_conv_layer())
    stdp.half()
    return stdp


CAST_CASES = [
    ("Convolution.load_weight", "weight",
     lambda: _conv_layer().load_weight(torch.full((2, 1, 2, 2), 1e300, dtype=F64)), ValueError),
    ("Convolution.load_weight", "weight",
     lambda: _conv_layer().half().load_weight(torch.full((2, 1, 2, 2), 1e5)), ValueError),
    ("STDP", "learning_rate", lambda: plasticity.STDP(_conv_layer(), (1e300, -0.1)), ValueError),
    ("STDP", "learning_rate", lambda: plasticity.STDP(_conv_layer(), [(0.1, -0.1), (0.1, -1e300)]), ValueError),
    ("STDP", "max_a_ltp", lambda: plasticity.STDP(_conv_layer(), max_a_ltp=1e300), ValueError),
    ("STDP", "ltd_ratio", lambda: plasticity.STDP(_conv_layer(), ltd_ratio=-1e300), ValueError),
    ("STDP.update_learning_rate", "learning_rate",
     lambda: plasticity.STDP(_conv_layer()).update_learning_rate(1e300, -0.1), ValueError),
    ("STDP.update_learning_rate", "learning_rate", lambda: _half_stdp().update_learning_rate(1e5, -0.1), ValueError),
    ("RSTDP", "reward_rate", lambda: plasticity.RSTDP(_conv_layer(), reward_rate=(1e300, -0.1)), ValueError),
    ("RSTDP", "punish_rate", lambda: plasticity.RSTDP(_conv_layer(), punish_rate=(-1e300, 0.1)), ValueError),
    ("RSTDP.update_learning_rates", "reward_rate",
     lambda: plasticity.RSTDP(_conv_layer()).update_learning_rates((1e300, -0.1), (-0.1, 0.1)), ValueError),
    ("stdp_update", "a_ltp", lambda: plasticity.stdp_update(*_stdp_args(), torch.tensor([1e300], dtype=F64), -0.1),
     ValueError),
    ("stdp_update", "a_ltd", lambda: plasticity.stdp_update(*_stdp_args(), 0.1, torch.full((1, 1), -1e300, dtype=F64)),
     ValueError),
    ("rstdp_update", "reward_rate",
     lambda: plasticity.rstdp_update(*_stdp_args(), torch.tensor([1]), (torch.tensor(1e300, dtype=F64), -0.1)),
     ValueError),
    ("pair_stdp_update", "eta_post", lambda: plasticity.pair_stdp_update(*_pair_args(), eta_post=1e300), ValueError),
    ("pair_stdp_update", "eta_pre", lambda: plasticity.pair_stdp_update(*_pair_args(), eta_pre=1e300), ValueError),
    ("pair_stdp_update", "pre_trace", lambda: plasticity.pair_stdp_update(*_pair_args(F64, 1e300)), ValueError),
    ("trace_step", "spikes",
     lambda: plasticity.trace_step(torch.zeros(1, 2), torch.full((1, 2), 1e300, dtype=F64), 20.0), ValueError),
    ("LIF", "params.v_threshold", lambda: neurons.LIF(neurons.LIFParameters(v_threshold=1e300)), ValueError),
    ("AdaptiveLIF", "params.theta_plus", lambda: neurons.AdaptiveLIF(neurons.AdaptiveLIFParameters(theta_plus=1e300)),
     ValueError),
    ("intensity_to_latency", "x",
     lambda: coding.intensity_to_latency(torch.full((1, 1, 2, 2), 1e5), 2, to_spike=False, dtype=torch.float16),
     ValueError),
    # the other end of the range: a threshold that rounds to 0 in the frames' dtype fires without change
    ("dvs_events", "threshold", lambda: coding.dvs_events(_rand(1, 3, 2, 2), threshold=1e-50), ValueError),
    ("dvs_events", "threshold",
     lambda: coding.dvs_events((torch.rand(1, 3, 2, 2, generator=torch.Generator().manual_seed(0)) + 0.01).half(),
                               threshold=1e-6, per_crossing=True), ValueError),
]


@pytest.mark.parametrize("fn_name,arg,call,exc", _params(CAST_CASES))
def test_values_beyond_the_target_dtype(fn_name, arg, call, exc):
    _check(fn_name, arg, call, exc)


def test_values_within_the_target_dtype_keep_working():
    layer = _conv_layer()
    w = torch.full((2, 1, 2, 2), 0.25, dtype=F64)
    layer.load_weight(w)
    assert layer.weight.dtype == torch.float32 and bool((layer.weight == 0.25).all())
    # an infinite time constant (and one beyond float32, which decays alike) is an IF neuron
    assert float(neurons.LIF(neurons.LIFParameters(tau_mem=1e300)).tau_mem) == INF
    new = plasticity.pair_stdp_update(*_pair_args(F64), eta_post=0.1)
    assert new.dtype == torch.float32 and bool(torch.isfinite(new).all())
    # float16 event counts that fit are counted as before
    frames = torch.tensor([1.0, 1.0, 2.0, 2.0, 0.5]).view(1, 5, 1, 1)
    assert torch.equal(coding.dvs_events(frames.half(), 0.5, per_crossing=True),
                       coding.dvs_events(frames, 0.5, per_crossing=True).half())


# ----------------------------------------------------------------------------------------------
# the EventMNIST cache
# ----------------------------------------------------------------------------------------------
from snnbook import events  # noqa: E402
from snnbook.events import EventMNIST  # noqa: E402

N_DIGITS = 4


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A small cache file and its dataset (generated once)."""
    root = tmp_path_factory.mktemp("eventmnist")
    ds = EventMNIST(train=False, digits=N_DIGITS, cache_dir=root, progress=False)
    return ds, ds.path.read_bytes()


def _load(path, **kw):
    return EventMNIST(train=False, digits=N_DIGITS, cache_dir=path.parent, progress=False, **kw)


def _rewrite(blob: bytes, path, meta_changes=None, rehash=True, **arrays):
    """The cache ``blob`` written to ``path`` with some arrays replaced (and its SHA-256 updated)."""
    with np.load(io.BytesIO(blob)) as z:
        members = {k: z[k] for k in z.files}
    members.update(arrays)
    if meta_changes is not None:
        meta = json.loads(str(members["meta"]))
        for key, value in meta_changes.items():
            if key in meta:
                meta[key] = value
            else:
                meta["params"][key] = value
        text = json.dumps(meta, sort_keys=True)
        members["meta"] = np.array(text)
        if rehash:
            members["sha256"] = np.array(events._digest(members["words"], members["offsets"], members["labels"], text))
    buf = io.BytesIO()
    np.savez(buf, **members)
    path.write_bytes(buf.getvalue())


def _foreign_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "not EventMNIST")
    return buf.getvalue()


def _npy() -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.arange(3))
    return buf.getvalue()


def _flipped(blob: bytes, where: float) -> bytes:
    b = bytearray(blob)
    b[int(len(b) * where)] ^= 0x10
    return bytes(b)


DAMAGE = {
    "empty": lambda blob, path: path.write_bytes(b""),
    "truncated": lambda blob, path: path.write_bytes(blob[: len(blob) // 2]),
    "truncated-end": lambda blob, path: path.write_bytes(blob[:-10]),
    "bit-flip-data": lambda blob, path: path.write_bytes(_flipped(blob, 0.3)),
    "bit-flip-late": lambda blob, path: path.write_bytes(_flipped(blob, 0.7)),
    "garbage": lambda blob, path: path.write_bytes(b"definitely not a zip file"),
    "foreign-zip": lambda blob, path: path.write_bytes(_foreign_zip()),
    "npy-not-npz": lambda blob, path: path.write_bytes(_npy()),
    "folder": lambda blob, path: (path.unlink(), path.mkdir()),
    "words-float": lambda blob, path: _rewrite(blob, path, words=np.zeros(5)),
    "offsets-int32": lambda blob, path: _rewrite(blob, path, offsets=np.zeros(N_DIGITS + 1, np.int32)),
    "labels-2d": lambda blob, path: _rewrite(blob, path, labels=np.zeros((N_DIGITS, 1), np.uint8)),
    "extra-member": lambda blob, path: _rewrite(blob, path, extra=np.zeros(1)),
    "meta-not-json": lambda blob, path: _rewrite(blob, path, meta=np.array("{not json")),
    "meta-a-list": lambda blob, path: _rewrite(blob, path, meta=np.array("[1, 2]")),
    "sha-other": lambda blob, path: _rewrite(blob, path, sha256=np.array("0" * 64)),
    "edited-not-rehashed": lambda blob, path: _rewrite(blob, path, labels=np.full(N_DIGITS, 3, np.uint8)),
    "labels-beyond-9": lambda blob, path: _rewrite(blob, path, meta_changes={}, labels=np.full(N_DIGITS, 42, np.uint8)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_cache_file_is_refused_naming_it(cache, tmp_path, damage):
    ds, blob = cache
    path = tmp_path / ds.path.name
    path.write_bytes(blob)
    DAMAGE[damage](blob, path)
    msg = _check("EventMNIST", path.name, lambda: _load(path), ValueError)
    assert "damaged" in msg and "rebuild=True" in msg
    assert "allow_pickle" not in msg    # no advice to load untrusted data unsafely
    # what to do works: rebuild=True generates it again, the same events
    if damage != "folder":
        again = _load(path, rebuild=True)
        assert np.array_equal(again.words, ds.words) and np.array_equal(again.labels, ds.labels)


@pytest.mark.parametrize("change", [{"mismatch": 0.5}, {"threshold": [0.2, 0.2]}, {"seed": 7}, {"first": 3},
                                    {"digits": N_DIGITS + 1}, {"split": "train"}, {"format": 1}],
                         ids=lambda c: next(iter(c)))
def test_a_cache_file_made_with_other_parameters_is_generated_again(cache, tmp_path, caplog, change):
    """A sound file (its SHA-256 fits) whose recorded parameters are not the ones asked for: an
    edited and re-hashed file, or one copied under another name, is not served."""
    ds, blob = cache
    path = tmp_path / ds.path.name
    _rewrite(blob, path, meta_changes=change)
    with caplog.at_level(logging.WARNING, logger="snnbook"):
        again = _load(path)
    assert np.array_equal(again.words, ds.words) and np.array_equal(again.labels, ds.labels)
    warning = " ".join(r.getMessage() for r in caplog.records if r.name == "snnbook")
    assert "EventMNIST" in warning and path.name in warning and "other parameters" in warning
    with np.load(path) as z:   # replaced by what these parameters make
        assert json.loads(str(z["meta"])) == json.loads(json.dumps(ds._meta)) and np.array_equal(z["words"], ds.words)


def test_a_legacy_cache_file_is_generated_again(cache, tmp_path, caplog):
    """Format 1 stored the parameters alone (no split, first, digits) and hashed only the arrays."""
    ds, blob = cache
    path = tmp_path / ds.path.name
    with np.load(io.BytesIO(blob)) as z:
        members = {k: z[k] for k in z.files}
    members["meta"] = np.array(json.dumps(ds.params, sort_keys=True))
    members["sha256"] = np.array(events._digest(members["words"], members["offsets"], members["labels"]))
    np.savez(path, **members)
    with caplog.at_level(logging.WARNING, logger="snnbook"):
        again = _load(path)
    assert np.array_equal(again.words, ds.words) and "older snnbook" in caplog.text


def test_a_cache_file_of_other_digits_under_this_name_is_not_served(cache, tmp_path, caplog):
    """The file of digits 0..3, copied to the name of digits 1..4: the recorded ``first`` differs."""
    ds, blob = cache
    other = EventMNIST(train=False, digits=N_DIGITS, first=1, cache_dir=tmp_path / "fresh", progress=False)
    path = tmp_path / other.path.name
    path.write_bytes(blob)
    with caplog.at_level(logging.WARNING, logger="snnbook"):
        got = EventMNIST(train=False, digits=N_DIGITS, first=1, cache_dir=tmp_path, progress=False)
    assert "first: 0 instead of 1" in caplog.text
    assert np.array_equal(got.words, other.words) and np.array_equal(got.labels, other.labels)


def test_a_mismatched_cache_file_that_cannot_be_replaced_raises(cache, tmp_path, monkeypatch):
    ds, blob = cache
    path = tmp_path / ds.path.name
    _rewrite(blob, path, meta_changes={"mismatch": 0.5})
    monkeypatch.setattr(events.os, "access", lambda *args, **kwargs: False)   # a read-only folder
    msg = _check("EventMNIST", path.name, lambda: _load(path), ValueError)
    assert "other parameters" in msg and "writable" in msg
    monkeypatch.undo()

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(events.os, "replace", refuse)   # the write itself fails
    msg = _check("EventMNIST", path.name, lambda: _load(path), ValueError)
    assert "cannot write" in msg
    assert not list(tmp_path.glob("*.tmp*"))   # no temporary file left behind


def test_an_empty_cache_dir_is_refused():
    _check("EventMNIST", "cache_dir", lambda: EventMNIST(train=False, digits=1, cache_dir="", progress=False),
           ValueError)


def test_a_cache_folder_that_cannot_be_made_raises_before_generating(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    _check("EventMNIST", "cache_dir", lambda: EventMNIST(train=False, digits=1, cache_dir=blocker / "sub",
                                                         progress=False), ValueError)
